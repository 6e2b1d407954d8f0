"""Plain helpers that turn service results into what page states hold. No Reflex, no database:
unit-tested directly (tests/unit/test_present.py)."""

from __future__ import annotations

import dataclasses
import re
from datetime import date, datetime, time, timedelta

from economy_app.money import AmountError, format_cents, parse_dollars
from economy_app.services.stocks import format_price

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
    system: bool  # the counterpart is the system (the mint): shown with a badge no player name can produce
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


def text_arg(value, limit: int) -> str:
    """A text argument from an event: the string cut to ``limit`` characters; any other type is ''."""
    return value[:limit] if isinstance(value, str) else ""


def form_text(form, key: str, limit: int = 10_000) -> str | None:
    """A field of a submitted form: its text (cut to ``limit``), '' when absent, None when the form or the field
    is not what a browser sends (not a dict, not a string)."""
    if not isinstance(form, dict):
        return None
    value = form.get(key, "")
    return value[:limit] if isinstance(value, str) else None


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "never"


def history_item(row, account_names: dict[int, str], system_account_id: int | None = None) -> HistoryItem:
    return HistoryItem(
        id=row.id,
        key=f"{row.id}-{row.account_id}",
        date=when(row.created_at),
        account=account_names.get(row.account_id, f"#{row.account_id}"),
        type=TYPE_LABELS.get(row.type, row.type),
        counterpart=row.counterpart_name,
        system=system_account_id is not None and row.counterpart_account_id == system_account_id,
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
    """Inclusive day inputs -> [since, until) datetimes (naive UTC). Raises ValueError for bad dates. The
    last day there is (9999-12-31) has no next day: as an end it bounds nothing (None), like no end at all."""
    since, until = parse_day(since_text), parse_day(until_text)
    if since and until and until < since:
        raise ValueError("The end date is before the start date.")
    return (datetime.combine(since, time()) if since else None,
            datetime.combine(until + timedelta(days=1), time()) if until and until < date.max else None)


@dataclasses.dataclass
class CompanyItem:
    id: int
    name: str
    ticker: str
    description: str
    tags: list[str]
    owner: str
    balance: str
    cents: int
    public: bool
    products: int
    revenue_30d: str


@dataclasses.dataclass
class ProductItem:
    id: int
    name: str
    description: str
    company_id: int
    company: str
    ticker: str
    price: str
    price_input: str  # the price as the edit form shows it: '19.99'
    cost_percent: int
    active: bool
    units_sold: str
    revenue: str
    costs: str
    margin: str
    waiting: str = ""  # why the public does not buy it yet: "New listing: on sale to the public from 10:42 UTC"


def company_item(view) -> CompanyItem:
    return CompanyItem(id=view.id, name=view.name, ticker=view.ticker, description=view.description,
                       tags=list(view.tags), owner=view.owner_username, balance=format_cents(view.balance),
                       cents=view.balance, public=view.is_public, products=view.products,
                       revenue_30d=format_cents(view.revenue_30d))


def percent_text(permille: int | None) -> str:
    """Tenths of a percent as text: 345 -> '34.5%'; None -> '-'."""
    if permille is None:
        return "-"
    sign = "-" if permille < 0 else ""
    return f"{sign}{abs(permille) // 10}.{abs(permille) % 10}%"


def dollars_input(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def product_item(p, *, company: str = "", ticker: str = "") -> ProductItem:
    revenue = getattr(p, "revenue_cents", None)
    revenue = p.revenue if revenue is None else revenue
    costs = getattr(p, "costs_cents", None)
    costs = p.costs if costs is None else costs
    return ProductItem(
        id=p.id, name=p.name, description=getattr(p, "description", ""), company_id=getattr(p, "company_id", 0),
        company=getattr(p, "company_name", company), ticker=getattr(p, "ticker", ticker),
        price=format_cents(p.price_cents), price_input=dollars_input(p.price_cents), cost_percent=p.cost_percent,
        active=p.active, units_sold=f"{p.units_sold:,}", revenue=format_cents(revenue), costs=format_cents(costs),
        margin=percent_text((revenue - costs) * 1000 // revenue if revenue else None),
        waiting=hold_text(getattr(p, "public_from", None)),
    )


def hold_text(public_from: datetime | None) -> str:
    """Why a listing does not sell yet: it waits out the hold for new listings."""
    if public_from is None:
        return ""
    return f"New listing: the public starts buying it at {public_from.strftime('%H:%M')} UTC"


def market_note(on_sale: int, limit: int, hold_seconds: int, typical: int | None,
                listed: tuple[int, int] | None = None) -> str:
    """What the owner needs to list and price well: the limit, the hold, the market's typical price, and
    (``listed``: products created, the most a company may create) how many new products it may still list."""
    minutes = hold_seconds // 60
    hold = (f"a new listing waits {minutes} minute{'s' if minutes != 1 else ''} before the public sees it"
            if hold_seconds >= 60 else f"a new listing waits {hold_seconds} s before the public sees it"
            if hold_seconds else "the public sees a new listing at the next run")
    price = (f" The market's typical price is {format_cents(typical)}: the public spends most on products priced "
             f"near it, and little far above it." if typical else "")
    ever = f", {listed[0]} of {listed[1]} ever listed (withdrawn ones too)" if listed else ""
    return f"{on_sale} of {limit} products on sale (the most a company may list){ever}; {hold}.{price}"


def price_text(micros: int) -> str:
    """Share prices to four decimals: '$0.6048'."""
    return format_price(micros)


def change_text(permille: int) -> str:
    return ("+" if permille > 0 else "") + percent_text(permille)


@dataclasses.dataclass
class StockItem:
    id: int
    name: str
    ticker: str
    price: str
    change: str
    change_sign: int
    market_cap: str
    spark: list[dict]
    new_listing: bool = False  # public for less than a week
    listed: str = ""  # "New listing: public since 2026-12-01"


@dataclasses.dataclass
class PositionItem:
    account: str
    company_id: int
    name: str
    ticker: str
    shares: str
    avg_price: str
    price: str
    value: str
    gain: str
    gain_cents: int
    change: str
    change_sign: int
    note: str = ""  # the company cannot buy all of it back now: how much it can


def stock_item(row) -> StockItem:
    return StockItem(id=row.company_id, name=row.name, ticker=row.ticker, price=price_text(row.price_micros),
                     change=change_text(row.change_permille), change_sign=(row.change_permille > 0) -
                     (row.change_permille < 0), market_cap=format_cents(row.market_cap_cents),
                     spark=[{"p": p} for p in row.sparkline], new_listing=row.new_listing,
                     listed=f"New listing: public since {row.public_at:%Y-%m-%d}" if row.new_listing else "")


def position_item(p) -> PositionItem:
    return PositionItem(account=p.account_name, company_id=p.company_id, name=p.name, ticker=p.ticker,
                        shares=f"{p.shares:,}", avg_price=price_text(p.avg_price_micros), price=price_text(p.price_micros),
                        value=format_cents(p.value_cents), gain=format_cents(p.gain_cents, sign=True),
                        gain_cents=p.gain_cents, change=change_text(p.change_permille),
                        change_sign=(p.change_permille > 0) - (p.change_permille < 0), note=holding_note(p))


# --------------------------------------------------------------------------- shareholders (issue 19)


@dataclasses.dataclass
class IpoItem:
    """Going public as the owner's dashboard and the company's profile show it."""

    public: bool = False
    progress: int = 0  # percent, for the bar
    progress_text: str = ""  # "$12,345.67 of $50,000.00 (24.6%)"
    threshold: str = ""
    public_at: str = ""
    ipo_price: str = ""
    price: str = ""
    ipo_market_cap: str = ""
    market_cap: str = ""
    treasury: str = ""
    founder_stake: str = ""
    held_by_players: str = ""
    cash_per_share: str = ""
    buyback: str = ""  # "100,396 of 205,200" shares the treasury can buy back now


def buyback_text(buyback_shares: int, held_by_players: int) -> str:
    return f"{buyback_shares:,} of {held_by_players:,}"


def ipo_item(status) -> IpoItem:
    """From ``shareholders.IpoStatus``."""
    progress = f"{format_cents(status.cash_cents)} of {format_cents(status.threshold_cents)} " \
               f"({percent_text(status.progress_permille)})"
    if not status.is_public:
        return IpoItem(public=False, progress=status.progress_permille // 10, progress_text=progress,
                       threshold=format_cents(status.threshold_cents))
    pay = status.payout
    return IpoItem(
        public=True, progress=100, progress_text=progress, threshold=format_cents(status.threshold_cents),
        public_at=f"{when(status.public_at)} UTC", ipo_price=price_text(status.ipo_price_micros),
        price=price_text(status.price_micros), ipo_market_cap=format_cents(status.ipo_market_cap_cents),
        market_cap=format_cents(status.market_cap_cents), treasury=f"{status.treasury_shares:,}",
        founder_stake=f"{status.founder_stake:,}", held_by_players=f"{pay.held_by_players:,}",
        cash_per_share=price_text(pay.cash_per_share_micros),
        buyback=buyback_text(pay.buyback_shares, pay.held_by_players),
    )


def holding_note(p) -> str:
    """A portfolio position the company cannot buy back in full now (``market.Position``): say so."""
    if p.payable_in_full:
        return ""
    if p.buyback_shares <= 0:
        return f"{p.name} can't buy back any of these shares now."
    return (f"{p.name} can buy back at most {p.buyback_shares:,} of these shares now "
            f"(for {format_cents(p.payable_cents)}).")  # (never all: then it is payable in full)
