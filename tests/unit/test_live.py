"""Live updates, the database side: a committed change is told to the app workers, a rolled-back one never.

On SQLite the tell is a row in the ``live_events`` outbox; on PostgreSQL a NOTIFY on ``economy_live``
(delivered at commit). ``Listener`` reads whichever the backend uses, as an app worker does.
"""

from __future__ import annotations

import json

import pytest
from sqlmodel import Session

from economy_app.db import make_engine
from economy_app.services import accounts, auth, companies, live, operations, stock_trading
from economy_app.services._tx import unit
from economy_app.services.errors import InsufficientFunds


class Listener:
    """What an app worker would hear from now on."""

    def __init__(self, db_url: str):
        self.url = db_url
        self.postgres = db_url.startswith("postgresql")
        if self.postgres:
            import psycopg

            plain = db_url.replace("postgresql+psycopg://", "postgresql://")
            self.conn = psycopg.connect(plain, autocommit=True)
            self.conn.execute(f"LISTEN {live.CHANNEL}")
        else:
            self.engine = make_engine(db_url)
            with Session(self.engine) as s:
                self.after = live.latest_event_id(s)

    def messages(self) -> list[set[str]]:
        if self.postgres:
            return [live.parse(n.payload) for n in self.conn.notifies(timeout=0.5, stop_after=None)]
        with Session(self.engine) as s:
            events = live.events_after(s, self.after)
        if events:
            self.after = events[-1][0]
        return [topics for _, topics in events]

    def topics(self) -> set[str]:
        out: set[str] = set()
        for m in self.messages():
            out |= m
        return out

    def close(self):
        if self.postgres:
            self.conn.close()
        else:
            self.engine.dispose()


@pytest.fixture
def listener(db_url, engine):
    heard = Listener(db_url)
    yield heard
    heard.close()


def test_a_transfer_tells_both_accounts_the_economy_and_the_receiver(session, make_player, listener):
    alice, a = make_player("alice")
    _, b = make_player("bob")
    listener.topics()  # the sign-ups' own news
    entry = accounts.transfer(session, actor_id=alice, from_account_id=a, to_account_id=b, amount=100)
    assert listener.messages() == [{f"a{a}", f"a{b}", "g", f"t{entry.id}"}]


def test_one_message_per_transaction_however_many_postings(session, make_player, listener):
    _, a = make_player()
    _, b = make_player()
    listener.topics()
    with unit(session, write=True):
        from economy_app.services import ledger

        for _ in range(5):
            ledger.post(session, from_account_id=a, to_account_id=b, amount=1, type="adjustment")
    assert listener.messages() == [{f"a{a}", f"a{b}", "g"}]


def test_a_refused_transfer_tells_nothing(session, make_player, listener):
    alice, a = make_player()
    _, b = make_player()
    listener.topics()
    with pytest.raises(InsufficientFunds):
        accounts.transfer(session, actor_id=alice, from_account_id=a, to_account_id=b, amount=1_000_001)
    assert listener.messages() == []


def test_a_crash_after_the_posting_rolls_back_and_tells_nothing(session, make_player, listener):
    alice, a = make_player()
    _, b = make_player()
    listener.topics()
    with pytest.raises(RuntimeError, match="crash"):
        with unit(session, write=True):
            accounts.transfer(session, actor_id=alice, from_account_id=a, to_account_id=b, amount=100)
            raise RuntimeError("crash after the posting")
    assert accounts.get_balance(session, a) == 1_000_000
    assert listener.messages() == []
    # ...and the marks of the failed unit do not leak into the next one.
    accounts.transfer(session, actor_id=alice, from_account_id=a, to_account_id=b, amount=7)
    heard = listener.topics()
    assert {f"a{a}", f"a{b}"} <= heard and len([t for t in heard if t.startswith("t")]) == 1


def test_reads_tell_nothing(session, make_player, listener):
    user, a = make_player()
    listener.topics()
    accounts.dashboard(session, user)
    accounts.get_balance(session, a)
    assert listener.messages() == []


def test_many_topics_fit_the_backend(session, listener):
    """A marketplace run touching thousands of accounts: PostgreSQL NOTIFY payloads stay under 8,000 bytes."""
    many = {live.account(i) for i in range(1, 3001)}
    with unit(session, write=True):
        live.touch(session, *many)
    messages = listener.messages()
    assert set().union(*messages) == many
    if listener.postgres:
        assert len(messages) > 1


def test_logout_tells_the_players_other_tabs(session, make_player, listener):
    login = auth.signup(session, "carol", "correct horse")
    listener.topics()
    auth.logout(session, login.token)
    assert listener.messages() == [{f"u{login.user.id}"}]


def test_trades_ticks_founding_and_admin_actions_are_told(session, make_player, listener):
    owner, _ = make_player("founder")
    trader, t = make_player("trader")
    view = companies.create_company(session, owner_id=owner, name="Acme", ticker="ACME")
    assert {f"u{owner}"} <= listener.topics()
    from economy_app.services import ledger

    mint = accounts.system_account_id(session)
    with unit(session, write=True):
        ledger.post(session, from_account_id=mint, to_account_id=view.account_id, amount=6_000_000, type="adjustment")
    assert companies.check_and_update_public_status(session, view.id)
    assert {f"c{view.id}", "m"} <= listener.topics()
    stock_trading.buy(session, actor_id=trader, account_id=t, company_id=view.id, shares=100)
    assert {f"c{view.id}", "m", f"a{t}", f"a{view.account_id}"} <= listener.topics()
    import random

    stock_trading.update_prices(session, rng=random.Random(1))
    assert "m" in listener.topics()
    operations.record(session, admin_id=None, admin_name="cli", action="test")
    assert "admin" in listener.topics()


def test_outbox_prunes_old_events(db_url, session, make_player, listener):
    if listener.postgres:
        pytest.skip("PostgreSQL keeps no outbox (NOTIFY)")
    from datetime import timedelta

    from economy_app.models import utcnow

    _, a = make_player()
    later = utcnow() + live.KEEP_EVENTS + timedelta(seconds=1)
    assert live.prune(session, now=later) >= 1
    assert live.events_after(session, 0) == []


def test_transfers_received_names_the_receiver_and_the_sender(session, make_player):
    alice, a = make_player("alice")
    bob, b = make_player("bob")
    entry = accounts.transfer(session, actor_id=alice, from_account_id=a, to_account_id=b, amount=100)
    [r] = accounts.transfers_received(session, [entry.id, entry.id + 1000])
    assert (r.ledger_id, r.user_id, r.account_id, r.amount, r.sender) == (entry.id, bob, b, 100, "alice")


def test_a_request_marks_its_tab_as_the_origin(session, make_player, listener):
    alice, a = make_player("alice")
    _, b = make_player("bob")
    listener.topics()
    mark = live.origin_of("alices-tab-token")
    token = live.ORIGIN.set(mark)
    try:
        accounts.transfer(session, actor_id=alice, from_account_id=a, to_account_id=b, amount=5)
    finally:
        live.ORIGIN.reset(token)
    [message] = listener.messages()
    topics, origin = live.split_origin(message)
    assert origin == mark and f"a{a}" in topics and not any(t.startswith("o:") for t in topics)
    assert "alices-tab-token" not in " ".join(message)  # a hash, never the token


def _wave(*messages, slow=()):
    from economy_app.state.live import Wave

    return Wave(tuple((frozenset(m), o) for m, o in messages), frozenset(slow))


def test_a_wave_skips_the_tab_that_made_the_change_but_not_its_other_news():
    from economy_app.state.live import Subscription

    alice_tab = live.origin_of("alice-tab")
    page = Subscription(state=object, user_id=1, topics=frozenset({"a1", "u1"}))
    own = _wave(({"a1", "a2", "t9"}, alice_tab))
    assert not own.touches(page, alice_tab)  # her own transfer: her tab refreshed itself already
    assert own.touches(page, live.origin_of("alice-other-tab"))  # her other tabs hear it
    assert own.received_by_others(alice_tab) == set()
    both = _wave(({"a1", "a2"}, alice_tab), ({"a1", "a3", "t10"}, live.origin_of("bob-tab")))
    assert both.touches(page, alice_tab) and both.received_by_others(alice_tab) == {10}
    assert _wave(({"a7"}, None)).touches(page, alice_tab) is False  # not her page's topic
    assert _wave(({"*"}, None)).touches(page, alice_tab)  # bulk repairs: everybody
    assert _wave(slow={"g"}).touches(Subscription(object, None, frozenset({"g"})), alice_tab)


def test_a_wave_tells_exactly_the_tabs_it_concerns(monkeypatch):
    """The dispatcher looks only at the tabs a wave concerns (a topic of their page, or a transfer their player
    received, toasted on any page), and forgets the tabs that closed."""
    import asyncio
    from types import SimpleNamespace

    from economy_app.pages.dashboard import DashboardState
    from economy_app.pages.stocks import StocksState
    from economy_app.state import live as app_live

    local = {"alice-dash", "bob-stocks", "carol-dash"}
    manager = SimpleNamespace(instance_id="w1", token_to_socket={t: SimpleNamespace(instance_id="w1") for t in local})
    sent: dict[str, str] = {}

    async def emit_update(update, token):
        sent[token] = json.dumps([[e.name, e.payload] for e in update.events], default=str)

    app = SimpleNamespace(event_namespace=SimpleNamespace(_token_manager=manager, emit_update=emit_update))
    received = SimpleNamespace(ledger_id=10, user_id=2, amount=500, type="transfer", sender="alice", description="")
    monkeypatch.setattr(app_live, "_received", lambda ids: [received] if ids == [10] else [])
    monkeypatch.setattr(app_live, "_subscriptions", {})
    app_live.subscribe("alice-dash", DashboardState, 1, {"a1", "u1"})
    app_live.subscribe("bob-stocks", StocksState, 2, {"m", "u2"})  # his account's topic is not on this page
    app_live.subscribe("carol-dash", DashboardState, 3, {"a3", "u3"})
    app_live.subscribe("closed-tab", DashboardState, 4, {"a1", "u4"})
    app_live.subscribe("closed-elsewhere", DashboardState, 5, {"a5", "u5"})

    dispatcher = app_live.Dispatcher(app)
    asyncio.run(dispatcher.deliver(_wave(({"a1", "a2", "t10"}, live.origin_of("some-tab")))))
    assert set(sent) == {"alice-dash", "bob-stocks"}
    assert "live_refresh" in sent["alice-dash"] and "You received" not in sent["alice-dash"]
    assert "You received $5.00 from alice" in sent["bob-stocks"] and "live_refresh" in sent["bob-stocks"]
    assert set(app_live._subscriptions) == local | {"closed-elsewhere"}  # the wave named the closed tab's topic
    assert dispatcher.sweep() == 1 and set(app_live._subscriptions) == local


def test_a_waves_updates_go_to_every_tab_at_once_and_one_failing_socket_stops_none(monkeypatch):
    """A wave sends every tab's update together: sent one after another, each waited for its turn on a loop busy
    with the players' events, and the last tab of a 200-tab wave heard of a marketplace run a second late. One
    tab's socket failing stops no other tab's update."""
    import asyncio
    from types import SimpleNamespace

    from economy_app.pages.dashboard import DashboardState
    from economy_app.state import live as app_live

    tokens = [f"tab-{i}" for i in range(5)]
    manager = SimpleNamespace(instance_id="w1", token_to_socket={t: SimpleNamespace(instance_id="w1") for t in tokens})
    started: set[str] = set()
    delivered: set[str] = set()

    async def emit_update(update, token):
        started.add(token)
        for _ in range(100):  # each send finishes only once every send has started
            if len(started) == len(tokens):
                break
            await asyncio.sleep(0.01)
        if token == "tab-1":
            raise ConnectionResetError("the tab's socket went away")
        if len(started) == len(tokens):
            delivered.add(token)

    app = SimpleNamespace(event_namespace=SimpleNamespace(_token_manager=manager, emit_update=emit_update))
    monkeypatch.setattr(app_live, "_subscriptions", {})
    for i, token in enumerate(tokens):
        app_live.subscribe(token, DashboardState, i + 1, {"a1"})
    asyncio.run(app_live.Dispatcher(app).deliver(_wave(({"a1"}, live.origin_of("some-tab")))))
    assert delivered == set(tokens) - {"tab-1"}
