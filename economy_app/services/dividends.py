"""Dividends: the sanctioned way money leaves a public company to its owners, every holder alike.

The owner declares a total, from ``MIN_DIVIDEND_CENTS`` up to the company's cash. It is paid pro rata by shares
to every holder outside the treasury (players' personal accounts and companies' accounts; the company never
holds its own shares), each amount rounded down to the cent; what rounding leaves stays with the company. One
``dividend`` ledger entry per holder paid, all tied to one ``dividends`` row (and a ``dividend_payments`` row
each), in one transaction with everything below.

The owner is paid only through the shares they hold (the founder's stake the IPO gave them), like every other
holder. That is why a dividend is not a payment out of the company in ``shareholders.check_outflow``'s sense:
it is not counted against the 10%-a-day cap on payments to others, and it is the one way, besides selling
shares back, that a public company's cash reaches its owner.

**Ex-dividend.** The cash a dividend pays out no longer backs the shares, so the price curve's base is lowered
at once by exactly what was paid: what buying back every share outside the treasury would cost falls by the amount paid (rounded
in the company's favour, never below the $0.01 floor). So a holder's dividend plus what their shares are worth
after it equals what their shares were worth before it, nobody's net worth moves (the owner's company cash
falls by what its debt to shareholders falls), and buying just before a dividend and selling just after never
pays: the top of the curve, where a buyer's shares sit, is always above the outstanding shares' average, which is what a
share's dividend lowers.

**The owner's shares come last** (issue 19): what the owner takes out through their shares, by selling them
back or through their part of a dividend, must leave the company the cash to buy back every other holder's shares
from the top of the curve. So while the owner holds shares in it, a dividend is at most what leaves that cash
after it (``max_total``); nobody else holding shares, the owner's earnings are theirs to pay out.

Refused, changing nothing: not the owner; more than the owner's shares coming last allows; a private company (it has no shareholders); nobody outside the
treasury; less than $1.00; more than the cash; a second dividend within the cool-down
(``config.dividend_cooldown_seconds``, counted under the company's row lock); a total too small to pay any
holder a whole cent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, insert, select, update
from sqlmodel import Session

from economy_app import config
from economy_app.models import (
    MICROS_PER_CENT,
    Account,
    Balance,
    Company,
    Dividend,
    DividendPayment,
    Holding,
    StockPrice,
    utcnow,
)
from economy_app.money import format_cents, format_price
from economy_app.services import ledger, live, moderation, ownership, stock_trading
from economy_app.services._tx import unit
from economy_app.services.errors import CompanyNotFound, DividendRefused, InvalidAmount, NotCompanyOwner

companies_t = Company.__table__
accounts_t = Account.__table__
balances_t = Balance.__table__
holdings_t = Holding.__table__
dividends_t = Dividend.__table__
payments_t = DividendPayment.__table__

MIN_DIVIDEND_CENTS = 100  # $1.00
HISTORY_LIMIT = 20


@dataclass(frozen=True)
class Payee:
    account_id: int
    name: str  # the holding account's name (a player's username, or a company's name)
    shares: int
    amount_cents: int  # rounded down; 0 for a holding too small for a whole cent


@dataclass(frozen=True)
class DividendPlan:
    """What a dividend of ``declared_cents`` pays now: the preview, and exactly what ``declare`` does."""

    company_id: int
    name: str
    ticker: str
    declared_cents: int
    paid_cents: int
    remainder_cents: int  # what rounding leaves with the company
    per_share_micros: int  # declared / shares outside the treasury, rounded down
    shares: int  # outside the treasury
    payees: list[Payee]  # every holder, the largest first
    holders_paid: int
    cash_cents: int  # before the dividend
    price_before_micros: int
    price_after_micros: int  # ex-dividend


@dataclass(frozen=True)
class DividendRow:
    id: int
    at: datetime
    declared_cents: int
    paid_cents: int
    per_share_micros: int
    shares: int
    holders_paid: int
    price_before_micros: int
    price_after_micros: int


@dataclass(frozen=True)
class OwnerView:
    """The dividend card of the owner's dashboard."""

    public: bool
    cash_cents: int
    shares_out: int  # held outside the treasury
    holders: int
    min_cents: int
    max_cents: int  # the most it may declare now (its cash; less while its owner's shares must come last)
    cooldown_seconds: int
    next_at: datetime | None  # the cool-down's end, while it runs
    past: list[DividendRow]


def split(total_cents: int, holdings: list[tuple[int, int]]) -> list[int]:
    """Each holding's part of ``total_cents``, pro rata by shares, rounded down: holdings are (key, shares)."""
    shares = sum(n for _, n in holdings)
    if shares <= 0:
        return [0 for _ in holdings]
    return [total_cents * n // shares for _, n in holdings]


def ex_dividend_base(base: int, outstanding: int, total: int, paid_cents: int) -> int:
    """The curve's base after ``paid_cents`` left the company as a dividend: the area under the curve over the
    shares outside the treasury (what buying them all back would cost) lowered by exactly what was paid, the base rounded down (in the
    company's favour), never below the $0.01 floor."""
    if outstanding <= 0 or paid_cents <= 0:
        return base
    # area(base) = base x k / d in cents, with k = 200 N x + 8 x^2 and d = 200 N x 10,000 (stock_trading._area)
    k = 200 * total * outstanding + stock_trading.IMPACT_PERCENT * outstanding * outstanding
    d = 200 * total * MICROS_PER_CENT
    return max(stock_trading.MIN_PRICE_MICROS, (base * k - paid_cents * d) // k)


def owner_last_holds(c, cash_cents: int, paid_cents: int, owner_held: int) -> bool:
    """After paying ``paid_cents`` (ex-dividend), can the company still buy back every share its owner does not
    hold, all of them from the top of the curve? (The owner's shares come last: ``stock_trading.max_owner_sale``;
    the owner's part of a dividend is money out to them like a sale of their shares.)"""
    base, x, n = stock_trading.curve_of(c)
    after = ex_dividend_base(base, x, n, paid_cents)
    return cash_cents - paid_cents >= stock_trading.others_buyback_cents(after, x, n, owner_held)


def max_total(c, cash_cents: int, holdings: list[tuple[int, int]], owner_held: int) -> int:
    """The largest dividend the company may declare now: at most its cash, and, when its owner holds shares in it,
    no more than leaves it the cash to buy back every other holder's shares after it (``owner_last_holds``). What
    is paid grows with what is declared and the check only tightens with it, so a bisection."""
    if owner_held <= 0:
        return cash_cents
    low, high = 0, max(0, cash_cents)
    while low < high:
        mid = (low + high + 1) // 2
        if owner_last_holds(c, cash_cents, sum(split(mid, holdings)), owner_held):
            low = mid
        else:
            high = mid - 1
    return low


def check_total(total_cents) -> int:
    if isinstance(total_cents, bool) or not isinstance(total_cents, int):
        raise InvalidAmount("Enter the dividend's total, like 250.00.")
    if total_cents < MIN_DIVIDEND_CENTS:
        raise InvalidAmount(f"A dividend is at least {format_cents(MIN_DIVIDEND_CENTS)}.")
    return total_cents


def _company(s: Session, actor_id: int, company_id: int, *, lock: bool):
    row = (
        ownership.lock_companies(s, [company_id]).get(company_id)
        if lock
        else s.execute(select(companies_t).where(companies_t.c.id == company_id)).first()
    )
    if row is None:
        raise CompanyNotFound("Company not found.")
    if row.owner_id != actor_id:
        raise NotCompanyOwner("Only the company's owner can do that.")
    if not row.is_public:
        raise DividendRefused(f"{row.name} is private: it has no shareholders; move money with Send money.")
    return row


def _last_at(s: Session, company_id: int) -> datetime | None:
    return s.execute(select(func.max(dividends_t.c.created_at)).where(dividends_t.c.company_id == company_id)).scalar()


def _next_at(s: Session, company_id: int, now: datetime) -> datetime | None:
    cooldown = config.dividend_cooldown_seconds()
    last = _last_at(s, company_id)
    if last is None or not cooldown:
        return None
    at = last + timedelta(seconds=cooldown)
    return at if at > now else None


def _plan(s: Session, c, total_cents: int, now: datetime) -> DividendPlan:
    """Every refusal, then the plan (the company's row read by the caller: locked when declaring)."""
    moderation.refuse_frozen_company(s, c.id)  # its account sends nothing (the posting refuses it too)
    if (at := _next_at(s, c.id, now)) is not None:
        raise DividendRefused(
            f"{c.name} paid a dividend less than {_duration(config.dividend_cooldown_seconds())} ago: the next may "
            f"be declared from {at:%Y-%m-%d %H:%M} UTC."
        )
    cash = s.execute(select(balances_t.c.balance).where(balances_t.c.account_id == c.account_id)).scalar() or 0
    rows = s.execute(
        select(holdings_t.c.account_id, accounts_t.c.name, accounts_t.c.owner_id, holdings_t.c.shares)
        .join(accounts_t, accounts_t.c.id == holdings_t.c.account_id)
        .where(holdings_t.c.company_id == c.id, holdings_t.c.shares > 0, holdings_t.c.account_id != c.account_id)
        .order_by(holdings_t.c.shares.desc(), holdings_t.c.account_id)
    ).all()
    outstanding = c.total_shares - c.treasury_shares
    if not rows or outstanding <= 0:
        raise DividendRefused(f"{c.name} has no shareholders outside its treasury: nobody to pay.")
    if sum(r.shares for r in rows) != outstanding:  # treasury + holdings = total shares, always
        raise RuntimeError(f"{c.name}: the holdings do not add up to the shares outside the treasury")
    if total_cents > cash:
        raise DividendRefused(
            f"{c.name} has {format_cents(cash)} in cash: a dividend can't be more than that."
            if cash >= MIN_DIVIDEND_CENTS
            else f"{c.name} has {format_cents(cash)} in cash: not enough for a dividend."
        )
    holdings = [(r.account_id, r.shares) for r in rows]
    owner_held = sum(r.shares for r in rows if r.owner_id == c.owner_id)
    most = max_total(c, cash, holdings, owner_held)
    if total_cents > most:
        raise DividendRefused(
            f"{c.name} can pay a dividend of at most {format_cents(most)} now: your shares come last, so it keeps "
            "the cash to buy back every other shareholder's shares before paying you."
            if most >= MIN_DIVIDEND_CENTS
            else f"{c.name} can't pay a dividend now: your shares come last, and its cash is what buying back every "
            "other shareholder's shares would cost."
        )
    amounts = split(total_cents, holdings)
    paid = sum(amounts)
    if paid == 0:
        raise DividendRefused(
            f"{format_cents(total_cents)} over {outstanding:,} shares pays no holder a whole cent: declare more."
        )
    base, x, n = stock_trading.curve_of(c)
    after = stock_trading.spot_price(ex_dividend_base(base, x, n, paid), x, n)
    return DividendPlan(
        company_id=c.id,
        name=c.name,
        ticker=c.ticker,
        declared_cents=total_cents,
        paid_cents=paid,
        remainder_cents=total_cents - paid,
        per_share_micros=total_cents * MICROS_PER_CENT // outstanding,
        shares=outstanding,
        payees=[Payee(r.account_id, r.name, r.shares, a) for r, a in zip(rows, amounts, strict=True)],
        holders_paid=sum(1 for a in amounts if a > 0),
        cash_cents=cash,
        price_before_micros=c.share_price_micros,
        price_after_micros=after,
    )


def _duration(seconds: int) -> str:
    if seconds % 3600 == 0:
        hours = seconds // 3600
        return f"{hours} hour{'s' if hours != 1 else ''}"
    if seconds % 60 == 0:
        return f"{seconds // 60} minutes"
    return f"{seconds} seconds"


def preview(
    s: Session, *, actor_id: int, company_id: int, total_cents: int, now: datetime | None = None
) -> DividendPlan:
    """What declaring ``total_cents`` would pay now (the owner's preview), or the refusal ``declare`` would give."""
    check_total(total_cents)
    with unit(s, write=False):
        c = _company(s, actor_id, company_id, lock=False)
        return _plan(s, c, total_cents, now or utcnow())


def declare(
    s: Session, *, actor_id: int, company_id: int, total_cents: int, now: datetime | None = None
) -> DividendPlan:
    """Pay a dividend of ``total_cents`` (see the module's rules), in one transaction. Returns what it paid."""
    check_total(total_cents)
    with unit(s, write=True):
        c = _company(s, actor_id, company_id, lock=True)  # holdings, cash and the cool-down read under this lock
        now = now or utcnow()
        plan = _plan(s, c, total_cents, now)
        dividend_id = s.execute(
            insert(dividends_t)
            .values(
                company_id=c.id,
                declared_by=actor_id,
                declared_cents=total_cents,
                paid_cents=plan.paid_cents,
                per_share_micros=plan.per_share_micros,
                shares=plan.shares,
                holders_paid=plan.holders_paid,
                price_before_micros=plan.price_before_micros,
                price_after_micros=plan.price_after_micros,
                created_at=now,
            )
            .returning(dividends_t.c.id)
        ).scalar_one()
        paid = [p for p in plan.payees if p.amount_cents > 0]
        description = f"Dividend of {c.name} ({c.ticker}): {format_price(plan.per_share_micros)} a share"
        ids = ledger.post_many(
            s,
            [
                ledger.Posting(
                    from_account_id=c.account_id,
                    to_account_id=p.account_id,
                    amount=p.amount_cents,
                    type="dividend",
                    description=description,
                )
                for p in paid
            ],
            now=now,
        )
        s.execute(
            insert(payments_t),
            [
                dict(
                    dividend_id=dividend_id,
                    account_id=p.account_id,
                    shares=p.shares,
                    amount_cents=p.amount_cents,
                    ledger_id=i,
                )
                for p, i in zip(paid, ids, strict=True)
            ],
        )
        base, x, n = stock_trading.curve_of(c)
        new_base = ex_dividend_base(base, x, n, plan.paid_cents)
        s.execute(
            update(companies_t)
            .where(companies_t.c.id == c.id)
            .values(base_price_micros=new_base, share_price_micros=plan.price_after_micros)
        )
        s.execute(
            insert(StockPrice.__table__).values(
                company_id=c.id, price_micros=plan.price_after_micros, source="div", shares=0, created_at=now
            )
        )
        live.touch(s, live.company(c.id), live.MARKET, live.ECONOMY)
        return plan


def history(s: Session, company_id: int, *, limit: int = HISTORY_LIMIT) -> list[DividendRow]:
    """The company's latest dividends, newest first (the stock page and the owner's card)."""
    with unit(s, write=False):
        rows = s.execute(
            select(dividends_t)
            .where(dividends_t.c.company_id == company_id)
            .order_by(dividends_t.c.created_at.desc(), dividends_t.c.id.desc())
            .limit(max(1, min(limit, 100)))
        ).all()
    return [
        DividendRow(
            r.id,
            r.created_at,
            r.declared_cents,
            r.paid_cents,
            r.per_share_micros,
            r.shares,
            r.holders_paid,
            r.price_before_micros,
            r.price_after_micros,
        )
        for r in rows
    ]


def owner_view(s: Session, company_id: int, *, now: datetime | None = None) -> OwnerView:
    """The owner's dividend card (the caller checked ownership: ``companies.company_dashboard``)."""
    now = now or utcnow()
    with unit(s, write=False):
        c = s.execute(
            select(companies_t, func.coalesce(balances_t.c.balance, 0).label("cash"))
            .select_from(companies_t)
            .outerjoin(balances_t, balances_t.c.account_id == companies_t.c.account_id)
            .where(companies_t.c.id == company_id)
        ).first()
        if c is None:
            raise CompanyNotFound("Company not found.")
        next_at = _next_at(s, company_id, now)
        past = history(s, company_id, limit=5)
        held = s.execute(
            select(holdings_t.c.account_id, holdings_t.c.shares, accounts_t.c.owner_id)
            .join(accounts_t, accounts_t.c.id == holdings_t.c.account_id)
            .where(holdings_t.c.company_id == company_id, holdings_t.c.shares > 0)
        ).all()
    most = (
        max_total(
            c,
            int(c.cash),
            [(h.account_id, h.shares) for h in held],
            sum(h.shares for h in held if h.owner_id == c.owner_id),
        )
        if c.is_public and held
        else 0
    )
    return OwnerView(
        public=bool(c.is_public),
        cash_cents=int(c.cash),
        shares_out=c.total_shares - c.treasury_shares,
        holders=len(held),
        min_cents=MIN_DIVIDEND_CENTS,
        max_cents=most,
        cooldown_seconds=config.dividend_cooldown_seconds(),
        next_at=next_at,
        past=past,
    )


def received_cents(s: Session, account_ids: list[int]) -> int:
    """Every dividend these accounts received (the portfolio's "dividends received")."""
    if not account_ids:
        return 0
    with unit(s, write=False):
        return int(
            s.execute(
                select(func.coalesce(func.sum(payments_t.c.amount_cents), 0)).where(
                    payments_t.c.account_id.in_(list(account_ids))
                )
            ).scalar_one()
        )
