"""Thread helpers for race tests: run a call in a thread and keep what it raised; see a PostgreSQL lock wait."""

from __future__ import annotations

import threading
import time

from sqlalchemy import Engine, text


def in_thread(target, *args) -> threading.Thread:
    """Start ``target(*args)`` in a daemon thread; whatever it raises lands in the thread's ``errors`` list."""
    errors: list[BaseException] = []

    def run():
        try:
            target(*args)
        except BaseException as e:  # re-raised (or asserted) by the test
            errors.append(e)

    t = threading.Thread(target=run, daemon=True)
    t.errors = errors
    t.start()
    return t


def done_or_waiting_on_a_lock(engine: Engine, thread: threading.Thread, timeout: float = 10) -> bool:
    """Wait until ``thread`` has finished, or (PostgreSQL) some other backend of this database waits for a row
    lock, which is where a racing transaction parks behind the one under test. True if it waits on a lock."""
    return until_waiting_on_a_lock(engine, lambda: not thread.is_alive(), timeout)


def until_waiting_on_a_lock(engine: Engine, done, timeout: float = 10) -> bool:
    """Wait until ``done()`` is true (False) or another backend of this database waits for a lock (True)."""
    deadline = time.monotonic() + timeout
    with engine.connect() as conn:
        while time.monotonic() < deadline:
            if done():
                return False
            waiting = conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'"
                )
            ).scalar_one()
            conn.rollback()
            if waiting:
                return True
            time.sleep(0.02)
    raise AssertionError(f"nothing happened within {timeout} s: the race did not come about")
