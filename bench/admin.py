"""Admin operations benchmark: prints a table. Not a test; nothing here asserts a time.

Seeds a 1M-entry ledger over 90 days (bench/ledger.py's seed), then times the whole-economy
operations: reconcile, recalculate all, sync all; archiving the entries older than 45 days
(export file + archive table + checkpoints); the same operations on the archived ledger
(checkpoint + later entries); and the restore.

Usage: python bench/admin.py [--entries 1000000]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("ECONOMY_PASSWORD_PROFILE", "cheapest")

from sqlmodel import Session  # noqa: E402

from bench.ledger import seed  # noqa: E402
from economy_app import migrate  # noqa: E402
from economy_app.db import make_engine  # noqa: E402
from economy_app.models import utcnow  # noqa: E402
from economy_app.services import admin, archive  # noqa: E402


def timed(label, fn, rows):
    t0 = time.perf_counter()
    result = fn()
    rows.append((label, time.perf_counter() - t0, result))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=1_000_000)
    args = parser.parse_args()
    rows: list = []
    with tempfile.TemporaryDirectory(prefix="economy-bench-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'admin.db'}"
        migrate.upgrade(url)
        engine = make_engine(url)
        print(f"seeding {args.entries:,} entries ...", file=sys.stderr, flush=True)
        seed(engine, args.entries, random.Random(3))
        with Session(engine) as s:
            timed("reconcile", lambda: f"{len(admin.reconcile(s))} drifts", rows)
            timed("recalculate all", lambda: f"{admin.recalculate_all_balances(s).changed} changed", rows)
            timed("sync all", lambda: f"{admin.sync_all_balances(s).changed} changed", rows)
            result = timed("archive entries older than 45 days",
                           lambda: archive.archive(s, before=utcnow() - timedelta(days=45), directory=Path(tmp)), rows)
            rows[-1] = (rows[-1][0], rows[-1][1], f"{result.entries:,} entries, "
                                                  f"{result.path.stat().st_size // 1024:,} KiB file")
            timed("reconcile (archived ledger)", lambda: f"{len(admin.reconcile(s))} drifts", rows)
            timed("recalculate all (archived ledger)",
                  lambda: f"{admin.recalculate_all_balances(s).changed} changed", rows)
            timed("restore", lambda: f"{archive.restore(s, result.path):,} entries", rows)
            timed("reconcile (restored)", lambda: f"{len(admin.reconcile(s))} drifts", rows)
        engine.dispose()
    print(f"\nAdmin operations over a {args.entries:,}-entry ledger (SQLite, WAL)\n")
    print("| operation | time | result |")
    print("|---|---:|---|")
    for label, secs, result in rows:
        print(f"| {label} | {secs * 1e3:,.0f} ms | {result} |")


if __name__ == "__main__":
    main()
