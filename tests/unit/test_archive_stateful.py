"""A Hypothesis state machine over the ledger's operations in any order: post (with or without a key),
replay a key, archive at any cutoff, restore any file written so far (again and again), restore an
edited file, recalculate and sync (one account or all). After every step:

- the ledger's invariants (tests/support/db.py ``check_invariants``): the sum of balances is 0; for every
  account balances = cache = checkpoint + live entries = last balance_after; each checkpoint is exactly
  its archived entries; no id in both tables;
- every entry ever posted is in exactly one of ``ledger`` or ``ledger_archive``, unchanged;
- no id is ever handed out twice (each new entry's id is above every id seen before);
- reconciliation and the archive's proof (``reconciliation.check_archive``) find nothing.
"""

from __future__ import annotations

import gzip
import json
import tempfile
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from sqlalchemy import select
from sqlmodel import Session

from economy_app.db import make_engine
from economy_app.models import LedgerArchive, LedgerEntry, utcnow
from economy_app.services import accounts, archive_files, ledger, reconciliation, users
from economy_app.services.errors import RestoreConflict
from tests.support.db import check_invariants, fingerprint, wipe

L, A = LedgerEntry.__table__, LedgerArchive.__table__


def _rows(engine, table) -> dict[int, tuple]:
    with engine.connect() as conn:
        return {
            r.id: tuple(r[c] for c in ledger.LEDGER_COLUMNS)
            for r in conn.execute(select(*[table.c[c] for c in ledger.LEDGER_COLUMNS])).mappings()
        }


def make_machine(url: str, folder: Path):
    engine = make_engine(url)

    class ArchiveMachine(RuleBasedStateMachine):
        @initialize()
        def fresh_database(self):
            wipe(engine)
            self.s = Session(engine, expire_on_commit=False)
            self.dir = folder / uuid.uuid4().hex
            self.players: list[tuple[int, int]] = []
            self.expected: dict[int, int] = {}
            for i in range(3):
                user = users.create_user(self.s, f"player{i}", "correct horse")
                account = accounts.initialize_account(self.s, user.id).id
                self.players.append((user.id, account))
                self.expected[account] = 1_000_000
            self.posted = _rows(engine, L)  # every entry ever posted: id -> its row
            self.top = max(self.posted)  # the highest id ever handed out
            self.keys: dict[str, dict] = {}
            self.files: list[Path] = []

        def teardown(self):
            self.s.close()

        def _remember(self, entry_id: int) -> None:
            assert entry_id > self.top, f"id {entry_id} handed out again (highest so far {self.top})"
            self.top = entry_id
            self.posted[entry_id] = _rows(engine, L)[entry_id]

        @rule(data=st.data(), amount=st.integers(min_value=1, max_value=400_000), with_key=st.booleans())
        def post(self, data, amount, with_key):
            (user, src), (_, dst) = data.draw(st.permutations(self.players))[:2]
            if amount > self.expected[src]:
                return
            key = f"k{len(self.keys)}" if with_key else None
            args = dict(actor_id=user, from_account_id=src, to_account_id=dst, amount=amount, idempotency_key=key)
            entry = accounts.transfer(self.s, **args)
            self._remember(entry.id)
            self.expected[src] -= amount
            self.expected[dst] += amount
            if key:
                self.keys[key] = dict(args, id=entry.id)

        @precondition(lambda self: self.keys)
        @rule(data=st.data())
        def replay_a_key(self, data):  # live or archived, the original entry comes back and nothing moves
            args = dict(self.keys[data.draw(st.sampled_from(sorted(self.keys)))])
            entry_id = args.pop("id")
            before = fingerprint(engine)
            assert accounts.transfer(self.s, **args).id == entry_id
            assert fingerprint(engine) == before

        @rule(data=st.data())
        def archive(self, data):
            live = _rows(engine, L)
            times = sorted({row[ledger.LEDGER_COLUMNS.index("created_at")] for row in live.values()})
            cutoff = data.draw(st.sampled_from(times + [utcnow() + timedelta(seconds=1)]))
            result = archive_files.archive(self.s, before=cutoff, directory=self.dir)
            assert result.entries == sum(
                1 for row in live.values() if row[ledger.LEDGER_COLUMNS.index("created_at")] < cutoff
            )
            if result.path is not None:
                self.files.append(result.path)

        @precondition(lambda self: self.files)
        @rule(data=st.data())
        def restore(self, data):
            path = data.draw(st.sampled_from(self.files))
            in_file = {json.loads(line)["id"] for line in gzip.open(path, "rt")}
            archived_before = set(_rows(engine, A))
            result = archive_files.restore(self.s, path)
            assert result.known_file
            assert result.restored == len(in_file & archived_before)
            assert result.already_in_ledger == len(in_file - archived_before)

        @precondition(lambda self: self.files)
        @rule(data=st.data(), field=st.sampled_from(["amount", "to_account_id", "description"]))
        def restore_an_edited_copy(self, data, field):
            path = data.draw(st.sampled_from(self.files))
            rows = [json.loads(line) for line in gzip.open(path, "rt")]
            i = data.draw(st.integers(min_value=0, max_value=len(rows) - 1))
            rows[i][field] = {
                "amount": rows[i]["amount"] + 1,
                "description": "edited",
                "to_account_id": rows[i]["from_account_id"] + 10_000,
            }[field]
            edited = self.dir / f"edited-{uuid.uuid4().hex}.jsonl.gz"
            with gzip.open(edited, "wt") as f:
                f.writelines(json.dumps(r) + "\n" for r in rows)
            before = fingerprint(engine)
            with pytest.raises(RestoreConflict):
                archive_files.restore(self.s, edited)
            assert fingerprint(engine) == before

        @rule(data=st.data(), everything=st.booleans())
        def recalculate(self, data, everything):
            before = fingerprint(engine)
            if everything:
                assert reconciliation.recalculate_all_balances(self.s).changed == 0
            else:
                assert not reconciliation.recalculate_balance(
                    self.s, data.draw(st.sampled_from(self.players))[1]
                ).changed
            assert fingerprint(engine) == before

        @rule(data=st.data(), everything=st.booleans())
        def sync(self, data, everything):
            before = fingerprint(engine)
            if everything:
                assert reconciliation.sync_all_balances(self.s).changed == 0
            else:
                assert not reconciliation.sync_balance_from_account(
                    self.s, data.draw(st.sampled_from(self.players))[1]
                ).changed
            assert fingerprint(engine) == before

        @invariant()
        def nothing_is_ever_lost(self):
            if not hasattr(self, "s"):
                return
            check_invariants(engine)
            live, archived = _rows(engine, L), _rows(engine, A)
            assert not live.keys() & archived.keys()
            assert {**live, **archived} == self.posted  # each entry in exactly one table, as it was posted
            assert reconciliation.reconcile(self.s) == []
            check = reconciliation.check_archive(self.s)
            assert check.problems == 0 and check.unfiled == 0, check
            for account, cents in self.expected.items():
                assert accounts.get_balance(self.s, account) == cents

    ArchiveMachine.TestCase.settings = settings(
        max_examples=12,
        stateful_step_count=15,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    return ArchiveMachine, engine


def test_archive_state_machine(db_url):
    with tempfile.TemporaryDirectory(prefix="economy-archive-") as folder:
        machine, engine = make_machine(db_url, Path(folder))
        try:
            machine.TestCase().runTest()
        finally:
            engine.dispose()
