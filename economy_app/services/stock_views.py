"""What the stock pages read: the market, one stock, a player's portfolio, the leaderboard.

Every figure is a bounded SQL query. Market caps are shares x price. What shares are worth to their
holder (portfolio, net worth) is their pro-rata part of what buying back every share outside the treasury would cost the
company: see ``services/net_worth.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import case, func, select
from sqlmodel import Session

from economy_app.db import epoch_seconds
from economy_app.models import (
    MICROS_PER_CENT,
    Account,
    Balance,
    CollectionItem,
    Company,
    Holding,
    Product,
    StockPrice,
    StockTrade,
    User,
    utcnow,
)
from economy_app.services import net_worth, stock_trading
from economy_app.services._tx import unit
from economy_app.services.accounts import SPENDING_KINDS, find_system_account_id, list_accounts, require_owned
from economy_app.services.errors import CompanyNotFound, InvalidInput, NotPublic
from economy_app.services.shareholders import Payout, payout

companies_t = Company.__table__
holdings_t = Holding.__table__
prices_t = StockPrice.__table__
trades_t = StockTrade.__table__
accounts_t = Account.__table__
balances_t = Balance.__table__
users_t = User.__table__
products_t = Product.__table__

RANGES = {"1h": 3600, "6h": 6 * 3600, "24h": 86_400, "7d": 7 * 86_400, "30d": 30 * 86_400, "all": None}
MAX_POINTS = 200
MARKET_SORTS = ("market_cap", "price", "change", "name")
NEW_LISTING = timedelta(days=7)  # the stocks page marks a company public for less than this as a new listing


def value_cents(shares: int, price_micros: int) -> int:
    return shares * price_micros // MICROS_PER_CENT


def _price_at(company_col, moment: datetime):
    """The company's price at ``moment``: the last history row at or before it, else its first (the IPO)."""
    before = (
        select(prices_t.c.price_micros)
        .where(prices_t.c.company_id == company_col, prices_t.c.created_at <= moment)
        .order_by(prices_t.c.created_at.desc(), prices_t.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    first = (
        select(prices_t.c.price_micros)
        .where(prices_t.c.company_id == company_col)
        .order_by(prices_t.c.created_at, prices_t.c.id)
        .limit(1)
        .scalar_subquery()
    )
    return func.coalesce(before, first, companies_t.c.share_price_micros)


def change_permille(now_price: int, then_price: int) -> int:
    """The change in tenths of a percent."""
    return (now_price - then_price) * 1000 // then_price if then_price else 0


@dataclass(frozen=True)
class StockRow:
    company_id: int
    name: str
    ticker: str
    price_micros: int
    change_permille: int
    market_cap_cents: int
    sparkline: list[int]
    public_at: datetime | None = None
    new_listing: bool = False  # went public within NEW_LISTING
    halted: bool = False  # an admin froze the company's account: its shares are neither bought nor sold


def _series(s: Session, company_ids: list[int], since: datetime, bucket_seconds: int) -> dict[int, list]:
    """Closing (time, price) per time bucket since ``since``, per company: one grouped query."""
    if not company_ids:
        return {}
    dialect = s.get_bind().dialect.name
    bucket = (epoch_seconds(prices_t.c.created_at, dialect) // bucket_seconds).label("bucket")
    closes = (
        select(func.max(prices_t.c.id).label("id"))
        .where(prices_t.c.company_id.in_(company_ids), prices_t.c.created_at >= since)
        .group_by(prices_t.c.company_id, bucket)
        .subquery()
    )
    rows = s.execute(
        select(prices_t.c.company_id, prices_t.c.created_at, prices_t.c.price_micros)
        .join(closes, closes.c.id == prices_t.c.id)
        .order_by(prices_t.c.company_id, prices_t.c.created_at, prices_t.c.id)
    ).all()
    out: dict[int, list] = {}
    for r in rows:
        out.setdefault(r.company_id, []).append((r.created_at, r.price_micros))
    return out


def overview(
    s: Session, *, sort: str = "market_cap", page: int = 1, page_size: int = 20, now: datetime | None = None
) -> tuple[list[StockRow], int]:
    """Every public company: price, 24h change, market cap and a 24h sparkline; sorted, one page."""
    if sort not in MARKET_SORTS:
        raise InvalidInput(f"Sort by one of: {', '.join(MARKET_SORTS)}.")
    now = now or utcnow()
    page, page_size = max(1, int(page)), max(1, min(int(page_size), 100))
    then = _price_at(companies_t.c.id, now - timedelta(days=1)).label("then")
    cap = (companies_t.c.share_price_micros * companies_t.c.total_shares).label("cap")
    change = ((companies_t.c.share_price_micros - then) * 1000 // then).label("change")
    order = {
        "market_cap": (cap.desc(), companies_t.c.id),
        "price": (companies_t.c.share_price_micros.desc(),),
        "change": (change.desc(), companies_t.c.id),
        "name": (func.lower(companies_t.c.name),),
    }[sort]
    with unit(s, write=False):
        total = s.execute(
            select(func.count()).select_from(companies_t).where(companies_t.c.is_public.is_(True))
        ).scalar_one()
        rows = s.execute(
            select(
                companies_t.c.id,
                companies_t.c.name,
                companies_t.c.ticker,
                companies_t.c.share_price_micros,
                companies_t.c.total_shares,
                companies_t.c.public_at,
                then,
                cap,
                change,
                accounts_t.c.frozen_at,
            )
            .outerjoin(accounts_t, accounts_t.c.id == companies_t.c.account_id)
            .where(companies_t.c.is_public.is_(True))
            .order_by(*order)
            .offset((page - 1) * page_size)
            .limit(page_size)
        ).all()
        since = now - timedelta(days=1)
        lines = _series(s, [r.id for r in rows], since, 86_400 // 24)
    return [
        StockRow(
            company_id=r.id,
            name=r.name,
            ticker=r.ticker,
            price_micros=r.share_price_micros,
            change_permille=change_permille(r.share_price_micros, r.then),
            market_cap_cents=value_cents(r.total_shares, r.share_price_micros),
            sparkline=[p for _, p in _anchored(lines.get(r.id, []), since, r.then, now, r.share_price_micros)],
            public_at=r.public_at,
            new_listing=r.public_at is not None and r.public_at >= now - NEW_LISTING,
            halted=r.frozen_at is not None,
        )
        for r in rows
    ], total


def _anchored(points: list, since: datetime, opening: int | None, now: datetime, current: int) -> list:
    """The series from the range's start (the price then, if there was one) to now (today's price)."""
    out = list(points)
    if opening is not None and (not out or out[0][0] > since):
        out.insert(0, (since, opening))
    if not out or out[-1][0] < now:
        out.append((now, current))
    return out


def price_series(s: Session, company_id: int, range_key: str = "24h", *, now: datetime | None = None) -> list:
    """(time, price) points over the range: the close of each time bucket, downsampled in SQL, anchored
    at the range's start and at now; at most 200 points."""
    if range_key not in RANGES:
        raise InvalidInput(f"Range must be one of: {', '.join(RANGES)}.")
    now = now or utcnow()
    with unit(s, write=False):
        current = s.execute(select(companies_t.c.share_price_micros).where(companies_t.c.id == company_id)).scalar()
        if current is None:
            raise CompanyNotFound("Company not found.")
        span = RANGES[range_key]
        if span is None:
            first = s.execute(
                select(func.min(prices_t.c.created_at)).where(prices_t.c.company_id == company_id)
            ).scalar()
            span = max(60, int((now - first).total_seconds()) + 1) if first else 3600
        since = now - timedelta(seconds=span)
        bucket = max(1, -(-span // (MAX_POINTS - 2)))
        points = _series(s, [company_id], since, bucket).get(company_id, [])
        opening = s.execute(
            select(prices_t.c.price_micros)
            .where(prices_t.c.company_id == company_id, prices_t.c.created_at < since)
            .order_by(prices_t.c.created_at.desc(), prices_t.c.id.desc())
            .limit(1)
        ).scalar()
        if opening is None:
            # A stock younger than the range starts at its first price (the IPO), which a bucket's close would
            # hide behind a later trade in the same bucket: the line then runs flat while the header moved.
            first = s.execute(
                select(prices_t.c.created_at, prices_t.c.price_micros)
                .where(prices_t.c.company_id == company_id, prices_t.c.created_at >= since)
                .order_by(prices_t.c.created_at, prices_t.c.id)
                .limit(1)
            ).first()
            if first is not None and (not points or points[0][0] > first.created_at):
                points.insert(0, (first.created_at, first.price_micros))
    return _anchored(points, since, opening, now, current)


def default_range(s: Session, company_id: int, *, now: datetime | None = None) -> str:
    """The range a stock's page opens on: the shortest of 1h, 6h and 24h that holds the stock's whole life (a
    stock a few minutes old opens on 1h, where its trades are apart), else 24h."""
    with unit(s, write=False):
        first = s.execute(select(func.min(prices_t.c.created_at)).where(prices_t.c.company_id == company_id)).scalar()
    if first is None:
        return "24h"
    age = ((now or utcnow()) - first).total_seconds()
    return next((k for k in ("1h", "6h") if age <= RANGES[k]), "24h")


@dataclass(frozen=True)
class Shareholder:
    account_id: int | None  # None: the company's treasury
    name: str
    shares: int
    percent_permille: int


@dataclass(frozen=True)
class TradeRow:
    at: datetime
    side: str
    shares: int
    price_micros: int
    total_cents: int
    account_name: str


@dataclass(frozen=True)
class StockDetail:
    company_id: int
    name: str
    ticker: str
    owner_id: int
    account_id: int
    price_micros: int
    ipo_price_micros: int
    change_permille: int
    market_cap_cents: int
    total_shares: int
    treasury_shares: int
    volume_24h: int
    cash_cents: int
    shareholders: list[Shareholder]
    trades: list[TradeRow]
    payout: Payout | None = None  # cash per share, and how many shares its cash buys back now
    public_at: datetime | None = None
    halted: bool = False  # an admin froze the company's account: its shares are neither bought nor sold


def stock_detail(s: Session, company_id: int, *, now: datetime | None = None) -> StockDetail:
    now = now or utcnow()
    with unit(s, write=False):
        c = s.execute(
            select(
                companies_t,
                _price_at(companies_t.c.id, now - timedelta(days=1)).label("then"),
                func.coalesce(balances_t.c.balance, 0).label("cash"),
                stock_trading.OWNER_HELD.label("owner_held"),
                accounts_t.c.frozen_at,
            )
            .select_from(companies_t)
            .outerjoin(balances_t, balances_t.c.account_id == companies_t.c.account_id)
            .outerjoin(accounts_t, accounts_t.c.id == companies_t.c.account_id)
            .where(companies_t.c.id == company_id)
        ).first()
        if c is None:
            raise CompanyNotFound("Company not found.")
        if not c.is_public:
            raise NotPublic(f"{c.name} is not public yet.")
        volume = s.execute(
            select(func.coalesce(func.sum(trades_t.c.shares), 0)).where(
                trades_t.c.company_id == company_id, trades_t.c.created_at >= now - timedelta(days=1)
            )
        ).scalar_one()
        holders = s.execute(
            select(holdings_t.c.account_id, accounts_t.c.name, holdings_t.c.shares)
            .join(accounts_t, accounts_t.c.id == holdings_t.c.account_id)
            .where(holdings_t.c.company_id == company_id, holdings_t.c.shares > 0)
            .order_by(holdings_t.c.shares.desc(), holdings_t.c.account_id)
            .limit(20)
        ).all()
        trades = s.execute(
            select(
                trades_t.c.created_at,
                trades_t.c.side,
                trades_t.c.shares,
                trades_t.c.price_micros,
                trades_t.c.total_cents,
                accounts_t.c.name,
            )
            .join(accounts_t, accounts_t.c.id == trades_t.c.account_id)
            .where(trades_t.c.company_id == company_id)
            .order_by(trades_t.c.created_at.desc(), trades_t.c.id.desc())
            .limit(20)
        ).all()
    total = c.total_shares
    shareholders = [Shareholder(None, f"{c.name} treasury", c.treasury_shares, c.treasury_shares * 1000 // total)]
    shareholders += [Shareholder(h.account_id, h.name, h.shares, h.shares * 1000 // total) for h in holders]
    return StockDetail(
        company_id=c.id,
        name=c.name,
        ticker=c.ticker,
        owner_id=c.owner_id,
        account_id=c.account_id,
        price_micros=c.share_price_micros,
        ipo_price_micros=c.ipo_price_micros,
        change_permille=change_permille(c.share_price_micros, c.then),
        market_cap_cents=value_cents(total, c.share_price_micros),
        total_shares=total,
        treasury_shares=c.treasury_shares,
        volume_24h=int(volume),
        cash_cents=int(c.cash),
        shareholders=sorted(shareholders, key=lambda x: -x.shares),
        trades=[TradeRow(t.created_at, t.side, t.shares, t.price_micros, t.total_cents, t.name) for t in trades],
        payout=payout(c, int(c.cash), int(c.owner_held)),
        public_at=c.public_at,
        halted=c.frozen_at is not None,
    )


@dataclass(frozen=True)
class StockPage:
    """Everything one stock's page shows, for one player: the stock, its chart and the player's accounts
    that may trade (with their balances)."""

    detail: StockDetail
    points: list  # (at, price in micros), oldest first
    accounts: list  # accounts.AccountView of the player
    range_key: str = "24h"  # the chart's range
    transfers: list = field(default_factory=list)  # share_transfers.GiftRow: the latest gifts of its shares
    dividends: list = field(default_factory=list)  # dividends.DividendRow: its latest dividends
    held: list = field(default_factory=list)  # Position: the player's holdings of it, per account


def stock_page(
    s: Session, user_id: int, company_id: int, range_key: str | None = "24h", *, now: datetime | None = None
) -> StockPage:
    """One stock's page in one call (``stock_detail``, ``price_series``, the player's accounts, the latest gifts
    of its shares and its dividends). Without a ``range_key``, the chart opens on ``default_range``."""
    from economy_app.services import dividends, share_transfers  # (they read what this module reads)

    with unit(s, write=False):
        detail = stock_detail(s, company_id, now=now)
        range_key = range_key or default_range(s, company_id, now=now)
        return StockPage(
            detail=detail,
            points=price_series(s, company_id, range_key, now=now),
            accounts=[v for v in list_accounts(s, user_id) if v.kind in SPENDING_KINDS],  # what may trade
            range_key=range_key,
            transfers=share_transfers.latest(s, company_id),
            dividends=dividends.history(s, company_id),
            held=[p for p in portfolio(s, user_id, now=now) if p.company_id == company_id],
        )


@dataclass(frozen=True)
class Position:
    account_id: int
    account_name: str
    company_id: int
    name: str
    ticker: str
    shares: int
    avg_price_micros: int
    price_micros: int
    value_cents: int
    cost_cents: int
    gain_cents: int
    change_permille: int
    buyback_shares: int = 0  # of these shares, what the company buys back now (shared out over the player's accounts)
    payable_cents: int = 0  # what selling those would pay now (this position's sale alone, as its preview quotes)

    @property
    def payable_in_full(self) -> bool:
        """False: the company cannot buy back every one of these shares now (the portfolio says so)."""
        return self.buyback_shares >= self.shares


@dataclass(frozen=True)
class PortfolioPage:
    positions: list[Position]
    dividends_received: int  # every dividend the player's accounts received, in cents
    gifts: list  # share_transfers.GiftRow: shares given to or by the player's accounts, newest first


def portfolio_page(s: Session, user_id: int, *, now: datetime | None = None) -> PortfolioPage:
    """The portfolio page in one call: the holdings, the dividends received, the shares given and received."""
    from economy_app.services import dividends, ownership, share_transfers  # (they read what this module reads)

    with unit(s, write=False):
        return PortfolioPage(
            positions=portfolio(s, user_id, now=now),
            dividends_received=dividends.received_cents(s, ownership.controlled_accounts(s, user_id)),
            gifts=share_transfers.of_player(s, user_id),
        )


def unpayable_cents(positions: list[Position]) -> int:
    """How much of these holdings' value their companies could not pay for now (0 when every one could)."""
    return sum(max(0, p.value_cents - p.payable_cents) for p in positions if not p.payable_in_full)


def portfolio(
    s: Session, user_id: int, *, account_id: int | None = None, now: datetime | None = None
) -> list[Position]:
    """The player's holdings (personal and company accounts), or one account's, at market price.

    What the company can buy back now is worked out over all of the player's shares in it, across their accounts
    (the most of them together its cash pays for; an owner's own, ``max_owner_sale``), and allotted to their
    positions in the order listed: a player holding a stock in two accounts is not told both are payable when
    together they are not."""
    now = now or utcnow()
    if account_id is not None:
        require_owned(s, user_id, account_id)
    with unit(s, write=False):
        q = (
            select(
                holdings_t.c.account_id,
                accounts_t.c.name.label("account_name"),
                companies_t.c.id,
                companies_t.c.name,
                companies_t.c.ticker,
                holdings_t.c.shares,
                holdings_t.c.avg_price_micros,
                companies_t.c.share_price_micros,
                companies_t.c.base_price_micros,
                companies_t.c.total_shares,
                companies_t.c.treasury_shares,
                _price_at(companies_t.c.id, now - timedelta(days=1)).label("then"),
                func.coalesce(balances_t.c.balance, 0).label("cash"),
                (companies_t.c.owner_id == user_id).label("owns"),
                stock_trading.OWNER_HELD.label("owner_held"),
            )
            .join(accounts_t, accounts_t.c.id == holdings_t.c.account_id)
            .join(companies_t, companies_t.c.id == holdings_t.c.company_id)
            .outerjoin(balances_t, balances_t.c.account_id == companies_t.c.account_id)
            .where(accounts_t.c.owner_id == user_id, holdings_t.c.shares > 0)
            .order_by(accounts_t.c.kind.desc(), accounts_t.c.id, companies_t.c.ticker)
        )
        rows = s.execute(q).all()  # every account's: what the company can pay is shared among them
    out = []
    left: dict[int, int] = {}  # company -> what it can still buy back of the player's shares, down the list
    for r in rows:
        base, x, n = stock_trading.curve_of(r)
        value = stock_trading.holding_value_cents(base, r.shares, x, n)
        cost = value_cents(r.shares, r.avg_price_micros)
        if r.id not in left:
            if r.owns:  # the owner's own shares come last (stock_trading.max_owner_sale)
                left[r.id] = stock_trading.max_owner_sale(base, x, n, int(r.cash), int(r.owner_held))
            else:
                left[r.id] = stock_trading.max_buyback_shares(base, x, n, int(r.cash))
        buyback = min(r.shares, left[r.id])
        left[r.id] -= buyback
        if account_id is not None and r.account_id != account_id:
            continue
        out.append(
            Position(
                r.account_id,
                r.account_name,
                r.id,
                r.name,
                r.ticker,
                r.shares,
                r.avg_price_micros,
                r.share_price_micros,
                value,
                cost,
                value - cost,
                change_permille(r.share_price_micros, r.then),
                buyback,
                stock_trading.sell_proceeds_cents(base, x, buyback, n),
            )
        )
    return out


class PlayerRank(NamedTuple):
    username: str
    net_worth: int  # cash + holdings - owed - debt
    cash: int
    holdings: int
    owed: int  # what the player's companies owe their shareholders
    debt: int = 0  # what the player owes the bank


class CompanyRank(NamedTuple):
    company_id: int
    name: str
    ticker: str
    value: int  # market cap, or cash


class ProductRank(NamedTuple):
    name: str
    ticker: str
    units_sold: int  # to the public (players' own purchases never rank a product)
    revenue: int  # from the public


@dataclass(frozen=True)
class Leaderboard:
    players: list[PlayerRank]
    by_market_cap: list[CompanyRank]
    by_cash: list[CompanyRank]
    products: list[ProductRank]


def leaderboard(s: Session, *, limit: int = 10) -> Leaderboard:
    """Top players by net worth (cash in every account + holdings - what their companies owe shareholders - what
    they owe the bank), companies by market cap and by cash, best-selling products (the public's units). The mint
    is left out by its id."""
    limit = max(1, min(limit, 50))
    mint = find_system_account_id(s) or -1
    held, owed = net_worth.held_and_owed(s)
    special = set(held) | set(owed)  # everyone else's net worth is their cash
    with unit(s, write=False):
        # Every account's balance: cash, less the debt a loan account holds as a negative balance.
        cash = func.coalesce(func.sum(balances_t.c.balance), 0).label("cash")
        debt = func.coalesce(-func.sum(case((accounts_t.c.kind == "loan", balances_t.c.balance), else_=0)), 0).label(
            "debt"
        )
        by_cash_q = (
            select(users_t.c.id, users_t.c.username, cash, debt)
            .select_from(users_t)
            .outerjoin(accounts_t, (accounts_t.c.owner_id == users_t.c.id) & (accounts_t.c.id != mint))
            .outerjoin(balances_t, balances_t.c.account_id == accounts_t.c.id)
            .group_by(users_t.c.id, users_t.c.username)
        )
        # The richest by cash, enough of them that `limit` are not special, and every special player.
        rows = {r.id: r for r in s.execute(by_cash_q.order_by(cash.desc(), users_t.c.id).limit(limit + len(special)))}
        missing = sorted(special - set(rows))
        for i in range(0, len(missing), 500):
            rows.update({r.id: r for r in s.execute(by_cash_q.where(users_t.c.id.in_(missing[i : i + 500])))})
        cap = (companies_t.c.share_price_micros * companies_t.c.total_shares // MICROS_PER_CENT).label("cap")
        by_cap = s.execute(
            select(companies_t.c.id, companies_t.c.name, companies_t.c.ticker, cap)
            .where(companies_t.c.is_public.is_(True))
            .order_by(cap.desc(), companies_t.c.id)
            .limit(limit)
        ).all()
        by_cash = s.execute(
            select(companies_t.c.id, companies_t.c.name, companies_t.c.ticker, balances_t.c.balance)
            .join(balances_t, balances_t.c.account_id == companies_t.c.account_id)
            .where(companies_t.c.account_id != mint)
            .order_by(balances_t.c.balance.desc(), companies_t.c.id)
            .limit(limit)
        ).all()
        # What players paid for each product (their collections): the rest of its revenue is the public's.
        collection_t = CollectionItem.__table__
        _players_paid = (
            select(func.coalesce(func.sum(collection_t.c.paid_cents), 0))
            .where(collection_t.c.product_id == products_t.c.id)
            .scalar_subquery()
        )
        best = s.execute(
            select(
                products_t.c.name,
                companies_t.c.ticker,
                products_t.c.public_units,
                (products_t.c.revenue_cents - _players_paid).label("revenue"),  # the public's revenue
            )
            .join(companies_t, companies_t.c.id == products_t.c.company_id)
            .where(products_t.c.public_units > 0)
            .order_by(products_t.c.public_units.desc(), products_t.c.id)
            .limit(limit)
        ).all()
    players = []
    for uid, r in rows.items():
        h, o, d = held.get(uid, 0), owed.get(uid, 0), int(r.debt)
        worth = int(r.cash) + h - o
        players.append((worth, uid, PlayerRank(r.username, worth, int(r.cash) + d, h, o, d)))
    players.sort(key=lambda p: (-p[0], p[1]))
    return Leaderboard(
        players=[p[2] for p in players[:limit]],
        by_market_cap=[CompanyRank(r[0], r[1], r[2], int(r[3])) for r in by_cap],
        by_cash=[CompanyRank(r[0], r[1], r[2], int(r[3])) for r in by_cash],
        products=[ProductRank(r[0], r[1], int(r[2]), int(r[3])) for r in best],
    )
