"""Parsing what a person types into cents, and formatting cents."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from economy_app.money import AmountError, format_cents, parse_dollars, parse_whole


@pytest.mark.parametrize(
    "text,cents",
    [
        ("1234.56", 123456),
        ("1,234.56", 123456),
        ("$10", 1000),
        ("0.01", 1),
        ("10.5", 1050),
        (" 7 ", 700),
        ("$1,000,000", 100_000_000),
        ("0.10", 10),
    ],
)
def test_parse_accepts(text, cents):
    assert parse_dollars(text) == cents


@pytest.mark.parametrize(
    "text,why",
    [
        ("-5", "positive"),
        ("$-5", "positive"),
        ("0", "more than"),
        ("0.00", "more than"),
        ("1.234", "two decimals"),
        ("abc", "not an amount"),
        ("NaN", "not an amount"),
        ("inf", "not an amount"),
        ("1e5", "not an amount"),
        ("", "Enter"),
        ("1,23.00", "not an amount"),
        ("12,34", "not an amount"),
        ("1.", "not an amount"),
    ],
)
def test_parse_rejects_with_a_reason(text, why):
    with pytest.raises(AmountError) as info:
        parse_dollars(text)
    assert why in str(info.value)


@pytest.mark.parametrize(
    "cents,text", [(123456, "$1,234.56"), (5, "$0.05"), (-5, "-$0.05"), (0, "$0.00"), (100_000_000, "$1,000,000.00")]
)
def test_format(cents, text):
    assert format_cents(cents) == text


def test_format_sign():
    assert format_cents(5, sign=True) == "+$0.05" and format_cents(-5, sign=True) == "-$0.05"


@given(st.integers(min_value=1, max_value=10**15))
def test_format_then_parse_round_trips(cents):
    assert parse_dollars(format_cents(cents)) == cents


@pytest.mark.parametrize(
    "text",
    [
        "١٢٣",
        "१२३",
        "１２",
        "1２",
        "$١٠",
        "١٢.٥٠",  # Arabic-Indic, Devanagari, full-width digits
        "1 000",
        "1 000.00",
        "1\u00a0000",
        "1\u202f000",
        "$ 1 0",  # spaces inside the number
        ",100",
        "1,0000",
        "1,00.00",
        "100,",
        "1" * 40,  # misplaced commas, absurd lengths
    ],
)
def test_parse_accepts_ascii_digits_only(text):
    """Issue 12, item 7: int() and \\d take any Unicode digit, and spaces were dropped before matching."""
    with pytest.raises(AmountError):
        parse_dollars(text)


@pytest.mark.parametrize(
    "text,value",
    [
        ("1", 1),
        ("1500", 1500),
        ("1,500", 1500),
        (" 12 ", 12),
        ("1,000,000", 1_000_000),
        ("1000001", None),
        ("0", None),
        ("-5", None),
        ("+5", None),
        ("1.5", None),
        ("1 000", None),
        ("١٢", None),
        ("１２", None),
        ("1_000", None),
        ("12,34", None),
        ("", None),
        (None, None),
        (12, None),
        ("9" * 40, None),
    ],
)
def test_parse_whole(text, value):
    assert parse_whole(text, maximum=1_000_000) == value
