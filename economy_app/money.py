"""Money at the edges, in one module: parse what a person types into cents, and every text a cent or a
share price is shown or written as (pages, toasts, the CLI, audit rows, CSV files).

Integer arithmetic only: no float ever touches an amount.
"""

from __future__ import annotations

import re

# ASCII digits only (``\d`` would take Arabic-Indic, Devanagari or full-width digits too), grouping commas
# only every three digits, no spaces inside the number.
_AMOUNT_RE = re.compile(r"^\$?(?P<int>[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.(?P<frac>[0-9]{1,2}))?$")
_WHOLE_RE = re.compile(r"^(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)$")


class AmountError(ValueError):
    """The text is not an amount of money (the message says why)."""


def parse_dollars(text: str) -> int:
    """``"1,234.56"`` -> 123456 cents. Accepts ``$10``, ``1234.5``, ``1,234.56``.

    Rejects signs, more than two decimals, non-numbers, NaN/inf, zero, digits other than ASCII 0-9 and
    spaces or misplaced commas inside the number.
    """
    if not isinstance(text, str):
        raise AmountError("Enter an amount, like 12.50.")
    raw = text.strip()
    if not raw:
        raise AmountError("Enter an amount, like 12.50.")
    if raw.startswith("-") or raw.startswith("$-"):
        raise AmountError("The amount must be positive.")
    m = _AMOUNT_RE.match(raw) if len(raw) <= 32 else None
    if m is None:
        if re.match(r"^\$?[0-9,]*\.[0-9]{3,}$", raw):
            raise AmountError("Use at most two decimals (cents).")
        raise AmountError("That is not an amount of money. Use digits, like 1,234.56.")
    whole = int(m.group("int").replace(",", ""))
    frac = (m.group("frac") or "").ljust(2, "0")
    cents = whole * 100 + int(frac or 0)
    if cents <= 0:
        raise AmountError("The amount must be more than $0.00.")
    return cents


def parse_whole(text, *, maximum: int) -> int | None:
    """A whole number a person typed (``"1,500"``, ``"1500"``): ASCII digits with grouping commas in the right
    places, from 1 to ``maximum``; None for anything else (signs, decimals, other digits, inner spaces)."""
    if not isinstance(text, str):
        return None
    raw = text.strip()
    if len(raw) > 32 or not _WHOLE_RE.match(raw):
        return None
    value = int(raw.replace(",", ""))
    return value if 1 <= value <= maximum else None


def format_cents(cents: int, *, sign: bool = False, whole: bool = False) -> str:
    """123456 -> ``$1,234.56``; -5 -> ``-$0.05``; with ``sign``, positives get ``+``; with ``whole``, a round
    amount drops its cents (``$10,000``)."""
    negative = cents < 0
    dollars, frac = divmod(abs(int(cents)), 100)
    text = f"${dollars:,}" if whole and frac == 0 else f"${dollars:,}.{frac:02d}"
    if negative:
        return "-" + text
    return ("+" + text) if sign and cents > 0 else text


def format_maybe_cents(cents: int | None) -> str:
    """A balance copy that may be absent (a missing ``balances`` row): ``$1.00``, or ``missing``."""
    return "missing" if cents is None else format_cents(cents)


def format_dollars_input(cents: int) -> str:
    """Cents as a form field shows them for editing: 1999 -> ``19.99`` (no sign, no grouping)."""
    return f"{cents // 100}.{cents % 100:02d}"


def format_decimal(cents: int) -> str:
    """-123456 -> ``-1234.56``: an exact decimal for files (CSV), not for display."""
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(cents), 100)
    return f"{sign}{whole}.{frac:02d}"


def format_price(micros: int) -> str:
    """Share prices show four decimals: 1234567 -> ``$1.2346`` (integer rounding, half up)."""
    return format_micros(micros, 4)


def format_micros(micros: int, decimals: int) -> str:
    """Millionths of a dollar to ``decimals`` places (0 to 6), rounded half up: (511_349, 5) -> ``$0.51135``."""
    step = 10 ** (6 - decimals)
    whole, frac = divmod((micros + step // 2) // step, 10**decimals)
    return f"${whole:,}.{frac:0{decimals}d}" if decimals else f"${whole:,}"
