"""Where a worker runs the players' service calls, and what may happen meanwhile (issue 18).

The session check and the page's read run on the worker's read thread (one: a second only hands the interpreter
lock back and forth); the players' writes on its two write threads; the jobs and live updates on asyncio's pool. Log in and sign up run in the
background: the tab's state is not locked while the password is hashed. The first two tests below were an
attacker's proofs against a first version (one thread for every call; a logout lost to a login in flight)."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time

import pytest
from sqlalchemy import func, select

import economy_app.economy_app  # noqa: F401  (registers every page and its state)
from economy_app import config
from economy_app.models import AuthSession
from economy_app.pages.dashboard import DashboardState
from economy_app.pages.login import LoginState
from economy_app.services import accounts, auth
from economy_app.state import auth as auth_state
from economy_app.state import reads
from economy_app.state.auth import AuthState
from economy_app.state.reads import ReadThreads
from tests.conftest import new_sqlite_url
from tests.unit.test_event_cost import _state


@pytest.fixture
def sqlite_url(sqlite_template, tmp_path):
    return new_sqlite_url(sqlite_template, tmp_path)


HOLD_SECONDS = 3.0


def test_a_write_waiting_on_the_sqlite_lock_never_holds_up_another_players_page_load(sqlite_url, monkeypatch):
    from sqlalchemy.orm import Session

    from economy_app.db import make_engine
    from economy_app.services import users

    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.delenv("ECONOMY_READ_THREADS", raising=False)
    monkeypatch.setattr(auth_state, "_readers", None)  # a fresh pool, as a worker makes it
    engine = make_engine(sqlite_url)
    with Session(engine, expire_on_commit=False) as s:
        alice = users.create_user(s, "alice", "correct horse").id
        alice_acct = accounts.initialize_account(s, alice).id
        bob = users.create_user(s, "bob", "correct horse").id
        bob_acct = accounts.initialize_account(s, bob).id
        bob_token = auth.login(s, "bob", "correct horse", client="10.0.0.2").token
        s.commit()
    engine.dispose()

    # A third party (the marketplace job in asyncio's default pool, `economy_app` CLI, a backup) holds the
    # write lock for a while.
    bob_done = threading.Event()
    released_by_timeout = []
    holding = threading.Event()

    def holder():
        con = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None)
        con.execute("BEGIN IMMEDIATE")
        holding.set()
        released_by_timeout.append(not bob_done.wait(HOLD_SECONDS))
        con.execute("ROLLBACK")
        con.close()

    t = threading.Thread(target=holder)
    t.start()
    holding.wait()

    _, dash = _state(DashboardState)
    dash.auth_token = bob_token
    waited = {}

    async def alice_sends():
        # Alice's transfer needs the write lock: it waits (busy_timeout) on the worker's service thread.
        await auth_state.run(
            accounts.transfer, actor_id=alice, from_account_id=alice_acct, to_account_id=bob_acct, amount=100
        )

    async def bob_loads_his_dashboard():
        await asyncio.sleep(0.2)  # Alice's call is on the thread first
        start = time.monotonic()
        await DashboardState.load.fn(dash)
        waited["bob"] = time.monotonic() - start
        bob_done.set()

    async def both():
        await asyncio.gather(alice_sends(), bob_loads_his_dashboard())

    asyncio.run(both())
    t.join()
    assert dash.loaded and dash.username == "bob"
    # Bob's read does not need the write lock (WAL): it finishes while the lock is still held. With one thread
    # for every call it waited the whole HOLD_SECONDS (up to SQLite's 30 s busy timeout).
    assert released_by_timeout == [False], (
        f"Bob's page load waited {waited['bob']:.2f} s for Alice's write to get the SQLite lock "
        "(the reads' one thread shared with the writes)"
    )


def test_a_logout_sent_while_the_login_hashes_leaves_the_tab_logged_out(db_url, session, make_player, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", db_url)
    make_player("alice")
    session.commit()

    hashing, go_on = threading.Event(), threading.Event()
    real_login = auth.login

    def slow_login(s, *args, **kwargs):  # the Argon2 hash under load: seconds
        hashing.set()
        assert go_on.wait(10)
        return real_login(s, *args, **kwargs)

    monkeypatch.setattr(auth, "login", slow_login)
    root, tab = _state(LoginState)

    async def scenario():
        async def log_in():
            async for _ in LoginState.login.fn(tab, {"username": "alice", "password": "correct horse"}):
                pass

        task = asyncio.create_task(log_in())
        await asyncio.to_thread(hashing.wait, 10)
        assert tab.busy  # the form shows the spinner
        # The player clicks "Log out" (any public handler is callable from the tab at any time).
        await AuthState.logout.fn(tab)
        go_on.set()
        await task

    asyncio.run(scenario())
    # The logout, the tab's last action, wins: no live session is left in the tab, nor in the database.
    still = auth.resolve(session, tab.auth_token) if tab.auth_token else None
    assert still is None, f"the tab is logged in as {still.username} after its logout"
    assert not tab.busy
    assert session.execute(select(func.count()).select_from(AuthSession)).scalar_one() == 0


def test_reads_and_writes_run_on_the_workers_own_threads_and_the_rest_on_the_default_pool(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "sqlite:///x.db")
    monkeypatch.delenv("ECONOMY_READ_THREADS", raising=False)
    monkeypatch.delenv("ECONOMY_WRITE_THREADS", raising=False)
    assert config.read_threads() == 1 and config.write_threads() == 2
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://u@localhost/db")
    assert config.read_threads() == 1 and config.write_threads() == 2
    monkeypatch.setenv("ECONOMY_READ_THREADS", "0")
    assert config.read_threads() == 1
    monkeypatch.setenv("ECONOMY_READ_THREADS", "3")
    assert config.read_threads() == 3
    monkeypatch.setattr(auth_state, "_readers", None)
    monkeypatch.setattr(auth_state, "_writers", None)

    def where(*_args):
        return threading.current_thread().name

    async def names():
        reads = {await auth_state._in_thread(where, pool=auth_state._read_pool()) for _ in range(20)}
        writes = {await auth_state._in_thread(where, pool=auth_state._write_pool()) for _ in range(20)}
        calls = {await auth_state._in_thread(where) for _ in range(5)}
        return reads, writes, calls

    reads, writes, calls = asyncio.run(names())
    assert reads and all(n.startswith("reads_") for n in reads) and len(reads) <= 3
    assert writes and all(n.startswith("writes") for n in writes) and len(writes) <= 2
    assert calls and not any(n.startswith(("reads_", "writes")) for n in calls)  # the jobs' and live updates' pool
    assert len(auth_state._read_pool()._threads) == 3
    monkeypatch.setenv("ECONOMY_WRITE_THREADS", "0")  # asyncio's default pool
    monkeypatch.setattr(auth_state, "_writers", None)
    assert auth_state._write_pool() is None


def test_a_write_on_a_read_thread_is_refused_before_it_waits_for_a_lock(db_url, session, make_player, monkeypatch):
    """The read threads serve every player's page: a write there would queue them all behind SQLite's write lock.
    A write unit started on one raises at once, and nothing is written."""
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setattr(auth_state, "_readers", None)
    alice, a = make_player("alice")
    bob, b = make_player("bob")
    session.commit()

    async def attempt():
        return await auth_state.read(accounts.transfer, actor_id=alice, from_account_id=a, to_account_id=b, amount=1)

    with pytest.raises(RuntimeError, match="read-only thread"):
        asyncio.run(attempt())
    assert accounts.get_balance(session, b) == 1_000_000
    # The same call through run (the write threads) goes through.
    asyncio.run(auth_state.run(accounts.transfer, actor_id=alice, from_account_id=a, to_account_id=b, amount=1))
    session.expire_all()
    assert accounts.get_balance(session, b) == 1_000_001


def test_a_click_is_read_before_a_wave_of_live_refreshes_and_no_refresh_waits_forever():
    """A marketplace run refreshes every paid tab at once; a click made then is served first (its read is due
    now, a refresh's REFRESH_SLACK later), and a refresh older than that goes before newer clicks."""
    pool = ReadThreads(1)
    served, gate = [], threading.Event()
    try:
        pool.submit(gate.wait, 10)  # the thread is busy
        for i in range(5):
            with reads.refreshing():
                pool.submit(served.append, f"refresh {i}")
        pool.submit(served.append, "click")
        gate.set()
        pool.submit(lambda: None).result(5)
        assert served == ["click"] + [f"refresh {i}" for i in range(5)]

        served.clear()
        gate.clear()
        pool.submit(gate.wait, 10)
        with reads.refreshing():
            pool.submit(served.append, "old refresh")
        time.sleep(reads.REFRESH_SLACK + 0.05)
        pool.submit(served.append, "new click")
        gate.set()
        pool.submit(lambda: None).result(5)
        assert served == ["old refresh", "new click"]
        with pytest.raises(ZeroDivisionError):  # an error reaches the caller
            pool.submit(lambda: 1 / 0).result(5)
    finally:
        gate.set()
        pool.shutdown()
