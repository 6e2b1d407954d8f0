"""Plain-Python use cases. Every public function takes a Session and runs in a unit of work
(``_tx.unit``): called on its own it is one transaction (commit on success, rollback on any error);
called from inside another service's unit it joins that unit, so a use case made of several services
commits or rolls back whole. Errors are typed (``errors.EconomyError``) with a message fit to show a
player. Never imports reflex (tests/unit/test_architecture.py); the README's Layout lists the modules."""
