"""Issue 20, players' part: what a new player's first session reads from the services.

- the dashboard's "How to play" ticks off steps derived from the player's data, and remembers only its hiding;
- a paused marketplace says so wherever its countdown shows (``schedule.marketplace_clock``);
- a marketplace run keeps what it sold of each product, behind its two ledger entries, for the owner only.
"""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from economy_app.models import AuthSession, LedgerEntry, ProductSale, utcnow
from economy_app.services import (
    accounts,
    auth,
    companies,
    guide,
    ledger,
    marketplace_run,
    products,
    schedule,
    stock_trading,
)
from economy_app.services._tx import unit
from economy_app.services.errors import InvalidInput
from tests.support.db import check_invariants, fingerprint

AN_HOUR_AGO = utcnow() - timedelta(hours=1)


def _fund(session, account_id: int, cents: int) -> None:
    with unit(session, write=True):
        ledger.post(
            session,
            from_account_id=accounts.system_account_id(session),
            to_account_id=account_id,
            amount=cents,
            type="adjustment",
        )


def test_the_guide_ticks_off_each_step_from_the_players_data(session, make_player, make_company):
    me, my_account = make_player("newcomer")
    other, _ = make_player("veteran")
    g = guide.guide(session, me)
    assert g.done == dict.fromkeys(guide.STEPS, False) and g.shown and not g.hidden and g.first_company_id is None

    company, company_account = make_company(me, "NEWB")
    assert guide.guide(session, me).done["company"] and guide.guide(session, me).first_company_id == company
    products.create_product(
        session,
        actor_id=me,
        company_id=company,
        name="Widget",
        price_cents=2_000,
        rng=random.Random(1),
        now=AN_HOUR_AGO,
    )
    assert guide.guide(session, me).done["product"] and not guide.guide(session, me).done["sale"]
    marketplace_run.run_batch(session, rng=random.Random(2), budget=3_000_000)
    assert guide.guide(session, me).done["sale"]

    _fund(session, company_account, companies.PUBLIC_THRESHOLD_CENTS)
    assert companies.check_and_update_public_status(session, company)
    assert guide.guide(session, me).done["public"] and not guide.guide(session, me).done["trade"]

    # Another player's public company: the newcomer buys a share of it.
    theirs, theirs_account = make_company(other, "VETS")
    _fund(session, theirs_account, companies.PUBLIC_THRESHOLD_CENTS + 1)
    assert companies.check_and_update_public_status(session, theirs)
    stock_trading.buy(session, actor_id=me, account_id=my_account, company_id=theirs, shares=10)
    g = guide.guide(session, me)
    assert g.all_done and not g.shown  # nothing left to show
    # The other player's progress is their own.
    assert guide.guide(session, other).done == {
        "company": True,
        "product": False,
        "sale": False,
        "public": True,
        "trade": False,
    }


def test_hiding_the_guide_is_remembered_per_player(session, make_player):
    me, _ = make_player("hider")
    other, _ = make_player("keeper")
    guide.set_hidden(session, me, True)
    assert guide.guide(session, me).hidden and not guide.guide(session, me).shown
    assert not guide.guide(session, other).hidden
    guide.set_hidden(session, me, False)
    assert guide.guide(session, me).shown


def test_the_first_session_is_the_one_the_player_signed_up_with(session):
    signed = auth.signup(session, "fresh_player", "correct horse battery")
    assert guide.guide(session, signed.user.id).first_session
    assert accounts.dashboard(session, signed.user.id).guide.first_session
    auth.logout(session, signed.token)
    later = utcnow() + timedelta(minutes=5)
    auth.login(session, "fresh_player", "correct horse battery", now=later)  # a returning player
    assert not guide.guide(session, signed.user.id, now=later).first_session
    # Two sessions at once (another browser): not the first session either.
    auth.login(session, "fresh_player", "correct horse battery", now=later)
    assert session.execute(select(func.count()).select_from(AuthSession)).scalar_one() == 2
    assert not guide.guide(session, signed.user.id, now=later).first_session


def test_a_paused_marketplace_has_no_countdown(session):
    clock = schedule.marketplace_clock(session)
    assert not clock.paused and clock.next_run > utcnow() - timedelta(seconds=1)
    schedule.set_job_paused(session, schedule.MARKETPLACE, True)
    assert schedule.marketplace_clock(session).paused
    schedule.set_job_paused(session, schedule.MARKETPLACE, False)
    assert not schedule.marketplace_clock(session).paused


def test_pausing_tells_the_pages_showing_the_countdown(session, monkeypatch):
    """The marketplace and company pages listen to ``job:marketplace``: a pause or a resume refreshes them."""
    from economy_app.services import live

    published = []
    real = live.publish
    monkeypatch.setattr(
        live, "publish", lambda s, **kw: (published.append(set(s.info.get(live._INFO_KEY, ()))), real(s, **kw))[1]
    )
    for paused in (True, False):
        published.clear()
        schedule.set_job_paused(session, schedule.MARKETPLACE, paused)
        assert any(live.job(schedule.MARKETPLACE) in topics for topics in published)


@pytest.fixture
def two_sellers(session, make_player, make_company):
    owner, _ = make_player("seller")
    rival, _ = make_player("rival")
    rng = random.Random(7)
    mine, _ = make_company(owner, "MINE")
    theirs, _ = make_company(rival, "THEM")
    for company, actor, items in (
        (mine, owner, [("Anvil", 1_999), ("Spring", 350), ("Rocket", 25_000)]),
        (theirs, rival, [("Bolt", 1_200)]),
    ):
        for name, price in items:
            products.create_product(
                session, actor_id=actor, company_id=company, name=name, price_cents=price, rng=rng, now=AN_HOUR_AGO
            )
    return owner, rival, mine, theirs


def test_a_run_keeps_what_it_sold_of_each_product_behind_its_two_entries(session, two_sellers):
    owner, rival, mine, theirs = two_sellers
    result = marketplace_run.run_batch(session, rng=random.Random(3), budget=3_000_000)
    assert result.companies == 2
    entries = session.execute(select(LedgerEntry).where(LedgerEntry.type == "marketplace_batch")).scalars().all()
    account = companies.get_company(session, mine).account_id
    revenue = next(e for e in entries if e.to_account_id == account)
    costs = next(e for e in entries if e.from_account_id == account)
    lines = session.execute(select(ProductSale).where(ProductSale.company_id == mine)).scalars().all()
    # The lines add up exactly to the company's two entries.
    assert sum(x.units for x in lines) == revenue.batch_count == costs.batch_count
    assert sum(x.revenue_cents for x in lines) == revenue.amount
    assert sum(x.costs_cents for x in lines) == costs.amount
    assert {(x.ledger_id, x.costs_ledger_id) for x in lines} == {(revenue.id, costs.id)}
    assert all(x.units * x.price_cents == x.revenue_cents for x in lines)

    # The owner opens the run from either entry and sees the same breakdown.
    for entry in (revenue, costs):
        seen = marketplace_run.run_sales(session, owner, entry.id)
        assert seen.entry_id == revenue.id and seen.company_id == mine and seen.units == revenue.batch_count
        assert (seen.revenue_cents, seen.costs_cents) == (revenue.amount, costs.amount)
        assert [x.units for x in seen.lines] == sorted((x.units for x in lines), reverse=True)
        assert {x.name for x in seen.lines} <= {"Anvil", "Spring", "Rocket"}
    check_invariants(session.get_bind())


def test_nobody_else_opens_a_companys_run(session, two_sellers, make_player):
    owner, rival, mine, theirs = two_sellers
    marketplace_run.run_batch(session, rng=random.Random(3), budget=3_000_000)
    entries = session.execute(select(LedgerEntry)).scalars().all()
    account = companies.get_company(session, mine).account_id
    revenue = next(e for e in entries if e.type == "marketplace_batch" and e.to_account_id == account)
    welcome = next(e for e in entries if e.type == "initial_deposit")
    before = fingerprint(session.get_bind())
    for who, entry_id in ((rival, revenue.id), (owner, welcome.id), (owner, 10**9), (owner, -1)):
        with pytest.raises(InvalidInput, match="Entry not found."):
            marketplace_run.run_sales(session, who, entry_id)
    assert fingerprint(session.get_bind()) == before


def test_sale_lines_are_cleaned_up_with_price_history(session, two_sellers):
    from sqlalchemy import update

    marketplace_run.run_batch(session, rng=random.Random(3), budget=3_000_000)
    with unit(session, write=True):  # that run was 91 days ago
        old = session.execute(
            update(ProductSale).values(created_at=utcnow() - timedelta(days=91)).returning(ProductSale.id)
        ).all()
        old = len(old)
    marketplace_run.run_batch(session, rng=random.Random(4), budget=3_000_000)
    kept = session.execute(select(func.count()).select_from(ProductSale)).scalar_one()
    assert old > 0 and kept > old
    tick = schedule.run_job(session, schedule.PRICE_HISTORY_PURGE)
    assert f"{old} per-product sale lines" in tick.summary
    assert session.execute(select(func.count()).select_from(ProductSale)).scalar_one() == kept - old


def test_a_price_no_run_can_pay_is_listed_with_a_warning(session, make_player, make_company):
    """No company takes more than its cap of a run's budget: a unit dearer than the cap of the largest budget
    never sells. Listing one is allowed, and says so; so does the owner's dashboard."""
    from economy_app.services import marketplace_settings

    marketplace_settings.save(
        session, {"budget_min_cents": 1_000_000, "budget_max_cents": 2_000_000, "company_cap_percent": 20}, by="test"
    )
    owner, _ = make_player("pricer")
    company, _ = make_company(owner, "DEAR")
    rng = random.Random(5)

    def listed(name, cents):
        return products.create_product(
            session, actor_id=owner, company_id=company, name=name, price_cents=cents, rng=rng, now=AN_HOUR_AGO
        )

    assert listed("Fair", 2_000).price_warning == ""
    assert listed("At the cap", 200_000).price_warning == ""
    assert listed("Sometimes", 200_001).price_warning.startswith("It sells only in runs with the largest budgets")
    never = listed("Never", 400_001)
    assert never.price_warning.startswith("It will not sell at this price: the public spends at most 20%")
    assert "$2,000.00 to $4,000.00 a run" in never.price_warning
    # The warning is true: no run, whatever its budget in the range, sells one.
    for seed in range(20):
        marketplace_run.run_batch(session, rng=random.Random(seed), budget=2_000_000)
    figures = {p.name: p for p in companies.company_dashboard(session, owner, company).products}
    assert figures["Never"].units_sold == 0 and figures["Never"].price_warning == never.price_warning
    assert figures["Fair"].price_warning == "" and figures["Fair"].units_sold > 0
    # Repricing it says so too, and a withdrawn product warns of nothing.
    assert products.update_product(session, actor_id=owner, product_id=never.id, price_cents=1_000).price_warning == ""
    products.update_product(session, actor_id=owner, product_id=never.id, price_cents=900_000)
    products.set_active(session, actor_id=owner, product_id=never.id, active=False)
    figures = {p.name: p for p in companies.company_dashboard(session, owner, company).products}
    assert figures["Never"].price_warning == ""


def test_an_exact_name_picks_its_recipient(session, make_player, make_company):
    """Send money: what a person types in full (a username, a company's name or ticker) names one recipient."""
    bob, _ = make_player("bob")
    make_player("bobby")
    make_company(bob, "BOBS", name="Bob's Bikes")
    found = {r.name: r for r in accounts.search_recipients(session, "bob")}
    assert set(found) == {"bob", "bobby", "Bob's Bikes"}
    assert [n for n, r in found.items() if "bob" in accounts.exact_names(r)] == ["bob"]
    assert accounts.exact_names(found["Bob's Bikes"]) == {"bob's bikes", "bobs"}


def test_a_young_stock_opens_on_its_data_and_its_line_starts_at_the_ipo(session, make_player, make_company):
    """Issue 20, item 3: on 24h a stock minutes old showed a flat line at today's price while its header said
    +0.4% (the IPO row and a later trade fell in one bucket, and the bucket kept only its close)."""
    from economy_app.services import stock_views

    owner, _ = make_player("founder")
    buyer, buyer_account = make_player("buyer")
    company, account = make_company(owner, "YNG")
    _fund(session, account, companies.PUBLIC_THRESHOLD_CENTS + 1)
    now = utcnow()
    assert companies.check_and_update_public_status(session, company, now=now - timedelta(minutes=3))
    ipo = companies.get_company(session, company).share_price_micros
    stock_trading.buy(session, actor_id=buyer, account_id=buyer_account, company_id=company, shares=5_000)
    price = companies.get_company(session, company).share_price_micros
    assert price > ipo
    assert stock_views.default_range(session, company, now=now) == "1h"
    assert stock_views.default_range(session, company, now=now + timedelta(hours=3)) == "6h"
    assert stock_views.default_range(session, company, now=now + timedelta(days=3)) == "24h"
    for key in ("1h", "24h", "30d", "all"):
        points = stock_views.price_series(session, company, key, now=now + timedelta(seconds=1))
        assert points[0][1] == ipo and points[-1][1] == price, key
    page = stock_views.stock_page(session, buyer, company, None, now=now)
    assert page.range_key == "1h" and page.points[0][1] == ipo
