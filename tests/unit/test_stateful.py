"""A Hypothesis state machine over the services, checking the ledger's promises after every step:

- the sum of all balances is 0;
- for every account: balances = accounts.balance = ledger inflows - outflows = last balance_after;
- no non-system balance below 0.

Rules: create a player, transfer (valid or not), replay an idempotency key, a bad amount, recalc, sync.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from sqlmodel import Session

from economy_app.db import make_engine
from economy_app.services import accounts, reconciliation, users
from economy_app.services.errors import (
    DuplicateRequest,
    InsufficientFunds,
    InvalidAmount,
    NotAccountOwner,
    SameAccount,
)
from tests.support.db import check_invariants, fingerprint, wipe


def make_machine(url: str):
    engine = make_engine(url)

    class LedgerMachine(RuleBasedStateMachine):
        @initialize()
        def fresh_database(self):
            wipe(engine)
            self.s = Session(engine, expire_on_commit=False)
            self.players: list[tuple[int, int]] = []  # (user_id, account_id)
            self.expected: dict[int, int] = {}  # what each player's balance must be
            self.keys: dict[str, tuple] = {}  # idempotency key -> transfer arguments
            self.n = 0

        def teardown(self):
            self.s.close()

        @rule()
        def create_player(self):
            self.n += 1
            user = users.create_user(self.s, f"player{self.n}", "correct horse")
            account = accounts.initialize_account(self.s, user.id)
            self.players.append((user.id, account.id))
            self.expected[account.id] = 1_000_000

        @precondition(lambda self: len(self.players) >= 1)
        @rule(data=st.data(), amount=st.integers(min_value=1, max_value=1_200_000), with_key=st.booleans())
        def transfer(self, data, amount, with_key):
            user_id, src = data.draw(st.sampled_from(self.players))
            _, dst = data.draw(st.sampled_from(self.players))
            key = f"k{len(self.keys)}" if with_key else None
            args = dict(actor_id=user_id, from_account_id=src, to_account_id=dst, amount=amount, idempotency_key=key)
            before = fingerprint(engine)
            if src == dst:
                with pytest.raises(SameAccount):
                    accounts.transfer(self.s, **args)
            elif amount > self.expected[src]:
                with pytest.raises(InsufficientFunds):
                    accounts.transfer(self.s, **args)
            else:
                accounts.transfer(self.s, **args)
                self.expected[src] -= amount
                self.expected[dst] += amount
                if key:
                    self.keys[key] = args
                return
            assert fingerprint(engine) == before

        @precondition(lambda self: len(self.keys) >= 1)
        @rule(data=st.data(), change=st.booleans())
        def replay_idempotency_key(self, data, change):
            key = data.draw(st.sampled_from(sorted(self.keys)))
            args = dict(self.keys[key])
            before = fingerprint(engine)
            if change:
                args["amount"] += 1
                with pytest.raises(DuplicateRequest):
                    accounts.transfer(self.s, **args)
            else:
                entry = accounts.transfer(self.s, **args)
                assert entry.idempotency_key == key
            assert fingerprint(engine) == before

        @precondition(lambda self: len(self.players) >= 2)
        @rule(data=st.data(), amount=st.sampled_from([0, -1, -(10**6), 1.5, "5", None, True, 10**20]))
        def bad_amount(self, data, amount):
            user_id, src = self.players[0]
            _, dst = self.players[1]
            before = fingerprint(engine)
            with pytest.raises(InvalidAmount):
                accounts.transfer(self.s, actor_id=user_id, from_account_id=src, to_account_id=dst, amount=amount)
            assert fingerprint(engine) == before

        @precondition(lambda self: len(self.players) >= 2)
        @rule()
        def steal(self):
            (_, victim), (thief, _) = self.players[0], self.players[1]
            before = fingerprint(engine)
            with pytest.raises(NotAccountOwner):
                accounts.transfer(
                    self.s, actor_id=thief, from_account_id=victim, to_account_id=self.players[1][1], amount=1
                )
            assert fingerprint(engine) == before

        @precondition(lambda self: len(self.players) >= 1)
        @rule(data=st.data(), everything=st.booleans())
        def recalc(self, data, everything):
            before = fingerprint(engine)
            if everything:
                assert reconciliation.recalculate_all_balances(self.s).changed == 0
            else:
                _, account = data.draw(st.sampled_from(self.players))
                assert not reconciliation.recalculate_balance(self.s, account).changed
            assert fingerprint(engine) == before  # nothing had drifted

        @precondition(lambda self: len(self.players) >= 1)
        @rule(data=st.data(), everything=st.booleans())
        def sync(self, data, everything):
            if everything:
                assert reconciliation.sync_all_balances(self.s).changed == 0
            else:
                _, account = data.draw(st.sampled_from(self.players))
                assert not reconciliation.sync_balance_from_account(self.s, account).changed

        @invariant()
        def ledger_promises_hold(self):
            if not hasattr(self, "s"):
                return
            check_invariants(engine)
            for account_id, cents in self.expected.items():
                assert accounts.get_balance(self.s, account_id) == cents

    LedgerMachine.TestCase.settings = settings(
        max_examples=25,
        stateful_step_count=25,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    return LedgerMachine, engine


def test_ledger_state_machine(db_url):
    machine, engine = make_machine(db_url)
    try:
        machine.TestCase().runTest()
    finally:
        engine.dispose()
