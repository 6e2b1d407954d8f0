"""A Hypothesis state machine over trades, price ticks and marketplace runs. After every step:
cash sums to zero and the three copies agree; shares are conserved per company; no holding and no
non-system balance below zero. A buy followed at once by selling the same shares never gains cash."""

from __future__ import annotations

import random
from datetime import timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from sqlalchemy import func, select
from sqlmodel import Session

from economy_app.db import make_engine
from economy_app.models import Company, Holding, utcnow
from economy_app.services import accounts, companies, ledger, marketplace_run, products, stock_trading, users
from economy_app.services._tx import unit
from economy_app.services.errors import EconomyError
from tests.support.db import check_invariants, fingerprint, wipe


def make_machine(url: str, stats: dict):
    engine = make_engine(url)

    class MarketMachine(RuleBasedStateMachine):
        @initialize()
        def world(self):
            wipe(engine)
            self.s = Session(engine, expire_on_commit=False)
            self.clock = utcnow() - timedelta(days=1)
            self.players = []  # (user_id, personal account)
            for i in range(3):
                u = users.create_user(self.s, f"trader{i}", "correct horse")
                self.players.append((u.id, accounts.initialize_account(self.s, u.id).id))
            self.companies = []  # (company_id, account_id, owner)
            for owner_index, ticker in ((0, "AAA"), (1, "BBB")):
                owner = self.players[owner_index][0]
                view = companies.create_company(self.s, owner_id=owner, name=ticker, ticker=ticker)
                products.create_product(
                    self.s,
                    actor_id=owner,
                    company_id=view.id,
                    name="Thing",
                    price_cents=900,
                    rng=random.Random(owner_index),
                    now=self.clock - timedelta(hours=1),
                )
                self.companies.append((view.id, view.account_id, owner))
            with unit(self.s, write=True):  # AAA starts public; BBB must sell its way there
                ledger.post(
                    self.s,
                    from_account_id=accounts.system_account_id(self.s),
                    to_account_id=self.companies[0][1],
                    amount=5_500_000,
                    type="adjustment",
                )
            companies.check_and_update_public_status(self.s, self.companies[0][0])

        def teardown(self):
            self.s.close()

        def tick(self):
            self.clock += timedelta(seconds=7)  # past the trade rate limit
            return self.clock

        def trader_accounts(self):
            """(actor, account) pairs: personal accounts and company accounts, each with its owner."""
            return self.players + [(owner, account) for _, account, owner in self.companies]

        def attempt(self, fn, **kwargs):
            before = fingerprint(engine)
            try:
                result = fn(self.s, now=self.tick(), **kwargs)
                stats[fn.__name__] = stats.get(fn.__name__, 0) + 1
                return result
            except EconomyError:
                assert fingerprint(engine) == before  # a refusal changes nothing
                return None

        @rule(data=st.data(), shares=st.integers(min_value=1, max_value=20_000))
        def buy(self, data, shares):
            actor, account = data.draw(st.sampled_from(self.trader_accounts()))
            company = data.draw(st.sampled_from(self.companies))[0]
            self.attempt(stock_trading.buy, actor_id=actor, account_id=account, company_id=company, shares=shares)

        @rule(data=st.data(), fraction=st.integers(min_value=1, max_value=100))
        def sell(self, data, fraction):
            holdings = self.s.execute(
                select(Holding.company_id, Holding.account_id, Holding.shares).where(Holding.shares > 0)
            ).all()
            if not holdings:
                return
            company, account, held = data.draw(st.sampled_from(holdings))
            actor = next(a for a, acc in self.trader_accounts() if acc == account)
            self.attempt(
                stock_trading.sell,
                actor_id=actor,
                account_id=account,
                company_id=company,
                shares=max(1, held * fraction // 100),
            )

        @rule(data=st.data(), shares=st.integers(min_value=1, max_value=20_000))
        def round_trip(self, data, shares):
            actor, account = data.draw(st.sampled_from(self.players))
            company = data.draw(st.sampled_from(self.companies))[0]
            cash = accounts.get_balance(self.s, account)
            if (
                self.attempt(stock_trading.buy, actor_id=actor, account_id=account, company_id=company, shares=shares)
                is None
            ):
                return
            sold = self.attempt(
                stock_trading.sell, actor_id=actor, account_id=account, company_id=company, shares=shares
            )
            if sold is not None:
                assert accounts.get_balance(self.s, account) <= cash, "a round trip made money"

        @rule(seed=st.integers(min_value=0, max_value=10_000))
        def price_tick(self, seed):
            stock_trading.update_prices(self.s, rng=random.Random(seed), now=self.tick())

        @rule(seed=st.integers(min_value=0, max_value=10_000))
        def marketplace_run(self, seed):
            marketplace_run.run_batch(self.s, rng=random.Random(seed), now=self.tick(), budget=3_000_000)

        @invariant()
        def conserved(self):
            if not hasattr(self, "s"):
                return
            check_invariants(engine)  # cash sums to zero, three copies agree, no negative balance
            for company_id, _, _ in self.companies:
                c = self.s.execute(
                    select(Company.total_shares, Company.treasury_shares).where(Company.id == company_id)
                ).one()
                held = self.s.execute(
                    select(func.coalesce(func.sum(Holding.shares), 0)).where(Holding.company_id == company_id)
                ).scalar_one()
                assert c.treasury_shares + held == c.total_shares
            assert self.s.execute(select(func.count()).select_from(Holding).where(Holding.shares < 0)).scalar_one() == 0

    MarketMachine.TestCase.settings = settings(
        max_examples=15,
        stateful_step_count=25,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    return MarketMachine, engine


def test_market_state_machine(db_url):
    stats: dict = {}
    machine, engine = make_machine(db_url, stats)
    try:
        machine.TestCase().runTest()
    finally:
        engine.dispose()
    assert stats.get("buy", 0) >= 1 and stats.get("sell", 0) >= 1, stats  # the machine really traded
