"""Issue 16 in the browser: a dividend that a second player sees arrive live, a gift of shares seen on both sides,
and a company sold from one player to another after a counter-offer."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select
from sqlmodel import Session

from economy_app.models import Account, Company, Dividend
from economy_app.services import accounts, ledger
from economy_app.services._tx import unit
from tests.e2e.conftest import screenshot
from tests.e2e.helpers import Truth, sign_up, unique
from tests.e2e.test_companies import found_company, ticker_for
from tests.support.db import check_invariants

pytestmark = pytest.mark.e2e


def company(truth: Truth, company_id: int) -> Company:
    with Session(truth.engine) as s:
        return s.execute(select(Company).where(Company.id == company_id)).scalar_one()


def fund(truth: Truth, account_id: int, cents: int) -> None:
    with Session(truth.engine) as s:
        with unit(s, write=True):
            ledger.post(
                s,
                from_account_id=accounts.system_account_id(s),
                to_account_id=account_id,
                amount=cents,
                type="adjustment",
            )


def contexts(browser, n: int):
    made = [browser.new_context(viewport={"width": 1440, "height": 1000}) for _ in range(n)]
    pages = [c.new_page() for c in made]
    for p in pages:
        p.set_default_timeout(20_000)
    return made, pages


def public_company(page, base: str, truth: Truth, owner: str) -> tuple[int, str, str]:
    name, ticker = f"Drones {owner[-6:]}", ticker_for("D")
    found_company(page, base, name, ticker, "Delivery drones")
    page.wait_for_url("**/company?id=*")
    company_id = int(page.url.split("id=")[1])
    fund(truth, company(truth, company_id).account_id, 10_217_300)
    expect(page.locator("#ipo-progress")).to_have_text("$102,173.00 of $50,000.00 (100.0%)")
    page.get_by_role("button", name="Check public status").click()
    expect(page.locator("#ipo-card")).to_be_visible()
    return company_id, name, ticker


def buy(page, base: str, company_id: int, shares: str, holding: str) -> None:
    page.goto(f"{base}/stock?id={company_id}")
    page.get_by_label("Shares", exact=True).fill(shares)
    expect(page.locator("#trade-preview")).to_contain_text(f"{shares} shares cost $")
    page.get_by_role("button", name="Buy shares", exact=True).click()
    expect(page.get_by_text(f"You hold {holding}.")).to_be_visible()


def test_a_dividend_arrives_live_and_a_gift_of_shares(app_server, browser):
    base = app_server.url
    truth = Truth(app_server.database_url)
    ctxs, (dana, carol, erin) = contexts(browser, 3)
    dana_name, carol_name, erin_name = unique("dana"), unique("carol"), unique("erin")
    sign_up(dana, base, dana_name)
    company_id, name, ticker = public_company(dana, base, truth, dana_name)
    sign_up(carol, base, carol_name)
    buy(carol, base, company_id, "5,200", "5,200")

    # Carol watches her portfolio; Dana pays a dividend from her dashboard, with a preview first.
    carol.goto(base + "/portfolio")
    expect(carol.locator("#portfolio-dividends")).to_have_text("$0.00")
    expect(dana.locator("#dividend-note")).to_contain_text("Paid to the 2 holders of the 205,200 shares")
    dana.get_by_label("Dividend total", exact=True).fill("1,000")
    preview = dana.locator("#dividend-preview")
    expect(preview).to_contain_text("on 205,200 shares: 2 holders get $")
    expect(dana.locator(".dividend-payee", has_text=carol_name)).to_contain_text("5,200 shares")
    carol_gets = 100_000 * 5_200 // 205_200
    expect(dana.locator(".dividend-payee", has_text=carol_name)).to_contain_text(
        f"${carol_gets // 100:,}.{carol_gets % 100:02d}"
    )
    screenshot(dana, "company-dividend-preview-1440")
    dana.get_by_role("button", name="Pay dividend", exact=True).click()
    expect(dana.get_by_text(re.compile(r"^Paid a dividend of \$[\d,.]+ to 2 holders\.$"))).to_be_visible()
    expect(dana.locator(".dividend-past")).to_have_count(1)

    # Live: Carol is told and her portfolio counts it, without a reload.
    amount = f"${carol_gets // 100:,}.{carol_gets % 100:02d}"
    expect(carol.get_by_text(f"You received a dividend of {amount} from {name}")).to_be_visible()
    expect(carol.locator("#portfolio-dividends")).to_have_text(amount)
    screenshot(carol, "portfolio-dividend-received-1440")
    carol.goto(f"{base}/history")
    expect(carol.locator("body")).to_contain_text("Dividend")
    carol.goto(f"{base}/stock?id={company_id}")
    expect(carol.locator(".dividend-row")).to_have_count(1)
    with Session(truth.engine) as s:
        assert s.execute(select(Dividend.holders_paid)).scalars().all() == [2]

    # A gift: Carol gives 1,200 shares to Erin; no money moves; both see it.
    sign_up(erin, base, erin_name)
    carol_cash = truth.balance(carol_name)
    carol.goto(f"{base}/stock?id={company_id}")
    expect(carol.locator("#gift-box")).to_be_visible()
    carol.get_by_label("Shares to give", exact=True).fill("1,200")
    carol.get_by_label("Give to", exact=True).fill(erin_name)
    carol.locator(".gift-result", has_text=erin_name).first.click()
    expect(carol.locator("#gift-preview")).to_contain_text("You give 1,200 shares (worth $")
    carol.get_by_role("button", name="Give shares", exact=True).click()
    expect(carol.get_by_text(f"Gave 1,200 {ticker} to {erin_name}. You hold 4,000 there.")).to_be_visible()
    expect(carol.locator(".trade-row", has_text="transfer").first).to_contain_text(f"{carol_name} -> {erin_name}")
    screenshot(carol, "stock-gift-1440")
    assert truth.balance(carol_name) == carol_cash
    erin.goto(base + "/portfolio")
    expect(erin.locator(".position-row", has_text=ticker)).to_contain_text("1,200")
    expect(erin.locator(".gift-row", has_text="Received")).to_contain_text(carol_name)
    carol.goto(base + "/portfolio")
    expect(carol.locator(".gift-row", has_text="Given")).to_contain_text(erin_name)
    # The founder's own shares are not given away.
    dana.goto(f"{base}/stock?id={company_id}")
    dana.get_by_label("Shares to give", exact=True).fill("100")
    dana.get_by_label("Give to", exact=True).fill(erin_name)
    dana.locator(".gift-result", has_text=erin_name).first.click()
    dana.get_by_role("button", name="Give shares", exact=True).click()
    expect(dana.get_by_text(f"Your shares of {name} come last, since you own it")).to_be_visible()
    check_invariants(truth.engine)
    for c in ctxs:
        c.close()
    truth.engine.dispose()


def test_a_company_sold_after_a_counter_offer(app_server, browser):
    base = app_server.url
    truth = Truth(app_server.database_url)
    ctxs, (sam, bob) = contexts(browser, 2)
    sam_name, bob_name = unique("sam"), unique("bob")
    sign_up(sam, base, sam_name)
    name, ticker = f"Shop {sam_name[-6:]}", ticker_for("S")
    found_company(sam, base, name, ticker, "A corner shop")
    sam.wait_for_url("**/company?id=*")
    company_id = int(sam.url.split("id=")[1])
    account_id = company(truth, company_id).account_id
    fund(truth, account_id, 300_000)

    # Sam lists it at $5,000.00 for anyone, for 7 days.
    sam.get_by_label("Asking price", exact=True).fill("5,000")
    sam.get_by_role("button", name="List for sale", exact=True).click()
    expect(sam.get_by_text(f"{name} is for sale.")).to_be_visible()
    expect(sam.locator("#sale-listing")).to_contain_text("For sale at $5,000.00 to anyone, until ")

    # Bob finds it, and offers $3,000.00.
    sign_up(bob, base, bob_name)
    bob.get_by_role("link", name="For sale").first.click()
    bob.wait_for_url("**/companies/for-sale")
    bob.get_by_label("Search companies for sale", exact=True).fill(name)
    row = bob.locator(".sale-row", has_text=name)
    expect(row).to_contain_text("$5,000.00")
    expect(row).to_contain_text("$3,000.00")  # its cash
    row.get_by_role("button", name="Buy or offer").click()
    expect(bob.locator("#deal-terms")).to_contain_text(f"{sam_name} asks $5,000.00. Its cash now: $3,000.00.")
    bob.get_by_label("Or offer", exact=True).fill("3,000")
    bob.get_by_role("button", name="Make offer", exact=True).click()
    expect(bob.get_by_text(f"Offer of $3,000.00 sent to {sam_name}.")).to_be_visible()
    thread = bob.locator(".buyer-thread", has_text=name)
    expect(thread).to_contain_text(f"{bob_name} offered $3,000.00 from {bob_name}: waiting for an answer")

    # Sam sees it live on his dashboard and counters with $4,000.00.
    offer = sam.locator(".sale-thread", has_text=bob_name)
    expect(offer).to_contain_text(f"{bob_name} offered $3,000.00")
    offer.get_by_label("Counter-offer", exact=True).fill("4,000")
    offer.get_by_role("button", name="Counter", exact=True).click()
    expect(sam.get_by_text("Counter-offer sent.")).to_be_visible()
    expect(offer).to_contain_text(f"{sam_name} countered with $4,000.00")
    screenshot(sam, "company-sale-counter-1440")

    # Bob sees the counter live and accepts it.
    expect(thread.get_by_role("button", name="Accept $4,000.00")).to_be_visible()
    screenshot(bob, "for-sale-counter-offer-1440")
    thread.get_by_role("button", name="Accept $4,000.00").click()
    expect(bob.get_by_text(f"You bought {name} for $4,000.00.")).to_be_visible()
    expect(thread).to_contain_text("Sold")

    # Money and ownership moved; Bob runs it, Sam's dashboard sends him to its profile.
    with Session(truth.engine) as s:
        c = s.get(Company, company_id)
        assert c.owner_id == s.get(Account, account_id).owner_id
        assert s.get(Account, account_id).owner_id != s.get(Account, truth.account_of(sam_name)).owner_id
    assert truth.balance(sam_name) == 1_000_000 + 400_000
    assert truth.balance(bob_name) == 1_000_000 - 400_000
    bob.goto(base + "/companies")
    expect(bob.locator("body")).to_contain_text(name)
    bob.goto(f"{base}/company?id={company_id}")
    expect(bob.locator("#company-balance")).to_have_text("$3,000.00")
    sam.wait_for_url(f"**/company/profile?id={company_id}")
    check_invariants(truth.engine)
    for c in ctxs:
        c.close()
    truth.engine.dispose()


def test_companies_for_sale_on_a_narrow_screen(app_server, browser):
    """At 375 px a listing is a card with its price in view, the deal opens, and nothing scrolls sideways; the
    owner's sale card and the stock page's gift box fit too."""
    from economy_app.services import company_sales, users

    base = app_server.url
    truth = Truth(app_server.database_url)
    seller, buyer = unique("seller"), unique("narrow")
    ctx = browser.new_context(viewport={"width": 375, "height": 800})
    page = ctx.new_page()
    page.set_default_timeout(20_000)
    sign_up(page, base, seller)
    name = f"Small {seller[-6:]}"
    found_company(page, base, name, ticker_for("N"))
    page.wait_for_url("**/company?id=*")
    company_id = int(page.url.split("id=")[1])
    with Session(truth.engine) as s:
        company_sales.list_company(
            s, actor_id=users.get_user_by_username(s, seller).id, company_id=company_id, price_cents=250_000
        )
    page.reload()
    expect(page.locator("#sale-listing")).to_contain_text("For sale at $2,500.00 to anyone")
    page.wait_for_timeout(300)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375, "the company page scrolls sideways"
    screenshot(page, "company-sale-card-375")
    ctx.clear_cookies()
    page.evaluate("() => localStorage.clear()")
    sign_up(page, base, buyer)
    page.goto(base + "/companies/for-sale")
    card = page.locator(".sale-card", has_text=name)
    expect(card).to_contain_text("$2,500.00")
    expect(page.locator(".sale-row").first).to_be_hidden()
    page.wait_for_timeout(300)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375, "companies for sale scrolls sideways"
    screenshot(page, "for-sale-375")
    card.get_by_role("button", name="Buy or offer").click()
    expect(page.locator("#deal-terms")).to_contain_text("asks $2,500.00")
    ctx.close()
    truth.engine.dispose()
