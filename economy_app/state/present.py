"""Plain helpers that turn service results into what page states hold. No Reflex, no database:
unit-tested directly (tests/unit/test_present.py)."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, time, timedelta

from economy_app.money import AmountError, format_cents, parse_dollars

TYPE_LABELS = {
    "initial_deposit": "Welcome deposit",
    "transfer": "Transfer",
    "stock_purchase": "Stock purchase",
    "stock_sale": "Stock sale",
    "product_purchase": "Product purchase",
    "product_cost": "Production cost",
    "marketplace_batch": "Marketplace batch",
    "adjustment": "Adjustment",
}
KIND_LABELS = {"personal": "Personal", "company": "Company", "system": "System"}


@dataclasses.dataclass
class HistoryItem:
    id: int
    key: str  # unique per row: "entry-account"
    date: str
    account: str
    type: str
    counterpart: str
    description: str
    amount: str
    cents: int
    batch: str


@dataclasses.dataclass
class AccountItem:
    id: int
    name: str
    kind: str
    balance: str
    cents: int
    updated: str
    warning: str


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "never"


def history_item(row, account_names: dict[int, str]) -> HistoryItem:
    return HistoryItem(
        id=row.id,
        key=f"{row.id}-{row.account_id}",
        date=when(row.created_at),
        account=account_names.get(row.account_id, f"#{row.account_id}"),
        type=TYPE_LABELS.get(row.type, row.type),
        counterpart=row.counterpart_name,
        description=row.description or "",
        amount=format_cents(row.signed_amount, sign=True),
        cents=row.signed_amount,
        batch=f"{row.batch_count:,} units" if row.batch_count else "",
    )


def account_item(view) -> AccountItem:
    return AccountItem(
        id=view.id, name=view.name, kind=KIND_LABELS.get(view.kind, view.kind), balance=format_cents(view.balance),
        cents=view.balance, updated=when(view.last_updated),
        warning="Balance record missing: showing the cached value" if view.balance_from_cache else "",
    )


def check_amount_text(text: str, *, balance: int | None, maximum: int) -> tuple[int | None, str]:
    """(cents, "") for a sendable amount, else (None, the message to show next to the field)."""
    try:
        cents = parse_dollars(text)
    except AmountError as e:
        return None, str(e)
    if cents > maximum:
        return None, f"The most you can send at once is {format_cents(maximum)}."
    if balance is not None and cents > balance:
        return None, f"That is more than this account holds ({format_cents(balance)})."
    return cents, ""


def send_preview(cents: int, source_name: str, source_balance: int, recipient_name: str) -> str:
    return (f"You send {format_cents(cents)} from {source_name} to {recipient_name}; "
            f"{source_name} will have {format_cents(source_balance - cents)}.")


def parse_day(text: str) -> date | None:
    """'2026-11-21' -> a date; '' -> None; anything else raises ValueError."""
    text = (text or "").strip()
    return date.fromisoformat(text) if text else None


def day_range(since_text: str, until_text: str) -> tuple[datetime | None, datetime | None]:
    """Inclusive day inputs -> [since, until) datetimes (naive UTC). Raises ValueError for bad dates."""
    since, until = parse_day(since_text), parse_day(until_text)
    if since and until and until < since:
        raise ValueError("The end date is before the start date.")
    return (datetime.combine(since, time()) if since else None,
            datetime.combine(until + timedelta(days=1), time()) if until else None)
