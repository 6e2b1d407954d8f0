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
    # A lone surrogate (JSON carries one; no keyboard types one; no database driver encodes one) is dropped; a
    # character outside the BMP, a valid pair, is kept.
    assert text_arg("rent\ud83d", 10) == "rent" and text_arg("\udc00ab", 1) == "a"
    assert text_arg("pizza \U0001f355", 10) == "pizza \U0001f355"
    assert form_text({"name": "Ac\ud800me"}, "name") == "Acme"


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


# --------------------------------------------------------------------------- issue 20: the admin's words


@pytest.mark.parametrize(
    "seconds, text",
    [
        (600, "10 min"),
        (86_400, "1 day"),
        (3_600, "1 hour"),
        (300, "5 min"),
        (5_400, "1 hour 30 min"),
        (90, "1 min 30 s"),
        (45, "45 s"),
        (172_800 + 3_600 + 7, "2 days 1 hour"),
        (0, "none"),
    ],
)
def test_intervals_in_words(seconds, text):
    from economy_app.display import duration_text

    assert duration_text(seconds) == text


@pytest.mark.parametrize(
    "ms, text", [(8, "8 ms"), (999, "999 ms"), (1_234, "1.2 s"), (125_000, "2 min 5 s"), (None, "")]
)
def test_how_long_a_run_took(ms, text):
    from economy_app.display import took_text

    assert took_text(ms) == text


def test_the_scheduler_and_the_audit_log_speak_words():
    from economy_app.display import audit_row, job_row
    from economy_app.services.operations import AuditEntry, JobStatus

    at = datetime(2026, 11, 30, 20, 24)
    job = job_row(JobStatus("purge", "Price history clean-up", 86_400, at, "ok", "", 8, False, at))
    assert (job.interval, job.duration) == ("1 day", "8 ms")
    row = audit_row(AuditEntry(at, "root", "sync_all", "all accounts", "8 accounts", True))
    assert row.action == "Synced every balance"
    assert audit_row(AuditEntry(at, "cli", "something new", "", "", True)).action == "something new"


def test_a_frozen_player_is_told_why_on_the_dashboard():
    from economy_app.display import company_frozen_notice, frozen_notices

    def view(name, kind, reason):
        return AccountView(1, name, kind, 1, None, 0, None, False, reason)

    assert frozen_notices([view("alice", "personal", None)]) == []
    [notice] = frozen_notices([view("alice", "personal", "Spam."), view("Acme", "company", "Spam.")])
    assert notice.startswith("Your account is frozen by an admin: Spam. You can still log in")
    assert notice.endswith("Your companies' accounts are frozen too.")
    assert frozen_notices([view("alice", "personal", None), view("Acme", "company", "Checks")]) == [
        company_frozen_notice("Checks", "Acme")
    ]
    assert company_frozen_notice(None) == ""
    assert "the public buys none of its products" in company_frozen_notice("Checks")


# --------------------------------------------------------------------------- chart axes (issue 20, item 3)

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from economy_app.display import cents_label, chart_axes, price_label, time_ticks, value_ticks  # noqa: E402


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 10**12), st.integers(0, 10**9))
def test_price_ticks_enclose_the_line_and_never_repeat_a_label(lo, spread):
    """A stock minutes old (a flat line, or one moved by a micro-dollar) used to show five identical labels."""
    ticks, labels, domain = value_ticks(lo, lo + spread, price_label)
    assert domain == [ticks[0], ticks[-1]] and ticks[0] <= lo and ticks[-1] >= lo + spread
    assert ticks[0] < lo or ticks[-1] > lo + spread or spread > 0  # a flat line gets room around it
    assert 2 <= len(ticks) <= 7
    shown = [labels[str(t)] for t in ticks]
    assert len(set(shown)) == len(shown), shown
    assert ticks[0] >= 0  # a price never below zero


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 10**13), st.integers(0, 10**11))
def test_money_ticks_never_repeat_a_label(lo, spread):
    ticks, labels, _ = value_ticks(lo, lo + spread, cents_label)
    shown = [labels[str(t)] for t in ticks]
    assert len(set(shown)) == len(shown), shown


@settings(max_examples=300, deadline=None)
@given(st.integers(1_600_000_000_000, 1_900_000_000_000), st.integers(0, 200 * 86_400_000))
def test_time_ticks_never_repeat_a_label(start, span):
    """An x axis from "01:25" to "01:25": a span of minutes now gets seconds, a span of days gets dates."""
    ticks, labels, domain = time_ticks(start, start + span)
    assert domain[0] <= start and domain[1] >= start + span
    assert all(domain[0] <= t <= domain[1] for t in ticks) and 1 <= len(ticks) <= 7
    shown = [labels[str(t)] for t in ticks]
    assert len(set(shown)) == len(shown), shown


def test_a_young_stocks_axes():
    from datetime import datetime, timedelta

    from economy_app.display import epoch_ms

    ipo = datetime(2026, 11, 30, 1, 25, 10)
    points = [(epoch_ms(ipo), 673_600), (epoch_ms(ipo + timedelta(seconds=40)), 673_737)]
    axes = chart_axes(points, price_label)
    assert [axes.x_labels[str(t)] for t in axes.x_ticks] == ["01:25:10", "01:25:20", "01:25:30", "01:25:40", "01:25:50"]
    assert [axes.y_labels[str(t)] for t in axes.y_ticks] == ["$0.67355", "$0.67360", "$0.67365", "$0.67370", "$0.67375"]
