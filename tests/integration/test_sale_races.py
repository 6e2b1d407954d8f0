"""Races around a company's sale (issue 16), on SQLite and PostgreSQL: two buyers at once, the owner withdrawing
while a buyer accepts, the buyer withdrawing while the owner accepts, the owner paying the company's cash out
while it is sold. Exactly one outcome each time, nothing lost, the ledger's invariants hold.

And, on PostgreSQL, where transactions really overlap: a request that read "the actor owns this account" before
a sale of its company committed must not spend from it after (transfers and trades lock, then read)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import event, func, select
from sqlmodel import Session

from economy_app.models import Account, Company, CompanyListing, Holding, LedgerEntry, utcnow
from economy_app.services import accounts, companies, company_sales, ledger, stock_trading, users
from economy_app.services._tx import unit
from economy_app.services.errors import EconomyError, NotAccountOwner, SaleRefused
from tests.support.db import check_invariants
from tests.support.threads import done_or_waiting_on_a_lock, in_thread

ROUNDS = 4


def player(s, name: str) -> tuple[int, int]:
    user = users.create_user(s, name, "correct horse")
    return user.id, accounts.initialize_account(s, user.id).id


def fund(s, account_id: int, cents: int) -> None:
    with unit(s, write=True):
        ledger.post(
            s, from_account_id=accounts.system_account_id(s), to_account_id=account_id, amount=cents, type="adjustment"
        )


@pytest.fixture
def world(engine):
    with Session(engine, expire_on_commit=False) as s:
        sam, sam_personal = player(s, "sam")
        bob, bob_personal = player(s, "bob")
        bea, bea_personal = player(s, "bea")
        made = []
        for i in range(ROUNDS):
            view = companies.create_company(s, owner_id=sam, name=f"Shop {i}", ticker=f"SHO{chr(65 + i)}")
            fund(s, view.account_id, 300_000)
            made.append((view.id, view.account_id))
    return dict(
        sam=sam,
        sam_personal=sam_personal,
        bob=bob,
        bob_personal=bob_personal,
        bea=bea,
        bea_personal=bea_personal,
        companies=made,
    )


def race(engine, *calls) -> list:
    """Run each call(session) at the same moment in its own thread and session: [result or the refusal]."""
    start = threading.Barrier(len(calls))
    out: list = [None] * len(calls)

    def run(i, call):
        start.wait()
        with Session(engine, expire_on_commit=False) as s:
            try:
                out[i] = call(s)
            except EconomyError as e:
                out[i] = e

    threads = [in_thread(run, i, c) for i, c in enumerate(calls)]
    for t in threads:
        t.join(60)
        assert not t.is_alive() and t.errors == [], t.errors
    return out


def listed(engine, sam: int, company: int, price: int = 100_000) -> int:
    with Session(engine) as s:
        return company_sales.list_company(s, actor_id=sam, company_id=company, price_cents=price).id


def owner(engine, company: int) -> tuple[int, int]:
    with Session(engine) as s:
        c = s.get(Company, company)
        return c.owner_id, s.get(Account, c.account_id).owner_id


def sales(engine) -> int:
    with Session(engine) as s:
        return s.execute(select(func.count()).where(LedgerEntry.type == "company_sale")).scalar_one()


def test_two_buyers_accepting_at_once(engine, world):
    w = world
    for company, _ in w["companies"]:
        listing = listed(engine, w["sam"], company)
        a, b = race(
            engine,
            lambda s: company_sales.buy_now(s, actor_id=w["bob"], listing_id=listing, pay_account_id=w["bob_personal"]),
            lambda s: company_sales.buy_now(s, actor_id=w["bea"], listing_id=listing, pay_account_id=w["bea_personal"]),
        )
        won = [r for r in (a, b) if isinstance(r, company_sales.SaleResult)]
        lost = [r for r in (a, b) if isinstance(r, EconomyError)]
        assert len(won) == 1 and len(lost) == 1, (a, b)
        assert isinstance(lost[0], SaleRefused) and str(lost[0]) == "This company was just sold."
        buyer = w["bob"] if won[0].buyer == "bob" else w["bea"]
        assert owner(engine, company) == (buyer, buyer)
    assert sales(engine) == ROUNDS
    with Session(engine) as s:
        received = accounts.get_balance(s, w["sam_personal"]) - 1_000_000
        spent = 2_000_000 - accounts.get_balance(s, w["bob_personal"]) - accounts.get_balance(s, w["bea_personal"])
    assert received == spent == ROUNDS * 100_000
    check_invariants(engine)


def test_the_owner_withdrawing_while_a_buyer_accepts(engine, world):
    w = world
    for company, _ in w["companies"]:
        listing = listed(engine, w["sam"], company)
        bought, withdrawn = race(
            engine,
            lambda s: company_sales.buy_now(s, actor_id=w["bob"], listing_id=listing, pay_account_id=w["bob_personal"]),
            lambda s: company_sales.withdraw(s, actor_id=w["sam"], listing_id=listing),
        )
        with Session(engine) as s:
            status = s.get(CompanyListing, listing).status
        if isinstance(bought, company_sales.SaleResult):
            assert isinstance(withdrawn, SaleRefused) and status == "sold"
            assert owner(engine, company) == (w["bob"], w["bob"])
        else:
            assert withdrawn is None and status == "withdrawn"
            assert isinstance(bought, SaleRefused) and str(bought) == "The owner withdrew this offer."
            assert owner(engine, company) == (w["sam"], w["sam"])
    check_invariants(engine)


def test_the_buyer_withdrawing_while_the_owner_accepts(engine, world):
    w = world
    for company, _ in w["companies"]:
        listing = listed(engine, w["sam"], company, 500_000)
        with Session(engine) as s:
            offer = company_sales.make_offer(
                s, actor_id=w["bob"], listing_id=listing, price_cents=90_000, pay_account_id=w["bob_personal"]
            )
        accepted, withdrawn = race(
            engine,
            lambda s: company_sales.accept(s, actor_id=w["sam"], offer_id=offer),
            lambda s: company_sales.withdraw_offer(s, actor_id=w["bob"], offer_id=offer),
        )
        sold = isinstance(accepted, company_sales.SaleResult)
        assert sold != (withdrawn is None), (accepted, withdrawn)
        assert owner(engine, company) == ((w["bob"], w["bob"]) if sold else (w["sam"], w["sam"]))
    check_invariants(engine)


def test_the_owner_paying_the_cash_out_while_it_is_sold(engine, world):
    """The buyer's page showed $3,000 of cash; the owner sends it to himself at that moment. Either the payment
    goes first and the sale is refused (the cash fell), or the sale goes first and the payment is refused (the
    account is no longer his): never both, never neither."""
    w = world
    for company, account in w["companies"]:
        listing = listed(engine, w["sam"], company)
        bought, paid = race(
            engine,
            lambda s: company_sales.buy_now(
                s, actor_id=w["bob"], listing_id=listing, pay_account_id=w["bob_personal"], expect_cash_cents=300_000
            ),
            lambda s: accounts.transfer(
                s, actor_id=w["sam"], from_account_id=account, to_account_id=w["sam_personal"], amount=300_000
            ),
        )
        sold = isinstance(bought, company_sales.SaleResult)
        assert sold == isinstance(paid, NotAccountOwner), (bought, paid)
        assert sold != isinstance(paid, LedgerEntry), (bought, paid)
        with Session(engine) as s:
            cash = accounts.get_balance(s, account)
        assert cash == (300_000 if sold else 0)
    check_invariants(engine)


# --------------------------------------------------------------------------- PostgreSQL: stale ownership


def sell_while(engine, racer, **sale) -> threading.Thread:
    """Run the sale ``company_sales.buy_now(**sale)``; when it writes the company's new owner, start ``racer`` in a
    thread and wait until it has finished or waits on a lock the sale holds; the sale then commits. Returns the
    racer's thread, finished."""
    started: list[threading.Thread] = []

    def hook(conn, cursor, statement, parameters, context, executemany):
        if not started and "UPDATE companies SET owner_id" in statement:
            started.append(in_thread(racer))
            done_or_waiting_on_a_lock(engine, started[0])

    event.listen(engine, "after_cursor_execute", hook)
    try:
        with Session(engine) as s:
            company_sales.buy_now(s, **sale)
    finally:
        event.remove(engine, "after_cursor_execute", hook)
    assert started, "the sale never wrote the new owner"
    started[0].join(30)
    assert not started[0].is_alive()
    return started[0]


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_transfer_that_read_the_seller_as_owner_does_not_spend_the_buyers_cash(engine, world):
    """Sam sends the company's cash to himself just as the sale to Bob writes the new owner: the transfer waits
    for the company's row, then reads whom the account belongs to (Bob now) and is refused. (It used to read the
    owner first, wait, and post after the sale committed: Sam spent Bob's company's money.)"""
    w = world
    company, account = w["companies"][0]
    listing = listed(engine, w["sam"], company)

    def pay_out():
        with Session(engine) as s:
            accounts.transfer(
                s, actor_id=w["sam"], from_account_id=account, to_account_id=w["sam_personal"], amount=300_000
            )

    racer = sell_while(engine, pay_out, actor_id=w["bob"], listing_id=listing, pay_account_id=w["bob_personal"])
    assert [type(e) for e in racer.errors] == [NotAccountOwner]
    with Session(engine) as s:
        assert accounts.get_balance(s, account) == 300_000
    check_invariants(engine)


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_trade_from_the_sold_company_waits_for_the_sale(engine, world):
    """Sam, from his company's account, buys shares of Bob's public company just as the sale of it to Bob writes the
    new owner. Had the trade gone through (it read the account's owner without a lock, and nothing it needed was
    locked by the sale), Bob would own a company holding his own company's shares, which the sale checked it did
    not. The trade locks the account's row first and reads its owner after: it waits, and is refused."""
    w = world
    company, account = w["companies"][0]
    with Session(engine, expire_on_commit=False) as s:
        bobs = companies.create_company(s, owner_id=w["bob"], name="Bob's Public", ticker="BOBP")
        fund(s, bobs.account_id, 6_000_000)
        assert companies.check_and_update_public_status(s, bobs.id)
    listing = listed(engine, w["sam"], company)

    def trade():
        with Session(engine) as s:
            stock_trading.buy(
                s,
                actor_id=w["sam"],
                account_id=account,
                company_id=bobs.id,
                shares=1_000,
                now=utcnow() - timedelta(seconds=30),
            )

    racer = sell_while(engine, trade, actor_id=w["bob"], listing_id=listing, pay_account_id=w["bob_personal"])
    assert [type(e) for e in racer.errors] == [NotAccountOwner]
    with Session(engine) as s:
        held = s.execute(select(func.coalesce(func.sum(Holding.shares), 0)).where(Holding.account_id == account))
        assert held.scalar_one() == 0
    check_invariants(engine)
