"""Engines and sessions.

``get_session()`` is the one way services get a database session. On SQLite the
engine runs in WAL mode with a busy timeout and foreign keys on, and a write
unit of work opens its transaction with ``BEGIN IMMEDIATE`` so it holds the
write lock from its first statement (no deadlocking lock upgrades, no
"database is locked" surfacing mid-transaction). See ``services/_tx.py``.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import namedtuple
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar

from sqlalchemy import (
    BigInteger,
    Engine,
    Float,
    Integer,
    Numeric,
    any_,
    bindparam,
    cast,
    create_engine,
    event,
    exc,
    func,
    literal_column,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.pool import StaticPool
from sqlmodel import Session

from economy_app import config

log = logging.getLogger(__name__)
T = TypeVar("T")

# Option put on a connection by a write unit of work (see services/_tx.py).
WRITE_OPTION = "economy_write"
SQLITE_BUSY_TIMEOUT_MS = 30_000

_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def _forget_engines_after_fork() -> None:
    """A forked worker (Granian forks its workers from the supervisor) opens its own connections:
    pooled connections inherited from the parent are dropped without being closed, since they belong
    to the parent's socket."""
    global _engines_lock
    _engines_lock = threading.Lock()
    for engine in list(_engines.values()):
        engine.dispose(close=False)
    _engines.clear()


os.register_at_fork(after_in_child=_forget_engines_after_fork)


def _install_sqlite_hooks(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Let SQLAlchemy (not the sqlite3 module) decide when transactions begin.
        dbapi_connection.isolation_level = None
        cur = dbapi_connection.cursor()
        cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        if conn.get_execution_options().get(WRITE_OPTION):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            # A read's BEGIN takes no lock and cannot wait: straight to the driver (every page load has one; the
            # full statement path cost a tenth of the session check).
            conn.connection.driver_connection.execute("BEGIN")


# A pooled PostgreSQL connection idle longer than this is pinged before use (see _install_postgres_hooks).
PING_AFTER_IDLE_SECONDS = 10.0
_IDLE_SINCE = "economy_idle_since"


def _install_postgres_hooks(engine: Engine) -> None:
    """Ping a pooled connection before use only when it sat idle for ``PING_AFTER_IDLE_SECONDS``.

    SQLAlchemy's ``pool_pre_ping`` pings on every checkout: one more round trip per unit of work (about 80 us of
    the worker's CPU and as much of the server's here, a tenth of a session check). A connection in steady use
    does not need it: if its server went away meanwhile, the statement that finds out fails, SQLAlchemy sees a
    disconnect and drops every connection of the pool opened before it, so the next unit reconnects. A connection
    idle for a while (a server restart or an idle timeout while nobody played) is pinged, and a dead one is
    replaced before the unit starts (raising ``DisconnectionError`` makes the pool retry with a new one)."""

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection, record):
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection, record, _proxy):
        idle_since = record.info.pop(_IDLE_SINCE, None)
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)  # what pool_pre_ping sends: SELECT 1, outside a transaction
        except Exception as e:
            raise exc.DisconnectionError("the pooled connection did not answer a ping") from e


def again_if_disconnected(fn: Callable[[], T]) -> T:
    """``fn()``, and once more if it failed because its database connection turned out to be dead (a server
    restart, or a backend killed while the connection sat in the pool, not pinged since it was idle for less than
    ``PING_AFTER_IDLE_SECONDS``): SQLAlchemy has then dropped the pool's connections, so the second try runs on a
    new one. Only for work that is safe to repeat: reads, or a unit whose own claim makes a second try a no-op if
    the first one did commit (a scheduled job's slot)."""
    try:
        return fn()
    except exc.DBAPIError as e:
        if not e.connection_invalidated:
            raise
        log.warning("the database connection was dead (%s): trying once more on a new one", type(e.orig).__name__)
        return fn()


class DriverRead:
    """A read statement sent straight to the database driver, for the statements every event runs (the session
    check, the pages' reads). SQLAlchemy compiles it once per database; a call then costs the driver's own work and
    the conversion of the values: on SQLite the session check costs about 45 us of the worker's CPU against 200 us
    through a ``Session`` (its transaction, execution context and result objects), on PostgreSQL 160 us against
    370 us (outside a transaction, no ``BEGIN``/``COMMIT``).

    Parameters and result columns are converted as SQLAlchemy converts them (its bind and result processors for the
    database, e.g. a ``DateTime`` to and from SQLite's text); rows are named tuples (``row.name``, ``row[0]``). Not
    for a statement whose conversion depends on what the driver reports at run time (``Numeric``) or whose
    parameters are expanded when it runs (``IN`` a list): refused when it is compiled. A dead connection is
    reported as SQLAlchemy reports it (``DBAPIError`` with ``connection_invalidated``, the pool's older connections
    dropped), so ``again_if_disconnected`` retries it the same way."""

    def __init__(self, statement):
        self.statement = statement
        names = [c.key for c in statement.selected_columns]
        self.row = namedtuple("Row", names, rename=True)  # noqa: PYI024  (made per statement, from its columns)
        self._compiled: dict[str, tuple] = {}

    def _for(self, dialect) -> tuple:
        done = self._compiled.get(dialect.name)
        if done is None:
            compiled = self.statement.compile(dialect=dialect)
            results = []
            for column in self.statement.selected_columns:
                impl = column.type.dialect_impl(dialect)
                if isinstance(impl, (Numeric, Float)):
                    raise TypeError(f"DriverRead: {column}'s conversion depends on the driver's column type")
                results.append(impl.result_processor(dialect, None))
            for key, bind in compiled.binds.items():
                if bind.expanding:
                    raise TypeError(f"DriverRead: parameter {key} is expanded when the statement runs")
            processors = {
                key: process
                for key, bind in compiled.binds.items()
                if (process := bind.type.dialect_impl(dialect).bind_processor(dialect)) is not None
            }
            # The statement's own values (``kind == "personal"``): sent with every call's.
            given = {key for key, bind in compiled.binds.items() if not bind.required}
            constants = {k: v for k, v in compiled.construct_params(_check=False).items() if k in given}
            order = tuple(compiled.positiontup) if compiled.positional else None
            convert = tuple(results) if any(results) else None
            done = self._compiled[dialect.name] = (str(compiled), order, processors, constants, convert)
        return done

    def _execute(self, engine: Engine, fairy, params: dict, on_disconnect, *, many: bool = False):
        sql, order, processors, constants, convert = self._for(engine.dialect)
        if constants:
            params = {**constants, **params}
        values = {k: (processors[k](v) if k in processors else v) for k, v in params.items()}
        args = tuple(values[k] for k in order) if order is not None else values
        cursor = None
        try:
            cursor = fairy.cursor()
            cursor.execute(sql, args)
            rows = cursor.fetchall() if many else cursor.fetchmany(1)
            cursor.close()
        except engine.dialect.loaded_dbapi.Error as e:
            invalidated = engine.dialect.is_disconnect(e, fairy.dbapi_connection, cursor)
            if invalidated:
                on_disconnect(e)
            raise exc.DBAPIError.instance(
                sql,
                args,
                e,
                engine.dialect.loaded_dbapi.Error,
                connection_invalidated=invalidated,
                dialect=engine.dialect,
            ) from e
        make = self.row._make
        if convert is None:
            rows = [make(r) for r in rows]
        else:
            rows = [
                make([v if p is None or v is None else p(v) for p, v in zip(convert, r, strict=True)]) for r in rows
            ]
        return rows if many else (rows[0] if rows else None)

    def first(self, params: dict, *, engine: Engine | None = None) -> tuple | None:
        """The first row, on a pooled connection of its own, outside any transaction (each statement is its own
        snapshot: SQLite in autocommit mode, PostgreSQL with ``autocommit`` set for the statement)."""
        engine = engine or get_engine()
        fairy = engine.raw_connection()  # the pool's checkout (and its ping after idle) as for any unit
        postgres = engine.dialect.name == "postgresql"
        try:
            if postgres:
                fairy.driver_connection.autocommit = True
            # On a dead connection, what SQLAlchemy does when a statement finds the server gone.
            return self._execute(engine, fairy, params, lambda e: engine.pool._invalidate(fairy, e))
        finally:
            if postgres and fairy.is_valid:
                try:
                    fairy.driver_connection.autocommit = False  # as the pool hands every connection out
                except Exception as e:
                    fairy.invalidate(e)  # never back to the pool in autocommit mode
            fairy.close()

    def _in(self, s: Session, params: dict, many: bool):
        conn = s.connection()
        fairy = conn.connection

        def dropped(e):  # as SQLAlchemy does: the pool's older connections too, then this one (the unit ends)
            conn.engine.pool._invalidate(fairy, e, _checkin=False)
            conn.invalidate(e)

        return self._execute(conn.engine, fairy, params, dropped, many=many)

    def first_in(self, s: Session, params: dict) -> tuple | None:
        """The first row, inside the session's transaction (a unit of work's snapshot)."""
        return self._in(s, params, False)

    def all_in(self, s: Session, params: dict) -> list:
        """Every row, inside the session's transaction (a unit of work's snapshot)."""
        return self._in(s, params, True)


def driver_datetime(conn, value):
    """``value`` as SQLAlchemy hands a ``DateTime`` to the database driver (on SQLite, the text every other row
    holds), for statements sent straight to the driver (``exec_driver_sql`` with many rows at once)."""
    from sqlalchemy import DateTime

    process = DateTime().dialect_impl(conn.dialect).bind_processor(conn.dialect)
    return process(value) if process else value


def make_engine(url: str, **kwargs) -> Engine:
    """A new engine for ``url`` with the project's settings (not cached)."""
    if url.startswith("sqlite"):
        memory = url in ("sqlite://", "sqlite:///:memory:")
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            **({"poolclass": StaticPool} if memory else {"pool_size": 10, "max_overflow": 20}),
            **kwargs,
        )
        _install_sqlite_hooks(engine)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    engine = create_engine(url, **kwargs)
    if not kwargs.get("pool_pre_ping"):
        _install_postgres_hooks(engine)
    return engine


def get_engine(url: str | None = None) -> Engine:
    """The process-wide engine for ``url`` (default: ``config.database_url()``)."""
    url = url or config.database_url()
    engine = _engines.get(url)
    if engine is None:
        with _engines_lock:
            engine = _engines.get(url)
            if engine is None:
                engine = _engines[url] = make_engine(url)
    return engine


@contextmanager
def get_session(url: str | None = None) -> Iterator[Session]:
    """``with get_session() as s:`` a Session on DATABASE_URL.

    Objects stay usable after commit (``expire_on_commit=False``) so services
    can return the rows they wrote.
    """
    with Session(get_engine(url), expire_on_commit=False) as s:
        yield s


# --------------------------------------------------------------------------- SQL both databases speak


def dialect_insert(s: Session, table):
    """An INSERT that knows ON CONFLICT (``on_conflict_do_nothing`` / ``_do_update``) on the session's database."""
    return (postgresql if s.get_bind().dialect.name == "postgresql" else sqlite).insert(table)


def insert_ignore(s: Session, table, values: dict, *, index_elements: list[str], index_where=None):
    """INSERT ... ON CONFLICT DO NOTHING on SQLite and PostgreSQL. Returns the new primary key or None."""
    stmt = (
        dialect_insert(s, table)
        .values(**values)
        .on_conflict_do_nothing(index_elements=index_elements, index_where=index_where)
    )
    pk = list(table.primary_key.columns)[0]
    return s.execute(stmt.returning(pk)).scalar()


def ids_in(s: Session, column, ids: Sequence[int]):
    """``column IN (ids)`` with the ids as one bound value (a JSON array on SQLite, an array on PostgreSQL):
    no statement with thousands of parameters to build for every chunk."""
    if s.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam("ids", list(ids), type_=postgresql.ARRAY(BigInteger)))
    values = select(literal_column("value")).select_from(func.json_each(bindparam("ids", json.dumps(list(ids)))))
    return column.in_(values)


def like_prefix(text: str) -> str:
    """A LIKE pattern (``escape="\\"``) matching what starts with ``text``, lower-cased, its ``%``, ``_`` and ``\\``
    taken literally: ``column.like(like_prefix(q), escape="\\")``."""
    return text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def epoch_seconds(col, dialect: str):
    """A naive UTC datetime column as whole seconds since the epoch (bucketing by time in SQL)."""
    if dialect == "postgresql":
        return cast(func.extract("epoch", col), Integer)
    return cast(func.strftime("%s", col), Integer)
