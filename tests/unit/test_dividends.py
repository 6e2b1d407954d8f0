"""Dividends (issue 16): pro rata to every holder outside the treasury, rounded down, the remainder kept; one
entry per holder tied to one dividends row; every refusal changes nothing; ex-dividend, so nobody's net worth
moves and buying just before a dividend to sell just after never pays; not capped like a payment to others."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, insert, select, update
from sqlmodel import Session

from economy_app.db import make_engine
from economy_app.models import Company, Dividend, DividendPayment, Holding, LedgerEntry, StockPrice, utcnow
from economy_app.services import accounts, dividends, ledger, shareholders, stock_trading, stock_views
from economy_app.services._tx import unit
from economy_app.services.errors import (
    CompanyNotFound,
    DividendRefused,
    InvalidAmount,
    NotCompanyOwner,
    OutflowLimit,
)
from tests.support.db import check_invariants, fingerprint, wipe
from tests.support.threads import in_thread
from tests.support.world import fund, go_public, net_worth


@pytest.fixture
def world(session, make_player, make_company):
    """Dana's public company ($102,173.00; her 200,000-share stake), Carol holding 5,200 shares personally and
    Erin 10,000 through her (private) company; Dana's second company is private."""
    dana, dana_personal = make_player("dana")
    carol, carol_personal = make_player("carol")
    erin, erin_personal = make_player("erin")
    company, account = make_company(dana, "DANA", "Dana Drones")
    private, private_account = make_company(dana, "DTWO", "Dana Two")
    erin_co, erin_co_account = make_company(erin, "ERIN", "Erin Co")
    go_public(session, company, account, 10_217_300)
    fund(session, erin_co_account, 2_000_000)
    t0 = utcnow() - timedelta(minutes=5)
    stock_trading.buy(session, actor_id=carol, account_id=carol_personal, company_id=company, shares=5_200, now=t0)
    stock_trading.buy(session, actor_id=erin, account_id=erin_co_account, company_id=company, shares=10_000, now=t0)
    return dict(
        dana=dana,
        dana_personal=dana_personal,
        carol=carol,
        carol_personal=carol_personal,
        erin=erin,
        erin_personal=erin_personal,
        erin_co_account=erin_co_account,
        company=company,
        account=account,
        private=private,
        private_account=private_account,
    )


def test_a_dividend_pays_every_holder_pro_rata(session, engine, world):
    w = world
    players = (w["dana"], w["carol"], w["erin"])
    worth = {p: net_worth(session, p) for p in players}
    cash = accounts.get_balance(session, w["account"])
    x = 200_000 + 5_200 + 10_000
    preview = dividends.preview(session, actor_id=w["dana"], company_id=w["company"], total_cents=100_001)
    plan = dividends.declare(session, actor_id=w["dana"], company_id=w["company"], total_cents=100_001)
    assert plan == preview  # the preview says exactly what the declaration does
    expected = {
        w["dana_personal"]: 100_001 * 200_000 // x,
        w["erin_co_account"]: 100_001 * 10_000 // x,
        w["carol_personal"]: 100_001 * 5_200 // x,
    }
    assert [(p.account_id, p.shares, p.amount_cents) for p in plan.payees] == [
        (w["dana_personal"], 200_000, expected[w["dana_personal"]]),
        (w["erin_co_account"], 10_000, expected[w["erin_co_account"]]),
        (w["carol_personal"], 5_200, expected[w["carol_personal"]]),
    ]
    paid = sum(expected.values())
    assert (plan.paid_cents, plan.remainder_cents, plan.holders_paid, plan.shares) == (paid, 100_001 - paid, 3, x)
    assert plan.per_share_micros == 100_001 * 10_000 // x
    assert accounts.get_balance(session, w["account"]) == cash - paid  # the remainder stays with the company
    entries = session.execute(select(LedgerEntry).where(LedgerEntry.type == "dividend")).scalars().all()
    assert sorted((e.from_account_id, e.to_account_id, e.amount) for e in entries) == sorted(
        (w["account"], a, c) for a, c in expected.items()
    )
    [row] = session.execute(select(Dividend)).scalars().all()
    assert (row.company_id, row.declared_by, row.declared_cents, row.paid_cents, row.holders_paid) == (
        w["company"],
        w["dana"],
        100_001,
        paid,
        3,
    )
    payments = session.execute(select(DividendPayment)).scalars().all()
    assert {p.ledger_id for p in payments} == {e.id for e in entries}  # each entry tied to the dividend
    assert {p.dividend_id for p in payments} == {row.id}
    # Ex-dividend: the price falls, the curve's base with it; nobody's net worth moves (up to a micro-dollar a
    # share outside the treasury, the base's rounding, and a cent of each holding's).
    assert row.price_after_micros < row.price_before_micros
    assert session.execute(select(StockPrice.source).order_by(StockPrice.id.desc()).limit(1)).scalar() == "div"
    for p in players:
        assert abs(net_worth(session, p) - worth[p]) <= x // 10_000 + 2, p
    assert dividends.received_cents(session, [w["carol_personal"]]) == expected[w["carol_personal"]]
    # Holders see it in their history, and the stock page lists it.
    [mine] = accounts.player_history(session, w["carol"], types=["dividend"])
    assert mine.signed_amount == expected[w["carol_personal"]]
    [past] = dividends.history(session, w["company"])
    assert (past.paid_cents, past.holders_paid) == (paid, 3)
    # Each receiver's tab is told (a toast), like a transfer received.
    told = accounts.transfers_received(session, [e.id for e in entries])
    assert {(r.user_id, r.type, r.sender) for r in told} == {
        (w["dana"], "dividend", "Dana Drones"),
        (w["carol"], "dividend", "Dana Drones"),
        (w["erin"], "dividend", "Dana Drones"),
    }
    check_invariants(engine)


def test_every_refusal_changes_nothing(session, engine, world):
    w = world
    cash = accounts.get_balance(session, w["account"])
    before = fingerprint(engine)
    cases = [
        (dict(actor_id=w["carol"], company_id=w["company"], total_cents=10_000), NotCompanyOwner, None),
        (dict(actor_id=w["dana"], company_id=999_999, total_cents=10_000), CompanyNotFound, None),
        (
            dict(actor_id=w["dana"], company_id=w["private"], total_cents=10_000),
            DividendRefused,
            "Dana Two is private: it has no shareholders; move money with Send money.",
        ),
        (dict(actor_id=w["dana"], company_id=w["company"], total_cents=99), InvalidAmount, "at least $1.00"),
        (dict(actor_id=w["dana"], company_id=w["company"], total_cents=True), InvalidAmount, None),
        (dict(actor_id=w["dana"], company_id=w["company"], total_cents=100.0), InvalidAmount, None),
        (
            dict(actor_id=w["dana"], company_id=w["company"], total_cents=cash + 1),
            DividendRefused,
            "a dividend can't be more than that",
        ),
    ]
    for kwargs, error, text in cases:
        for fn in (dividends.preview, dividends.declare):
            with pytest.raises(error) as info:
                fn(session, **kwargs)
            assert text is None or text in str(info.value)
    assert fingerprint(engine) == before


def test_nobody_outside_the_treasury_and_too_little_to_pay_a_cent(session, engine, world):
    w = world
    with unit(session, write=True):  # every share back in the treasury
        session.execute(update(Holding).values(shares=0))
        session.execute(update(Company).where(Company.id == w["company"]).values(treasury_shares=1_000_000))
    before = fingerprint(engine)
    with pytest.raises(DividendRefused) as info:
        dividends.declare(session, actor_id=w["dana"], company_id=w["company"], total_cents=10_000)
    assert str(info.value) == "Dana Drones has no shareholders outside its treasury: nobody to pay."
    assert fingerprint(engine) == before
    with unit(session, write=True):  # 101 holders of one share each: $1.00 pays none of them a whole cent
        for i in range(101):
            account = ledger.open_account(session, name=f"holder{i}", kind="company", owner_id=w["carol"])
            session.execute(
                insert(Holding).values(
                    company_id=w["company"], account_id=account, shares=1, avg_price_micros=1, updated_at=utcnow()
                )
            )
        session.execute(update(Company).where(Company.id == w["company"]).values(treasury_shares=1_000_000 - 101))
    before = fingerprint(engine)
    with pytest.raises(DividendRefused) as info:
        dividends.declare(session, actor_id=w["dana"], company_id=w["company"], total_cents=100)
    assert str(info.value) == "$1.00 over 101 shares pays no holder a whole cent: declare more."
    assert fingerprint(engine) == before
    plan = dividends.declare(session, actor_id=w["dana"], company_id=w["company"], total_cents=10_099)
    assert (plan.paid_cents, plan.remainder_cents, plan.holders_paid) == (101 * 99, 100, 101)
    check_invariants(engine)


def test_the_cool_down(session, engine, world, monkeypatch):
    w = world
    t0 = utcnow()
    dividends.declare(session, actor_id=w["dana"], company_id=w["company"], total_cents=10_000, now=t0)
    before = fingerprint(engine)
    with pytest.raises(DividendRefused) as info:
        dividends.declare(
            session, actor_id=w["dana"], company_id=w["company"], total_cents=10_000, now=t0 + timedelta(minutes=59)
        )
    assert str(info.value) == (
        f"Dana Drones paid a dividend less than 1 hour ago: the next may be declared from "
        f"{t0 + timedelta(hours=1):%Y-%m-%d %H:%M} UTC."
    )
    assert fingerprint(engine) == before
    assert dividends.owner_view(session, w["company"], now=t0 + timedelta(minutes=59)).next_at == t0 + timedelta(
        hours=1
    )
    dividends.declare(
        session, actor_id=w["dana"], company_id=w["company"], total_cents=10_000, now=t0 + timedelta(hours=1)
    )
    monkeypatch.setenv("ECONOMY_DIVIDEND_COOLDOWN_SECONDS", "0")  # the setting
    dividends.declare(
        session, actor_id=w["dana"], company_id=w["company"], total_cents=10_000, now=t0 + timedelta(hours=1)
    )
    assert len(dividends.history(session, w["company"])) == 3
    check_invariants(engine)


def test_a_dividend_is_not_a_capped_payment(session, engine, world):
    """The 10%-a-day cap on payments to others does not apply: a dividend goes to every holder alike. It does
    lower the cash the cap is counted on."""
    w = world
    cash = accounts.get_balance(session, w["account"])
    with pytest.raises(OutflowLimit):
        accounts.transfer(
            session,
            actor_id=w["dana"],
            from_account_id=w["account"],
            to_account_id=w["carol_personal"],
            amount=cash // 2,
        )
    most = dividends.owner_view(session, w["company"]).max_cents
    assert cash // 2 < most < cash
    plan = dividends.declare(session, actor_id=w["dana"], company_id=w["company"], total_cents=most)
    left = cash - plan.paid_cents
    assert accounts.get_balance(session, w["account"]) == left
    assert shareholders.outflow_room(session, w["account"]).room_cents <= left * 10 // 100
    check_invariants(engine)


def test_the_owners_shares_come_last_in_a_dividend(session, engine, world):
    """The owner's part of a dividend is money out to them, like a sale of their shares: a dividend may not leave
    the company short of buying back every other holder's shares from the top of the curve. Without this, the
    founder's 200,000 free shares would take 93% of any dividend, investors' purchase money included."""
    w = world
    cash = accounts.get_balance(session, w["account"])
    most = dividends.owner_view(session, w["company"]).max_cents
    before = fingerprint(engine)
    with pytest.raises(DividendRefused) as info:
        dividends.declare(session, actor_id=w["dana"], company_id=w["company"], total_cents=most + 1)
    assert str(info.value) == (
        f"Dana Drones can pay a dividend of at most ${most // 100:,}.{most % 100:02d} now: your shares come last, "
        "so it keeps the cash to buy back every other shareholder's shares before paying you."
    )
    assert fingerprint(engine) == before
    dividends.declare(session, actor_id=w["dana"], company_id=w["company"], total_cents=most)
    assert accounts.get_balance(session, w["account"]) < cash // 10
    # Every other holder can still sell everything back, one after the other.
    t = utcnow() + timedelta(seconds=10)
    for actor, account, shares in ((w["carol"], w["carol_personal"], 5_200), (w["erin"], w["erin_co_account"], 10_000)):
        stock_trading.sell(session, actor_id=actor, account_id=account, company_id=w["company"], shares=shares, now=t)
    # With nobody else holding shares, the owner's earnings are hers to pay out.
    rest = accounts.get_balance(session, w["account"])
    assert dividends.owner_view(session, w["company"], now=t + timedelta(hours=2)).max_cents == rest
    check_invariants(engine)


def test_two_declarations_at_once_pay_once(engine, world):
    """The cool-down is counted under the company's row lock: two clicks from two tabs pay one dividend."""
    w = world
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def declare():
        start.wait()
        with Session(engine) as s:
            try:
                dividends.declare(s, actor_id=w["dana"], company_id=w["company"], total_cents=50_000)
                outcomes.append("paid")
            except DividendRefused:
                outcomes.append("refused")

    threads = [in_thread(declare) for _ in range(2)]
    for t in threads:
        t.join(60)
        assert not t.is_alive() and t.errors == [], t.errors
    assert sorted(outcomes) == ["paid", "refused"]
    with Session(engine) as s:
        assert s.execute(select(func.count()).select_from(Dividend)).scalar_one() == 1
    check_invariants(engine)


def test_buying_just_before_a_dividend_and_selling_just_after_never_pays(session, engine, world):
    """Without the ex-dividend price a buyer could collect the dividend and sell back at the same price, taking
    it out of the other holders' part of the cash. A simple case here; Hypothesis below."""
    w = world
    t0 = utcnow() - timedelta(minutes=1)
    fund(session, w["erin_personal"], 50_000_000)
    cash = accounts.get_balance(session, w["erin_personal"])
    kwargs = dict(actor_id=w["erin"], account_id=w["erin_personal"], company_id=w["company"], shares=300_000)
    stock_trading.buy(session, **kwargs, now=t0)
    dividends.declare(session, actor_id=w["dana"], company_id=w["company"], total_cents=5_000_000)
    stock_trading.sell(session, **kwargs, now=t0 + timedelta(seconds=10))
    assert accounts.get_balance(session, w["erin_personal"]) <= cash
    check_invariants(engine)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_no_dividend_round_trip_makes_money(db_url):
    """Any buy, any dividend (up to all the cash), any sale of what was bought: the trader ends with no more
    cash than they started with."""
    from economy_app.services import companies, users

    engine = make_engine(db_url)

    @settings(
        max_examples=40,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(
        cash=st.integers(min_value=5_000_001, max_value=50_000_000),
        shares=st.integers(min_value=1, max_value=590_000),
        part=st.integers(min_value=1, max_value=1000),
        first=st.integers(min_value=0, max_value=200_000),
    )
    def run(cash, shares, part, first):
        wipe(engine)
        with Session(engine, expire_on_commit=False) as s:
            owner = users.create_user(s, "owner", "correct horse").id
            accounts.initialize_account(s, owner)
            trader = users.create_user(s, "trader", "correct horse").id
            trader_account = accounts.initialize_account(s, trader).id
            other = users.create_user(s, "other", "correct horse").id
            other_account = accounts.initialize_account(s, other).id
            view = companies.create_company(s, owner_id=owner, name="Target", ticker="TGT")
            go_public(s, view.id, view.account_id, cash)
            fund(s, trader_account, 1_000_000_000)
            fund(s, other_account, 1_000_000_000)
            t0 = utcnow() - timedelta(minutes=1)
            if first:
                stock_trading.buy(s, actor_id=other, account_id=other_account, company_id=view.id, shares=first, now=t0)
            before = accounts.get_balance(s, trader_account)
            kwargs = dict(actor_id=trader, account_id=trader_account, company_id=view.id, shares=shares)
            stock_trading.buy(s, **kwargs, now=t0)
            company_cash = accounts.get_balance(s, view.account_id)
            total = max(100, company_cash * part // 1000)
            try:
                dividends.declare(s, actor_id=owner, company_id=view.id, total_cents=total)
            except DividendRefused:
                return
            can = stock_views.stock_detail(s, view.id).payout.buyback_shares
            if can >= shares:
                stock_trading.sell(s, **kwargs, now=t0 + timedelta(seconds=10))
            # What the trader holds is valued at most at what selling it would pay: count it, at the bid.
            held = sum(p.value_cents for p in stock_views.portfolio(s, trader))
            assert accounts.get_balance(s, trader_account) + held <= before, "a dividend round trip made money"
        check_invariants(engine)

    try:
        run()
    finally:
        engine.dispose()
