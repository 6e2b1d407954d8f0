"""A hostile player's view of loans, with a friend (issue 17; found on branch atk-17, tests/attack there): two
colluding players must not come out of a default richer than they went in, together. Whatever the bank writes off
must not be in their hands.

- A debtor pays a friend by buying shares of his public company, which he then empties: a debtor buys no shares
  (``stock_trading.buy`` asks the loans service, under the player's lock).
- A debtor pumps her own public company with borrowed money (a transfer, or buying her own product), its price
  follows, and a friend sells his shares back out of the borrowed money: a debtor puts no money into a public
  company, not even her own.
- As a property: any sequence of the pair's actions while one owes, then the default: the pair's net worth is no
  higher than before the loan.

Scene helpers: money from the mint for setting a scene, a public company, a group's net worth (the dashboard's
figure, summed) and cash (personal and company accounts)."""

from __future__ import annotations

import itertools
import random
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import update

from economy_app.models import Product, utcnow
from economy_app.services import accounts, companies, ledger, loans, products, purchases, stock_trading, users
from economy_app.services._tx import unit
from economy_app.services.errors import DebtOutstanding, EconomyError
from tests.support.db import check_invariants

T0 = utcnow().replace(microsecond=0) - timedelta(days=60)
DAY = timedelta(days=1)


def fund(session, account_id: int, cents: int) -> None:
    """Set-up only: money from the mint, as the public's purchases would pay it."""
    with unit(session, write=True):
        ledger.post(
            session,
            from_account_id=accounts.system_account_id(session),
            to_account_id=account_id,
            amount=cents,
            type="adjustment",
        )


def public_company(session, make_company, owner: int, ticker: str, cash: int) -> tuple[int, int]:
    company, account = make_company(owner, ticker)
    fund(session, account, cash)
    assert companies.check_and_update_public_status(session, company, now=T0 - DAY)
    return company, account


def worth(session, *users: int) -> int:
    """The game's net worth of these players, summed (the dashboard's figure)."""
    return sum(accounts.dashboard(session, u).net_worth for u in users)


def cash(session, *users: int) -> int:
    """Cash in the players' personal and company accounts (loan accounts left out)."""
    return sum(
        v.balance for u in users for v in accounts.list_accounts(session, u) if v.kind in ("personal", "company")
    )


# --------------------------------------------------------------------------- through a friend's shares

SHARES_LOAN = 10_000_000  # $100,000.00


def test_a_debtor_cannot_buy_a_friends_shares(session, make_player, make_company):
    alice, _ = make_player("alice")
    bob, _ = make_player("bob")
    bob_co, _ = public_company(session, make_company, bob, "BOB", 6_000_000)
    alice_personal = accounts.list_accounts(session, alice)[0].id
    loans.take(session, user_id=alice, amount=SHARES_LOAN, idempotency_key="k", now=T0)
    try:
        stock_trading.buy(
            session, actor_id=alice, account_id=alice_personal, company_id=bob_co, shares=100_000, now=T0 + DAY
        )
    except DebtOutstanding:
        return  # the rule holds: a debtor's money stays where a default can collect it
    raise AssertionError("a player who owes the bank paid another player's company for shares")


def test_borrow_buy_a_friends_shares_drain_default_mints_nothing(session, engine, make_player, make_company):
    alice, _ = make_player("alice")
    bob, _ = make_player("bob")
    bob_co, bob_co_account = public_company(session, make_company, bob, "BOB", 6_000_000)
    alice_personal = accounts.list_accounts(session, alice)[0].id
    bob_personal = accounts.list_accounts(session, bob)[0].id
    before = worth(session, alice, bob)
    cash_before = cash(session, alice, bob)

    loans.take(session, user_id=alice, amount=SHARES_LOAN, idempotency_key="k", now=T0)
    bought = False
    try:  # ~$108,000 of BOB: alice's cash, borrowed and her own, into bob's company
        stock_trading.buy(
            session, actor_id=alice, account_id=alice_personal, company_id=bob_co, shares=160_000, now=T0 + DAY
        )
        bought = True
    except DebtOutstanding:
        pass
    if bought:  # bob takes his company's cash: it now holds alice's money
        drained = accounts.get_balance(session, bob_co_account)
        accounts.transfer(
            session, actor_id=bob, from_account_id=bob_co_account, to_account_id=bob_personal, amount=drained
        )
    result = loans.run_due(session, now=T0 + 7 * DAY)
    assert result.defaults == 1
    check_invariants(engine)

    # Borrowing and defaulting must leave the pair no richer, in cash or in net worth, than they started;
    # whatever the bank writes off must not be in their hands.
    gained_cash = cash(session, alice, bob) - cash_before
    gained_worth = worth(session, alice, bob) - before
    assert gained_cash <= 0 and gained_worth <= 0, (
        f"written off {result.written_off / 100:,.2f}; the pair's cash {gained_cash / 100:+,.2f}, "
        f"net worth {gained_worth / 100:+,.2f}"
    )


# --------------------------------------------------------------------------- through her own public company

LOAN = 50_000_000  # $500,000.00, the most one may borrow


@pytest.mark.parametrize("door", ["transfer", "purchase"])
def test_borrowed_money_in_a_debtors_public_company_cannot_be_paid_out_to_a_friend(
    session, engine, make_player, make_company, door
):
    """The money goes in by a transfer to her company, or by buying her own product (the price to her
    company, the production cost to the mint: a founder's purchase is allowed while she owes)."""
    alice, alice_personal = make_player("alice")
    bob, bob_personal = make_player("bob")
    alice_co, alice_co_account = public_company(session, make_company, alice, "ALC", 6_000_000)
    fund(session, bob_personal, 10_000_000)  # bob earned $100,000 honestly
    stock_trading.buy(session, actor_id=bob, account_id=bob_personal, company_id=alice_co, shares=150_000, now=T0)
    before = worth(session, alice, bob)
    cash_before = cash(session, alice, bob)

    loans.take(session, user_id=alice, amount=LOAN, idempotency_key="k", now=T0)
    try:
        if door == "transfer":
            accounts.transfer(
                session, actor_id=alice, from_account_id=alice_personal, to_account_id=alice_co_account, amount=LOAN
            )
        else:
            lamp = products.create_product(
                session, actor_id=alice, company_id=alice_co, name="Lamp", price_cents=50_000, now=T0 - DAY
            )
            session.execute(update(Product).where(Product.id == lamp.id).values(cost_percent=23))
            session.commit()
            purchases.buy(
                session, actor_id=alice, account_id=alice_personal, product_id=lamp.id, units=1_000, price_cents=50_000
            )
    except DebtOutstanding:
        return  # a debtor's money may not go where other players can claim it: the hole is closed
    rng = random.Random(17)
    for _ in range(600):  # ~2 days of the price job (every 300 s by default)
        stock_trading.update_prices(session, rng=rng, now=T0 + DAY)
    stock_trading.sell(
        session, actor_id=bob, account_id=bob_personal, company_id=alice_co, shares=150_000, now=T0 + 6 * DAY
    )
    result = loans.run_due(session, now=T0 + 7 * DAY)
    assert result.defaults == 1
    check_invariants(engine)

    gained_cash = cash(session, alice, bob) - cash_before
    gained_worth = worth(session, alice, bob) - before
    assert gained_cash <= 0 and gained_worth <= 0, (
        f"written off {result.written_off / 100:,.2f}; the pair's cash {gained_cash / 100:+,.2f}, "
        f"net worth {gained_worth / 100:+,.2f}"
    )


# --------------------------------------------------------------------------- as a property

_n = itertools.count(1)

ACTIONS = st.lists(
    st.one_of(
        st.tuples(st.just("alice to her company"), st.integers(1, 100)),  # percent of her personal cash
        st.tuples(st.just("alice buys BOB"), st.integers(1_000, 300_000)),
        st.tuples(st.just("alice's company buys BOB"), st.integers(1_000, 300_000)),
        st.tuples(st.just("alice buys her product"), st.integers(1, 1_000)),
        st.tuples(st.just("alice pays bob"), st.integers(1, 1_000_000)),
        st.tuples(st.just("bob drains BOB"), st.just(0)),
        st.tuples(st.just("bob buys ALC"), st.integers(1_000, 100_000)),
        st.tuples(st.just("bob sells ALC"), st.just(0)),
        st.tuples(st.just("price ticks"), st.integers(1, 150)),
    ),
    max_size=8,
)


class NoNoise(random.Random):
    """The price job's dice without its noise: a tick moves the price only toward fair value (a random walk
    would move the shareholders' claims by luck, up or down, which the pair cannot steer)."""

    def randint(self, a: int, b: int) -> int:
        return 0


def _letters(n: int) -> str:
    return "".join(chr(65 + (n // 26**k) % 26) for k in range(3))


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: a failing sequence is short and shown as it is
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(actions=ACTIONS)
@example(actions=[("alice buys BOB", 300_000), ("bob drains BOB", 0)])  # through a friend's shares
@example(actions=[("alice to her company", 100), *[("price ticks", 150)] * 3, ("bob sells ALC", 0)])  # the pump
def test_a_pair_is_never_richer_after_a_default(session, actions):
    n = next(_n)
    alice = users.create_user(session, f"alice{n}", "correct horse").id
    alice_personal = accounts.initialize_account(session, alice).id
    bob = users.create_user(session, f"bob{n}", "correct horse").id
    bob_personal = accounts.initialize_account(session, bob).id
    made = []
    for owner, ticker in ((alice, "A" + _letters(n)), (bob, "B" + _letters(n))):
        c = companies.create_company(session, owner_id=owner, name=f"Company {ticker}", ticker=ticker)
        fund(session, c.account_id, 6_000_000)
        assert companies.check_and_update_public_status(session, c.id, now=T0 - DAY)
        made.append((c.id, c.account_id))
    (alc, alc_account), (bobco, bob_account) = made
    lamp = products.create_product(
        session, actor_id=alice, company_id=alc, name="Lamp", price_cents=2_500, now=T0 - DAY, rng=random.Random(n)
    )
    fund(session, bob_personal, 10_000_000)
    clock = itertools.count(1)

    def at():
        return T0 + timedelta(seconds=10 * next(clock))

    stock_trading.buy(session, actor_id=bob, account_id=bob_personal, company_id=alc, shares=100_000, now=at())
    before = worth(session, alice, bob)

    loans.take(session, user_id=alice, amount=LOAN, idempotency_key=f"k{n}", now=T0 + DAY)
    rng = NoNoise()
    for what, x in actions:
        try:
            if what == "alice to her company":
                amount = accounts.get_balance(session, alice_personal) * x // 100
                if amount:
                    accounts.transfer(
                        session,
                        actor_id=alice,
                        from_account_id=alice_personal,
                        to_account_id=alc_account,
                        amount=amount,
                    )
            elif what == "alice buys BOB":
                stock_trading.buy(
                    session, actor_id=alice, account_id=alice_personal, company_id=bobco, shares=x, now=at()
                )
            elif what == "alice's company buys BOB":
                stock_trading.buy(session, actor_id=alice, account_id=alc_account, company_id=bobco, shares=x, now=at())
            elif what == "alice buys her product":
                purchases.buy(
                    session, actor_id=alice, account_id=alice_personal, product_id=lamp.id, units=x, price_cents=2_500
                )
            elif what == "alice pays bob":
                accounts.transfer(
                    session, actor_id=alice, from_account_id=alice_personal, to_account_id=bob_personal, amount=x
                )
            elif what == "bob drains BOB":
                cash = accounts.get_balance(session, bob_account)
                if cash:
                    accounts.transfer(
                        session, actor_id=bob, from_account_id=bob_account, to_account_id=bob_personal, amount=cash
                    )
            elif what == "bob buys ALC":
                stock_trading.buy(session, actor_id=bob, account_id=bob_personal, company_id=alc, shares=x, now=at())
            elif what == "bob sells ALC":
                held = stock_trading._held(session, alc, bob_personal)
                if held:
                    stock_trading.sell(
                        session, actor_id=bob, account_id=bob_personal, company_id=alc, shares=held, now=at()
                    )
            elif what == "price ticks":
                for _ in range(x):
                    stock_trading.update_prices(session, rng=rng, now=T0 + DAY)
        except EconomyError:
            pass  # a refusal: nothing changed
    loans.run_due(session, now=T0 + 8 * DAY)
    assert loans.current(session, alice) is None

    after = worth(session, alice, bob)
    assert after <= before + 10, f"{actions}: the pair's net worth {(after - before) / 100:+,.2f} after the default"
