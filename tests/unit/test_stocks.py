"""Trading shares and moving prices: the rules, the guards, conservation of cash and shares."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from economy_app.models import Company, Holding, StockPrice, StockTrade, utcnow
from economy_app.services import accounts, companies, ledger, stocks
from economy_app.services._tx import unit
from economy_app.services.errors import (
    InsufficientFunds,
    InvalidShares,
    NotAccountOwner,
    NotPublic,
    TradeRefused,
)
from tests.support.db import check_invariants, fingerprint


def shares_conserved(session, company_id):
    c = session.execute(select(Company.total_shares, Company.treasury_shares).where(Company.id == company_id)).one()
    held = session.execute(select(func.coalesce(func.sum(Holding.shares), 0))
                           .where(Holding.company_id == company_id)).scalar_one()
    assert c.treasury_shares + held == c.total_shares


@pytest.fixture
def public_company(session, make_player, make_company):
    """A public company (cash $60,000, price $0.60) owned by a founder, and an investor."""
    founder, founder_personal = make_player("founder")
    investor, investor_personal = make_player("investor")
    company, account = make_company(founder, "ACME")
    with unit(session, write=True):
        ledger.post(session, from_account_id=accounts.system_account_id(session), to_account_id=account,
                    amount=6_000_000, type="adjustment")
    assert companies.check_and_update_public_status(session, company)
    return dict(founder=founder, founder_personal=founder_personal, investor=investor,
                investor_personal=investor_personal, company=company, account=account)


def test_buy_moves_cash_and_shares_and_raises_the_price(session, engine, public_company):
    p = public_company
    r = stocks.buy(session, actor_id=p["investor"], account_id=p["investor_personal"], company_id=p["company"],
                   shares=10_000)
    assert r.price_micros == 600_000 and r.total_cents == 600_000  # 10,000 x $0.60 = $6,000.00
    assert r.new_price_micros == 600_000 + 600_000 * 8 * 10_000 // 100_000_000  # +0.08%
    assert accounts.get_balance(session, p["investor_personal"]) == 1_000_000 - 600_000
    assert accounts.get_balance(session, p["account"]) == 6_000_000 + 600_000
    h = session.execute(select(Holding).where(Holding.account_id == p["investor_personal"])).scalar_one()
    assert (h.shares, h.avg_price_micros) == (10_000, 600_000)
    shares_conserved(session, p["company"])
    assert session.execute(select(func.count()).select_from(StockPrice)).scalar_one() == 2  # ipo + buy
    check_invariants(engine)


def test_rounding_favours_the_company(session, public_company):
    assert stocks.cost_cents(3, 333_333) == 100  # $0.999999 -> $1.00
    assert stocks.proceeds_cents(3, 333_333) == 99  # -> $0.99
    assert stocks.format_price(1_234_567) == "$1.2346"


def test_buy_then_sell_back_never_gains(session, engine, public_company):
    p = public_company
    before = accounts.get_balance(session, p["investor_personal"])
    for n in (1, 7, 999, 15_000):
        bought = stocks.buy(session, actor_id=p["investor"], account_id=p["investor_personal"],
                            company_id=p["company"], shares=n, now=utcnow() - timedelta(minutes=n))
        sold = stocks.sell(session, actor_id=p["investor"], account_id=p["investor_personal"],
                           company_id=p["company"], shares=n, now=utcnow() - timedelta(minutes=n, seconds=-1))
        assert sold.total_cents <= bought.total_cents
    assert accounts.get_balance(session, p["investor_personal"]) <= before
    shares_conserved(session, p["company"])
    check_invariants(engine)


def test_weighted_average_price(session, public_company):
    p = public_company
    t0 = utcnow() - timedelta(minutes=5)
    a = stocks.buy(session, actor_id=p["investor"], account_id=p["investor_personal"], company_id=p["company"],
                   shares=1000, now=t0)
    b = stocks.buy(session, actor_id=p["investor"], account_id=p["investor_personal"], company_id=p["company"],
                   shares=3000, now=t0 + timedelta(seconds=10))
    h = session.execute(select(Holding).where(Holding.account_id == p["investor_personal"])).scalar_one()
    assert h.avg_price_micros == (a.total_cents + b.total_cents) * 10_000 // 4000


def test_guards_refuse_and_change_nothing(session, engine, public_company, make_company):
    p = public_company
    private_company, _ = make_company(p["founder"], "PRIV")
    before = fingerprint(engine)
    cases = [
        (InvalidShares, dict(shares=0)), (InvalidShares, dict(shares=-5)), (InvalidShares, dict(shares=1.5)),
        (InvalidShares, dict(shares=1_000_001)), (InvalidShares, dict(shares="10")),
        (NotPublic, dict(company_id=private_company)),
        (NotAccountOwner, dict(account_id=p["founder_personal"])),  # someone else's account
        (TradeRefused, dict(actor_id=p["founder"], account_id=p["account"])),  # a company and its own shares
        (TradeRefused, dict(actor_id=p["founder"], account_id=p["founder_personal"])),  # the founder, personally
        (InsufficientFunds, dict(shares=1_000_000)),  # $600,000 > $10,000
    ]
    base = dict(actor_id=p["investor"], account_id=p["investor_personal"], company_id=p["company"], shares=10)
    for error, change in cases:
        with pytest.raises(error) as info:
            stocks.buy(session, **{**base, **change})
        assert str(info.value)
        assert fingerprint(engine) == before, error
    with pytest.raises(TradeRefused) as info:  # selling more than held
        stocks.sell(session, **base)
    assert "hold only 0" in str(info.value)
    assert fingerprint(engine) == before


def test_a_founders_other_company_may_buy(session, engine, public_company, make_company):
    p = public_company
    other, other_account = make_company(p["founder"], "OTHR")
    accounts.transfer(session, actor_id=p["founder"], from_account_id=p["founder_personal"],
                      to_account_id=other_account, amount=100_000)
    r = stocks.buy(session, actor_id=p["founder"], account_id=other_account, company_id=p["company"], shares=100)
    assert r.holding_shares == 100
    shares_conserved(session, p["company"])


def test_rate_limit_three_trades_per_five_seconds(session, engine, public_company):
    p = public_company
    now = utcnow()
    args = dict(actor_id=p["investor"], account_id=p["investor_personal"], company_id=p["company"], shares=1)
    for i in range(3):
        stocks.buy(session, **args, now=now + timedelta(seconds=i))
    before = fingerprint(engine)
    with pytest.raises(TradeRefused) as info:
        stocks.buy(session, **args, now=now + timedelta(seconds=3))
    assert "at most 3 trades" in str(info.value)
    assert fingerprint(engine) == before
    stocks.buy(session, **args, now=now + timedelta(seconds=6))


def test_the_company_must_be_able_to_pay_for_a_sale(session, engine, public_company):
    p = public_company
    stocks.buy(session, actor_id=p["investor"], account_id=p["investor_personal"], company_id=p["company"],
               shares=10_000, now=utcnow() - timedelta(minutes=1))
    accounts.transfer(session, actor_id=p["founder"], from_account_id=p["account"],
                      to_account_id=p["founder_personal"], amount=accounts.get_balance(session, p["account"]))
    before = fingerprint(engine)
    with pytest.raises(InsufficientFunds) as info:
        stocks.sell(session, actor_id=p["investor"], account_id=p["investor_personal"], company_id=p["company"],
                    shares=10_000)
    assert "can't pay" in str(info.value)
    assert fingerprint(engine) == before


def test_price_ticks_move_toward_fair_value_within_three_percent(session, engine, public_company):
    rng = random.Random(3)
    for price, fair in ((1_000_000, 2_000_000), (1_000_000, 0), (10_000, 0), (5_000_000, 5_000_000)):
        for _ in range(50):
            new = stocks.next_tick_price(price, fair, rng)
            assert abs(new - price) <= price * 3 // 100 or new == stocks.MIN_PRICE_MICROS
            assert new >= stocks.MIN_PRICE_MICROS
    assert stocks.next_tick_price(1_000_000, 100_000_000, random.Random(1)) == 1_030_000  # clamped at +3%
    p = public_company
    moved = stocks.update_prices(session, rng=random.Random(5))
    assert moved == 1
    assert session.execute(select(func.count()).select_from(StockPrice)
                           .where(StockPrice.source == "tick")).scalar_one() == 1
    check_invariants(engine)
    assert session.execute(select(func.count()).select_from(StockTrade)).scalar_one() == 0
    assert p


def test_history_older_than_90_days_is_purged(session, public_company):
    now = utcnow()
    stocks.update_prices(session, rng=random.Random(1), now=now - timedelta(days=91))
    stocks.update_prices(session, rng=random.Random(1), now=now - timedelta(days=89))
    assert stocks.purge_history(session, now=now) == 1
