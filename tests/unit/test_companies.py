"""Founding and editing companies, the directory, the owner's dashboard, going public."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import select

from economy_app.models import Account, Company, Holding, utcnow
from economy_app.services import accounts, companies, ledger, marketplace_run, products, stock_trading
from economy_app.services._tx import unit
from economy_app.services.errors import CompanyLimit, InvalidInput, NotCompanyOwner, TickerTaken
from tests.support.db import check_invariants, fingerprint


def test_create_company_opens_an_empty_company_account(session, engine, make_player):
    owner, _ = make_player("founder")
    view = companies.create_company(
        session,
        owner_id=owner,
        name="  Acme   Rockets ",
        ticker="acme",
        description="Boom",
        tags="space, Rockets,space",
    )
    assert (view.name, view.ticker, view.tags, view.balance, view.is_public) == (
        "Acme Rockets",
        "ACME",
        ["space", "Rockets"],
        0,
        False,
    )
    account = session.get(Account, view.account_id)
    assert (account.kind, account.owner_id, account.company_id, account.name) == (
        "company",
        owner,
        view.id,
        "Acme Rockets",
    )
    assert accounts.get_balance(session, view.account_id) == 0
    check_invariants(engine)


@pytest.mark.parametrize(
    "kwargs,error",
    [
        (dict(ticker="ACMEXY"), InvalidInput),
        (dict(ticker="AC1"), InvalidInput),
        (dict(ticker=""), InvalidInput),
        (dict(name=""), InvalidInput),
        (dict(name="x" * 51), InvalidInput),
        (dict(description="x" * 501), InvalidInput),
        (dict(tags="a,b,c,d,e,f"), InvalidInput),
        (dict(tags="bad;tag"), InvalidInput),
        (dict(ticker="acme"), TickerTaken),
        (dict(ticker="AcMe"), TickerTaken),
    ],
)
def test_bad_company_input_changes_nothing(session, engine, make_player, kwargs, error):
    owner, _ = make_player()
    companies.create_company(session, owner_id=owner, name="Acme", ticker="ACME")
    before = fingerprint(engine)
    args = dict(owner_id=owner, name="Other", ticker="OTHR", description="", tags=())
    with pytest.raises(error) as info:
        companies.create_company(session, **{**args, **kwargs})
    assert str(info.value)
    assert fingerprint(engine) == before


def test_company_limit(session, engine, make_player, monkeypatch):
    monkeypatch.setenv("ECONOMY_MAX_COMPANIES", "2")
    owner, _ = make_player()
    companies.create_company(session, owner_id=owner, name="One", ticker="ONE")
    companies.create_company(session, owner_id=owner, name="Two", ticker="TWO")
    before = fingerprint(engine)
    with pytest.raises(CompanyLimit):
        companies.create_company(session, owner_id=owner, name="Three", ticker="THREE")
    assert fingerprint(engine) == before


def test_only_the_owner_edits_and_the_account_name_follows(session, engine, make_player):
    owner, _ = make_player()
    other, _ = make_player()
    view = companies.create_company(session, owner_id=owner, name="Acme", ticker="ACME")
    before = fingerprint(engine)
    with pytest.raises(NotCompanyOwner):
        companies.update_company(session, actor_id=other, company_id=view.id, name="Stolen")
    assert fingerprint(engine) == before
    edited = companies.update_company(
        session, actor_id=owner, company_id=view.id, name="Acme Two", description="New", tags=["x"]
    )
    assert (edited.name, edited.description, edited.tags) == ("Acme Two", "New", ["x"])
    assert session.execute(select(Account.name).where(Account.id == view.account_id)).scalar_one() == "Acme Two"


def test_money_can_go_into_and_out_of_a_company_account(session, engine, make_player):
    owner, personal = make_player()
    other, other_personal = make_player()
    company = companies.create_company(session, owner_id=owner, name="Acme", ticker="ACME")
    accounts.transfer(
        session, actor_id=other, from_account_id=other_personal, to_account_id=company.account_id, amount=5000
    )
    accounts.transfer(session, actor_id=owner, from_account_id=company.account_id, to_account_id=personal, amount=2000)
    with pytest.raises(Exception):
        accounts.transfer(
            session, actor_id=other, from_account_id=company.account_id, to_account_id=other_personal, amount=1
        )
    assert accounts.get_balance(session, company.account_id) == 3000
    assert [r.name for r in accounts.search_recipients(session, "acm")] == ["Acme"]
    assert {v.kind for v in accounts.list_accounts(session, owner)} == {"personal", "company"}
    check_invariants(engine)


def test_directory_search_sort_and_pages(session, make_player):
    owner, _ = make_player()
    other, _ = make_player()
    for i, (name, ticker) in enumerate((("Zeta", "ZET"), ("Alpha", "ALP"), ("Beta", "BET"))):
        companies.create_company(session, owner_id=owner if i < 2 else other, name=name, ticker=ticker)
    rows, total = companies.directory(session)
    assert total == 3 and [r.name for r in rows] == ["Alpha", "Beta", "Zeta"]
    rows, total = companies.directory(session, query="be")
    assert (total, [r.ticker for r in rows]) == (1, ["BET"])
    rows, total = companies.directory(session, query="zet")  # ticker or name
    assert [r.name for r in rows] == ["Zeta"]
    rows, total = companies.directory(session, sort="newest", page=2, page_size=2)
    assert total == 3 and [r.name for r in rows] == ["Zeta"]
    with pytest.raises(InvalidInput):
        companies.directory(session, sort="random")


def test_owner_dashboard_figures(session, engine, make_player):
    owner, _ = make_player()
    other, _ = make_player()
    company = companies.create_company(session, owner_id=owner, name="Acme", ticker="ACME")
    rng = random.Random(3)
    listed = utcnow() - timedelta(hours=1)  # past the hold for new listings
    p1 = products.create_product(
        session, actor_id=owner, company_id=company.id, name="Widget", price_cents=1999, rng=rng, now=listed
    )
    p2 = products.create_product(
        session, actor_id=owner, company_id=company.id, name="Gadget", price_cents=4500, rng=rng, now=listed
    )
    result = marketplace_run.run_batch(session, rng=random.Random(1), budget=100_000)
    d = companies.company_dashboard(session, owner, company.id)
    assert d.revenue_30d == result.revenue and d.costs_30d == result.costs
    assert d.profit_30d == result.revenue - result.costs
    assert d.margin_permille == (result.revenue - result.costs) * 1000 // result.revenue
    assert len(d.bars) == 36 and d.bars[-1].revenue == result.revenue  # one bar per run, the latest last
    assert {p.id: p.units_sold for p in d.products} == {
        p.id: p.units_sold for p in products.company_products(session, company.id)
    }
    assert sum(p.revenue for p in d.products) == result.revenue
    assert {p1.id, p2.id} == {p.id for p in d.products}
    with pytest.raises(NotCompanyOwner):
        companies.company_dashboard(session, other, company.id)
    views = companies.my_companies(session, owner)
    assert [(v.ticker, v.products, v.revenue_30d) for v in views] == [("ACME", 2, result.revenue)]


def test_going_public_above_fifty_thousand(session, engine, make_player):
    owner, personal = make_player()
    company = companies.create_company(session, owner_id=owner, name="Acme", ticker="ACME")
    system = accounts.system_account_id(session)

    def fund(cents):
        with unit(session, write=True):
            ledger.post(
                session, from_account_id=system, to_account_id=company.account_id, amount=cents, type="adjustment"
            )

    fund(5_000_000)  # exactly $50,000: not above
    assert companies.check_and_update_public_status(session, company.id) is False
    fund(1)
    assert companies.check_and_update_public_status(session, company.id) is True
    row = session.get(Company, company.id)
    session.refresh(row)
    # 200,000 shares to the founder's personal holding at the IPO price, 800,000 in the treasury.
    assert (row.is_public, row.total_shares, row.treasury_shares) == (True, 1_000_000, 800_000)
    assert row.share_price_micros == row.ipo_price_micros == 10 * 5_000_001 * 10_000 // 1_000_000  # $0.50
    stake = session.execute(
        select(Holding.account_id, Holding.shares, Holding.avg_price_micros).where(Holding.company_id == company.id)
    ).all()
    assert [tuple(h) for h in stake] == [(personal, 200_000, 500_000)]
    # The curve's base puts the spot price at the founder's float exactly at the IPO price.
    assert stock_trading.spot_price(row.base_price_micros, 200_000, 1_000_000) == 500_000
    assert stock_trading.spot_price(row.base_price_micros + 1, 200_000, 1_000_000) > 500_000
    check_invariants(engine)
    assert companies.check_and_update_public_status(session, company.id) is False  # once public, always
    assert companies.ipo_price_micros(1) == 10_000  # never below $0.01


def test_the_owner_takes_a_company_public_in_one_call(session, engine, make_player):
    """The dashboard's "go public" button is one service call (``companies.go_public``): ownership checked and
    the IPO made in one transaction; anyone else is refused and nothing changes."""
    owner, _ = make_player("founder")
    other, _ = make_player("other")
    company = companies.create_company(session, owner_id=owner, name="Acme", ticker="ACME")
    with unit(session, write=True):
        ledger.post(
            session,
            from_account_id=accounts.system_account_id(session),
            to_account_id=company.account_id,
            amount=companies.PUBLIC_THRESHOLD_CENTS + 1,
            type="adjustment",
        )
    before = fingerprint(engine)
    with pytest.raises(NotCompanyOwner):
        companies.go_public(session, actor_id=other, company_id=company.id)
    assert fingerprint(engine) == before
    assert companies.go_public(session, actor_id=owner, company_id=company.id) is True
    assert companies.go_public(session, actor_id=owner, company_id=company.id) is False  # once public, always
    assert companies.get_company(session, company.id).is_public
    check_invariants(engine)
