"""A Hypothesis state machine over trades, price ticks and marketplace runs, and (issue 16) dividends, gifts of
shares and companies changing hands. After every step: cash sums to zero and the three copies agree; shares are
conserved per company; no holding and no non-system balance below zero; nobody holds their own company's shares
but the stake the IPO gave its founder (never in a company's account, never after the company changed hands);
the net worths of all players never add up to more than the cash there is. A buy followed at once by selling the
same shares never gains cash, a dividend in between included."""

from __future__ import annotations

import random
from datetime import timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from sqlalchemy import func, select
from sqlmodel import Session

from economy_app.db import make_engine
from economy_app.models import Account, Balance, Company, CompanyListing, Holding, utcnow
from economy_app.services import (
    accounts,
    companies,
    company_sales,
    dividends,
    ledger,
    marketplace_run,
    products,
    share_transfers,
    stock_trading,
    users,
)
from economy_app.services._tx import unit
from economy_app.services.errors import EconomyError
from tests.support.db import check_invariants, fingerprint, wipe

refused: dict = {}


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

        def owner(self, account: int) -> int:
            return self.s.execute(select(Account.owner_id).where(Account.id == account)).scalar_one()

        def trader_accounts(self):
            """(actor, account) pairs: personal accounts and company accounts, each with its owner (now)."""
            return self.players + [(self.owner(account), account) for _, account, _ in self.companies]

        def attempt(self, fn, **kwargs):
            before = fingerprint(engine)
            try:
                result = fn(self.s, now=self.tick(), **kwargs)
                stats[fn.__name__] = stats.get(fn.__name__, 0) + 1
                return result
            except EconomyError as e:
                refused[f"{fn.__name__}: {type(e).__name__}"] = refused.get(f"{fn.__name__}: {type(e).__name__}", 0) + 1
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

        @rule(data=st.data(), part=st.integers(min_value=1, max_value=1000))
        def dividend(self, data, part):
            """An owner declares part of what may go out now (or, 1 time in 5, more than that: refused)."""
            company = data.draw(st.sampled_from(self.companies))[0]
            c = self.s.get(Company, company)
            self.s.refresh(c)
            most = dividends.owner_view(self.s, company).max_cents
            total = max(1, most * part // 1000) if data.draw(st.integers(0, 4)) else most + part
            worth = {user: accounts.dashboard(self.s, user).net_worth for user, _ in self.players}
            plan = self.attempt(dividends.declare, actor_id=c.owner_id, company_id=company, total_cents=total)
            if plan is not None:  # ex-dividend: nobody's net worth moves (a micro-dollar a share, a cent a holding)
                for user, before in worth.items():
                    after = accounts.dashboard(self.s, user).net_worth
                    assert abs(after - before) <= plan.shares // 10_000 + 2 * len(plan.payees), (user, before, after)

        @rule(data=st.data(), shares=st.integers(min_value=1, max_value=50_000), part=st.integers(1, 1000))
        def dividend_round_trip(self, data, shares, part):
            """Buy just before a dividend, sell just after: never a gain."""
            public = self.s.execute(select(Company.id, Company.owner_id).where(Company.is_public.is_(True))).all()
            if not public:
                return
            company, owner = data.draw(st.sampled_from(public))
            holders = set(
                self.s.execute(select(Holding.account_id).where(Holding.company_id == company, Holding.shares > 0))
                .scalars()
                .all()
            )
            traders = [p for p in self.players if p[0] != owner and p[1] not in holders]  # nothing else paid to them
            if not traders:
                return
            actor, account = data.draw(st.sampled_from(traders))
            cash = accounts.get_balance(self.s, account)
            trade = dict(actor_id=actor, account_id=account, company_id=company, shares=shares)
            if self.attempt(stock_trading.buy, **trade) is None:
                return
            most = dividends.owner_view(self.s, company).max_cents
            self.attempt(dividends.declare, actor_id=owner, company_id=company, total_cents=max(1, most * part // 1000))
            if self.attempt(stock_trading.sell, **trade) is not None:
                assert accounts.get_balance(self.s, account) <= cash, "a dividend round trip made money"

        @rule(data=st.data(), fraction=st.integers(min_value=1, max_value=100))
        def gift(self, data, fraction):
            """Mostly an investor's gift (one buys first when nobody holds shares of a company they don't own); 1 time
            in 4 any holding (the owner's stake: refused)."""
            query = (
                select(Holding.company_id, Holding.account_id, Holding.shares, Account.owner_id, Company.owner_id)
                .join(Account, Account.id == Holding.account_id)
                .join(Company, Company.id == Holding.company_id)
                .where(Holding.shares > 0)
            )
            investors = data.draw(st.integers(0, 3)) > 0
            holdings = [h for h in self.s.execute(query) if h[3] != h[4] or not investors]
            if not holdings and investors:
                public = self.s.execute(select(Company.id, Company.owner_id).where(Company.is_public.is_(True))).all()
                if not public:
                    return
                company, owner = data.draw(st.sampled_from(public))
                actor, account = data.draw(st.sampled_from([p for p in self.players if p[0] != owner]))
                self.attempt(stock_trading.buy, actor_id=actor, account_id=account, company_id=company, shares=1_000)
                holdings = [h for h in self.s.execute(query) if h[3] != h[4]]
            if not holdings:
                return
            company, account, held, _, _ = data.draw(st.sampled_from(holdings))
            to = data.draw(st.sampled_from([a for _, a in self.trader_accounts() if a != account]))
            self.attempt(
                share_transfers.give,
                actor_id=self.owner(account),
                from_account_id=account,
                to_account_id=to,
                company_id=company,
                shares=max(1, held * fraction // 100),
            )

        @rule(data=st.data(), price=st.integers(min_value=1, max_value=3_000_000), haggle=st.booleans())
        def company_changes_hands(self, data, price, haggle):
            """An owner lists a company; another player takes the price, or offers less and the owner accepts."""
            company, company_account, _ = data.draw(st.sampled_from(self.companies))
            seller = self.owner(company_account)
            buyer, personal = data.draw(st.sampled_from([p for p in self.players if p[0] != seller]))
            pay = data.draw(
                st.sampled_from(
                    [personal] + [a for _, a, _ in self.companies if a != company_account and self.owner(a) == buyer]
                )
            )
            listing = self.attempt(
                company_sales.list_company, actor_id=seller, company_id=company, price_cents=price, days=1
            )
            if listing is None:
                return
            if haggle:
                offer = self.attempt(
                    company_sales.make_offer,
                    actor_id=buyer,
                    listing_id=listing.id,
                    price_cents=max(1, price // 2),
                    pay_account_id=pay,
                )
                if offer is not None:
                    self.attempt(company_sales.accept, actor_id=seller, offer_id=offer)
            else:
                self.attempt(company_sales.buy_now, actor_id=buyer, listing_id=listing.id, pay_account_id=pay)
            self.s.expire_all()
            if self.s.get(CompanyListing, listing.id).status == "open":
                self.attempt(company_sales.withdraw, actor_id=seller, listing_id=listing.id)

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
            self.s.expire_all()
            for company_id, company_account, _ in self.companies:
                c = self.s.get(Company, company_id)
                held = self.s.execute(
                    select(Account.id, Account.kind, Holding.shares)
                    .join(Account, Account.id == Holding.account_id)
                    .where(Holding.company_id == company_id, Holding.shares > 0, Account.owner_id == c.owner_id)
                ).all()
                # The owner's shares: only the IPO stake, in their personal account (it goes with the company).
                for account, kind, shares in held:
                    assert account != company_account, "a company holds its own shares"
                    assert kind == "personal" and shares <= 200_000, (company_id, account, kind, shares)
            # Net worths never add up to more than the cash there is.
            cash = self.s.execute(
                select(func.coalesce(func.sum(Balance.balance), 0))
                .join(Account, Account.id == Balance.account_id)
                .where(Account.kind != "system")
            ).scalar_one()
            worth = sum(accounts.dashboard(self.s, user).net_worth for user, _ in self.players)
            assert worth <= cash, (worth, cash)

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
    # ... and paid dividends, gave shares and sold companies
    assert stats.get("declare", 0) >= 1 and stats.get("give", 0) >= 1, (stats, refused)
    assert stats.get("buy_now", 0) + stats.get("accept", 0) >= 1, stats
