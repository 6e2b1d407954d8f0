"""Trading shares and moving prices: the rules, the guards, conservation of cash and shares."""

from __future__ import annotations

import random
import threading
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event, func, select
from sqlmodel import Session

from economy_app import money
from economy_app.db import make_engine
from economy_app.models import Company, Holding, StockPrice, StockTrade, utcnow
from economy_app.services import accounts, companies, ledger, shareholders, stock_trading, stock_views, users
from economy_app.services._tx import unit
from economy_app.services.errors import (
    InsufficientFunds,
    InvalidShares,
    NotAccountOwner,
    NotPublic,
    TradeRefused,
)
from tests.support.db import check_invariants, fingerprint, wipe
from tests.support.threads import done_or_waiting_on_a_lock, in_thread


def shares_conserved(session, company_id):
    c = session.execute(select(Company.total_shares, Company.treasury_shares).where(Company.id == company_id)).one()
    held = session.execute(
        select(func.coalesce(func.sum(Holding.shares), 0)).where(Holding.company_id == company_id)
    ).scalar_one()
    assert c.treasury_shares + held == c.total_shares


@pytest.fixture
def public_company(session, make_player, make_company):
    """A public company (cash $60,000, price $0.60) owned by a founder, who holds 200,000 of its shares, and an
    investor."""
    founder, founder_personal = make_player("founder")
    investor, investor_personal = make_player("investor")
    company, account = make_company(founder, "ACME")
    with unit(session, write=True):
        ledger.post(
            session,
            from_account_id=accounts.system_account_id(session),
            to_account_id=account,
            amount=6_000_000,
            type="adjustment",
        )
    assert companies.check_and_update_public_status(session, company)
    return dict(
        founder=founder,
        founder_personal=founder_personal,
        investor=investor,
        investor_personal=investor_personal,
        company=company,
        account=account,
    )


def test_buy_moves_cash_and_shares_and_raises_the_price(session, engine, public_company):
    p = public_company
    r = stock_trading.buy(
        session, actor_id=p["investor"], account_id=p["investor_personal"], company_id=p["company"], shares=10_000
    )
    # The founder's 200,000 shares are out: the curve's base is $0.590552, so the price there is the IPO's $0.60.
    # Along it from 20% of the shares out to 21% (+8% x 1% of the base): $0.600238 on average, $6,002.38.
    assert r.price_micros == 600_238 and r.total_cents == 600_238
    assert r.new_price_micros == stock_trading.spot_price(590_552, 210_000, 1_000_000) == 600_473
    assert accounts.get_balance(session, p["investor_personal"]) == 1_000_000 - 600_238
    assert accounts.get_balance(session, p["account"]) == 6_000_000 + 600_238
    h = session.execute(select(Holding).where(Holding.account_id == p["investor_personal"])).scalar_one()
    assert (h.shares, h.avg_price_micros) == (10_000, 600_238)
    shares_conserved(session, p["company"])
    assert session.execute(select(func.count()).select_from(StockPrice)).scalar_one() == 2  # ipo + buy
    check_invariants(engine)


def test_rounding_favours_the_company():
    # 3 shares on a $0.333333 curve cover $0.99999991...: the buyer pays $1.00, the seller gets $0.99.
    assert stock_trading.buy_cost_cents(333_333, 0, 3, 1_000_000) == 100
    assert stock_trading.sell_proceeds_cents(333_333, 3, 3, 1_000_000) == 99
    assert stock_trading.spot_price(600_000, 1_000_000, 1_000_000) == 648_000  # every share out: +8%
    assert money.format_price(1_234_567) == "$1.2346"


def test_buy_then_sell_back_never_gains(session, engine, public_company):
    p = public_company
    before = accounts.get_balance(session, p["investor_personal"])
    start = utcnow() - timedelta(hours=1)  # a minute apart: never slowed down by the rate limit
    for i, n in enumerate((1, 7, 999, 15_000)):
        bought = stock_trading.buy(
            session,
            actor_id=p["investor"],
            account_id=p["investor_personal"],
            company_id=p["company"],
            shares=n,
            now=start + timedelta(minutes=i),
        )
        sold = stock_trading.sell(
            session,
            actor_id=p["investor"],
            account_id=p["investor_personal"],
            company_id=p["company"],
            shares=n,
            now=start + timedelta(minutes=i, seconds=1),
        )
        assert sold.total_cents <= bought.total_cents
    assert accounts.get_balance(session, p["investor_personal"]) <= before
    shares_conserved(session, p["company"])
    check_invariants(engine)


def test_weighted_average_price(session, public_company):
    p = public_company
    t0 = utcnow() - timedelta(minutes=5)
    a = stock_trading.buy(
        session, actor_id=p["investor"], account_id=p["investor_personal"], company_id=p["company"], shares=1000, now=t0
    )
    b = stock_trading.buy(
        session,
        actor_id=p["investor"],
        account_id=p["investor_personal"],
        company_id=p["company"],
        shares=3000,
        now=t0 + timedelta(seconds=10),
    )
    h = session.execute(select(Holding).where(Holding.account_id == p["investor_personal"])).scalar_one()
    assert h.avg_price_micros == (a.total_cents + b.total_cents) * 10_000 // 4000


def test_guards_refuse_and_change_nothing(session, engine, public_company, make_company):
    p = public_company
    private_company, _ = make_company(p["founder"], "PRIV")
    before = fingerprint(engine)
    cases = [
        (InvalidShares, dict(shares=0)),
        (InvalidShares, dict(shares=-5)),
        (InvalidShares, dict(shares=1.5)),
        (InvalidShares, dict(shares=1_000_001)),
        (InvalidShares, dict(shares="10")),
        (NotPublic, dict(company_id=private_company)),
        (NotAccountOwner, dict(account_id=p["founder_personal"])),  # someone else's account
        (TradeRefused, dict(actor_id=p["founder"], account_id=p["account"])),  # a company and its own shares
        (TradeRefused, dict(actor_id=p["founder"], account_id=p["founder_personal"])),  # the founder, personally
        (TradeRefused, dict(shares=800_001)),  # the treasury holds 800,000 (the founder, 200,000)
        (InsufficientFunds, dict(shares=800_000)),  # $490,000 > $10,000
    ]
    base = dict(actor_id=p["investor"], account_id=p["investor_personal"], company_id=p["company"], shares=10)
    for error, change in cases:
        with pytest.raises(error) as info:
            stock_trading.buy(session, **{**base, **change})
        assert str(info.value)
        assert fingerprint(engine) == before, error
    with pytest.raises(TradeRefused) as info:  # selling more than held
        stock_trading.sell(session, **base)
    assert "hold only 0" in str(info.value)
    assert fingerprint(engine) == before


def test_a_founder_cannot_buy_their_own_shares_through_another_company(session, engine, public_company, make_company):
    """The issue's repro: Beta, owned by Alpha's founder, bought Alpha shares; the founder's net worth rose with
    no money coming in, and moving the cash back repeated it until the treasury was theirs."""
    p = public_company
    other, other_account = make_company(p["founder"], "OTHR")
    accounts.transfer(
        session,
        actor_id=p["founder"],
        from_account_id=p["founder_personal"],
        to_account_id=other_account,
        amount=900_000,
    )
    worth = accounts.dashboard(session, p["founder"]).net_worth
    board = {row[0]: row[1] for row in stock_views.leaderboard(session).players}["founder"]
    before = fingerprint(engine)
    for account in (other_account, p["founder_personal"]):
        with pytest.raises(TradeRefused) as info:
            stock_trading.buy(
                session, actor_id=p["founder"], account_id=account, company_id=p["company"], shares=15_000
            )
        assert "own company" in str(info.value)
        assert fingerprint(engine) == before
    assert accounts.dashboard(session, p["founder"]).net_worth == worth
    assert {row[0]: row[1] for row in stock_views.leaderboard(session).players}["founder"] == board


def test_rate_limit_three_trades_per_five_seconds(session, engine, public_company):
    p = public_company
    now = utcnow()
    args = dict(actor_id=p["investor"], account_id=p["investor_personal"], company_id=p["company"], shares=1)
    for i in range(3):
        stock_trading.buy(session, **args, now=now + timedelta(seconds=i))
    before = fingerprint(engine)
    with pytest.raises(TradeRefused) as info:
        stock_trading.buy(session, **args, now=now + timedelta(seconds=3))
    assert "at most 3 trades" in str(info.value)
    assert fingerprint(engine) == before
    stock_trading.buy(session, **args, now=now + timedelta(seconds=6))


def test_a_trade_slow_to_get_its_lock_still_counts_the_trades_before_it(engine, public_company):
    """Attack finding 3: ``buy`` read the clock before its write unit and counted trades with
    ``now - 5 s < created_at <= now``. A trade that read the clock first and got the lock last did not see the
    trades committed meanwhile (their ``created_at`` is after its ``now``): four trades passed in one second."""
    p = public_company
    args = dict(actor_id=p["investor"], account_id=p["investor_personal"], company_id=p["company"], shares=10)
    slow = threading.local()
    started, others_done = threading.Event(), threading.Event()

    def hold_the_slow_trade(conn, cursor, statement, parameters, context, executemany):
        if getattr(slow, "on", False):  # its first statement: the call has begun, it holds no lock yet
            slow.on = False
            started.set()
            assert others_done.wait(20)

    def slow_trade():
        slow.on = True
        with Session(engine) as s:
            stock_trading.buy(s, **args)

    event.listen(engine, "before_cursor_execute", hold_the_slow_trade)
    try:
        t = in_thread(slow_trade)
        assert started.wait(20)
        with Session(engine) as s:  # three quick trades: the limit
            for _ in range(3):
                stock_trading.buy(s, **args)
        others_done.set()
        t.join(30)
    finally:
        event.remove(engine, "before_cursor_execute", hold_the_slow_trade)
    assert not t.is_alive()
    with Session(engine) as s:
        trades = s.execute(
            select(func.count()).select_from(StockTrade).where(StockTrade.actor_id == p["investor"])
        ).scalar_one()
    assert trades == 3, f"{trades} trades by one player in one company within 5 seconds (limit 3)"
    assert len(t.errors) == 1 and isinstance(t.errors[0], TradeRefused), t.errors
    assert "at most 3 trades" in str(t.errors[0])
    check_invariants(engine)


def test_the_company_must_be_able_to_pay_for_a_sale(session, engine, public_company):
    """The founder sells back what the company pays her for (her shares come last: it keeps the cash to buy back
    the investor's), then its cash falls; the investor's sale past what is left is refused, saying how many shares
    the company can buy back, and the preview says the same before the click."""
    p = public_company
    t0 = utcnow() - timedelta(minutes=1)
    stock_trading.buy(
        session,
        actor_id=p["investor"],
        account_id=p["investor_personal"],
        company_id=p["company"],
        shares=10_000,
        now=t0,
    )
    may = stock_views.stock_detail(session, p["company"]).payout.owner_can_sell
    stock_trading.sell(
        session,
        actor_id=p["founder"],
        account_id=p["founder_personal"],
        company_id=p["company"],
        shares=may,
        now=t0 + timedelta(seconds=10),
    )
    # Nothing the founder may do now leaves the investor short (a payment to others is 10% of the equity, and that
    # is nothing now): an operator's correction does.
    assert shareholders.outflow_room(session, p["account"]).room_cents < 100  # (rounding: a few cents)
    with unit(session, write=True):
        ledger.post(
            session,
            from_account_id=p["account"],
            to_account_id=accounts.system_account_id(session),
            amount=accounts.get_balance(session, p["account"]) // 10,
            type="adjustment",
        )
    c = companies.get_company(session, p["company"])
    row = session.execute(select(Company).where(Company.id == p["company"])).scalar_one()
    can = stock_trading.max_buyback_shares(*stock_trading.curve_of(row), c.balance)
    assert 0 < can < 10_000
    before = fingerprint(engine)
    for attempt in (
        lambda: stock_trading.quote(session, p["company"], "sell", 10_000),
        lambda: stock_trading.sell(
            session, actor_id=p["investor"], account_id=p["investor_personal"], company_id=p["company"], shares=10_000
        ),
    ):
        with pytest.raises(InsufficientFunds) as info:
            attempt()
        assert str(info.value) == f"Company ACME can buy back at most {can:,} shares now."
    assert fingerprint(engine) == before
    assert stock_trading.quote(session, p["company"], "sell", can).total_cents <= c.balance
    sold = stock_trading.sell(
        session, actor_id=p["investor"], account_id=p["investor_personal"], company_id=p["company"], shares=can
    )
    assert accounts.get_balance(session, p["account"]) == c.balance - sold.total_cents
    with pytest.raises(InsufficientFunds) as info:
        stock_trading.quote(session, p["company"], "sell", 1)
    assert str(info.value) == "Company ACME can't buy back any shares now: its cash would not pay for one."
    check_invariants(engine)


def test_price_ticks_move_toward_fair_value_within_three_percent(session, engine, public_company):
    rng = random.Random(3)
    for price, fair in ((1_000_000, 2_000_000), (1_000_000, 0), (10_000, 0), (5_000_000, 5_000_000)):
        for _ in range(50):
            new = stock_trading.next_tick_price(price, fair, rng)
            assert abs(new - price) <= price * 3 // 100 or new == stock_trading.MIN_PRICE_MICROS
            assert new >= stock_trading.MIN_PRICE_MICROS
    assert stock_trading.next_tick_price(1_000_000, 100_000_000, random.Random(1)) == 1_030_000  # clamped at +3%
    p = public_company
    moved = stock_trading.update_prices(session, rng=random.Random(5))
    assert moved == 1
    assert (
        session.execute(select(func.count()).select_from(StockPrice).where(StockPrice.source == "tick")).scalar_one()
        == 1
    )
    check_invariants(engine)
    assert session.execute(select(func.count()).select_from(StockTrade)).scalar_one() == 0
    assert p


def test_history_older_than_90_days_is_purged(session, public_company):
    now = utcnow()
    stock_trading.update_prices(session, rng=random.Random(1), now=now - timedelta(days=91))
    stock_trading.update_prices(session, rng=random.Random(1), now=now - timedelta(days=89))
    assert stock_trading.purge_history(session, now=now) == 1


# --------------------------------------------------------------------------- round trips (issue 12, item 1)


def test_buying_a_block_and_selling_it_back_in_pieces_loses(session, engine, public_company):
    """The issue's repro: 500,000 shares bought in one trade and sold back as 50 x 10,000 made $5,713.83 from the
    company. Along the curve, the pieces pay back exactly the block's area, less rounding."""
    p = public_company
    t0 = utcnow() - timedelta(hours=1)
    with unit(session, write=True):
        ledger.post(
            session,
            from_account_id=accounts.system_account_id(session),
            to_account_id=p["investor_personal"],
            amount=40_000_000,
            type="adjustment",
        )
    trader_before = accounts.get_balance(session, p["investor_personal"])
    company_before = accounts.get_balance(session, p["account"])
    paid = stock_trading.buy(
        session,
        actor_id=p["investor"],
        account_id=p["investor_personal"],
        company_id=p["company"],
        shares=500_000,
        now=t0,
    ).total_cents
    received = 0
    for i in range(50):
        received += stock_trading.sell(
            session,
            actor_id=p["investor"],
            account_id=p["investor_personal"],
            company_id=p["company"],
            shares=10_000,
            now=t0 + timedelta(seconds=6 * (i + 1)),
        ).total_cents
    assert accounts.get_balance(session, p["investor_personal"]) <= trader_before
    assert accounts.get_balance(session, p["account"]) >= company_before
    assert received <= paid and paid - received <= 50  # a cent at most per trade, to the company
    assert paid == 30_590_594  # $0.60 to $0.623622 along the curve (20% to 70% of the shares out)
    assert companies.get_company(session, p["company"]).share_price_micros == 600_000  # back where it started
    check_invariants(engine)


@st.composite
def round_trip_plans(draw, *, max_shares: int = 1_000_000):
    """Shares already out (someone else's), then any buys and any sells of the same total, 1 to 1,000,000 shares
    each, in any split and any order that never sells more than is held."""
    total = draw(st.integers(min_value=1, max_value=max_shares))
    start = draw(st.integers(min_value=0, max_value=max_shares - total))

    def split(n: int) -> list[int]:
        cuts = (
            draw(st.lists(st.integers(min_value=1, max_value=max(1, n - 1)), max_size=5, unique=True)) if n > 1 else []
        )
        bounds = [0, *sorted(cuts), n]
        return [b - a for a, b in zip(bounds, bounds[1:], strict=False)]

    buys, sells = split(total), draw(st.permutations(split(total)))
    plan, held = [], 0
    while buys or sells:
        can_sell = bool(sells) and sells[0] <= held
        if buys and (not can_sell or draw(st.booleans())):
            plan.append(("buy", buys.pop(0)))
            held += plan[-1][1]
        else:
            plan.append(("sell", sells.pop(0)))
            held -= plan[-1][1]
    return start, plan


@settings(max_examples=400, deadline=None)
@given(base=st.integers(min_value=stock_trading.MIN_PRICE_MICROS, max_value=10**10), plan=round_trip_plans())
def test_the_curve_telescopes_and_rounding_favours_the_company(base, plan):
    """Pure arithmetic: the exact areas of any round trip sum to zero, and the rounded totals never pay the
    trader more than they paid."""
    start, trades = plan
    n, x, exact_num, exact_den, net = 1_000_000, start, 0, None, 0
    for side, shares in trades:
        if side == "buy":
            num, exact_den = stock_trading._area(base, x, x + shares, n)
            exact_num += num
            net -= stock_trading.buy_cost_cents(base, x, shares, n)
            x += shares
        else:
            num, exact_den = stock_trading._area(base, x - shares, x, n)
            exact_num -= num
            net += stock_trading.sell_proceeds_cents(base, x, shares, n)
            x -= shares
    assert x == start and exact_num == 0
    assert net <= 0


def _world(engine):
    """A public company ($60,000 cash, $0.60), another holder, and a trader with $1,000,000."""
    wipe(engine)
    s = Session(engine, expire_on_commit=False)
    founder = users.create_user(s, "founder", "correct horse").id
    other = users.create_user(s, "other", "correct horse").id
    trader = users.create_user(s, "trader", "correct horse").id
    ids = {u: accounts.initialize_account(s, u).id for u in (founder, other, trader)}
    company = companies.create_company(s, owner_id=founder, name="Acme", ticker="ACME")
    mint = accounts.system_account_id(s)
    with unit(s, write=True):
        ledger.post(s, from_account_id=mint, to_account_id=company.account_id, amount=6_000_000, type="adjustment")
        for u in (other, trader):
            ledger.post(s, from_account_id=mint, to_account_id=ids[u], amount=100_000_000, type="adjustment")
    assert companies.check_and_update_public_status(s, company.id)
    return s, dict(other=other, trader=trader, company=company.id, company_account=company.account_id, ids=ids)


def test_no_round_trip_in_any_split_or_order_raises_the_traders_cash(db_url):
    """Through the real services on the real database: after shares someone else holds, the trader buys and sells
    back the same shares in any split (1 to 1,000,000 each) and order. Their cash never rises, the company's never
    falls, each trade costs exactly its quote, and the price comes back to where it was."""
    engine = make_engine(db_url)

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(plan=round_trip_plans(max_shares=800_000))  # the treasury's shares (the founder holds 200,000)
    def check(plan):
        start, trades = plan
        s, w = _world(engine)
        try:
            clock = utcnow() - timedelta(days=1)
            if start:
                stock_trading.buy(
                    s,
                    actor_id=w["other"],
                    account_id=w["ids"][w["other"]],
                    company_id=w["company"],
                    shares=start,
                    now=clock,
                )
            price = companies.get_company(s, w["company"]).share_price_micros
            trader, account = w["trader"], w["ids"][w["trader"]]
            cash, company_cash = accounts.get_balance(s, account), accounts.get_balance(s, w["company_account"])
            for side, shares in trades:
                clock += timedelta(seconds=6)  # past the rate limit
                q = stock_trading.quote(s, w["company"], side, shares)
                r = (stock_trading.buy if side == "buy" else stock_trading.sell)(
                    s, actor_id=trader, account_id=account, company_id=w["company"], shares=shares, now=clock
                )
                assert (r.total_cents, r.new_price_micros, r.price_micros) == (
                    q.total_cents,
                    q.new_price_micros,
                    q.price_micros,
                )
            assert accounts.get_balance(s, account) <= cash
            assert accounts.get_balance(s, w["company_account"]) >= company_cash
            assert companies.get_company(s, w["company"]).share_price_micros == price
            check_invariants(engine)
        finally:
            s.close()

    try:
        check()
    finally:
        engine.dispose()


def test_a_buyers_own_money_does_not_lift_the_fair_value(session, engine, public_company):
    """Buy the float, wait for the ticks, sell: the price used to drift up toward 10 x cash / shares, cash that
    now held the buyer's own money, and selling back drained the company. Shares sold are a debt of the company,
    so the fair value is 10 x (cash - that debt) / shares: the ticks pull a bought-up price back down."""
    p = public_company
    with unit(session, write=True):
        ledger.post(
            session,
            from_account_id=accounts.system_account_id(session),
            to_account_id=p["investor_personal"],
            amount=40_000_000,
            type="adjustment",
        )
    cash = accounts.get_balance(session, p["investor_personal"])
    t0 = utcnow() - timedelta(days=1)
    stock_trading.buy(
        session,
        actor_id=p["investor"],
        account_id=p["investor_personal"],
        company_id=p["company"],
        shares=500_000,
        now=t0,
    )
    for i in range(30):  # two and a half hours of ticks
        stock_trading.update_prices(session, rng=random.Random(i), now=t0 + timedelta(minutes=5 * (i + 1)))
    at = t0 + timedelta(hours=3)
    for i in range(50):
        try:
            stock_trading.sell(
                session,
                actor_id=p["investor"],
                account_id=p["investor_personal"],
                company_id=p["company"],
                shares=10_000,
                now=at + timedelta(seconds=6 * i),
            )
        except InsufficientFunds:
            break
    assert accounts.get_balance(session, p["investor_personal"]) <= cash
    check_invariants(engine)


def test_a_tick_rescales_the_curve(session, public_company):
    p = public_company
    stock_trading.buy(
        session,
        actor_id=p["investor"],
        account_id=p["investor_personal"],
        company_id=p["company"],
        shares=10_000,
        now=utcnow() - timedelta(minutes=1),
    )
    stock_trading.update_prices(session, rng=random.Random(7))
    session.expire_all()
    c = session.execute(select(Company).where(Company.id == p["company"])).scalar_one()
    assert c.share_price_micros == stock_trading.spot_price(c.base_price_micros, 210_000, 1_000_000)
    assert c.base_price_micros >= stock_trading.MIN_PRICE_MICROS


def _curve(engine, company_id: int) -> tuple[int, int, int, int]:
    """(stored price, base, float, total shares) of a company, read fresh."""
    with engine.connect() as conn:
        c = conn.execute(select(Company.__table__).where(Company.__table__.c.id == company_id)).one()
    return (c.share_price_micros, *stock_trading.curve_of(c))


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_tick_racing_a_sale_leaves_the_price_on_the_curve(engine, public_company):
    """Attack finding 4 (PostgreSQL; SQLite's write units never interleave): the tick read every public company
    without a lock and wrote an absolute base and price computed from the float it read. A sale committing in
    between left the stored price at the float before the sale (off the curve), and the next tick rescaled
    the base to that stale price: one tick moved the price by +7.5%, past the +/-3% clamp."""
    p = public_company
    mint = accounts.system_account_id  # the investor needs ~$500,000 to buy the whole treasury
    with Session(engine) as s:
        with unit(s, write=True):
            ledger.post(
                s, from_account_id=mint(s), to_account_id=p["investor_personal"], amount=70_000_000, type="adjustment"
            )
        stock_trading.buy(
            s, actor_id=p["investor"], account_id=p["investor_personal"], company_id=p["company"], shares=800_000
        )
    ticking = threading.local()
    sale: list[threading.Thread] = []

    def sell_all_but_one():
        with Session(engine) as s:
            stock_trading.sell(
                s, actor_id=p["investor"], account_id=p["investor_personal"], company_id=p["company"], shares=799_999
            )

    def after_the_tick_read_the_companies(conn, cursor, statement, parameters, context, executemany):
        if getattr(ticking, "on", False) and not sale and "companies.share_price_micros" in statement:
            sale.append(in_thread(sell_all_but_one))  # the sale commits now, or waits for the tick
            done_or_waiting_on_a_lock(engine, sale[0])

    event.listen(engine, "after_cursor_execute", after_the_tick_read_the_companies)
    try:
        ticking.on = True
        with Session(engine) as s:
            stock_trading.update_prices(s, rng=random.Random(1))
    finally:
        ticking.on = False
        event.remove(engine, "after_cursor_execute", after_the_tick_read_the_companies)
    assert sale, "the tick read no company"
    sale[0].join(30)
    assert not sale[0].is_alive() and sale[0].errors == []
    price, base, x, n = _curve(engine, p["company"])
    assert x == 200_001  # the founder's stake and the investor's last share
    assert price == stock_trading.spot_price(base, x, n), (
        f"stored price {price} is not the curve's {stock_trading.spot_price(base, x, n)} at the float of {x} shares"
    )
    with Session(engine) as s:  # and the next tick moves it by at most 3% from the curve's price
        stock_trading.update_prices(s, rng=random.Random(2))
    after, *_ = _curve(engine, p["company"])
    assert abs(after - price) * 100 <= 3 * price + 100, f"one tick moved the price from {price} to {after} micros"
    with Session(engine) as s:
        shares_conserved(s, p["company"])
    check_invariants(engine)
