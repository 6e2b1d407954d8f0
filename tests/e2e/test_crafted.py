"""Crafted websocket events (issue 12): every handler of every page, sent by hand through Reflex's real websocket
with payloads no browser sends (wrong types, huge and negative numbers, empty and 10,000-character strings) and
URLs no link makes. Each answers with a message or nothing, never a server error, and nothing in the database
changes."""

from __future__ import annotations

import inspect
import urllib.parse

import pytest
from reflex_base.utils import format as rx_format
from sqlalchemy import select
from sqlmodel import Session

from economy_app.models import RateLimit
from economy_app.pages.accounts import AccountsState
from economy_app.pages.admin import AdminState
from economy_app.pages.companies import CompaniesState, DirectoryState
from economy_app.pages.company import CompanyState
from economy_app.pages.company_profile import CompanyProfileState
from economy_app.pages.dashboard import DashboardState
from economy_app.pages.history import HistoryState
from economy_app.pages.home import HomeState
from economy_app.pages.leaderboard import LeaderboardState
from economy_app.pages.login import LoginState
from economy_app.pages.marketplace import MarketplaceState
from economy_app.pages.portfolio import PortfolioState
from economy_app.pages.run import RunState
from economy_app.pages.send import SendState
from economy_app.pages.stocks import StocksState, StockState
from economy_app.services import users
from economy_app.state.schedule import ScheduleState
from tests.e2e.helpers import PASSWORD, Truth, crafted_events, log_in, sign_up, unique
from tests.support.db import TABLES, fingerprint

pytestmark = pytest.mark.e2e

PAGES = {
    LoginState: "/login",
    DashboardState: "/dashboard",
    AccountsState: "/accounts",
    SendState: "/send",
    HistoryState: "/history",
    CompaniesState: "/companies",
    DirectoryState: "/directory",
    CompanyState: "/company",
    MarketplaceState: "/marketplace",
    StocksState: "/stocks",
    StockState: "/stock",
    PortfolioState: "/portfolio",
    RunState: "/run",
    LeaderboardState: "/leaderboard",
    AdminState: "/admin",
    HomeState: "/",
    ScheduleState: "/dashboard",
    CompanyProfileState: "/company/profile",
}
# logout ends the session, and hide_guide/show_guide store the player's own choice (that is their job; they take
# no argument); setvar is Reflex's own.
SKIPPED = {"logout", "setvar", "hide_guide", "show_guide"}
HUGE = 10**40
BAD = [
    None,
    True,
    [],
    {},
    [1, 2],
    1.5,
    1e308,
    HUGE,
    -HUGE,
    -1,
    0,
    "",
    " ",
    "x" * 10_000,
    "-1",
    "0",
    str(HUGE),
    "1e999",
    "²",
    "١٢٣",
    "１２",
    "<script>alert(1)</script>",
    "=cmd|' /C calc'!A0",
]
FORM_FIELDS = (
    "username",
    "password",
    "confirm",
    "display_name",
    "name",
    "ticker",
    "description",
    "tags",
    "price",
    "company_id",
    "product_id",
)
URL_PARAMS = [
    (CompanyState, "/company", "id"),
    (CompanyProfileState, "/company/profile", "id"),
    (StockState, "/stock", "id"),
    (MarketplaceState, "/marketplace", "company"),
    (HistoryState, "/history", "account"),
    (RunState, "/run", "entry"),
]
URL_VALUES = ["99999999999999999999", "²", "١٢", "-1", "0", "1e3", "", "x" * 10_000, "%00", "1;DROP TABLE users"]
ERROR_MARKS = ("An error occurred", "Contact the website administrator")
KEPT_OUT_OF_THE_HASH = frozenset({RateLimit.__tablename__})  # a failed login is counted by design (checked below)


@pytest.fixture
def truth(app_server):
    t = Truth(app_server.database_url)
    yield t
    t.engine.dispose()


def _hash(engine) -> dict[str, str]:
    """Every table's hash (all but the login counters), so a change names its table."""
    return {t: fingerprint(engine, exclude=frozenset(TABLES) - {t}) for t in TABLES if t not in KEPT_OUT_OF_THE_HASH}


def _changed(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return sorted(t for t in before if before[t] != after[t])


def _payloads(handler) -> list[dict]:
    params = [p for p in inspect.signature(handler.fn).parameters.values() if p.name != "self"]
    if not params:
        return [{}]
    out = []
    for value in BAD:
        out.append({p.name: value for p in params})
        if any(p.name == "form" for p in params):
            out.append({p.name: ({f: value for f in FORM_FIELDS} if p.name == "form" else value) for p in params})
    return out


def _events(states) -> list[tuple]:
    events = []
    for state in states:
        for name, handler in sorted(state.event_handlers.items()):
            if name in SKIPPED:
                continue
            for payload in _payloads(handler):
                events.append((rx_format.format_event_handler(handler), payload, PAGES[state]))
    return events


def _log_since(app_server, offset: int) -> str:
    return app_server.output(tail=None)[offset:]


def _assert_no_server_error(replies: list[str], log: str) -> None:
    errors = [r for r in replies if any(mark in r for mark in ERROR_MARKS)]
    assert not errors, errors[:3]
    assert "Traceback" not in log and "Backend Exception" not in log, log[-4000:]


def _login_counters(truth) -> dict[str, int]:
    with Session(truth.engine) as s:
        return dict(s.execute(select(RateLimit.key, RateLimit.count)).all())


def test_every_handler_survives_crafted_payloads(app_server, page, truth):
    base = app_server.url
    sign_up(page, base, unique("crafty"))
    states = [s for s in PAGES if s is not AdminState]
    events = _events(states)
    for state, route, param in URL_PARAMS:
        for value in URL_VALUES:
            query = urllib.parse.urlencode({param: value})
            events.append((rx_format.format_event_handler(state.event_handlers["load"]), {}, f"{route}?{query}"))
    assert len(events) > 500
    counters, before = _login_counters(truth), _hash(truth.engine)
    offset = len(app_server.output(tail=None))

    replies = crafted_events(base, page, events, wait=300, settle=6, path="/dashboard")

    _assert_no_server_error(replies, _log_since(app_server, offset))
    assert _changed(before, _hash(truth.engine)) == []
    changed = {k for k, v in _login_counters(truth).items() if counters.get(k) != v}
    assert all(k.startswith("login:") for k in changed), changed  # only failed logins were counted
    text = "\n".join(replies)
    for message in (
        "Company not found.",
        "Account not found.",
        "Enter a whole number of shares.",
        "Invalid username or password.",
        "Fill in the form",
    ):
        assert message in text, message  # the handlers ran and answered


def test_admin_handlers_survive_crafted_payloads_from_an_admin(app_server, page, truth):
    name = unique("op")
    with Session(truth.engine) as s:
        users.create_user(s, name, PASSWORD, role="admin")
    log_in(page, app_server.url, name)
    events = _events([AdminState])
    before = _hash(truth.engine)
    offset = len(app_server.output(tail=None))

    replies = crafted_events(app_server.url, page, events, wait=300, settle=6, path="/admin")

    _assert_no_server_error(replies, _log_since(app_server, offset))
    assert _changed(before, _hash(truth.engine)) == []
    text = "\n".join(replies)
    assert "No such job." in text and "Account not found." in text


def test_sign_ups_are_counted_per_websocket_address(app_server, page, truth):
    """The sign-up limit reads the websocket's remote address (here 127.0.0.1) on the server, never the page."""
    before = _login_counters(truth).get("signup:127.0.0.1", 0)
    sign_up(page, app_server.url, unique("counted"))
    assert _login_counters(truth).get("signup:127.0.0.1", 0) == before + 1
