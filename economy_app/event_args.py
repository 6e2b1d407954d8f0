"""What event handlers receive from the browser, parsed once: ids, text arguments, form fields, days and
amounts. Anything a browser would not send is refused here ("not found", a message), never trusted.
No Reflex, no database: unit-tested directly (tests/unit/test_display.py)."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

from economy_app.money import AmountError, format_cents, parse_dollars

MAX_ID = 2_147_483_647  # ids are 32-bit INTEGER columns on both databases


_ID_RE = re.compile(r"^[0-9]{1,10}$")  # ASCII digits only: '²' or '١٢' pass str.isdigit(), not this


def parse_id(value) -> int | None:
    """Every id from the URL or an event goes through here once: ``'12'``, ``12`` or ``' 12 '`` is 12; anything
    else (another type, a sign, other digits, zero, a number past the id columns) is None, "not found"."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = value.strip()
        value = int(text) if _ID_RE.match(text) else None
    if not isinstance(value, int):
        return None
    return value if 1 <= value <= MAX_ID else None


_SURROGATE = re.compile("[\ud800-\udfff]")


def text_arg(value, limit: int) -> str:
    """A text argument from an event: the string cut to ``limit`` characters; any other type is ''. A lone
    surrogate (JSON can carry one, no keyboard types one, and no database driver can encode it) is dropped."""
    return _SURROGATE.sub("", value)[:limit] if isinstance(value, str) else ""


def form_text(form, key: str, limit: int = 10_000) -> str | None:
    """A field of a submitted form: its text (cut to ``limit``), '' when absent, None when the form or the field
    is not what a browser sends (not a dict, not a string)."""
    if not isinstance(form, dict):
        return None
    value = form.get(key, "")
    return text_arg(value, limit) if isinstance(value, str) else None


def check_amount_text(
    text: str, *, balance: int | None, maximum: int, most: str = "The most you can send at once is {}."
) -> tuple[int | None, str]:
    """(cents, "") for a sendable amount, else (None, the message to show next to the field); ``most`` words the
    maximum ("{}" is the amount)."""
    try:
        cents = parse_dollars(text)
    except AmountError as e:
        return None, str(e)
    if cents > maximum:
        return None, most.format(format_cents(maximum))
    if balance is not None and cents > balance:
        return None, f"That is more than this account holds ({format_cents(balance)})."
    return cents, ""


def parse_day(text: str) -> date | None:
    """'2026-11-21' -> a date; '' -> None; anything else raises ValueError."""
    text = (text or "").strip()
    return date.fromisoformat(text) if text else None


def day_range(since_text: str, until_text: str) -> tuple[datetime | None, datetime | None]:
    """Inclusive day inputs -> [since, until) datetimes (naive UTC). Raises ValueError for bad dates. The
    last day there is (9999-12-31) has no next day: as an end it bounds nothing (None), like no end at all."""
    since, until = parse_day(since_text), parse_day(until_text)
    if since and until and until < since:
        raise ValueError("The end date is before the start date.")
    return (
        datetime.combine(since, time()) if since else None,
        datetime.combine(until + timedelta(days=1), time()) if until and until < date.max else None,
    )


def counter_offer_form(form) -> tuple[int, int]:
    """A counter-offer form (``offer_id``, ``price``) as (offer id, price in cents); ``AmountError`` with the
    player's message when it is incomplete or the price is not an amount (an unknown id is 0: the service
    refuses it)."""
    offer_text, price_text = form_text(form, "offer_id", 12), form_text(form, "price", 32)
    if offer_text is None or price_text is None:
        raise AmountError("Fill in the form.")
    try:
        return parse_id(offer_text) or 0, parse_dollars(price_text)
    except AmountError as e:
        raise AmountError(f"Counter-offer: {e}") from None
