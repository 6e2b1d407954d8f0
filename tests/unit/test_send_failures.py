"""The send page when something goes wrong (issue 18's one-trip click, reviewed by attacker atk-18h): a text no
database can store, a failure no service foresaw, a connection that dies after the transfer committed. In each the
form stays usable and a transfer is made at most once."""

from __future__ import annotations

import asyncio

import pytest
from sqlmodel import select

from economy_app import db
from economy_app.models import LedgerEntry
from economy_app.pages.send import UNFINISHED, SendState
from economy_app.services import accounts, auth
from tests.unit.test_db_connections import _kill_all_others
from tests.unit.test_event_cost import _drain, _send_form


def _transfers(session) -> list[LedgerEntry]:
    session.expire_all()
    rows = list(session.exec(select(LedgerEntry).where(LedgerEntry.type == "transfer").order_by(LedgerEntry.id)))
    session.commit()
    return rows


def _alice_and_bob(session, make_player) -> tuple[str, int]:
    make_player("alice")
    _, bob_account = make_player("bob")
    token = auth.login(session, "alice", "correct horse", client="127.0.0.1").token
    session.commit()
    return token, bob_account


def test_a_description_with_a_lone_surrogate_is_sent_without_it(db_url, session, make_player, monkeypatch):
    """A crafted event's description ``"rent\\ud83d"`` raised UnicodeEncodeError in the database driver: the click
    failed and the button stayed "sending" for good. The surrogate is dropped where the text arrives."""
    monkeypatch.setenv("DATABASE_URL", db_url)
    token, bob_account = _alice_and_bob(session, make_player)
    send = _send_form(token, bob_account, "bob", "3.00")
    SendState.set_description.fn(send, "rent\ud83d")
    updates = asyncio.run(_drain(SendState.confirm.fn(send, send.form_key)))
    assert "Sent $3.00 to bob." in str(updates[-1]) and not send.sending
    assert [t.description for t in _transfers(session)] == ["rent"]


def test_an_unforeseen_failure_leaves_the_form_usable_and_a_retry_sends_once(db_url, session, make_player, monkeypatch):
    """The transfer committed, then reading the balances failed for a reason no service foresaw: the click says the
    transfer may have been made, the form stays as typed with its key, and confirming again sends nothing more."""
    monkeypatch.setenv("DATABASE_URL", db_url)
    token, bob_account = _alice_and_bob(session, make_player)
    send = _send_form(token, bob_account, "bob", "7.00")
    key = send.form_key
    real = accounts.list_accounts
    failures = [RuntimeError("a bug after the commit")]

    def flaky(s, user_id):
        if failures:
            raise failures.pop()
        return real(s, user_id)

    monkeypatch.setattr(accounts, "list_accounts", flaky)
    updates = asyncio.run(_drain(SendState.confirm.fn(send, key)))
    assert UNFINISHED in str(updates[-1])
    assert not send.sending and send.amount_text == "7.00" and send.form_key == key and send.recipient_id
    assert len(_transfers(session)) == 1

    updates = asyncio.run(_drain(SendState.confirm.fn(send, send.form_key)))
    assert "Sent $7.00 to bob." in str(updates[-1])
    assert [t.amount for t in _transfers(session)] == [700]  # the key made the second click a replay
    assert [s.cents for s in send.sources] == [1_000_000 - 700]


def test_a_page_load_frees_a_form_left_sending(db_url, session, make_player, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", db_url)
    token, bob_account = _alice_and_bob(session, make_player)
    send = _send_form(token, bob_account, "bob", "1.00")
    send.sending = True  # a click that never came back (a worker stopped mid-event)
    asyncio.run(SendState.load.fn(send))
    assert not send.sending and send.can_send


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_connection_that_died_after_the_transfer_committed_still_shows_it_sent(
    db_url, session, make_player, monkeypatch
):
    """The server restarted between the transfer's commit and the balances' read: the read runs again on a new
    connection and the page says the money went (it said "something went wrong", though the money had gone)."""
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 3600.0)  # the dead connection is only found by using it
    token, bob_account = _alice_and_bob(session, make_player)
    send = _send_form(token, bob_account, "bob", "2.50")
    real = accounts.transfer

    def then_restart(s, **kwargs):
        entry = real(s, **kwargs)
        _kill_all_others(db_url)
        return entry

    monkeypatch.setattr(accounts, "transfer", then_restart)
    updates = asyncio.run(_drain(SendState.confirm.fn(send, send.form_key)))
    assert "Sent $2.50 to bob." in str(updates[-1]), updates[-1]
    assert [s.cents for s in send.sources] == [1_000_000 - 250]
