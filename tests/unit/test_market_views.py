"""The market's read side: overview, price series, stock detail, portfolio, leaderboard, net worth."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from economy_app.models import utcnow
from economy_app.services import accounts, companies, ledger, market, stocks
from economy_app.services._tx import unit
from economy_app.services.errors import AccountNotFound, InvalidInput, NotPublic


@pytest.fixture
def listed(session, make_player, make_company):
    founder, founder_personal = make_player("founder")
    investor, investor_personal = make_player("investor")
    out = {"founder": founder, "investor": investor, "investor_personal": investor_personal, "companies": []}
    mint = accounts.system_account_id(session)
    for ticker, cash in (("AAA", 6_000_000), ("BBB", 9_000_000)):
        company, account = make_company(founder, ticker)
        with unit(session, write=True):
            ledger.post(session, from_account_id=mint, to_account_id=account, amount=cash, type="adjustment")
        companies.check_and_update_public_status(session, company, now=utcnow() - timedelta(days=3))
        out["companies"].append(company)
    return out


def test_overview_prices_caps_and_change(session, listed):
    a, b = listed["companies"]
    stocks.buy(session, actor_id=listed["investor"], account_id=listed["investor_personal"], company_id=a,
               shares=10_000)
    rows, total = market.overview(session)
    assert total == 2 and [r.ticker for r in rows] == ["BBB", "AAA"]  # by market cap
    aaa = rows[1]
    assert aaa.price_micros == 600_000 + 600_000 * 8 * 10_000 // 100_000_000
    assert aaa.market_cap_cents == 1_000_000 * aaa.price_micros // 10_000
    assert aaa.change_permille == (aaa.price_micros - 600_000) * 1000 // 600_000  # vs the IPO, 3 days ago
    assert aaa.sparkline[-1] == aaa.price_micros
    rows, _ = market.overview(session, sort="change")
    assert rows[0].ticker == "AAA"
    with pytest.raises(InvalidInput):
        market.overview(session, sort="hype")


def test_price_series_is_downsampled_to_200_points(session, listed):
    a = listed["companies"][0]
    now = utcnow()
    for i in range(600):  # 600 ticks over the last 50 hours
        stocks.update_prices(session, rng=random.Random(i), now=now - timedelta(minutes=5 * (600 - i)))
    for key in ("1h", "6h", "24h", "7d", "30d", "all"):
        points = market.price_series(session, a, key, now=now)
        assert 0 < len(points) <= 200, key
        assert [p[0] for p in points] == sorted(p[0] for p in points)
    hour = market.price_series(session, a, "1h", now=now)
    assert len(hour) == 12 + 1  # a tick every 5 minutes, all kept, then today's price at now
    assert hour[-1] == (now, companies.get_company(session, a).share_price_micros)
    day = market.price_series(session, a, "24h", now=now)
    assert day[0][0] == now - timedelta(days=1)  # anchored at the range's start with the price then
    with pytest.raises(InvalidInput):
        market.price_series(session, a, "2y")


def test_detail_shareholders_and_trades(session, listed, make_company):
    a = listed["companies"][0]
    stocks.buy(session, actor_id=listed["investor"], account_id=listed["investor_personal"], company_id=a,
               shares=2_500, now=utcnow() - timedelta(seconds=30))
    stocks.sell(session, actor_id=listed["investor"], account_id=listed["investor_personal"], company_id=a,
                shares=500)
    d = market.stock_detail(session, a)
    assert d.volume_24h == 3_000 and [t.side for t in d.trades] == ["sell", "buy"]
    assert [(h.name, h.shares) for h in d.shareholders] == [("Company AAA treasury", 998_000), ("investor", 2_000)]
    assert sum(h.shares for h in d.shareholders) == d.total_shares
    private, _ = make_company(listed["founder"], "PRIV")
    with pytest.raises(NotPublic):
        market.stock_detail(session, private)


def test_portfolio_and_net_worth_include_holdings(session, listed):
    a = listed["companies"][0]
    inv, acct = listed["investor"], listed["investor_personal"]
    r = stocks.buy(session, actor_id=inv, account_id=acct, company_id=a, shares=10_000)
    [pos] = market.portfolio(session, inv)
    assert (pos.ticker, pos.shares, pos.cost_cents) == ("AAA", 10_000, r.total_cents)
    assert pos.value_cents == 10_000 * r.new_price_micros // 10_000 and pos.gain_cents == pos.value_cents - pos.cost_cents
    d = accounts.dashboard(session, inv)
    assert d.holdings == pos.value_cents
    assert d.net_worth == accounts.get_balance(session, acct) + pos.value_cents
    with pytest.raises(AccountNotFound):
        market.portfolio(session, listed["founder"], account_id=acct)


def test_leaderboard_excludes_the_mint(session, listed):
    inv = listed["investor"]
    stocks.buy(session, actor_id=inv, account_id=listed["investor_personal"], company_id=listed["companies"][0],
               shares=1_000)
    board = market.leaderboard(session)
    names = [p[0] for p in board.players]
    assert set(names) == {"founder", "investor"}
    founder_row = next(p for p in board.players if p[0] == "founder")
    assert founder_row[2] == sum(v.balance for v in accounts.list_accounts(session, listed["founder"]))
    investor_row = next(p for p in board.players if p[0] == "investor")
    assert investor_row[3] == market.holdings_value(session, [listed["investor_personal"]]) > 0
    assert [c[2] for c in board.by_market_cap] == ["BBB", "AAA"]
    assert all(c[1] != "Economy (system)" for c in board.by_cash)
    assert board.products == []
