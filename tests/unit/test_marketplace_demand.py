"""The public's demand: weights, the one-pass draw, the per-company cap, the listing limit, the hold for
new listings, reproducibility, and the marketplace settings (stored, audited, obeyed)."""

from __future__ import annotations

import asyncio
import random
import threading
from dataclasses import replace
from datetime import datetime, timedelta

import numpy as np
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import func, insert, select
from sqlmodel import Session

from economy_app.db import make_engine
from economy_app.models import AdminAudit, Company, LedgerEntry, Product, utcnow
from economy_app.services import companies, marketplace_run, marketplace_settings, operations, products, users
from economy_app.services.errors import InvalidInput, ListingLimit, NotAdmin
from tests.support.db import check_invariants, fingerprint, wipe
from tests.unit.test_marketplace import run_async

AN_HOUR_AGO = utcnow() - timedelta(hours=1)


def market(session, **changes):
    return replace(marketplace_settings.load(session), **changes)


def revenue_by_company(session) -> dict[int, int]:
    rows = session.execute(
        select(Company.id, func.sum(LedgerEntry.amount))
        .join(LedgerEntry, LedgerEntry.to_account_id == Company.account_id)
        .where(LedgerEntry.type == "marketplace_batch")
        .group_by(Company.id)
    ).all()
    return {company_id: int(total) for company_id, total in rows}


def entries_by_company(session) -> dict[int, int]:
    rows = session.execute(
        select(Company.id, func.count())
        .join(
            LedgerEntry,
            (LedgerEntry.to_account_id == Company.account_id) | (LedgerEntry.from_account_id == Company.account_id),
        )
        .where(LedgerEntry.type == "marketplace_batch")
        .group_by(Company.id)
    ).all()
    return dict(rows)


# --------------------------------------------------------------------------- the demand model (pure)


def test_typical_price_counts_each_company_once():
    # An honest market of five companies around $10, and a spammer with 30 listings at 1 cent.
    prices = np.array([900, 1000, 1000, 1100, 1200] + [1] * 30, dtype=np.int64)
    company = np.array([0, 1, 2, 3, 4] + [5] * 30)
    assert marketplace_run.typical_price(prices, company) == 1000
    # Counting listings instead, the spammer would set the market's price: 1 cent.
    assert int(np.median(prices)) == 1


def test_price_factor_rewards_fair_prices():
    r = np.array([0.1, 0.37, 0.5, 1.0, 2.0, 5.0, 10.0])
    factor = marketplace_run.price_factor(r)
    assert factor[3] == 1.0 and factor.max() == 1.0  # spending peaks at the typical price
    units = factor / r  # units bought per unit of spending share
    assert units[2] > units[3] > units[4]  # cheaper than typical sells more units
    assert factor[2] > factor[4]  # and half the price earns more than double the price
    assert factor[6] < 0.01 and factor[0] < 0.1  # far above (or absurdly below) typical sells little


def test_breadth_and_momentum_weights():
    prices = np.full(6, 1000, dtype=np.int64)
    company = np.array([0, 0, 0, 1, 1, 1])
    w = marketplace_run.demand_weights(prices, company, np.zeros(6))
    assert np.allclose(w, 1.0)
    # Ten products of one company weigh as much as five (BREADTH), not ten.
    prices = np.full(13, 1000, dtype=np.int64)
    company = np.array([0] * 10 + [1] * 3)
    w = marketplace_run.demand_weights(prices, company, np.zeros(13))
    assert w[:10].sum() == pytest.approx(marketplace_run.BREADTH) and w[10:].sum() == pytest.approx(3)
    # A product that sold recently weighs more, at most twice a new one.
    momentum = np.array([0.0, 0.0, 0.0, 5.0, 0.0, 0.0])
    w = marketplace_run.demand_weights(np.full(6, 1000, dtype=np.int64), np.array([0, 0, 0, 1, 1, 1]), momentum)
    assert 1.0 < w[3] < 2.0 and w[0] == 1.0


def test_momentum_halves_every_half_life():
    now = datetime(2026, 11, 22, 12, 0)
    decayed = marketplace_run.decayed(np.array([8.0, 0.0, 8.0]), [now - timedelta(hours=1), None, now], now)
    assert decayed.tolist() == pytest.approx([4.0, 0.0, 8.0])


def spent_by_company(units, prices, company):
    out = {}
    for u, p, c in zip(units.tolist(), prices.tolist(), company.tolist(), strict=True):
        out[c] = out.get(c, 0) + u * p
    return out


@st.composite
def markets(draw):
    n = draw(st.integers(min_value=1, max_value=40))
    prices = draw(st.lists(st.integers(min_value=1, max_value=1_000_000), min_size=n, max_size=n))
    company = draw(st.lists(st.integers(min_value=0, max_value=7), min_size=n, max_size=n))
    _, company = np.unique(np.array(company), return_inverse=True)
    weights = draw(st.lists(st.one_of(st.just(0.0), st.floats(min_value=1e-6, max_value=10.0)), min_size=n, max_size=n))
    budget = draw(st.integers(min_value=0, max_value=5_000_000_000))
    cap_percent = draw(st.integers(min_value=1, max_value=100))
    return (
        np.array(prices, dtype=np.int64),
        company,
        np.array(weights),
        budget,
        budget * cap_percent // 100,
        draw(st.integers(min_value=0, max_value=2**32)),
    )


@hsettings(max_examples=400, deadline=None)
@given(markets())
def test_allocate_never_overspends_and_spends_95_percent_when_goods_fit(m):
    prices, company, weights, budget, cap, seed = m
    units = marketplace_run.allocate(prices, company, weights, budget, cap, np.random.default_rng(seed))
    assert units.dtype == np.int64 and (units >= 0).all()
    assert (units[weights == 0] == 0).all()  # nobody buys what the public cannot see
    spent = sum(u * p for u, p in zip(units.tolist(), prices.tolist(), strict=True))  # Python ints: exact
    assert spent <= budget
    by_company = spent_by_company(units, prices, company)
    assert all(v <= cap for v in by_company.values())
    if spent * 100 < budget * marketplace_run.SPEND_AT_LEAST_PERCENT:
        left = budget - spent
        for p, c, w in zip(prices.tolist(), company.tolist(), weights.tolist(), strict=True):
            assert w == 0 or p > min(left, cap - by_company.get(c, 0)), "a good still fit"
    again = marketplace_run.allocate(prices, company, weights, budget, cap, np.random.default_rng(seed))
    assert (again == units).all()  # reproducible from the seed


def test_allocate_costs_the_same_at_any_budget():
    """A $50M budget of 1-cent goods is 5 billion units: drawn per product, not per unit."""
    n = 10_000
    prices = np.ones(n, dtype=np.int64)
    company = np.arange(n) % 1000
    weights = np.ones(n)
    units = marketplace_run.allocate(
        prices, company, weights, 5_000_000_000, 5_000_000_000 // 5, np.random.default_rng(1)
    )
    spent = int(units.sum())
    assert 0.95 * 5_000_000_000 <= spent <= 5_000_000_000


def test_the_cap_spreads_the_budget_over_other_companies():
    # One company's products weigh 100x the others': it is held at its cap, the rest goes elsewhere.
    prices = np.full(7, 100, dtype=np.int64)
    company = np.arange(7)
    weights = np.array([100.0, 1, 1, 1, 1, 1, 1])
    units = marketplace_run.allocate(prices, company, weights, 1_000_000, 200_000, np.random.default_rng(3))
    spend = units * prices
    assert 190_000 <= spend[0] <= 200_000  # near its cap, never past it
    assert spend.sum() >= 950_000 and spend.sum() <= 1_000_000 and (spend <= 200_000).all()


# --------------------------------------------------------------------------- runs against the database


@pytest.fixture
def world(session, make_player, make_company):
    """Six companies (of two players) with two or three products each, around $10, listed an hour ago."""
    owners = [make_player()[0], make_player()[0]]
    rng = random.Random(5)
    made = []
    for i in range(6):
        owner = owners[i % 2]
        company, account = make_company(owner)
        for j in range(2 + i % 2):
            products.create_product(
                session,
                actor_id=owner,
                company_id=company,
                name=f"P{i}-{j}",
                price_cents=rng.randint(800, 1200),
                rng=rng,
                now=AN_HOUR_AGO,
            )
        made.append((company, account, owner))
    return {"companies": made}


def test_a_run_spends_95_percent_within_every_cap(session, engine, world):
    result = marketplace_run.run_batch(session, rng=random.Random(3), budget=1_000_000)
    assert result.cap == 200_000
    assert 950_000 <= result.spent <= 1_000_000
    revenue = revenue_by_company(session)
    assert sum(revenue.values()) == result.spent == result.revenue
    assert all(r <= result.cap for r in revenue.values())
    assert set(entries_by_company(session).values()) == {2}  # two entries per selling company
    assert result.ledger_rows == 2 * result.companies == 12
    assert result.typical_price is not None and 800 <= result.typical_price <= 1200
    check_invariants(engine)


def test_the_same_seed_gives_the_same_run(session, world):
    a = marketplace_run.plan(session, rng=random.Random(42))
    b = marketplace_run.plan(session, rng=random.Random(42))
    c = marketplace_run.plan(session, rng=random.Random(43))
    assert a.budget == b.budget and (a.units == b.units).all()
    assert not (a.budget == c.budget and (a.units == c.units).all())
    result = marketplace_run.run_batch(session, rng=random.Random(42))
    sold = dict(session.execute(select(Product.id, Product.units_sold)).all())
    assert dict(zip(a.ids.tolist(), a.units.tolist(), strict=True)) == sold
    assert result.units == int(a.units.sum()) and result.budget == a.budget


def test_recent_sales_lift_a_product(session, world):
    marketplace_run.run_batch(session, rng=random.Random(1), budget=1_000_000)
    sold = session.execute(select(Product.momentum, Product.momentum_at, Product.units_sold)).all()
    assert all((m > 0) == (u > 0) for m, _, u in sold)
    assert sum(m for m, _, _ in sold) == pytest.approx(1.0)  # shares of one run's spending
    p = marketplace_run.plan(session, rng=random.Random(2), now=utcnow() + timedelta(hours=2))
    assert p.momentum.sum() == pytest.approx(0.25, rel=1e-3)  # two half-lives later


def test_a_run_of_billions_of_units_posts_exact_batches(session, engine, make_player, make_company):
    """1-cent goods and a $30M budget: 3 billion units in one batch entry (past a 32-bit count)."""
    owner, _ = make_player()
    company, account = make_company(owner)
    products.create_product(
        session,
        actor_id=owner,
        company_id=company,
        name="Penny sweet",
        price_cents=1,
        now=AN_HOUR_AGO,
        rng=random.Random(1),
    )
    result = marketplace_run.run_batch(
        session, rng=random.Random(1), budget=3_000_000_000, settings=market(session, company_cap_percent=100)
    )
    assert result.units == result.spent == 3_000_000_000
    batch = session.execute(
        select(LedgerEntry.batch_count, LedgerEntry.amount)
        .where(LedgerEntry.type == "marketplace_batch")
        .order_by(LedgerEntry.id)
    ).all()
    assert [b.batch_count for b in batch] == [3_000_000_000, 3_000_000_000]
    assert batch[0].amount == 3_000_000_000
    check_invariants(engine)


def test_a_spammer_gets_no_more_than_twice_an_honest_company(session, make_player, make_company):
    """300 listings (inserted past the listing limit, as an old database might hold) against 3."""
    owner, _ = make_player()
    honest, _ = make_company(owner, "HON")
    spammer, _ = make_company(owner, "SPAM")
    others = [(o, make_company(o)[0]) for o in (make_player()[0], make_player()[0]) for _ in range(4)]
    rng = random.Random(8)
    for owner_, company in others:
        for j in range(3):
            products.create_product(
                session,
                actor_id=owner_,
                company_id=company,
                name=f"Good {j}",
                price_cents=rng.randint(900, 1100),
                rng=rng,
                now=AN_HOUR_AGO,
            )
    for j in range(3):
        products.create_product(
            session, actor_id=owner, company_id=honest, name=f"Honest {j}", price_cents=1000, rng=rng, now=AN_HOUR_AGO
        )
    with session.begin():
        session.execute(
            insert(Product.__table__),
            [
                dict(
                    company_id=spammer,
                    name=f"Junk {j}",
                    price_cents=1000,
                    cost_percent=50,
                    active=True,
                    created_at=AN_HOUR_AGO,
                    listed_at=AN_HOUR_AGO,
                )
                for j in range(300)
            ],
        )
    budget = 3_000_000
    for run in range(20):
        result = marketplace_run.run_batch(
            session, rng=random.Random(run), budget=budget, now=utcnow() + timedelta(minutes=10 * run)
        )
        assert result.spent >= budget * 95 // 100
    revenue = revenue_by_company(session)
    assert revenue[spammer] <= 20 * budget * 20 // 100
    assert revenue[spammer] <= 2 * revenue[honest], revenue


# --------------------------------------------------------------------------- the hold for new listings


def test_a_new_listing_waits_out_its_hold(session, engine, make_player, make_company):
    owner, _ = make_player()
    company, _ = make_company(owner)
    now = utcnow()
    new = products.create_product(
        session, actor_id=owner, company_id=company, name="Fresh", price_cents=500, now=now, rng=random.Random(1)
    )
    assert new.public_from == now + timedelta(minutes=10)  # the default hold
    result = marketplace_run.run_batch(session, rng=random.Random(1), budget=100_000, now=now + timedelta(minutes=9))
    assert (result.units, result.products_on_sale, result.products_waiting) == (0, 0, 1)
    assert "1 new listings still in their hold" in result.summary()
    result = marketplace_run.run_batch(session, rng=random.Random(1), budget=100_000, now=now + timedelta(minutes=10))
    assert result.units > 0 and result.products_waiting == 0
    # Back on sale after a withdrawal: a new listing again, with a new hold.
    products.set_active(session, actor_id=owner, product_id=new.id, active=False)
    later = now + timedelta(hours=1)
    again = products.set_active(session, actor_id=owner, product_id=new.id, active=True, now=later)
    assert again.public_from == later + timedelta(minutes=10)
    units = again.units_sold
    marketplace_run.run_batch(session, rng=random.Random(2), budget=100_000, now=later + timedelta(minutes=5))
    assert products.get_product(session, new.id).units_sold == units
    check_invariants(engine)


def test_the_hold_is_a_setting(session, make_player, make_company):
    owner, _ = make_player()
    company, _ = make_company(owner)
    marketplace_settings.save(session, {"hold_seconds": 0}, by="test")
    p = products.create_product(
        session, actor_id=owner, company_id=company, name="Now", price_cents=500, rng=random.Random(1)
    )
    assert p.public_from is None
    assert marketplace_run.run_batch(session, rng=random.Random(1), budget=100_000).units > 0
    rows, _ = products.listing(session)
    assert rows[0].public_from is None


def test_the_owner_sees_why_a_listing_does_not_sell_yet(session, make_player, make_company):
    from economy_app.display import market_note, product_item

    owner, _ = make_player()
    company, _ = make_company(owner)
    products.create_product(
        session, actor_id=owner, company_id=company, name="Fresh", price_cents=500, rng=random.Random(1)
    )
    d = companies.company_dashboard(session, owner, company)
    item = product_item(d.products[0])
    assert item.waiting.startswith("New listing: the public starts buying it at ")
    assert market_note(1, d.listing_limit, d.hold_seconds, 1234) == (
        "1 of 30 products on sale (the most a company may list); a new listing waits 10 minutes before the public "
        "sees it. The market's typical price is $12.34: the public spends most on products priced near it, and "
        "little far above it."
    )
    rows, _ = products.listing(session)
    assert product_item(rows[0]).waiting == item.waiting


# --------------------------------------------------------------------------- the listing limit


def test_the_listing_limit_refuses_with_a_clear_message(session, engine, make_player, make_company):
    owner, _ = make_player()
    company, _ = make_company(owner)
    marketplace_settings.save(session, {"listing_limit": 3}, by="test")
    listed = [
        products.create_product(session, actor_id=owner, company_id=company, name=f"P{i}", price_cents=100)
        for i in range(3)
    ]
    before = fingerprint(engine)
    with pytest.raises(ListingLimit) as refused:
        products.create_product(session, actor_id=owner, company_id=company, name="One too many", price_cents=100)
    assert str(refused.value) == (
        "This company already has 3 products on sale, the most a company may list "
        "(limit 3). Withdraw one to list another."
    )
    assert fingerprint(engine) == before
    # Withdrawn products do not count; putting one back on sale does, and is refused at the limit.
    products.set_active(session, actor_id=owner, product_id=listed[0].id, active=False)
    fourth = products.create_product(session, actor_id=owner, company_id=company, name="P3", price_cents=100)
    before = fingerprint(engine)
    with pytest.raises(ListingLimit):
        products.set_active(session, actor_id=owner, product_id=listed[0].id, active=True)
    assert fingerprint(engine) == before
    assert fourth.active


def test_the_listing_limit_holds_under_concurrent_listings(engine, db_url, session, make_player, make_company):
    owner, _ = make_player()
    company, _ = make_company(owner)
    marketplace_settings.save(session, {"listing_limit": 3}, by="test")
    barrier = threading.Barrier(8)
    outcomes = []

    def lister(i):
        eng = make_engine(db_url)
        with Session(eng) as s:
            barrier.wait()
            try:
                products.create_product(s, actor_id=owner, company_id=company, name=f"Rush {i}", price_cents=100)
                outcomes.append("listed")
            except ListingLimit:
                outcomes.append("refused")
        eng.dispose()

    threads = [threading.Thread(target=lister, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["listed"] * 3 + ["refused"] * 5
    with Session(engine) as s:
        assert (
            s.execute(
                select(func.count()).select_from(Product).where(Product.company_id == company, Product.active.is_(True))
            ).scalar_one()
            == 3
        )


# --------------------------------------------------------------------------- settings: stored, audited, obeyed


@pytest.fixture
def an_admin(session):
    user = users.create_user(session, "operator", "correct horse", role="admin")
    return user.id


def test_admin_settings_are_audited_and_obeyed(session, engine, world, an_admin):
    operations.update_marketplace_settings(
        session,
        actor_id=an_admin,
        budget_min_cents=500_000,
        budget_max_cents=600_000,
        company_cap_percent=50,
        listing_limit=3,
        hold_seconds=60,
        interval_seconds=600,
    )
    audit = session.execute(select(AdminAudit).order_by(AdminAudit.id.desc())).scalars().first()
    assert (audit.admin_name, audit.action, audit.ok) == ("operator", "marketplace settings", True)
    assert audit.result == (
        "lowest budget $20,000.00 -> $5,000.00; highest budget $39,999.99 -> $6,000.00; "
        "company cap 20% -> 50%; listing limit 30 -> 3; hold 600 s -> 60 s"
    )
    view = marketplace_settings.view(session)
    assert view.updated_by == "operator"
    assert view.set_by_admin == {
        "budget_min_cents",
        "budget_max_cents",
        "company_cap_percent",
        "listing_limit",
        "hold_seconds",
    }  # the interval was unchanged: still the environment's
    # Obeyed: the run's budget and cap, the listing limit, the hold.
    result = marketplace_run.run_batch(session, rng=random.Random(4))
    assert 500_000 <= result.budget <= 600_000 and result.cap == result.budget // 2
    company, _, owner = world["companies"][1]  # it lists three products
    with pytest.raises(ListingLimit):
        products.create_product(session, actor_id=owner, company_id=company, name="Fourth", price_cents=100)
    company, _, owner = world["companies"][0]  # two
    fresh = products.create_product(session, actor_id=owner, company_id=company, name="Third", price_cents=100)
    assert fresh.public_from == fresh.listed_at + timedelta(seconds=60)


def test_bad_or_unauthorised_settings_change_nothing(session, engine, make_player, an_admin):
    player, _ = make_player()
    before = marketplace_settings.load(session)
    with pytest.raises(NotAdmin):
        operations.update_marketplace_settings(session, actor_id=player, company_cap_percent=100)
    for bad, message in (
        (dict(company_cap_percent=0), "A company's cap must be 1 to 100 percent"),
        (dict(budget_min_cents=5_000_000, budget_max_cents=4_000_000), "The lowest budget"),
        (dict(interval_seconds=0), "The interval must be"),
        (dict(listing_limit=True), "whole number"),
        (dict(hold_seconds=-1), "The hold for new listings"),
        (dict(budget_max_cents=10**12), "The budget must be between"),
    ):
        snapshot = fingerprint(engine)
        with pytest.raises(InvalidInput) as refused:
            operations.update_marketplace_settings(session, actor_id=an_admin, **bad)
        assert message in str(refused.value)
        audit = session.execute(select(AdminAudit).order_by(AdminAudit.id.desc())).scalars().first()
        assert (audit.action, audit.ok, audit.result) == ("marketplace settings", False, str(refused.value))
        assert fingerprint(engine) != snapshot  # only the audit row was added
    assert marketplace_settings.load(session) == before
    assert (
        session.execute(select(func.count()).select_from(AdminAudit).where(AdminAudit.admin_id == player)).scalar_one()
        == 0
    )


def test_environment_defaults_apply_until_an_admin_sets_a_value(session, monkeypatch, an_admin):
    monkeypatch.setenv("ECONOMY_MARKET_COMPANY_CAP_PERCENT", "35")
    monkeypatch.setenv("ECONOMY_MARKETPLACE_INTERVAL_SECONDS", "120")
    assert marketplace_settings.load(session).company_cap_percent == 35
    operations.update_marketplace_settings(session, actor_id=an_admin, company_cap_percent=25)
    monkeypatch.setenv("ECONOMY_MARKET_COMPANY_CAP_PERCENT", "90")
    st_ = marketplace_settings.load(session)
    assert (st_.company_cap_percent, st_.interval_seconds) == (25, 120)


# --------------------------------------------------------------------------- the stored interval and the scheduler


def test_every_worker_claims_the_stored_intervals_slot(db_url, session, monkeypatch):
    from economy_app.services import schedule as sched

    monkeypatch.setenv("DATABASE_URL", db_url)
    marketplace_settings.save(session, {"interval_seconds": 300}, by="test")
    now = datetime(2026, 11, 22, 10, 7, 30)
    assert sched.run_job(session, sched.MARKETPLACE, now, rng=random.Random(1)).slot == "2026-11-22T10:05:00"
    # The interval changes to 15 minutes: a worker still firing on the old 5-minute tick (10:10) finds
    # the 15-minute window that began at 10:00; the next one starts at 10:15.
    marketplace_settings.save(session, {"interval_seconds": 900}, by="test")
    tick = sched.run_job(session, sched.MARKETPLACE, datetime(2026, 11, 22, 10, 10), rng=random.Random(1))
    assert (tick.slot, tick.ran) == ("2026-11-22T10:00:00", True)
    again = sched.run_job(session, sched.MARKETPLACE, datetime(2026, 11, 22, 10, 14, 59), rng=random.Random(1))
    assert (again.slot, again.ran) == ("2026-11-22T10:00:00", False)  # one run per window
    assert sched.run_job(session, sched.MARKETPLACE, datetime(2026, 11, 22, 10, 15), rng=random.Random(1)).ran


def test_the_scheduler_follows_a_changed_interval(db_url, session, monkeypatch):
    from economy_app.jobs import scheduler as sched
    from economy_app.services.schedule import MARKETPLACE

    monkeypatch.setenv("DATABASE_URL", db_url)
    marketplace_settings.save(session, {"interval_seconds": 600}, by="test")

    async def scenario():
        scheduler = sched.build_scheduler()
        scheduler.start(paused=True)
        try:
            assert scheduler.get_job(MARKETPLACE).trigger.interval_length == 600
            await asyncio.to_thread(marketplace_settings.save, session, {"interval_seconds": 120}, by="test")
            await scheduler.get_job("watch_settings").func()
            job = scheduler.get_job(MARKETPLACE)
            assert job.trigger.interval_length == 120
            assert job.next_run_time.timestamp() % 120 == 0  # on a slot boundary of the new interval
        finally:
            scheduler.shutdown(wait=False)

    run_async(scenario)
    assert marketplace_settings.cached_interval() == 120  # what page labels show in this worker


# --------------------------------------------------------------------------- a property over whole runs


def test_runs_keep_every_invariant(db_url):
    """Hypothesis over arbitrary catalogues, budgets and caps: a run never spends more than its budget,
    never pays a company more than its cap, writes two entries per selling company, and keeps every
    ledger invariant."""
    engine = make_engine(db_url)
    try:
        _property_over_runs(engine)
    finally:
        engine.dispose()


def _property_over_runs(engine):
    catalogue = st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=4),  # company
            st.integers(min_value=1, max_value=2_000_000),  # price
            st.integers(min_value=-30, max_value=120),
        ),  # listed, minutes ago
        min_size=0,
        max_size=25,
    )

    @hsettings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        catalogue,
        st.integers(min_value=1, max_value=500_000_000),
        st.integers(min_value=1, max_value=100),
        st.integers(min_value=0, max_value=10_000),
        st.integers(min_value=1, max_value=3),
    )
    def check(items, budget, cap_percent, seed, runs):
        wipe(engine)
        with Session(engine, expire_on_commit=False) as s:
            owner = users.create_user(s, "maker", "correct horse").id
            ids = [
                companies.create_company(s, owner_id=owner, name=f"C{i}", ticker=f"C{chr(65 + i)}").id for i in range(5)
            ]
            now = utcnow()
            rng = random.Random(seed)
            for company, price, minutes in items:
                products.create_product(
                    s,
                    actor_id=owner,
                    company_id=ids[company],
                    name="Item",
                    price_cents=price,
                    rng=rng,
                    now=now - timedelta(minutes=minutes),
                )
            config = market(s, company_cap_percent=cap_percent)
            for run in range(runs):
                before = revenue_by_company(s)
                result = marketplace_run.run_batch(
                    s, rng=random.Random(seed + run), budget=budget, settings=config, now=now + timedelta(seconds=run)
                )
                after = revenue_by_company(s)
                earned = {c: after.get(c, 0) - before.get(c, 0) for c in after}
                assert result.spent == sum(earned.values()) <= budget
                assert all(v <= budget * cap_percent // 100 for v in earned.values())
                assert result.ledger_rows == 2 * sum(1 for v in earned.values() if v > 0)
            check_invariants(engine)

    check()


# --------------------------------------------------------------------------- the admin form


def test_the_settings_form_parses_dollars_and_whole_numbers():
    from economy_app.pages.admin_marketplace import parse_settings_form

    form = {
        "budget_min": "20,000",
        "budget_max": "$39,999.99",
        "interval": "600",
        "cap": "20",
        "limit": "30",
        "hold": "0",
    }
    assert parse_settings_form(form) == dict(
        budget_min_cents=2_000_000,
        budget_max_cents=3_999_999,
        interval_seconds=600,
        company_cap_percent=20,
        listing_limit=30,
        hold_seconds=0,
    )
    for field, text, message in (
        ("cap", "12.5", "Company cap: a whole percentage"),
        ("hold", "-1", "Hold: a whole number of seconds"),
        ("interval", "١٢", "Interval: a whole number of seconds"),
        ("limit", "99999999999", "Listing limit: a whole number"),
        ("budget_max", "lots", "Highest budget: "),
    ):
        with pytest.raises(ValueError) as refused:
            parse_settings_form({**form, field: text})
        assert str(refused.value).startswith(message)
