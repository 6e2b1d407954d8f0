"""A page load in the navigation's own event (issue 18, ``state/page_load.py``), through Reflex's real event
processor in process (``tests/support/reflex_events.py``): what the tab is sent when the load fails or is
overtaken by another navigation. (The attacker review of the change found the first.)"""

from __future__ import annotations

import asyncio
import time

from sqlalchemy.exc import OperationalError

import economy_app.state.auth as auth_state
from economy_app.pages import dashboard
from economy_app.pages.send import SendState
from economy_app.services import auth
from economy_app.state import live
from tests.support.reflex_events import ON_LOAD, ev, run_events


def test_a_dashboard_load_that_raises_still_ends_hydrated(db_url, session, make_player, monkeypatch):
    """Reflex's own chain told the tab ``is_hydrated`` true after a load that raised (a dropped connection, a
    bug): so does the inline load, with the new page's router data, before the error goes to Reflex's handler."""
    monkeypatch.setenv("DATABASE_URL", db_url)
    make_player("alice")
    token = auth.login(session, "alice", "correct horse", client="127.0.0.1").token
    session.commit()

    def broken(s, user):
        raise OperationalError("SELECT ...", {}, Exception("server closed the connection unexpectedly"))

    real = auth_state._check_and_load

    def check_and_load(tok, loads, snapshot=True):
        return real(tok, broken if loads is dashboard._dashboard else loads, snapshot)

    monkeypatch.setattr(auth_state, "_check_and_load", check_and_load)
    tab, _, _ = asyncio.run(run_events(token, lambda t: [ev(t, ON_LOAD, "/dashboard")]))
    # The browser set its own copy false when it navigated: the server must tell it true again, error or not.
    assert tab.hydrated() and tab.hydrated()[-1] is True, tab.text()


def test_a_newer_navigation_cancels_a_slow_load_cleanly(db_url, session, make_player, monkeypatch):
    """A navigation that supersedes a slow load leaves the tab on the newer page: hydrated, subscribed to the
    newer page only, no late data of the page it left."""
    monkeypatch.setenv("DATABASE_URL", db_url)
    make_player("alice")
    token = auth.login(session, "alice", "correct horse", client="127.0.0.1").token
    session.commit()
    real = auth_state._check_and_load

    def slow(tok, loads, snapshot=True):
        if loads is dashboard._dashboard:
            time.sleep(0.6)
        return real(tok, loads, snapshot)

    monkeypatch.setattr(auth_state, "_check_and_load", slow)
    tab, _, tab_token = asyncio.run(
        run_events(token, lambda t: [ev(t, ON_LOAD, "/dashboard"), ev(t, ON_LOAD, "/send")], between=0.2, settle=1.0)
    )
    assert tab.hydrated() and tab.hydrated()[-1] is True, tab.text()
    assert live.is_current(tab_token, SendState)
    late = [
        u
        for u in tab.messages
        if any("dashboard_state" in k and v.get("loaded_rx_state_") for k, v in (u.delta or {}).items())
    ]
    assert late == [], tab.text()
    live.unsubscribe(tab_token)
