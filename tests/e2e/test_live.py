"""Live updates in Chromium: an open tab sees money move without a reload or a click."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from playwright.sync_api import expect
from sqlalchemy import select
from sqlmodel import Session

from economy_app.models import Company, Product
from economy_app.money import format_cents, format_price
from economy_app.services import accounts, companies, ledger, stock_trading, users
from economy_app.services._tx import unit
from tests.e2e.conftest import screenshot
from tests.e2e.helpers import Truth, choose_recipient, sign_up, unique
from tests.e2e.test_companies import add_product, found_company, ticker_for

pytestmark = pytest.mark.e2e


@pytest.fixture
def truth(app_server):
    t = Truth(app_server.database_url)
    yield t
    t.engine.dispose()


def test_money_received_shows_on_the_open_dashboard_with_a_toast(app_server, browser, truth):
    base = app_server.url
    a_name, b_name = unique("alice"), unique("bob")
    a_ctx, b_ctx = browser.new_context(viewport={"width": 1440, "height": 900}), browser.new_context()
    alice, bob = a_ctx.new_page(), b_ctx.new_page()
    sign_up(alice, base, a_name)
    sign_up(bob, base, b_name)
    expect(alice.locator("#net-worth")).to_have_text("$10,000.00")

    bob.goto(base + "/send")
    choose_recipient(bob, a_name)
    bob.get_by_label("Amount", exact=True).fill("1.00")
    bob.get_by_role("button", name="Confirm and send", exact=True).click()
    expect(bob.get_by_text(f"Sent $1.00 to {a_name}.")).to_be_visible()

    # Alice did nothing: her open dashboard changes within a second or so, and says why.
    expect(alice.locator("#net-worth")).to_have_text("$10,001.00", timeout=5_000)
    expect(alice.locator("#personal-balance")).to_have_text("$10,001.00")
    expect(alice.locator(".history-row").first).to_contain_text("+$1.00")
    expect(alice.get_by_text(f"You received $1.00 from {b_name}")).to_be_visible()
    screenshot(alice, "live-dashboard-received")
    a_ctx.close()
    b_ctx.close()


def test_company_dashboard_updates_after_a_marketplace_run_from_the_cli(app_server, page, truth):
    base = app_server.url
    sign_up(page, base, unique("maker"))
    ticker = ticker_for("L")
    found_company(page, base, "Live Works", ticker)
    page.wait_for_url("**/company?id=*")
    add_product(page, "Lamp", "12.50")
    expect(page.locator(".product-row")).to_have_count(1)
    expect(page.locator("#company-revenue")).to_have_text("$0.00")

    run = subprocess.run(
        [sys.executable, "-m", "economy_app", "marketplace", "run", "--seed", "11"],
        env=dict(os.environ, DATABASE_URL=app_server.database_url),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    with Session(truth.engine) as s:
        company = s.execute(select(Company).where(Company.ticker == ticker)).scalar_one()
        revenue = sum(
            p.revenue_cents for p in s.execute(select(Product).where(Product.company_id == company.id)).scalars()
        )
        cash = accounts.get_balance(s, company.account_id)
    assert revenue > 0
    # No reload, no click: the open page shows the run's figures.
    expect(page.locator("#company-revenue")).to_have_text(format_cents(revenue), timeout=5_000)
    expect(page.locator("#company-balance")).to_have_text(format_cents(cash))
    screenshot(page, "live-company-after-run")


def test_stock_page_updates_after_another_players_trade(app_server, browser, truth):
    base = app_server.url
    viewer_ctx = browser.new_context(viewport={"width": 1440, "height": 1000})
    viewer = viewer_ctx.new_page()
    sign_up(viewer, base, unique("viewer"))
    with Session(truth.engine, expire_on_commit=False) as s:
        owner = users.create_user(s, unique("owner"), "correct horse battery").id
        trader = users.create_user(s, unique("trader"), "correct horse battery").id
        trader_account = accounts.initialize_account(s, trader).id
        view = companies.create_company(s, owner_id=owner, name="Live Stock Co", ticker=ticker_for("S"))
        mint = accounts.system_account_id(s)
        with unit(s, write=True):
            ledger.post(s, from_account_id=mint, to_account_id=view.account_id, amount=6_000_000, type="adjustment")
        assert companies.check_and_update_public_status(s, view.id)

    viewer.goto(f"{base}/stock?id={view.id}")
    expect(viewer.locator("#stock-price")).to_be_visible()
    price_before = viewer.locator("#stock-price").inner_text()
    expect(viewer.locator(".trade-row")).to_have_count(0)

    with Session(truth.engine) as s:
        result = stock_trading.buy(s, actor_id=trader, account_id=trader_account, company_id=view.id, shares=10_000)
    expect(viewer.locator(".trade-row")).to_have_count(1, timeout=5_000)
    expect(viewer.locator("#stock-price")).to_have_text(format_price(result.new_price_micros))
    assert format_price(result.new_price_micros) != price_before
    viewer_ctx.close()


def test_logout_in_one_tab_ends_the_others_at_once(app_server, browser):
    base = app_server.url
    context = browser.new_context()
    first = context.new_page()
    sign_up(first, base, unique("tabs"))
    second = context.new_page()
    second.goto(base + "/accounts")
    expect(second.locator(".account-balance")).to_have_text("$10,000.00")
    first.goto(base + "/dashboard")
    expect(first.locator("#net-worth")).to_have_text("$10,000.00")

    second.get_by_role("button", name="Log out").click()
    second.wait_for_url("**/login")
    # The first tab did nothing: it leaves at once, and says why.
    first.wait_for_url("**/login", timeout=5_000)
    expect(first.get_by_text("You were logged out.")).to_be_visible()
    context.close()
