"""A Hypothesis state machine over trades, price ticks, marketplace runs, loans (borrow, repay, days passing:
interest and defaults) and players' purchases. After every step: cash sums to zero (and the reconciliation's
sums agree), the three copies agree and no account is below its floor; shares are conserved per company; no
holding below zero; every loan's books balance (principal + interest = repaid + collected + written off + what
is still owed, which is its account's balance below zero, its floor minus principal + interest while open, 0
once closed); every unit sold but the public's is in a collection, at what the ledger says it cost. A buy
followed at once by selling the same shares never gains cash, a purchase never raises the buyer's net worth, a
refusal changes nothing."""

from __future__ import annotations

import random
from datetime import timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from sqlalchemy import func, select
from sqlmodel import Session

from economy_app.db import make_engine
from economy_app.models import Account, CollectionItem, Company, Holding, LedgerEntry, Loan, Product, utcnow
from economy_app.services import (
    accounts,
    companies,
    ledger,
    loans,
    marketplace_run,
    products,
    purchases,
    reconciliation,
    stock_trading,
    users,
)
from economy_app.services._tx import unit
from economy_app.services.errors import DebtOutstanding, EconomyError
from tests.support.db import check_invariants, fingerprint, wipe


def purchase(s, **kwargs):
    """A player's purchase (counted apart from stock buys)."""
    return purchases.buy(s, **kwargs)


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
            self.keys = 0
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
            # trader2 starts in debt (the rules may repay it, let it default, borrow again): every example
            # reaches the loans' states, not only those that happen to draw a successful borrow first.
            loans.take(self.s, user_id=self.players[2][0], amount=1_000_000, idempotency_key="loan-0", now=self.clock)
            stats["take"] = stats.get("take", 0) + 1

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

        @rule(data=st.data(), amount=st.sampled_from([100, 12_345, 1_000_000, 9_999_999, 50_000_000, 50_000_001]))
        def borrow(self, data, amount):
            actor, _ = data.draw(st.sampled_from(self.players))
            self.keys += 1
            self.attempt(loans.take, user_id=actor, amount=amount, idempotency_key=f"loan-{self.keys}")

        def debtors(self):
            return [p for p in self.players if loans.owes(self.s, p[0])]

        @precondition(lambda self: self.debtors())
        @rule(data=st.data(), percent=st.integers(min_value=1, max_value=110))
        def repay(self, data, percent):
            actor, _ = data.draw(st.sampled_from(self.debtors()))
            loan = loans.current(self.s, actor)
            amount = max(1, (loan.debt if loan else 1_000) * percent // 100)
            self.attempt(loans.repay, user_id=actor, amount=amount)

        @rule(hours=st.integers(min_value=1, max_value=200))
        def time_passes(self, hours):
            """Days go by: the loans job charges the interest that fell due and defaults what is past due."""
            self.clock += timedelta(hours=hours)
            result = loans.run_due(self.s, now=self.clock)
            stats["defaults"] = stats.get("defaults", 0) + result.defaults
            stats["interest"] = stats.get("interest", 0) + result.interest

        @precondition(lambda self: self.debtors())
        @rule()
        def due_dates_pass(self):
            """A week and a day: every open loan is charged its last days and, still owing, defaults."""
            self.clock += timedelta(days=8)
            result = loans.run_due(self.s, now=self.clock)
            assert not self.debtors() and result.defaults >= 1
            stats["defaults"] = stats.get("defaults", 0) + result.defaults
            stats["interest"] = stats.get("interest", 0) + result.interest

        @rule(data=st.data(), units=st.integers(min_value=1, max_value=400))
        def buy_product(self, data, units):
            """A purchase never raises the buyer's net worth: from another player's company it costs the price,
            from their own company it moves money between their pockets and pays the production cost."""
            actor, account = data.draw(st.sampled_from(self.trader_accounts()))
            product_id, price = data.draw(
                st.sampled_from(self.s.execute(select(Product.id, Product.price_cents).order_by(Product.id)).all())
            )
            worth = accounts.dashboard(self.s, actor).net_worth
            self.attempt(
                purchase, actor_id=actor, account_id=account, product_id=product_id, units=units, price_cents=price
            )
            assert accounts.dashboard(self.s, actor).net_worth <= worth, "a purchase raised the buyer's net worth"

        @rule(data=st.data(), amount=st.integers(min_value=1, max_value=200_000))
        def pay_someone(self, data, amount):
            """Any account pays any other: refused from a player who owes the bank to another player."""
            actor, source = data.draw(st.sampled_from(self.trader_accounts()))
            _, target = data.draw(st.sampled_from(self.trader_accounts()))
            before = fingerprint(engine)
            try:
                accounts.transfer(self.s, actor_id=actor, from_account_id=source, to_account_id=target, amount=amount)
                stats["transfer"] = stats.get("transfer", 0) + 1
            except EconomyError as e:
                assert fingerprint(engine) == before
                if isinstance(e, DebtOutstanding):
                    assert loans.owes(self.s, actor)

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
            assert reconciliation.money_totals(self.s).zero and reconciliation.reconcile(self.s) == []
            # Players' units are every unit sold but the public's, and their collections hold exactly those,
            # at what the ledger says they paid.
            bought = dict(
                self.s.execute(
                    select(CollectionItem.product_id, func.sum(CollectionItem.units)).group_by(
                        CollectionItem.product_id
                    )
                ).all()
            )
            for product_id, sold, public in self.s.execute(
                select(Product.id, Product.units_sold, Product.public_units)
            ):
                assert sold - public == bought.get(product_id, 0), f"product {product_id}: collections disagree"
            paid = self.s.execute(select(func.coalesce(func.sum(CollectionItem.paid_cents), 0))).scalar_one()
            spent = self.s.execute(
                select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(LedgerEntry.type == "product_purchase")
            ).scalar_one()
            assert paid == spent, f"collections paid {paid}, the ledger's purchases {spent}"
            for loan in self.s.execute(select(Loan)).scalars():
                balance = accounts.get_balance(self.s, loan.account_id)
                floor = self.s.execute(select(Account.floor).where(Account.id == loan.account_id)).scalar_one()
                owing = -balance
                assert loan.principal_cents + loan.interest_cents == (
                    loan.repaid_cents + loan.collected_cents + loan.written_off_cents + owing
                ), f"loan {loan.id}'s books do not balance"
                if loan.status == "open":
                    assert owing > 0 and floor == -(loan.principal_cents + loan.interest_cents)
                    assert loan.collected_cents == loan.written_off_cents == 0
                else:
                    assert balance == 0 and floor == 0
                    assert (loan.status == "defaulted") or (loan.collected_cents == loan.written_off_cents == 0)
            self.s.commit()

    MarketMachine.TestCase.settings = settings(
        max_examples=15,
        derandomize=True,  # the same programs every run: the coverage asserted below never depends on luck
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
    assert stats.get("take", 0) >= 2 and stats.get("repay", 0) >= 1 and stats.get("defaults", 0) >= 1, stats
    assert stats.get("interest", 0) > 0 and stats.get("purchase", 0) >= 1, stats
