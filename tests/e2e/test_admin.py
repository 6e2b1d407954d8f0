"""The admin page: drift found and repaired through the buttons; players kept out, even when they
send admin events by hand through the real websocket."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from reflex_base.utils import format as rx_format
from sqlalchemy import func, select, update
from sqlmodel import Session

from economy_app.models import Account, AdminAudit, Balance
from economy_app.pages.admin import AdminState
from economy_app.services import operations, reconciliation, schedule, users
from tests.e2e.conftest import screenshot
from tests.e2e.helpers import PASSWORD, Truth, choose_recipient, crafted_events, log_in, sign_up, unique
from tests.support.db import check_invariants

pytestmark = pytest.mark.e2e

B, A = Balance.__table__, Account.__table__


@pytest.fixture
def truth(app_server):
    t = Truth(app_server.database_url)
    yield t
    t.engine.dispose()


def make_admin(truth: Truth) -> str:
    name = unique("op")
    with Session(truth.engine) as s:
        users.create_user(s, name, PASSWORD, role="admin")
    return name


def test_admin_finds_and_repairs_drift(app_server, browser, truth):
    base = app_server.url
    players = [unique("drift") for _ in range(3)]
    ctx = browser.new_context(viewport={"width": 1440, "height": 1000})
    page = ctx.new_page()
    for name in players:
        sign_up(page, base, name)
        page.get_by_role("button", name="Log out", exact=True).click()
        page.wait_for_url("**/login")
    x, y, z = (truth.account_of(n) for n in players)
    with truth.engine.begin() as conn:  # corrupt, behind the app's back
        conn.execute(update(B).where(B.c.account_id == x).values(balance=B.c.balance + 12_345))
        conn.execute(update(A).where(A.c.id == y).values(balance=1))
        conn.execute(B.delete().where(B.c.account_id == z))
    with Session(truth.engine) as s:
        assert {d.account_id for d in reconciliation.reconcile(s)} == {x, y, z}

    log_in(page, base, make_admin(truth))
    page.get_by_role("link", name="Admin", exact=True).click()
    page.wait_for_url("**/admin")
    page.get_by_role("button", name="Reconcile now", exact=True).click()
    drift_rows = page.locator("#admin-drifts .copies-row")
    expect(drift_rows).to_have_count(3)
    for account in (x, y, z):
        expect(page.locator(f"#admin-drifts .copies-row[data-account='{account}']")).to_have_count(1)
    expect(page.locator(f"#admin-drifts .copies-row[data-account='{z}']")).to_contain_text("missing")

    page.locator(f"#admin-drifts .copies-row[data-account='{x}']").get_by_role(
        "button", name="Recalculate from ledger"
    ).click()
    expect(drift_rows).to_have_count(2)
    page.locator(f"#admin-drifts .copies-row[data-account='{y}']").get_by_role(
        "button", name="Recalculate from ledger"
    ).click()
    expect(drift_rows).to_have_count(1)
    page.locator(f"#admin-drifts .copies-row[data-account='{z}']").get_by_role(
        "button", name="Sync from cached balance"
    ).click()
    expect(drift_rows).to_have_count(0)
    page.get_by_role("button", name="Reconcile now", exact=True).click()
    expect(page.locator("#admin-clean")).to_be_visible()
    with Session(truth.engine) as s:
        assert reconciliation.reconcile(s) == []
    expect(page.locator(".audit-row").first).to_contain_text("Reconciled")
    # The audit log names the accounts it repaired, not their ids alone.
    expect(page.locator(".audit-row", has_text="Recalculated from the ledger")).to_have_count(2)
    expect(page.locator(".audit-row", has_text=f"{players[0]}'s personal account (#{x})")).to_have_count(1)
    # Beside the three copies, the archive's proof (nothing archived here: nothing differs).
    expect(page.locator("#admin-archive-check")).to_contain_text("0 differ from their archived entries")
    # And the sums: every balance and every cached balance add up to zero.
    expect(page.locator("#admin-money-check")).to_contain_text("sum to $0.00")
    expect(page.locator("#admin-last-report")).to_contain_text("balances sum to $0.00")

    # The whole-economy repairs ask first, and say which copy they trust; "Cancel" runs nothing.
    audited = page.locator(".audit-row").count()
    page.get_by_role("button", name="Recalculate all", exact=True).click()
    dialog = page.get_by_role("alertdialog")
    expect(dialog).to_contain_text("Recalculate every balance from the ledger?")
    expect(dialog).to_contain_text("The ledger is trusted")
    dialog.get_by_role("button", name="Cancel", exact=True).click()
    expect(dialog).to_have_count(0)
    page.wait_for_timeout(500)
    assert page.locator(".audit-row").count() == audited
    expect(page.get_by_text("Trusts the cached balances", exact=False)).to_be_visible()

    # Another admin's "Sync all" is running (its claim, held by another process, as on any worker): this tab
    # is told so, and is free again afterwards (no progress bar left, the buttons enabled).
    with Session(truth.engine) as other_admin, operations.exclusive(other_admin, "sync_all"):
        page.get_by_role("button", name="Sync all", exact=True).click()
        page.get_by_role("alertdialog").get_by_role("button", name="Sync every balance", exact=True).click()
        told = page.get_by_role("region", name="Notifications").get_by_text(
            "That operation is already running. Wait for it to finish."
        )
        expect(told).to_be_visible()
        expect(page.locator("#admin-progress")).to_have_count(0)
        expect(page.get_by_role("button", name="Sync all", exact=True)).to_be_enabled()
        expect(page.locator(".audit-row").first).to_contain_text("already running")  # the refusal, audited
    page.get_by_role("button", name="Recalculate all", exact=True).click()
    page.get_by_role("alertdialog").get_by_role("button", name="Recalculate every balance", exact=True).click()
    expect(page.locator(".audit-row").first).to_contain_text("Recalculated every balance")
    ctx.close()


def test_players_cannot_reach_the_admin_page(app_server, page):
    sign_up(page, app_server.url, unique("curious"))
    expect(page.get_by_role("link", name="Admin", exact=True)).to_have_count(0)
    page.goto(app_server.url + "/admin")
    page.wait_for_url("**/dashboard")
    expect(page.get_by_text("Only admins can do that.")).to_be_visible()
    assert "Whole economy" not in page.inner_text("body")


def test_crafted_admin_events_from_a_player_are_refused(app_server, page, truth):
    base = app_server.url
    name = unique("forger")
    sign_up(page, base, name)
    mine = truth.account_of(name)
    with truth.engine.begin() as conn:
        conn.execute(update(B).where(B.c.account_id == mine).values(balance=B.c.balance + 99))
    with Session(truth.engine) as s:
        audits = s.execute(select(func.count()).select_from(AdminAudit)).scalar_one()

    replies = crafted_events(
        base,
        page,
        [
            (rx_format.format_event_handler(AdminState.recalculate), {"account_id": str(mine)}),
            (rx_format.format_event_handler(AdminState.start_bulk), {"op": "sync_all"}),
            (rx_format.format_event_handler(AdminState.pause), {"name": "marketplace"}),
        ],
    )
    assert any("Only admins can do that." in r for r in replies), replies[:3]
    with Session(truth.engine) as s:
        assert {d.account_id for d in reconciliation.reconcile(s)} >= {mine}  # nothing was repaired
        assert s.execute(select(func.count()).select_from(AdminAudit)).scalar_one() == audits
        assert schedule.job_paused(s, "marketplace") is False
    with truth.engine.begin() as conn:  # tidy up for the tests after this one
        conn.execute(update(B).where(B.c.account_id == mine).values(balance=B.c.balance - 99))


@pytest.mark.parametrize("width", [1440, 375])
def test_the_account_lookup_speaks_for_people(app_server, browser, truth, width):
    """Issue 20, items 8 and 10: the three copies named for people, the owner, the last entries, a way into the
    account's history, a search with no match said so; the page laid out for a phone (nothing sideways)."""
    base = app_server.url
    ctx = browser.new_context(viewport={"width": width, "height": 900})
    page = ctx.new_page()
    player = unique("looked")
    sign_up(page, base, player)
    ctx.clear_cookies()
    page.evaluate("() => localStorage.clear()")
    log_in(page, base, make_admin(truth))
    page.goto(base + "/admin")
    expect(page.locator("#admin-last-report")).to_be_visible()
    page.get_by_label("Account lookup", exact=True).fill(player)
    card = page.locator(".found-account", has_text=player)
    expect(card).to_have_count(1)
    for words in ("Primary balance", "Cached balance", "From the ledger", f"Owner: {player}", "Welcome deposit"):
        expect(card).to_contain_text(words)
    expect(card.locator(".copy-primary")).to_have_text("$10,000.00")
    expect(page.get_by_text("Every balance is kept three times")).to_be_visible()
    assert "accounts.balance" not in page.inner_text("body")
    # Intervals in words, not seconds.
    jobs = page.locator(".job-row" if width >= 768 else ".job-card", has_text="Marketplace run")
    expect(jobs).to_contain_text("10 min")
    assert page.evaluate("document.documentElement.scrollWidth") <= width, "the admin page scrolls sideways"
    screenshot(page, f"admin-lookup-{width}")

    page.get_by_label("Account lookup", exact=True).fill("no-such-player-" + player)
    expect(page.locator("#admin-no-match")).to_contain_text("No player, company, ticker or account id matches")
    expect(page.locator(".found-account")).to_have_count(0)

    page.get_by_label("Account lookup", exact=True).fill(player)
    card.get_by_role("link", name="Open account").click()
    page.wait_for_url("**/admin/account?id=*")
    expect(page.locator("#admin-account-name")).to_have_text(player)
    expect(page.locator("#admin-account-owner")).to_contain_text(player)
    expect(page.locator(".history-row" if width >= 768 else ".history-card")).to_have_count(1)
    assert page.evaluate("document.documentElement.scrollWidth") <= width, "the account page scrolls sideways"
    screenshot(page, f"admin-account-{width}")
    ctx.close()


def test_an_admin_freezes_a_player_and_unfreezes_them(app_server, browser, truth):
    """Issue 20, item 11: the admin freezes a player from the account's admin page; the player's send is refused
    with the reason, and their dashboard says so; unfrozen, the same send goes through."""
    base = app_server.url
    player, friend = unique("suspect"), unique("friend")
    p_ctx, a_ctx = browser.new_context(), browser.new_context(viewport={"width": 1440, "height": 1000})
    p, a = p_ctx.new_page(), a_ctx.new_page()
    sign_up(p, base, friend)
    p_ctx.clear_cookies()
    p.evaluate("() => localStorage.clear()")
    sign_up(p, base, player)
    log_in(a, base, make_admin(truth))
    a.goto(base + f"/admin/account?id={truth.account_of(player)}")
    expect(a.locator("#admin-account-name")).to_have_text(player)

    reason = "Checking a chain of transfers"
    a.get_by_role("button", name=f"Freeze player {player}", exact=True).click()
    expect(a.get_by_text("Give a reason of 3 to 200 characters.")).to_be_visible()  # a reason is required
    a.get_by_label("Reason", exact=True).fill(reason)
    a.get_by_role("button", name=f"Freeze player {player}", exact=True).click()
    expect(a.locator("#admin-account-frozen")).to_contain_text(reason)
    expect(a.locator("#admin-account-frozen")).to_contain_text("Frozen by op_")
    expect(a.get_by_role("button", name=f"Unfreeze player {player}", exact=True)).to_be_visible()

    p.goto(base + "/dashboard")
    expect(p.locator(".frozen-notice")).to_contain_text(f"Your account is frozen by an admin: {reason}.")
    screenshot(p, "dashboard-frozen")
    p.goto(base + "/send")
    choose_recipient(p, friend)
    p.get_by_label("Amount", exact=True).fill("12.34")
    p.get_by_role("button", name="Confirm and send", exact=True).click()
    expect(p.get_by_text(f"This account is frozen by an admin: {reason}.")).to_be_visible()
    assert truth.transfers_from(player) == [] and truth.balance(player) == 1_000_000

    a.goto(base + "/admin")
    expect(a.locator(".audit-row").first).to_contain_text(f"player {player}")
    expect(a.locator(".audit-row").first).to_contain_text(reason)
    a.get_by_label("Account lookup", exact=True).fill(player)
    expect(a.locator(".found-account", has_text=player).locator(".found-frozen")).to_contain_text(reason)
    a.locator(".found-account", has_text=player).get_by_role("link", name="Open account").click()
    a.wait_for_url("**/admin/account?id=*")
    a.get_by_label("Reason", exact=True).fill("Looked into: all in order")
    a.get_by_role("button", name=f"Unfreeze player {player}", exact=True).click()
    expect(a.locator("#admin-account-frozen")).to_have_count(0)
    expect(a.get_by_role("button", name=f"Freeze player {player}", exact=True)).to_be_visible()

    # The player tries again: the form kept what they typed.
    expect(p.locator("#send-recipient")).to_have_text(friend)
    p.get_by_role("button", name="Confirm and send", exact=True).click()
    expect(p.get_by_text(f"Sent $12.34 to {friend}.")).to_be_visible()
    assert truth.balance(player) == 998_766
    p.goto(base + "/dashboard")
    expect(p.locator("#net-worth")).to_have_text("$9,987.66")
    expect(p.locator(".frozen-notice")).to_have_count(0)
    check_invariants(truth.engine)
    p_ctx.close()
    a_ctx.close()


def test_a_frozen_companys_stock_is_halted_and_its_own_freeze_outlives_the_players(app_server, browser, truth):
    """The attack on issue 20, findings 1-3, in the browser: an admin freezes a public company; an investor sees
    "Trading halted" in the stock list and on the stock's page, whose trade box is disabled with a reason that is
    not the admin's note. The admin freezes the owner, then unfreezes them: the toast says the company's own
    freeze stays, and why. "Unfreeze company" lifts it, and the investor's page trades again without a reload."""
    from economy_app.services import accounts, companies
    from tests.e2e.test_companies import ticker_for
    from tests.support.db import take_public

    base = app_server.url
    founder, investor = unique("halted"), unique("investor")
    ticker, name = ticker_for("H"), unique("Halt").replace("_", " ")
    with Session(truth.engine) as s:
        owner = users.create_user(s, founder, PASSWORD).id
        accounts.initialize_account(s, owner)
        company = companies.create_company(s, owner_id=owner, name=name, ticker=ticker)
        take_public(s, company.id, company.account_id)
    label = f"{name} ({ticker})"
    note = "Suspected wash trading with a friend"

    a_ctx = browser.new_context(viewport={"width": 1440, "height": 1000})
    i_ctx = browser.new_context(viewport={"width": 1440, "height": 1000})
    a, i = a_ctx.new_page(), i_ctx.new_page()
    log_in(a, base, make_admin(truth))
    a.goto(base + f"/admin/account?id={company.account_id}")
    expect(a.locator("#admin-account-name")).to_have_text(name)
    a.get_by_label("Reason", exact=True).fill(note)
    a.get_by_role("button", name=f"Freeze company {label}", exact=True).click()
    expect(a.locator("#admin-account-frozen")).to_contain_text("on its own: " + note)

    sign_up(i, base, investor)
    i.goto(base + "/stocks")
    expect(i.locator(".stock-row", has_text=ticker).locator(".halted")).to_have_text("Trading halted")
    i.locator(".stock-row", has_text=ticker).locator("a").click()
    i.wait_for_url(f"**/stock?id={company.id}")
    expect(i.locator("#trade-halted")).to_contain_text("Trading in this stock is halted by an admin")
    i.get_by_label("Shares", exact=True).fill("10")
    expect(i.locator("#trade-error")).to_have_text(f"{name}'s shares can't be bought right now: trading is halted.")
    expect(i.get_by_role("button", name="Buy shares", exact=True)).to_be_disabled()
    expect(i.get_by_text(note)).to_have_count(0)  # the admin's note is not the investor's to read
    screenshot(i, "stock-halted-1440")
    i.set_viewport_size({"width": 375, "height": 800})
    expect(i.locator("#trade-halted")).to_be_visible()
    assert i.evaluate("document.documentElement.scrollWidth") <= 375, "the halted stock page scrolls sideways"
    screenshot(i, "stock-halted-375")
    i.goto(base + "/stocks")
    expect(i.locator(".stock-card", has_text=ticker).locator(".halted")).to_be_visible()
    screenshot(i, "stocks-halted-375")
    i.goto(base + "/directory")
    i.get_by_label("Search companies", exact=True).fill(ticker)
    expect(i.locator(".company-card", has_text=ticker).locator(".halted")).to_have_text("Trading halted")
    screenshot(i, "directory-halted-375")
    i.set_viewport_size({"width": 1440, "height": 1000})

    # The owner frozen too, then unfrozen: the company's own freeze stays, and the admin is told why.
    a.get_by_label("Reason", exact=True).fill("Spam in names")
    a.get_by_role("button", name=f"Freeze player {founder}", exact=True).click()
    expect(a.get_by_role("button", name=f"Unfreeze player {founder}", exact=True)).to_be_visible()
    a.get_by_label("Reason", exact=True).fill("Spam cleared")
    a.get_by_role("button", name=f"Unfreeze player {founder}", exact=True).click()
    expect(a.get_by_text(f"{name} stays frozen on its own ({note}): Unfreeze company lifts it.")).to_be_visible()
    expect(a.locator("#admin-account-frozen")).to_contain_text(note)
    screenshot(a, "admin-account-company-freeze-stays")

    # Unfreeze company: the investor's stock page trades again, live.
    i.goto(base + f"/stock?id={company.id}")
    expect(i.locator("#trade-halted")).to_be_visible()
    a.get_by_label("Reason", exact=True).fill("Looked into: all in order")
    a.get_by_role("button", name=f"Unfreeze company {label}", exact=True).click()
    expect(a.locator("#admin-account-frozen")).to_have_count(0)
    expect(i.locator("#trade-halted")).to_have_count(0)
    i.get_by_label("Shares", exact=True).fill("10")
    expect(i.locator("#trade-preview")).to_contain_text("10 shares cost")
    i.get_by_role("button", name="Buy shares", exact=True).click()
    expect(i.get_by_text(f"Bought 10 {ticker}")).to_be_visible()
    check_invariants(truth.engine)
    a_ctx.close()
    i_ctx.close()
