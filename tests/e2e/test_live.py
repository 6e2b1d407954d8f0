"""Live updates in Chromium: an open tab sees money move without a reload or a click."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import screenshot
from tests.e2e.helpers import Truth, choose_recipient, sign_up, unique

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
    bob.fill("#send-amount", "1.00")
    bob.click("#send-confirm")
    expect(bob.get_by_text(f"Sent $1.00 to {a_name}.")).to_be_visible()

    # Alice did nothing: her open dashboard changes within a second or so, and says why.
    expect(alice.locator("#net-worth")).to_have_text("$10,001.00", timeout=5_000)
    expect(alice.locator("#personal-balance")).to_have_text("$10,001.00")
    expect(alice.locator(".history-row").first).to_contain_text("+$1.00")
    expect(alice.get_by_text(f"You received $1.00 from {b_name}")).to_be_visible()
    screenshot(alice, "live-dashboard-received")
    a_ctx.close()
    b_ctx.close()
