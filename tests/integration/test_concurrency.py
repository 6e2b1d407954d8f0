"""8 threads x 500 random transfers among 20 accounts, on a SQLite file and on PostgreSQL.

Afterwards: the ledger invariants hold, every acknowledged transfer is in the
ledger exactly once (and nothing else is), balances equal what the
acknowledged transfers imply, and no caller ever saw "database is locked" or
a deadlock: the only refusal allowed is InsufficientFunds.

And 16 buys of one player in one company sent at once: exactly 3 pass (3 trades per 5 s).
"""

from __future__ import annotations

import random
import threading
from collections import Counter

from sqlalchemy import func, select
from sqlmodel import Session

from economy_app.models import LedgerEntry, StockTrade
from economy_app.services import accounts, companies, ledger, stock_trading, users
from economy_app.services._tx import unit
from economy_app.services.errors import InsufficientFunds, TradeRefused
from tests.support.db import check_invariants
from tests.support.threads import in_thread

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
                    accounts.transfer(
                        s, actor_id=actor, from_account_id=src, to_account_id=dst, amount=amount, idempotency_key=key
                    )
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
        rows = conn.execute(
            select(
                LedgerEntry.idempotency_key, LedgerEntry.from_account_id, LedgerEntry.to_account_id, LedgerEntry.amount
            ).where(LedgerEntry.type == "transfer")
        ).all()
    in_ledger = Counter(tuple(r) for r in rows)
    assert in_ledger == Counter(acknowledged), "the ledger and the acknowledged transfers differ"

    expected = {account: 1_000_000 for _, account in players}
    for _, src, dst, amount in acknowledged:
        expected[src] -= amount
        expected[dst] += amount
    with Session(engine) as s:
        assert {a: accounts.get_balance(s, a) for a in expected} == expected
    check_invariants(engine)


def test_sixteen_trades_sent_at_once_pass_no_more_than_three(engine):
    """Attack finding 3, without any hook: 16 buys released by a barrier. Each read the clock, then queued for
    the lock; whichever got the lock out of clock order counted too few trades (4-7 of 16 passed)."""
    with Session(engine, expire_on_commit=False) as s:
        founder, trader = (users.create_user(s, name, "correct horse").id for name in ("founder", "trader"))
        account = accounts.initialize_account(s, trader).id
        company = companies.create_company(s, owner_id=founder, name="Rate Inc", ticker="RATE")
        with unit(s, write=True):
            ledger.post(
                s,
                from_account_id=accounts.system_account_id(s),
                to_account_id=company.account_id,
                amount=6_000_000,
                type="adjustment",
            )
        assert companies.check_and_update_public_status(s, company.id)
    start = threading.Barrier(16)
    refused: list[TradeRefused] = []

    def buy():
        start.wait(20)
        with Session(engine) as s:
            try:
                stock_trading.buy(s, actor_id=trader, account_id=account, company_id=company.id, shares=10)
            except TradeRefused as e:
                refused.append(e)

    threads = [in_thread(buy) for _ in range(16)]
    for t in threads:
        t.join(60)
    assert [e for t in threads for e in t.errors] == []
    with Session(engine) as s:
        trades = s.execute(select(func.count()).select_from(StockTrade)).scalar_one()
    assert trades == 3, f"{trades} of 16 simultaneous trades passed (limit 3 per 5 s)"
    assert len(refused) == 13 and all("at most 3 trades" in str(e) for e in refused)


def test_batches_and_transfers_at_once_lose_and_create_nothing(engine):
    """ledger.post_many batches (each like a marketplace run: the mint pays players and they pay some back,
    and a few transfers between players inside the batch) while 4 threads transfer among the same players:
    no deadlock (every batch locks its balance rows in account-id order, as post() does), nothing lost or
    created, every acknowledged batch in the ledger whole, and a batch refused for want of money (one of its
    players was drained meanwhile) wrote nothing."""
    from economy_app.services import ledger
    from economy_app.services._tx import unit

    with Session(engine, expire_on_commit=False) as s:
        players = []
        for i in range(10):
            user = users.create_user(s, f"batcher{i:02d}", "correct horse")
            players.append((user.id, accounts.initialize_account(s, user.id).id))
        with unit(s, write=True):
            mint = accounts.system_account_id(s)

    moves: list[tuple[int, int, int]] = []  # (from, to, amount) of everything acknowledged
    batches: list[int] = []
    refused: Counter = Counter()
    unexpected: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(6)

    def attempt(kind: str, post):
        """post(): its result, or None when refused for want of money; anything else is unexpected."""
        try:
            return post()
        except InsufficientFunds:
            with lock:
                refused[kind] += 1
        except BaseException as e:  # a deadlock, "database is locked"...: must never happen
            with lock:
                unexpected.append(e)
        return None

    def transfers(n: int) -> None:
        rng = random.Random(n)
        start.wait()
        with Session(engine, expire_on_commit=False) as s:
            for _ in range(150):
                (actor, src), (_, dst) = rng.sample(players, 2)
                amount = rng.randint(1, 400_000)
                if attempt(
                    "transfer",
                    lambda: accounts.transfer(s, actor_id=actor, from_account_id=src, to_account_id=dst, amount=amount),
                ):
                    with lock:
                        moves.append((src, dst, amount))

    def batches_of(n: int) -> None:
        rng = random.Random(100 + n)
        start.wait()
        with Session(engine, expire_on_commit=False) as s:
            for _ in range(40):
                entries = []
                for _, account in rng.sample(players, rng.randint(1, len(players))):
                    revenue = rng.randint(1, 50_000)
                    entries += [
                        ledger.Posting(mint, account, revenue, "marketplace_batch", batch_count=1),
                        ledger.Posting(account, mint, rng.randint(1, revenue), "marketplace_batch", batch_count=1),
                    ]
                (_, src), (_, dst) = rng.sample(players, 2)
                entries.append(ledger.Posting(src, dst, rng.randint(1, 400_000), "transfer"))

                def batch():
                    with unit(s, write=True):
                        return ledger.post_many(s, entries)

                ids = attempt("batch", batch)
                if ids:
                    with lock:
                        batches.extend(ids)
                        moves.extend((e.from_account_id, e.to_account_id, e.amount) for e in entries)

    threads = [threading.Thread(target=transfers, args=(n,)) for n in range(4)] + [
        threading.Thread(target=batches_of, args=(n,)) for n in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert unexpected == [], f"{len(unexpected)} unexpected errors, first: {unexpected[:1]!r}"
    assert len(batches) > 0  # most batches went through (some were refused: a player drained meanwhile)
    with engine.connect() as conn:
        rows = conn.execute(
            select(LedgerEntry.from_account_id, LedgerEntry.to_account_id, LedgerEntry.amount).where(
                LedgerEntry.type.in_(["transfer", "marketplace_batch"])
            )
        ).all()
    assert Counter(tuple(r) for r in rows) == Counter(moves), "the ledger and the acknowledged postings differ"
    expected = {account: 1_000_000 for _, account in players}
    for src, dst, amount in moves:
        for account, delta in ((src, -amount), (dst, amount)):
            if account in expected:
                expected[account] += delta
    with Session(engine) as s:
        assert {a: accounts.get_balance(s, a) for a in expected} == expected
    check_invariants(engine)
