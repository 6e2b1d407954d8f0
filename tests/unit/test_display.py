"""The state helpers: display rows, amount checks with their messages, the preview, date ranges."""

from __future__ import annotations

from datetime import datetime

import pytest

from economy_app.display import account_item, history_item, market_note, send_preview
from economy_app.event_args import check_amount_text, day_range, form_text, parse_id, text_arg
from economy_app.services.accounts import AccountView
from economy_app.services.ledger import HistoryRow

MAX = 100_000_000


@pytest.mark.parametrize(
    "text,balance,message",
    [
        ("-5", 10_000, "positive"),
        ("0", 10_000, "more than $0.00"),
        ("1.234", 10_000, "two decimals"),
        ("ten", 10_000, "not an amount"),
        ("NaN", 10_000, "not an amount"),
        ("inf", 10_000, "not an amount"),
        ("1,000,000.01", 10**12, "most you can send at once is $1,000,000.00"),
        ("100.01", 10_000, "more than this account holds ($100.00)"),
    ],
)
def test_amount_messages(text, balance, message):
    cents, error = check_amount_text(text, balance=balance, maximum=MAX)
    assert cents is None and message in error


@pytest.mark.parametrize("text,cents", [("1234.56", 123456), ("1,234.56", 123456), ("$10", 1000), ("100", 10000)])
def test_amount_accepted(text, cents):
    assert check_amount_text(text, balance=123456, maximum=MAX) == (cents, "")


def test_preview():
    assert send_preview(123456, "alice", 1_000_000, "bob") == (
        "You send $1,234.56 from alice to bob; alice will have $8,765.44."
    )


def test_history_item_signs_and_labels():
    row = HistoryRow(
        id=7,
        created_at=datetime(2026, 11, 21, 10, 5, 9),
        account_id=2,
        type="marketplace_batch",
        amount=500,
        signed_amount=-500,
        counterpart_account_id=1,
        counterpart_name="Economy (system)",
        description=None,
        batch_count=1234,
    )
    item = history_item(row, {2: "alice"})
    assert (item.date, item.account, item.type, item.amount, item.cents, item.batch, item.key) == (
        "2026-11-21 10:05",
        "alice",
        "Marketplace batch",
        "-$5.00",
        -500,
        "1,234 units",
        "7-2",
    )
    credit = history_item(HistoryRow(**{**row.__dict__, "signed_amount": 500, "batch_count": None}), {})
    assert credit.amount == "+$5.00" and credit.account == "#2" and credit.batch == ""


def test_account_item_flags_a_missing_balance_row():
    view = AccountView(
        id=2,
        name="alice",
        kind="personal",
        owner_id=1,
        company_id=None,
        balance=-5,
        last_updated=None,
        balance_from_cache=True,
    )
    item = account_item(view)
    assert (item.balance, item.kind, item.updated) == ("-$0.05", "Personal", "never") and item.warning


def test_day_range():
    assert day_range("", "") == (None, None)
    since, until = day_range("2026-11-01", "2026-11-21")
    assert since == datetime(2026, 11, 1) and until == datetime(2026, 11, 22)
    with pytest.raises(ValueError):
        day_range("2026-11-21", "2026-11-01")
    with pytest.raises(ValueError):
        day_range("yesterday", "")
    # The last day there is has no next day: it bounds nothing (it raised OverflowError, a server error).
    assert day_range("", "9999-12-31") == (None, None)
    assert day_range("9999-12-31", "9999-12-31") == (datetime(9999, 12, 31), None)
    assert day_range("0001-01-01", "0001-01-01") == (datetime(1, 1, 1), datetime(1, 1, 2))


@pytest.mark.parametrize(
    "value,parsed",
    [
        ("12", 12),
        (12, 12),
        (" 12 ", 12),
        ("2147483647", 2_147_483_647),
        ("99999999999999999999", None),
        (10**20, None),
        ("2147483648", None),  # past the id columns
        ("²", None),
        ("١٢", None),
        ("１２", None),  # str.isdigit() says yes to these
        ("0", None),
        (0, None),
        ("-1", None),
        (-1, None),
        ("+1", None),
        ("1e3", None),
        ("1.0", None),
        (1.0, None),
        ("", None),
        (None, None),
        (True, None),
        ([1], None),
        ({"id": 1}, None),
        ("1" * 10_000, None),
    ],
)
def test_parse_id_is_a_bounded_positive_int_or_not_found(value, parsed):
    """Issue 12, item 8: '?id=99999999999999999999' overflowed the database driver, '?company=²' passed isdigit()."""
    assert parse_id(value) == parsed


def test_text_and_form_arguments():
    assert text_arg("abcdef", 3) == "abc" and text_arg(10**40, 3) == "" and text_arg(None, 3) == ""
    assert form_text({"name": "Acme"}, "name") == "Acme" and form_text({}, "name") == ""
    assert form_text({"name": 7}, "name") is None and form_text(["name"], "name") is None
    assert form_text({"name": "x" * 20_000}, "name") == "x" * 10_000


def test_only_the_mints_rows_get_the_system_badge():
    """Issue 12, item 9: a company named like the system paid a victim; its row looked like the welcome deposit."""
    real = HistoryRow(
        id=1,
        created_at=datetime(2026, 11, 21),
        account_id=5,
        type="initial_deposit",
        amount=1,
        signed_amount=1,
        counterpart_account_id=1,
        counterpart_name="Economy (system)",
        description="Welcome to the economy",
        batch_count=None,
    )
    fake = HistoryRow(**{**real.__dict__, "id": 2, "type": "transfer", "counterpart_account_id": 9})
    assert history_item(real, {}, 1).system is True
    assert history_item(fake, {}, 1).system is False
    assert history_item(real, {}).system is False  # no mint known: no badge


def test_the_market_note_counts_products_ever_listed():
    """The owner sees both bounds on listing: on sale against the listing limit, created against twice it."""
    assert market_note(3, 30, 0, None, listed=(41, 60)) == (
        "3 of 30 products on sale (the most a company may list), 41 of 60 ever listed (withdrawn ones too); "
        "the public sees a new listing at the next run."
    )
