"""What one event costs the worker (issue 18): the vars it sends, the transactions it opens, where Reflex keeps
a tab's state. The load test (bench/load.py) measures the time; these pin down the mechanisms."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from reflex.state import State
from sqlalchemy import event

import economy_app.economy_app  # noqa: F401  (registers every page and its state)
from economy_app.db import get_engine
from economy_app.display import HistoryItem
from economy_app.pages.dashboard import DashboardState
from economy_app.pages.history import HistoryState
from economy_app.pages.send import SendState
from economy_app.services import accounts, auth
from economy_app.state import auth as auth_state
from economy_app.state.auth import AuthState

ROOT = Path(__file__).resolve().parents[2]


def _state(cls):
    root = State(_reflex_internal_init=True)
    return root, root.get_substate(cls.get_full_name().split("."))


def _sent(root) -> dict:
    """The vars the next delta sends, by state (Reflex's own delta), then a clean slate as after an event."""
    delta = {name.rsplit(".", 1)[-1]: set(values) for name, values in root.get_delta().items()}
    root._clean()
    return delta


def _row(i: int) -> HistoryItem:
    return HistoryItem(
        id=i,
        key=f"{i}-1",
        date="2026-11-30 12:00",
        account="alice",
        type="Transfer",
        counterpart="bob",
        system=False,
        description="",
        amount="-$1.00",
        cents=-100,
        batch="",
    )


def test_a_refresh_that_finds_the_same_figures_sends_nothing_of_them():
    root, d = _state(DashboardState)
    d._assign(net_worth="$10.00", net_worth_cents=1000, recent=[_row(1), _row(2)], loaded=True)
    assert _sent(root) == {
        "economy_app___pages___dashboard____dashboard_state": {
            "net_worth_rx_state_",
            "net_worth_cents_rx_state_",
            "recent_rx_state_",
            "loaded_rx_state_",
        }
    }
    d._assign(net_worth="$10.00", net_worth_cents=1000, recent=[_row(1), _row(2)], loaded=True)
    assert _sent(root) == {}
    d._assign(net_worth="$9.00", net_worth_cents=900, recent=[_row(3), _row(1)], loaded=True)
    assert _sent(root) == {
        "economy_app___pages___dashboard____dashboard_state": {
            "net_worth_rx_state_",
            "net_worth_cents_rx_state_",
            "recent_rx_state_",
        }
    }
    assert [r.id for r in d.recent] == [3, 1] and d.net_worth == "$9.00"


def test_the_session_check_sends_the_players_name_only_when_it_changes():
    root, auth = _state(AuthState)
    auth._show_user("alice", "Alice", False)
    assert _sent(root) == {
        "economy_app___state___auth____auth_state": {
            "username_rx_state_",
            "display_name_rx_state_",
            "is_admin_rx_state_",
        }
    }
    auth._show_user("alice", "Alice", False)  # every later event of the same session
    assert _sent(root) == {}
    auth._show_user("", "", False)  # the session ended
    assert auth.username == "" and _sent(root)


def test_the_dashboard_is_one_read_transaction(session, engine, make_player):
    alice, a = make_player("alice")
    bob, b = make_player("bob")
    accounts.transfer(session, actor_id=alice, from_account_id=a, to_account_id=b, amount=100)
    session.commit()
    begun = []
    listener = lambda conn: begun.append(conn)  # noqa: E731
    event.listen(engine, "begin", listener)
    try:
        d = accounts.dashboard(session, alice)
    finally:
        event.remove(engine, "begin", listener)
    assert len(begun) == 1
    assert d.net_worth == 1_000_000 - 100 and d.holdings == 0 and d.owed == 0


def _state_manager(env: dict[str, str]) -> str:
    """The state manager Reflex creates for this checkout's rxconfig.py, in a fresh process with ``env``."""
    script = (
        "from reflex.istate.manager import StateManager\n"
        "from reflex.utils import prerequisites\n"
        "prerequisites.get_redis = lambda: object()  # no server needed to see which manager is chosen\n"
        "from reflex.istate.manager import redis as r\n"
        "from reflex_base.environment import environment, oplock_hold_time\n"
        "r.StateManagerRedis = lambda **kw: (\n"
        "    f'redis oplock={environment.REFLEX_OPLOCK_ENABLED.get()} hold={oplock_hold_time().total_seconds()}'\n"
        ")\n"
        "m = StateManager.create()\n"
        "print(m if isinstance(m, str) else type(m).__name__)\n"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith("REFLEX_")}
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, check=True
    )
    return out.stdout.strip().splitlines()[-1]


def test_where_reflex_keeps_a_tabs_state():
    # One worker without Redis: in its memory. Reflex's default there, the disk manager, wrote every touched state
    # to .states and scanned that folder every 2 s, though `reflex run` empties it at every start.
    assert _state_manager({}) == "StateManagerMemory"
    # Several workers: Redis, as before, with Reflex's opportunistic lock (3 s), which an operator can turn off.
    redis = {"REFLEX_REDIS_URL": "redis://127.0.0.1:6380"}
    assert _state_manager(redis) == "redis oplock=True hold=5.0"
    assert _state_manager({**redis, "REFLEX_OPLOCK_ENABLED": "false"}) == "redis oplock=False hold=5.0"


def _hops(monkeypatch) -> list:
    """Every trip of this test's events to the service threads, by the function sent there."""
    trips = []
    real = auth_state._in_thread

    async def counted(fn, *args, **kwargs):
        trips.append(getattr(fn, "func", fn))
        return await real(fn, *args, **kwargs)

    monkeypatch.setattr(auth_state, "_in_thread", counted)
    return trips


def test_a_page_load_checks_the_session_and_reads_in_one_trip_to_a_service_thread(
    db_url, session, make_player, monkeypatch
):
    """Each trip off the event loop and back costs two thread switches and a database session: the session
    check and the page's own read go together (they were two trips, three for the history page, then two)."""
    monkeypatch.setenv("DATABASE_URL", db_url)
    alice, _ = make_player("alice")
    token = auth.login(session, "alice", "correct horse", client="127.0.0.1").token
    session.commit()
    trips = _hops(monkeypatch)

    root, dash = _state(DashboardState)
    dash.auth_token = token
    asyncio.run(DashboardState.load.fn(dash))
    assert dash.net_worth_cents == 1_000_000 and dash.username == "alice"
    assert len(trips) == 1

    trips.clear()
    _, send = _state(SendState)
    send.auth_token = token
    asyncio.run(SendState.load.fn(send))
    assert [s.name for s in send.sources] == ["alice"] and len(trips) == 1

    trips.clear()
    _, history = _state(HistoryState)
    history.auth_token = token
    asyncio.run(HistoryState.load.fn(history))
    assert [r.cents for r in history.rows] == [1_000_000]  # the welcome deposit
    assert len(trips) == 1  # the session check, the accounts, the mint's id and the rows as filtered
    trips.clear()
    asyncio.run(HistoryState.apply.fn(history))
    assert len(trips) == 1 and [r.cents for r in history.rows] == [1_000_000]


def test_a_history_page_with_a_filter_the_service_refuses_says_why_and_is_loaded(
    db_url, session, make_player, monkeypatch
):
    """An entry type the service does not know (only a crafted tab state can hold one: the setter refuses it) shows
    the service's message, no rows, and a loaded page (not a page loading for ever)."""
    monkeypatch.setenv("DATABASE_URL", db_url)
    make_player("alice")
    token = auth.login(session, "alice", "correct horse", client="127.0.0.1").token
    session.commit()
    _, history = _state(HistoryState)
    history.auth_token, history.type_filter = token, "bogus"
    asyncio.run(HistoryState.load.fn(history))
    assert history.loaded and history.rows == [] and history.error == "Unknown entry type: bogus."


def test_a_page_load_without_a_session_reads_nothing(db_url, session, make_player, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", db_url)
    make_player("alice")
    session.commit()
    read = []
    monkeypatch.setattr(accounts, "dashboard", lambda *a, **k: read.append(a))
    _, dash = _state(DashboardState)
    dash.auth_token = "not-a-session"
    event = asyncio.run(DashboardState.load.fn(dash))
    assert read == [] and not dash.loaded
    assert "/login" in str(event)


def test_a_page_load_is_one_read_transaction_with_its_session_check(db_url, session, make_player, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", db_url)
    make_player("alice")
    token = auth.login(session, "alice", "correct horse", client="127.0.0.1").token
    session.commit()
    engine = get_engine(db_url)
    begun = []
    listener = lambda conn: begun.append(conn)  # noqa: E731
    event.listen(engine, "begin", listener)
    try:
        _, dash = _state(DashboardState)
        dash.auth_token = token
        asyncio.run(DashboardState.load.fn(dash))
    finally:
        event.remove(engine, "begin", listener)
    assert dash.net_worth_cents == 1_000_000
    assert len(begun) == 1  # the session check and the dashboard: one BEGIN (they were two)


def test_every_page_loads_in_the_navigations_own_event():
    """Each page's on_load can run inside Reflex's on_load_internal (state/page_load.py): one event and one
    message per page load. A load that takes arguments, runs in the background or is not async would fall back to
    Reflex's chain of three events."""
    from economy_app.economy_app import app
    from economy_app.state import page_load

    assert app._load_events, "no page registered"
    for route, loads in app._load_events.items():
        assert page_load.inline_handler(loads) is loads[0], route

    def sync(self): ...

    async def two(self, x): ...

    for fn in (sync, two):
        assert page_load.inline_handler([type(DashboardState.load)(fn=fn, state=DashboardState)]) is None
    assert page_load.inline_handler([DashboardState.load, SendState.load]) is None


async def _drain(events) -> list:
    """Every update an event handler that yields sends, in order."""
    return [u async for u in events]


def _send_form(token: str, to_id: int, to_name: str, amount: str) -> SendState:
    """A send page loaded for ``token``'s player, with a recipient picked and an amount typed."""
    _, send = _state(SendState)
    send.auth_token = token
    asyncio.run(SendState.load.fn(send))
    send.recipient_id, send.recipient_name = to_id, to_name
    SendState.set_amount.fn(send, amount)
    return send


def test_a_transfer_from_the_send_page_is_one_trip_to_a_service_thread(db_url, session, make_player, monkeypatch):
    """The click's session check, the transfer and the balances shown after it go together: they were three trips
    (check on the read threads, the transfer on the write threads, the balances on the read threads again)."""
    monkeypatch.setenv("DATABASE_URL", db_url)
    alice, alice_account = make_player("alice")
    _, bob_account = make_player("bob")
    token = auth.login(session, "alice", "correct horse", client="127.0.0.1").token
    session.commit()
    send = _send_form(token, bob_account, "bob", "12.34")
    trips = _hops(monkeypatch)
    updates = asyncio.run(_drain(SendState.confirm.fn(send, send.form_key)))
    assert len(trips) == 1
    assert "Sent $12.34 to bob." in str(updates[-1])
    assert [s.cents for s in send.sources] == [1_000_000 - 1234] and not send.sending and send.amount_text == ""

    # A refusal too (the balance on screen was stale: most of it went from another tab): one trip, and the
    # balances that explain it.
    accounts.transfer(session, actor_id=alice, from_account_id=alice_account, to_account_id=bob_account, amount=990_000)
    session.commit()
    trips.clear()
    SendState.set_amount.fn(send, "100.00")
    send.recipient_id, send.recipient_name = bob_account, "bob"
    updates = asyncio.run(_drain(SendState.confirm.fn(send, send.form_key)))
    assert len(trips) == 1 and not send.sending
    assert "insufficient" in str(updates[-1]).lower(), updates[-1]
    assert [s.cents for s in send.sources] == [1_000_000 - 1234 - 990_000]
    assert send.amount_error and send.amount_text == "100.00"  # the form kept as typed


def test_a_send_click_whose_session_ended_sends_nothing(db_url, session, make_player, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", db_url)
    make_player("alice")
    _, bob_account = make_player("bob")
    token = auth.login(session, "alice", "correct horse", client="127.0.0.1").token
    session.commit()
    send = _send_form(token, bob_account, "bob", "5.00")
    auth.logout(session, token)  # logged out in another tab
    session.commit()
    updates = asyncio.run(_drain(SendState.confirm.fn(send, send.form_key)))
    assert "/login" in str(updates[-1])
    assert accounts.get_balance(session, bob_account) == 1_000_000
    assert send.sources == [] and not send.sending  # the private page state is forgotten


def test_a_recipient_search_is_one_trip_to_a_service_thread(db_url, session, make_player, monkeypatch):
    """A keystroke's session check and search go together (they were two trips)."""
    monkeypatch.setenv("DATABASE_URL", db_url)
    make_player("alice")
    make_player("bobby")
    token = auth.login(session, "alice", "correct horse", client="127.0.0.1").token
    session.commit()
    _, send = _state(SendState)
    send.auth_token = token
    asyncio.run(SendState.load.fn(send))
    trips = _hops(monkeypatch)
    asyncio.run(SendState.search.fn(send, "bob"))
    assert len(trips) == 1
    assert [r["name"] for r in send.results] == ["bobby"] and send.exact_id == 0
    auth.logout(session, token)
    session.commit()
    event = asyncio.run(SendState.search.fn(send, "bobb"))
    assert "/login" in str(event) and send.results == []
