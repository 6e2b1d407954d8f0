"""The session check of a click (``auth.check_token``): one statement sent straight to the database driver
(``db.DriverRead``), with no ``Session`` around it. It answers exactly as ``auth.resolve`` does, leaves every pooled
connection as the pool hands it out, and a dead connection is reported as SQLAlchemy reports one, so the check runs
once more on a new connection (``db.again_if_disconnected``).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import exc, text
from sqlmodel import Session

from economy_app import config, db
from economy_app.models import utcnow
from economy_app.services import auth
from economy_app.services._tx import unit


@pytest.fixture
def default_db(db_url, monkeypatch):
    """``check_token`` reads the process's database (``DATABASE_URL``), as a web worker's does."""
    monkeypatch.setenv("DATABASE_URL", db_url)
    yield db.get_engine(db_url)
    db.get_engine(db_url).dispose()


def test_a_clicks_check_answers_as_resolve_does(default_db):
    with Session(default_db, expire_on_commit=False) as s:
        alice = auth.signup(s, "alice", "correct horse")
        bob = auth.signup(s, "bob", "battery staple")
        admin = s.execute(text("UPDATE users SET role = 'admin' WHERE username = 'bob'"))
        s.commit()
        later = utcnow() + timedelta(days=config.session_days(), seconds=1)
        cases = [
            (alice.token, None),
            (bob.token, None),
            (alice.token, later),  # expired
            ("forged", None),
            ("", None),
            (None, None),
            ("x" * 201, None),
        ]
        for token, now in cases:
            assert auth.check_token(token, now=now) == auth.resolve(s, token, now=now)
        assert auth.check_token(alice.token) == auth.SessionUser(
            id=alice.user.id, username="alice", display_name="alice", role="player"
        )
        assert auth.check_token(bob.token).is_admin and admin.rowcount == 1
        assert auth.check_token(alice.token, now=later) is None
        auth.logout(s, alice.token)
        assert auth.check_token(alice.token) is None and auth.check_token(bob.token) is not None


def test_a_page_loads_check_reads_in_its_units_snapshot(session):
    alice = auth.signup(session, "alice", "correct horse")
    with unit(session, write=False, snapshot=True):
        assert auth.resolve(session, alice.token).username == "alice"
        # (it joined the unit's transaction: the unit is still open)
        assert session.in_transaction()


@pytest.fixture
def pg_engine(postgres_template_url):
    engine = db.make_engine(postgres_template_url, pool_size=1, max_overflow=0)
    yield engine
    engine.dispose()


def _token(engine) -> str:
    from tests.support.db import wipe

    wipe(engine)
    with Session(engine) as s:
        return auth.signup(s, "alice", "correct horse").token


def _params(token: str) -> dict:
    return {"token_hash": auth._hash(token), "now": utcnow()}


def test_the_check_gives_its_connection_back_as_the_pool_hands_it_out(pg_engine):
    token = _token(pg_engine)
    assert auth._RESOLVE.first(_params(token), engine=pg_engine)[1] == "alice"
    # The pool's one connection: out of autocommit, in no transaction; a write unit on it is one transaction.
    with Session(pg_engine) as s, unit(s, write=True):
        s.execute(text("SELECT 1"))
        driver = s.connection().connection.driver_connection
        assert driver.autocommit is False and driver.info.transaction_status.name == "INTRANS"


def test_a_check_that_fails_never_leaves_its_connection_in_autocommit(pg_engine, monkeypatch):
    token = _token(pg_engine)
    compiled = auth._RESOLVE._for(pg_engine.dialect)
    monkeypatch.setitem(auth._RESOLVE._compiled, "postgresql", ("SELECT no_such_column FROM users", *compiled[1:]))
    with pytest.raises(exc.ProgrammingError) as raised:
        auth._RESOLVE.first(_params(token), engine=pg_engine)
    assert not raised.value.connection_invalidated
    with Session(pg_engine) as s, unit(s, write=True):
        assert s.connection().connection.driver_connection.autocommit is False


def test_a_dead_connection_is_reported_and_the_check_runs_again_on_a_new_one(pg_engine, postgres_template_url):
    from tests.unit.test_db_connections import _backend_pid, _kill_backends

    token = _token(pg_engine)
    first = _backend_pid(pg_engine)
    _kill_backends(postgres_template_url, {first})
    with pytest.raises(exc.DBAPIError) as raised:
        auth._RESOLVE.first(_params(token), engine=pg_engine)
    assert raised.value.connection_invalidated  # as SQLAlchemy reports a statement that found its server gone
    assert _backend_pid(pg_engine) != first  # the dead connection was dropped from the pool

    _kill_backends(postgres_template_url, {_backend_pid(pg_engine)})
    row = db.again_if_disconnected(lambda: auth._RESOLVE.first(_params(token), engine=pg_engine))
    assert row[1] == "alice"


def test_a_dead_connection_inside_a_unit_is_reported_the_same(pg_engine, postgres_template_url):
    from tests.unit.test_db_connections import _backend_pid, _kill_backends

    token = _token(pg_engine)
    _kill_backends(postgres_template_url, {_backend_pid(pg_engine)})

    def check():
        with Session(pg_engine) as s, unit(s, write=False, snapshot=True):
            return auth.resolve(s, token)

    with pytest.raises(exc.DBAPIError) as raised:
        check()
    assert raised.value.connection_invalidated
    _kill_backends(postgres_template_url, {_backend_pid(pg_engine)})
    assert db.again_if_disconnected(check).username == "alice"


def _restart_under_a_full_pool(engine, url: str) -> None:
    """Three pooled connections in steady use (not idle long enough to be pinged), then every one of them dies, as
    a server restart looks to the pool."""
    from tests.unit.test_db_connections import _kill_all_others

    with engine.connect() as a, engine.connect() as b, engine.connect() as c:
        for conn in (a, b, c):
            conn.execute(text("SELECT 1"))
    _kill_all_others(url)


def test_one_dead_connection_drops_the_pools_other_connections_of_its_time(postgres_template_url):
    """A server restart kills every pooled connection: the first check that finds out fails (and is tried again by
    its caller), and the pool drops the others with it, as SQLAlchemy does, instead of each failing in turn."""
    engine = db.make_engine(postgres_template_url, pool_size=3, max_overflow=0)
    try:
        token = _token(engine)
        _restart_under_a_full_pool(engine, postgres_template_url)
        with pytest.raises(exc.DBAPIError) as raised:
            auth._RESOLVE.first(_params(token), engine=engine)
        assert raised.value.connection_invalidated
        assert auth._RESOLVE.first(_params(token), engine=engine)[1] == "alice"
        assert auth._RESOLVE.first(_params(token), engine=engine)[1] == "alice"
    finally:
        engine.dispose()


def test_a_page_loads_check_after_a_server_restart_holds_on_its_second_try(postgres_template_url):
    """(Attacker review atk-18g.) The page load's check inside its unit drops the pool's other dead connections of
    its time too, as SQLAlchemy does: the second try runs on a new connection, not on the next dead one."""
    engine = db.make_engine(postgres_template_url, pool_size=3, max_overflow=0)
    try:
        token = _token(engine)
        _restart_under_a_full_pool(engine, postgres_template_url)

        def page_load_check():  # state/auth.py::_check_and_load with a page's read, as the read threads run it
            with Session(engine) as s, unit(s, write=False, snapshot=True):
                return auth.resolve(s, token)

        assert db.again_if_disconnected(page_load_check).username == "alice"
    finally:
        engine.dispose()


@pytest.mark.parametrize("token", ["\ud800", "abc\udfff", "\udc80" * 10, "jetón"])
def test_a_token_no_server_could_have_made_is_just_no_session(default_db, token):
    """(Attacker review atk-18g.) A browser's localStorage can hold any JavaScript string, a lone surrogate
    included: the check answers "no session" (it raised UnicodeEncodeError), and a logout with it does nothing."""
    with Session(default_db, expire_on_commit=False) as s:
        alice = auth.signup(s, "alice", "correct horse")
        assert auth.check_token(token) is None and auth.resolve(s, token) is None
        auth.logout(s, token)
        assert auth.check_token(alice.token).username == "alice"
