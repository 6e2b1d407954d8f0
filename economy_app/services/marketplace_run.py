"""The simulated public: demand that rewards good products, batched into two ledger entries per company.

Each run:

1. draws a budget from the settings' range (services/marketplace_settings.py);
2. gives every product on sale (active, and past the hold for new listings) a demand weight
   (``demand_weights``: its price against the market's typical price, its recent sales, and its
   company's breadth, so listing more products does not buy more of the public's money);
3. draws the units of every product in one pass (``allocate``): the public's spending is shared in
   proportion to the weights, no company taking more than its cap of the budget; a multinomial draw
   of units, trimmed exactly to the caps and the budget, then a few bounded top-up rounds so that at
   least 95% of the budget is spent whenever enough goods fit. The cost is O(products), whatever the
   budget or the prices;
4. per company with sales, posts exactly two ``marketplace_batch`` entries, all in one ``ledger.post_many``
   (what that many ``ledger.post`` calls would write, in a few statements): the revenue (mint to company)
   and the production costs (company to mint), each carrying the units.

The whole run is one transaction: a crash leaves nothing half-posted. Every cent is an integer
(units x integer price); floats only ever weigh products, never count money. The run is reproducible:
the same database and the same seeded ``random.Random`` give the same sales.
"""

from __future__ import annotations

import logging
import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import DateTime, String, bindparam, cast, delete, func, select, text
from sqlmodel import Session

from economy_app.db import driver_datetime
from economy_app.models import Account, Balance, Company, LedgerEntry, Product, ProductSale, utcnow
from economy_app.money import format_cents
from economy_app.services import companies, ledger, marketplace_settings
from economy_app.services._tx import unit
from economy_app.services.accounts import system_account_id
from economy_app.services.errors import AccountFrozen, InvalidInput
from economy_app.services.marketplace_settings import MarketSettings

log = logging.getLogger(__name__)
products_t = Product.__table__
companies_t = Company.__table__
accounts_t = Account.__table__
balances_t = Balance.__table__
sales_t = ProductSale.__table__
ledger_t = LedgerEntry.__table__

# The demand formula's constants (README, "Companies and the marketplace").
BREADTH = 5  # a company's products share the public's attention of at most this many products
MOMENTUM_HALF_LIFE_SECONDS = 3600  # recent sales count half as much an hour later
SPEND_AT_LEAST_PERCENT = 95  # of the budget, whenever enough goods fit
TOP_UP_ROUNDS = 6  # multinomial rounds (the first one and the top-ups) before the final exact fill


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
    products_on_sale: int = 0  # seen by the public in this run
    products_waiting: int = 0  # active but still in their hold
    typical_price: int | None = None  # the median price the weights compared against
    cap: int = 0  # the most one company could take in this run
    company_ids: list[int] = field(default_factory=list)
    went_public: list[int] = field(default_factory=list)

    def summary(self) -> str:
        waiting = f" ({self.products_waiting} new listings still in their hold)" if self.products_waiting else ""
        return (
            f"{self.units} units of {self.products_sold} products from {self.companies} companies for "
            f"{format_cents(self.spent)} of a {format_cents(self.budget)} budget; {self.ledger_rows} ledger rows"
            f"{waiting}"
        )


# --------------------------------------------------------------------------- the demand model


def typical_price(prices: np.ndarray, company: np.ndarray) -> int:
    """The market's typical price: the median of the prices on sale, each company counting once
    (its products share one vote), so no company moves it by listing many products. In cents."""
    n_companies = int(company.max()) + 1
    per_company = np.bincount(company, minlength=n_companies)
    votes = 1.0 / per_company[company]
    order = np.argsort(prices, kind="stable")
    cumulative = np.cumsum(votes[order])
    half = cumulative[-1] / 2
    return int(prices[order[int(np.searchsorted(cumulative, half - 1e-9))]])


def price_factor(relative: np.ndarray) -> np.ndarray:
    """How much of its share of spending a product gets at ``relative`` = price / typical price:
    1 at the typical price, exp(-ln(r)^2 / 2) below it, exp(-ln(r)^2) above it (dearer falls faster)."""
    x = np.log(relative)
    return np.where(x < 0, np.exp(-0.5 * x * x), np.exp(-x * x))


def demand_weights(
    prices: np.ndarray, company: np.ndarray, momentum: np.ndarray, typical: int | None = None
) -> np.ndarray:
    """weight = price factor x momentum factor x breadth factor, for each product on sale.

    - price factor: ``price_factor(price / typical price)``;
    - momentum factor: 1 + m / (m + mean m), m being the product's recent share of the public's
      spending (decayed, see ``MOMENTUM_HALF_LIFE_SECONDS``): 1 for a product that never sold, up to 2
      for a best-seller;
    - breadth factor: min(1, BREADTH / the company's products on sale): a company's products together
      weigh at most as much as BREADTH of its average products.
    The public spends on a product in proportion to its weight (weights are shares, not money).
    """
    if prices.size == 0:
        return np.zeros(0)
    typical = typical or typical_price(prices, company)
    weights = price_factor(prices / typical)
    mean = float(momentum.mean())
    if mean > 0:
        weights = weights * (1.0 + momentum / (momentum + mean))
    per_company = np.bincount(company, minlength=int(company.max()) + 1)
    return weights * np.minimum(1.0, BREADTH / per_company[company])


def _capped_targets(left: int, weights: np.ndarray, company: np.ndarray, headroom: np.ndarray) -> np.ndarray:
    """Cents the public means to spend on each product: ``left`` in proportion to the weights, except
    that a company whose share would pass its headroom gets its headroom (its products in proportion),
    and the others share the rest (water-filling). Floats: a plan, trimmed to exact cents later."""
    n_companies = headroom.size
    per_company_weight = np.bincount(company, weights, minlength=n_companies)
    fixed = np.zeros(n_companies, dtype=bool)
    scale = np.zeros(n_companies)
    for _ in range(64):  # each pass fixes at least one more company at its cap; a few are enough
        free_weight = per_company_weight[~fixed].sum()
        remaining = left - headroom[fixed].sum()
        if free_weight <= 0 or remaining <= 0:
            scale[~fixed] = 0.0
            break
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where(
                fixed, headroom / np.where(per_company_weight > 0, per_company_weight, 1.0), remaining / free_weight
            )
        over = ~fixed & (per_company_weight * scale > headroom)
        if not over.any():
            break
        fixed |= over
    return weights * scale[company]


def _trim(
    draw: np.ndarray, prices: np.ndarray, company: np.ndarray, headroom: np.ndarray, left: int, gen: np.random.Generator
) -> np.ndarray:
    """Cut a draw down, exactly, to each company's headroom and then to the budget left, as shoppers
    arriving in a random order would find it: each product keeps the units that still fit after the
    products before it. Integer cents throughout."""
    draw = np.minimum(draw, left // prices)
    draw = np.minimum(draw, headroom[company] // prices)
    sold = np.flatnonzero(draw)
    if sold.size == 0:
        return draw
    order = sold[np.lexsort((gen.random(sold.size), company[sold]))]  # by company, random within
    spend = draw[order] * prices[order]
    before_all = np.cumsum(spend) - spend
    firsts = np.r_[True, company[order][1:] != company[order][:-1]]
    group_start = np.maximum.accumulate(np.where(firsts, before_all, 0))
    room = np.maximum(headroom[company[order]] - (before_all - group_start), 0)
    draw[order] = np.minimum(draw[order], room // prices[order])
    sold = np.flatnonzero(draw)
    if sold.size == 0:
        return draw
    order = sold[gen.permutation(sold.size)]
    spend = draw[order] * prices[order]
    before = np.cumsum(spend) - spend
    draw[order] = np.minimum(draw[order], np.maximum(left - before, 0) // prices[order])
    return draw


def allocate(
    prices: np.ndarray, company: np.ndarray, weights: np.ndarray, budget: int, cap: int, gen: np.random.Generator
) -> np.ndarray:
    """Units of each product the public buys: never more than ``budget`` in all, never more than
    ``cap`` from one company, and at least 95% of the budget whenever enough goods fit. O(products).

    ``prices`` are integer cents (int64), ``company`` dense company indexes, ``weights`` >= 0.
    """
    n = prices.size
    units = np.zeros(n, dtype=np.int64)
    if n == 0 or budget <= 0:
        return units
    prices = prices.astype(np.int64)
    headroom = np.full(int(company.max()) + 1, cap, dtype=np.int64)
    left = int(budget)
    goal = budget - budget * (100 - SPEND_AT_LEAST_PERCENT) // 100
    for _ in range(TOP_UP_ROUNDS):
        fits = (weights > 0) & (prices <= left) & (prices <= headroom[company])
        if not fits.any():
            break
        target = _capped_targets(left, np.where(fits, weights, 0.0), company, headroom)
        expected = target / prices  # units, in expectation
        total = float(expected.sum())
        if total <= 0:
            break
        whole = math.floor(total)
        count = whole + (1 if gen.random() < total - whole else 0)  # spends `left` in expectation
        if count == 0:
            continue
        draw = _trim(gen.multinomial(count, expected / total), prices, company, headroom, left, gen)
        spend = draw * prices
        units += draw
        left -= int(spend.sum())
        np.subtract.at(headroom, company, spend)
        if left <= budget // 100:  # within 1% of the budget: done
            break
    if budget - left < goal:
        # The random rounds fell short (few, dear goods): fill exactly, best weights first.
        for i in np.argsort(-weights, kind="stable"):
            if weights[i] <= 0:
                break
            c, price = company[i], int(prices[i])
            k = min(left, int(headroom[c])) // price
            if k > 0:
                units[i] += k
                left -= k * price
                headroom[c] -= k * price
                if budget - left >= goal:
                    break
    return units


# --------------------------------------------------------------------------- the run

# Each sold product's totals and momentum. PostgreSQL: one UPDATE ... FROM unnest(arrays) for every product
# (one round trip); SQLite: one executemany straight to the driver (no per-row parameter processing: 50,000
# products sold cost ~0.4 s of Python through SQLAlchemy's).
_PRODUCT_TOTALS_PG = text(
    "UPDATE products SET units_sold = products.units_sold + v.units, "
    "revenue_cents = products.revenue_cents + v.revenue, costs_cents = products.costs_cents + v.costs, "
    "momentum = v.momentum, momentum_at = :now "
    "FROM unnest(CAST(:pid AS INTEGER[]), CAST(:units AS BIGINT[]), CAST(:revenue AS BIGINT[]), "
    "CAST(:costs AS BIGINT[]), CAST(:momentum AS DOUBLE PRECISION[])) AS v(pid, units, revenue, costs, momentum) "
    "WHERE products.id = v.pid",
).bindparams(bindparam("now", type_=DateTime))
_PRODUCT_TOTALS_SQLITE = (
    "UPDATE products SET units_sold = units_sold + ?, revenue_cents = revenue_cents + ?, "
    "costs_cents = costs_cents + ?, momentum = ?, momentum_at = ? WHERE id = ?"
)


def _add_product_totals(
    s: Session,
    pids: list[int],
    units: list[int],
    revenue: list[int],
    costs: list[int],
    momentum: list[float],
    now: datetime,
) -> None:
    conn = s.connection()
    if conn.dialect.name == "postgresql":
        conn.execute(
            _PRODUCT_TOTALS_PG,
            {"pid": pids, "units": units, "revenue": revenue, "costs": costs, "momentum": momentum, "now": now},
        )
    else:
        at = driver_datetime(conn, now)
        conn.exec_driver_sql(
            _PRODUCT_TOTALS_SQLITE,
            [
                (n, rev, cost, m, at, pid)
                for pid, n, rev, cost, m in zip(pids, units, revenue, costs, momentum, strict=True)
            ],
        )


_ON_SALE = (
    # momentum_at as text (ISO, on both databases), parsed by numpy in one call: 50,000 rows of Python
    # datetimes would cost more than the whole draw.
    select(
        products_t.c.id,
        products_t.c.company_id,
        products_t.c.price_cents,
        products_t.c.cost_percent,
        products_t.c.momentum,
        cast(products_t.c.momentum_at, String).label("momentum_at"),
        companies_t.c.account_id,
    )
    .join(companies_t, companies_t.c.id == products_t.c.company_id)
    # A frozen company's products do not sell: its production costs could not be posted (services/moderation.py).
    .join(accounts_t, accounts_t.c.id == companies_t.c.account_id)
    .where(
        products_t.c.active.is_(True),
        products_t.c.listed_at <= bindparam("visible_before"),
        accounts_t.c.frozen_at.is_(None),
    )
    .order_by(products_t.c.id)
)
_WAITING = (
    select(func.count())
    .select_from(products_t)
    .where(products_t.c.active.is_(True), products_t.c.listed_at > bindparam("visible_before"))
)


def decayed(momentum: np.ndarray, momentum_at, now: datetime) -> np.ndarray:
    """Each product's momentum as of ``now`` (it halves every MOMENTUM_HALF_LIFE_SECONDS).
    ``momentum_at``: datetimes or ISO texts (None where it never sold)."""
    out = momentum.astype(float)
    at = np.array(momentum_at, dtype="datetime64[us]")
    age = np.maximum((np.datetime64(now, "us") - at) / np.timedelta64(1, "s"), 0.0)
    decay = np.exp2(-np.nan_to_num(age, nan=0.0) / MOMENTUM_HALF_LIFE_SECONDS)
    return np.where(out > 0, out * decay, 0.0)


@dataclass
class Plan:
    """What one run will buy: read-only, reproducible from the seed (run_batch posts it)."""

    budget: int
    cap: int
    typical: int | None
    waiting: int
    ids: np.ndarray  # the products on sale, by id
    prices: np.ndarray  # int64 cents
    cost_percent: np.ndarray
    company: np.ndarray  # dense index into company_ids
    company_ids: np.ndarray
    accounts: np.ndarray  # each company's account, by the same index
    units: np.ndarray  # int64 units bought of each product
    momentum: np.ndarray  # each product's momentum as of the run, before its sales


def plan(
    s: Session,
    *,
    rng: random.Random,
    now: datetime | None = None,
    budget: int | None = None,
    settings: MarketSettings | None = None,
) -> Plan:
    now = now or utcnow()
    with unit(s, write=False):
        settings = settings or marketplace_settings.load(s)
        if budget is None:
            budget = rng.randint(settings.budget_min_cents, settings.budget_max_cents)
        cap = settings.cap_cents(budget)
        visible_before = now - timedelta(seconds=settings.hold_seconds)
        rows = s.execute(_ON_SALE, {"visible_before": visible_before}).all()
        waiting = s.execute(_WAITING, {"visible_before": visible_before}).scalar_one()
    gen = np.random.default_rng(rng.getrandbits(128))
    if not rows:
        empty = np.zeros(0, dtype=np.int64)
        return Plan(budget, cap, None, waiting, empty, empty, empty, empty, empty, empty, empty, np.zeros(0))
    ids, company_ids, prices, cost_percent, momentum, momentum_at, account_ids = zip(*rows, strict=True)
    prices = np.array(prices, dtype=np.int64)
    unique_companies, first, company = np.unique(
        np.array(company_ids, dtype=np.int64), return_index=True, return_inverse=True
    )
    momentum = decayed(np.array(momentum, dtype=float), momentum_at, now)
    typical = typical_price(prices, company)
    weights = demand_weights(prices, company, momentum, typical)
    units = allocate(prices, company, weights, budget, cap, gen)
    return Plan(
        budget,
        cap,
        typical,
        waiting,
        np.array(ids, dtype=np.int64),
        prices,
        np.array(cost_percent, dtype=np.int64),
        company,
        unique_companies,
        np.array(account_ids, dtype=np.int64)[first],
        units,
        momentum,
    )


def run_batch(
    s: Session,
    *,
    rng: random.Random,
    now: datetime | None = None,
    budget: int | None = None,
    settings: MarketSettings | None = None,
) -> BatchResult:
    """One marketplace run, as one transaction (or inside the caller's unit, e.g. a claimed job slot).

    Frozen companies are left out of the plan. On PostgreSQL a company may be frozen after the plan read the
    products and before the posting locked its account: the posting refuses the batch, the run's work so far
    is rolled back to a savepoint, and the run plans again (from the same random state), without it."""
    now = now or utcnow()
    with unit(s, write=True):
        start = rng.getstate()
        while True:
            try:
                with s.begin_nested():
                    return _run_batch(s, rng=rng, now=now, budget=budget, settings=settings)
            except AccountFrozen as e:
                log.warning("marketplace run: accounts %s were frozen while it planned; planning again", e.account_ids)
                rng.setstate(start)


def _run_batch(
    s: Session, *, rng: random.Random, now: datetime, budget: int | None, settings: MarketSettings | None
) -> BatchResult:
    """One attempt at the run, inside ``run_batch``'s unit."""
    with unit(s, write=True):
        p = plan(s, rng=rng, now=now, budget=budget, settings=settings)
        result = BatchResult(
            budget=p.budget,
            products_on_sale=int(p.ids.size),
            products_waiting=p.waiting,
            typical_price=p.typical,
            cap=p.cap,
        )
        if p.typical is not None:
            marketplace_settings.record_typical_price(s, p.typical, now)
        sold = np.flatnonzero(p.units)
        if sold.size == 0:
            return result

        # Integer cents: units x integer prices (each at most the budget, so int64 is exact), then the cost
        # rounded up per product, as production_cost does.
        units = p.units[sold]
        revenue = units * p.prices[sold]
        costs = -((-revenue * p.cost_percent[sold]) // 100)
        company = p.company[sold]
        n_companies = p.company_ids.size
        by_company = {name: np.zeros(n_companies, dtype=np.int64) for name in ("units", "revenue", "costs", "products")}
        for name, values in (
            ("units", units),
            ("revenue", revenue),
            ("costs", costs),
            ("products", np.ones_like(units)),
        ):
            np.add.at(by_company[name], company, values)
        spent = int(revenue.sum())
        share = revenue / spent  # each product's share of this run's spending: its momentum grows by it
        _add_product_totals(
            s,
            p.ids[sold].tolist(),
            units.tolist(),
            revenue.tolist(),
            costs.tolist(),
            (p.momentum[sold] + share).tolist(),
            now,
        )

        mint = system_account_id(s)
        selling = np.flatnonzero(by_company["units"])  # company ids ascending: a fixed order
        entries = []
        for c in selling.tolist():
            account = int(p.accounts[c])
            n, count = int(by_company["units"][c]), int(by_company["products"][c])
            products = f"{count} product{'s' if count != 1 else ''}"
            entries.append(
                ledger.Posting(
                    mint,
                    account,
                    int(by_company["revenue"][c]),
                    "marketplace_batch",
                    batch_count=n,
                    description=f"Marketplace batch: {products}, {n} units sold",
                )
            )
            entries.append(
                ledger.Posting(
                    account,
                    mint,
                    int(by_company["costs"][c]),
                    "marketplace_batch",
                    batch_count=n,
                    description=f"Production costs: {n} units",
                )
            )
        # Exactly as many ledger.post() calls would write, in a few statements (the mint's row updated once).
        entry_ids = ledger.post_many(s, entries, now=now)
        result.ledger_rows = len(entry_ids)
        # Each company's two entries are at 2 x its position among the selling companies: the per-product lines
        # behind them (what the owner sees when opening the run from their history).
        position = {c: i for i, c in enumerate(selling.tolist())}
        s.execute(
            sales_t.insert(),
            [
                {
                    "ledger_id": entry_ids[2 * position[c]],
                    "costs_ledger_id": entry_ids[2 * position[c] + 1],
                    "company_id": int(p.company_ids[c]),
                    "product_id": pid,
                    "units": n,
                    "price_cents": price,
                    "revenue_cents": rev,
                    "costs_cents": cost,
                    "created_at": now,
                }
                for c, pid, n, price, rev, cost in zip(
                    company.tolist(),
                    p.ids[sold].tolist(),
                    units.tolist(),
                    p.prices[sold].tolist(),
                    revenue.tolist(),
                    costs.tolist(),
                    strict=True,
                )
            ],
        )

        result.spent = result.revenue = spent
        result.units = int(units.sum())
        result.products_sold = int(sold.size)
        result.companies = int(selling.size)
        result.costs = int(costs.sum())
        result.company_ids = [int(c) for c in p.company_ids[selling]]
        for company_id in _may_go_public(s, result.company_ids):  # the stock market acts on it
            if companies.check_and_update_public_status(s, company_id, now=now, wait=False):
                result.went_public.append(company_id)
        return result


def _may_go_public(s: Session, company_ids: list[int]) -> list[int]:
    """The sellers still private with cash above the threshold: one query, not one per company."""
    found: list[int] = []
    for start in range(0, len(company_ids), 5000):  # bounded IN lists
        chunk = company_ids[start : start + 5000]
        found += (
            s.execute(
                select(companies_t.c.id)
                .join(balances_t, balances_t.c.account_id == companies_t.c.account_id)
                .where(
                    companies_t.c.id.in_(chunk),
                    companies_t.c.is_public.is_(False),
                    balances_t.c.balance > companies.PUBLIC_THRESHOLD_CENTS,
                )
            )
            .scalars()
            .all()
        )
    return sorted(found)


# --------------------------------------------------------------------------- what a run sold, per product

SALES_KEPT_DAYS = 90  # per-product lines are deleted with price history (services/schedule.py's clean-up)


@dataclass(frozen=True)
class SaleLine:
    product_id: int
    name: str  # the product's name today
    units: int
    price_cents: int  # the price it sold at in that run
    revenue_cents: int
    costs_cents: int


@dataclass(frozen=True)
class RunSales:
    """One marketplace run seen by one selling company: its two ledger entries and the products behind them."""

    entry_id: int  # the revenue entry
    company_id: int
    company_name: str
    account_id: int
    at: datetime
    units: int
    revenue_cents: int
    costs_cents: int
    lines: list[SaleLine]  # best-selling first; empty for a run older than SALES_KEPT_DAYS (its totals only)


def run_sales(s: Session, user_id: int, entry_id: int) -> RunSales:
    """What the run behind ledger entry ``entry_id`` (either of a company's two ``marketplace_batch``
    entries) sold, product by product, for the company's owner only: any other entry, or another player's
    company, is "Entry not found." (no existence leak). A run older than the kept lines shows its totals only."""
    with unit(s, write=False):
        entry = s.execute(
            select(
                ledger_t.c.id,
                ledger_t.c.from_account_id,
                ledger_t.c.to_account_id,
                ledger_t.c.type,
                ledger_t.c.amount,
                ledger_t.c.batch_count,
                ledger_t.c.created_at,
            ).where(ledger_t.c.id == entry_id)
        ).first()
        if entry is None or entry.type != "marketplace_batch":
            raise InvalidInput("Entry not found.")
        # The company's account is the revenue entry's receiver and the costs entry's payer.
        owned = s.execute(
            select(accounts_t.c.id, companies_t.c.id.label("company_id"), companies_t.c.name)
            .join(companies_t, companies_t.c.account_id == accounts_t.c.id)
            .where(
                accounts_t.c.id.in_([entry.from_account_id, entry.to_account_id]),
                accounts_t.c.kind == "company",
                accounts_t.c.owner_id == user_id,
            )
        ).first()
        if owned is None:
            raise InvalidInput("Entry not found.")
        lines = s.execute(
            select(
                sales_t.c.ledger_id,
                sales_t.c.product_id,
                func.coalesce(products_t.c.name, "(deleted product)").label("name"),
                sales_t.c.units,
                sales_t.c.price_cents,
                sales_t.c.revenue_cents,
                sales_t.c.costs_cents,
            )
            .select_from(sales_t)
            .outerjoin(products_t, products_t.c.id == sales_t.c.product_id)
            .where(
                (sales_t.c.ledger_id == entry.id) | (sales_t.c.costs_ledger_id == entry.id),
                sales_t.c.company_id == owned.company_id,
            )
            .order_by(sales_t.c.units.desc(), sales_t.c.product_id)
        ).all()
    revenue_side = entry.to_account_id == owned.id
    return RunSales(
        entry_id=lines[0].ledger_id if lines else entry.id,
        company_id=owned.company_id,
        company_name=owned.name,
        account_id=owned.id,
        at=entry.created_at,
        units=int(entry.batch_count or 0),
        revenue_cents=sum(int(r.revenue_cents) for r in lines) if lines else (entry.amount if revenue_side else 0),
        costs_cents=sum(int(r.costs_cents) for r in lines) if lines else (0 if revenue_side else entry.amount),
        lines=[
            SaleLine(r.product_id, r.name, int(r.units), int(r.price_cents), int(r.revenue_cents), int(r.costs_cents))
            for r in lines
        ],
    )


def purge_sales(s: Session, *, now: datetime | None = None, days: int = SALES_KEPT_DAYS) -> int:
    """Delete per-product sale lines older than ``days`` (the daily clean-up, with price history)."""
    cutoff = (now or utcnow()) - timedelta(days=days)
    with unit(s, write=True):
        return s.execute(delete(sales_t).where(sales_t.c.created_at < cutoff)).rowcount or 0
