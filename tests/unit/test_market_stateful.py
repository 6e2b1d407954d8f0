"""A Hypothesis state machine over trades, price ticks, marketplace runs, loans (borrow, repay, days passing:
interest and defaults), players' purchases and (issue 16) dividends, gifts of shares and companies changing
hands. After every step: cash sums to zero (and the reconciliation's sums agree), the three copies agree and no
account is below its floor; shares are conserved per company; no holding below zero; every loan's books balance
(principal + interest = repaid + collected + written off + what is still owed, which is its account's balance
below zero, its floor minus principal + interest while open, 0 once closed); every unit sold but the public's is
in a collection, at what the ledger says it cost; nobody holds their own company's shares but the stake the IPO
gave its founder (never in a company's account, never after the company changed hands); the net worths of all
players never add up to more than the cash there is. A buy followed at once by selling the same shares never
gains cash, a dividend in between included; a purchase never raises the buyer's net worth; a refusal changes
nothing."""

from __future__ import annotations

import random
from datetime import timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from sqlalchemy import func, select
from sqlmodel import Session

from economy_app.db import make_engine
from economy_app.models import (
    Account,
    Balance,
    CollectionItem,
    Company,
    CompanyListing,
    Holding,
    LedgerEntry,
    Loan,
    Product,
    utcnow,
)
from economy_app.services import (
    accounts,
    companies,
    company_sales,
    dividends,
    ledger,
    loans,
    marketplace_run,
    products,
    purchases,
    reconciliation,
    share_transfers,
    stock_trading,
    users,
)
from economy_app.services._tx import unit
from economy_app.services.errors import DebtOutstanding, EconomyError
from tests.support.db import check_invariants, fingerprint, wipe
from tests.support.fixed_programs import without_local_constants

refused: dict = {}


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
            self.s.commit()

    MarketMachine.TestCase.settings = settings(
        max_examples=15,
        derandomize=True,  # with the run below without local constants: the same programs every run,
        # whatever ran before it, so the coverage asserted below never depends on luck (tests/support/fixed_programs.py)
        stateful_step_count=25,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    return MarketMachine, engine


def test_market_state_machine(db_url):
    stats: dict = {}
    machine, engine = make_machine(db_url, stats)
    try:
        with without_local_constants():
            machine.TestCase().runTest()
    finally:
        engine.dispose()
    assert stats.get("buy", 0) >= 1 and stats.get("sell", 0) >= 1, stats  # the machine really traded
    assert stats.get("take", 0) >= 2 and stats.get("repay", 0) >= 1 and stats.get("defaults", 0) >= 1, stats
    assert stats.get("interest", 0) > 0 and stats.get("purchase", 0) >= 1, stats
    # ... and paid dividends, gave shares and sold companies
    assert stats.get("declare", 0) >= 1 and stats.get("give", 0) >= 1, (stats, refused)
    assert stats.get("buy_now", 0) + stats.get("accept", 0) >= 1, stats
