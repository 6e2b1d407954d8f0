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
from tests.e2e.helpers import PASSWORD, Truth, crafted_events, log_in, sign_up, unique

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
        "button", name="Sync from account cache"
    ).click()
    expect(drift_rows).to_have_count(0)
    page.get_by_role("button", name="Reconcile now", exact=True).click()
    expect(page.locator("#admin-clean")).to_be_visible()
    with Session(truth.engine) as s:
        assert reconciliation.reconcile(s) == []
    expect(page.locator(".audit-row").first).to_contain_text("reconcile")
    assert page.locator(".audit-row", has_text="recalculate").count() >= 2
    # Beside the three copies, the archive's proof (nothing archived here: nothing differs).
    expect(page.locator("#admin-archive-check")).to_contain_text("0 differ from their archived entries")
    # And the sums: every balance and every cached balance add up to zero.
    expect(page.locator("#admin-money-check")).to_contain_text("sum to $0.00")
    expect(page.locator("#admin-last-report")).to_contain_text("balances sum to $0.00")

    # Another admin's "Sync all" is running (its claim, held by another process, as on any worker): this tab
    # is told so, and is free again afterwards (no progress bar left, the buttons enabled).
    with Session(truth.engine) as other_admin, operations.exclusive(other_admin, "sync_all"):
        page.get_by_role("button", name="Sync all", exact=True).click()
        told = page.get_by_role("region", name="Notifications").get_by_text(
            "That operation is already running. Wait for it to finish."
        )
        expect(told).to_be_visible()
        expect(page.locator("#admin-progress")).to_have_count(0)
        expect(page.get_by_role("button", name="Sync all", exact=True)).to_be_enabled()
        expect(page.locator(".audit-row").first).to_contain_text("already running")  # the refusal, audited
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
