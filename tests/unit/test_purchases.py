"""Players as customers (services/purchases.py): buying units of a product into a collection. Every refusal
changes nothing; every purchase keeps the ledger's promises."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import select

from economy_app.models import LedgerEntry, Product, utcnow
from economy_app.services import accounts, companies, marketplace_run, products, purchases, stock_views
from economy_app.services.errors import (
    AccountNotFound,
    DuplicateRequest,
    InsufficientFunds,
    InvalidInput,
    ProductNotFound,
    PurchaseRefused,
)
from tests.support.db import check_invariants, fingerprint

START = 1_000_000


@pytest.fixture
def shop(session, make_player, make_company):
    """bob runs BOB, which sells a $19.99 Kite (cost 40% of the price); alice is a customer."""
    bob, bob_personal = make_player("bob")
    company, company_account = make_company(bob, "BOB")
    kite = products.create_product(
        session, actor_id=bob, company_id=company, name="Kite", price_cents=1_999, rng=random.Random(0)
    )
    session.execute(Product.__table__.update().where(Product.id == kite.id).values(cost_percent=40))
    session.commit()
    alice, alice_personal = make_player("alice")
    return dict(
        bob=bob,
        bob_personal=bob_personal,
        company=company,
        company_account=company_account,
        kite=kite.id,
        alice=alice,
        alice_personal=alice_personal,
    )


def product(session, product_id: int) -> Product:
    return session.execute(select(Product).where(Product.id == product_id)).scalar_one()


def test_a_purchase_is_two_entries_the_totals_and_a_collection(session, engine, shop):
    mint = accounts.system_account_id(session)
    bought = purchases.buy(
        session,
        actor_id=shop["alice"],
        account_id=shop["alice_personal"],
        product_id=shop["kite"],
        units=3,
        price_cents=1_999,
        idempotency_key="b1",
    )
    assert (bought.units, bought.total, bought.collection_units) == (3, 5_997, 3)
    cost = -(-5_997 * 40 // 100)  # 2,398.8 cents: rounded up, as the marketplace's batches
    rows = session.execute(
        select(LedgerEntry).where(LedgerEntry.product_id == shop["kite"]).order_by(LedgerEntry.id)
    ).scalars()
    assert [(e.type, e.from_account_id, e.to_account_id, e.amount, e.batch_count) for e in rows] == [
        ("product_purchase", shop["alice_personal"], shop["company_account"], 5_997, 3),
        ("product_cost", shop["company_account"], mint, cost, 3),
    ]
    assert accounts.get_balance(session, shop["alice_personal"]) == START - 5_997
    assert accounts.get_balance(session, shop["company_account"]) == 5_997 - cost
    p = product(session, shop["kite"])
    assert (p.units_sold, p.revenue_cents, p.costs_cents) == (3, 5_997, cost)
    assert (p.public_units, p.momentum, p.momentum_at) == (0, 0.0, None)  # the public's figures: untouched
    purchases.buy(
        session,
        actor_id=shop["alice"],
        account_id=shop["alice_personal"],
        product_id=shop["kite"],
        units=2,
        price_cents=1_999,
    )
    (item,) = purchases.collection(session, shop["alice"])
    assert (item.product_name, item.company_name, item.ticker, item.units, item.paid) == (
        "Kite",
        "Company BOB",
        "BOB",
        5,
        5 * 1_999,
    )
    assert purchases.collection(session, shop["bob"]) == []
    check_invariants(engine)


def test_a_company_account_may_buy_but_never_from_itself(session, engine, shop, make_company):
    _, alice_co = make_company(shop["alice"], "ALI")
    accounts.transfer(
        session, actor_id=shop["alice"], from_account_id=shop["alice_personal"], to_account_id=alice_co, amount=10_000
    )
    purchases.buy(
        session, actor_id=shop["alice"], account_id=alice_co, product_id=shop["kite"], units=5, price_cents=1_999
    )
    (item,) = purchases.collection(session, shop["alice"])
    assert (item.account_id, item.units) == (alice_co, 5)
    fund_bob = 50_000
    accounts.transfer(
        session,
        actor_id=shop["bob"],
        from_account_id=shop["bob_personal"],
        to_account_id=shop["company_account"],
        amount=fund_bob,
    )
    before = fingerprint(engine)
    with pytest.raises(PurchaseRefused, match="can't buy its own products"):
        purchases.buy(
            session,
            actor_id=shop["bob"],
            account_id=shop["company_account"],
            product_id=shop["kite"],
            units=1,
            price_cents=1_999,
        )
    assert fingerprint(engine) == before


@pytest.mark.parametrize("units", [0, -1, 1_001, 2.0, "3", True, None])
def test_bad_units_are_refused(session, engine, shop, units):
    before = fingerprint(engine)
    with pytest.raises(InvalidInput):
        purchases.buy(
            session,
            actor_id=shop["alice"],
            account_id=shop["alice_personal"],
            product_id=shop["kite"],
            units=units,
            price_cents=1_999,
        )
    assert fingerprint(engine) == before


def test_refusals_change_nothing(session, engine, shop, make_player):
    eve, _ = make_player("eve")
    products.set_active(session, actor_id=shop["bob"], product_id=shop["kite"], active=False)
    gone = shop["kite"]
    before = fingerprint(engine)
    buy = dict(actor_id=shop["alice"], account_id=shop["alice_personal"], units=1, price_cents=1_999)
    with pytest.raises(PurchaseRefused, match="not on sale"):
        purchases.buy(session, product_id=gone, **buy)
    with pytest.raises(ProductNotFound):
        purchases.buy(session, product_id=999_999, **buy)
    with pytest.raises(AccountNotFound):  # someone else's account: the same answer as a missing one
        purchases.buy(session, **{**buy, "actor_id": eve}, product_id=gone)
    with pytest.raises(AccountNotFound):
        purchases.buy(session, **{**buy, "account_id": 999_999}, product_id=gone)
    with pytest.raises(InvalidInput):
        purchases.buy(session, **{**buy, "price_cents": "19.99"}, product_id=gone)
    assert fingerprint(engine) == before
    products.set_active(session, actor_id=shop["bob"], product_id=gone, active=True)
    before = fingerprint(engine)
    with pytest.raises(PurchaseRefused, match=r"now \$19.99"):  # the price shown was not the price
        purchases.buy(session, product_id=gone, **{**buy, "price_cents": 1_500})
    with pytest.raises(InsufficientFunds, match="Not enough money"):
        purchases.buy(session, product_id=gone, **{**buy, "units": 600})  # $11,994 > $10,000
    assert fingerprint(engine) == before


def test_a_double_click_buys_once(session, engine, shop):
    buy = dict(
        actor_id=shop["alice"],
        account_id=shop["alice_personal"],
        product_id=shop["kite"],
        units=2,
        price_cents=1_999,
        idempotency_key="click",
    )
    first = purchases.buy(session, **buy)
    before = fingerprint(engine)
    again = purchases.buy(session, **buy)
    assert again == first
    with pytest.raises(DuplicateRequest):
        purchases.buy(session, **{**buy, "units": 3})
    assert fingerprint(engine) == before


def test_a_founder_buying_from_their_own_company_only_loses_the_cost(session, engine, shop):
    """Money moves between their own pockets and the production cost goes to the mint: their net worth drops by
    exactly that cost, whatever they buy."""
    bob = shop["bob"]
    worth = accounts.dashboard(session, bob).net_worth
    for units in (1, 7, 300):
        before = accounts.dashboard(session, bob).net_worth
        purchases.buy(
            session,
            actor_id=bob,
            account_id=shop["bob_personal"],
            product_id=shop["kite"],
            units=units,
            price_cents=1_999,
        )
        cost = -(-units * 1_999 * 40 // 100)
        assert accounts.dashboard(session, bob).net_worth == before - cost
    assert accounts.dashboard(session, bob).net_worth < worth
    check_invariants(engine)


def test_a_players_units_never_rank_a_product(session, engine, shop):
    """Best-selling (the marketplace's sort, the leaderboard) counts the public's units only; the demand model's
    momentum comes from the public's spending only."""
    then = utcnow() - timedelta(hours=1)
    other = products.create_product(
        session, actor_id=shop["bob"], company_id=shop["company"], name="Ball", price_cents=1_999, now=then
    )
    session.execute(Product.__table__.update().where(Product.id == shop["kite"]).values(listed_at=then))
    session.commit()
    marketplace_run.run_batch(session, rng=random.Random(3), budget=100_000, now=utcnow())
    sold = {p.id: p.public_units for p in products.listing(session)[0]}
    leader = max(sold, key=lambda k: (sold[k], -k))
    trailer = other.id if leader == shop["kite"] else shop["kite"]
    momentum = product(session, trailer).momentum
    purchases.buy(
        session,
        actor_id=shop["alice"],
        account_id=shop["alice_personal"],
        product_id=trailer,
        units=500,
        price_cents=1_999,
    )
    assert products.listing(session, sort="best_selling")[0][0].id == leader
    assert [p.name for p in stock_views.leaderboard(session).products][0] == product(session, leader).name
    assert product(session, trailer).momentum == momentum
    assert product(session, trailer).units_sold == sold[trailer] + 500


def test_a_company_sees_player_purchases_as_revenue(session, engine, shop):
    from economy_app.services import companies

    purchases.buy(
        session,
        actor_id=shop["alice"],
        account_id=shop["alice_personal"],
        product_id=shop["kite"],
        units=10,
        price_cents=1_999,
    )
    d = companies.company_dashboard(session, shop["bob"], shop["company"])
    assert (d.revenue_30d, d.costs_30d) == (19_990, 7_996)
    assert companies.get_company(session, shop["company"]).revenue_30d == 19_990


def test_a_frozen_company_sells_nothing_and_keeps_its_reason_to_itself(session, engine, shop):
    """An admin froze BOB's account (it sends nothing, so it could not pay its production costs): its products are
    not on sale to players either, and the buyer is told so, never the admin's reason, which is for BOB's owner."""
    from economy_app.services import operations, users

    admin = users.create_user(session, "root", "correct horse", role="admin").id
    operations.freeze(session, actor_id=admin, kind="company", target_id=shop["company"], reason="Wash sales, ask Sam")
    before = fingerprint(engine)
    with pytest.raises(PurchaseRefused, match="^Kite is not on sale.$"):
        purchases.buy(
            session,
            actor_id=shop["alice"],
            account_id=shop["alice_personal"],
            product_id=shop["kite"],
            units=1,
            price_cents=1_999,
        )
    assert fingerprint(engine) == before


def test_buying_from_your_own_company_is_no_sale_to_the_public(session, engine, shop):
    """The dashboard's "How to play" ticks "Sell to the public" off when the public buys, never on the founder's
    own purchase (it counts the public's units, as "best-selling" does)."""
    from economy_app.services import guide

    purchases.buy(
        session,
        actor_id=shop["bob"],
        account_id=shop["bob_personal"],
        product_id=shop["kite"],
        units=5,
        price_cents=1_999,
    )
    assert product(session, shop["kite"]).units_sold == 5
    assert not guide.guide(session, shop["bob"]).done["sale"]


def test_a_founders_own_purchases_are_not_revenue(session, engine, shop):
    """A founder buying from their own company moves their own money round: it is not revenue, or they could make
    their company's revenue, margin and best-seller figures anything for the price of production (attack 17). Its
    production costs are costs (the company paid them). Another player's purchase is revenue; the public's is too."""
    bob, kite = shop["bob"], shop["kite"]
    buy = dict(product_id=kite, price_cents=1_999)
    purchases.buy(session, actor_id=bob, account_id=shop["bob_personal"], units=100, **buy)  # $1,999.00, his own
    purchases.buy(session, actor_id=shop["alice"], account_id=shop["alice_personal"], units=2, **buy)  # $39.98
    own_cost, alice_cost = -(-199_900 * 40 // 100), -(-3_998 * 40 // 100)
    d = companies.company_dashboard(session, bob, shop["company"])
    assert (d.revenue_30d, d.costs_30d) == (3_998, own_cost + alice_cost)
    assert sum(b.revenue for b in d.bars) == 3_998
    (row,) = d.products
    assert (row.units_sold, row.revenue) == (102, 3_998)
    (mine,) = [c for c in companies.my_companies(session, bob) if c.id == shop["company"]]
    assert mine.revenue_30d == 3_998
    # The leaderboard's best-sellers: the public's units, and the public's revenue.
    marketplace_run.run_batch(session, rng=random.Random(3), budget=3_000_000, now=utcnow() + timedelta(hours=1))
    p = product(session, kite)
    (ranked,) = [r for r in stock_views.leaderboard(session).products if r.name == "Kite"]
    assert ranked.revenue == p.revenue_cents - 199_900 - 3_998 > 0


def test_a_public_companys_purchases_answer_to_its_shareholders(session, engine, shop, make_company):
    """A purchase from a public company's account pays its cash out (issue 19): to a company its owner controls it
    is the rug pull by another door, refused; to anyone else it counts against the day's 10% of equity, as a
    payment does. Without this a founder emptied a public company by buying a friend's (or their own) goods."""
    from economy_app.services import shareholders
    from economy_app.services.errors import OutflowLimit, PublicCashRefused
    from tests.support.db import take_public

    alice = shop["alice"]
    listed, listed_account = make_company(alice, "ALI")
    take_public(session, listed, listed_account)
    own, _ = make_company(alice, "OWN")
    lamp = products.create_product(session, actor_id=alice, company_id=own, name="Lamp", price_cents=10_000)
    before = fingerprint(engine)
    with pytest.raises(PublicCashRefused):
        purchases.buy(
            session, actor_id=alice, account_id=listed_account, product_id=lamp.id, units=1, price_cents=10_000
        )
    room = shareholders.outflow_room(session, listed_account).room_cents
    units = room // 1_999 + 1  # one kite past what may go out today
    with pytest.raises(OutflowLimit, match="may still go out today"):
        purchases.buy(
            session, actor_id=alice, account_id=listed_account, product_id=shop["kite"], units=units, price_cents=1_999
        )
    assert fingerprint(engine) == before
    purchases.buy(
        session, actor_id=alice, account_id=listed_account, product_id=shop["kite"], units=units - 1, price_cents=1_999
    )
    assert shareholders.outflow_room(session, listed_account).room_cents == room - (units - 1) * 1_999
    check_invariants(engine)
