"""The home page in Chromium: the economy's health read through the services."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlmodel import Session

from economy_app.db import make_engine
from economy_app.money import format_cents
from economy_app.services import accounts, stats, users
from tests.e2e.conftest import screenshot

pytestmark = pytest.mark.e2e


def _figures(engine) -> tuple[int, int, int, int]:
    with Session(engine) as s:
        h = stats.economy_health(s)
    return h.players, h.accounts, h.ledger_entries, h.money_in_circulation


def test_home_shows_health_and_follows_the_ledger(app_server, page):
    engine = make_engine(app_server.database_url)
    players, accts, entries, circulation = _figures(engine)  # other tests may have played already
    page.goto(app_server.url + "/")
    expect(page.locator("#stat-players")).to_have_text(f"{players:,}")
    expect(page.locator("#stat-balance-sum")).to_have_text("$0.00")

    with Session(engine, expire_on_commit=False) as s:
        a = users.create_user(s, "e2e_alice", "correct horse")
        b = users.create_user(s, "e2e_bob", "correct horse")
        acct_a = accounts.initialize_account(s, a.id)
        acct_b = accounts.initialize_account(s, b.id)
        accounts.transfer(s, actor_id=a.id, from_account_id=acct_a.id, to_account_id=acct_b.id, amount=123_456)
    engine.dispose()

    page.get_by_role("button", name="Refresh").click()
    expect(page.locator("#stat-players")).to_have_text(f"{players + 2:,}")
    # Two personal accounts (and the mint, if these are the first players).
    expect(page.locator("#stat-accounts")).to_have_text(f"{accts + 2 + (accts == 0):,}")
    expect(page.locator("#stat-ledger")).to_have_text(f"{entries + 3:,}")  # two deposits and one transfer
    expect(page.locator("#stat-circulation")).to_have_text(format_cents(circulation + 2_000_000))
    expect(page.locator("#stat-balance-sum")).to_have_text("$0.00")
    expect(page.get_by_text("Balanced: sum of all balances")).to_be_visible()
    screenshot(page, "home-1440")

    page.set_viewport_size({"width": 375, "height": 800})
    page.reload()
    expect(page.locator("#stat-players")).to_have_text(f"{players + 2:,}")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375, "the page scrolls sideways at 375 px"
    screenshot(page, "home-375")
