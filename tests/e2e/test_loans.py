"""Loans and players buying products, in the browser: a player borrows (the terms shown before confirming), sees
the debt on the dashboard, repays part, is refused buying from another player's company while owing, buys from
their own, and finds it in the collection. The database agrees with every figure shown."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select
from sqlmodel import Session

from economy_app.models import LedgerEntry, Loan
from economy_app.money import format_cents
from economy_app.services import loans, users
from tests.e2e.conftest import screenshot
from tests.e2e.helpers import Truth, sign_up, unique
from tests.e2e.test_companies import add_product, found_company, ticker_for
from tests.support.db import check_invariants

pytestmark = pytest.mark.e2e

START = 1_000_000


def buy(page, base: str, product: str, units: str, *, shot: str | None = None) -> None:
    """Find ``product`` on the marketplace, open its Buy dialog, pay from the personal account."""
    page.goto(base + "/marketplace")
    # The page has loaded (its list, with the tab's last search, is on screen) before typing: typed while the load's
    # answer is on its way, the search box's debounced value can be overwritten by the last search it brings.
    expect(page.locator(".market-product").first).to_be_visible()
    page.get_by_label("Search products", exact=True).fill(product)
    expect(page.get_by_role("button", name=f"Buy {product}", exact=True)).to_be_visible()
    expect(page.locator(".market-product")).to_have_count(1)
    page.get_by_role("button", name=f"Buy {product}", exact=True).click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name=f"Buy {product}")).to_be_visible()
    dialog.get_by_label("Units", exact=True).fill(units)
    expect(dialog.locator("#buy-preview")).to_contain_text(f"{units} x {product} at ")
    if shot:
        screenshot(page, shot)
    dialog.get_by_role("button", name="Confirm purchase", exact=True).click()


def test_borrow_see_the_debt_repay_part_and_buy_into_the_collection(app_server, browser):
    base = app_server.url
    truth = Truth(app_server.database_url)
    seller_ctx = browser.new_context(viewport={"width": 1440, "height": 1000})
    ctx = browser.new_context(viewport={"width": 1440, "height": 1000})
    seller, page = seller_ctx.new_page(), ctx.new_page()
    for p in (seller, page):
        p.set_default_timeout(20_000)
    kite, lamp = unique("Kite"), unique("Lamp")

    # Another player sells kites.
    sign_up(seller, base, unique("seller"))
    found_company(seller, base, "Kite Works", ticker_for("K"))
    seller.wait_for_url("**/company?id=*")
    add_product(seller, kite, "19.99")
    expect(seller.locator(".product-row")).to_have_count(1)

    # The borrower: the terms before confirming, then the loan.
    me = unique("borrower")
    sign_up(page, base, me)
    page.get_by_role("link", name="Loans").first.click()
    page.wait_for_url("**/loans")
    page.get_by_label("Loan amount", exact=True).fill("2,500")
    owed_at_due = loans.owed_after(250_000, 500, 7)
    preview = page.locator("#loan-preview")
    expect(preview).to_contain_text(
        "You receive $2,500.00 in your personal account now, and owe $2,625.00 with the first day's interest."
    )
    expect(preview).to_contain_text(f"you will owe {format_cents(owed_at_due)} on ")
    screenshot(page, "loans-terms-1440")
    page.get_by_label("Loan amount", exact=True).fill("500,000.01")
    expect(page.get_by_text("You can borrow at most $500,000.00.")).to_be_visible()
    expect(page.get_by_role("button", name="Take the loan", exact=True)).to_be_disabled()
    page.get_by_label("Loan amount", exact=True).fill("2,500")
    page.get_by_role("button", name="Take the loan", exact=True).click()
    expect(page.get_by_text("You borrowed $2,500.00.")).to_be_visible()
    expect(page.locator("#loan-debt")).to_have_text("$2,625.00")  # the first day's interest, as it started
    expect(page.locator("#loan-next-interest")).to_contain_text("$131.25 on ")
    assert truth.balance(me) == START + 250_000

    # The dashboard: the debt, the next interest, the due date; net worth less the first day's interest.
    page.get_by_role("link", name="Dashboard").first.click()
    page.wait_for_url("**/dashboard")
    expect(page.locator("#loan-debt")).to_have_text("$2,625.00")
    expect(page.locator("#loan-next-interest")).to_contain_text("$131.25 on ")
    with Session(truth.engine) as s:
        user = users.get_user_by_username(s, me)
        loan = s.execute(select(Loan).where(Loan.user_id == user.id)).scalar_one()
    expect(page.locator("#loan-due")).to_have_text(f"{loan.due_at:%Y-%m-%d %H:%M} UTC")
    expect(page.locator("#net-worth")).to_have_text("$9,875.00")
    expect(page.get_by_text(re.compile(r"- \$2,625\.00 you owe"))).to_be_visible()
    screenshot(page, "dashboard-loan-1440")

    # Repay part: the preview, then what is left.
    page.get_by_role("button", name="Repay", exact=True).click()
    page.wait_for_url("**/loans")
    page.get_by_label("Repay amount", exact=True).fill("1,000")
    expect(
        page.get_by_text("You repay $1,000.00 from your personal account; you will still owe $1,625.00.")
    ).to_be_visible()
    page.get_by_role("button", name="Confirm repayment", exact=True).click()
    expect(page.get_by_text("Repaid $1,000.00. You owe $1,625.00.")).to_be_visible()
    expect(page.locator("#loan-debt")).to_have_text("$1,625.00")
    screenshot(page, "loans-open-1440")
    assert truth.balance(me) == START + 150_000

    # While owing, another player's kite is refused and nothing moves; a lamp of their own company is not.
    before = truth.ledger_count()
    buy(page, base, kite, "2")
    expect(page.get_by_text("Repay your loan before buying from other players' companies.")).to_be_visible()
    assert truth.ledger_count() == before
    page.keyboard.press("Escape")
    found_company(page, base, "Lamp House", ticker_for("L"))
    page.wait_for_url("**/company?id=*")
    add_product(page, lamp, "12.50")
    expect(page.locator(".product-row")).to_have_count(1)
    buy(page, base, lamp, "3", shot="marketplace-buy-1440")
    expect(page.get_by_text(re.compile(rf"Bought 3 x {lamp} for \$37\.50: you now have 3\."))).to_be_visible()
    assert truth.balance(me) == START + 150_000 - 3_750

    # The collection on the portfolio.
    page.get_by_role("link", name="Portfolio").first.click()
    page.wait_for_url("**/portfolio")
    row = page.locator(".collection-row", has_text=lamp)
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Lamp House")
    expect(row).to_contain_text("$37.50")
    expect(row.locator("td").nth(3)).to_have_text("3")
    screenshot(page, "portfolio-collection-1440")

    with Session(truth.engine) as s:
        types = [
            e.type
            for e in s.execute(
                select(LedgerEntry)
                .where(
                    LedgerEntry.type.in_(("loan_disbursement", "loan_repayment", "product_purchase", "product_cost"))
                )
                .where(
                    (LedgerEntry.from_account_id == loan.account_id)
                    | (LedgerEntry.to_account_id == loan.account_id)
                    | (LedgerEntry.from_account_id == truth.account_of(me))
                )
                .order_by(LedgerEntry.id)
            ).scalars()
        ]
    assert types == ["loan_disbursement", "loan_repayment", "product_purchase"]
    check_invariants(truth.engine)

    # Narrow screens: the loans page, the dashboard's card and the collection fit 375 px.
    page.set_viewport_size({"width": 375, "height": 900})
    for path, name, ready in (
        ("/loans", "loans", "#loan-debt"),
        ("/dashboard", "dashboard-loan", "#loan-card"),
        ("/portfolio", "portfolio-collection", ".collection-card"),
    ):
        page.goto(base + path)
        expect(page.locator(ready).first).to_be_visible()
        page.wait_for_timeout(400)
        assert page.evaluate("document.documentElement.scrollWidth") <= 375, f"{name} scrolls sideways"
        screenshot(page, f"{name}-375")
    seller_ctx.close()
    ctx.close()
    truth.engine.dispose()
