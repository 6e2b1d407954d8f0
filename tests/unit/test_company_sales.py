"""Buying and selling whole companies (issue 16): a listing, offers and counter-offers, the sale in one
transaction (the price to the seller, the company and its account to the buyer, other offers cancelled), the
founder rules for the new owner, a public company's cash staying with the business, every refusal changing
nothing."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from economy_app.models import (
    Account,
    Company,
    CompanyListing,
    CompanyOffer,
    Holding,
    LedgerEntry,
    ShareTransfer,
    StockTrade,
    utcnow,
)
from economy_app.services import (
    accounts,
    companies,
    company_sales,
    ledger,
    products,
    share_transfers,
    stock_trading,
)
from economy_app.services._tx import unit
from economy_app.services.errors import (
    CompanyLimit,
    InsufficientFunds,
    InvalidAmount,
    InvalidInput,
    ListingNotFound,
    NotAccountOwner,
    NotCompanyOwner,
    OutflowLimit,
    SaleRefused,
    ShareTransferRefused,
    UserNotFound,
)
from tests.support.db import check_invariants, fingerprint
from tests.support.world import fund, go_public, net_worth


@pytest.fixture
def world(session, make_player, make_company):
    """Sam sells; Bob and Bea buy. Sam's private company has $3,000 and a product; Bob has $10,000 personally and a
    company of his own with $20,000."""
    sam, sam_personal = make_player("sam")
    bob, bob_personal = make_player("bob")
    bea, bea_personal = make_player("bea")
    company, account = make_company(sam, "SHOP", "Sam's Shop")
    fund(session, account, 300_000)
    products.create_product(
        session, actor_id=sam, company_id=company, name="Gizmo", price_cents=1_500, rng=random.Random(1)
    )
    bob_co, bob_co_account = make_company(bob, "BOBC", "Bob Co")
    fund(session, bob_co_account, 2_000_000)
    return dict(
        sam=sam,
        sam_personal=sam_personal,
        bob=bob,
        bob_personal=bob_personal,
        bea=bea,
        bea_personal=bea_personal,
        company=company,
        account=account,
        bob_co=bob_co,
        bob_co_account=bob_co_account,
    )


def owner_of(session, company_id: int) -> tuple[int, int]:
    session.expire_all()
    c = session.get(Company, company_id)
    return c.owner_id, session.get(Account, c.account_id).owner_id


def test_a_private_company_sold_at_its_asking_price(session, engine, world):
    w = world
    worth = {p: net_worth(session, p) for p in (w["sam"], w["bob"])}
    listing = company_sales.list_company(session, actor_id=w["sam"], company_id=w["company"], price_cents=500_000)
    assert (listing.price_cents, listing.cash_cents, listing.public, listing.mine, listing.buyer) == (
        500_000,
        300_000,
        False,
        True,
        "",
    )
    assert listing.expires_at - listing.created_at == timedelta(days=7)
    rows, total = company_sales.for_sale(session, w["bob"])
    assert total == 1 and [r.name for r in rows] == ["Sam's Shop"]
    result = company_sales.buy_now(
        session, actor_id=w["bob"], listing_id=listing.id, pay_account_id=w["bob_personal"], expect_cash_cents=300_000
    )
    assert (result.seller, result.buyer, result.price_cents) == ("sam", "bob", 500_000)
    assert owner_of(session, w["company"]) == (w["bob"], w["bob"])  # the company and its account
    assert accounts.get_balance(session, w["bob_personal"]) == 1_000_000 - 500_000
    assert accounts.get_balance(session, w["sam_personal"]) == 1_000_000 + 500_000
    assert accounts.get_balance(session, w["account"]) == 300_000  # its cash goes with the company
    [entry] = session.execute(select(LedgerEntry).where(LedgerEntry.type == "company_sale")).scalars().all()
    assert (entry.from_account_id, entry.to_account_id, entry.amount) == (w["bob_personal"], w["sam_personal"], 500_000)
    assert entry.description == "Sale of Sam's Shop (SHOP) by sam to bob"
    # Net worths: the price moved one way, the company's cash the other.
    assert net_worth(session, w["sam"]) == worth[w["sam"]] + 500_000 - 300_000
    assert net_worth(session, w["bob"]) == worth[w["bob"]] - 500_000 + 300_000
    # The new owner runs it; the old one no longer does.
    assert companies.company_dashboard(session, w["bob"], w["company"]).company.name == "Sam's Shop"
    with pytest.raises(NotCompanyOwner):
        companies.company_dashboard(session, w["sam"], w["company"])
    with pytest.raises(NotAccountOwner):
        accounts.transfer(
            session, actor_id=w["sam"], from_account_id=w["account"], to_account_id=w["sam_personal"], amount=100
        )
    accounts.transfer(
        session, actor_id=w["bob"], from_account_id=w["account"], to_account_id=w["bob_personal"], amount=100
    )
    assert company_sales.for_sale(session, w["bea"])[1] == 0
    sale = company_sales.owner_view(session, w["company"], w["bob"])
    assert sale.listing is None and [(p.status, p.seller) for p in sale.past] == [("sold", "sam")]
    check_invariants(engine)


def test_a_sale_with_a_counter_offer(session, engine, world):
    """Bob offers less, Sam counters, Bob accepts the counter: the sale at the counter's price; every step
    recorded and shown to both sides; Bea's offer on the same listing is cancelled."""
    w = world
    listing = company_sales.list_company(session, actor_id=w["sam"], company_id=w["company"], price_cents=800_000)
    first = company_sales.make_offer(
        session, actor_id=w["bob"], listing_id=listing.id, price_cents=400_000, pay_account_id=w["bob_co_account"]
    )
    bea = company_sales.make_offer(
        session, actor_id=w["bea"], listing_id=listing.id, price_cents=450_000, pay_account_id=w["bea_personal"]
    )
    back = company_sales.counter(session, actor_id=w["sam"], offer_id=first, price_cents=600_000)
    [thread] = company_sales.buyer_view(session, w["bob"])
    assert [(s.by_buyer, s.price_cents, s.status) for s in thread.steps] == [
        (True, 400_000, "countered"),
        (False, 600_000, "open"),
    ]
    assert (thread.turn, thread.open_step.id, thread.pay_account_id) == ("buyer", back, w["bob_co_account"])
    seller_side = company_sales.owner_view(session, w["company"], w["sam"])
    assert {t.buyer: t.turn for t in seller_side.threads} == {"bob": "buyer", "bea": "seller"}
    # Only the other side answers, only the open step.
    before = fingerprint(engine)
    with pytest.raises(SaleRefused):
        company_sales.accept(session, actor_id=w["sam"], offer_id=back)  # his own counter
    with pytest.raises(SaleRefused):
        company_sales.accept(session, actor_id=w["sam"], offer_id=first)  # already answered
    with pytest.raises(ListingNotFound):
        company_sales.accept(session, actor_id=w["bea"], offer_id=back)  # not hers
    with pytest.raises(SaleRefused):
        company_sales.make_offer(
            session, actor_id=w["bob"], listing_id=listing.id, price_cents=1, pay_account_id=w["bob_personal"]
        )
    assert fingerprint(engine) == before
    result = company_sales.accept(session, actor_id=w["bob"], offer_id=back)
    assert result.price_cents == 600_000
    assert accounts.get_balance(session, w["bob_co_account"]) == 2_000_000 - 600_000  # from his company's account
    assert accounts.get_balance(session, w["sam_personal"]) == 1_000_000 + 600_000
    assert owner_of(session, w["company"]) == (w["bob"], w["bob"])
    statuses = dict(session.execute(select(CompanyOffer.id, CompanyOffer.status)).all())
    assert statuses == {first: "countered", bea: "cancelled", back: "accepted"}
    [bea_thread] = company_sales.buyer_view(session, w["bea"])
    assert (bea_thread.listing_status, bea_thread.steps[-1].status) == ("sold", "cancelled")
    check_invariants(engine)


def test_reject_withdraw_and_expiry(session, engine, world):
    w = world
    t0 = utcnow()
    listing = company_sales.list_company(
        session, actor_id=w["sam"], company_id=w["company"], price_cents=800_000, days=2, now=t0
    )
    offer = company_sales.make_offer(
        session, actor_id=w["bob"], listing_id=listing.id, price_cents=100_000, pay_account_id=w["bob_personal"], now=t0
    )
    company_sales.reject(session, actor_id=w["sam"], offer_id=offer, now=t0)
    again = company_sales.make_offer(
        session, actor_id=w["bob"], listing_id=listing.id, price_cents=200_000, pay_account_id=w["bob_personal"], now=t0
    )
    with pytest.raises(SaleRefused):
        company_sales.withdraw_offer(session, actor_id=w["sam"], offer_id=again, now=t0)  # not his to withdraw
    company_sales.withdraw_offer(session, actor_id=w["bob"], offer_id=again, now=t0)
    with pytest.raises(SaleRefused):
        company_sales.list_company(session, actor_id=w["sam"], company_id=w["company"], price_cents=1, now=t0)
    # Past its expiry nothing can be done with it; listing again closes it as expired.
    later = t0 + timedelta(days=2, seconds=1)
    last = company_sales.make_offer(
        session, actor_id=w["bea"], listing_id=listing.id, price_cents=300_000, pay_account_id=w["bea_personal"], now=t0
    )
    before = fingerprint(engine)
    for call in (
        lambda: company_sales.buy_now(
            session, actor_id=w["bob"], listing_id=listing.id, pay_account_id=w["bob_personal"], now=later
        ),
        lambda: company_sales.accept(session, actor_id=w["sam"], offer_id=last, now=later),
        lambda: company_sales.withdraw(session, actor_id=w["sam"], listing_id=listing.id, now=later),
    ):
        with pytest.raises(SaleRefused) as info:
            call()
        assert "This offer expired on" in str(info.value)
    assert fingerprint(engine) == before
    assert company_sales.for_sale(session, w["bob"], now=later)[1] == 0
    assert company_sales.owner_view(session, w["company"], w["sam"], now=later).listing.status == "expired"
    relisted = company_sales.list_company(
        session, actor_id=w["sam"], company_id=w["company"], price_cents=700_000, now=later
    )
    statuses = dict(session.execute(select(CompanyListing.id, CompanyListing.status)).all())
    assert statuses == {listing.id: "expired", relisted.id: "open"}
    assert session.get(CompanyOffer, last).status == "cancelled"
    # Withdrawing the listing cancels its offers.
    open_offer = company_sales.make_offer(
        session,
        actor_id=w["bob"],
        listing_id=relisted.id,
        price_cents=1_000,
        pay_account_id=w["bob_personal"],
        now=later,
    )
    company_sales.withdraw(session, actor_id=w["sam"], listing_id=relisted.id, now=later)
    session.expire_all()
    assert session.get(CompanyOffer, open_offer).status == "cancelled"
    with pytest.raises(SaleRefused) as info:
        company_sales.accept(session, actor_id=w["sam"], offer_id=open_offer, now=later)
    check_invariants(engine)


def test_a_listing_for_one_named_player(session, engine, world):
    w = world
    listing = company_sales.list_company(
        session, actor_id=w["sam"], company_id=w["company"], price_cents=400_000, buyer_username="BEA"
    )
    assert listing.buyer == "bea"
    assert company_sales.for_sale(session, w["bob"])[1] == 0
    assert company_sales.for_sale(session, w["bea"])[1] == 1
    before = fingerprint(engine)
    with pytest.raises(ListingNotFound):
        company_sales.buy_now(session, actor_id=w["bob"], listing_id=listing.id, pay_account_id=w["bob_personal"])
    with pytest.raises(ListingNotFound):
        company_sales.listing_for(session, w["bob"], listing.id)
    assert fingerprint(engine) == before
    company_sales.buy_now(session, actor_id=w["bea"], listing_id=listing.id, pay_account_id=w["bea_personal"])
    assert owner_of(session, w["company"]) == (w["bea"], w["bea"])
    check_invariants(engine)


def test_every_refusal_changes_nothing(session, engine, world, make_company, monkeypatch):
    w = world
    listing = company_sales.list_company(session, actor_id=w["sam"], company_id=w["company"], price_cents=1_500_000)
    before = fingerprint(engine)
    listing_cases = [
        (dict(actor_id=w["bob"], company_id=w["company"], price_cents=100), NotCompanyOwner),
        (dict(actor_id=w["sam"], company_id=w["company"], price_cents=0), InvalidAmount),
        (dict(actor_id=w["sam"], company_id=w["company"], price_cents=10**12), InvalidAmount),
        (dict(actor_id=w["sam"], company_id=w["company"], price_cents=100, days=31), InvalidInput),
        (dict(actor_id=w["sam"], company_id=w["company"], price_cents=100, buyer_username="nobody"), UserNotFound),
        (dict(actor_id=w["sam"], company_id=w["company"], price_cents=100, buyer_username="sam"), SaleRefused),
        (dict(actor_id=w["sam"], company_id=w["company"], price_cents=100), SaleRefused),  # already for sale
    ]
    for kwargs, error in listing_cases:
        with pytest.raises(error):
            company_sales.list_company(session, **kwargs)
    buy_cases = [
        (dict(actor_id=w["sam"], pay_account_id=w["sam_personal"]), SaleRefused),  # his own
        (dict(actor_id=w["bob"], pay_account_id=w["bea_personal"]), NotAccountOwner),  # not his account
        (dict(actor_id=w["bob"], pay_account_id=w["account"]), NotAccountOwner),  # the company being bought
        (dict(actor_id=w["bob"], pay_account_id=None), InvalidInput),
        (dict(actor_id=w["bob"], pay_account_id=w["bob_personal"]), InsufficientFunds),  # $10,000 < $15,000
        (dict(actor_id=w["bob"], pay_account_id=w["bob_co_account"], expect_cash_cents=300_001), SaleRefused),
    ]
    for kwargs, error in buy_cases:
        with pytest.raises(error):
            company_sales.buy_now(session, listing_id=listing.id, **kwargs)
    with pytest.raises(ListingNotFound):
        company_sales.buy_now(session, actor_id=w["bob"], listing_id=999_999, pay_account_id=w["bob_personal"])
    with pytest.raises(NotAccountOwner):  # an account that does not exist
        company_sales.buy_now(session, actor_id=w["bob"], listing_id=listing.id, pay_account_id=999_999)
    monkeypatch.setenv("ECONOMY_MAX_COMPANIES", "1")  # Bob already runs Bob Co
    with pytest.raises(CompanyLimit):
        company_sales.buy_now(session, actor_id=w["bob"], listing_id=listing.id, pay_account_id=w["bob_co_account"])
    with pytest.raises(CompanyLimit):
        company_sales.make_offer(
            session, actor_id=w["bob"], listing_id=listing.id, price_cents=1_000, pay_account_id=w["bob_personal"]
        )
    assert fingerprint(engine) == before


def test_an_owner_accepting_finds_the_cash_the_buyer_saw(session, engine, world):
    """A buyer's offer stands on the company's cash when they made it: an owner who empties the company and then
    accepts is refused; the buyer may offer again on what it has now."""
    w = world
    listing = company_sales.list_company(session, actor_id=w["sam"], company_id=w["company"], price_cents=800_000)
    offer = company_sales.make_offer(
        session, actor_id=w["bob"], listing_id=listing.id, price_cents=400_000, pay_account_id=w["bob_personal"]
    )
    accounts.transfer(
        session, actor_id=w["sam"], from_account_id=w["account"], to_account_id=w["sam_personal"], amount=250_000
    )
    before = fingerprint(engine)
    with pytest.raises(SaleRefused) as info:
        company_sales.accept(session, actor_id=w["sam"], offer_id=offer)
    assert str(info.value) == (
        "Sam's Shop's cash fell from $3,000.00 to $500.00 since that offer was made: make a new one on what it has now."
    )
    assert fingerprint(engine) == before


def test_a_public_company_changes_hands_with_its_cash(session, engine, make_player, make_company):
    """A public company's sale moves only its ownership: its cash stays with the business and its shareholders.
    The new owner's shares in it are sold back to its treasury at the current bid, recorded as trades."""
    dana, dana_personal = make_player("dana")
    bob, bob_personal = make_player("bob")
    carol, carol_personal = make_player("carol")
    company, account = make_company(dana, "DANA", "Dana Drones")
    bob_co, bob_co_account = make_company(bob, "BOBC", "Bob Co")
    go_public(session, company, account, 10_217_300)
    fund(session, bob_co_account, 5_000_000)
    fund(session, bob_personal, 50_000_000)
    t0 = utcnow() - timedelta(minutes=1)
    for actor, acct, n in ((bob, bob_personal, 3_000), (bob, bob_co_account, 2_000), (carol, carol_personal, 5_200)):
        stock_trading.buy(session, actor_id=actor, account_id=acct, company_id=company, shares=n, now=t0)
    cash = accounts.get_balance(session, account)
    c = session.get(Company, company)
    bid = stock_trading.sell_proceeds_cents(*stock_trading.curve_of(c)[:2], 5_000, c.total_shares)
    listing = company_sales.list_company(session, actor_id=dana, company_id=company, price_cents=20_000_000)
    result = company_sales.buy_now(session, actor_id=bob, listing_id=listing.id, pay_account_id=bob_personal)
    assert sorted((x.account, x.shares) for x in result.sold_back) == [("Bob Co", 2_000), ("bob", 3_000)]
    assert sum(x.cents for x in result.sold_back) <= bid  # each sold from the top, rounded down
    assert accounts.get_balance(session, account) == cash - sum(x.cents for x in result.sold_back)
    assert owner_of(session, company) == (bob, bob)
    held = dict(session.execute(select(Holding.account_id, Holding.shares).where(Holding.company_id == company)).all())
    # Dana's stake goes with the company: the owner's shares come last, and in her hands they no longer would.
    assert held == {dana_personal: 0, bob_personal: 200_000, bob_co_account: 0, carol_personal: 5_200}
    [moved] = session.execute(select(ShareTransfer)).scalars().all()
    assert (moved.from_account_id, moved.to_account_id, moved.shares) == (dana_personal, bob_personal, 200_000)
    sells = session.execute(select(StockTrade.account_id).where(StockTrade.side == "sell")).scalars().all()
    assert sorted(sells) == sorted([bob_personal, bob_co_account])
    # And Bob may not take its cash to himself: the rules follow the company.
    with pytest.raises(Exception) as info:
        accounts.transfer(session, actor_id=bob, from_account_id=account, to_account_id=bob_personal, amount=100)
    assert "is public: its cash belongs to the business" in str(info.value)
    check_invariants(engine)


def test_founder_rules_refuse_what_cannot_be_sold_back(session, engine, make_player, make_company):
    dana, _ = make_player("dana")
    bob, bob_personal = make_player("bob")
    company, account = make_company(dana, "DANA", "Dana Drones")
    go_public(session, company, account, 10_217_300)
    fund(session, bob_personal, 300_000_000)
    t0 = utcnow() - timedelta(minutes=1)
    stock_trading.buy(session, actor_id=bob, account_id=bob_personal, company_id=company, shares=700_000, now=t0)
    # The company's cash falls short of buying Bob's shares back (losses: an operator's adjustment here).
    with unit(session, write=True):
        ledger.post(
            session,
            from_account_id=account,
            to_account_id=accounts.system_account_id(session),
            amount=accounts.get_balance(session, account) // 2,
            type="adjustment",
        )
    listing = company_sales.list_company(session, actor_id=dana, company_id=company, price_cents=100_000)
    before = fingerprint(engine)
    with pytest.raises(SaleRefused) as info:
        company_sales.buy_now(session, actor_id=bob, listing_id=listing.id, pay_account_id=bob_personal)
    assert str(info.value).startswith("Sell your 700,000 shares of Dana Drones first: nobody may own a company and")
    assert fingerprint(engine) == before


def test_a_company_holding_the_buyers_shares_is_refused(session, engine, make_player, make_company):
    """Sam's company holds shares of Bob's public company: were Bob to buy it, he would hold his own company's
    shares through it. Refused until they are sold."""
    sam, _ = make_player("sam")
    bob, bob_personal = make_player("bob")
    shop, shop_account = make_company(sam, "SHOP", "Sam's Shop")
    bobs, bobs_account = make_company(bob, "BOBS", "Bob's Public")
    go_public(session, bobs, bobs_account, 6_000_000)
    fund(session, shop_account, 1_000_000)
    stock_trading.buy(
        session,
        actor_id=sam,
        account_id=shop_account,
        company_id=bobs,
        shares=1_000,
        now=utcnow() - timedelta(minutes=1),
    )
    listing = company_sales.list_company(session, actor_id=sam, company_id=shop, price_cents=100)
    before = fingerprint(engine)
    with pytest.raises(SaleRefused) as info:
        company_sales.buy_now(session, actor_id=bob, listing_id=listing.id, pay_account_id=bob_personal)
    assert str(info.value).startswith("Sam's Shop holds 1,000 shares of Bob's Public, a company you own")
    assert fingerprint(engine) == before
    stock_trading.sell(session, actor_id=sam, account_id=shop_account, company_id=bobs, shares=1_000)
    company_sales.buy_now(session, actor_id=bob, listing_id=listing.id, pay_account_id=bob_personal)
    check_invariants(engine)


def test_paying_from_a_public_company_is_a_capped_payment(session, engine, make_player, make_company):
    """A public company paying the price of another pays a third party: the 10%-a-day cap applies."""
    sam, sam_personal = make_player("sam")
    bob, _ = make_player("bob")
    shop, _ = make_company(sam, "SHOP", "Sam's Shop")
    bobs, bobs_account = make_company(bob, "BOBS", "Bob's Public")
    go_public(session, bobs, bobs_account, 6_000_000)
    big = company_sales.list_company(session, actor_id=sam, company_id=shop, price_cents=600_001)
    before = fingerprint(engine)
    with pytest.raises(OutflowLimit):
        company_sales.buy_now(session, actor_id=bob, listing_id=big.id, pay_account_id=bobs_account)
    assert fingerprint(engine) == before
    company_sales.withdraw(session, actor_id=sam, listing_id=big.id)
    fair = company_sales.list_company(session, actor_id=sam, company_id=shop, price_cents=600_000)
    company_sales.buy_now(session, actor_id=bob, listing_id=fair.id, pay_account_id=bobs_account)
    assert accounts.get_balance(session, sam_personal) == 1_000_000 + 600_000
    check_invariants(engine)


def test_a_gift_to_the_new_owner_is_refused_after_the_sale(session, engine, make_player, make_company):
    """The founder rules follow the company to its new owner: no gift of its shares to him afterwards."""
    dana, _ = make_player("dana")
    bob, bob_personal = make_player("bob")
    carol, carol_personal = make_player("carol")
    company, account = make_company(dana, "DANA", "Dana Drones")
    go_public(session, company, account, 10_217_300)
    stock_trading.buy(
        session,
        actor_id=carol,
        account_id=carol_personal,
        company_id=company,
        shares=100,
        now=utcnow() - timedelta(minutes=1),
    )
    listing = company_sales.list_company(session, actor_id=dana, company_id=company, price_cents=100_000)
    company_sales.buy_now(session, actor_id=bob, listing_id=listing.id, pay_account_id=bob_personal)
    with pytest.raises(Exception) as info:
        share_transfers.give(
            session,
            actor_id=carol,
            from_account_id=carol_personal,
            to_account_id=bob_personal,
            company_id=company,
            shares=100,
        )
    assert "Nobody holds their own company's shares" in str(info.value)
    assert session.execute(select(func.count()).select_from(CompanyListing)).scalar_one() == 1
    check_invariants(engine)


def test_the_for_sale_page_sorts_and_searches(session, engine, make_player, make_company):
    seller, _ = make_player("seller")
    reader, _ = make_player("reader")
    made = []
    for ticker, cash, price in (("AAA", 100_000, 300_000), ("BBB", 500_000, 100_000), ("CCC", 300_000, 200_000)):
        company, account = make_company(seller, ticker, f"Firm {ticker}")
        fund(session, account, cash)
        made.append(company_sales.list_company(session, actor_id=seller, company_id=company, price_cents=price))
    by = {
        sort: [r.ticker for r in company_sales.for_sale(session, reader, sort=sort)[0]] for sort in company_sales.SORTS
    }
    assert by["price"] == ["BBB", "CCC", "AAA"]
    assert by["price_desc"] == ["AAA", "CCC", "BBB"]
    assert by["cash"] == ["BBB", "CCC", "AAA"]
    assert by["newest"] == ["CCC", "BBB", "AAA"]
    rows, total = company_sales.for_sale(session, reader, query="firm b")
    assert total == 1 and rows[0].ticker == "BBB"
    with pytest.raises(InvalidInput):
        company_sales.for_sale(session, reader, sort="cash; drop table")
    with Session(engine) as s:
        assert company_sales.for_sale(s, reader, query="%")[1] == 0  # LIKE's wildcards are taken literally


def test_an_admins_freeze_stops_every_deal(session, engine, make_player, make_company):
    """A frozen company is not listed nor sold, a frozen player neither buys nor sells, a frozen account gives
    no shares and a frozen company pays no dividend: refused with the freeze's message, nothing changed."""
    from economy_app.services import dividends, operations, users
    from economy_app.services.errors import AccountFrozen

    admin = users.create_user(session, "moderator1", "correct horse", role="admin").id
    dana, _ = make_player("dana")
    bob, bob_personal = make_player("bob")
    carol, carol_personal = make_player("carol")
    company, account = make_company(dana, "DANA", "Dana Drones")
    go_public(session, company, account, 10_217_300)
    stock_trading.buy(
        session,
        actor_id=carol,
        account_id=carol_personal,
        company_id=company,
        shares=1_000,
        now=utcnow() - timedelta(minutes=1),
    )
    listing = company_sales.list_company(session, actor_id=dana, company_id=company, price_cents=100_000)
    operations.freeze(session, actor_id=admin, kind="player", target_id=bob, reason="looking into it")
    before = fingerprint(engine)
    with pytest.raises(AccountFrozen):
        company_sales.buy_now(session, actor_id=bob, listing_id=listing.id, pay_account_id=bob_personal)
    assert fingerprint(engine) == before
    operations.freeze(session, actor_id=admin, kind="player", target_id=bob, reason="all clear", frozen=False)
    operations.freeze(session, actor_id=admin, kind="company", target_id=company, reason="looking into it")
    before = fingerprint(engine)
    with pytest.raises(AccountFrozen):
        company_sales.buy_now(session, actor_id=bob, listing_id=listing.id, pay_account_id=bob_personal)
    with pytest.raises(AccountFrozen):
        dividends.declare(session, actor_id=dana, company_id=company, total_cents=10_000)
    company_sales.withdraw(session, actor_id=dana, listing_id=listing.id)  # taking it off the market is fine
    with pytest.raises(AccountFrozen):
        company_sales.list_company(session, actor_id=dana, company_id=company, price_cents=100_000)
    with pytest.raises(ShareTransferRefused) as info:  # its stock is halted: its shares do not move
        share_transfers.give(
            session,
            actor_id=carol,
            from_account_id=carol_personal,
            to_account_id=bob_personal,
            company_id=company,
            shares=100,
        )
    assert str(info.value) == "Dana Drones's shares can't be given right now: trading is halted."
    operations.freeze(session, actor_id=admin, kind="player", target_id=carol, reason="looking into it")
    with pytest.raises(AccountFrozen):
        share_transfers.give(
            session,
            actor_id=carol,
            from_account_id=carol_personal,
            to_account_id=bob_personal,
            company_id=company,
            shares=100,
        )
    check_invariants(engine)


def test_accepting_a_counter_rechecks_everything_under_the_locks(session, engine, world, make_company, monkeypatch):
    """What was true when the buyer offered is checked again when the deal completes: the paying account's cash,
    whose it is, the buyer's company limit."""
    w = world
    listing = company_sales.list_company(session, actor_id=w["sam"], company_id=w["company"], price_cents=900_000)
    offer = company_sales.make_offer(
        session, actor_id=w["bob"], listing_id=listing.id, price_cents=800_000, pay_account_id=w["bob_personal"]
    )
    back = company_sales.counter(session, actor_id=w["sam"], offer_id=offer, price_cents=850_000)
    accounts.transfer(
        session, actor_id=w["bob"], from_account_id=w["bob_personal"], to_account_id=w["bob_co_account"], amount=500_000
    )
    before = fingerprint(engine)
    with pytest.raises(InsufficientFunds):
        company_sales.accept(session, actor_id=w["bob"], offer_id=back)
    monkeypatch.setenv("ECONOMY_MAX_COMPANIES", "1")
    with pytest.raises(CompanyLimit):
        company_sales.accept(session, actor_id=w["bob"], offer_id=back, pay_account_id=w["bob_co_account"])
    with pytest.raises(NotAccountOwner):
        company_sales.accept(session, actor_id=w["bob"], offer_id=back, pay_account_id=w["bea_personal"])
    assert fingerprint(engine) == before
    monkeypatch.setenv("ECONOMY_MAX_COMPANIES", "5")
    company_sales.accept(session, actor_id=w["bob"], offer_id=back, pay_account_id=w["bob_co_account"])
    assert owner_of(session, w["company"]) == (w["bob"], w["bob"])
    check_invariants(engine)
