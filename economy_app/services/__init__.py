"""Plain-Python use cases. Every public function takes a Session, is one
transaction (commit on success, rollback on any error) and raises a typed
``EconomyError`` with a message fit to show a player. Never imports reflex."""
