"""The stock market: buying from and selling back to a company's treasury, and prices over time.

Prices are integers in millionths of a dollar (micros); trade totals are whole
cents rounded in the company's favour (the buyer pays the rounded-up amount,
the seller receives the rounded-down one), so no rounding creates money.

The price is a function of the shares outside the treasury (a linear bonding
curve): with ``x`` of the ``N`` shares held by players,

    p(x) = base x (1 + 8/100 x x / N)

so the price rises by 8% of the base as the shares outside the treasury go from none to all of them.
A trade is charged (or paid) the exact integral of ``p`` over the shares it
moves: buying ``s`` shares at ``x`` costs the area under the curve from ``x`` to
``x + s``; selling them back pays the area from ``x`` to ``x - s``. The areas
telescope, so any sequence of trades that returns to the holdings it started
from nets exactly zero before rounding, and rounding in the company's favour
makes it a loss: no split or order of buys and sells makes money. Everything is
integer arithmetic on exact fractions; the price tick rescales ``base``.
Cash moves through ``ledger.post``; cash and shares move in one transaction.
Always: treasury + all holdings = total shares.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlmodel import Session

from economy_app.models import (
    MICROS_PER_CENT,
    Account,
    Balance,
    Company,
    Holding,
    ShareTransfer,
    StockPrice,
    StockTrade,
    utcnow,
)
from economy_app.money import format_price
from economy_app.services import ledger, live, moderation, ownership
from economy_app.services._tx import lock_user, unit
from economy_app.services.errors import (
    AccountFrozen,
    AccountNotFound,
    CompanyNotFound,
    EconomyError,
    InsufficientFunds,
    InvalidShares,
    NotAccountOwner,
    NotPublic,
    OutflowLimit,
    TradeRefused,
    TradingHalted,
)

companies_t = Company.__table__
holdings_t = Holding.__table__
trades_t = StockTrade.__table__
prices_t = StockPrice.__table__
accounts_t = Account.__table__
balances_t = Balance.__table__
gifts_t = ShareTransfer.__table__

MAX_SHARES_PER_TRADE = 1_000_000
IMPACT_PERCENT = 8  # p(x) = base x (1 + IMPACT_PERCENT/100 x x / N)
MIN_PRICE_MICROS = 10_000  # $0.01
RATE_LIMIT_TRADES, RATE_LIMIT_SECONDS = 3, 5
HISTORY_DAYS = 90


FOUNDER_BUY_REFUSAL = "Founders can't buy their own company's shares, from any of their accounts."


def check_shares(shares) -> int:
    if isinstance(shares, bool) or not isinstance(shares, int):
        raise InvalidShares("Shares must be a whole number.")
    if shares < 1:
        raise InvalidShares("Trade at least 1 share.")
    if shares > MAX_SHARES_PER_TRADE:
        raise InvalidShares(f"At most {MAX_SHARES_PER_TRADE:,} shares in one trade.")
    return shares


def spot_price(base: int, outstanding: int, total: int) -> int:
    """The price (micros) with ``outstanding`` of ``total`` shares outside the treasury, rounded down."""
    return base * (100 * total + IMPACT_PERCENT * outstanding) // (100 * total)


def _area(base: int, start: int, end: int, total: int) -> tuple[int, int]:
    """The area under the curve from ``start`` to ``end`` shares outstanding, in cents, as an exact
    fraction (numerator, denominator): base x [(end - start) + 4/100 x (end^2 - start^2) / N]."""
    numerator = base * (200 * total * (end - start) + IMPACT_PERCENT * (end * end - start * start))
    return numerator, 200 * total * MICROS_PER_CENT


def buy_cost_cents(base: int, outstanding: int, shares: int, total: int) -> int:
    """What buying ``shares`` from the treasury costs: the area from ``outstanding`` up, rounded up."""
    numerator, denominator = _area(base, outstanding, outstanding + shares, total)
    return -(-numerator // denominator)


def sell_proceeds_cents(base: int, outstanding: int, shares: int, total: int) -> int:
    """What selling ``shares`` back pays: the area from ``outstanding`` down, rounded down."""
    numerator, denominator = _area(base, outstanding - shares, outstanding, total)
    return numerator // denominator


def base_for_price(price: int, outstanding: int, total: int) -> int:
    """The curve's base that puts the price at ``price`` with ``outstanding`` shares out (at least $0.01,
    so the price never falls below it)."""
    return max(MIN_PRICE_MICROS, price * 100 * total // (100 * total + IMPACT_PERCENT * outstanding))


def outstanding_value_cents(base: int, outstanding: int, total: int) -> int:
    """What buying back every share outside the treasury would cost the company (in any order, the
    area from 0 to ``outstanding``), rounded up: what the company owes its shareholders."""
    numerator, denominator = _area(base, 0, outstanding, total)
    return -(-numerator // denominator)


def holding_value_cents(base: int, shares: int, outstanding: int, total: int) -> int:
    """A holding's share of ``outstanding_value_cents``, pro rata (every outstanding share at the average
    price of the shares outside the treasury), rounded down. The holdings of a company sum to at most what it owes them, so
    counting holdings at this value and the owner's company cash net of that debt counts no money twice."""
    if outstanding <= 0 or shares <= 0:
        return 0
    return base * shares * (200 * total + IMPACT_PERCENT * outstanding) // (200 * total * MICROS_PER_CENT)


def max_buyback_shares(base: int, outstanding: int, total: int, cash_cents: int) -> int:
    """The most shares the company can buy back now: the largest ``k`` of the ``outstanding`` whose sale pays
    at most its cash (every seller sells from the top of the curve; proceeds grow with ``k``, so a bisection)."""
    low, high = 0, max(0, outstanding)
    while low < high:
        mid = (low + high + 1) // 2
        if sell_proceeds_cents(base, outstanding, mid, total) <= cash_cents:
            low = mid
        else:
            high = mid - 1
    return low


def max_owner_sale(base: int, outstanding: int, total: int, cash_cents: int, owner_held: int) -> int:
    """The most of its owner's ``owner_held`` shares the company buys back now. The owner's shares come last:
    after the sale its cash must still buy back every other holder's shares from the top of the curve. With the
    owner's ``k`` sold first, the sale and that buyback together are the area from ``owner_held - k`` to
    ``outstanding``: the largest ``k`` whose area, rounded up, is at most the cash (it grows with ``k``: a
    bisection). Never more than ``max_buyback_shares``."""
    low, high = 0, max(0, min(owner_held, outstanding))
    while low < high:
        mid = (low + high + 1) // 2
        numerator, denominator = _area(base, owner_held - mid, outstanding, total)
        if -(-numerator // denominator) <= cash_cents:
            low = mid
        else:
            high = mid - 1
    return low


def others_buyback_cents(base: int, outstanding: int, total: int, owner_held: int) -> int:
    """What buying back every outstanding share its owner does not hold would cost the company, all of them from
    the top of the curve (the most any order of their sales could cost), rounded up: what it owes the other
    shareholders before anything of its cash is its owner's (``max_owner_sale`` with nothing sold) or may be paid
    away (``shareholders.check_outflow``)."""
    if outstanding <= max(0, owner_held):
        return 0
    numerator, denominator = _area(base, max(0, owner_held), outstanding, total)
    return -(-numerator // denominator)


def owner_sale_refusal(name: str, can: int) -> str:
    """What a company's owner is told when selling back more of their shares than ``max_owner_sale``."""
    first = f"Your shares come last: {name} keeps the cash to buy back every other shareholder's shares before yours, "
    if can <= 0:
        return first + "so it can't buy back any of yours now."
    return first + f"so it can buy back at most {can:,} of your share{'s' if can != 1 else ''} now."


def buyback_refusal(name: str, buyback_shares: int) -> str:
    """What a seller is told when the company cannot pay for every share they offer."""
    if buyback_shares <= 0:
        return f"{name} can't buy back any shares now: its cash would not pay for one."
    return f"{name} can buy back at most {buyback_shares:,} share{'s' if buyback_shares != 1 else ''} now."


def others_value_cents(base: int, outstanding: int, total: int, owner_held: int) -> int:
    """What buying back the outstanding shares its owner does not hold would cost the company (their pro-rata
    part of ``outstanding_value_cents``), rounded up."""
    if outstanding <= 0:
        return 0
    numerator, denominator = _area(base, 0, outstanding, total)
    others = max(0, outstanding - max(0, owner_held))
    return -(-numerator * others // (denominator * outstanding))


@dataclass(frozen=True)
class Quote:
    """What a trade would do now, for the trade box's preview: exactly what ``buy``/``sell`` would charge or
    pay against the same state."""

    side: str
    shares: int
    price_micros: int  # the average price per share of this trade (total / shares, rounded down)
    total_cents: int
    new_price_micros: int


@dataclass(frozen=True)
class TradeResult:
    trade_id: int
    ledger_id: int
    side: str
    shares: int
    price_micros: int  # the average price per share (total / shares, rounded down)
    total_cents: int
    new_price_micros: int
    holding_shares: int


def _company(s: Session, company_id: int, *, lock: bool):
    q = select(companies_t).where(companies_t.c.id == company_id)
    if lock and s.get_bind().dialect.name == "postgresql":
        q = q.with_for_update()
    row = s.execute(q).first()
    if row is None:
        raise CompanyNotFound("Company not found.")
    if not row.is_public:
        raise NotPublic(f"{row.name} is not public yet.")
    return row


def curve_of(c) -> tuple[int, int, int]:
    """(base, outstanding, total) of a public company's row (base_price_micros, share_price_micros,
    total_shares, treasury_shares)."""
    outstanding = c.total_shares - c.treasury_shares
    base = c.base_price_micros or base_for_price(c.share_price_micros, outstanding, c.total_shares)
    return base, outstanding, c.total_shares


def _buy_terms(c, shares: int) -> tuple[int, int]:
    """(total cents, price after) of buying ``shares`` of company row ``c``."""
    base, x, n = curve_of(c)
    return buy_cost_cents(base, x, shares, n), spot_price(base, x + shares, n)


def _sell_terms(c, shares: int) -> tuple[int, int]:
    base, x, n = curve_of(c)
    return sell_proceeds_cents(base, x, shares, n), spot_price(base, x - shares, n)


def halted_message(name: str, side: str) -> str:
    """What a trade in a frozen company's shares says to a player who does not own it (no admin's note)."""
    if side == "buy":
        return f"{name}'s shares can't be bought right now: trading is halted."
    return f"{name} can't buy back shares right now: trading is halted."


def _halted(c, actor_id: int | None, side: str, error: AccountFrozen) -> EconomyError:
    """The refusal of a trade in company ``c``'s shares while its account is frozen: the freeze's own message for
    the company's owner, a neutral one for everybody else (the admin's reason is not theirs to read, and their own
    account is not frozen)."""
    return error if actor_id == c.owner_id else TradingHalted(halted_message(c.name, side))


def _refuse_halted(s: Session, c, actor_id: int | None, side: str) -> None:
    """Refuse a trade in a frozen company's shares. Inside a trade, call it again after ``ledger.post`` locked the
    company's account rows: a freeze that committed meanwhile is seen then."""
    try:
        moderation.refuse_if_frozen(s, c.account_id)
    except AccountFrozen as e:
        raise _halted(c, actor_id, side, e) from None


def quote(s: Session, company_id: int, side: str, shares: int, *, account_id: int | None = None) -> Quote:
    """What trading ``shares`` would do now. With ``account_id`` (the trade box's account) the preview says up front
    what the click would refuse for that account: a founder buying their own company's shares, a public company
    buying past its cap on what may go out, a sale of more shares than the account holds or, from an account of
    the company's owner, past what the company buys back of theirs (their shares come last)."""
    from economy_app.services import shareholders  # (shareholders reads the curve from here)

    check_shares(shares)
    with unit(s, write=False):
        c = _company(s, company_id, lock=False)
        cash = _cash(s, c.account_id) if side != "buy" else 0
        account = (
            s.execute(select(accounts_t.c.owner_id).where(accounts_t.c.id == account_id)).first()
            if account_id is not None
            else None
        )
        _refuse_halted(s, c, account.owner_id if account else None, "buy" if side == "buy" else "sell")
        by_owner = owner_held(s, c.id) if side != "buy" and account and account.owner_id == c.owner_id else None
        held = (
            s.execute(
                select(func.coalesce(func.max(holdings_t.c.shares), 0)).where(
                    holdings_t.c.company_id == company_id, holdings_t.c.account_id == account_id
                )
            ).scalar_one()
            if side != "buy" and account
            else None
        )
    if side == "buy":
        if account and account.owner_id == c.owner_id:
            raise TradeRefused(FOUNDER_BUY_REFUSAL)
        if shares > c.treasury_shares:
            raise TradeRefused(f"Only {c.treasury_shares:,} shares are for sale.")
        total, new_price = _buy_terms(c, shares)
        if account:
            room = shareholders.outflow_room(s, account_id)  # None but for a public company's account
            if room is not None and total > room.room_cents:
                raise OutflowLimit(shareholders.outflow_refusal(room))
    else:
        if shares > c.total_shares - c.treasury_shares:
            raise TradeRefused(f"Only {c.total_shares - c.treasury_shares:,} shares are held by players.")
        if held is not None and shares > held:
            raise TradeRefused(f"You hold only {held:,} shares of {c.ticker} in this account.")
        _check_buyback(c, shares, cash, by_owner)  # an honest preview: what the company can pay now
        total, new_price = _sell_terms(c, shares)
    return Quote("buy" if side == "buy" else "sell", shares, total * MICROS_PER_CENT // shares, total, new_price)


def _cash(s: Session, account_id: int) -> int:
    return s.execute(
        select(func.coalesce(func.max(balances_t.c.balance), 0)).where(balances_t.c.account_id == account_id)
    ).scalar_one()


def _check_buyback(c, shares: int, cash: int, owner_held: int | None = None) -> None:
    """Refuse a sale of more shares than the company's cash can buy back now, saying how many it can; a sale by
    its owner (``owner_held``: what the owner holds in it, through every account), past ``max_owner_sale``."""
    base, x, n = curve_of(c)
    if owner_held is not None:
        can = max_owner_sale(base, x, n, cash, owner_held)
        if shares > can:
            raise InsufficientFunds(owner_sale_refusal(c.name, can))
    elif sell_proceeds_cents(base, x, shares, n) > cash:
        raise InsufficientFunds(buyback_refusal(c.name, max_buyback_shares(base, x, n, cash)))


# The shares a company's owner holds in it, through any account they own (the founder's stake), correlated to a
# select over ``companies``.
OWNER_HELD = (
    select(func.coalesce(func.sum(holdings_t.c.shares), 0))
    .select_from(holdings_t.join(accounts_t, accounts_t.c.id == holdings_t.c.account_id))
    .where(holdings_t.c.company_id == companies_t.c.id, accounts_t.c.owner_id == companies_t.c.owner_id)
    .scalar_subquery()
)


def owner_held(s: Session, company_id: int) -> int:
    """The shares a company's owner holds in it, through every account they own."""
    return int(s.execute(select(OWNER_HELD).where(companies_t.c.id == company_id)).scalar_one())


def _lock_with_trader(s: Session, company_id: int, account_id: int) -> None:
    """Lock the traded company's row and, when the trading account is a company's, that company's row too, in id
    order (``ownership.py``; every trade and payment locks companies before balances, so two companies trading
    each other's shares never wait on each other), before reading whom the trading account belongs to: a sale of
    that company which committed meanwhile is then seen, and one that starts later waits for this trade."""
    ownership.lock_companies(s, [company_id, *ownership.companies_of_accounts(s, [account_id])])


def _trader_account(s: Session, actor_id: int, account_id: int, company) -> None:
    row = s.execute(
        select(accounts_t.c.owner_id, accounts_t.c.kind, accounts_t.c.company_id).where(accounts_t.c.id == account_id)
    ).first()
    if row is None:
        raise AccountNotFound("Account not found.")
    if row.owner_id != actor_id or row.kind not in ("personal", "company"):  # not the mint, not a loan
        raise NotAccountOwner("You can only trade from your own accounts.")
    if account_id == company.account_id:
        raise TradeRefused("A company cannot trade its own shares.")
    moderation.refuse_if_frozen(s, account_id)  # a buy is refused by the posting too; a sale only here


def _rate_limit(s: Session, actor_id: int, company_id: int, now: datetime | None) -> datetime:
    """Refuse a trade past the limit; returns the trade's time. The clock is read *after* the player's lock:
    a trade that waited for it counts every trade committed before it, and no trade counted here can be
    later than this one, so the count has no upper bound (a trade stamped later, by a clock ahead, counts too)."""
    lock_user(s, actor_id)  # count, then trade: one of this player's trades at a time
    now = now or utcnow()
    since = now - timedelta(seconds=RATE_LIMIT_SECONDS)
    recent = s.execute(
        select(func.count())
        .select_from(trades_t)
        .where(trades_t.c.actor_id == actor_id, trades_t.c.company_id == company_id, trades_t.c.created_at > since)
    ).scalar_one()
    # A gift of shares counts as a trade here: the limit holds for every way a player moves a company's shares.
    recent += s.execute(
        select(func.count())
        .select_from(gifts_t)
        .where(gifts_t.c.actor_id == actor_id, gifts_t.c.company_id == company_id, gifts_t.c.created_at > since)
    ).scalar_one()
    if recent >= RATE_LIMIT_TRADES:
        raise TradeRefused(
            f"Slow down: at most {RATE_LIMIT_TRADES} trades in one company every {RATE_LIMIT_SECONDS} seconds."
        )
    return now


def rate_limit(s: Session, actor_id: int, company_id: int, now: datetime | None) -> datetime:
    """The trade limit, for any move of a company's shares by a player (a gift of shares counts as a trade):
    refused past it; returns the move's time. Inside the caller's write unit."""
    return _rate_limit(s, actor_id, company_id, now)


def _record(s, *, company, account_id, actor_id, side, shares, price, total, entry_id, new_price, now) -> int:
    live.touch(s, live.company(company.id), live.MARKET)
    s.execute(
        update(companies_t)
        .where(companies_t.c.id == company.id)
        .values(
            share_price_micros=new_price,
            base_price_micros=curve_of(company)[0],
            treasury_shares=companies_t.c.treasury_shares + (shares if side == "sell" else -shares),
        )
    )
    s.execute(
        insert(prices_t).values(
            company_id=company.id, price_micros=new_price, source=side, shares=shares, created_at=now
        )
    )
    return s.execute(
        insert(trades_t)
        .values(
            company_id=company.id,
            account_id=account_id,
            actor_id=actor_id,
            side=side,
            shares=shares,
            price_micros=price,
            total_cents=total,
            ledger_id=entry_id,
            created_at=now,
        )
        .returning(trades_t.c.id)
    ).scalar_one()


def buy(
    s: Session, *, actor_id: int, account_id: int, company_id: int, shares: int, now: datetime | None = None
) -> TradeResult:
    """Buy shares from the company's treasury: pay the area under the price curve they move through."""
    from economy_app.services import shareholders  # (shareholders reads the curve from here)

    check_shares(shares)
    with unit(s, write=True):
        _lock_with_trader(s, company_id, account_id)
        c = _company(s, company_id, lock=True)
        _trader_account(s, actor_id, account_id, c)
        if c.owner_id == actor_id:
            # Personally or through any company they own: their money would only go round in a circle.
            raise TradeRefused(FOUNDER_BUY_REFUSAL)
        _refuse_halted(s, c, actor_id, "buy")
        if shares > c.treasury_shares:
            raise TradeRefused(f"Only {c.treasury_shares:,} shares are for sale.")
        now = _rate_limit(s, actor_id, company_id, now)
        # A debtor's money stays where a default collects it: shares pay another player's (public) company, whose
        # cash may be gone when the default sells them back (under the player's lock, the one a loan takes).
        from economy_app.services import loans  # loans sells holdings back through this module

        loans.refuse_if_owing(s, actor_id, loans.BUY_SHARES_REFUSED)
        total, new_price = _buy_terms(c, shares)
        price = total * MICROS_PER_CENT // shares
        # Paid from a public company's account, a purchase is money leaving it: it counts against the cap on what
        # may go out in any 24 hours, like a payment (nothing for a player's or a private company's account).
        shareholders.check_outflow(s, account_id, c.account_id, total, now=now)
        entry = ledger.post(
            s,
            from_account_id=account_id,
            to_account_id=c.account_id,
            amount=total,
            type="stock_purchase",
            now=now,
            description=f"Bought {shares:,} {c.ticker} at {format_price(price)} on average",
        )
        # A frozen company is not paid for its shares either (its buyers could not sell back): checked again on
        # the company's rows the posting locked, so a freeze that committed meanwhile is seen here.
        _refuse_halted(s, c, actor_id, "buy")
        held = s.execute(
            select(holdings_t.c.shares, holdings_t.c.avg_price_micros).where(
                holdings_t.c.company_id == company_id, holdings_t.c.account_id == account_id
            )
        ).first()
        paid_micros = total * MICROS_PER_CENT
        if held is None:
            s.execute(
                insert(holdings_t).values(
                    company_id=company_id,
                    account_id=account_id,
                    shares=shares,
                    avg_price_micros=paid_micros // shares,
                    updated_at=now,
                )
            )
            holding = shares
        else:
            holding = held.shares + shares
            avg = (held.shares * held.avg_price_micros + paid_micros) // holding
            s.execute(
                update(holdings_t)
                .where(holdings_t.c.company_id == company_id, holdings_t.c.account_id == account_id)
                .values(shares=holding, avg_price_micros=avg, updated_at=now)
            )
        trade_id = _record(
            s,
            company=c,
            account_id=account_id,
            actor_id=actor_id,
            side="buy",
            shares=shares,
            price=price,
            total=total,
            entry_id=entry.id,
            new_price=new_price,
            now=now,
        )
        return TradeResult(trade_id, entry.id, "buy", shares, price, total, new_price, holding)


def sell(
    s: Session, *, actor_id: int, account_id: int, company_id: int, shares: int, now: datetime | None = None
) -> TradeResult:
    """Sell shares back to the treasury: paid the area under the price curve they move back through."""
    check_shares(shares)
    with unit(s, write=True):
        _lock_with_trader(s, company_id, account_id)
        c = _company(s, company_id, lock=True)
        _trader_account(s, actor_id, account_id, c)
        held = _held(s, company_id, account_id)
        if shares > held:
            raise TradeRefused(f"You hold only {held:,} shares of {c.ticker} in this account.")
        _refuse_halted(s, c, actor_id, "sell")
        now = _rate_limit(s, actor_id, company_id, now)
        return _sell_back(
            s,
            c,
            actor_id=actor_id,
            account_id=account_id,
            shares=shares,
            held=held,
            by_owner=c.owner_id == actor_id,
            now=now,
        )


def _held(s: Session, company_id: int, account_id: int) -> int:
    return (
        s.execute(
            select(holdings_t.c.shares).where(
                holdings_t.c.company_id == company_id, holdings_t.c.account_id == account_id
            )
        ).scalar()
        or 0
    )


def _sell_back(
    s: Session, c, *, actor_id: int, account_id: int, shares: int, held: int, by_owner: bool, now: datetime
) -> TradeResult:
    """Sell ``shares`` of the ``held`` in ``account_id`` back to company row ``c`` (locked by the caller), as far
    as its cash pays (``by_owner``: the seller is the company's owner, whose shares come last): the area under the
    curve they move back through, the holding, the trade and the price, in the caller's unit."""
    # Under the company's row lock (every trade and payment out of it takes it first): the owner's sale is
    # counted against what the other holders hold now.
    _check_buyback(c, shares, _cash(s, c.account_id), owner_held(s, c.id) if by_owner else None)
    total, new_price = _sell_terms(c, shares)
    if total == 0:
        raise TradeRefused("These shares are worth less than $0.01 together.")
    price = total * MICROS_PER_CENT // shares
    try:
        entry = ledger.post(
            s,
            from_account_id=c.account_id,
            to_account_id=account_id,
            amount=total,
            type="stock_sale",
            now=now,
            description=f"Sold {shares:,} {c.ticker} at {format_price(price)} on average",
        )
    except InsufficientFunds:  # its cash fell between the check and the posting
        can = max_buyback_shares(*curve_of(c), _cash(s, c.account_id))
        raise InsufficientFunds(buyback_refusal(c.name, can)) from None
    except AccountFrozen as e:  # the company's account (the seller's was refused above): trading is halted
        raise _halted(c, actor_id, "sell", e) from None
    # The seller's rows are locked by the posting now: a freeze that committed meanwhile is seen here.
    moderation.refuse_if_frozen(s, account_id)
    holding = held - shares
    s.execute(
        update(holdings_t)
        .where(holdings_t.c.company_id == c.id, holdings_t.c.account_id == account_id)
        .values(shares=holding, updated_at=now)
    )
    trade_id = _record(
        s,
        company=c,
        account_id=account_id,
        actor_id=actor_id,
        side="sell",
        shares=shares,
        price=price,
        total=total,
        entry_id=entry.id,
        new_price=new_price,
        now=now,
    )
    return TradeResult(trade_id, entry.id, "sell", shares, price, total, new_price, holding)


def shares_to_raise(base: int, outstanding: int, total: int, held: int, needed: int, cash: int) -> int:
    """How many of ``held`` shares to sell back to raise ``needed`` cents, as far as a company holding ``cash``
    can pay: the fewest whose proceeds reach ``needed``, or (when even all of them would not) all of them, but
    never more than the most whose proceeds the cash covers. Exact integers: two bisections over the
    proceeds, which grow with the shares sold."""

    def proceeds(k: int) -> int:
        return sell_proceeds_cents(base, outstanding, k, total)

    def least(predicate) -> int:  # the smallest k in 0..held with predicate(k), else held + 1
        lo, hi = 0, held + 1
        while lo < hi:
            mid = (lo + hi) // 2
            if predicate(mid):
                hi = mid
            else:
                lo = mid + 1
        return lo

    wanted = min(held, least(lambda k: proceeds(k) >= needed))
    payable = least(lambda k: proceeds(k) > cash) - 1  # the most whose proceeds are at most the cash
    return max(0, min(wanted, payable))


def sell_to_raise(
    s: Session, *, actor_id: int, account_id: int, company_id: int, needed: int, now: datetime
) -> TradeResult | None:
    """Sell back shares held in ``account_id`` to raise ``needed`` cents, as far as the company's cash can pay
    (``shares_to_raise``): what a loan's default does with a borrower's holdings (services/loans.py). The
    caller holds the company's row and the player's lock; the trade is recorded like any sale, without the
    rate limit. None when nothing can be sold (no shares, or a company that cannot pay for one)."""
    with unit(s, write=True):
        c = _company(s, company_id, lock=True)
        held = _held(s, company_id, account_id)
        cash = _cash(s, c.account_id)
        base, x, n = curve_of(c)
        shares = shares_to_raise(base, x, n, held, needed, cash)
        if c.owner_id == actor_id:  # the owner's shares come last, a default's sale of them too
            shares = min(shares, max_owner_sale(base, x, n, cash, owner_held(s, c.id)))
        if shares == 0 or sell_proceeds_cents(base, x, shares, n) == 0:
            return None
        return _sell_back(
            s,
            c,
            actor_id=actor_id,
            account_id=account_id,
            shares=shares,
            held=held,
            by_owner=c.owner_id == actor_id,
            now=now,
        )


def sell_back(s: Session, *, actor_id: int, account_id: int, company_id: int, now: datetime) -> TradeResult | None:
    """Sell every share ``account_id`` holds in the company back to its treasury at the current bid, without the
    trade rate limit: what a company's new owner's holdings in it are made of at the sale's completion
    (``company_sales``; the buyer is not its owner yet, so their shares are paid like any holder's). Inside the
    caller's unit, the company's row locked; refused (``InsufficientFunds``, with what the company can buy back)
    when its cash does not pay for them all. None when there is none."""
    with unit(s, write=True):
        c = _company(s, company_id, lock=True)
        held = _held(s, company_id, account_id)
        if held <= 0:
            return None
        return _sell_back(
            s, c, actor_id=actor_id, account_id=account_id, shares=held, held=held, by_owner=False, now=now
        )


def fair_price_micros(balance_cents: int, total_shares: int) -> int:
    """10 x cash / shares, in micros."""
    return 10 * balance_cents * MICROS_PER_CENT // total_shares if total_shares else 0


def equity_cents(cash_cents: int, base: int, outstanding: int, total: int, owner_held: int = 0) -> int:
    """The company's cash less what buying back its outstanding shares would cost (never below 0): the
    money a buyer pays for shares is owed back to shareholders, so it does not raise the fair value. The
    shares its owner holds (the founder's stake, placed at the IPO, never bought) are the owner's claim on
    this equity itself, not a debt against it, so they are left out."""
    return max(0, cash_cents - others_value_cents(base, outstanding, total, owner_held))


def next_tick_price(price: int, fair: int, rng: random.Random) -> int:
    """Move 0.5% of the way to fair value, plus noise of up to +/-0.5%, the whole move clamped to
    +/-3%, never below $0.01."""
    drift = (fair - price) * 5 // 1000
    noise = price * rng.randint(-5000, 5000) // 1_000_000
    limit = price * 3 // 100
    move = max(-limit, min(limit, drift + noise))
    return max(MIN_PRICE_MICROS, price + move)


def update_prices(s: Session, *, rng: random.Random, now: datetime | None = None) -> int:
    """One price tick for every public company (a history row each): the price moves toward fair value
    (10 x equity / shares) and the curve's base is rescaled to it. Returns the companies moved.

    The companies are read locked (PostgreSQL ``FOR UPDATE``, in id order; SQLite's write unit holds the write
    lock), so no trade commits between the read and the write: the stored price stays the curve's price at
    the shares outside the treasury, ``spot_price(base, outstanding)``, as a trade's ``_record`` leaves it."""
    now = now or utcnow()
    with unit(s, write=True):
        if s.get_bind().dialect.name == "postgresql":
            # Lock first, read after: a statement that waited for a lock reads the other tables (the cash, the
            # holdings) as they were before it waited, so the figures are read by a second statement.
            s.execute(
                select(companies_t.c.id)
                .where(companies_t.c.is_public.is_(True))
                .order_by(companies_t.c.id)
                .with_for_update()
            ).all()
        rows = s.execute(
            select(
                companies_t.c.id,
                companies_t.c.share_price_micros,
                companies_t.c.base_price_micros,
                companies_t.c.total_shares,
                companies_t.c.treasury_shares,
                func.coalesce(balances_t.c.balance, 0).label("balance"),
                OWNER_HELD.label("owner_held"),
            )
            .select_from(companies_t)
            .outerjoin(balances_t, balances_t.c.account_id == companies_t.c.account_id)
            .where(companies_t.c.is_public.is_(True))
            .order_by(companies_t.c.id)
        ).all()
        if not rows:
            return 0
        moves = []
        for r in rows:
            base, x, n = curve_of(r)
            fair = fair_price_micros(equity_cents(r.balance, base, x, n, int(r.owner_held)), n)
            new_base = base_for_price(next_tick_price(r.share_price_micros, fair, rng), x, n)
            moves.append({"cid": r.id, "base": new_base, "price": spot_price(new_base, x, n)})
        s.connection().execute(
            update(companies_t)
            .where(companies_t.c.id == bindparam("cid"))
            .values(share_price_micros=bindparam("price"), base_price_micros=bindparam("base")),
            moves,
        )
        s.execute(
            insert(prices_t),
            [
                dict(company_id=m["cid"], price_micros=m["price"], source="tick", shares=0, created_at=now)
                for m in moves
            ],
        )
        live.touch(s, live.MARKET)
        return len(moves)


def purge_history(s: Session, *, now: datetime | None = None, days: int = HISTORY_DAYS) -> int:
    """Delete price history older than ``days`` (the daily job)."""
    cutoff = (now or utcnow()) - timedelta(days=days)
    with unit(s, write=True):
        return len(s.execute(delete(prices_t).where(prices_t.c.created_at < cutoff).returning(prices_t.c.id)).all())
