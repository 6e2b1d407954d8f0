"""The batched marketplace run and its scheduling."""

from __future__ import annotations

import asyncio
import random
import threading
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from economy_app.db import make_engine
from economy_app.models import JobRun, LedgerEntry, Product, utcnow
from economy_app.services import companies, marketplace_run, marketplace_settings, products, schedule
from tests.support.db import check_invariants, fingerprint

AN_HOUR_AGO = utcnow() - timedelta(hours=1)  # listed before the hold for new listings: on sale to the public


def settings(session, **changes):
    return replace(marketplace_settings.load(session), **changes)


@pytest.fixture
def shop(session, make_player, make_company):
    """Three companies: one with three products, one with one, one with an inactive product only."""
    owner, _ = make_player()
    rng = random.Random(9)
    catalog = {}
    for ticker, items in (
        ("ACME", [("Anvil", 1999), ("Rocket", 25_000), ("Spring", 350)]),
        ("BETA", [("Bolt", 1200)]),
        ("GAMA", [("Gone", 500)]),
    ):
        company, account = make_company(owner, ticker)
        for name, price in items:
            p = products.create_product(
                session, actor_id=owner, company_id=company, name=name, price_cents=price, rng=rng, now=AN_HOUR_AGO
            )
            catalog[p.id] = (company, account, price, p.cost_percent)
    gone = next(pid for pid, c in catalog.items() if c[2] == 500)
    products.set_active(session, actor_id=owner, product_id=gone, active=False)
    return {"owner": owner, "catalog": catalog, "inactive": gone}


def run_async(coro_fn) -> None:
    """asyncio.run in a thread of its own (a session-wide Playwright browser may own this thread's loop)."""
    errors = []

    def target():
        try:
            asyncio.run(coro_fn())
        except BaseException as e:  # noqa: BLE001 - re-raised in the test's thread
            errors.append(e)

    t = threading.Thread(target=target)
    t.start()
    t.join()
    if errors:
        raise errors[0]


def batch_entries(session):
    return (
        session.execute(select(LedgerEntry).where(LedgerEntry.type == "marketplace_batch").order_by(LedgerEntry.id))
        .scalars()
        .all()
    )


def test_budget_and_caps_are_respected_and_nothing_more_fits(session, shop):
    result = marketplace_run.run_batch(session, rng=random.Random(1))
    settings = marketplace_settings.load(session)
    low, high = settings.budget_min_cents, settings.budget_max_cents
    assert low <= result.budget <= high
    assert 0 < result.spent <= result.budget
    cap = result.budget * 20 // 100  # the default cap: 20% of the budget per company
    assert result.cap == cap
    revenue = company_revenue(session)
    assert revenue and all(0 < r <= cap for r in revenue.values())
    # Two companies sell (the third only has a withdrawn product): each is stopped by its cap, so what
    # the public did not spend fits none of their products.
    for company_id, earned in revenue.items():
        cheapest = min(c[2] for pid, c in shop["catalog"].items() if c[0] == company_id and pid != shop["inactive"])
        assert cap - earned < cheapest


def company_revenue(session) -> dict[int, int]:
    """Marketplace revenue per company (the mint -> company entries)."""
    from economy_app.models import Company

    rows = session.execute(
        select(Company.id, func.sum(LedgerEntry.amount))
        .join(LedgerEntry, LedgerEntry.to_account_id == Company.account_id)
        .where(LedgerEntry.type == "marketplace_batch")
        .group_by(Company.id)
    ).all()
    return {company_id: int(total) for company_id, total in rows}


def test_two_entries_per_selling_company_with_exact_sums(session, engine, shop):
    result = marketplace_run.run_batch(session, rng=random.Random(2), budget=300_000)
    entries = batch_entries(session)
    assert len(entries) == 2 * result.companies == result.ledger_rows == 4  # ACME and BETA; GAMA sells nothing
    sold = {p.id: p for p in session.execute(select(Product)).scalars()}
    for company_id, account in {(c[0], c[1]) for c in shop["catalog"].values()}:
        mine = [p for p in sold.values() if p.company_id == company_id]
        revenue_in = [e for e in entries if e.to_account_id == account]
        costs_out = [e for e in entries if e.from_account_id == account]
        units = sum(p.units_sold for p in mine)
        if not units:
            assert revenue_in == costs_out == []
            continue
        assert len(revenue_in) == len(costs_out) == 1
        assert revenue_in[0].amount == sum(p.revenue_cents for p in mine)
        assert costs_out[0].amount == sum(p.costs_cents for p in mine)
        assert revenue_in[0].batch_count == costs_out[0].batch_count == units
        products_sold = sum(1 for p in mine if p.units_sold)
        assert revenue_in[0].description == (
            f"Marketplace batch: {products_sold} product{'s' if products_sold != 1 else ''}, {units} units sold"
        )
    for p in sold.values():  # product totals: price x units, cost at the product's percentage
        assert p.revenue_cents == p.units_sold * p.price_cents
        assert p.costs_cents == marketplace_run.production_cost(p.revenue_cents, p.cost_percent)
    assert sold[shop["inactive"]].units_sold == 0
    assert result.units == sum(p.units_sold for p in sold.values())
    check_invariants(engine)


def test_totals_accumulate_over_runs(session, engine, shop):
    results = [marketplace_run.run_batch(session, rng=random.Random(seed), budget=200_000) for seed in range(5)]
    sold = session.execute(
        select(func.sum(Product.units_sold), func.sum(Product.revenue_cents), func.sum(Product.costs_cents))
    ).one()
    assert sold == (sum(r.units for r in results), sum(r.revenue for r in results), sum(r.costs for r in results))
    assert len(batch_entries(session)) == sum(r.ledger_rows for r in results)
    check_invariants(engine)


def test_a_failure_in_the_middle_leaves_nothing(session, engine, shop, monkeypatch):
    before = fingerprint(engine)
    calls = {"n": 0}
    real_post_many = marketplace_run.ledger.post_many

    def posts_then_fails(*args, **kwargs):
        calls["n"] += 1
        posted = real_post_many(*args, **kwargs)  # every entry written, then
        raise RuntimeError(f"the power went out after {len(posted)} entries")

    monkeypatch.setattr(marketplace_run.ledger, "post_many", posts_then_fails)
    with pytest.raises(RuntimeError, match="after 4 entries"):
        marketplace_run.run_batch(session, rng=random.Random(2), budget=300_000)
    assert calls["n"] == 1
    assert fingerprint(engine) == before


def test_a_run_writes_exactly_what_two_posts_per_company_would(session, engine, shop, monkeypatch):
    """The run posts its entries in one ``ledger.post_many``: the same seed run through that many single
    ``ledger.post`` calls instead writes the same balances, ledger rows and balance_history rows."""
    from economy_app.services import ledger
    from tests.unit.test_ledger import _run_and_roll_back

    now = utcnow()

    def run(s):
        marketplace_run.run_batch(s, rng=random.Random(4), budget=3_000_000, now=now)

    def one_post_each(s, entries, *, now=None):  # returns the entries' ids, as post_many does
        return [
            ledger.post(
                s,
                from_account_id=e.from_account_id,
                to_account_id=e.to_account_id,
                amount=e.amount,
                type=e.type,
                description=e.description,
                batch_count=e.batch_count,
                now=now,
            ).id
            for e in entries
        ]

    batched = _run_and_roll_back(session, run, now)
    monkeypatch.setattr(marketplace_run.ledger, "post_many", one_post_each)
    single = _run_and_roll_back(session, run, now)
    assert len(batched["entries"]) == 4 and batched == single


def test_no_products_no_entries(session, engine, make_player):
    make_player()
    result = marketplace_run.run_batch(session, rng=random.Random(1))
    assert (result.units, result.ledger_rows, result.spent) == (0, 0, 0)
    assert batch_entries(session) == []


def test_company_that_sells_past_the_threshold_goes_public(session, make_player, make_company):
    owner, _ = make_player()
    company, _ = make_company(owner, "BIG")
    products.create_product(
        session,
        actor_id=owner,
        company_id=company,
        name="Gold",
        price_cents=10_000_000,
        rng=random.Random(1),
        now=AN_HOUR_AGO,
    )
    result = marketplace_run.run_batch(
        session,
        rng=random.Random(1),
        budget=30_000_000,  # three bars of gold
        settings=settings(session, company_cap_percent=100),
    )
    assert result.units == 3 and result.spent == 30_000_000
    assert result.went_public == [company]
    assert companies.get_company(session, company).is_public


# --------------------------------------------------------------------------- slots and schedulers


def test_a_slot_runs_once_and_a_failure_is_recorded(session, shop):
    first = schedule.run_claimed(
        session, "marketplace", "slot-1", lambda s: marketplace_run.run_batch(s, rng=random.Random(1), budget=100_000)
    )
    assert first[0] is not None
    assert schedule.run_claimed(session, "marketplace", "slot-1", lambda s: 1 / 0) == (None, None)
    entries = len(batch_entries(session))
    with pytest.raises(ZeroDivisionError):
        schedule.run_claimed(session, "marketplace", "slot-2", lambda s: 1 / 0)
    runs = {r["slot"]: r for r in schedule.recent_runs(session, "marketplace")}
    assert runs["slot-1"]["status"] == "ok" and "units" in runs["slot-1"]["summary"]
    assert runs["slot-2"]["status"] == "failed" and "ZeroDivisionError" in runs["slot-2"]["summary"]
    assert len(batch_entries(session)) == entries


def test_two_workers_racing_for_one_slot_run_it_once(engine, db_url, shop):
    results = []
    barrier = threading.Barrier(2)

    def worker():
        with Session(make_engine(db_url)) as s:
            barrier.wait()
            results.append(
                schedule.run_claimed(
                    s,
                    "marketplace",
                    "race",
                    lambda s_: marketplace_run.run_batch(s_, rng=random.Random(5), budget=100_000),
                )[0]
            )

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r is None for r in results) == [False, True]
    with Session(engine) as s:
        assert s.execute(select(func.count()).select_from(JobRun)).scalar_one() == 1
        assert len(batch_entries(s)) == 4
    check_invariants(engine)


def test_two_schedulers_against_one_database_run_each_slot_once(engine, db_url, shop, monkeypatch):
    from economy_app.jobs import scheduler as sched

    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("ECONOMY_MARKETPLACE_INTERVAL_SECONDS", "1")
    monkeypatch.setenv("ECONOMY_MARKET_BUDGET_MIN_CENTS", "10000")
    monkeypatch.setenv("ECONOMY_MARKET_BUDGET_MAX_CENTS", "20000")

    async def run_two():
        one, two = sched.build_scheduler(), sched.build_scheduler()
        one.start()
        two.start()
        await asyncio.sleep(3.6)
        one.shutdown(wait=False)
        two.shutdown(wait=False)
        await asyncio.sleep(0.8)  # let jobs already running in threads finish

    run_async(run_two)
    with Session(engine) as s:
        runs = s.execute(select(JobRun.slot, JobRun.status).where(JobRun.job_name == "marketplace")).all()
        slots = [r.slot for r in runs]
        assert len(slots) >= 2, runs
        assert len(slots) == len(set(slots))  # each slot once
        assert all(r.status == "ok" for r in runs), runs
        ran = s.execute(
            select(func.count()).select_from(LedgerEntry).where(LedgerEntry.type == "marketplace_batch")
        ).scalar_one()
        assert ran <= 2 * 2 * len(slots)  # at most two entries per company per slot
    check_invariants(engine)


def test_next_run_is_the_next_slot_boundary():
    from datetime import datetime

    from economy_app.services.schedule import next_run_at

    assert next_run_at(600, datetime(2026, 11, 21, 10, 9, 59)) == datetime(2026, 11, 21, 10, 10)
    assert next_run_at(600, datetime(2026, 11, 21, 10, 10, 0)) == datetime(2026, 11, 21, 10, 20)


def test_the_app_lifespan_task_runs_the_scheduler(engine, db_url, shop, monkeypatch):
    """scheduler_lifespan, as the app registers it: started with the app, it fires on slot boundaries."""
    from economy_app.jobs.scheduler import scheduler_lifespan

    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("ECONOMY_MARKETPLACE_INTERVAL_SECONDS", "1")
    monkeypatch.setenv("ECONOMY_SCHEDULER", "on")

    async def app_lifetime():
        async with scheduler_lifespan():
            await asyncio.sleep(2.5)
        await asyncio.sleep(0.5)

    run_async(app_lifetime)
    with Session(engine) as s:
        assert s.execute(select(func.count()).select_from(JobRun)).scalar_one() >= 1
