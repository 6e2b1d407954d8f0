"""Per-account history: newest first, keyset pages, type filter, date range, counterpart names."""

from __future__ import annotations

from economy_app.event_args import day_range
from economy_app.services import accounts, ledger


def test_history_pages_through_both_sides_newest_first(session, make_player):
    alice, a = make_player("alice")
    bob, b = make_player("bob")
    for i in range(1, 8):
        if i % 2:
            accounts.transfer(session, actor_id=alice, from_account_id=a, to_account_id=b, amount=i)
        else:
            accounts.transfer(session, actor_id=bob, from_account_id=b, to_account_id=a, amount=i)
    rows = ledger.history(session, a, limit=3)
    assert [r.signed_amount for r in rows] == [-7, 6, -5]
    assert all(r.counterpart_name == "bob" for r in rows)
    rows2 = ledger.history(session, a, before=rows[-1].id, limit=3)
    assert [r.signed_amount for r in rows2] == [4, -3, 2]
    rows3 = ledger.history(session, a, before=rows2[-1].id, limit=3)
    assert [r.signed_amount for r in rows3] == [-1, 1_000_000]
    assert rows3[-1].type == "initial_deposit" and rows3[-1].counterpart_name == "Economy (system)"
    assert ledger.history(session, a, before=rows3[-1].id) == []
    ids = [r.id for r in rows + rows2 + rows3]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 8


def test_history_filters_by_type_and_never_shows_other_accounts(session, make_player):
    alice, a = make_player("alice")
    bob, b = make_player("bob")
    carol, c = make_player("carol")
    accounts.transfer(session, actor_id=bob, from_account_id=b, to_account_id=c, amount=99)
    accounts.transfer(session, actor_id=alice, from_account_id=a, to_account_id=b, amount=5, description="hi")
    rows = ledger.history(session, a, types=["transfer"])
    assert [(r.signed_amount, r.description, r.counterpart_name) for r in rows] == [(-5, "hi", "bob")]
    assert [r.type for r in ledger.history(session, a, types=["initial_deposit"])] == ["initial_deposit"]
    assert all(r.account_id == a for r in ledger.history(session, a))
    assert 99 not in [abs(r.signed_amount) for r in ledger.history(session, a)]


def test_cursor_text_round_trips(session, make_player):
    alice, a = make_player("alice")
    row = ledger.history(session, a)[0]
    text = ledger.cursor_text(ledger.cursor(row))
    assert ledger.parse_cursor(text) == ledger.cursor(row)
    assert ledger.history(session, a, before=ledger.parse_cursor(text)) == []


def test_the_first_and_last_days_there_are_filter_like_any_other(session, make_player):
    """Attack finding 11: the History page's filter "until 9999-12-31" (a date any date picker offers) computed
    the day after it and raised OverflowError, which the page's handlers do not catch: a server error instead
    of a page. The last day there is has no day after it: nothing can be later, so it bounds nothing."""
    alice, a = make_player("alice")
    bob, b = make_player("bob")
    accounts.transfer(session, actor_id=alice, from_account_id=a, to_account_id=b, amount=5)
    everything = accounts.player_history(session, alice, a, limit=10)
    assert len(everything) == 2
    for since, until, expected in (
        ("", "9999-12-31", everything),
        ("0001-01-01", "9999-12-31", everything),
        ("9999-12-31", "9999-12-31", []),
        ("9999-12-31", "", []),
        ("0001-01-01", "0001-01-01", []),
    ):
        since_at, until_at = day_range(since, until)
        assert accounts.player_history(session, alice, a, since=since_at, until=until_at, limit=10) == expected
        text, count, _ = accounts.history_csv(session, alice, a, since=since_at, until=until_at)
        assert count == len(expected)
