"""History benchmark: prints a table. Not a test; nothing here asserts a time.

Seeds a ledger of 1M entries over 90 days (bench/ledger.py's seed: one hot
account in ~90% of them), then times, for the hot account's owner:

- services.accounts.player_history pages: the newest page, a page 10,000 rows
  deep, type filters (common and rare), a one-day date range, CSV export;
- with --browser (default on): the real History page in Chromium against the
  app started as `make run` starts it, from navigation to the rows on screen,
  and a click on "Older".

Usage: python bench/history.py [--entries 1000000] [--no-browser]
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("ECONOMY_PASSWORD_PROFILE", "cheapest")

from sqlalchemy import update  # noqa: E402
from sqlmodel import Session  # noqa: E402

from bench.ledger import seed  # noqa: E402
from economy_app import migrate  # noqa: E402
from economy_app.db import make_engine  # noqa: E402
from economy_app.models import User, utcnow  # noqa: E402
from economy_app.services import accounts, auth, ledger, users  # noqa: E402

PASSWORD = "bench-password"


def timed(fn, repeat: int) -> tuple[float, float, object]:
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.95))], result


def service_rows(engine, owner: int, hot: int) -> list[tuple[str, float, float, str]]:
    out = []
    with Session(engine) as s:
        deep_cursor = None
        before = None
        for _ in range(200):  # walk 200 pages (10,000 rows) to find a deep cursor
            page = accounts.player_history(s, owner, hot, before=before, limit=50)
            before = ledger.cursor(page[-1])
        deep_cursor = before
        middle = utcnow() - timedelta(days=45)
        cases = [
            ("newest page, all accounts", lambda: accounts.player_history(s, owner, None, limit=51)),
            ("newest page, hot account", lambda: accounts.player_history(s, owner, hot, limit=51)),
            (
                "page 201 (10,000 rows deep)",
                lambda: accounts.player_history(s, owner, hot, before=deep_cursor, limit=51),
            ),
            ("type = transfer", lambda: accounts.player_history(s, owner, hot, types=["transfer"], limit=51)),
            (
                "type = initial_deposit (rare)",
                lambda: accounts.player_history(s, owner, hot, types=["initial_deposit"], limit=51),
            ),
            (
                "one day, 45 days ago",
                lambda: accounts.player_history(
                    s, owner, hot, since=middle, until=middle + timedelta(days=1), limit=51
                ),
            ),
        ]
        for label, fn in cases:
            p50, p95, rows = timed(fn, 30)
            out.append((label, p50, p95, f"{len(rows)} rows"))
        p50, p95, (text, count, truncated) = timed(lambda: accounts.history_csv(s, owner, hot, max_rows=10_000), 3)
        out.append(("CSV export, 10,000 rows", p50, p95, f"{len(text) // 1024} KiB"))
    return out


def browser_rows(db_url: str, token: str, hot: int) -> list[tuple[str, float, float, str]]:
    from playwright.sync_api import sync_playwright

    from tests.support.pgserver import free_port

    port = free_port()
    env = dict(
        os.environ,
        DATABASE_URL=db_url,
        REFLEX_TELEMETRY_ENABLED="false",
        REFLEX_USE_SYSTEM_BUN="1",
        PATH=f"{ROOT / '.tools/node_modules/.bin'}:{Path(sys.executable).parent}:{os.environ['PATH']}",
    )
    log = open(Path(tempfile.gettempdir()) / "economy-bench-app.log", "w")
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "reflex"),
            "run",
            "--env",
            "prod",
            "--single-port",
            "--frontend-port",
            str(port),
            "--backend-port",
            str(port),
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 600
        while True:
            try:
                with urllib.request.urlopen(base + "/ping", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the app did not start") from None
                time.sleep(1)
        out = []
        with sync_playwright() as p:
            b = p.chromium.launch(
                executable_path="/usr/bin/chromium",
                args=[
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                ],
            )
            page = b.new_page(viewport={"width": 1440, "height": 900})
            page.goto(base + "/login")
            page.evaluate("t => localStorage.setItem('economy_session', t)", token)
            loads, olders = [], []
            for i in range(6):
                t0 = time.perf_counter()
                page.goto(f"{base}/history?account={hot}")
                page.locator(".history-row").nth(49).wait_for()
                if i:  # the first load warms the browser's cache
                    loads.append(time.perf_counter() - t0)
                first = page.locator(".history-row").first.inner_text()
                t0 = time.perf_counter()
                page.click("#history-older")
                page.wait_for_function("f => document.querySelector('.history-row').innerText !== f", arg=first)
                olders.append(time.perf_counter() - t0)
            b.close()
        loads.sort()
        olders.sort()
        out.append(("History page load in Chromium", statistics.median(loads), loads[-1], "50 rows on screen"))
        out.append(("'Older' click in Chromium", statistics.median(olders), olders[-1], "next 50 rows"))
        return out
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="economy-bench-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'history.db'}"
        migrate.upgrade(url)
        engine = make_engine(url)
        print(f"seeding {args.entries:,} entries ...", file=sys.stderr, flush=True)
        info = seed(engine, args.entries, random.Random(7))
        hot = info["hot"]
        owner = info["owner"][hot]
        with engine.begin() as conn:
            conn.execute(
                update(User.__table__)
                .where(User.__table__.c.id == owner)
                .values(password_hash=users.hash_password(PASSWORD))
            )
        with Session(engine) as s:
            username = users.get_user(s, owner).username
            token = auth.login(s, username, PASSWORD).token
        rows = service_rows(engine, owner, hot)
        engine.dispose()
        if not args.no_browser:
            rows += browser_rows(url, token, hot)
    print(f"\nHistory at {args.entries:,} ledger entries (SQLite, WAL); the hot account is in ~90% of them\n")
    print("| query | p50 | p95 / max | result |")
    print("|---|---:|---:|---|")
    for label, p50, p95, note in rows:
        print(f"| {label} | {p50 * 1e3:.1f} ms | {p95 * 1e3:.1f} ms | {note} |")


if __name__ == "__main__":
    main()
