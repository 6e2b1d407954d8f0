"""Players in the browser: sign-up, dashboard, accounts, send money, history, and what stays private."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import screenshot
from tests.e2e.helpers import Truth, choose_recipient, log_in, sign_up, unique
from tests.support.db import check_invariants

pytestmark = pytest.mark.e2e

PRIVATE_PAGES = ["/dashboard", "/accounts", "/send", "/history"]


@pytest.fixture
def truth(app_server):
    t = Truth(app_server.database_url)
    yield t
    t.engine.dispose()


def test_two_players_sign_up_and_send_money(app_server, browser, truth):
    base = app_server.url
    a_name, b_name = unique("alice"), unique("bob")
    a_ctx, b_ctx = browser.new_context(viewport={"width": 1440, "height": 900}), browser.new_context()
    a, b = a_ctx.new_page(), b_ctx.new_page()
    sign_up(a, base, a_name)
    sign_up(b, base, b_name)
    for page in (a, b):
        expect(page.locator("#net-worth")).to_have_text("$10,000.00")
        expect(page.locator("#personal-balance")).to_have_text("$10,000.00")
    before_total = truth.balance(a_name) + truth.balance(b_name)

    a.goto(base + "/send")
    choose_recipient(a, b_name)
    a.get_by_label("Amount", exact=True).fill("1,234.56")
    a.get_by_label("Description (optional)", exact=True).fill("Rent for November")
    expect(a.locator("#send-preview")).to_have_text(
        f"You send $1,234.56 from {a_name} to {b_name}; {a_name} will have $8,765.44."
    )
    a.get_by_role("button", name="Confirm and send", exact=True).click()
    expect(a.get_by_text(f"Sent $1,234.56 to {b_name}.")).to_be_visible()
    expect(a.locator("#send-source")).to_contain_text("$8,765.44")  # the balance on screen updated at once

    assert truth.balance(a_name) == 876_544 and truth.balance(b_name) == 1_123_456
    assert truth.balance(a_name) + truth.balance(b_name) == before_total
    check_invariants(truth.engine)

    a.goto(base + "/dashboard")
    expect(a.locator("#net-worth")).to_have_text("$8,765.44")
    expect(a.locator(".history-row").first).to_contain_text("-$1,234.56")
    expect(a.locator(".history-row").first).to_contain_text(b_name)
    b.goto(base + "/dashboard")
    expect(b.locator("#net-worth")).to_have_text("$11,234.56")
    expect(b.locator(".history-row").first).to_contain_text("+$1,234.56")
    expect(b.locator(".history-row").first).to_contain_text(a_name)

    a.goto(base + "/accounts")
    expect(a.locator(".account-balance")).to_have_text("$8,765.44")
    expect(a.locator("#balance-chart .recharts-surface")).to_be_visible()
    b.goto(base + "/accounts")
    expect(b.locator(".account-balance")).to_have_text("$11,234.56")

    for page, sign, other in ((a, "-", b_name), (b, "+", a_name)):
        page.goto(base + "/history")
        row = page.locator(".history-row").first
        expect(row).to_contain_text(f"{sign}$1,234.56")
        expect(row).to_contain_text(other)
        expect(row).to_contain_text("Rent for November")
        expect(page.locator(".history-row")).to_have_count(2)
    a_ctx.close()
    b_ctx.close()


@pytest.mark.parametrize(
    "text,message",
    [
        ("-5", "The amount must be positive."),
        ("0", "The amount must be more than $0.00."),
        ("1.234", "Use at most two decimals (cents)."),
        ("ten dollars", "That is not an amount of money."),
        ("NaN", "That is not an amount of money."),
        ("inf", "That is not an amount of money."),
        ("1,000,000.01", "The most you can send at once is $1,000,000.00."),
        ("10,000.01", "That is more than this account holds ($10,000.00)."),
    ],
)
def test_rejected_amounts_explain_and_change_nothing(app_server, page, truth, text, message):
    base = app_server.url
    me, you = unique("payer"), unique("payee")
    sign_up(page, base, you)
    page.get_by_role("button", name="Log out", exact=True).click()
    page.wait_for_url("**/login")
    sign_up(page, base, me)
    entries, mine, theirs = truth.ledger_count(), truth.balance(me), truth.balance(you)
    page.goto(base + "/send")
    choose_recipient(page, you)
    page.get_by_label("Amount", exact=True).fill(text)
    expect(page.locator("#amount-error")).to_contain_text(message)
    expect(page.get_by_role("button", name="Confirm and send", exact=True)).to_be_disabled()
    expect(page.locator("#send-preview")).to_have_count(0)
    page.get_by_role("button", name="Confirm and send", exact=True).click(
        force=True
    )  # a click on the disabled button does nothing
    page.wait_for_timeout(300)
    assert (truth.ledger_count(), truth.balance(me), truth.balance(you)) == (entries, mine, theirs)


def test_double_clicked_confirm_sends_once(app_server, page, truth):
    base = app_server.url
    me, you = unique("clicker"), unique("target")
    sign_up(page, base, you)
    page.get_by_role("button", name="Log out", exact=True).click()
    page.wait_for_url("**/login")
    sign_up(page, base, me)
    page.goto(base + "/send")
    choose_recipient(page, you)
    page.get_by_label("Amount", exact=True).fill("25")
    expect(page.locator("#send-preview")).to_be_visible()
    page.get_by_role("button", name="Confirm and send", exact=True).dblclick()
    # And three more clicks fired in one tick, before any answer can disable the button.
    page.evaluate("() => { const b = document.querySelector('#send-confirm'); b.click(); b.click(); b.click(); }")
    expect(page.get_by_text(f"Sent $25.00 to {you}.")).to_be_visible()
    page.wait_for_timeout(1000)
    sent = truth.transfers_from(me)
    assert [e.amount for e in sent] == [2500]
    assert truth.balance(me) == 997_500 and truth.balance(you) == 1_002_500


def test_logged_out_visitors_are_sent_to_login(app_server, page):
    for path in PRIVATE_PAGES:
        page.goto(app_server.url + path)
        page.wait_for_url("**/login")
        expect(page.get_by_role("button", name="Log in", exact=True)).to_be_visible()
        assert "$" not in page.inner_text("body").replace("$10,000", "")  # no private figures


def test_a_player_never_sees_another_players_history(app_server, browser, truth):
    base = app_server.url
    owner, snoop = unique("owner"), unique("snoop")
    o_ctx, s_ctx = browser.new_context(), browser.new_context()
    o, s = o_ctx.new_page(), s_ctx.new_page()
    sign_up(o, base, owner)
    sign_up(s, base, snoop)
    victim_account = truth.account_of(owner)
    s.goto(f"{base}/history?account={victim_account}")
    expect(s.locator("#history-error")).to_have_text("Account not found.")
    expect(s.locator(".history-row")).to_have_count(0)
    assert owner not in s.inner_text("body")
    s.goto(f"{base}/history?account=999999")
    expect(s.locator("#history-error")).to_have_text("Account not found.")
    s.goto(f"{base}/history")
    expect(s.locator(".history-row")).to_have_count(1)  # only the snoop's own welcome deposit
    for path in PRIVATE_PAGES:
        s.goto(base + path)
        s.wait_for_timeout(300)
        assert owner not in s.inner_text("body"), f"{path} shows another player's name"
    o_ctx.close()
    s_ctx.close()


def test_session_survives_reload_and_tabs_and_logout_ends_it_everywhere(app_server, browser):
    base = app_server.url
    name = unique("tabby")
    ctx = browser.new_context()
    first, second = ctx.new_page(), ctx.new_page()
    sign_up(first, base, name)
    first.reload()
    expect(first.locator("#net-worth")).to_have_text("$10,000.00")
    second.goto(base + "/history")
    expect(second.locator(".history-row")).to_have_count(1)
    first.get_by_role("button", name="Log out", exact=True).click()
    first.wait_for_url("**/login")
    second.goto(base + "/dashboard")
    second.wait_for_url("**/login")
    log_in(second, base, name)
    expect(second.locator("#net-worth")).to_have_text("$10,000.00")
    ctx.close()


def test_failed_login_is_generic(app_server, page):
    name = unique("forgetful")
    sign_up(page, app_server.url, name)
    page.get_by_role("button", name="Log out", exact=True).click()
    page.wait_for_url("**/login")
    for username in (name, unique("nobody")):
        page.get_by_label("Username", exact=True).fill(username)
        page.get_by_label("Password", exact=True).fill("wrong password")
        page.get_by_role("button", name="Log in", exact=True).click()
        expect(page.locator("#form-error")).to_have_text("Invalid username or password.")


@pytest.mark.parametrize("width", [1440, 375])
def test_screenshots_of_every_page(app_server, browser, width):
    ctx = browser.new_context(viewport={"width": width, "height": 900})
    page = ctx.new_page()
    base = app_server.url
    for path, name in (("/", "home"), ("/login", "login"), ("/signup", "signup")):
        page.goto(base + path)
        page.wait_for_timeout(500)
        screenshot(page, f"{name}-{width}")
    me, you = unique("shooter"), unique("subject")
    sign_up(page, base, you)
    page.get_by_role("button", name="Log out", exact=True).click() if width > 1024 else page.goto(base + "/login")
    if width <= 1024:
        ctx.clear_cookies()
        page.evaluate("() => localStorage.clear()")
    sign_up(page, base, me)
    page.goto(base + "/send")
    choose_recipient(page, you)
    page.get_by_label("Amount", exact=True).fill("42.50")
    page.get_by_label("Description (optional)", exact=True).fill("Screenshots")
    expect(page.locator("#send-preview")).to_be_visible()
    screenshot(page, f"send-{width}")
    page.get_by_role("button", name="Confirm and send", exact=True).click()
    expect(page.get_by_text(f"Sent $42.50 to {you}.")).to_be_visible()
    rows = ".history-row" if width >= 768 else ".history-card"
    page.goto(base + "/companies")
    page.wait_for_selector("#company-name")
    page.get_by_label("Name", exact=True).fill("Shutter Inc")
    page.get_by_label("Ticker", exact=True).fill(
        unique("s").split("_")[1][:5].translate(str.maketrans("0123456789", "ABCDEFGHIJ"))
    )
    page.get_by_role("button", name="Found company", exact=True).click()
    page.wait_for_url("**/company?id=*")
    page.get_by_label("Product name", exact=True).fill("Lens")
    page.get_by_label("Price", exact=True).fill("49.50")
    page.get_by_role("button", name="Add product", exact=True).click()
    expect(page.locator(".product-row")).to_have_count(1)
    page.wait_for_timeout(400)
    assert page.evaluate("document.documentElement.scrollWidth") <= width, "company scrolls sideways"
    screenshot(page, f"company-{width}")
    company_id = page.url.split("id=")[1]
    for path, name, ready in (
        ("/dashboard", "dashboard", rows),
        ("/accounts", "accounts", ".account-card"),
        ("/history", "history", rows),
        ("/companies", "companies", ".company-card"),
        ("/directory", "directory", ".company-card"),
        ("/marketplace", "marketplace", ".market-product"),
        ("/stocks", "stocks", "#stocks-sort"),
        ("/portfolio", "portfolio", "#portfolio-value"),
        ("/leaderboard", "leaderboard", "text=Richest players"),
        (f"/company/profile?id={company_id}", "company-profile", "#profile-cash"),
    ):
        page.goto(base + path)
        expect(page.locator(ready).first).to_be_visible()
        page.wait_for_timeout(400)
        assert page.evaluate("document.documentElement.scrollWidth") <= width, f"{name} scrolls sideways"
        screenshot(page, f"{name}-{width}")
    ctx.close()


def test_history_pages_filters_and_exports(app_server, page, truth):
    from datetime import UTC, datetime

    from sqlmodel import Session

    from economy_app.services import accounts, users

    base = app_server.url
    me, you = unique("pager"), unique("payee")
    sign_up(page, base, you)
    page.get_by_role("button", name="Log out", exact=True).click()
    page.wait_for_url("**/login")
    sign_up(page, base, me)
    with Session(truth.engine) as s:
        my_id = users.get_user_by_username(s, me).id
        for cents in range(1, 61):  # 60 transfers + the welcome deposit = 61 entries
            accounts.transfer(
                s,
                actor_id=my_id,
                from_account_id=truth.account_of(me),
                to_account_id=truth.account_of(you),
                amount=cents,
            )
    page.goto(base + "/history")
    rows = page.locator(".history-row")
    expect(rows).to_have_count(50)
    expect(rows.first).to_contain_text("-$0.60")
    expect(page.get_by_role("button", name="Newer", exact=True)).to_be_disabled()
    page.get_by_role("button", name="Older", exact=True).click()
    expect(rows).to_have_count(11)
    expect(rows.last).to_contain_text("+$10,000.00")
    expect(page.locator("#history-page")).to_have_text("Page 2")
    expect(page.get_by_role("button", name="Older", exact=True)).to_be_disabled()
    page.get_by_role("button", name="Newer", exact=True).click()
    expect(rows).to_have_count(50)
    expect(rows.first).to_contain_text("-$0.60")

    page.get_by_role("combobox", name="Type", exact=True).click()
    page.get_by_role("option", name="Welcome deposit").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Welcome deposit")

    with page.expect_download() as download:
        page.get_by_role("button", name="Export CSV", exact=True).click()
    lines = open(download.value.path()).read().strip().splitlines()
    assert lines[0] == ",".join(accounts.CSV_COLUMNS) and len(lines) == 2
    assert f",{me},Welcome deposit,Economy (system),Welcome to the economy,10000.00,10000.00," in lines[1]

    page.get_by_role("combobox", name="Type", exact=True).click()
    page.get_by_role("option", name="All types").click()
    expect(rows).to_have_count(50)
    today = datetime.now(UTC).date()
    tomorrow = today.fromordinal(today.toordinal() + 1).isoformat()
    page.get_by_label("From date", exact=True).fill(tomorrow)
    page.get_by_role("button", name="Apply", exact=True).click()
    expect(page.get_by_text("No entries match.")).to_be_visible()
    page.get_by_label("From date", exact=True).fill(today.isoformat())
    page.get_by_label("To date", exact=True).fill(today.isoformat())
    page.get_by_role("button", name="Apply", exact=True).click()
    expect(rows).to_have_count(50)
    with page.expect_download() as download:
        page.get_by_role("button", name="Export CSV", exact=True).click()
    assert len(open(download.value.path()).read().strip().splitlines()) == 62
