"""Parsing what a person types into cents, and formatting cents."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from economy_app.money import AmountError, format_cents, parse_dollars


@pytest.mark.parametrize("text,cents", [
    ("1234.56", 123456), ("1,234.56", 123456), ("$10", 1000), ("0.01", 1), ("10.5", 1050),
    (" 7 ", 700), ("$1,000,000", 100_000_000), ("0.10", 10),
])
def test_parse_accepts(text, cents):
    assert parse_dollars(text) == cents


@pytest.mark.parametrize("text,why", [
    ("-5", "positive"), ("$-5", "positive"), ("0", "more than"), ("0.00", "more than"), ("1.234", "two decimals"),
    ("abc", "not an amount"), ("NaN", "not an amount"), ("inf", "not an amount"), ("1e5", "not an amount"),
    ("", "Enter"), ("1,23.00", "not an amount"), ("12,34", "not an amount"), ("1.", "not an amount"),
])
def test_parse_rejects_with_a_reason(text, why):
    with pytest.raises(AmountError) as info:
        parse_dollars(text)
    assert why in str(info.value)


@pytest.mark.parametrize("cents,text", [(123456, "$1,234.56"), (5, "$0.05"), (-5, "-$0.05"), (0, "$0.00"),
                                        (100_000_000, "$1,000,000.00")])
def test_format(cents, text):
    assert format_cents(cents) == text


def test_format_sign():
    assert format_cents(5, sign=True) == "+$0.05" and format_cents(-5, sign=True) == "-$0.05"


@given(st.integers(min_value=1, max_value=10**15))
def test_format_then_parse_round_trips(cents):
    assert parse_dollars(format_cents(cents)) == cents
