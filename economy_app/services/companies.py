"""Companies: founding, editing, the directory, the owner's dashboard and going public."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import case, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from economy_app import config
from economy_app.db import like_prefix
from economy_app.models import (
    Account,
    Balance,
    Company,
    LedgerEntry,
    Product,
    User,
    utcnow,
)
from economy_app.services import ledger, live, marketplace_settings, shareholders, stock_trading
from economy_app.services._tx import in_write_unit, lock_user, unit
from economy_app.services.errors import CompanyLimit, CompanyNotFound, InvalidInput, NotCompanyOwner, TickerTaken
from economy_app.services.names import check_not_reserved

companies_t = Company.__table__
products_t = Product.__table__
accounts_t = Account.__table__
balances_t = Balance.__table__
ledger_t = LedgerEntry.__table__
users_t = User.__table__

TICKER_RE = re.compile(r"^[A-Za-z]{1,5}$")
TAG_RE = re.compile(r"^[\w\- ]{1,20}$")
MAX_TAGS = 5
PUBLIC_THRESHOLD_CENTS = 5_000_000  # a private company above $50,000 goes public
TOTAL_SHARES = 1_000_000
DIRECTORY_SORTS = ("name", "ticker", "balance", "newest")


# --------------------------------------------------------------------------- validation


def clean_name(name: str) -> str:
    name = " ".join((name or "").split()) if isinstance(name, str) else ""
    if not 1 <= len(name) <= 50:
        raise InvalidInput("Company name must be 1 to 50 characters.")
    return check_not_reserved(name, "company name")


def clean_ticker(ticker: str) -> str:
    ticker = ticker.strip() if isinstance(ticker, str) else ""
    if not TICKER_RE.match(ticker):
        raise InvalidInput("Ticker must be 1 to 5 letters A-Z.")
    return ticker.upper()


def clean_description(description: str | None) -> str:
    description = description.strip() if isinstance(description, str) else ""
    if len(description) > 500:
        raise InvalidInput("Description is limited to 500 characters.")
    return description


def clean_tags(tags) -> list[str]:
    if isinstance(tags, str):
        tags = tags.split(",")
    out: list[str] = []
    for tag in tags or ():
        tag = " ".join(str(tag).split())
        if not tag:
            continue
        if not TAG_RE.match(tag):
            raise InvalidInput("Tags are up to 20 letters, digits, spaces or dashes.")
        if tag.lower() not in {t.lower() for t in out}:
            out.append(tag)
    if len(out) > MAX_TAGS:
        raise InvalidInput(f"At most {MAX_TAGS} tags.")
    return out


# --------------------------------------------------------------------------- views


@dataclass(frozen=True)
class CompanyView:
    id: int
    name: str
    ticker: str
    description: str
    tags: list[str]
    owner_id: int
    owner_username: str
    account_id: int
    balance: int
    is_public: bool
    products: int
    revenue_30d: int
    share_price_micros: int
    created_at: datetime


def _revenue_since(since: datetime):
    """Marketplace revenue into the company's account since ``since`` (a covering index range)."""
    return (
        select(func.coalesce(func.sum(ledger_t.c.amount), 0))
        .where(
            ledger_t.c.to_account_id == companies_t.c.account_id,
            ledger_t.c.created_at >= since,
            ledger_t.c.type == "marketplace_batch",
        )
        .scalar_subquery()
    )


def _company_query(now: datetime):
    product_count = (
        select(func.count())
        .select_from(products_t)
        .where(products_t.c.company_id == companies_t.c.id)
        .scalar_subquery()
    )
    return (
        select(
            companies_t.c.id,
            companies_t.c.name,
            companies_t.c.ticker,
            companies_t.c.description,
            companies_t.c.tags,
            companies_t.c.owner_id,
            users_t.c.username.label("owner_username"),
            companies_t.c.account_id,
            func.coalesce(balances_t.c.balance, 0).label("balance"),
            companies_t.c.is_public,
            product_count.label("products"),
            _revenue_since(now - timedelta(days=30)).label("revenue_30d"),
            companies_t.c.share_price_micros,
            companies_t.c.created_at,
        )
        .select_from(companies_t)
        .join(users_t, users_t.c.id == companies_t.c.owner_id)
        .outerjoin(balances_t, balances_t.c.account_id == companies_t.c.account_id)
    )


def _view(row) -> CompanyView:
    data = dict(row._mapping)
    data["tags"] = [t for t in data["tags"].split(",") if t]
    data["is_public"] = bool(data["is_public"])
    data["revenue_30d"] = int(data["revenue_30d"])
    return CompanyView(**data)


def get_company(s: Session, company_id: int, *, now: datetime | None = None) -> CompanyView:
    with unit(s, write=False):
        row = s.execute(_company_query(now or utcnow()).where(companies_t.c.id == company_id)).first()
    if row is None:
        raise CompanyNotFound("Company not found.")
    return _view(row)


def my_companies(s: Session, user_id: int, *, now: datetime | None = None) -> list[CompanyView]:
    with unit(s, write=False):
        rows = s.execute(
            _company_query(now or utcnow()).where(companies_t.c.owner_id == user_id).order_by(companies_t.c.id)
        ).all()
    return [_view(r) for r in rows]


def directory(
    s: Session, *, query: str = "", sort: str = "name", page: int = 1, page_size: int = 20, now: datetime | None = None
) -> tuple[list[CompanyView], int]:
    """All companies, searched by name or ticker prefix, sorted, one page at a time: (rows, total)."""
    if sort not in DIRECTORY_SORTS:
        raise InvalidInput(f"Sort by one of: {', '.join(DIRECTORY_SORTS)}.")
    page, page_size = max(1, int(page)), max(1, min(int(page_size), 100))
    q = _company_query(now or utcnow())
    count = select(func.count()).select_from(companies_t)
    query = (query or "").strip().lower()
    if query:
        pattern = like_prefix(query)
        match = func.lower(companies_t.c.name).like(pattern, escape="\\") | func.lower(companies_t.c.ticker).like(
            pattern, escape="\\"
        )
        q, count = q.where(match), count.where(match)
    order = {
        "name": (func.lower(companies_t.c.name), companies_t.c.id),
        "ticker": (companies_t.c.ticker,),
        "balance": (func.coalesce(balances_t.c.balance, 0).desc(), companies_t.c.id),
        "newest": (companies_t.c.id.desc(),),
    }[sort]
    with unit(s, write=False):
        total = s.execute(count).scalar_one()
        rows = s.execute(q.order_by(*order).offset((page - 1) * page_size).limit(page_size)).all()
    return [_view(r) for r in rows], total


# --------------------------------------------------------------------------- founding and editing


def create_company(s: Session, *, owner_id: int, name: str, ticker: str, description: str = "", tags=()) -> CompanyView:
    """Found a company: the company, its account (kind company, $0) and the account's balances row, at once."""
    name, ticker = clean_name(name), clean_ticker(ticker)
    description, tags = clean_description(description), clean_tags(tags)
    with unit(s, write=True):
        lock_user(s, owner_id)  # the count below, then the insert, one founding at a time per player
        owned = s.execute(
            select(func.count()).select_from(companies_t).where(companies_t.c.owner_id == owner_id)
        ).scalar_one()
        if owned >= config.max_companies():
            raise CompanyLimit(f"You already run {owned} companies, the most one player may found.")
        if s.execute(select(companies_t.c.id).where(companies_t.c.ticker == ticker)).first() is not None:
            raise TickerTaken(f"The ticker {ticker} is taken.")
        now = utcnow()
        try:
            with s.begin_nested():
                company_id = s.execute(
                    companies_t.insert()
                    .values(
                        owner_id=owner_id,
                        name=name,
                        ticker=ticker,
                        description=description,
                        tags=",".join(tags),
                        created_at=now,
                    )
                    .returning(companies_t.c.id)
                ).scalar_one()
        except IntegrityError:
            raise TickerTaken(f"The ticker {ticker} is taken.") from None
        account_id = ledger.open_account(
            s, name=name, kind="company", owner_id=owner_id, company_id=company_id, now=now
        )
        s.execute(update(companies_t).where(companies_t.c.id == company_id).values(account_id=account_id))
        live.touch(s, live.user(owner_id), live.ECONOMY)
        return get_company(s, company_id)


def _owned(s: Session, actor_id: int, company_id: int):
    q = select(companies_t.c.owner_id, companies_t.c.account_id).where(companies_t.c.id == company_id)
    if in_write_unit(s) and s.get_bind().dialect.name == "postgresql":
        q = q.with_for_update()  # an owner's change: the company's row locked before whose it is is read (a sale)
    row = s.execute(q).first()
    if row is None:
        raise CompanyNotFound("Company not found.")
    if row.owner_id != actor_id:
        raise NotCompanyOwner("Only the company's owner can do that.")
    return row


def update_company(
    s: Session, *, actor_id: int, company_id: int, name: str | None = None, description: str | None = None, tags=None
) -> CompanyView:
    """Edit name, description and tags (owner only). The company's account is renamed with it."""
    values = {}
    if name is not None:
        values["name"] = clean_name(name)
    if description is not None:
        values["description"] = clean_description(description)
    if tags is not None:
        values["tags"] = ",".join(clean_tags(tags))
    with unit(s, write=True):
        row = _owned(s, actor_id, company_id)
        if values:
            s.execute(update(companies_t).where(companies_t.c.id == company_id).values(**values))
            if "name" in values:
                s.execute(update(accounts_t).where(accounts_t.c.id == row.account_id).values(name=values["name"]))
        return get_company(s, company_id)


def require_owner(s: Session, actor_id: int, company_id: int) -> None:
    with unit(s, write=False):
        _owned(s, actor_id, company_id)


# --------------------------------------------------------------------------- the owner's dashboard


@dataclass(frozen=True)
class DayFigures:
    day: date
    revenue: int
    costs: int


@dataclass(frozen=True)
class ProductFigures:
    id: int
    name: str
    price_cents: int
    cost_percent: int
    active: bool
    units_sold: int
    revenue: int
    costs: int
    listed_at: datetime | None = None
    public_from: datetime | None = None  # while it waits out the hold for new listings


@dataclass(frozen=True)
class CompanyDashboard:
    company: CompanyView
    revenue_30d: int
    costs_30d: int
    profit_30d: int
    margin_permille: int | None  # profit / revenue in tenths of a percent; None without revenue
    days: list[DayFigures]
    products: list[ProductFigures]
    listing_limit: int = 0  # active products a company may list
    hold_seconds: int = 0  # a new listing's wait before the public sees it
    typical_price_cents: int | None = None  # the market's typical price at the latest run
    ipo: shareholders.IpoStatus | None = None  # progress toward going public, or the IPO and its shares
    dividends: object = None  # dividends.OwnerView: the dividend card
    sale: object = None  # company_sales.OwnerSale: the company for sale, its offers


def company_dashboard(
    s: Session, user_id: int, company_id: int, *, now: datetime | None = None, days: int = 30
) -> CompanyDashboard:
    """The owner's figures: bounded SQL aggregates over the company's indexed ledger rows."""
    now = now or utcnow()
    with unit(s, write=False):
        _owned(s, user_id, company_id)
        company = get_company(s, company_id, now=now)
        start = datetime.combine((now - timedelta(days=days - 1)).date(), datetime.min.time())
        acct = company.account_id
        inflow = ledger_t.c.to_account_id == acct
        day = func.date(ledger_t.c.created_at)
        rows = s.execute(
            select(
                day.label("day"),
                func.sum(case((inflow, ledger_t.c.amount), else_=0)).label("revenue"),
                func.sum(case((inflow, 0), else_=ledger_t.c.amount)).label("costs"),
            )
            .where(
                (ledger_t.c.to_account_id == acct) | (ledger_t.c.from_account_id == acct),
                ledger_t.c.type == "marketplace_batch",
                ledger_t.c.created_at >= start,
            )
            .group_by(day)
        ).all()
        products = s.execute(
            select(
                products_t.c.id,
                products_t.c.name,
                products_t.c.price_cents,
                products_t.c.cost_percent,
                products_t.c.active,
                products_t.c.units_sold,
                products_t.c.revenue_cents.label("revenue"),
                products_t.c.costs_cents.label("costs"),
                products_t.c.listed_at,
            )
            .where(products_t.c.company_id == company_id)
            .order_by(products_t.c.revenue_cents.desc(), products_t.c.id)
        ).all()
        market = marketplace_settings.view(s)
        ipo = shareholders.ipo_status(s, company_id)
        from economy_app.services import company_sales, dividends  # (they read companies' figures)

        dividend_card = dividends.owner_view(s, company_id, now=now)
        sale = company_sales.owner_view(s, company_id, user_id, now=now)
    hold = market.settings.hold_seconds
    by_day = {(r.day if isinstance(r.day, date) else date.fromisoformat(str(r.day))): r for r in rows}
    series = []
    for i in range(days):
        d = start.date() + timedelta(days=i)
        r = by_day.get(d)
        series.append(DayFigures(day=d, revenue=int(r.revenue) if r else 0, costs=int(r.costs) if r else 0))
    revenue = sum(d.revenue for d in series)
    costs = sum(d.costs for d in series)
    profit = revenue - costs
    return CompanyDashboard(
        company=company,
        revenue_30d=revenue,
        costs_30d=costs,
        profit_30d=profit,
        margin_permille=margin_permille(revenue, costs),
        days=series,
        products=[
            ProductFigures(
                **{
                    **dict(p._mapping),
                    "active": bool(p.active),
                    "public_from": marketplace_settings.public_from(p.listed_at, bool(p.active), hold, now),
                }
            )
            for p in products
        ],
        listing_limit=market.settings.listing_limit,
        hold_seconds=hold,
        typical_price_cents=market.typical_price_cents,
        ipo=ipo,
        dividends=dividend_card,
        sale=sale,
    )


# --------------------------------------------------------------------------- going public


def ipo_price_micros(balance_cents: int, shares: int = TOTAL_SHARES) -> int:
    """The fair price of the cash at the IPO (10 x balance / shares), never below the curve's $0.01."""
    return max(stock_trading.MIN_PRICE_MICROS, stock_trading.fair_price_micros(balance_cents, shares))


def margin_permille(revenue_cents: int, costs_cents: int) -> int | None:
    """Profit over revenue in tenths of a percent (rounded down); None without revenue."""
    return (revenue_cents - costs_cents) * 1000 // revenue_cents if revenue_cents else None


def go_public(s: Session, *, actor_id: int, company_id: int, now: datetime | None = None) -> bool:
    """The owner asks whether their company may go public now (its dashboard's button): ownership checked,
    then ``check_and_update_public_status``, in one transaction. Returns True when it went public now."""
    with unit(s, write=True):
        require_owner(s, actor_id, company_id)
        return check_and_update_public_status(s, company_id, now=now)


def check_and_update_public_status(
    s: Session, company_id: int, *, now: datetime | None = None, wait: bool = True
) -> bool:
    """A private company whose balance is above $50,000 goes public: 1,000,000 shares at the IPO price, the
    founder's stake to their personal holding and the rest in its treasury (``shareholders.issue_shares``).
    Returns True when it went public now. Once public, always public.

    The company's row is locked before its cash is read (a payment out of it holds that lock: see
    ``shareholders.check_outflow``). ``wait=False`` (the marketplace run, which already holds the balance
    locks of its postings) skips a company whose row another transaction holds: it is checked again later."""
    with unit(s, write=True):
        q = (
            select(
                companies_t.c.is_public, companies_t.c.owner_id, func.coalesce(balances_t.c.balance, 0).label("balance")
            )
            .select_from(companies_t)
            .outerjoin(balances_t, balances_t.c.account_id == companies_t.c.account_id)
            .where(companies_t.c.id == company_id)
        )
        if s.get_bind().dialect.name == "postgresql":
            q = q.with_for_update(of=companies_t, skip_locked=not wait)
        row = s.execute(q).first()
        if row is None:
            if not wait:
                return False  # busy (or gone): the next check takes it
            raise CompanyNotFound("Company not found.")
        if row.is_public or row.balance <= PUBLIC_THRESHOLD_CENTS:
            return False
        return shareholders.issue_shares(
            s,
            company_id,
            owner_id=row.owner_id,
            price_micros=ipo_price_micros(row.balance),
            total_shares=TOTAL_SHARES,
            now=now or utcnow(),
        )
