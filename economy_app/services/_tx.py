"""Units of work: every public service function is exactly one transaction.

``with unit(s, write=True):`` commits on success and rolls back on any error.
A write unit on SQLite opens with ``BEGIN IMMEDIATE`` (see ``db.py``), so it
holds the database's write lock from its first statement. A service called
from inside another service's unit joins that unit instead of committing.

What a write unit marked for live updates (``services.live.touch``) is published
inside the transaction just before it commits, and dropped if it rolls back.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import bindparam, select
from sqlmodel import Session

from economy_app.db import WRITE_OPTION
from economy_app.models import User
from economy_app.services import live

_UNIT = "economy_unit"


class _Thread(threading.local):
    read_only = False  # a thread that only reads (the web workers' read threads): a write unit there is a bug


THREAD = _Thread()


@contextmanager
def unit(s: Session, *, write: bool, snapshot: bool = False) -> Iterator[Session]:
    """``snapshot=True``: every statement of the unit reads one snapshot of the database (PostgreSQL:
    REPEATABLE READ; a SQLite read transaction already reads one snapshot), for a check made of several
    statements that must agree with each other. Joining a caller's unit keeps the caller's isolation. A PostgreSQL
    read without a snapshot runs outside a transaction (autocommit): each statement reads the latest committed
    data, as it would under READ COMMITTED inside one."""
    if write and THREAD.read_only:
        # A write would wait for SQLite's write lock on a thread every player's page read queues behind.
        raise RuntimeError("a write service was called on a read-only thread")
    current = s.info.get(_UNIT)
    if current is not None:
        if write and current != "write":
            raise RuntimeError("a write service was called inside a read-only unit")
        yield s
        return
    if s.in_transaction():
        # The caller left a transaction open (reads, e.g. lazy loads): end it so
        # this unit starts its own, with the write lock taken up front.
        s.commit()
    s.info[_UNIT] = "write" if write else "read"
    try:
        options = {WRITE_OPTION: write}
        if s.get_bind().dialect.name == "postgresql":
            if snapshot:
                options["isolation_level"] = "REPEATABLE READ"
            elif not write:
                # READ COMMITTED gives each statement its own snapshot, in a transaction or not: a read that asks
                # for no snapshot reads the same without one, and saves the BEGIN and COMMIT round trips.
                options["isolation_level"] = "AUTOCOMMIT"
        s.connection(execution_options=options)
        yield s
        if write:
            live.publish(s)
        s.commit()
    except BaseException:
        s.rollback()
        live.discard(s)
        raise
    finally:
        s.info.pop(_UNIT, None)


def in_write_unit(s: Session) -> bool:
    return s.info.get(_UNIT) == "write"


_LOCK_USER_PG = select(User.__table__.c.id).where(User.__table__.c.id == bindparam("user_id")).with_for_update()


def lock_user(s: Session, user_id: int) -> None:
    """Serialise a player's count-then-insert limits (companies per player, products per company, trades
    per 5 s): call it first, inside the write unit, before counting. On PostgreSQL it locks the player's
    ``users`` row (``SELECT ... FOR UPDATE``) until the unit ends, so a second request by the same player
    counts only after the first committed; on SQLite the unit already holds the database's write lock
    (``BEGIN IMMEDIATE``)."""
    if not in_write_unit(s):
        raise RuntimeError("lock_user() must run inside a write unit")
    if s.get_bind().dialect.name == "postgresql":
        s.execute(_LOCK_USER_PG, {"user_id": user_id}).all()
