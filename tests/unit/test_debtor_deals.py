"""Issue 16's deals meet issue 17's debtors: while a player owes the bank, nothing they could move out of the
default's reach leaves them through a deal. A company bought from a friend would pay the friend; a company sold
would take its cash (which a default collects from a private company) along; shares given away are shares the
default can no longer sell back. Each refusal changes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from economy_app.models import utcnow
from economy_app.services import company_sales, loans, share_transfers, stock_trading
from economy_app.services.errors import DebtOutstanding
from tests.support.db import check_invariants, fingerprint
from tests.support.world import fund, go_public


def _borrow(session, user_id: int) -> None:
    loans.take(session, user_id=user_id, amount=100_000, idempotency_key=f"debt-{user_id}", now=utcnow())


@pytest.fixture
def shop(session, make_player, make_company):
    sam, sam_personal = make_player("sam")
    bob, bob_personal = make_player("bob")
    company, account = make_company(sam, "SHOP", "Sam's Shop")
    fund(session, account, 300_000)
    listing = company_sales.list_company(session, actor_id=sam, company_id=company, price_cents=500_000)
    return dict(sam=sam, bob=bob, bob_personal=bob_personal, listing=listing.id)


@pytest.mark.parametrize("debtor", ["bob", "sam"])
def test_a_debtor_neither_buys_nor_sells_a_company(session, engine, shop, debtor):
    _borrow(session, shop[debtor])
    before = fingerprint(engine)
    with pytest.raises(DebtOutstanding, match="loan"):
        company_sales.buy_now(
            session,
            actor_id=shop["bob"],
            listing_id=shop["listing"],
            pay_account_id=shop["bob_personal"],
            expect_cash_cents=300_000,
        )
    assert fingerprint(engine) == before
    check_invariants(engine)


def test_a_debtor_gives_no_shares_to_another_player(session, engine, make_player, make_company):
    dana, _ = make_player("dana")
    carol, carol_personal = make_player("carol")
    erin, erin_personal = make_player("erin")
    company, account = make_company(dana, "DANA", "Dana Drones")
    go_public(session, company, account, 10_217_300)
    stock_trading.buy(
        session,
        actor_id=carol,
        account_id=carol_personal,
        company_id=company,
        shares=5_200,
        now=utcnow() - timedelta(minutes=1),
    )
    _borrow(session, carol)
    before = fingerprint(engine)
    with pytest.raises(DebtOutstanding, match="Repay your loan"):
        share_transfers.give(
            session,
            actor_id=carol,
            from_account_id=carol_personal,
            to_account_id=erin_personal,
            company_id=company,
            shares=1_000,
        )
    assert fingerprint(engine) == before
    check_invariants(engine)
