"""A page load is one event (issue 18): the navigation's ``on_load_internal`` runs the page's load itself
(``state/page_load.py``), so the tab gets one message with the page's data and ``is_hydrated`` together, instead
of Reflex's chain of three events and three messages."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect
from reflex.state import OnLoadInternalState
from reflex_base.utils.format import format_event_handler

from tests.e2e.helpers import crafted_events, sign_up, unique

pytestmark = pytest.mark.e2e

ON_LOAD = format_event_handler(OnLoadInternalState.on_load_internal)
HYDRATED = "is_hydrated_rx_state_"


def _hydration(reply: str) -> list[bool]:
    """The ``is_hydrated`` values one message from the server sets."""
    data = json.loads(reply)
    return [v[HYDRATED] for v in (data.get("delta") or {}).values() if HYDRATED in v]


def test_a_page_load_is_one_message_with_the_pages_data_and_the_hydrated_flag(app_server, page):
    name = unique("pat")
    sign_up(page, app_server.url, name)
    expect(page.locator("#net-worth")).to_have_text("$10,000.00")
    # The send page, not opened yet in this tab: its accounts are new to it, so they are sent.
    replies = crafted_events(app_server.url, page, [(ON_LOAD, {})], path="/send", wait=10.0, settle=1.5)
    with_data = [r for r in replies if "sources_rx_state_" in r]
    assert len(with_data) == 1 and f'"name": "{name}"' in with_data[0], replies
    assert _hydration(with_data[0]) == [True], f"the page's data came without the hydrated flag: {replies}"
    assert [r for r in replies if r != with_data[0]] == [], f"more than one message for one page load: {replies}"


def test_a_page_load_without_a_session_goes_to_the_login_page_and_is_hydrated(app_server, page):
    page.goto(f"{app_server.url}/login")
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    page.wait_for_function("() => window.sessionStorage.getItem('token')")  # the tab's socket is up
    replies = crafted_events(app_server.url, page, [(ON_LOAD, {})], path="/dashboard", wait=10.0, settle=1.5)
    assert any('"/login"' in r for r in replies), replies
    assert [h for r in replies for h in _hydration(r)] == [True], replies
