"""An attacker's eye on loans (services/loans.py): can borrowing, moving the money about, defaulting and borrowing
again leave a player richer than they were? Hypothesis plays any sequence of the borrower's own moves, before
the loan and while it is open: transfers between their accounts, trades in another player's stock, purchases
from any company (their own private and public ones, another player's), repayments, days passing. Then the due
date passes, the loan defaults, the cool-down ends, and they borrow again. Nothing else happens in the world (no
marketplace run, no price tick: money the public brings in would be an honest gain), so the players' net worth
must never end above what it was just before the loan.

Counted over both players, the borrower and the investor: a sale back along the curve pays its seller more
than the pro-rata value their shares were counted at, and the other holders' shares are worth that much less
(issue 19: the founder's stake is a holding too), so one player's figure moves with another's by trading
alone; together they never gain. Ten cents of slack for the pro-rata valuation's rounding."""

from __future__ import annotations

import random
from datetime import timedelta

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlmodel import Session

from economy_app import config
from economy_app.db import make_engine
from economy_app.models import Holding, User, utcnow
from economy_app.services import accounts, companies, ledger, loans, products, purchases, stock_trading, users
from economy_app.services._tx import unit
from economy_app.services.errors import EconomyError
from tests.support.db import check_invariants, wipe

DAY = timedelta(days=1)


def _world(engine):
    """The borrower ("debtor") runs a private company (PRIV, $300.00) and a public one (MINE) in which an investor
    holds shares; the investor runs a public company (IOTA). Each company sells one product, at $250.00."""
    wipe(engine)
    s = Session(engine, expire_on_commit=False)
    clock = utcnow() - timedelta(days=400)
    debtor, investor = (users.create_user(s, n, "correct horse").id for n in ("debtor", "investor"))
    personal = {u: accounts.initialize_account(s, u).id for u in (debtor, investor)}
    mint = accounts.system_account_id(s)
    made = {}
    for owner, ticker, cash in ((debtor, "PRIV", 30_000), (debtor, "MINE", 6_000_000), (investor, "IOTA", 8_000_000)):
        view = companies.create_company(s, owner_id=owner, name=ticker.title(), ticker=ticker)
        with unit(s, write=True):
            ledger.post(s, from_account_id=mint, to_account_id=view.account_id, amount=cash, type="adjustment")
        if cash > companies.PUBLIC_THRESHOLD_CENTS:
            assert companies.check_and_update_public_status(s, view.id)
        product = products.create_product(
            s,
            actor_id=owner,
            company_id=view.id,
            name=f"{ticker.title()} thing",
            price_cents=25_000,
            rng=random.Random(len(made)),
            now=clock,
        )
        made[ticker] = (view.id, view.account_id, product.id)
    stock_trading.buy(
        s, actor_id=investor, account_id=personal[investor], company_id=made["MINE"][0], shares=10_000, now=clock
    )
    mine = [personal[debtor], made["PRIV"][1], made["MINE"][1]]
    return s, debtor, mine, made, clock


moves = st.lists(
    st.tuples(
        st.sampled_from(["transfer", "buy_stock", "sell_stock", "buy_product", "repay", "day"]),
        st.integers(min_value=0, max_value=2),  # which of the borrower's accounts
        st.integers(min_value=0, max_value=2),  # the other account (transfers), or which product
        st.sampled_from([1, 5, 25, 50, 90, 100]),  # a percentage of what the account holds / the debt
    ),
    max_size=8,
)


def _play(s, debtor, mine, made, clock, plan) -> None:
    """The borrower's moves; each one refused (a debtor paying another player, say) changes nothing."""
    products_ = [made[t][2] for t in ("PRIV", "MINE", "IOTA")]
    prices = {p: 25_000 for p in products_}
    iota = made["IOTA"][0]
    for kind, i, j, percent in plan:
        clock[0] += timedelta(seconds=7)  # past the trade rate limit
        cash = accounts.get_balance(s, mine[i])
        try:
            if kind == "transfer" and i != j:
                accounts.transfer(
                    s,
                    actor_id=debtor,
                    from_account_id=mine[i],
                    to_account_id=mine[j],
                    amount=max(1, cash * percent // 100),
                )
            elif kind == "buy_stock":
                shares = max(1, cash * percent // 100 // 80)  # IOTA trades at about $0.80 a share
                stock_trading.buy(s, actor_id=debtor, account_id=mine[i], company_id=iota, shares=shares, now=clock[0])
            elif kind == "sell_stock":
                held = s.execute(
                    select(Holding.shares).where(Holding.account_id == mine[i], Holding.company_id == iota)
                ).scalar()
                shares = max(1, (held or 0) * percent // 100)
                stock_trading.sell(s, actor_id=debtor, account_id=mine[i], company_id=iota, shares=shares, now=clock[0])
            elif kind == "buy_product":
                units = max(1, min(config.max_purchase_units(), cash * percent // 100 // 25_000))
                purchases.buy(
                    s,
                    actor_id=debtor,
                    account_id=mine[i],
                    product_id=products_[j],
                    units=units,
                    price_cents=prices[products_[j]],
                    now=clock[0],
                )
            elif kind == "repay":
                loan = loans.current(s, debtor)
                if loan is not None:
                    loans.repay(s, user_id=debtor, amount=max(1, loan.debt * percent // 100), now=clock[0])
            elif kind == "day":
                clock[0] += DAY
                loans.run_due(s, now=clock[0])
        except EconomyError:
            pass


def _worth(s) -> int:
    """Every player's net worth, summed (the dashboard's figure)."""
    return sum(accounts.dashboard(s, u).net_worth for u in s.execute(select(User.id)).scalars())


def test_a_borrow_default_cycle_never_raises_net_worth(db_url):
    engine = make_engine(db_url)

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    # Found by hand before Hypothesis did: MINE's cash taken out and spent (it owes its shareholders more than it
    # holds: her net worth is below zero), then the loan put into MINE, where a default did not reach: the
    # write-off filled the hole and her net worth rose to zero. (Issue 19 now refuses the first move too.)
    @example(
        before=[("transfer", 2, 0, 100)] + [("buy_product", 0, 2, 100)] * 4,
        cycles=[(50_000_000, [("transfer", 0, 2, 100)])],
    )
    @given(
        before=moves,
        cycles=st.lists(st.tuples(st.integers(min_value=100, max_value=50_000_000), moves), min_size=1, max_size=2),
    )
    def never_richer(before, cycles):
        s, debtor, mine, made, start = _world(engine)
        clock = [start]
        try:
            _play(s, debtor, mine, made, clock, before)  # whatever they did before borrowing
            worth = _worth(s)
            for n, (amount, during) in enumerate(cycles):
                loans.take(s, user_id=debtor, amount=amount, idempotency_key=f"cycle-{n}", now=clock[0])
                _play(s, debtor, mine, made, clock, during)
                loan = loans.current(s, debtor)
                if loan is not None:  # not repaid: it defaults on its due date
                    clock[0] = max(clock[0], loan.due_at)
                    loans.run_due(s, now=clock[0])
                    assert loans.current(s, debtor) is None
                clock[0] += (config.loan_cooldown_days() + 1) * DAY  # the cool-down is over: they may borrow again
                check_invariants(engine)
                after = _worth(s)
                assert after <= worth + 10, f"cycle {n}: net worth {worth} -> {after}"
                worth = after
        finally:
            s.close()

    try:
        never_richer()
    finally:
        engine.dispose()
