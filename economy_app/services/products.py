"""Products: listed by a company, bought by the simulated public (services/marketplace.py).

A company lists at most ``listing_limit`` active products (a marketplace setting), and creates at most
``most_ever_listed(listing_limit)`` products in all, withdrawn ones included: each new product draws its
production cost once, so without that bound a script could list, withdraw the bad draws and list again until
every product has the lowest cost. A withdrawn product keeps its draw and can be edited and put back on sale.
Listing one, or putting a withdrawn one on sale again, starts its hold: the public sees it once
``hold_seconds`` have passed since ``listed_at``. Both come from services/marketplace_settings.py, so every
worker agrees.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import case, func, select, update
from sqlmodel import Session

from economy_app.db import like_prefix
from economy_app.models import Company, Product, utcnow
from economy_app.services import marketplace_settings, moderation
from economy_app.services._tx import unit
from economy_app.services.companies import _owned
from economy_app.services.errors import InvalidAmount, InvalidInput, ListingLimit, NotCompanyOwner, ProductNotFound

products_t = Product.__table__
companies_t = Company.__table__

MAX_PRICE_CENTS = 100_000_000  # $1,000,000.00
COST_PERCENT_RANGE = (23, 67)
EVER_LISTED_PER_LIMIT = 2  # products a company may create in all: this many times the listing limit
LISTING_SORTS = ("best_selling", "price_asc", "price_desc", "newest")


@dataclass(frozen=True)
class ProductView:
    id: int
    company_id: int
    company_name: str
    ticker: str
    name: str
    description: str
    price_cents: int
    cost_percent: int
    active: bool
    units_sold: int
    revenue_cents: int
    costs_cents: int
    created_at: datetime
    listed_at: datetime
    public_from: datetime | None = None  # set while the product waits out its hold: when the public sees it
    price_warning: str = ""  # why it sells rarely or never at its price (MarketSettings.price_warning)


def clean_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not 1 <= len(name) <= 80:
        raise InvalidInput("Product name must be 1 to 80 characters.")
    return name


def clean_description(description: str | None) -> str:
    description = (description or "").strip()
    if len(description) > 500:
        raise InvalidInput("Description is limited to 500 characters.")
    return description


def check_price(price_cents) -> int:
    if isinstance(price_cents, bool) or not isinstance(price_cents, int):
        raise InvalidAmount("Price must be a whole number of cents.")
    if price_cents <= 0:
        raise InvalidAmount("Price must be more than $0.00.")
    if price_cents > MAX_PRICE_CENTS:
        raise InvalidAmount("Price can be at most $1,000,000.00.")
    return price_cents


_VIEW = (
    select(
        products_t.c.id,
        products_t.c.company_id,
        companies_t.c.name.label("company_name"),
        companies_t.c.ticker,
        products_t.c.name,
        products_t.c.description,
        products_t.c.price_cents,
        products_t.c.cost_percent,
        products_t.c.active,
        products_t.c.units_sold,
        products_t.c.revenue_cents,
        products_t.c.costs_cents,
        products_t.c.created_at,
        products_t.c.listed_at,
    )
    .select_from(products_t)
    .join(companies_t, companies_t.c.id == products_t.c.company_id)
)


def _view(row, hold_seconds: int = 0, now: datetime | None = None) -> ProductView:
    v = ProductView(**{**dict(row._mapping), "active": bool(row.active)})
    visible = marketplace_settings.public_from(v.listed_at, v.active, hold_seconds, now or utcnow())
    return replace(v, public_from=visible)


def _hold(s: Session) -> int:
    return marketplace_settings.load(s).hold_seconds


def get_product(s: Session, product_id: int) -> ProductView:
    """The product, with the hold it waits out and (for its owner, listing or repricing it) why its price may
    keep it from selling."""
    with unit(s, write=False):
        row = s.execute(_VIEW.where(products_t.c.id == product_id)).first()
        if row is None:
            raise ProductNotFound("Product not found.")
        market = marketplace_settings.load(s)
        view = _view(row, market.hold_seconds)
    return replace(view, price_warning=market.price_warning(view.price_cents))


def _lock_company(s: Session, company_id: int) -> None:
    """Serialise listing changes per company (a count-then-insert limit): PostgreSQL locks the company's
    row; SQLite's write unit already holds the database's write lock."""
    if s.get_bind().dialect.name == "postgresql":
        s.execute(select(companies_t.c.id).where(companies_t.c.id == company_id).with_for_update())


def most_ever_listed(listing_limit: int) -> int:
    """How many products a company may create in all (withdrawn ones included) under ``listing_limit``."""
    return EVER_LISTED_PER_LIMIT * listing_limit


def _check_listing_limit(s: Session, company_id: int, *, new: bool = False) -> None:
    """Refuse one more active product once the company lists as many as the marketplace allows, and (``new``)
    one more product once it has created ``most_ever_listed`` of them. Counted under the company's lock."""
    _lock_company(s, company_id)
    limit = marketplace_settings.load(s).listing_limit
    ever, listed = s.execute(
        select(func.count(), func.coalesce(func.sum(case((products_t.c.active.is_(True), 1), else_=0)), 0))
        .select_from(products_t)
        .where(products_t.c.company_id == company_id)
    ).one()
    if new and ever >= most_ever_listed(limit):
        raise ListingLimit(
            f"This company has listed {ever} products, the most a company may ever list (twice the "
            f"listing limit of {limit}). Edit a withdrawn product and put it back on sale instead: "
            f"it keeps its production cost."
        )
    if listed >= limit:
        raise ListingLimit(
            f"This company already has {listed} products on sale, the most a company may list "
            f"(limit {limit}). Withdraw one to list another."
        )


def create_product(
    s: Session,
    *,
    actor_id: int,
    company_id: int,
    name: str,
    price_cents: int,
    description: str = "",
    rng: random.Random | None = None,
    now: datetime | None = None,
) -> ProductView:
    """List a product (within the company's listing limit and ``most_ever_listed``; its hold starts now). Its
    production cost is a percentage (23-67%) drawn once, here, from ``rng``, and always applied to the current
    price."""
    name, description, price_cents = clean_name(name), clean_description(description), check_price(price_cents)
    cost_percent = (rng or random.Random()).randint(*COST_PERCENT_RANGE)
    now = now or utcnow()
    with unit(s, write=True):
        _owned(s, actor_id, company_id)
        moderation.refuse_frozen_company(s, company_id)
        _check_listing_limit(s, company_id, new=True)
        product_id = s.execute(
            products_t.insert()
            .values(
                company_id=company_id,
                name=name,
                description=description,
                price_cents=price_cents,
                cost_percent=cost_percent,
                active=True,
                created_at=now,
                listed_at=now,
            )
            .returning(products_t.c.id)
        ).scalar_one()
        return get_product(s, product_id)


def _owned_product(s: Session, actor_id: int, product_id: int) -> int:
    """The product's company, once its owner is the actor."""
    company_id = s.execute(select(products_t.c.company_id).where(products_t.c.id == product_id)).scalar()
    if company_id is None:
        raise ProductNotFound("Product not found.")
    try:
        _owned(s, actor_id, company_id)
    except NotCompanyOwner:
        raise NotCompanyOwner("Only the company's owner can change its products.") from None
    return company_id


def update_product(
    s: Session,
    *,
    actor_id: int,
    product_id: int,
    name: str | None = None,
    description: str | None = None,
    price_cents: int | None = None,
) -> ProductView:
    values = {}
    if name is not None:
        values["name"] = clean_name(name)
    if description is not None:
        values["description"] = clean_description(description)
    if price_cents is not None:
        values["price_cents"] = check_price(price_cents)
    with unit(s, write=True):
        company_id = _owned_product(s, actor_id, product_id)
        if values:
            # A frozen company rewrites nothing other players read (names, prices) while an admin looks into it.
            moderation.refuse_frozen_company(s, company_id)
            s.execute(update(products_t).where(products_t.c.id == product_id).values(**values))
        return get_product(s, product_id)


def set_active(s: Session, *, actor_id: int, product_id: int, active: bool, now: datetime | None = None) -> ProductView:
    """Withdraw a product (the public stops buying it) or put it on sale again: within the listing
    limit, and with a new hold, as a new listing. Already in that state: nothing changes."""
    with unit(s, write=True):
        _owned_product(s, actor_id, product_id)
        row = s.execute(select(products_t.c.company_id, products_t.c.active).where(products_t.c.id == product_id)).one()
        if bool(row.active) != bool(active):
            values: dict = {"active": bool(active)}
            if active:
                moderation.refuse_frozen_company(s, row.company_id)
                _check_listing_limit(s, row.company_id)
                values["listed_at"] = now or utcnow()
            s.execute(update(products_t).where(products_t.c.id == product_id).values(**values))
        return get_product(s, product_id)


def company_products(s: Session, company_id: int) -> list[ProductView]:
    with unit(s, write=False):
        rows = s.execute(
            _VIEW.where(products_t.c.company_id == company_id).order_by(products_t.c.active.desc(), products_t.c.id)
        ).all()
        hold = _hold(s)
    return [_view(r, hold) for r in rows]


def listing(
    s: Session,
    *,
    query: str = "",
    company_id: int | None = None,
    sort: str = "best_selling",
    page: int = 1,
    page_size: int = 24,
) -> tuple[list[ProductView], int]:
    """Active products for the marketplace page: search, company filter, sort, one page: (rows, total)."""
    if sort not in LISTING_SORTS:
        raise InvalidInput(f"Sort by one of: {', '.join(LISTING_SORTS)}.")
    page, page_size = max(1, int(page)), max(1, min(int(page_size), 100))
    where = [products_t.c.active.is_(True)]
    if company_id is not None:
        where.append(products_t.c.company_id == company_id)
    query = (query or "").strip().lower()
    if query:
        pattern = "%" + like_prefix(query)
        where.append(
            func.lower(products_t.c.name).like(pattern, escape="\\")
            | func.lower(companies_t.c.name).like(pattern, escape="\\")
            | func.lower(companies_t.c.ticker).like(pattern, escape="\\")
        )
    order = {
        "best_selling": (products_t.c.units_sold.desc(), products_t.c.id),
        "price_asc": (products_t.c.price_cents, products_t.c.id),
        "price_desc": (products_t.c.price_cents.desc(), products_t.c.id),
        "newest": (products_t.c.id.desc(),),
    }[sort]
    with unit(s, write=False):
        total = s.execute(
            select(func.count())
            .select_from(products_t)
            .join(companies_t, companies_t.c.id == products_t.c.company_id)
            .where(*where)
        ).scalar_one()
        rows = s.execute(_VIEW.where(*where).order_by(*order).offset((page - 1) * page_size).limit(page_size)).all()
        hold = _hold(s)
    return [_view(r, hold) for r in rows], total
