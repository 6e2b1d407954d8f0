"""Admin operations benchmark: prints tables. Not a test; nothing here asserts a time.

1. Keyed transfers against the archive: every posting with an idempotency key first looks the key up in
   the ledger and in ``ledger_archive``. Timed with an empty archive and with 1,000,000 archived entries
   (all carrying keys); the unique partial index on ``ledger_archive.idempotency_key`` keeps the lookup an
   index probe (target: within 1.5x).
2. Whole-economy operations over a 1M-entry ledger over 90 days (bench/ledger.py's seed): reconcile,
   recalculate all, sync all; archiving the entries older than 45 days (export file + archive table +
   checkpoints + file record); the archive's proof (checkpoints against archived entries, file SHA-256
   and count); the same operations on the archived ledger (checkpoint + later entries); and the restore.

Usage: python bench/admin.py [--entries 1000000] [--archived 1000000] [--transfers 2000] [--only keyed|operations]
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

from sqlalchemy import insert  # noqa: E402
from sqlmodel import Session  # noqa: E402

from bench.ledger import seed  # noqa: E402
from economy_app import migrate  # noqa: E402
from economy_app.db import make_engine  # noqa: E402
from economy_app.models import LedgerArchive, utcnow  # noqa: E402
from economy_app.services import accounts, archive_files, reconciliation, users  # noqa: E402


def timed(label, fn, rows):
    t0 = time.perf_counter()
    result = fn()
    rows.append((label, time.perf_counter() - t0, result))
    return result


def _transfer_times(engine, players, n: int, *, keyed: bool, tag: str) -> list[float]:
    (alice, a), (bob, b) = players
    times = []
    with Session(engine) as s:
        for i in range(n):
            src, dst, actor = (a, b, alice) if i % 2 == 0 else (b, a, bob)
            t0 = time.perf_counter()
            accounts.transfer(
                s,
                actor_id=actor,
                from_account_id=src,
                to_account_id=dst,
                amount=1,
                idempotency_key=f"{tag}-{i}" if keyed else None,
            )
            times.append(time.perf_counter() - t0)
    return times


def _fill_archive(engine, rows: int, first_id: int) -> None:
    """``rows`` archived entries with keys, inserted directly (the archive's shape, not its path)."""
    t = LedgerArchive.__table__
    now = utcnow()
    with engine.begin() as conn:
        for start in range(0, rows, 50_000):
            conn.execute(
                insert(t),
                [
                    dict(
                        id=first_id + i,
                        from_account_id=1,
                        to_account_id=2,
                        amount=1 + i % 1000,
                        type="transfer",
                        idempotency_key=f"archived-{i}",
                        created_at=now - timedelta(days=90),
                        archived_at=now,
                    )
                    for i in range(start, min(start + 50_000, rows))
                ],
            )


def keyed(args) -> list:
    out = []
    with tempfile.TemporaryDirectory(prefix="economy-bench-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'keyed.db'}"
        migrate.upgrade(url)
        engine = make_engine(url)
        with Session(engine) as s:
            players = []
            for name in ("alice", "bob"):
                user = users.create_user(s, name, "correct horse")
                players.append((user.id, accounts.initialize_account(s, user.id).id))
        for archived in (0, args.archived):
            if archived:
                print(f"archiving {archived:,} keyed entries ...", file=sys.stderr, flush=True)
                _fill_archive(engine, archived, first_id=10_000_000)
            _transfer_times(engine, players, 200, keyed=True, tag=f"warm{archived}")  # warm the caches
            plain = _transfer_times(engine, players, args.transfers, keyed=False, tag="")
            with_key = _transfer_times(engine, players, args.transfers, keyed=True, tag=f"k{archived}")
            out.append(
                (
                    archived,
                    statistics.median(with_key),
                    statistics.quantiles(with_key, n=20)[-1],
                    statistics.median(plain),
                )
            )
        engine.dispose()
    print(f"\nKeyed transfers against the archive ({args.transfers:,} transfers each, SQLite, WAL)\n")
    print("| archived entries | keyed transfer p50 | keyed p95 | unkeyed transfer p50 |")
    print("|---:|---:|---:|---:|")
    for archived, p50, p95, plain in out:
        print(f"| {archived:,} | {p50 * 1e3:.2f} ms | {p95 * 1e3:.2f} ms | {plain * 1e3:.2f} ms |")
    ratio = out[1][1] / out[0][1]
    print(
        f"\n- keyed transfer p50 with {args.archived:,} archived entries vs an empty archive: {ratio:.2f}x "
        f"(target within 1.5x)"
    )
    return out


def operations(args) -> None:
    rows: list = []
    with tempfile.TemporaryDirectory(prefix="economy-bench-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'admin.db'}"
        migrate.upgrade(url)
        engine = make_engine(url)
        print(f"seeding {args.entries:,} entries ...", file=sys.stderr, flush=True)
        seed(engine, args.entries, random.Random(3))
        with Session(engine) as s:
            timed("reconcile", lambda: f"{len(reconciliation.reconcile(s))} drifts", rows)
            timed("recalculate all", lambda: f"{reconciliation.recalculate_all_balances(s).changed} changed", rows)
            timed("sync all", lambda: f"{reconciliation.sync_all_balances(s).changed} changed", rows)
            result = timed(
                "archive entries older than 45 days",
                lambda: archive_files.archive(s, before=utcnow() - timedelta(days=45), directory=Path(tmp)),
                rows,
            )
            rows[-1] = (
                rows[-1][0],
                rows[-1][1],
                f"{result.entries:,} entries, {result.path.stat().st_size // 1024:,} KiB file",
            )
            timed(
                "archive proof (checkpoints, file SHA-256 and count, ids)",
                lambda: f"{reconciliation.check_archive(s).problems} problems",
                rows,
            )
            timed("reconcile (archived ledger)", lambda: f"{len(reconciliation.reconcile(s))} drifts", rows)
            timed(
                "recalculate all (archived ledger)",
                lambda: f"{reconciliation.recalculate_all_balances(s).changed} changed",
                rows,
            )
            timed("restore", lambda: f"{archive_files.restore(s, result.path).restored:,} entries", rows)
            timed("reconcile (restored)", lambda: f"{len(reconciliation.reconcile(s))} drifts", rows)
            timed("archive proof (restored)", lambda: f"{reconciliation.check_archive(s).problems} problems", rows)
        engine.dispose()
    print(f"\nAdmin operations over a {args.entries:,}-entry ledger (SQLite, WAL)\n")
    print("| operation | time | result |")
    print("|---|---:|---|")
    for label, secs, result in rows:
        print(f"| {label} | {secs * 1e3:,.0f} ms | {result} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--archived", type=int, default=1_000_000)
    parser.add_argument("--transfers", type=int, default=2000)
    parser.add_argument("--only", choices=("keyed", "operations"))
    args = parser.parse_args()
    if args.only in (None, "keyed"):
        keyed(args)
    if args.only in (None, "operations"):
        operations(args)


if __name__ == "__main__":
    main()
