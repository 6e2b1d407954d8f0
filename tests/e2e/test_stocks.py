"""The stock market in the browser: going public through sales, buying, the portfolio, selling."""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys

import pytest
from playwright.sync_api import expect
from sqlalchemy import select
from sqlmodel import Session

from economy_app.models import Company, Holding
from economy_app.money import format_cents, parse_dollars
from economy_app.services import accounts, marketplace_run
from tests.e2e.conftest import screenshot
from tests.e2e.helpers import Truth, sign_up, unique
from tests.e2e.test_companies import add_product, found_company, ticker_for
from tests.support.db import check_invariants

pytestmark = pytest.mark.e2e


def test_a_company_goes_public_and_is_traded(app_server, browser):
    base = app_server.url
    truth = Truth(app_server.database_url)
    f_ctx, i_ctx = (
        browser.new_context(viewport={"width": 1440, "height": 1000}),
        browser.new_context(viewport={"width": 1440, "height": 1000}),
    )
    founder, investor = f_ctx.new_page(), i_ctx.new_page()
    sign_up(founder, base, unique("founder"))
    ticker = ticker_for("P")
    found_company(founder, base, "Public Works", ticker)
    founder.wait_for_url("**/company?id=*")
    company_id = int(founder.url.split("id=")[1])
    # Priced at the market's typical price, the public's favourite (other tests' products are on sale too).
    with Session(truth.engine) as s:
        typical = marketplace_run.plan(s, rng=random.Random(0)).typical or 100_00
    add_product(founder, "Bridge", f"{typical // 100}.{typical % 100:02d}")
    expect(founder.locator(".product-row")).to_have_count(1)

    # Marketplace runs (with a big public budget) until the company's cash passes $50,000.
    env = dict(
        os.environ,
        DATABASE_URL=app_server.database_url,
        ECONOMY_MARKET_BUDGET_MIN_CENTS="20000000",
        ECONOMY_MARKET_BUDGET_MAX_CENTS="30000000",
    )
    for seed in range(40):
        run = subprocess.run(
            [sys.executable, "-m", "economy_app", "marketplace", "run", "--seed", str(seed)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert run.returncode == 0, run.stderr
        with Session(truth.engine) as s:
            if s.get(Company, company_id).is_public:
                break
    else:
        pytest.fail("the company never went public")
    founder.reload()
    expect(founder.get_by_text("Public", exact=True)).to_be_visible()
    cash_before = truth_cash(truth, company_id)
    expect(founder.locator("#company-balance")).to_have_text(format_cents(cash_before))

    sign_up(investor, base, unique("investor"))
    investor.goto(base + "/stocks")
    investor.locator(".stock-row", has_text=ticker).locator("a").click()
    investor.wait_for_url(f"**/stock?id={company_id}")
    curve = investor.locator("#stock-chart path.recharts-line-curve")  # the chart renders a line
    expect(curve).to_have_count(1)
    expect(curve).to_have_attribute("d", re.compile(r"^M[\d.]+,[\d.]+L"))
    investor.get_by_label("Shares", exact=True).fill("1000")
    preview = investor.locator("#trade-preview")
    expect(preview).to_contain_text(re.compile(r"^1,000 shares cost \$[\d,]+\.\d\d \(\$[\d.]+ a share on average\)"))
    cost = re.match(r"1,000 shares cost (\$[\d,]+\.\d\d)", preview.inner_text()).group(1)
    screenshot(investor, "stock-1440")
    investor.get_by_role("button", name="Buy shares", exact=True).click()
    expect(investor.get_by_text("You hold 1,000.")).to_be_visible()
    expect(investor.get_by_text(f"for {cost}.")).to_be_visible()  # the preview is exactly what the trade charged
    assert truth_cash(truth, company_id) == cash_before + parse_dollars(cost)
    expect(investor.locator(".holder-row", has_text="1,000")).to_have_count(1)

    investor.goto(base + "/portfolio")
    row = investor.locator(".position-row", has_text=ticker)
    expect(row).to_contain_text("1,000")

    investor.goto(f"{base}/stock?id={company_id}")
    investor.get_by_role("radio", name="Sell").click()
    investor.get_by_label("Shares", exact=True).fill("400")
    expect(preview).to_contain_text("400 shares pay you $")
    pay = re.match(r"400 shares pay you (\$[\d,]+\.\d\d)", preview.inner_text()).group(1)
    investor.get_by_role("button", name="Sell shares", exact=True).click()
    expect(investor.get_by_text("You hold 600.")).to_be_visible()
    expect(investor.get_by_text(f"for {pay}.")).to_be_visible()
    expect(investor.locator(".trade-row")).to_have_count(2)
    investor.goto(base + "/portfolio")
    expect(investor.locator(".position-row", has_text=ticker)).to_contain_text("600")

    with Session(truth.engine) as s:
        held = (
            s.execute(select(Holding.shares).where(Holding.company_id == company_id).order_by(Holding.shares))
            .scalars()
            .all()
        )
    assert held == [600, 200_000]  # the investor's, and the founder's stake from the IPO
    cash_after = truth_cash(truth, company_id)
    assert cash_after > cash_before  # bought 1,000 at the higher price, sold 400 back lower
    founder.reload()
    expect(founder.locator("#company-balance")).to_have_text(format_cents(cash_after))
    check_invariants(truth.engine)
    f_ctx.close()
    i_ctx.close()
    truth.engine.dispose()


def truth_cash(truth: Truth, company_id: int) -> int:
    with Session(truth.engine) as s:
        return accounts.get_balance(s, s.get(Company, company_id).account_id)
