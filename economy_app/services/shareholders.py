"""A public company answers to its shareholders: whose its cash is, the founder's stake, what it can pay.

Once a company is public its cash belongs to the business and its shareholders:

- Money never leaves its account as a plain transfer to its owner or to any account the owner controls
  (their personal account, another of their companies): ``check_outflow`` refuses it, saying why and what
  to do instead. The owner takes money out the way every shareholder does: by selling shares they hold.
- Payments to anyone else stay possible (paying another company, repaying a loan), capped: in any rolling
  24 hours at most ``OUTFLOW_PERCENT`` of the company's equity may go out: its cash less what buying back
  every other shareholder's shares would cost (``stock_trading.others_buyback_cents``: money paid for shares
  is owed back to their holders, so a buyer's money never raises what may be paid away), counted as a share
  of the equity it had before those payments (plus what already went out in the window), so one payment or
  ten of the same total are allowed alike. The count runs under the company's row lock (PostgreSQL
  ``SELECT ... FOR UPDATE``; SQLite's write unit holds the write lock), so payments sent at once cannot
  beat it together.

``check_outflow`` is the one place this rule lives: every movement of money out of a company's account that
is not a trade of its own shares calls it (``accounts.transfer`` for payments, ``stock_trading.buy`` for a
company's purchases of other companies' shares, ``company_sales`` when a company pays the price of another;
whatever else pays out of a company later calls it too, and extends ``CAPPED_TYPES`` when it should count against
the cap). A company's sale of shares it holds brings money in, and the buyback of its own shares is the
shareholders' way out: neither calls it. Nor does a dividend (``services/dividends.py``): every holder is paid pro
rata by the shares they hold, the owner only through theirs and only as far as their shares coming last allows,
so it is neither refused nor counted against the cap (it is capped by that, by the cash and by a cool-down).

At the IPO (``issue_shares``), ``FOUNDER_STAKE_SHARES`` of the shares go to the founder's personal holding at
the IPO price as their average cost, and the rest to the treasury. The price curve (``stock_trading.py``) is a
function of the shares outside the treasury, so its base is set for the founder's stake to be out: the spot
price at that many shares outside the treasury is the IPO price.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, insert, select, update
from sqlmodel import Session

from economy_app.db import DriverRead
from economy_app.models import (
    MICROS_PER_CENT,
    Account,
    Balance,
    Company,
    Holding,
    LedgerEntry,
    StockPrice,
    utcnow,
)
from economy_app.money import format_cents
from economy_app.services import ledger, live, stock_trading
from economy_app.services._tx import in_write_unit, unit
from economy_app.services.errors import CompanyNotFound, OutflowLimit, PublicCashRefused

companies_t = Company.__table__
accounts_t = Account.__table__
balances_t = Balance.__table__
holdings_t = Holding.__table__
ledger_t = LedgerEntry.__table__

FOUNDER_STAKE_SHARES = 200_000  # of the 1,000,000 shares, to the founder at the IPO
OUTFLOW_PERCENT = 10  # of a public company's cash, to others in any rolling 24 hours
OUTFLOW_WINDOW = timedelta(hours=24)
# The ledger entries out of a public company's account that count against the cap: payments, purchases of other
# companies' shares (stock_trading.buy calls check_outflow for them too) and of products (purchases.buy), and the
# price of a company it pays for (company_sales). Not dividends: they go to every holder alike (dividends.py).
CAPPED_TYPES = ("transfer", "stock_purchase", "product_purchase", "company_sale")

_COMPANY_OF_ACCOUNT = select(
    companies_t.c.id,
    companies_t.c.name,
    companies_t.c.owner_id,
    companies_t.c.is_public,
    companies_t.c.public_at,
    companies_t.c.base_price_micros,
    companies_t.c.share_price_micros,
    companies_t.c.total_shares,
    companies_t.c.treasury_shares,
).where(companies_t.c.account_id == bindparam("account"))
# Read by every payment (check_outflow): compiled once, straight to the driver; locked on PostgreSQL.
_COMPANY_OF_ACCOUNT_READ = {
    False: DriverRead(_COMPANY_OF_ACCOUNT),
    True: DriverRead(_COMPANY_OF_ACCOUNT.with_for_update()),
}
_OWNER_OF_ACCOUNT = select(accounts_t.c.owner_id).where(accounts_t.c.id == bindparam("account"))
_CASH = select(balances_t.c.balance).where(balances_t.c.account_id == bindparam("account"))


def owner_message(name: str) -> str:
    return (
        f"{name} is public: its cash belongs to the business and its shareholders. "
        "Take money out by paying a dividend, which every shareholder shares in, or by selling shares you hold."
    )


@dataclass(frozen=True)
class OutflowRoom:
    company_id: int
    name: str
    cash_cents: int
    sent_cents: int  # what went out to others in the last 24 hours (since the IPO)
    room_cents: int  # what may still go out now
    frees_at: datetime | None  # when more may go out, when nothing may now
    owed_cents: int = 0  # what buying back every other shareholder's shares would cost (not the company's to pay away)


def _window_start(public_at: datetime | None, now: datetime) -> datetime:
    start = now - OUTFLOW_WINDOW
    return max(start, public_at) if public_at is not None else start


def _allowance(cash: int, sent: int, owed: int) -> int:
    """What may still go out: OUTFLOW_PERCENT of the equity before the window's payments (the cash then less
    what the other shareholders' shares are owed), less those payments."""
    return max(0, max(0, cash + sent - owed) * OUTFLOW_PERCENT // 100 - sent)


def _room(s: Session, company, account_id: int, now: datetime, *, when: bool) -> OutflowRoom:
    conn = s.connection()
    cash = conn.execute(_CASH, {"account": account_id}).scalar() or 0
    owed = stock_trading.others_buyback_cents(*stock_trading.curve_of(company), stock_trading.owner_held(s, company.id))
    window = (
        ledger_t.c.from_account_id == account_id,
        ledger_t.c.type.in_(CAPPED_TYPES),
        ledger_t.c.created_at > now - OUTFLOW_WINDOW,
        ledger_t.c.created_at >= _window_start(company.public_at, now),
    )
    sent = int(conn.execute(select(func.coalesce(func.sum(ledger_t.c.amount), 0)).where(*window)).scalar_one())
    room, frees_at = _allowance(cash, sent, owed), None
    if when and room == 0 and sent:
        # Walk the window's payments oldest first: when each leaves the window, is there room again?
        left = sent
        for at, amount in conn.execute(
            select(ledger_t.c.created_at, ledger_t.c.amount)
            .where(*window)
            .order_by(ledger_t.c.created_at, ledger_t.c.id)
        ):
            left -= amount
            if _allowance(cash, left, owed) > 0:
                frees_at = at + OUTFLOW_WINDOW
                break
    return OutflowRoom(company.id, company.name, cash, sent, room, frees_at, owed)


def _company_of(s: Session, account_id: int, *, lock: bool):
    locked = lock and s.get_bind().dialect.name == "postgresql"
    return _COMPANY_OF_ACCOUNT_READ[locked].first_in(s, {"account": account_id})


def check_outflow(
    s: Session,
    account_id: int,
    to_account_id: int,
    amount: int,
    *,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> None:
    """Refuse money leaving a public company's account against its shareholders (see the module's rules).
    Runs inside the caller's write unit, before the posting; nothing for any other account.

    The company's row is locked first (then ``ledger.post`` locks the balances: the order trades use), so
    two payments out of one company are counted one after the other. A request whose idempotency key was
    already posted is let through: ``ledger.post`` replays it, moving nothing."""
    if not in_write_unit(s):
        raise RuntimeError("check_outflow() must run inside a write unit")
    company = _company_of(s, account_id, lock=True)
    if company is None or not company.is_public:
        return
    if ledger.key_seen(s, idempotency_key):
        return
    target_owner = s.connection().execute(_OWNER_OF_ACCOUNT, {"account": to_account_id}).scalar()
    if target_owner is not None and target_owner == company.owner_id:
        raise PublicCashRefused(owner_message(company.name))
    room = _room(s, company, account_id, now or utcnow(), when=True)
    if amount > room.room_cents:
        raise OutflowLimit(outflow_refusal(room))


def outflow_refusal(room: OutflowRoom) -> str:
    """What a payment past the cap is told: the rule, and how much may still go out today (or from when)."""
    rule = (
        f"{room.name} is public: in any 24 hours at most {OUTFLOW_PERCENT}% of its equity (its cash less what "
        "buying back its other shareholders' shares would cost) may go out."
    )
    if room.room_cents:
        return f"{rule} {format_cents(room.room_cents)} may still go out today."
    later = f"; more may go out from {room.frees_at:%Y-%m-%d %H:%M} UTC" if room.frees_at else ""
    return f"{rule} Nothing more may go out now{later}."


def outflow_room(s: Session, account_id: int, *, now: datetime | None = None) -> OutflowRoom | None:
    """What may still go out of a public company's account now (None for any other account)."""
    with unit(s, write=False):
        company = _company_of(s, account_id, lock=False)
        if company is None or not company.is_public:
            return None
        return _room(s, company, account_id, now or utcnow(), when=True)


# --------------------------------------------------------------------------- the IPO


def ipo_curve(price_micros: int, stake: int, total_shares: int) -> tuple[int, int]:
    """(base, spot price) of a curve whose spot price with ``stake`` shares out is ``price_micros``: the largest
    base whose spot price is not above it (equal to it whenever an integer base reaches it, else a micro-dollar
    below)."""
    base = stock_trading.base_for_price(price_micros, stake, total_shares)
    while stock_trading.spot_price(base + 1, stake, total_shares) <= price_micros:
        base += 1
    return base, stock_trading.spot_price(base, stake, total_shares)


def issue_shares(
    s: Session, company_id: int, *, owner_id: int, price_micros: int, total_shares: int, now: datetime
) -> bool:
    """Take a private company public (inside the caller's write unit, the company's row locked): the founder's
    stake to their personal holding at the IPO price, the rest to the treasury, the curve set for those outstanding shares.
    Returns False when it was already public."""
    founder_account = s.execute(
        select(accounts_t.c.id).where(accounts_t.c.owner_id == owner_id, accounts_t.c.kind == "personal")
    ).scalar()
    stake = min(FOUNDER_STAKE_SHARES, total_shares) if founder_account is not None else 0
    base, price = ipo_curve(price_micros, stake, total_shares)
    changed = s.execute(
        update(companies_t)
        .where(companies_t.c.id == company_id, companies_t.c.is_public.is_(False))
        .values(
            is_public=True,
            public_at=now,
            total_shares=total_shares,
            treasury_shares=total_shares - stake,
            share_price_micros=price,
            ipo_price_micros=price,
            base_price_micros=base,
        )
        .returning(companies_t.c.id)
    ).first()
    if changed is None:
        return False
    if stake:
        s.execute(
            insert(holdings_t).values(
                company_id=company_id, account_id=founder_account, shares=stake, avg_price_micros=price, updated_at=now
            )
        )
        live.touch(s, live.account(founder_account))
    s.execute(
        insert(StockPrice.__table__).values(
            company_id=company_id, price_micros=price, source="ipo", shares=stake, created_at=now
        )
    )
    live.touch(s, live.company(company_id), live.MARKET, live.ECONOMY)
    return True


# --------------------------------------------------------------------------- what the company can pay


@dataclass(frozen=True)
class Payout:
    """What a public company could pay its shareholders now."""

    cash_cents: int
    held_by_players: int  # shares outside the treasury
    buyback_shares: int  # the most of them its cash buys back now
    cash_per_share_micros: int  # cash / every share (the basis of the market cap)
    owner_held: int = 0  # of held_by_players, the owner's (through every account they own)
    owner_can_sell: int = 0  # the most of those it buys back now: the owner's shares come last


def payout(company, cash_cents: int, owner_held: int = 0) -> Payout:
    """``company``: a public company's row (base_price_micros, share_price_micros, total_shares,
    treasury_shares); ``owner_held``: the shares its owner holds in it (``stock_trading.OWNER_HELD``)."""
    base, x, n = stock_trading.curve_of(company)
    return Payout(
        cash_cents=cash_cents,
        held_by_players=x,
        buyback_shares=stock_trading.max_buyback_shares(base, x, n, cash_cents),
        cash_per_share_micros=cash_cents * MICROS_PER_CENT // n if n else 0,
        owner_held=owner_held,
        owner_can_sell=stock_trading.max_owner_sale(base, x, n, cash_cents, owner_held),
    )


@dataclass(frozen=True)
class IpoStatus:
    """Going public, for the owner's dashboard and the company's profile."""

    is_public: bool
    cash_cents: int
    threshold_cents: int  # a private company goes public once its cash is above this
    progress_permille: int  # cash against the threshold, at most 1000
    public_at: datetime | None = None
    ipo_price_micros: int = 0
    price_micros: int = 0
    total_shares: int = 0
    treasury_shares: int = 0
    founder_stake: int = 0  # shares the owner holds in it, through every account they own
    ipo_market_cap_cents: int = 0
    market_cap_cents: int = 0
    payout: Payout | None = None


def ipo_status(s: Session, company_id: int) -> IpoStatus:
    from economy_app.services.companies import PUBLIC_THRESHOLD_CENTS  # (companies calls issue_shares)

    with unit(s, write=False):
        c = s.execute(
            select(companies_t, func.coalesce(balances_t.c.balance, 0).label("cash"))
            .select_from(companies_t)
            .outerjoin(balances_t, balances_t.c.account_id == companies_t.c.account_id)
            .where(companies_t.c.id == company_id)
        ).first()
        if c is None:
            raise CompanyNotFound("Company not found.")
        owner_held = stock_trading.owner_held(s, company_id)
    cash = int(c.cash)
    progress = min(1000, cash * 1000 // PUBLIC_THRESHOLD_CENTS) if cash > 0 else 0
    if not c.is_public:
        return IpoStatus(False, cash, PUBLIC_THRESHOLD_CENTS, progress)
    return IpoStatus(
        True,
        cash,
        PUBLIC_THRESHOLD_CENTS,
        1000,
        public_at=c.public_at,
        ipo_price_micros=c.ipo_price_micros,
        price_micros=c.share_price_micros,
        total_shares=c.total_shares,
        treasury_shares=c.treasury_shares,
        founder_stake=int(owner_held),
        ipo_market_cap_cents=c.total_shares * c.ipo_price_micros // MICROS_PER_CENT,
        market_cap_cents=c.total_shares * c.share_price_micros // MICROS_PER_CENT,
        payout=payout(c, cash, int(owner_held)),
    )
