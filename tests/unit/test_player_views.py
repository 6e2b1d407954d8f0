"""What the player pages read: only ever the logged-in player's own accounts."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from economy_app import money
from economy_app.models import LedgerEntry, utcnow
from economy_app.services import accounts, ledger
from economy_app.services.errors import AccountNotFound, InvalidInput


def test_search_recipients_bounded_and_never_the_mint(session, make_player):
    for i in range(25):
        make_player(f"trader{i:02d}")
    make_player("alice")
    found = accounts.search_recipients(session, "TRADER")
    assert len(found) == 20 and all(r.name.startswith("trader") for r in found)
    assert [r.name for r in accounts.search_recipients(session, "ali")] == ["alice"]
    assert accounts.search_recipients(session, "econ") == []  # the system account
    assert accounts.search_recipients(session, "%") == [] and accounts.search_recipients(session, "_") == []
    assert accounts.search_recipients(session, "  ") == []


def test_a_name_typed_in_full_is_always_among_the_matches(session, make_player):
    """Send money picks the one recipient whose name was typed in full (the attack on issue 20, finding 4):
    colluders founded 19 companies with tickers BOBA..BOBS named "Aa 01".. (sorting before "bob") and one with the
    ticker BOB, named "Aa". Typing "bob" showed their 20 companies and not bob, and the one exact match left among
    them, their BOB company, became the recipient. The exact matches now come first, before the limit."""
    import string

    from economy_app.services import companies

    bob, bob_personal = make_player("bob")
    colluders = [make_player(f"mallory{i}")[0] for i in range(5)]
    tickers = ["BOB"] + [f"BOB{c}" for c in string.ascii_uppercase[:19]]
    for n, ticker in enumerate(tickers):
        name = "Aa" if ticker == "BOB" else f"Aa {n:02d}"
        companies.create_company(session, owner_id=colluders[n // 5], name=name, ticker=ticker)

    for typed in ("bob", "BOB", " Bob "):
        found = accounts.search_recipients(session, typed)
        assert len(found) == 20
        exact = [r for r in found if typed.strip().lower() in accounts.exact_names(r)]
        # bob himself (his username) and the BOB company (its ticker), first: two, so the page asks which.
        assert [(r.name, r.kind) for r in found[:2]] == [("Aa", "company"), ("bob", "personal")]
        assert exact == found[:2]
    # A company's name typed in full comes first too, ahead of the names it prefixes.
    assert [r.name for r in accounts.search_recipients(session, "aa")][:1] == ["Aa"]
    assert [r.name for r in accounts.search_recipients(session, "aa 07")] == ["Aa 07"]


def test_other_players_accounts_are_not_found(session, make_player):
    alice, a = make_player("alice")
    bob, b = make_player("bob")
    for call in (
        lambda: accounts.player_history(session, bob, a),
        lambda: accounts.balance_series(session, bob, a),
        lambda: accounts.history_csv(session, bob, a),
        lambda: accounts.require_owned(session, bob, 999_999),
    ):
        with pytest.raises(AccountNotFound) as info:
            call()
        assert str(info.value) == "Account not found."
    assert {r.account_id for r in accounts.player_history(session, bob)} == {b}


def test_the_history_page_opens_on_the_players_own_accounts_only(session, make_player):
    """The history page's first read (``history_page``: accounts, the mint's id and the first rows in one
    transaction) shows another player's account as not found, and nothing of it."""
    alice, a = make_player("alice")
    bob, b = make_player("bob")
    accounts.transfer(session, actor_id=alice, from_account_id=a, to_account_id=b, amount=7)
    mine = accounts.history_page(session, bob, b)
    assert [v.id for v in mine.accounts] == [b] and mine.system_account_id == accounts.find_system_account_id(session)
    assert [(r.account_id, r.signed_amount) for r in mine.rows] == [(b, 7), (b, 1_000_000)]
    assert mine.rows == accounts.player_history(session, bob, b)
    for other in (a, 999_999, -1):
        page = accounts.history_page(session, bob, other)
        assert page.rows is None and [v.id for v in page.accounts] == [b]
    assert accounts.history_page(session, bob).rows == accounts.player_history(session, bob)
    assert [r.type for r in accounts.history_page(session, alice, types=["transfer"]).rows] == ["transfer"]
    with pytest.raises(InvalidInput):
        accounts.history_page(session, alice, types=["bogus"])


def test_dashboard_and_series(session, make_player):
    alice, a = make_player("alice")
    bob, b = make_player("bob")
    for cents in (100, 200, 300):
        accounts.transfer(session, actor_id=alice, from_account_id=a, to_account_id=b, amount=cents)
    d = accounts.dashboard(session, alice)
    assert d.net_worth == d.personal_balance == 1_000_000 - 600 and d.personal_account_id == a
    assert [r.signed_amount for r in d.recent] == [-300, -200, -100, 1_000_000]
    series = accounts.balance_series(session, alice, a)
    assert [p.balance for p in series] == [1_000_000, 999_900, 999_700, 999_400]


def test_history_filters_dates_and_types(session, engine, make_player):
    alice, a = make_player("alice")
    bob, b = make_player("bob")
    accounts.transfer(session, actor_id=alice, from_account_id=a, to_account_id=b, amount=1)
    now = utcnow()
    rows = accounts.player_history(session, alice, a, since=now - timedelta(hours=1))
    assert len(rows) == 2
    assert accounts.player_history(session, alice, a, since=now + timedelta(hours=1)) == []
    assert accounts.player_history(session, alice, a, until=now - timedelta(hours=1)) == []
    assert [r.type for r in accounts.player_history(session, alice, None, types=["transfer"])] == ["transfer"]
    with pytest.raises(InvalidInput):
        accounts.player_history(session, alice, None, types=["bogus"])


def test_history_over_several_accounts_pages_each_side_once(session, make_player):
    alice, a = make_player("alice")
    bob, b = make_player("bob")
    # A second account for alice (as companies will be): reuse bob's by moving ownership in SQL.
    from economy_app.models import Account

    with session.get_bind().begin() as conn:
        conn.execute(
            Account.__table__.update().where(Account.__table__.c.id == b).values(owner_id=alice, kind="company")
        )
    for cents in range(1, 8):
        accounts.transfer(session, actor_id=alice, from_account_id=a, to_account_id=b, amount=cents)
    seen, before = [], None
    while True:
        page = accounts.player_history(session, alice, None, before=before, limit=3)
        seen.extend((r.id, r.account_id) for r in page)
        if len(page) < 3:
            break
        before = ledger.cursor(page[-1])
    assert len(seen) == len(set(seen)) == 2 * 7 + 2  # each transfer from both sides, plus two deposits
    assert seen == sorted(seen, key=lambda k: (-k[0], k[1]))


def test_history_csv_is_exact_and_bounded(session, make_player):
    alice, a = make_player("alice")
    bob, b = make_player("bob")
    accounts.transfer(
        session, actor_id=alice, from_account_id=a, to_account_id=b, amount=123_456, description='rent, "march"'
    )
    text, count, truncated = accounts.history_csv(session, alice)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert count == 2 and not truncated
    assert rows[0]["Amount"] == "-1234.56" and rows[0]["Description"] == 'rent, "march"'
    assert rows[0]["Counterpart"] == "bob" and rows[1]["Amount"] == "10000.00"
    # Words people read, not the database's: the account's name, the type's name, and the running balance.
    assert [(r["Account"], r["Type"], r["Balance after"]) for r in rows] == [
        ("alice", "Transfer", "8765.44"),
        ("alice", "Welcome deposit", "10000.00"),
    ]
    text, count, truncated = accounts.history_csv(session, alice, max_rows=1)
    assert count == 1 and truncated
    assert money.format_decimal(-5) == "-0.05" and money.format_decimal(100) == "1.00"
    assert session.query(LedgerEntry).count() == 3


def test_date_ranges_are_exact_when_times_and_ids_disagree(session, make_player):
    """Entries whose created_at runs a little out of id order (as concurrent PostgreSQL postings can)."""
    import random

    from economy_app.services._tx import unit

    alice, a = make_player("alice")
    bob, b = make_player("bob")
    base = utcnow() - timedelta(days=3)
    rng = random.Random(5)
    stamps = []
    for i in range(60):
        at = base + timedelta(hours=i) + timedelta(seconds=rng.randint(-90, 90))  # jitter well inside the margin
        stamps.append(at)
        with unit(session, write=True):
            ledger.post(session, from_account_id=a, to_account_id=b, amount=i + 1, type="transfer", now=at)
    everything = accounts.player_history(session, alice, a, limit=500)
    for since_h, until_h in ((0, 5), (10, 11), (20, 59), (58, 80), (-5, 0)):
        since, until = base + timedelta(hours=since_h), base + timedelta(hours=until_h)
        got = {r.id for r in accounts.player_history(session, alice, a, since=since, until=until, limit=500)}
        want = {r.id for r in everything if since <= r.created_at < until}
        assert got == want, (since_h, until_h)


def test_history_csv_runs_no_formulas(session, make_player, make_company):
    """Issue 12, item 6: names and descriptions a player chose must not run as spreadsheet formulas."""
    victim, v = make_player("victim")
    mallory, m = make_player("mallory")
    _, evil = make_company(mallory, "EVIL", name='=HYPERLINK("http://evil.example","Refund")')
    accounts.transfer(session, actor_id=mallory, from_account_id=m, to_account_id=evil, amount=1_000)
    descriptions = ["=cmd|' /C calc'!A0", "@SUM(1+1)", "+1+1", "-2+3", "fine; =not a formula"]
    for text in descriptions:
        accounts.transfer(session, actor_id=mallory, from_account_id=evil, to_account_id=v, amount=1, description=text)
    text, count, _ = accounts.history_csv(session, victim)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert count == len(descriptions) + 1
    for row in rows:
        for column in accounts.CSV_COLUMNS:
            assert not row[column].startswith(("=", "+", "-", "@", "\t", "\r")), (column, row[column])
    paid = [r for r in rows if r["Type"] == "Transfer"]
    assert {r["Counterpart"] for r in paid} == {'\'=HYPERLINK("http://evil.example","Refund")'}
    assert sorted(r["Description"] for r in paid) == sorted(
        ["'=cmd|' /C calc'!A0", "'@SUM(1+1)", "'+1+1", "'-2+3", "fine; '=not a formula"]
    )
    assert {r["Amount"] for r in paid} == {"0.01"}  # the amount column is a number, left as it is
    text, _, _ = accounts.history_csv(session, mallory)
    assert "-10.00" in {r["Amount"] for r in csv.DictReader(io.StringIO(text))}  # negatives stay numbers
    # A company's name a player chose is an account name in the CSV too: defused there as well.
    assert {r["Account"] for r in csv.DictReader(io.StringIO(text))} == {
        "mallory",
        '\'=HYPERLINK("http://evil.example","Refund")',
    }
    assert [accounts.csv_cell(t) for t in ("\tx", "\rx", "x=1", "")] == ["'\tx", "'\rx", "x=1", ""]


def test_no_cell_starts_a_formula_in_a_semicolon_locale(session, make_player):
    """Attack finding 10: the file is comma separated, but a spreadsheet whose list separator is ';' (Excel in
    German, French, Italian, Spanish, Dutch ... locales, opening a double-clicked .csv) splits each line on ';'.
    A description such as ``Invoice;=1+2`` has no comma and no quote, so it was written unquoted, and there the
    text after the ';' is a cell of its own that starts a formula. The same for a tab (a tab-separated read)."""
    victim, v = make_player("victim")
    mallory, m = make_player("mallory")
    texts = (
        "Invoice;=1+2",
        "Refund;@SUM(9*9)",
        "x;-2+3",
        "y;+4+4",
        "z;=cmd|' /C calc'!A0",
        "w;  =1+1",
        "t\t=2+2",
        "u;;=3+3",
        "v;\t=4",
    )
    for text in texts:
        accounts.transfer(session, actor_id=mallory, from_account_id=m, to_account_id=v, amount=1, description=text)
    text, count, _ = accounts.history_csv(session, victim)
    assert count == len(texts) + 1
    for separator in (";", "\t", ","):
        cells = [cell for row in csv.reader(io.StringIO(text), delimiter=separator) for cell in row]
        assert [c for c in cells if c.startswith(("=", "+", "-", "@", "\t", "\r"))] == [], separator
    # Read back as the comma-separated file it is, each description is the player's text, defused.
    rows = list(csv.DictReader(io.StringIO(text)))
    assert sorted(r["Description"] for r in rows if r["Type"] == "Transfer") == sorted(
        [
            "Invoice;'=1+2",
            "Refund;'@SUM(9*9)",
            "x;'-2+3",
            "y;'+4+4",
            "z;'=cmd|' /C calc'!A0",
            "w;  '=1+1",
            "t\t'=2+2",
            "u;;'=3+3",
            "v;'\t'=4",
        ]
    )
    assert [accounts.csv_cell(t) for t in ("a;b", "a; b-c", "12;34", "=a;=b", " =c")] == [
        "a;b",
        "a; b-c",
        "12;34",
        "'=a;'=b",
        " '=c",
    ]
