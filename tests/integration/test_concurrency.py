"""8 threads x 500 random transfers among 20 accounts, on a SQLite file and on PostgreSQL.

Afterwards: the ledger invariants hold, every acknowledged transfer is in the
ledger exactly once (and nothing else is), balances equal what the
acknowledged transfers imply, and no caller ever saw "database is locked" or
a deadlock: the only refusal allowed is InsufficientFunds.
"""

from __future__ import annotations

import random
import threading
from collections import Counter

from sqlalchemy import select
from sqlmodel import Session

from economy_app.models import LedgerEntry
from economy_app.services import accounts, users
from economy_app.services.errors import InsufficientFunds
from tests.support.db import check_invariants

THREADS, TRANSFERS, ACCOUNTS = 8, 500, 20


def test_concurrent_transfers_lose_and_create_nothing(engine):
    with Session(engine, expire_on_commit=False) as s:
        players = []
        for i in range(ACCOUNTS):
            user = users.create_user(s, f"racer{i:02d}", "correct horse")
            players.append((user.id, accounts.initialize_account(s, user.id).id))

    acknowledged: list[tuple[str, int, int, int]] = []
    refused: Counter = Counter()
    unexpected: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(THREADS)

    def worker(n: int) -> None:
        rng = random.Random(n)
        start.wait()
        with Session(engine, expire_on_commit=False) as s:
            for j in range(TRANSFERS):
                (actor, src), (_, dst) = rng.sample(players, 2)
                amount = rng.randint(1, 300_000)  # big enough that some accounts run dry
                key = f"t{n}-{j}"
                try:
                    accounts.transfer(s, actor_id=actor, from_account_id=src, to_account_id=dst, amount=amount,
                                      idempotency_key=key)
                except InsufficientFunds:
                    with lock:
                        refused["insufficient"] += 1
                    continue
                except BaseException as e:  # "database is locked", deadlocks...: must never happen
                    with lock:
                        unexpected.append(e)
                    continue
                with lock:
                    acknowledged.append((key, src, dst, amount))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert unexpected == [], f"{len(unexpected)} unexpected errors, first: {unexpected[:1]!r}"
    assert len(acknowledged) + refused["insufficient"] == THREADS * TRANSFERS
    assert len(acknowledged) > THREADS * TRANSFERS // 2

    with engine.connect() as conn:
        rows = conn.execute(select(LedgerEntry.idempotency_key, LedgerEntry.from_account_id,
                                   LedgerEntry.to_account_id, LedgerEntry.amount)
                            .where(LedgerEntry.type == "transfer")).all()
    in_ledger = Counter(tuple(r) for r in rows)
    assert in_ledger == Counter(acknowledged), "the ledger and the acknowledged transfers differ"

    expected = {account: 1_000_000 for _, account in players}
    for _, src, dst, amount in acknowledged:
        expected[src] -= amount
        expected[dst] += amount
    with Session(engine) as s:
        assert {a: accounts.get_balance(s, a) for a in expected} == expected
    check_invariants(engine)
