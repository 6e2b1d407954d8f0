"""The state helpers: display rows, amount checks with their messages, the preview, date ranges."""

from __future__ import annotations

from datetime import datetime

import pytest

from economy_app.services.accounts import AccountView
from economy_app.services.ledger import HistoryRow
from economy_app.state.present import account_item, check_amount_text, day_range, history_item, send_preview

MAX = 100_000_000


@pytest.mark.parametrize("text,balance,message", [
    ("-5", 10_000, "positive"), ("0", 10_000, "more than $0.00"), ("1.234", 10_000, "two decimals"),
    ("ten", 10_000, "not an amount"), ("NaN", 10_000, "not an amount"), ("inf", 10_000, "not an amount"),
    ("1,000,000.01", 10**12, "most you can send at once is $1,000,000.00"),
    ("100.01", 10_000, "more than this account holds ($100.00)"),
])
def test_amount_messages(text, balance, message):
    cents, error = check_amount_text(text, balance=balance, maximum=MAX)
    assert cents is None and message in error


@pytest.mark.parametrize("text,cents", [("1234.56", 123456), ("1,234.56", 123456), ("$10", 1000), ("100", 10000)])
def test_amount_accepted(text, cents):
    assert check_amount_text(text, balance=123456, maximum=MAX) == (cents, "")


def test_preview():
    assert send_preview(123456, "alice", 1_000_000, "bob") == (
        "You send $1,234.56 from alice to bob; alice will have $8,765.44.")


def test_history_item_signs_and_labels():
    row = HistoryRow(id=7, created_at=datetime(2026, 11, 21, 10, 5, 9), account_id=2, type="marketplace_batch",
                     amount=500, signed_amount=-500, counterpart_account_id=1, counterpart_name="Economy (system)",
                     description=None, batch_count=1234)
    item = history_item(row, {2: "alice"})
    assert (item.date, item.account, item.type, item.amount, item.cents, item.batch, item.key) == (
        "2026-11-21 10:05", "alice", "Marketplace batch", "-$5.00", -500, "1,234 units", "7-2")
    credit = history_item(HistoryRow(**{**row.__dict__, "signed_amount": 500, "batch_count": None}), {})
    assert credit.amount == "+$5.00" and credit.account == "#2" and credit.batch == ""


def test_account_item_flags_a_missing_balance_row():
    view = AccountView(id=2, name="alice", kind="personal", owner_id=1, company_id=None, balance=-5,
                       last_updated=None, balance_from_cache=True)
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
