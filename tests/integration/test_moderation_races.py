"""A freeze racing the postings it must stop, on PostgreSQL (READ COMMITTED, many connections at once).

SQLite needs none of this: every write unit holds the database's write lock. On PostgreSQL the freeze and a
posting interleave, and each test makes the dangerous interleaving happen for sure by holding one side's
transaction open until the other is seen waiting on a lock:

- a transfer holds its transaction open (posted, not committed): the freeze waits, and the transfer commits
  before it;
- a freeze holds its transaction open: the transfer (post), a batch (post_many) or a sale waits, and is refused
  once the freeze commits: it re-reads the row it locked as committed, never the freeze-less one it first saw;
- a company frozen after the marketplace run planned (and before its posting locked the accounts): the run
  does not fail, it plans again without the company.

Either way the transfer commits before the freeze or is refused: never after it.
"""

from __future__ import annotations

import random
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from economy_app.models import LedgerEntry, utcnow
from economy_app.services import (
    accounts,
    companies,
    ledger,
    marketplace_run,
    moderation,
    operations,
    products,
    stock_trading,
    users,
)
from economy_app.services._tx import unit
from economy_app.services.errors import AccountFrozen, TradingHalted
from tests.support.db import check_invariants, take_public
from tests.support.threads import done_or_waiting_on_a_lock, in_thread

pytestmark = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)

REASON = "Looking into it"


@pytest.fixture
def world(engine):
    with Session(engine, expire_on_commit=False) as s:
        admin = users.create_user(s, "root", "correct horse", role="admin").id
        ids = {}
        for name in ("alice", "bob", "carol"):
            user = users.create_user(s, name, "correct horse").id
            ids[name] = (user, accounts.initialize_account(s, user).id)
        bolt = companies.create_company(s, owner_id=ids["carol"][0], name="Bolt", ticker="BOLT")
        take_public(s, bolt.id, bolt.account_id)
        stock_trading.buy(s, actor_id=ids["alice"][0], account_id=ids["alice"][1], company_id=bolt.id, shares=50)
    return dict(admin=admin, alice=ids["alice"], bob=ids["bob"], carol=ids["carol"], bolt=bolt)


def _entries_of(engine, account: int) -> int:
    with engine.connect() as conn:
        return conn.execute(
            select(func.count())
            .select_from(LedgerEntry)
            .where((LedgerEntry.from_account_id == account) | (LedgerEntry.to_account_id == account))
        ).scalar_one()


def test_a_transfer_in_flight_commits_before_the_freeze(engine, world):
    (alice, a), (_, b) = world["alice"], world["bob"]
    before = _entries_of(engine, a)
    posted, release = threading.Event(), threading.Event()

    def transfer_held_open():
        with Session(engine) as s, unit(s, write=True):
            accounts.transfer(s, actor_id=alice, from_account_id=a, to_account_id=b, amount=1_000)
            posted.set()
            assert release.wait(20)

    sender = in_thread(transfer_held_open)
    assert posted.wait(10)

    def freeze():
        with Session(engine) as s:
            operations.freeze(s, actor_id=world["admin"], kind="player", target_id=alice, reason=REASON)

    freezer = in_thread(freeze)
    assert done_or_waiting_on_a_lock(engine, freezer)  # the freeze waits for the transfer's locks
    release.set()
    sender.join(20)
    freezer.join(20)
    assert sender.errors == [] and freezer.errors == []
    assert _entries_of(engine, a) == before + 1  # the transfer committed, before the freeze
    with Session(engine) as s:
        assert moderation.owner(s, alice).frozen
        with pytest.raises(AccountFrozen):
            accounts.transfer(s, actor_id=alice, from_account_id=a, to_account_id=b, amount=1_000)
    check_invariants(engine)


def _attempts(world):
    (alice, a), (_, b) = world["alice"], world["bob"]
    mint_to = world["carol"][1]
    return {
        "transfer": lambda s: accounts.transfer(s, actor_id=alice, from_account_id=a, to_account_id=b, amount=1_000),
        "post_many": lambda s: _in_unit(
            s,
            lambda: ledger.post_many(
                s,
                [
                    ledger.Posting(accounts.system_account_id(s), mint_to, 10, "adjustment"),
                    ledger.Posting(a, b, 10, "transfer"),
                ],
            ),
        ),
        "sell": lambda s: stock_trading.sell(s, actor_id=alice, account_id=a, company_id=world["bolt"].id, shares=5),
    }


def _in_unit(s, fn):
    with unit(s, write=True):
        return fn()


def _behind(engine, held, attempt) -> list[BaseException]:
    """Run ``held(s)`` in a write unit held open, then ``attempt(s)`` in another session, which must come to wait
    on a lock ``held`` took; release, and return what ``attempt`` raised (``held`` must raise nothing)."""
    done, release = threading.Event(), threading.Event()

    def held_open():
        with Session(engine) as s, unit(s, write=True):
            held(s)
            done.set()
            assert release.wait(20)

    holder = in_thread(held_open)
    assert done.wait(10)

    def attempt_in_a_session():
        with Session(engine) as s:
            attempt(s)

    waiter = in_thread(attempt_in_a_session)
    assert done_or_waiting_on_a_lock(engine, waiter)  # it saw nothing of ``held`` yet, and waits on its locks
    release.set()
    holder.join(20)
    waiter.join(20)
    assert holder.errors == []
    return waiter.errors


def _freeze(kind: str, target_id: int):
    def held(s):
        moderation.set_frozen(s, moderation.target(s, kind, target_id), freeze=moderation.new_freeze(REASON, "root"))

    return held


@pytest.mark.parametrize("path", ["transfer", "post_many", "sell"])
def test_a_posting_waiting_on_a_freeze_is_refused_once_it_commits(engine, world, path):
    alice, a = world["alice"]
    with Session(engine) as s:
        before = (_entries_of(engine, a), accounts.get_balance(s, a))
    errors = _behind(engine, _freeze("player", alice), _attempts(world)[path])  # it waits on alice's rows
    assert len(errors) == 1 and isinstance(errors[0], AccountFrozen), errors
    assert str(errors[0]) == f"This account is frozen by an admin: {REASON}."
    with Session(engine) as s:
        assert (_entries_of(engine, a), accounts.get_balance(s, a)) == before
    check_invariants(engine)


HALTED = {
    "buy": "Bolt's shares can't be bought right now: trading is halted.",
    "sell": "Bolt can't buy back shares right now: trading is halted.",
}


@pytest.mark.parametrize("side", ["buy", "sell"])
def test_a_trade_waiting_on_a_company_freeze_is_refused_once_it_commits(engine, world, side):
    """A frozen company neither pays nor is paid for its shares: a trade that saw no freeze and waits on the
    company's rows behind the freeze is refused once the freeze commits, moves nothing, and tells the trader (who
    does not own the company) no admin's reason."""
    player, b = world["bob"] if side == "buy" else world["alice"]  # alice holds 50 shares
    bolt = world["bolt"]
    with Session(engine) as s:
        before = (_entries_of(engine, b), accounts.get_balance(s, b))

    def trade(s):
        fn = stock_trading.buy if side == "buy" else stock_trading.sell
        fn(s, actor_id=player, account_id=b, company_id=bolt.id, shares=10)

    errors = _behind(engine, _freeze("company", bolt.id), trade)  # it waits on Bolt's rows, in the posting
    assert len(errors) == 1 and isinstance(errors[0], TradingHalted), errors
    assert str(errors[0]) == HALTED[side]
    with Session(engine) as s:
        assert (_entries_of(engine, b), accounts.get_balance(s, b)) == before
    check_invariants(engine)


def test_a_company_frozen_while_the_marketplace_plans_is_left_out(engine, world, monkeypatch):
    """The run reads the products on sale, then an admin freezes a seller (committed before the run's posting
    locks the accounts): the run still succeeds, without that seller."""
    (alice, _), (bob, _) = world["alice"], world["bob"]
    with Session(engine, expire_on_commit=False) as s:
        sellers = {}
        for owner, ticker in ((alice, "ACME"), (bob, "BETA")):
            c = companies.create_company(s, owner_id=owner, name=ticker.title(), ticker=ticker)
            products.create_product(
                s,
                actor_id=owner,
                company_id=c.id,
                name="Thing",
                price_cents=2_000,
                rng=random.Random(1),
                now=utcnow() - timedelta(hours=1),
            )
            sellers[ticker] = c
    planned = []
    real_plan = marketplace_run.plan

    def plan_then_freeze(s, **kwargs):
        p = real_plan(s, **kwargs)
        if not planned:  # the first plan still holds ACME: freeze it now, from another admin's session
            with Session(engine) as other:
                operations.freeze(
                    other, actor_id=world["admin"], kind="company", target_id=sellers["ACME"].id, reason=REASON
                )
        planned.append(sorted(p.company_ids.tolist()))
        return p

    monkeypatch.setattr(marketplace_run, "plan", plan_then_freeze)
    with Session(engine) as s:
        result = marketplace_run.run_batch(s, rng=random.Random(3))
    assert planned == [sorted([sellers["ACME"].id, sellers["BETA"].id]), [sellers["BETA"].id]]
    assert result.company_ids == [sellers["BETA"].id] and result.ledger_rows == 2
    with engine.connect() as conn:
        paid = set(
            conn.execute(select(LedgerEntry.to_account_id).where(LedgerEntry.type == "marketplace_batch")).scalars()
        )
    assert sellers["ACME"].account_id not in paid and sellers["BETA"].account_id in paid
    check_invariants(engine)


def _scopes(engine, *account_ids) -> dict:
    with Session(engine) as s:
        facts = moderation.account_facts(s, account_ids)
    return {i: (f.freeze.scope, f.freeze.reason) if f.freeze else None for i, f in facts.items()}


def _set(kind: str, target_id: int, reason: str | None):
    """A freeze (``reason``) or an unfreeze (None) of ``kind`` ``target_id``, as ``operations.freeze`` makes it."""

    def held(s):
        freeze = moderation.new_freeze(reason, "root") if reason else None
        return moderation.set_frozen(s, moderation.target(s, kind, target_id), freeze=freeze)

    return held


@pytest.mark.parametrize(
    "before, held, attempt, after",
    [
        # Unfreezing the player (Acme's own freeze stays) while Acme's own freeze is lifted: Acme does not take
        # back a player freeze that is gone; nothing stays frozen.
        (
            [("company", "Launders"), ("player", "Spam")],
            ("player", None),
            ("company", None),
            {"alice": None, "Acme": None},
        ),
        # Freezing the player while Acme's own freeze is lifted: Acme stays frozen, with its owner.
        (
            [("company", "Launders")],
            ("player", "Spam"),
            ("company", None),
            {"alice": ("player", "Spam"), "Acme": ("player", "Spam")},
        ),
        # Acme's own freeze, given over the player's, while the player is unfrozen: Acme stays frozen on its own.
        (
            [("player", "Spam")],
            ("company", "Launders"),
            ("player", None),
            {"alice": None, "Acme": ("company", "Launders")},
        ),
    ],
)
def test_a_player_and_a_company_freeze_changing_at_once_apply_one_after_the_other(
    engine, world, before, held, attempt, after
):
    """Two admins at once, one on the player, one on the company: the second waits for the first (both lock the
    player's ``users`` row first) and reads what it left, so the outcome is the one of the two in that order."""
    alice, personal = world["alice"]
    with Session(engine, expire_on_commit=False) as s:
        acme = companies.create_company(s, owner_id=alice, name="Acme", ticker="ACME")
        for kind, reason in before:
            target = alice if kind == "player" else acme.id
            operations.freeze(s, actor_id=world["admin"], kind=kind, target_id=target, reason=reason)
    ids = {"player": alice, "company": acme.id}
    kind, reason = attempt

    def attempt_(s):
        operations.freeze(
            s, actor_id=world["admin"], kind=kind, target_id=ids[kind], reason=reason or "Cleared", frozen=bool(reason)
        )

    assert _behind(engine, _set(held[0], ids[held[0]], held[1]), attempt_) == []
    scopes = _scopes(engine, personal, acme.account_id)
    assert {"alice": scopes[personal], "Acme": scopes[acme.account_id]} == after
    check_invariants(engine)
