"""Products: listing, editing, (de)activating, the marketplace page's query."""

from __future__ import annotations

import random

import pytest

from economy_app.services import products
from economy_app.services.errors import InvalidAmount, InvalidInput, NotCompanyOwner, ProductNotFound
from tests.support.db import fingerprint


def test_create_product_with_a_seeded_cost(session, make_player, make_company):
    owner, _ = make_player()
    company, _ = make_company(owner)
    a = products.create_product(session, actor_id=owner, company_id=company, name="Widget", price_cents=1999,
                                rng=random.Random(42))
    b = products.create_product(session, actor_id=owner, company_id=company, name="Widget 2", price_cents=1999,
                                rng=random.Random(42))
    assert 23 <= a.cost_percent <= 67 and a.cost_percent == b.cost_percent
    assert (a.active, a.units_sold, a.revenue_cents, a.costs_cents) == (True, 0, 0, 0)


@pytest.mark.parametrize("kwargs,error", [
    (dict(price_cents=0), InvalidAmount), (dict(price_cents=-5), InvalidAmount),
    (dict(price_cents=100_000_001), InvalidAmount), (dict(price_cents=12.5), InvalidAmount),
    (dict(name=""), InvalidInput), (dict(name="x" * 81), InvalidInput), (dict(description="x" * 501), InvalidInput),
])
def test_bad_product_input_changes_nothing(session, engine, make_player, make_company, kwargs, error):
    owner, _ = make_player()
    company, _ = make_company(owner)
    before = fingerprint(engine)
    with pytest.raises(error):
        products.create_product(session, **{**dict(actor_id=owner, company_id=company, name="Widget",
                                                   price_cents=100), **kwargs})
    assert fingerprint(engine) == before


def test_only_the_owner_manages_products(session, engine, make_player, make_company):
    owner, _ = make_player()
    other, _ = make_player()
    company, _ = make_company(owner)
    product = products.create_product(session, actor_id=owner, company_id=company, name="Widget", price_cents=100)
    before = fingerprint(engine)
    for call in (lambda: products.create_product(session, actor_id=other, company_id=company, name="X",
                                                 price_cents=1),
                 lambda: products.update_product(session, actor_id=other, product_id=product.id, price_cents=1),
                 lambda: products.set_active(session, actor_id=other, product_id=product.id, active=False)):
        with pytest.raises(NotCompanyOwner):
            call()
    with pytest.raises(ProductNotFound):
        products.update_product(session, actor_id=owner, product_id=9999, price_cents=1)
    assert fingerprint(engine) == before


def test_edit_price_keeps_the_cost_percentage(session, make_player, make_company):
    owner, _ = make_player()
    company, _ = make_company(owner)
    product = products.create_product(session, actor_id=owner, company_id=company, name="Widget", price_cents=100)
    edited = products.update_product(session, actor_id=owner, product_id=product.id, price_cents=5000,
                                      name="Widget Pro")
    assert (edited.price_cents, edited.name, edited.cost_percent) == (5000, "Widget Pro", product.cost_percent)
    assert products.set_active(session, actor_id=owner, product_id=product.id, active=False).active is False
    assert products.set_active(session, actor_id=owner, product_id=product.id, active=True).active is True


def test_listing_search_filter_sort_and_pages(session, make_player, make_company):
    owner, _ = make_player()
    acme, _ = make_company(owner, "ACME", "Acme")
    beta, _ = make_company(owner, "BETA", "Beta")
    for company, name, price in ((acme, "Anvil", 500), (acme, "Rocket", 9000), (beta, "Bolt", 100)):
        products.create_product(session, actor_id=owner, company_id=company, name=name, price_cents=price)
    hidden = products.create_product(session, actor_id=owner, company_id=beta, name="Hidden", price_cents=1)
    products.set_active(session, actor_id=owner, product_id=hidden.id, active=False)
    rows, total = products.listing(session, sort="price_asc")
    assert total == 3 and [r.name for r in rows] == ["Bolt", "Anvil", "Rocket"]
    assert [r.ticker for r in rows] == ["BETA", "ACME", "ACME"]
    rows, total = products.listing(session, company_id=acme, sort="price_desc")
    assert [r.name for r in rows] == ["Rocket", "Anvil"]
    rows, total = products.listing(session, query="beta")  # by company name or ticker too
    assert [r.name for r in rows] == ["Bolt"]
    rows, total = products.listing(session, sort="price_asc", page=2, page_size=2)
    assert total == 3 and [r.name for r in rows] == ["Rocket"]
