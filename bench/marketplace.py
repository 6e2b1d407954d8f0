"""Marketplace benchmark: prints tables. Not a test; nothing here asserts a time.

1. Cost at any budget: 10,000 products from 1,000 companies and 50,000 from 5,000, priced $1.00-$500.00
   and all at 1 cent, each at budgets of $30,000, $3M and $50M: the run's time (and the part of it that
   reads the products and draws the units, the part spent posting to the ledger (ledger.post_many), and
   the rest: product totals, the going-public check), units bought, share of the budget spent, companies
   selling, ledger rows written against the two per unit an unbatched design would write.
2. Fairness: an honest company with 3 products against a spammer with 300 listings at the same price
   (inserted past the listing limit, as if it did not exist) and against one with 30 (the limit), among
   100 other companies, over 20 runs: revenue, the spammer's best run against its cap.

Usage: python bench/marketplace_run.py [--runs 3] [--database-url URL]
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

from sqlalchemy import func, insert, select, text  # noqa: E402
from sqlmodel import Session  # noqa: E402

from economy_app import migrate  # noqa: E402
from economy_app.db import make_engine  # noqa: E402
from economy_app.models import Account, Balance, Company, LedgerEntry, Product, User, utcnow  # noqa: E402
from economy_app.money import format_cents  # noqa: E402
from economy_app.services import accounts, marketplace_run  # noqa: E402

SIZES = [(10_000, 1_000), (50_000, 5_000)]
PRICES = {"$1.00-$500.00": (100, 50_000), "1 cent": (1, 1)}
BUDGETS = [3_000_000, 300_000_000, 5_000_000_000]  # $30,000, $3M, $50M


def seed(engine, n_companies: int, products: list[tuple[int, int]], rng: random.Random) -> None:
    """``products``: (company 1..n, price) pairs, bulk-inserted, listed an hour ago (past the hold)."""
    now = utcnow()
    listed = now - timedelta(hours=1)
    with engine.begin() as conn:
        owners = max(1, n_companies // 5)
        conn.execute(
            insert(User.__table__),
            [
                dict(
                    id=i,
                    username=f"founder{i}",
                    display_name=f"founder{i}",
                    password_hash="x",
                    role="player",
                    created_at=now,
                )
                for i in range(1, owners + 1)
            ],
        )
        conn.execute(
            insert(Company.__table__),
            [
                dict(id=c, owner_id=(c - 1) % owners + 1, name=f"Company {c}", ticker=_ticker(c), created_at=now)
                for c in range(1, n_companies + 1)
            ],
        )
        conn.execute(
            insert(Account.__table__),
            [
                dict(
                    id=c,
                    name=f"Company {c}",
                    kind="company",
                    owner_id=(c - 1) % owners + 1,
                    company_id=c,
                    balance=0,
                    created_at=now,
                )
                for c in range(1, n_companies + 1)
            ],
        )
        conn.execute(
            insert(Balance.__table__),
            [dict(account_id=c, balance=0, last_updated=now) for c in range(1, n_companies + 1)],
        )
        conn.execute(text("UPDATE companies SET account_id = id"))
        if conn.dialect.name == "postgresql":  # explicit ids: move the sequences past them
            for table in ("users", "companies", "accounts"):
                conn.execute(
                    text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
                )
        conn.execute(
            insert(Product.__table__),
            [
                dict(
                    company_id=c,
                    name=f"Product {i}",
                    price_cents=price,
                    cost_percent=rng.randint(23, 67),
                    active=True,
                    created_at=listed,
                    listed_at=listed,
                )
                for i, (c, price) in enumerate(products)
            ],
        )
    with Session(engine) as s:
        accounts.system_account_id(s)


def _ticker(n: int) -> str:
    out = ""
    for _ in range(5):
        out += chr(65 + n % 26)
        n //= 26
    return out


class Database:
    """A fresh migrated database: a SQLite file in a temporary directory, or the given URL wiped."""

    def __init__(self, url: str | None):
        self.tmp = tempfile.TemporaryDirectory(prefix="economy-bench-")
        self.url = url or f"sqlite:///{Path(self.tmp.name) / 'marketplace_run.db'}"
        migrate.upgrade(self.url)
        self.engine = make_engine(self.url)
        if url:
            from tests.support.db import wipe

            wipe(self.engine)

    def close(self) -> None:
        self.engine.dispose()
        self.tmp.cleanup()


class PostTimer:
    """Times every ledger posting call (``ledger.post`` and ``ledger.post_many``: the run posts through them
    only): how much of a run is the ledger's."""

    NAMES = ("post", "post_many")

    def __init__(self):
        from economy_app.services import ledger

        self.ledger, self.seconds = ledger, 0.0
        self.real = {name: getattr(ledger, name) for name in self.NAMES if hasattr(ledger, name)}

    def __enter__(self):
        def timing(real):
            def timed(*a, **kw):
                t0 = time.perf_counter()
                try:
                    return real(*a, **kw)
                finally:
                    self.seconds += time.perf_counter() - t0

            return timed

        for name, real in self.real.items():
            setattr(self.ledger, name, timing(real))
        return self

    def __exit__(self, *exc):
        for name, real in self.real.items():
            setattr(self.ledger, name, real)


def cost_table(args) -> None:
    print("\n### Cost at any budget\n")
    print(
        "| products / companies | prices | budget | run (median) | reading + drawing | ledger posting "
        "| the rest | units bought | spent | companies selling | ledger rows | unbatched rows (2 per unit) "
        "| vs $30,000 |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    worst, batched, ratios = 0.0, True, []
    for n_products, n_companies in SIZES:
        for label, (low, high) in PRICES.items():
            db = Database(args.database_url)
            rng = random.Random(11)
            seed(
                db.engine, n_companies, [(p % n_companies + 1, rng.randint(low, high)) for p in range(n_products)], rng
            )
            base = None
            with Session(db.engine) as s:
                for budget in BUDGETS:
                    times, draws, posts, results = [], [], [], []
                    for run in range(args.runs):
                        t0 = time.perf_counter()
                        marketplace_run.plan(s, rng=random.Random(run), budget=budget)
                        draws.append(time.perf_counter() - t0)
                        t0 = time.perf_counter()
                        with PostTimer() as timer:
                            r = marketplace_run.run_batch(s, rng=random.Random(run), budget=budget)
                        times.append(time.perf_counter() - t0)
                        posts.append(timer.seconds)
                        results.append(r)
                        batched &= r.ledger_rows == 2 * r.companies
                    t, d, r = statistics.median(times), statistics.median(draws), results[-1]
                    post = statistics.median(posts)
                    worst = max(worst, max(times))
                    base = base or t
                    if budget == BUDGETS[-1]:
                        ratios.append((f"{n_products:,} / {n_companies:,}, {label}", t / base))
                    print(
                        f"| {n_products:,} / {n_companies:,} | {label} | {format_cents(budget)} | {t * 1e3:,.0f} ms "
                        f"| {d * 1e3:,.0f} ms | {post * 1e3:,.0f} ms | {max(0.0, t - d - post) * 1e3:,.0f} ms "
                        f"| {r.units:,} | {100 * r.spent / budget:.1f}% | {r.companies:,} "
                        f"| {r.ledger_rows:,} | {2 * r.units:,} | {t / base:.2f}x |"
                    )
            db.close()
    print(
        f"\nworst run {worst * 1e3:,.0f} ms (target < 1000 ms); exactly 2 ledger rows per selling company in "
        f"every run: {batched}"
    )
    for name, ratio in ratios:
        print(f"- $50M run / $30,000 run, {name}: {ratio:.2f}x (target within 1.5x)")


def fairness_table(args) -> None:
    print("\n### Fairness: an honest company with 3 products against a spammer, 20 runs at $30,000\n")
    print(
        "| spammer's listings | honest revenue | spammer revenue | spammer / honest | spammer's best run "
        "| its cap (20%) | other 100 companies | spent |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for spam in (300, 30):
        db = Database(args.database_url)
        rng = random.Random(5)
        others = [(c, rng.randint(900, 1100)) for c in range(3, 103) for _ in range(3)]
        seed(db.engine, 102, [(1, 1000)] * 3 + [(2, 1000)] * spam + others, rng)
        honest = spammer = rest = spent = 0
        best = 0
        budget = 3_000_000
        with Session(db.engine) as s:
            for run in range(20):
                r = marketplace_run.run_batch(
                    s, rng=random.Random(run), budget=budget, now=utcnow() + timedelta(minutes=10 * run)
                )
                earned = dict(
                    s.execute(
                        select(LedgerEntry.to_account_id, LedgerEntry.amount).where(
                            LedgerEntry.type == "marketplace_batch",
                            LedgerEntry.created_at == s.execute(select(func.max(LedgerEntry.created_at))).scalar(),
                        )
                    ).all()
                )
                honest += earned.get(1, 0)
                spammer += earned.get(2, 0)
                best = max(best, earned.get(2, 0))
                rest += r.revenue - earned.get(1, 0) - earned.get(2, 0)
                spent += r.spent
        db.close()
        print(
            f"| {spam} | {format_cents(honest)} | {format_cents(spammer)} | {spammer / max(1, honest):.2f}x "
            f"| {format_cents(best)} | {format_cents(budget // 5)} | {format_cents(rest)} "
            f"| {100 * spent / (20 * budget):.1f}% |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="runs per budget (the table shows the median)")
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    backend = "PostgreSQL" if (args.database_url or "").startswith("postgres") else "SQLite (WAL)"
    print(f"\nMarketplace runs on {backend}")
    cost_table(args)
    fairness_table(args)


if __name__ == "__main__":
    main()
