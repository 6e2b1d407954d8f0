"""Driving the app like a player, and reading the truth from the database."""

from __future__ import annotations

import uuid

from playwright.sync_api import Page, expect
from sqlalchemy import func, select
from sqlmodel import Session

from economy_app.db import make_engine
from economy_app.models import LedgerEntry
from economy_app.services import accounts, users

PASSWORD = "correct horse battery"


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def sign_up(page: Page, base: str, username: str, password: str = PASSWORD) -> None:
    page.goto(base + "/signup")
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_label("Confirm password", exact=True).fill(password)
    page.locator("form").get_by_role("button", name="Sign up", exact=True).click()
    page.wait_for_url("**/dashboard")
    expect(page.locator("#net-worth")).to_be_visible()


def log_in(page: Page, base: str, username: str, password: str = PASSWORD) -> None:
    page.goto(base + "/login")
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Log in", exact=True).click()
    page.wait_for_url("**/dashboard")


def choose_recipient(page: Page, username: str) -> None:
    page.get_by_label("To", exact=True).fill(username)
    page.locator(".search-result", has_text=username).first.click()
    expect(page.locator("#send-recipient")).to_have_text(username)


class Truth:
    """Reads the app's database through the services (never through the browser)."""

    def __init__(self, url: str):
        self.engine = make_engine(url)

    def account_of(self, username: str) -> int:
        with Session(self.engine) as s:
            user = users.get_user_by_username(s, username)
            return [v.id for v in accounts.list_accounts(s, user.id) if v.kind == "personal"][0]

    def balance(self, username: str) -> int:
        with Session(self.engine) as s:
            return accounts.get_balance(s, self.account_of(username))

    def ledger_count(self) -> int:
        with Session(self.engine) as s:
            return s.execute(select(func.count()).select_from(LedgerEntry)).scalar_one()

    def transfers_from(self, username: str) -> list[LedgerEntry]:
        account = self.account_of(username)
        with Session(self.engine) as s:
            return list(
                s.execute(
                    select(LedgerEntry).where(LedgerEntry.from_account_id == account, LedgerEntry.type == "transfer")
                ).scalars()
            )


def crafted_events(
    base: str, page, events: list[tuple], *, wait: float = 3.0, path: str = "/admin", settle: float | None = None
) -> list[str]:
    """Send events as the browser tab ``page`` would, but hand-made: a python-socketio client on the
    app's real websocket (/_event) carrying that tab's Reflex token, so the server sees that tab's
    session. The tab is closed first (a token already connected elsewhere would be replaced by a new
    one). ``base`` may be another app process sharing the tab's Redis (another host). ``path`` is the
    page the events claim to come from (an event ``(name, payload, path)`` names its own, query string
    and all). With ``settle``, waits until the server has been quiet that long (at most ``wait``).
    Returns what the server sent back."""
    import json
    import time

    import socketio

    token = page.evaluate("() => window.sessionStorage.getItem('token')")
    assert token, "the tab has no Reflex token yet"
    page.close()
    time.sleep(1.0)  # let the server see the tab's socket go
    received: list[str] = []
    client = socketio.Client(reconnection=False)
    namespace = "/_event"  # Reflex's socket.io namespace (and path)
    client.on("event", lambda data: received.append(json.dumps(data)), namespace=namespace)
    client.on("new_token", lambda data: received.append(f"new_token {data}"), namespace=namespace)
    client.connect(
        f"{base}?token={token}",
        socketio_path="/_event",
        namespaces=[namespace],
        transports=["websocket"],
        wait_timeout=10,
    )
    try:
        for name, payload, *where in events:
            at = where[0] if where else path
            client.emit(
                "event",
                namespace=namespace,
                data={
                    "name": name,
                    "payload": payload,
                    "router_data": {"pathname": at.split("?")[0], "query": {}, "asPath": at},
                },
            )
        if settle is None:
            time.sleep(wait)
        else:
            deadline, seen, quiet_since = time.monotonic() + wait, -1, time.monotonic()
            while time.monotonic() < deadline:
                if len(received) != seen:
                    seen, quiet_since = len(received), time.monotonic()
                elif time.monotonic() - quiet_since >= settle:
                    break
                time.sleep(0.2)
    finally:
        client.disconnect()
    return received
