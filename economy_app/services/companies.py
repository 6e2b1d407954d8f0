"""Companies: founding, editing, the directory, the owner's dashboard and going public."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from economy_app import config
from economy_app.db import epoch_seconds, like_prefix
from economy_app.models import (
    Account,
    Balance,
    Company,
    LedgerEntry,
    Product,
    User,
    utcnow,
)
from economy_app.services import ledger, live, marketplace_settings, moderation, shareholders, stock_trading
from economy_app.services._tx import lock_user, unit
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
EPOCH = datetime(1970, 1, 1)


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
    frozen: bool = False  # an admin froze the company's account: it sells, pays and lists nothing; its stock is halted


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
            accounts_t.c.frozen_at.is_not(None).label("frozen"),
        )
        .select_from(companies_t)
        .join(users_t, users_t.c.id == companies_t.c.owner_id)
        .outerjoin(balances_t, balances_t.c.account_id == companies_t.c.account_id)
        .outerjoin(accounts_t, accounts_t.c.id == companies_t.c.account_id)
    )


def _view(row) -> CompanyView:
    data = dict(row._mapping)
    data["tags"] = [t for t in data["tags"].split(",") if t]
    data["is_public"] = bool(data["is_public"])
    data["frozen"] = bool(data["frozen"])
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
        moderation.refuse_frozen_player(s, owner_id)  # a freeze of the player takes this lock too
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
    row = s.execute(
        select(companies_t.c.owner_id, companies_t.c.account_id).where(companies_t.c.id == company_id)
    ).first()
    if row is None:
        raise CompanyNotFound("Company not found.")
    if row.owner_id != actor_id:
        raise NotCompanyOwner("Only the company's owner can do that.")
    return row


def update_company(
    s: Session, *, actor_id: int, company_id: int, name: str | None = None, description: str | None = None, tags=None
) -> CompanyView:
    """Edit name, description and tags (owner only). The company's account is renamed with it. A frozen company
    (or its frozen owner) edits nothing: refused with the freeze's message."""
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
            moderation.refuse_frozen_company(s, company_id)
            s.execute(update(companies_t).where(companies_t.c.id == company_id).values(**values))
            if "name" in values:
                s.execute(update(accounts_t).where(accounts_t.c.id == row.account_id).values(name=values["name"]))
        return get_company(s, company_id)


def require_owner(s: Session, actor_id: int, company_id: int) -> None:
    with unit(s, write=False):
        _owned(s, actor_id, company_id)


# --------------------------------------------------------------------------- the owner's dashboard


@dataclass(frozen=True)
class Bar:
    """One bar pair of the owner's chart: what the company sold and what it cost, over one run, hour or day."""

    at: datetime  # the start of the run's slot, the hour or the day (naive UTC)
    revenue: int
    costs: int


# The owner's chart at the game's own pace: one bar per marketplace run (the run's interval), per hour or per day.
CHART_SCALES = {"runs": 36, "hours": 48, "days": 30}  # scale -> bars shown


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
    price_warning: str = ""  # why it sells rarely or never at its price (MarketSettings.price_warning)


@dataclass(frozen=True)
class CompanyDashboard:
    company: CompanyView
    revenue_30d: int
    costs_30d: int
    profit_30d: int
    margin_permille: int | None  # profit / revenue in tenths of a percent; None without revenue
    bars: list[Bar]  # oldest first, one per ``bar_seconds``
    products: list[ProductFigures]
    listing_limit: int = 0  # active products a company may list
    hold_seconds: int = 0  # a new listing's wait before the public sees it
    typical_price_cents: int | None = None  # the market's typical price at the latest run
    ipo: shareholders.IpoStatus | None = None  # progress toward going public, or the IPO and its shares
    frozen_reason: str | None = None  # an admin froze the company's account: it sells, pays and lists nothing
    scale: str = "runs"  # the chart's: one of CHART_SCALES
    bar_seconds: int = 0  # what one bar covers


def company_dashboard(
    s: Session, user_id: int, company_id: int, *, now: datetime | None = None, scale: str = "runs"
) -> CompanyDashboard:
    """The owner's figures: 30-day totals and a chart of ``scale`` (one bar per marketplace run, hour or day: see
    ``CHART_SCALES``), bounded SQL aggregates over the company's indexed ledger rows."""
    if scale not in CHART_SCALES:
        raise InvalidInput(f"Chart by one of: {', '.join(CHART_SCALES)}.")
    now = now or utcnow()
    with unit(s, write=False):
        _owned(s, user_id, company_id)
        company = get_company(s, company_id, now=now)
        market = marketplace_settings.view(s)
        acct = company.account_id
        inflow = ledger_t.c.to_account_id == acct
        revenue = func.coalesce(func.sum(case((inflow, ledger_t.c.amount), else_=0)), 0).label("revenue")
        costs = func.coalesce(func.sum(case((inflow, 0), else_=ledger_t.c.amount)), 0).label("costs")
        batches = (
            (ledger_t.c.to_account_id == acct) | (ledger_t.c.from_account_id == acct),
            ledger_t.c.type == "marketplace_batch",
        )
        totals = s.execute(
            select(revenue, costs).where(*batches, ledger_t.c.created_at >= now - timedelta(days=30))
        ).one()
        step = {"runs": market.settings.interval_seconds, "hours": 3600, "days": 86400}[scale]
        bars = CHART_SCALES[scale]
        elapsed = int((now - EPOCH).total_seconds())
        first = elapsed - elapsed % step - (bars - 1) * step  # the oldest bar's start, in epoch seconds
        bucket = (epoch_seconds(ledger_t.c.created_at, s.get_bind().dialect.name) // step).label("bucket")
        rows = s.execute(
            select(bucket, revenue, costs)
            .where(*batches, ledger_t.c.created_at >= EPOCH + timedelta(seconds=first))
            .group_by(bucket)
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
        frozen = s.execute(
            select(accounts_t.c.frozen_at, accounts_t.c.frozen_reason).where(accounts_t.c.id == acct)
        ).first()
        ipo = shareholders.ipo_status(s, company_id)
    hold = market.settings.hold_seconds
    by_bucket = {int(r.bucket): r for r in rows}
    series = []
    for i in range(bars):
        start = first + i * step
        r = by_bucket.get(start // step)
        series.append(
            Bar(at=EPOCH + timedelta(seconds=start), revenue=int(r.revenue) if r else 0, costs=int(r.costs) if r else 0)
        )
    revenue_30d, costs_30d = int(totals.revenue), int(totals.costs)
    return CompanyDashboard(
        company=company,
        revenue_30d=revenue_30d,
        costs_30d=costs_30d,
        profit_30d=revenue_30d - costs_30d,
        margin_permille=margin_permille(revenue_30d, costs_30d),
        bars=series,
        products=[
            ProductFigures(
                **{
                    **dict(p._mapping),
                    "active": bool(p.active),
                    "public_from": marketplace_settings.public_from(p.listed_at, bool(p.active), hold, now),
                    "price_warning": market.settings.price_warning(p.price_cents) if p.active else "",
                }
            )
            for p in products
        ],
        listing_limit=market.settings.listing_limit,
        hold_seconds=hold,
        typical_price_cents=market.typical_price_cents,
        frozen_reason=(frozen.frozen_reason or "") if frozen and frozen.frozen_at is not None else None,
        scale=scale,
        bar_seconds=step,
        ipo=ipo,
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
    then ``check_and_update_public_status``, in one transaction. Returns True when it went public now. A frozen
    company is refused with the freeze's message (its owner's to read)."""
    with unit(s, write=True):
        require_owner(s, actor_id, company_id)
        moderation.refuse_frozen_company(s, company_id)
        return check_and_update_public_status(s, company_id, now=now)


def check_and_update_public_status(
    s: Session, company_id: int, *, now: datetime | None = None, wait: bool = True
) -> bool:
    """A private company whose balance is above $50,000 goes public: 1,000,000 shares at the IPO price, the
    founder's stake to their personal holding and the rest in its treasury (``shareholders.issue_shares``).
    Returns True when it went public now. Once public, always public. A frozen company stays private until it
    is unfrozen (its stock would open halted: services/stock_trading.py).

    The company's row is locked before its cash is read, by a second statement (a payment out of it holds that
    lock: see ``shareholders.check_outflow``). ``wait=False`` (the marketplace run, which already holds the balance
    locks of its postings) skips a company whose row another transaction holds: it is checked again later."""
    with unit(s, write=True):
        q = select(companies_t.c.is_public, companies_t.c.owner_id, companies_t.c.account_id).where(
            companies_t.c.id == company_id
        )
        if s.get_bind().dialect.name == "postgresql":
            q = q.with_for_update(skip_locked=not wait)
        row = s.execute(q).first()
        if row is None:
            if not wait:
                return False  # busy (or gone): the next check takes it
            raise CompanyNotFound("Company not found.")
        if row.is_public:
            return False
        # Read after the lock, by a second statement: one that waited for the lock reads the cash as it was before
        # (a payment out holds the company's row while it posts, and never updates that row).
        now_row = s.execute(
            select(func.coalesce(balances_t.c.balance, 0).label("balance"), accounts_t.c.frozen_at)
            .select_from(accounts_t)
            .outerjoin(balances_t, balances_t.c.account_id == accounts_t.c.id)
            .where(accounts_t.c.id == row.account_id)
        ).first()
        balance = int(now_row.balance) if now_row is not None else 0
        if balance <= PUBLIC_THRESHOLD_CENTS or (now_row is not None and now_row.frozen_at is not None):
            return False
        return shareholders.issue_shares(
            s,
            company_id,
            owner_id=row.owner_id,
            price_micros=ipo_price_micros(balance),
            total_shares=TOTAL_SHARES,
            now=now or utcnow(),
        )
