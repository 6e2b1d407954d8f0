"""Companies, products and the marketplace in the browser."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from playwright.sync_api import expect
from sqlalchemy import select
from sqlmodel import Session

from economy_app.models import Company, LedgerEntry, Product
from economy_app.money import format_cents
from tests.e2e.helpers import Truth, sign_up, unique
from tests.support.db import check_invariants

pytestmark = pytest.mark.e2e


@pytest.fixture
def truth(app_server):
    t = Truth(app_server.database_url)
    yield t
    t.engine.dispose()


def found_company(page, base, name, ticker, description="", tags=""):
    page.goto(base + "/companies")
    page.wait_for_selector("#company-name")
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Ticker", exact=True).fill(ticker)
    page.get_by_label("Description", exact=True).fill(description)
    page.get_by_label("Tags", exact=True).fill(tags)
    page.get_by_role("button", name="Found company", exact=True).click()


def add_product(page, name, price):
    page.get_by_label("Product name", exact=True).fill(name)
    page.get_by_label("Price", exact=True).fill(price)
    page.get_by_role("button", name="Add product", exact=True).click()


def ticker_for(prefix: str) -> str:
    return (prefix + unique("x").split("_")[1].upper().translate(str.maketrans("0123456789", "GHIJKLMNOP")))[:5]


def test_found_a_company_sell_and_see_the_batch(app_server, page, truth):
    base = app_server.url
    me = unique("maker")
    sign_up(page, base, me)
    expect(page.locator("#countdown")).to_contain_text("in ")  # the dashboard's countdown to the next run
    ticker = ticker_for("M")
    found_company(page, base, "Maker Works", ticker.lower(), "Tools", "tools, metal")
    page.wait_for_url("**/company?id=*")
    expect(page.locator("#company-balance")).to_have_text("$0.00")
    add_product(page, "Hammer", "19.99")
    expect(page.locator(".product-row")).to_have_count(1)
    add_product(page, "Anvil", "250")
    expect(page.locator(".product-row")).to_have_count(2)
    expect(page.locator("#company-countdown")).to_contain_text("in ")

    run = subprocess.run(
        [sys.executable, "-m", "economy_app", "marketplace", "run", "--seed", "7"],
        env=dict(os.environ, DATABASE_URL=app_server.database_url),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    with Session(truth.engine) as s:
        company = s.execute(select(Company).where(Company.ticker == ticker)).scalar_one()
        mine = s.execute(select(Product).where(Product.company_id == company.id)).scalars().all()
        entries = (
            s.execute(
                select(LedgerEntry).where(
                    (LedgerEntry.to_account_id == company.account_id)
                    | (LedgerEntry.from_account_id == company.account_id),
                    LedgerEntry.type == "marketplace_batch",
                )
            )
            .scalars()
            .all()
        )
    revenue = sum(p.revenue_cents for p in mine)
    costs = sum(p.costs_cents for p in mine)
    units = sum(p.units_sold for p in mine)
    assert revenue > 0 and len(entries) == 2  # this run also sold other tests' products: ours got two entries

    page.reload()
    expect(page.locator("#company-revenue")).to_have_text(format_cents(revenue))
    expect(page.locator("#company-costs")).to_have_text(format_cents(costs))
    expect(page.locator("#company-balance")).to_have_text(format_cents(revenue - costs))
    expect(page.locator("#company-chart .recharts-bar-rectangle").first).to_be_visible()  # bars drawn

    page.get_by_role("link", name="Ledger", exact=True).click()
    page.wait_for_url("**/history?account=*")
    rows = page.locator(".history-row")
    expect(rows).to_have_count(2)
    expect(rows.filter(has_text="Marketplace batch")).to_have_count(2)
    expect(rows.filter(has_text=f"{units:,} units")).to_have_count(2)
    expect(rows.filter(has_text=f"+{format_cents(revenue)}")).to_have_count(1)
    expect(rows.filter(has_text=f"-{format_cents(costs)}")).to_have_count(1)

    page.goto(base + "/companies")
    card = page.locator(".company-card", has_text=ticker)
    expect(card).to_contain_text(format_cents(revenue - costs))
    expect(card).to_contain_text("2 products")
    page.goto(base + "/marketplace")
    page.get_by_label("Search products", exact=True).fill(ticker)
    expect(page.locator(".market-product")).to_have_count(2)
    expect(page.locator("#market-countdown")).to_contain_text("in ")
    check_invariants(truth.engine)


def test_bad_company_and_product_input_is_refused(app_server, browser, truth):
    base = app_server.url
    a_ctx, b_ctx = browser.new_context(), browser.new_context()
    a, b = a_ctx.new_page(), b_ctx.new_page()
    sign_up(a, base, unique("first"))
    sign_up(b, base, unique("second"))
    ticker = ticker_for("T")
    found_company(a, base, "First Co", ticker)
    a.wait_for_url("**/company?id=*")
    victim_id = int(a.url.split("id=")[1])

    def companies_count():
        with Session(truth.engine) as s:
            return len(s.execute(select(Company.id)).all())

    count = companies_count()
    found_company(b, base, "Copycat", ticker.lower())  # the same ticker in another case
    expect(b.locator("#company-error")).to_have_text(f"The ticker {ticker} is taken.")
    b.goto(base + "/companies")  # past the browser's own maxlength, as a crafted request would be
    b.wait_for_selector("#company-ticker")
    b.evaluate("() => document.querySelector('#company-ticker').removeAttribute('maxlength')")
    b.get_by_label("Name", exact=True).fill("Longcat")
    b.get_by_label("Ticker", exact=True).fill("ABCDEF")
    b.get_by_role("button", name="Found company", exact=True).click()
    expect(b.locator("#company-error")).to_have_text("Ticker must be 1 to 5 letters A-Z.")
    assert companies_count() == count

    own = ticker_for("O")
    found_company(b, base, "Own Co", own)
    b.wait_for_url("**/company?id=*")
    products_before = truth.ledger_count(), _products(truth)
    add_product(b, "Free lunch", "0")
    expect(b.get_by_text("Price: The amount must be more than $0.00.")).to_be_visible()
    add_product(b, "Gold", "1000000.01")
    expect(b.get_by_text("Price can be at most $1,000,000.00.")).to_be_visible()
    assert (truth.ledger_count(), _products(truth)) == products_before

    # A crafted event: B's own settings form, pointed at A's company.
    b.evaluate(f"() => document.querySelector('#settings-company-id').value = '{victim_id}'")
    b.get_by_label("Name", exact=True).fill("Hijacked")
    b.get_by_role("button", name="Save details", exact=True).click()
    expect(b.get_by_text("Only the company's owner can do that.")).to_be_visible()
    with Session(truth.engine) as s:
        assert s.get(Company, victim_id).name == "First Co"
    b.goto(f"{base}/company?id={victim_id}")  # and A's dashboard is not B's to see: B gets its public profile
    b.wait_for_url(f"**/company/profile?id={victim_id}")
    expect(b.locator("#profile-cash")).to_be_visible()
    expect(b.locator("#settings-name")).to_have_count(0)  # nothing of the owner's: no settings, no ledger
    expect(b.locator("#company-ledger")).to_have_count(0)
    expect(b.locator("#profile-dashboard")).to_have_count(0)
    b.goto(f"{base}/company?id=99999999")  # and a company that does not exist is not found
    expect(b.locator("#company-page-error")).to_have_text("Company not found.")
    a_ctx.close()
    b_ctx.close()


def _products(truth) -> int:
    with Session(truth.engine) as s:
        return len(s.execute(select(Product.id)).all())
