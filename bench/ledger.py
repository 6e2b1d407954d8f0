"""Ledger benchmark: prints a table. Not a test; nothing here asserts a time.

At ledger sizes 1K, 100K and 1M entries (seeded by bulk insert, one hot account
holding most entries) it measures:

- get_balance p50/p99 beside the balance computed by an indexed SQL SUM over the
  ledger, and the ratio;
- transfers/s through services.accounts.transfer() beside the same statements
  as raw SQL on the same engine and settings, and the ratio;
- recalculate_all_balances and reconcile times.

Usage: python bench/ledger.py [--sizes 1000,100000,1000000] [--database-url URL]
(default: a fresh SQLite file per size in a temporary directory).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("ECONOMY_PASSWORD_PROFILE", "cheapest")

from sqlalchemy import insert, text  # noqa: E402
from sqlmodel import Session  # noqa: E402

from economy_app import migrate  # noqa: E402
from economy_app.db import WRITE_OPTION, make_engine  # noqa: E402
from economy_app.models import Account, Balance, LedgerEntry, User, utcnow  # noqa: E402
from economy_app.services import accounts, reconciliation  # noqa: E402

PLAYERS = 1_000
HOT_SHARE = 0.9  # share of entries that touch the hot account


def seed(engine, entries: int, rng: random.Random) -> dict:
    """Bulk-insert a consistent economy: users, accounts, ledger, balances, balance_history."""
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(
            insert(User.__table__),
            [
                dict(
                    id=i,
                    username=f"bench{i}",
                    display_name=f"bench{i}",
                    password_hash="x",
                    role="player",
                    created_at=now,
                )
                for i in range(1, PLAYERS + 1)
            ],
        )
        system = 1
        conn.execute(
            insert(Account.__table__),
            [dict(id=system, name="Economy (system)", kind="system", balance=0, created_at=now)],
        )
        conn.execute(
            insert(Account.__table__),
            [
                dict(id=i + 1, name=f"bench{i}", kind="personal", owner_id=i, balance=0, created_at=now)
                for i in range(1, PLAYERS + 1)
            ],
        )
        account_ids = list(range(2, PLAYERS + 2))
        hot = account_ids[0]
        balance = {a: 0 for a in [system, *account_ids]}
        rows = []
        for a in account_ids:  # initial deposits; the hot account gets enough for every transfer out
            amount = 10**12 if a == hot else 1_000_000
            rows.append((system, a, amount, "initial_deposit"))
        while len(rows) < entries:
            a, b = rng.sample(account_ids, 2)
            if rng.random() < HOT_SHARE:
                a, b = (hot, b) if rng.random() < 0.5 else (a, hot)
                if a == b:
                    continue
            amount = rng.randint(1, 100)
            rows.append((a, b, amount, "transfer"))
        rows = rows[:entries]
        chunk = 100_000
        # Spread the entries over the last 90 days, oldest first (ids follow time).
        first, step = now - timedelta(days=90), timedelta(days=90) / max(1, len(rows))
        for start in range(0, len(rows), chunk):
            part = rows[start : start + chunk]
            conn.execute(
                insert(LedgerEntry.__table__),
                [
                    dict(
                        from_account_id=f, to_account_id=t, amount=amt, type=kind, created_at=first + step * (start + i)
                    )
                    for i, (f, t, amt, kind) in enumerate(part)
                ],
            )
        for f, t, amt, _ in rows:
            balance[f] -= amt
            balance[t] += amt
        # A non-system account must never be negative: top up (as adjustments) any that are.
        for a, b in list(balance.items()):
            if a != system and b < 0:
                conn.execute(
                    insert(LedgerEntry.__table__),
                    [dict(from_account_id=system, to_account_id=a, amount=-b + 1, type="adjustment", created_at=now)],
                )
                balance[system] -= -b + 1
                balance[a] = 1
        conn.execute(
            insert(Balance.__table__), [dict(account_id=a, balance=b, last_updated=now) for a, b in balance.items()]
        )
        for a, b in balance.items():
            conn.execute(Account.__table__.update().where(Account.__table__.c.id == a).values(balance=b))
        # balance_history: one row per side per entry, running balances computed in SQL.
        conn.execute(
            text("""
            INSERT INTO balance_history (account_id, ledger_id, change, balance_after, created_at)
            SELECT account_id, ledger_id, change,
                   SUM(change) OVER (PARTITION BY account_id ORDER BY ledger_id) AS balance_after, created_at
            FROM (SELECT to_account_id AS account_id, id AS ledger_id, amount AS change, created_at FROM ledger
                  UNION ALL
                  SELECT from_account_id, id, -amount, created_at FROM ledger) AS sides
        """)
        )
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            for t in ("users", "accounts", "ledger", "balance_history"):
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{t}', 'id'), (SELECT MAX(id) FROM {t}))"))
            conn.execute(text("ANALYZE"))
    else:
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    return {"hot": hot, "accounts": account_ids, "owner": {a: a - 1 for a in account_ids}}


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def time_balance_reads(engine, account_id: int, n: int) -> list[float]:
    out = []
    with Session(engine) as s:
        for _ in range(n):
            t0 = time.perf_counter()
            accounts.get_balance(s, account_id)
            out.append(time.perf_counter() - t0)
    return out


def time_ledger_sums(engine, account_id: int, n: int) -> tuple[list[float], int]:
    out, value = [], 0
    with engine.connect() as conn:
        for _ in range(n):
            t0 = time.perf_counter()
            value = conn.execute(
                text(
                    "SELECT (SELECT COALESCE(SUM(amount), 0) FROM ledger WHERE to_account_id = :a)"
                    " - (SELECT COALESCE(SUM(amount), 0) FROM ledger WHERE from_account_id = :a)"
                ),
                {"a": account_id},
            ).scalar_one()
            out.append(time.perf_counter() - t0)
            conn.rollback()
    return out, value


def service_transfers(engine, info: dict, n: int, rng: random.Random) -> float:
    pairs = [rng.sample(info["accounts"], 2) for _ in range(n)]
    t0 = time.perf_counter()
    with Session(engine, expire_on_commit=False) as s:
        for src, dst in pairs:
            accounts.transfer(s, actor_id=info["owner"][src], from_account_id=src, to_account_id=dst, amount=1)
    return n / (time.perf_counter() - t0)


RAW = {
    "owner": "SELECT owner_id, kind FROM accounts WHERE id = :src",
    "kind": "SELECT owner_id, kind FROM accounts WHERE id = :dst",
    "lock": (
        "SELECT balances.account_id, balances.balance, accounts.kind FROM balances "
        "JOIN accounts ON accounts.id = balances.account_id WHERE balances.account_id IN (:src, :dst) "
        "ORDER BY balances.account_id"
    ),
    "debit": (
        "UPDATE balances SET balance = balance - :amt, last_updated = :now "
        "WHERE account_id = :src AND balance >= :amt RETURNING balance"
    ),
    "credit": "UPDATE balances SET balance = balance + :amt, last_updated = :now WHERE account_id = :dst RETURNING balance",
    "cache": (
        "UPDATE accounts SET balance = balance + CASE WHEN id = :dst THEN :amt ELSE -:amt END WHERE id IN (:src, :dst)"
    ),
    "entry": (
        "INSERT INTO ledger (from_account_id, to_account_id, amount, type, description, batch_count, "
        "product_id, idempotency_key, created_at) VALUES (:src, :dst, :amt, 'transfer', NULL, NULL, NULL, NULL, "
        ":now) RETURNING id"
    ),
    "history": (
        "INSERT INTO balance_history (account_id, ledger_id, change, balance_after, created_at) "
        "VALUES (:account, :entry, :change, :after, :now)"
    ),
}


def raw_transfers(engine, info: dict, n: int, rng: random.Random) -> float:
    """The service's statements, written out as SQL text, on the same engine and settings."""
    pairs = [rng.sample(info["accounts"], 2) for _ in range(n)]
    sql = {
        k: text(v + (" FOR UPDATE OF balances" if k == "lock" and engine.dialect.name == "postgresql" else ""))
        for k, v in RAW.items()
    }
    t0 = time.perf_counter()
    with engine.connect() as conn:
        for src, dst in pairs:
            p = {"src": src, "dst": dst, "amt": 1, "now": utcnow()}
            conn.execution_options(**{WRITE_OPTION: True})
            with conn.begin():
                conn.execute(sql["owner"], p).first()
                conn.execute(sql["kind"], p).first()
                conn.execute(sql["lock"], p).all()
                after_src = conn.execute(sql["debit"], p).scalar()
                after_dst = conn.execute(sql["credit"], p).scalar()
                conn.execute(sql["cache"], p)
                entry = conn.execute(sql["entry"], p).scalar()
                conn.execute(
                    sql["history"],
                    [
                        {"account": src, "entry": entry, "change": -1, "after": after_src, "now": p["now"]},
                        {"account": dst, "entry": entry, "change": 1, "after": after_dst, "now": p["now"]},
                    ],
                )
    return n / (time.perf_counter() - t0)


def timed(fn) -> tuple[float, object]:
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result


def run_size(url: str, entries: int, args) -> dict:
    migrate.upgrade(url)
    engine = make_engine(url)
    rng = random.Random(entries)
    t0 = time.perf_counter()
    info = seed(engine, entries, rng)
    seed_s = time.perf_counter() - t0
    reads = time_balance_reads(engine, info["hot"], args.reads)
    sums, derived = time_ledger_sums(engine, info["hot"], args.sums)
    with Session(engine) as s:
        assert accounts.get_balance(s, info["hot"]) == derived, "balances and ledger disagree after seeding"
    # Warm up, then alternate so neither side gets the warmer cache.
    service_transfers(engine, info, 50, rng)
    raw_transfers(engine, info, 50, rng)
    svc = statistics.median(service_transfers(engine, info, args.transfers, rng) for _ in range(3))
    raw = statistics.median(raw_transfers(engine, info, args.transfers, rng) for _ in range(3))
    with Session(engine) as s:
        recalc_s, recalc = timed(lambda: reconciliation.recalculate_all_balances(s))
        reconcile_s, drifts = timed(lambda: reconciliation.reconcile(s))
    assert recalc.changed == 0 and drifts == [], "the seeded economy should be consistent"
    engine.dispose()
    return {
        "entries": entries,
        "seed_s": seed_s,
        "read_p50": percentile(reads, 50),
        "read_p99": percentile(reads, 99),
        "sum_p50": percentile(sums, 50),
        "svc_tps": svc,
        "raw_tps": raw,
        "recalc_s": recalc_s,
        "reconcile_s": reconcile_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,100000,1000000")
    parser.add_argument(
        "--database-url",
        default=None,
        help="an empty database to use (PostgreSQL: it is wiped per size); default: SQLite files",
    )
    parser.add_argument("--reads", type=int, default=2000)
    parser.add_argument("--sums", type=int, default=20)
    parser.add_argument("--transfers", type=int, default=1000)
    args = parser.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    results = []
    with tempfile.TemporaryDirectory(prefix="economy-bench-") as tmp:
        for n in sizes:
            if args.database_url:
                url = args.database_url
                from tests.support.db import wipe

                migrate.upgrade(url)
                wipe(make_engine(url))
            else:
                url = f"sqlite:///{Path(tmp) / f'ledger-{n}.db'}"
            print(f"seeding {n:,} entries ...", file=sys.stderr, flush=True)
            results.append(run_size(url, n, args))
    backend = "PostgreSQL" if args.database_url and args.database_url.startswith("postgres") else "SQLite (WAL)"
    print(f"\nLedger benchmark on {backend}: hot account holds ~{HOT_SHARE:.0%} of entries, {PLAYERS:,} players\n")
    print(
        "| ledger entries | get_balance p50 | get_balance p99 | indexed SUM p50 | SUM / get_balance "
        "| transfer() /s | raw SQL /s | service / raw | recalculate_all | reconcile |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['entries']:,} | {r['read_p50'] * 1e6:.0f} µs | {r['read_p99'] * 1e6:.0f} µs "
            f"| {r['sum_p50'] * 1e3:.2f} ms | {r['sum_p50'] / r['read_p50']:,.0f}x "
            f"| {r['svc_tps']:,.0f} | {r['raw_tps']:,.0f} | {r['svc_tps'] / r['raw_tps']:.0%} "
            f"| {r['recalc_s'] * 1e3:.0f} ms | {r['reconcile_s'] * 1e3:.0f} ms |"
        )
    first, last = results[0], results[-1]
    print(
        f"\nget_balance p50 at {last['entries']:,} vs {first['entries']:,} entries: "
        f"{last['read_p50'] / first['read_p50']:.2f}x (target within 1.5x)"
    )
    print(f"SUM / get_balance at {last['entries']:,}: {last['sum_p50'] / last['read_p50']:,.0f}x (target >= 100x)")
    print(f"service / raw transfers/s (worst): {min(r['svc_tps'] / r['raw_tps'] for r in results):.0%} (target >= 50%)")
    print(f"reconcile at {last['entries']:,}: {last['reconcile_s'] * 1e3:.0f} ms (target < 1000 ms)")


if __name__ == "__main__":
    main()
