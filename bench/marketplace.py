"""Marketplace benchmark: prints a table. Not a test; nothing here asserts a time.

Seeds 1,000 companies with 10,000 active products, priced $1.00-$500.00
("premium") or $0.50-$5.00 ("everyday": thousands of units a run), then
runs services.marketplace.run_batch several times and prints, per run: units
bought, ledger rows written, the rows an unbatched design would write (two per
unit), the reduction, and the time.

Usage: python bench/marketplace.py [--companies 1000] [--products 10000] [--runs 5] [--database-url URL]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("ECONOMY_PASSWORD_PROFILE", "cheapest")

from sqlalchemy import insert, text  # noqa: E402
from sqlmodel import Session  # noqa: E402

from economy_app import migrate  # noqa: E402
from economy_app.db import make_engine  # noqa: E402
from economy_app.models import Account, Balance, Company, Product, User, utcnow  # noqa: E402
from economy_app.services import accounts, marketplace  # noqa: E402


SCENARIOS = {"premium": (100, 50_000), "everyday": (50, 500)}  # price range in cents


def seed(engine, n_companies: int, n_products: int, rng: random.Random, prices: tuple[int, int]) -> None:
    now = utcnow()
    with engine.begin() as conn:
        owners = max(1, n_companies // 5)
        conn.execute(insert(User.__table__), [dict(id=i, username=f"founder{i}", display_name=f"founder{i}",
                                                   password_hash="x", role="player", created_at=now)
                                              for i in range(1, owners + 1)])
        conn.execute(insert(Company.__table__), [
            dict(id=c, owner_id=(c - 1) % owners + 1, name=f"Company {c}", ticker=_ticker(c), created_at=now)
            for c in range(1, n_companies + 1)])
        conn.execute(insert(Account.__table__), [
            dict(id=c, name=f"Company {c}", kind="company", owner_id=(c - 1) % owners + 1, company_id=c, balance=0,
                 created_at=now) for c in range(1, n_companies + 1)])
        conn.execute(insert(Balance.__table__), [dict(account_id=c, balance=0, last_updated=now)
                                                 for c in range(1, n_companies + 1)])
        conn.execute(text("UPDATE companies SET account_id = id"))
        conn.execute(insert(Product.__table__), [
            dict(company_id=p % n_companies + 1, name=f"Product {p}", price_cents=rng.randint(*prices),
                 cost_percent=rng.randint(23, 67), active=True, created_at=now) for p in range(n_products)])
    with Session(engine) as s:
        accounts.system_account_id(s)


def _ticker(n: int) -> str:
    out = ""
    for _ in range(5):
        out += chr(65 + n % 26)
        n //= 26
    return out


def run_scenario(name: str, args) -> list:
    with tempfile.TemporaryDirectory(prefix="economy-bench-") as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'marketplace.db'}"
        migrate.upgrade(url)
        engine = make_engine(url)
        if args.database_url:
            from tests.support.db import wipe
            wipe(engine)
        seed(engine, args.companies, args.products, random.Random(11), SCENARIOS[name])
        rows = []
        with Session(engine) as s:
            for run in range(args.runs):
                t0 = time.perf_counter()
                result = marketplace.run_batch(s, rng=random.Random(run))
                rows.append((result, time.perf_counter() - t0))
        engine.dispose()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--companies", type=int, default=1000)
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    backend = "PostgreSQL" if (args.database_url or "").startswith("postgres") else "SQLite (WAL)"
    print(f"\nMarketplace runs on {backend}: {args.products:,} active products from {args.companies:,} companies\n")
    print("| products | run | budget | units bought | companies selling | ledger rows written "
          "| unbatched rows (2 per unit) | reduction | time |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    worst, batched = 0.0, True
    for name, (low, high) in SCENARIOS.items():
        for i, (r, secs) in enumerate(run_scenario(name, args), 1):
            worst = max(worst, secs)
            batched &= r.ledger_rows == 2 * r.companies
            print(f"| {name} ${low / 100:.2f}-${high / 100:.2f} | {i} | ${r.budget // 100:,}.{r.budget % 100:02d} "
                  f"| {r.units:,} | {r.companies:,} | {r.ledger_rows:,} | {2 * r.units:,} "
                  f"| {2 * r.units / max(1, r.ledger_rows):.1f}x | {secs * 1e3:.0f} ms |")
    print(f"\nworst run {worst * 1e3:.0f} ms (target < 2000 ms); "
          f"exactly 2 ledger rows per selling company in every run: {batched}")


if __name__ == "__main__":
    main()
