"""Issue 20, players' part, in Chromium: a first session that feels finished, at 1440 and 375 px."""

from __future__ import annotations

import csv
import io
import random
import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select
from sqlmodel import Session

from economy_app.models import Company, LedgerEntry
from economy_app.money import format_cents
from economy_app.services import accounts, companies, ledger, marketplace_run, products, schedule, stock_trading, users
from economy_app.services._tx import unit
from tests.e2e.conftest import screenshot
from tests.e2e.helpers import PASSWORD, Truth, log_in, sign_up, unique
from tests.e2e.test_companies import add_product, found_company, ticker_for

pytestmark = pytest.mark.e2e
LINE = re.compile(r"^M[\d.]+,[\d.]+L")  # a drawn line (a flat one has no height, so "visible" cannot tell)
AN_HOUR_AGO = datetime.now(UTC).replace(tzinfo=None) - timedelta(hours=1)


@pytest.fixture
def truth(app_server):
    t = Truth(app_server.database_url)
    yield t
    t.engine.dispose()


def _player(truth, name: str) -> tuple[int, int]:
    with Session(truth.engine, expire_on_commit=False) as s:
        user = users.create_user(s, name, PASSWORD)
        return user.id, accounts.initialize_account(s, user.id).id


def _public_company(truth, owner_id: int, name: str) -> companies.CompanyView:
    """A company of ``owner_id`` just gone public (its IPO a moment ago)."""
    with Session(truth.engine, expire_on_commit=False) as s:
        view = companies.create_company(s, owner_id=owner_id, name=name, ticker=ticker_for("Q"))
        with unit(s, write=True):
            ledger.post(
                s,
                from_account_id=accounts.system_account_id(s),
                to_account_id=view.account_id,
                amount=companies.PUBLIC_THRESHOLD_CENTS + 1_000_000,
                type="adjustment",
            )
        assert companies.check_and_update_public_status(s, view.id)
        return view


def _distinct_tick_labels(page, chart: str, axis: str) -> list[str]:
    labels = page.locator(
        f"{chart} .recharts-{axis}-tick-labels .recharts-cartesian-axis-tick-value"
    ).all_text_contents()
    assert len(labels) >= 2, labels
    assert len(set(labels)) == len(labels), labels  # every tick says something different
    return labels


def test_a_new_player_is_welcomed_and_shown_how_to_play(app_server, page, truth):
    base = app_server.url
    taken = unique("taken")
    _player(truth, taken)
    # A failed sign-up first: its toast must not follow the player to the dashboard.
    page.goto(base + "/signup")
    page.get_by_label("Username", exact=True).fill(taken)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Confirm password", exact=True).fill(PASSWORD)
    page.locator("form").get_by_role("button", name="Sign up", exact=True).click()
    expect(page.locator("#form-error")).to_contain_text("taken")
    expect(page.get_by_text("That username is taken.").last).to_be_visible()
    me = unique("newbie")
    page.get_by_label("Username", exact=True).fill(me)
    page.locator("form").get_by_role("button", name="Sign up", exact=True).click()
    page.wait_for_url("**/dashboard")
    expect(page.get_by_text("Welcome! Your account opened with $10,000.00.")).to_be_visible()
    expect(page.get_by_text("That username is taken.")).to_have_count(0)
    expect(page.locator("#greeting")).to_have_text(f"Welcome, {me}.")  # not "Welcome back"

    guide = page.locator("#guide")
    expect(guide).to_contain_text("How to play")
    expect(guide).to_contain_text("0 of 5 done")
    expect(guide.locator(".guide-step")).to_have_count(5)
    expect(guide).to_contain_text("Go public")
    expect(guide).to_contain_text("$50,000")
    screenshot(page, "first-session-guide-1440")

    # Found a company and list a product: two steps ticked off, from the player's data.
    found_company(page, base, "Starter Co", ticker_for("N"))
    page.wait_for_url("**/company?id=*")
    add_product(page, "Kettle", "25")
    expect(page.locator(".product-row")).to_have_count(1)
    page.goto(base + "/dashboard")
    expect(guide).to_contain_text("2 of 5 done")
    expect(guide.locator(".guide-done")).to_have_count(2)

    # Hidden, it stays hidden (stored for the player), and comes back on request.
    page.get_by_role("button", name="Hide how to play", exact=True).click()
    expect(guide).to_have_count(0)
    page.reload()
    expect(page.locator("#net-worth")).to_be_visible()
    expect(guide).to_have_count(0)
    page.get_by_role("button", name="How to play", exact=True).click()
    expect(guide).to_contain_text("2 of 5 done")

    # Logged in again later, the player is welcomed back.
    page.get_by_role("button", name="Log out", exact=True).click()
    page.wait_for_url("**/login")
    with Session(truth.engine) as s:  # the player signed up two minutes ago
        from sqlalchemy import update

        from economy_app.models import User

        with unit(s, write=True):
            s.execute(update(User).where(User.username == me).values(created_at=AN_HOUR_AGO))
    log_in(page, base, me)
    expect(page.locator("#greeting")).to_have_text(f"Welcome back, {me}.")


def test_a_paused_marketplace_says_so_everywhere(app_server, page, truth):
    base = app_server.url
    sign_up(page, base, unique("waiter"))
    expect(page.locator("#countdown")).to_contain_text("in ")
    page.goto(base + "/marketplace")
    expect(page.locator("#market-countdown")).to_contain_text("in ")
    try:
        with Session(truth.engine) as s:
            schedule.set_job_paused(s, schedule.MARKETPLACE, True)
        # The open page hears the pause (job:marketplace) and drops its countdown.
        expect(page.locator("#market-countdown-paused")).to_contain_text("paused by an admin", timeout=5_000)
        expect(page.locator("#market-countdown")).to_be_hidden()
        expect(page.get_by_text("The public shops every")).to_have_count(0)
        page.goto(base + "/dashboard")
        expect(page.locator("#countdown-paused")).to_contain_text("paused")
        expect(page.locator("#countdown")).to_be_hidden()
        found_company(page, base, "Paused Co", ticker_for("Z"))
        page.wait_for_url("**/company?id=*")
        expect(page.locator("#company-countdown-paused")).to_contain_text("paused")
        expect(page.locator("#company-countdown")).to_be_hidden()
    finally:
        with Session(truth.engine) as s:
            schedule.set_job_paused(s, schedule.MARKETPLACE, False)
    expect(page.locator("#company-countdown")).to_contain_text("in ", timeout=5_000)


def test_forms_keep_what_was_typed_and_say_what_is_missing(app_server, page, truth):
    base = app_server.url
    payee = unique("payee")
    _player(truth, payee)
    sign_up(page, base, unique("typist"))
    found_company(page, base, "Typist Co", ticker_for("T"))
    page.wait_for_url("**/company?id=*")

    # A refused add keeps every field.
    add_product(page, "Teapot", "0")
    expect(page.get_by_text("Price: The amount must be more than $0.00.")).to_be_visible()
    expect(page.get_by_label("Product name", exact=True)).to_have_value("Teapot")
    expect(page.get_by_label("Price", exact=True)).to_have_value("0")
    # A price no run can pay is listed, and says so; the form is then empty for the next product.
    page.get_by_label("Price", exact=True).fill("9,000")
    page.get_by_role("button", name="Add product", exact=True).click()
    expect(page.get_by_text("Teapot is on sale.")).to_be_visible()
    expect(page.get_by_text("It will not sell at this price").first).to_be_visible()
    expect(page.locator(".product-row .product-warning")).to_contain_text("It will not sell at this price")
    expect(page.get_by_label("Product name", exact=True)).to_have_value("")
    # A refused edit stays open with what was typed.
    page.locator(".product-row").get_by_role("button", name="Edit", exact=True).click()
    page.get_by_role("dialog").get_by_label("Price", exact=True).fill("-5")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("Price: The amount must be positive.")).to_be_visible()
    expect(page.get_by_role("dialog")).to_be_visible()
    expect(page.locator("#edit-price")).to_have_value("-5")
    page.get_by_role("dialog").get_by_label("Price", exact=True).fill("20")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(page.locator(".product-row .product-warning")).to_have_count(0)

    # Send money: a username typed in full is the recipient; a disabled button says what is missing.
    page.goto(base + "/send")
    confirm = page.get_by_role("button", name="Confirm and send", exact=True)
    expect(page.locator("#send-missing")).to_have_text("To send, search who receives the money and enter an amount.")
    page.get_by_label("To", exact=True).fill(payee)
    expect(page.locator("#send-exact")).to_contain_text(f"{payee} matches exactly")
    expect(page.locator("#send-missing")).to_have_text("To send, enter an amount.")
    page.get_by_label("Amount", exact=True).fill("12.34")
    expect(page.locator("#send-preview")).to_contain_text(f"to {payee};")
    expect(page.locator("#send-missing")).to_have_count(0)
    confirm.click()
    expect(page.get_by_text(f"Sent $12.34 to {payee}.")).to_be_visible()
    assert truth.balance(payee) == 1_001_234


def test_a_new_stocks_chart_opens_on_its_data_and_redraws_after_a_trade(app_server, browser, truth):
    base = app_server.url
    owner, _ = _player(truth, unique("ipo"))
    me = unique("buyer")
    _player(truth, me)
    view = _public_company(truth, owner, "Fresh Listing")
    ctx = browser.new_context(viewport={"width": 1440, "height": 1000})
    page = ctx.new_page()
    log_in(page, base, me)
    page.goto(f"{base}/stock?id={view.id}")
    chart = "#stock-chart"
    expect(page.locator(f"{chart} .recharts-line-curve")).to_have_attribute("d", LINE)
    # A stock minutes old opens on 1h, the shortest range holding its life.
    expect(page.get_by_role("button", name="1h", exact=True)).to_have_class(re.compile("rt-variant-solid"))
    expect(page.get_by_role("button", name="24h", exact=True)).to_have_class(re.compile("rt-variant-soft"))
    _distinct_tick_labels(page, chart, "yAxis")
    _distinct_tick_labels(page, chart, "xAxis")
    page.get_by_label("Shares", exact=True).fill("5000")
    expect(page.locator("#trade-preview")).to_be_visible()
    page.get_by_role("button", name="Buy shares", exact=True).click()
    expect(page.get_by_text("Bought 5,000")).to_be_visible()
    # The chart redraws at once with the trade's price (no reload), its ticks still apart.
    expect(page.locator(f"{chart} .recharts-line-curve")).to_have_attribute("d", LINE)
    ys = _distinct_tick_labels(page, chart, "yAxis")
    assert len(ys) >= 2
    for key in ("24h", "30d", "all"):
        page.get_by_role("button", name=key, exact=True).click()
        expect(page.locator(f"{chart} .recharts-line-curve")).to_have_attribute("d", LINE)
        _distinct_tick_labels(page, chart, "yAxis")
        _distinct_tick_labels(page, chart, "xAxis")
    screenshot(page, "stock-new-1440")
    ctx.close()


def test_runs_charts_and_a_runs_products(app_server, page, truth):
    base = app_server.url
    me = unique("seller")
    sign_up(page, base, me)
    found_company(page, base, "Runs Co", ticker_for("R"))
    page.wait_for_url("**/company?id=*")
    company_id = int(page.url.split("id=")[1])
    with Session(truth.engine) as s:
        owner = users.get_user_by_username(s, me).id
        for name, cents in (("Lamp", 2_000), ("Vase", 3_000)):
            products.create_product(
                s,
                actor_id=owner,
                company_id=company_id,
                name=name,
                price_cents=cents,
                rng=random.Random(1),
                now=AN_HOUR_AGO,
            )
        result = marketplace_run.run_batch(s, rng=random.Random(5), budget=3_000_000)
        account = s.get(Company, company_id).account_id
        revenue = s.execute(
            select(LedgerEntry).where(LedgerEntry.to_account_id == account, LedgerEntry.type == "marketplace_batch")
        ).scalar_one()
    assert company_id in result.company_ids
    page.reload()
    chart = page.locator("#company-chart")
    expect(chart.locator(".recharts-bar-rectangle").first).to_be_visible()
    # The legend reads like the bars: revenue, then costs.
    expect(chart.locator(".recharts-legend-item-text")).to_have_text(["Revenue", "Costs"])
    expect(chart).to_contain_text("each of the last 36 marketplace runs")
    page.get_by_role("radio", name="Daily", exact=True).click()
    expect(chart).to_contain_text("each of the last 30 days")
    _distinct_tick_labels(page, "#company-chart", "yAxis")

    # The history row of the run opens what it sold of each product.
    page.goto(f"{base}/history?account={account}")
    page.locator(".history-row .run-link").first.click()
    page.wait_for_url("**/run?entry=*")
    with Session(truth.engine) as s:
        lines = marketplace_run.run_sales(s, owner, revenue.id).lines
    assert lines and sum(x.revenue_cents for x in lines) == revenue.amount
    expect(page.locator(".sale-row")).to_have_count(len(lines))
    expect(page.locator(".sale-row").first).to_contain_text(lines[0].name)
    expect(page.get_by_text(format_cents(revenue.amount)).first).to_be_visible()
    screenshot(page, "run-1440")
    # Nobody else's: another player gets "Entry not found." and nothing of it.
    page.get_by_role("button", name="Log out", exact=True).click()
    sign_up(page, base, unique("snoop"))
    page.goto(f"{base}/run?entry={revenue.id}")
    expect(page.locator("#run-error")).to_have_text("Entry not found.")
    assert "Lamp" not in page.inner_text("body")

    # The accounts chart is spaced by time, its ticks apart. (While snoop is logged in, /login sends the page on
    # to the dashboard as the form is filled: log out first.)
    page.get_by_role("button", name="Log out", exact=True).click()
    page.wait_for_url("**/login")
    log_in(page, base, me)
    page.goto(base + "/accounts")
    expect(page.locator("#balance-chart .recharts-area-area")).to_be_visible()
    _distinct_tick_labels(page, "#balance-chart", "yAxis")
    _distinct_tick_labels(page, "#balance-chart", "xAxis")


def test_small_things(app_server, browser, truth):
    base = app_server.url
    ctx = browser.new_context(viewport={"width": 375, "height": 800})
    page = ctx.new_page()
    sign_up(page, base, unique("small"))
    # Named buttons at 375 px: the menu and the theme toggle.
    expect(page.get_by_role("button", name="Menu", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Switch between light and dark mode", exact=True)).to_be_visible()
    # An end before the start says so and shows no rows from before.
    page.goto(base + "/history")
    expect(page.locator(".history-card")).to_have_count(1)
    page.get_by_label("From date", exact=True).fill("2026-12-10")
    page.get_by_label("To date", exact=True).fill("2026-12-01")
    page.get_by_role("button", name="Apply", exact=True).click()
    expect(page.locator("#history-error")).to_have_text("The end date is before the start date.")
    expect(page.locator(".history-card")).to_have_count(0)
    # The CSV in words: the account's name, the type's name, and the balance after each entry.
    page.get_by_role("button", name="Clear", exact=True).click()
    expect(page.locator(".history-card")).to_have_count(1)
    with page.expect_download() as download:
        page.get_by_role("button", name="Export CSV", exact=True).click()
    rows = list(csv.DictReader(io.StringIO(open(download.value.path()).read())))
    assert [(r["Type"], r["Counterpart"], r["Balance after"]) for r in rows] == [
        ("Welcome deposit", "Economy (system)", "10000.00")
    ]
    ctx.close()


def test_narrow_screens_show_what_matters_first(app_server, browser, truth):
    """At 375 px the key figures of every table are on screen, and nothing scrolls sideways."""
    base = app_server.url
    owner, _ = _player(truth, unique("listed"))
    me = unique("narrow")
    _, my_account = _player(truth, me)
    view = _public_company(truth, owner, "Narrow Listing")
    with Session(truth.engine) as s:
        trade = stock_trading.buy(
            s, actor_id=users.get_user_by_username(s, me).id, account_id=my_account, company_id=view.id, shares=1_000
        )
    ctx = browser.new_context(viewport={"width": 375, "height": 800})
    page = ctx.new_page()
    log_in(page, base, me)

    def no_sideways(name):
        page.wait_for_timeout(300)
        assert page.evaluate("document.documentElement.scrollWidth") <= 375, f"{name} scrolls sideways"
        screenshot(page, f"{name}-narrow-375")

    page.goto(base + "/portfolio")
    card = page.locator(".position-card", has_text=view.ticker)
    expect(card).to_be_visible()
    expect(card).to_contain_text("1,000 shares at")
    expect(card).to_contain_text("$")  # value and gain/loss in view
    expect(page.locator(".position-row").first).to_be_hidden()
    no_sideways("portfolio")

    page.goto(base + "/stocks")
    card = page.locator(".stock-card", has_text=view.ticker)
    expect(card).to_contain_text("Market cap")
    expect(card.locator(".recharts-surface")).to_be_visible()
    expect(page.get_by_text("public compan", exact=False).first).to_be_visible()
    no_sideways("stocks")

    page.goto(f"{base}/stock?id={view.id}")
    expect(page.locator(".trade-card").first).to_contain_text(format_cents(trade.total_cents))
    no_sideways("stock")

    page.goto(base + "/leaderboard")
    expect(page.locator(".player-card").first).to_contain_text("Cash ")
    no_sideways("leaderboard")

    found_company(page, base, "Narrow Goods", ticker_for("W"))
    page.wait_for_url("**/company?id=*")
    add_product(page, "Brush", "9.99")
    card = page.locator(".product-card", has_text="Brush")
    expect(card).to_be_visible()
    edit = card.get_by_role("button", name="Withdraw", exact=True)
    expect(edit).to_be_in_viewport()
    box = edit.bounding_box()
    assert box is not None and box["x"] + box["width"] <= 375
    no_sideways("company")

    page.goto(base + "/marketplace")
    search = page.get_by_label("Search products", exact=True)
    expect(search).to_be_visible()
    # The whole placeholder fits in its box.
    assert page.evaluate(
        "() => { const i = document.querySelector('#market-search'); return i.scrollWidth <= i.clientWidth; }"
    )
    no_sideways("marketplace")
    ctx.close()
