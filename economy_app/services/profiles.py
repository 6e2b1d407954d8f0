"""A company's public profile: what any player may read about a company before trading its shares.

Everything here is public in the game: the directory already lists every company's cash, and the stock page
its shareholders. Nothing of the owner's alone (production costs per product, drafts, the ledger) is shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func, select
from sqlmodel import Session

from economy_app.models import LedgerEntry, Product, utcnow
from economy_app.services import companies, shareholders
from economy_app.services._tx import unit

products_t = Product.__table__
ledger_t = LedgerEntry.__table__

RECENT_RUNS = 10  # the marketplace runs the profile shows
RUNS_WINDOW = timedelta(days=7)  # looked for among this many days (a bounded index range)


@dataclass(frozen=True)
class ProfileProduct:
    name: str
    description: str
    price_cents: int
    units_sold: int
    on_sale: bool


@dataclass(frozen=True)
class RunFigures:
    """One marketplace run the company sold in: its two batched entries."""

    at: datetime
    units: int
    revenue: int
    costs: int


@dataclass(frozen=True)
class CompanyProfile:
    company: companies.CompanyView
    is_owner: bool  # the viewer runs it (their dashboard is one link away)
    revenue_30d: int
    costs_30d: int
    products: list[ProfileProduct]
    runs: list[RunFigures]  # the latest first
    ipo: shareholders.IpoStatus


def company_profile(
    s: Session, company_id: int, viewer_id: int | None = None, *, now: datetime | None = None
) -> CompanyProfile:
    """Any company's profile, for any logged-in player (``CompanyNotFound`` when there is none)."""
    now = now or utcnow()
    with unit(s, write=False):
        company = companies.get_company(s, company_id, now=now)
        acct = company.account_id
        inflow = ledger_t.c.to_account_id == acct
        batch = ((ledger_t.c.to_account_id == acct) | (ledger_t.c.from_account_id == acct)) & (
            ledger_t.c.type == "marketplace_batch"
        )
        costs_30d = s.execute(
            select(func.coalesce(func.sum(ledger_t.c.amount), 0)).where(
                ledger_t.c.from_account_id == acct,
                ledger_t.c.type == "marketplace_batch",
                ledger_t.c.created_at >= now - timedelta(days=30),
            )
        ).scalar_one()
        runs = s.execute(
            select(
                ledger_t.c.created_at,
                func.sum(case((inflow, ledger_t.c.amount), else_=0)).label("revenue"),
                func.sum(case((inflow, 0), else_=ledger_t.c.amount)).label("costs"),
                func.max(ledger_t.c.batch_count).label("units"),
            )
            .where(batch, ledger_t.c.created_at >= now - RUNS_WINDOW)
            .group_by(ledger_t.c.created_at)
            .order_by(ledger_t.c.created_at.desc())
            .limit(RECENT_RUNS)
        ).all()
        products = s.execute(
            select(
                products_t.c.name,
                products_t.c.description,
                products_t.c.price_cents,
                products_t.c.units_sold,
                products_t.c.active,
            )
            .where(products_t.c.company_id == company_id)
            .order_by(products_t.c.active.desc(), products_t.c.units_sold.desc(), products_t.c.id)
        ).all()
        ipo = shareholders.ipo_status(s, company_id)
    return CompanyProfile(
        company=company,
        is_owner=viewer_id is not None and viewer_id == company.owner_id,
        revenue_30d=company.revenue_30d,
        costs_30d=int(costs_30d),
        products=[ProfileProduct(p.name, p.description, p.price_cents, p.units_sold, bool(p.active)) for p in products],
        runs=[RunFigures(r.created_at, int(r.units or 0), int(r.revenue), int(r.costs)) for r in runs],
        ipo=ipo,
    )
