"""Marketplace settings in the browser: an admin changes them on the admin page (audited, stored, obeyed);
a player sees the hold on new listings and the listing limit when a listing is refused."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from reflex_base.utils import format as rx_format
from sqlalchemy import func, select
from sqlmodel import Session

from economy_app.models import AdminAudit, Company, Product
from economy_app.pages.admin_marketplace import MarketSettingsState
from economy_app.services import marketplace_settings
from tests.e2e.conftest import screenshot
from tests.e2e.helpers import Truth, crafted_events, log_in, sign_up, unique
from tests.e2e.test_admin import make_admin
from tests.e2e.test_companies import add_product, found_company, ticker_for

pytestmark = pytest.mark.e2e

LIMIT_MESSAGE = (
    "This company already has 2 products on sale, the most a company may list (limit 2). Withdraw one to list another."
)


@pytest.fixture
def truth(app_server):
    t = Truth(app_server.database_url)
    yield t
    with Session(t.engine) as s:  # the tests after this one list products and sell them at once
        marketplace_settings.save(
            s, {"company_cap_percent": 20, "listing_limit": 30, "hold_seconds": 0}, by="e2e tidy-up"
        )
    t.engine.dispose()


def test_admin_sets_the_marketplace_and_players_see_it(app_server, browser, truth):
    base = app_server.url
    operator = make_admin(truth)
    a_ctx = browser.new_context(viewport={"width": 1440, "height": 1000})
    a = a_ctx.new_page()
    log_in(a, base, operator)
    a.goto(base + "/admin")
    expect(a.get_by_role("heading", name="Marketplace settings")).to_be_visible()
    expect(a.get_by_label("Company cap (%)", exact=True)).to_have_value("20")
    expect(a.get_by_label("Listing limit", exact=True)).to_have_value("30")
    a.get_by_label("Company cap (%)", exact=True).fill("25")
    a.get_by_label("Listing limit", exact=True).fill("2")
    a.get_by_label("Hold (seconds)", exact=True).fill("600")
    a.get_by_role("button", name="Save marketplace settings", exact=True).click()
    expect(a.get_by_text("Marketplace settings saved")).to_be_visible()
    expect(a.locator("#market-settings-source")).to_contain_text(f"Last changed by {operator}")
    a.locator("#market-settings").screenshot(
        path=str(screenshot(a, "admin-1440").with_name("admin-marketplace-settings-1440.png"))
    )
    with Session(truth.engine) as s:
        st = marketplace_settings.load(s)
        assert (st.company_cap_percent, st.listing_limit, st.hold_seconds) == (25, 2, 600)
        audit = s.execute(select(AdminAudit).order_by(AdminAudit.id.desc())).scalars().first()
    assert (audit.admin_name, audit.action, audit.ok) == (operator, "marketplace settings", True)
    assert audit.result == "company cap 20% -> 25%; listing limit 30 -> 2; hold 0 s -> 600 s"
    a_ctx.close()

    p_ctx = browser.new_context(viewport={"width": 1440, "height": 1000})
    p = p_ctx.new_page()
    sign_up(p, base, unique("lister"))
    ticker = ticker_for("L")
    found_company(p, base, "Lister Goods", ticker)
    p.wait_for_url("**/company?id=*")
    add_product(p, "Kettle", "24.50")
    expect(p.locator(".product-row")).to_have_count(1)
    add_product(p, "Teapot", "31")
    expect(p.locator(".product-row")).to_have_count(2)
    # Why they do not sell yet: the hold, on each new listing.
    expect(p.locator(".product-row .product-waiting")).to_have_count(2)
    expect(p.locator(".product-row .product-waiting").first).to_contain_text(
        "New listing: the public starts buying it at"
    )
    expect(p.locator("#company-market-note")).to_contain_text("2 of 2 products on sale")
    expect(p.locator("#company-market-note")).to_contain_text("a new listing waits 10 minutes")
    add_product(p, "Samovar", "99")
    expect(p.get_by_text(LIMIT_MESSAGE)).to_be_visible()
    expect(p.locator(".product-row")).to_have_count(2)
    screenshot(p, "company-hold-and-limit-1440")
    with Session(truth.engine) as s:
        company = s.execute(select(Company.id).where(Company.ticker == ticker)).scalar_one()
        assert (
            s.execute(select(func.count()).select_from(Product).where(Product.company_id == company)).scalar_one() == 2
        )
    p.goto(base + "/marketplace")
    p.get_by_label("Search products", exact=True).fill(ticker)
    expect(p.locator(".market-product")).to_have_count(2)
    expect(p.locator(".market-product .market-waiting")).to_have_count(2)
    screenshot(p, "marketplace-hold-1440")
    p_ctx.close()


def test_a_player_cannot_change_marketplace_settings(app_server, page, truth):
    sign_up(page, app_server.url, unique("meddler"))
    with Session(truth.engine) as s:
        before = marketplace_settings.load(s)
        audits = s.execute(select(func.count()).select_from(AdminAudit)).scalar_one()
    form = {"budget_min": "1", "budget_max": "100000000", "interval": "1", "cap": "100", "limit": "1000", "hold": "0"}
    replies = crafted_events(
        app_server.url, page, [(rx_format.format_event_handler(MarketSettingsState.save), {"form": form})]
    )
    assert any("Only admins can do that." in r for r in replies), replies[:3]
    with Session(truth.engine) as s:
        assert marketplace_settings.load(s) == before
        assert s.execute(select(func.count()).select_from(AdminAudit)).scalar_one() == audits
