"""Giving shares (issue 16): no money moves, shares are conserved, the receiver's average cost is the price at the
moment of transfer, both sides see it; the founder rules and the trade limit hold; every refusal changes
nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from economy_app.models import Company, Holding, LedgerEntry, ShareTransfer, utcnow
from economy_app.services import accounts, share_transfers, stock_trading, stock_views
from economy_app.services.errors import (
    AccountNotFound,
    InvalidShares,
    NotAccountOwner,
    NotPublic,
    ShareTransferRefused,
    TradeRefused,
)
from tests.support.db import check_invariants, fingerprint
from tests.support.world import fund, go_public


@pytest.fixture
def world(session, make_player, make_company):
    """Dana's public company (her stake of 200,000), Carol holding 5,200 of its shares, Carol's own company and
    Dana's second one; Erin holds nothing."""
    dana, dana_personal = make_player("dana")
    carol, carol_personal = make_player("carol")
    erin, erin_personal = make_player("erin")
    company, account = make_company(dana, "DANA", "Dana Drones")
    dana_two, dana_two_account = make_company(dana, "DTWO", "Dana Two")
    carol_co, carol_co_account = make_company(carol, "CARO", "Carol Co")
    go_public(session, company, account, 10_217_300)
    stock_trading.buy(
        session,
        actor_id=carol,
        account_id=carol_personal,
        company_id=company,
        shares=5_200,
        now=utcnow() - timedelta(minutes=1),
    )
    return dict(
        dana=dana,
        dana_personal=dana_personal,
        carol=carol,
        carol_personal=carol_personal,
        erin=erin,
        erin_personal=erin_personal,
        company=company,
        account=account,
        dana_two=dana_two,
        dana_two_account=dana_two_account,
        carol_co=carol_co,
        carol_co_account=carol_co_account,
    )


def holding(session, account_id: int, company_id: int):
    return session.execute(
        select(Holding.shares, Holding.avg_price_micros).where(
            Holding.account_id == account_id, Holding.company_id == company_id
        )
    ).first()


def test_a_gift_moves_shares_and_no_money(session, engine, world):
    w = world
    ledger_rows = session.execute(select(func.count()).select_from(LedgerEntry)).scalar_one()
    cash = {a: accounts.get_balance(session, a) for a in (w["carol_personal"], w["erin_personal"], w["account"])}
    price = session.get(Company, w["company"]).share_price_micros
    treasury = session.get(Company, w["company"]).treasury_shares
    r = share_transfers.give(
        session,
        actor_id=w["carol"],
        from_account_id=w["carol_personal"],
        to_account_id=w["erin_personal"],
        company_id=w["company"],
        shares=1_200,
    )
    assert (r.shares, r.price_micros, r.giver_holding, r.receiver_holding, r.receiver) == (
        1_200,
        price,
        4_000,
        1_200,
        "erin",
    )
    assert holding(session, w["erin_personal"], w["company"]) == (1_200, price)  # average cost: the price now
    assert holding(session, w["carol_personal"], w["company"]).shares == 4_000
    session.expire_all()
    c = session.get(Company, w["company"])
    assert (c.treasury_shares, c.share_price_micros) == (treasury, price)  # the float did not move
    assert session.execute(select(func.count()).select_from(LedgerEntry)).scalar_one() == ledger_rows
    assert {a: accounts.get_balance(session, a) for a in cash} == cash
    # More to a holder, at a price a buy moved: the average cost is weighted by what they had.
    t = utcnow() + timedelta(seconds=10)
    fund(session, w["carol_personal"], 5_000_000)
    stock_trading.buy(
        session, actor_id=w["carol"], account_id=w["carol_personal"], company_id=w["company"], shares=20_000, now=t
    )
    session.expire_all()
    later = session.get(Company, w["company"]).share_price_micros
    assert later > price
    share_transfers.give(
        session,
        actor_id=w["carol"],
        from_account_id=w["carol_personal"],
        to_account_id=w["erin_personal"],
        company_id=w["company"],
        shares=800,
        now=t,
    )
    assert holding(session, w["erin_personal"], w["company"]) == (2_000, (1_200 * price + 800 * later) // 2_000)
    # Both sides see it: the company's trades history and each player's portfolio.
    page = stock_views.stock_page(session, w["erin"], w["company"])
    assert [(t.shares, t.from_name, t.to_name) for t in page.transfers] == [
        (800, "carol", "erin"),
        (1_200, "carol", "erin"),
    ]
    assert [(g.shares, g.direction) for g in share_transfers.of_player(session, w["carol"])] == [
        (800, "out"),
        (1_200, "out"),
    ]
    assert [(g.shares, g.direction) for g in share_transfers.of_player(session, w["erin"])] == [
        (800, "in"),
        (1_200, "in"),
    ]
    check_invariants(engine)


def test_a_gift_to_a_company_the_giver_owns_when_the_founder_rule_holds(session, engine, world):
    """Carol does not own Dana Drones, so her own company may hold its shares: allowed. A company never holds its
    own shares, and its owner never receives them, in any account they control."""
    w = world
    share_transfers.give(
        session,
        actor_id=w["carol"],
        from_account_id=w["carol_personal"],
        to_account_id=w["carol_co_account"],
        company_id=w["company"],
        shares=200,
    )
    assert holding(session, w["carol_co_account"], w["company"]).shares == 200
    before = fingerprint(engine)
    t = utcnow() + timedelta(seconds=10)
    for target, text in (
        (w["account"], "Dana Drones can't hold its own shares."),
        (w["dana_personal"], "Nobody holds their own company's shares: dana is controlled by Dana Drones's owner."),
        (
            w["dana_two_account"],
            "Nobody holds their own company's shares: Dana Two is controlled by Dana Drones's owner.",
        ),
    ):
        with pytest.raises(ShareTransferRefused) as info:
            share_transfers.give(
                session,
                actor_id=w["carol"],
                from_account_id=w["carol_personal"],
                to_account_id=target,
                company_id=w["company"],
                shares=100,
                now=t,
            )
        assert str(info.value) == text
    # The founder's own shares come last: given away (to a friend, or to another company of hers) they would
    # not, and a friend selling them back would take the investors' money. They are not given.
    for target in (w["erin_personal"], w["dana_two_account"]):
        with pytest.raises(ShareTransferRefused) as info:
            share_transfers.give(
                session,
                actor_id=w["dana"],
                from_account_id=w["dana_personal"],
                to_account_id=target,
                company_id=w["company"],
                shares=100,
                now=t,
            )
        assert str(info.value) == (
            "Your shares of Dana Drones come last, since you own it: given away they would not, so they can't be. "
            "Sell them back, or sell the company with them."
        )
    assert fingerprint(engine) == before
    check_invariants(engine)


def test_every_refusal_changes_nothing(session, engine, world):
    w = world
    before = fingerprint(engine)
    base = dict(
        actor_id=w["carol"],
        from_account_id=w["carol_personal"],
        to_account_id=w["erin_personal"],
        company_id=w["company"],
        shares=100,
    )
    cases = [
        (dict(shares=0), InvalidShares),
        (dict(shares=1_000_001), InvalidShares),
        (dict(shares="10"), InvalidShares),
        (dict(shares=5_201), ShareTransferRefused),  # more than held
        (dict(actor_id=w["erin"]), NotAccountOwner),  # not her account
        (dict(from_account_id=w["erin_personal"]), NotAccountOwner),
        (dict(from_account_id=999_999), AccountNotFound),
        (dict(to_account_id=999_999), AccountNotFound),
        (dict(to_account_id=accounts.system_account_id(session)), AccountNotFound),  # not to the mint
        (dict(to_account_id=w["carol_personal"]), ShareTransferRefused),  # to the same account
        (dict(company_id=w["dana_two"]), NotPublic),
    ]
    for change, error in cases:
        with pytest.raises(error):
            share_transfers.give(session, **{**base, **change})
    assert fingerprint(engine) == before


def test_gifts_count_against_the_trade_limit(session, engine, world):
    """Three moves of one company's shares in 5 seconds, trades and gifts together: the fourth waits."""
    w = world
    fund(session, w["carol_personal"], 10_000_000)
    t = utcnow() + timedelta(minutes=1)
    gift = dict(
        actor_id=w["carol"],
        from_account_id=w["carol_personal"],
        to_account_id=w["erin_personal"],
        company_id=w["company"],
        shares=10,
    )
    share_transfers.give(session, **gift, now=t)
    stock_trading.buy(
        session, actor_id=w["carol"], account_id=w["carol_personal"], company_id=w["company"], shares=10, now=t
    )
    share_transfers.give(session, **gift, now=t)
    before = fingerprint(engine)
    with pytest.raises(TradeRefused):
        share_transfers.give(session, **gift, now=t + timedelta(seconds=1))
    with pytest.raises(TradeRefused):
        stock_trading.sell(
            session,
            actor_id=w["carol"],
            account_id=w["carol_personal"],
            company_id=w["company"],
            shares=10,
            now=t + timedelta(seconds=1),
        )
    assert fingerprint(engine) == before
    share_transfers.give(session, **gift, now=t + timedelta(seconds=6))
    assert session.execute(select(func.count()).select_from(ShareTransfer)).scalar_one() == 3
    check_invariants(engine)


def test_a_public_company_gives_none_of_its_holdings(session, engine, make_player, make_company):
    """Attack on issue 16 (HIGH): Dana Drones, public, gave the Carol Co shares it held to Dana, who sold them:
    the company's assets in her pocket, past the rule that nothing leaves a public company to its owner and past
    the cap. A public company's holdings belong to the business and its shareholders: it gives none, to anyone;
    it may sell them, and the cash stays with the company."""
    dana, dana_personal = make_player("dana")
    carol, _ = make_player("carol")
    erin, erin_personal = make_player("erin")
    carol_co, carol_account = make_company(carol, "CARO", "Carol Co")
    go_public(session, carol_co, carol_account, 10_000_000)
    dana_co, dana_account = make_company(dana, "DANA", "Dana Drones")
    fund(session, dana_account, 4_900_000)
    t0 = utcnow() - timedelta(hours=2)
    stock_trading.buy(session, actor_id=dana, account_id=dana_account, company_id=carol_co, shares=10_000, now=t0)
    go_public(session, dana_co, dana_account, 6_000_000)
    before = fingerprint(engine)
    for to in (dana_personal, erin_personal):
        with pytest.raises(ShareTransferRefused) as info:
            share_transfers.give(
                session,
                actor_id=dana,
                from_account_id=dana_account,
                to_account_id=to,
                company_id=carol_co,
                shares=10_000,
            )
        assert str(info.value) == (
            "Dana Drones is public: its holdings belong to the business and its shareholders; sell them and the "
            "cash stays with the company."
        )
    assert fingerprint(engine) == before
    sold = stock_trading.sell(
        session, actor_id=dana, account_id=dana_account, company_id=carol_co, shares=10_000, now=utcnow()
    )
    assert sold.total_cents > 0 and holding(session, dana_account, carol_co).shares == 0
    check_invariants(engine)


def test_a_dividend_pays_a_frozen_holder(session, engine, make_player, make_company):
    """A freeze stops money going out of an account, not coming in: a dividend still pays every holder."""
    from economy_app.services import dividends, operations, users

    admin = users.create_user(session, "moderator2", "correct horse", role="admin").id
    dana, _ = make_player("dana")
    carol, carol_personal = make_player("carol")
    company, account = make_company(dana, "DANA", "Dana Drones")
    go_public(session, company, account, 10_217_300)
    stock_trading.buy(
        session, actor_id=carol, account_id=carol_personal, company_id=company, shares=5_200, now=t_minus(60)
    )
    operations.freeze(session, actor_id=admin, kind="player", target_id=carol, reason="looking into it")
    cash = accounts.get_balance(session, carol_personal)
    plan = dividends.declare(session, actor_id=dana, company_id=company, total_cents=100_000)
    [paid] = [p for p in plan.payees if p.account_id == carol_personal]
    assert paid.amount_cents > 0 and accounts.get_balance(session, carol_personal) == cash + paid.amount_cents
    check_invariants(engine)


def t_minus(seconds: int):
    return utcnow() - timedelta(seconds=seconds)
