"""The simulated public buying products, batched into two ledger entries per company per run.

``run_batch`` draws a budget, then repeatedly buys one unit of a random active
product whose price still fits what is left, until none fits. Then, per
company with sales, it posts exactly two ``marketplace_batch`` entries: the
revenue (mint to company) and the production costs (company to mint), each
carrying the number of units. Product totals move by the same figures. The
whole run is one transaction: a crash leaves nothing half-posted.
"""

from __future__ import annotations

import os
import random
from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import bindparam, select, update
from sqlmodel import Session

from economy_app.models import Company, Product, utcnow
from economy_app.money import format_cents
from economy_app.services import companies, ledger
from economy_app.services._tx import unit
from economy_app.services.accounts import system_account_id

products_t = Product.__table__
companies_t = Company.__table__


def budget_range() -> tuple[int, int]:
    """The public's budget per run in cents (default $20,000.00 - $39,999.99)."""
    return (int(os.environ.get("ECONOMY_MARKET_BUDGET_MIN_CENTS", 2_000_000)),
            int(os.environ.get("ECONOMY_MARKET_BUDGET_MAX_CENTS", 3_999_999)))


def production_cost(revenue_cents: int, cost_percent: int) -> int:
    """The cost of goods sold for ``revenue_cents`` at the product's percentage, rounded up to a cent."""
    return -(-revenue_cents * cost_percent // 100)


@dataclass
class BatchResult:
    budget: int
    spent: int = 0
    units: int = 0
    products_sold: int = 0
    companies: int = 0
    ledger_rows: int = 0
    revenue: int = 0
    costs: int = 0
    company_ids: list[int] = field(default_factory=list)
    went_public: list[int] = field(default_factory=list)

    def summary(self) -> str:
        return (f"{self.units} units of {self.products_sold} products from {self.companies} companies for "
                f"{format_cents(self.spent)} of a {format_cents(self.budget)} budget; {self.ledger_rows} ledger rows")


_PRODUCT_TOTALS = (
    update(products_t)
    .where(products_t.c.id == bindparam("pid"))
    .values(units_sold=products_t.c.units_sold + bindparam("units"),
            revenue_cents=products_t.c.revenue_cents + bindparam("revenue"),
            costs_cents=products_t.c.costs_cents + bindparam("costs"))
)


def choose_units(prices: list[int], budget: int, rng: random.Random) -> tuple[Counter, int]:
    """Buy one unit at a time of a uniformly random product that still fits. ``prices`` sorted ascending.

    Returns (units per index, cents left). Each step is a bisect: O(units x log products).
    """
    units: Counter = Counter()
    left = budget
    affordable = bisect_right(prices, left)
    while affordable:
        i = rng.randrange(affordable)
        units[i] += 1
        left -= prices[i]
        affordable = bisect_right(prices, left, 0, affordable)
    return units, left


def run_batch(s: Session, *, rng: random.Random, now: datetime | None = None,
              budget: int | None = None) -> BatchResult:
    """One marketplace run, as one transaction (or inside the caller's unit, e.g. a claimed job slot)."""
    now = now or utcnow()
    with unit(s, write=True):
        rows = s.execute(
            select(products_t.c.id, products_t.c.company_id, products_t.c.price_cents, products_t.c.cost_percent,
                   companies_t.c.account_id)
            .join(companies_t, companies_t.c.id == products_t.c.company_id)
            .where(products_t.c.active.is_(True))
            .order_by(products_t.c.price_cents, products_t.c.id)
        ).all()
        if budget is None:
            budget = rng.randint(*budget_range())
        result = BatchResult(budget=budget)
        units, left = choose_units([r.price_cents for r in rows], budget, rng)
        result.spent = budget - left
        if not units:
            return result

        per_company: dict[int, dict] = {}
        totals = []
        for i, n in sorted(units.items()):
            r = rows[i]
            revenue = n * r.price_cents
            cost = production_cost(revenue, r.cost_percent)
            totals.append({"pid": r.id, "units": n, "revenue": revenue, "costs": cost})
            c = per_company.setdefault(r.company_id, {"account": r.account_id, "units": 0, "products": 0,
                                                      "revenue": 0, "costs": 0})
            c["units"] += n
            c["products"] += 1
            c["revenue"] += revenue
            c["costs"] += cost

        mint = system_account_id(s)
        for company_id in sorted(per_company):  # a fixed order
            c = per_company[company_id]
            products = f"{c['products']} product{'s' if c['products'] != 1 else ''}"
            ledger.post(s, from_account_id=mint, to_account_id=c["account"], amount=c["revenue"],
                        type="marketplace_batch", batch_count=c["units"], now=now,
                        description=f"Marketplace batch: {products}, {c['units']} units sold")
            ledger.post(s, from_account_id=c["account"], to_account_id=mint, amount=c["costs"],
                        type="marketplace_batch", batch_count=c["units"], now=now,
                        description=f"Production costs: {c['units']} units")
            result.ledger_rows += 2
        s.connection().execute(_PRODUCT_TOTALS, totals)

        result.units = sum(units.values())
        result.products_sold = len(units)
        result.companies = len(per_company)
        result.revenue = sum(c["revenue"] for c in per_company.values())
        result.costs = sum(c["costs"] for c in per_company.values())
        result.company_ids = sorted(per_company)
        for company_id in result.company_ids:  # the stock market acts on it
            if companies.check_and_update_public_status(s, company_id, now=now):
                result.went_public.append(company_id)
        return result
