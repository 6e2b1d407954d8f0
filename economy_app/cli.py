"""The operator's command line: ``economy`` (or ``python -m economy_app``). Honours DATABASE_URL."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from economy_app.db import get_session
from economy_app.money import format_cents, format_maybe_cents


def _cmd_db_upgrade(args) -> int:
    from economy_app import migrate

    migrate.upgrade(revision=args.revision)
    print(f"database at {args.revision}")
    return 0


def _cmd_services(args) -> int:
    from economy_app import config, localservices

    datadir = config.data_dir()
    if args.services_command == "down":
        localservices.down(datadir, pg_port=args.pg_port, redis_port=args.redis_port)
        print("PostgreSQL and Redis stopped")
        return 0
    try:
        urls = localservices.up(datadir, pg_port=args.pg_port, redis_port=args.redis_port, database=args.database)
    except (localservices.ServiceError, FileNotFoundError, TimeoutError) as e:
        print(f"economy services up: {e}", file=sys.stderr)
        return 1
    for key, value in urls.items():
        print(f"{key}={value}")
    return 0


def _cmd_balance(args) -> int:
    from economy_app.services import accounts

    with get_session() as s:
        print(format_cents(accounts.get_balance(s, args.account_id)))
    return 0


def _print_repair(result) -> None:
    before, after = result.before, result.after
    print(
        f"account {after.account_id} ({after.name}): "
        f"balances {format_maybe_cents(before.balances_value)} -> {format_maybe_cents(after.balances_value)}, "
        f"cache {format_maybe_cents(before.cached_value)} -> {format_maybe_cents(after.cached_value)}, ledger {format_maybe_cents(after.ledger_value)}"
    )


CLI = (None, "cli")  # who the audit log names for the operator's command line


def _audited(s, action: str, target: str, fn, describe=str, exclusive_name: str | None = None):
    """A repair or archive operation from the command line: written to the admin audit log (as "cli") in
    the same transaction as the operation; a failure is audited too."""
    from economy_app.services import operations

    return operations.audited(
        s, actor=CLI, action=action, target=target, fn=fn, describe=describe, exclusive_name=exclusive_name
    )


def _describe_repair(r) -> str:
    return "changed" if r.changed else "already agreed"


def _describe_bulk(r) -> str:
    return f"{r.accounts} accounts, {r.changed} changed, {r.duration_ms} ms"


def _cmd_recalc(args) -> int:
    from economy_app.services import reconciliation

    with get_session() as s:
        if args.all:
            r = _audited(
                s,
                "recalculate_all",
                "all accounts",
                lambda: reconciliation.recalculate_all_balances(s),
                _describe_bulk,
                exclusive_name="recalculate_all",
            )
            print(f"recalculated {r.accounts} accounts from the ledger: {r.changed} changed in {r.duration_ms} ms")
        else:
            _print_repair(
                _audited(
                    s,
                    "recalculate",
                    f"account {args.account_id}",
                    lambda: reconciliation.recalculate_balance(s, args.account_id),
                    _describe_repair,
                )
            )
    return 0


def _cmd_sync(args) -> int:
    from economy_app.services import reconciliation

    with get_session() as s:
        if args.all:
            r = _audited(
                s,
                "sync_all",
                "all accounts",
                lambda: reconciliation.sync_all_balances(s),
                _describe_bulk,
                exclusive_name="sync_all",
            )
            print(f"synced {r.accounts} balances from the account cache: {r.changed} changed in {r.duration_ms} ms")
        else:
            _print_repair(
                _audited(
                    s,
                    "sync",
                    f"account {args.account_id}",
                    lambda: reconciliation.sync_balance_from_account(s, args.account_id),
                    _describe_repair,
                )
            )
    return 0


def _cmd_reconcile(args) -> int:
    from economy_app.services import reconciliation

    with get_session() as s:
        report = reconciliation.run_reconciliation(s, source="cli")
    drifts, check = report["drifts"], report["archive"]
    if not drifts:
        print(
            f"reconcile: every account agrees (balances = cache = ledger): {report['accounts_checked']} checked "
            f"in {report['duration_ms']} ms (report {report['id']})"
        )
    else:
        repaired = f", {report['repaired']} repaired (AUTO_REPAIR=on)" if report["repaired"] else ""
        print(f"reconcile: {len(drifts)} account(s) drifted{repaired} (report {report['id']})")
        header = f"{'account':>8}  {'name':<24} {'balances':>16} {'cache':>16} {'ledger':>16}"
        print(header)
        print("-" * len(header))
        for d in drifts:
            print(
                f"{d.account_id:>8}  {d.name[:24]:<24} {format_maybe_cents(d.balances_value):>16} {format_maybe_cents(d.cached_value):>16} "
                f"{format_maybe_cents(d.ledger_value):>16}"
            )
    totals = report["totals"]
    if totals.zero:
        print("money: the balances and the cached balances sum to $0.00 (no cent created or lost)")
    else:
        print(
            f"money: the balances sum to {format_maybe_cents(totals.balances)} and the cached balances to {format_maybe_cents(totals.cache)}, "
            "not $0.00 (a cent was created or lost)"
        )
    _print_archive_check(check)
    if report["withheld"]:
        print(report["withheld"])
    return 1 if drifts or check.problems or not totals.zero else 0


def _print_archive_check(check) -> None:
    """The archive's proof, beside the three copies: checkpoints = archived entries, files, no id twice."""
    verdict = "provable" if check.problems == 0 else f"{check.problems} problem(s)"
    print(f"archive: {verdict}: {check.summary()}")
    if check.unfiled:
        print(f"  {check.unfiled:,} archived entries predate recorded files (checked through their checkpoints)")
    for c in check.checkpoint_drifts:
        print(
            f"  checkpoint of account {c.account_id} ({c.name}): {format_maybe_cents(c.checkpoint)} over {c.checkpoint_entries:,}"
            f" entries, but its archived entries sum to {format_maybe_cents(c.archived)} over {c.archived_entries:,}"
        )
    for f in check.files:
        if f.status != "ok":
            print(
                f"  file {f.name}: {f.status} ({f.entries:,} entries written, {f.archived:,} archived, "
                f"{f.restored:,} restored; {f.path})"
            )
    if check.in_both:
        print(f"  {check.in_both:,} ids are in both the ledger and the archive")


def _cmd_archive(args) -> int:
    from datetime import datetime

    from economy_app.services import archive_files

    try:
        before = datetime.fromisoformat(args.before)
    except ValueError:
        print("error: --before takes a date like 2026-01-31 (UTC)", file=sys.stderr)
        return 2
    with get_session() as s:
        result = _audited(
            s,
            "ledger archive",
            f"before {before:%Y-%m-%d %H:%M:%S}",
            lambda: archive_files.archive(s, before=before),
            lambda r: f"{r.entries} entries, {r.path.name if r.path else 'no file'}",
            exclusive_name=ARCHIVE_OPERATION,
        )
    if result.path is None:
        print(f"ledger archive: no entries before {before:%Y-%m-%d %H:%M:%S}")
    else:
        print(
            f"ledger archive: {result.entries} entries moved to the archive and written to {result.path} "
            f"(SHA-256 {result.sha256}, recorded)"
        )
    return 0


# Archive and restore both move entries and checkpoints: one of them at a time across every worker.
ARCHIVE_OPERATION = "ledger_archive"


def _cmd_restore(args) -> int:
    from pathlib import Path

    from economy_app.services import archive_files

    path = Path(args.file)
    with get_session() as s:
        r = _audited(
            s,
            "ledger restore",
            path.name[:100],
            lambda: archive_files.restore(s, path),
            lambda r: f"{r.restored} restored, {r.already_in_ledger} already in the ledger",
            exclusive_name=ARCHIVE_OPERATION,
        )
    origin = (
        "a recorded archive file, SHA-256 verified"
        if r.known_file
        else "a file with no record: every entry checked against the archive"
    )
    print(f"ledger restore: {r.restored} entries back in the ledger, {r.already_in_ledger} already there ({origin})")
    return 0


def _cmd_seed(args) -> int:
    from economy_app import config
    from economy_app.services import seed

    if not config.demo_enabled():
        print(
            "seed: ECONOMY_DEMO=off: no demo world and no demo logins. Sign up in the game, then "
            "`economy make-admin USERNAME` for an admin."
        )
        return 0
    with get_session() as s:
        creds = seed.seed_demo_world(s)
    if creds is None:
        print("seed: the database already has players; nothing to do")
    else:
        print("seed: created a demo world. Demo logins (username / password), shown this once:")
        for username, password in creds:
            print(f"  {username} / {password}")
    return 0


def _cmd_health(args) -> int:
    from economy_app.services import stats

    with get_session() as s:
        h = stats.economy_health(s)
    print(
        f"players {h.players}, accounts {h.accounts}, ledger entries {h.ledger_entries}, "
        f"money in circulation {format_cents(h.money_in_circulation)}, sum of balances {format_cents(h.balance_sum)}"
    )
    return 0


def _cmd_make_admin(args) -> int:
    from economy_app.services import users

    with get_session() as s:
        user = users.set_role(s, args.username, "admin")
    print(f"{user.username} is now an admin")
    return 0


def _cmd_marketplace_run(args) -> int:
    import random

    from economy_app.models import utcnow
    from economy_app.services import schedule

    now = utcnow()
    rng = random.Random(args.seed) if args.seed is not None else None
    with get_session() as s:
        tick = schedule.run_job(
            s, schedule.MARKETPLACE, now, slot=f"manual-{now.isoformat(timespec='microseconds')}", rng=rng
        )
    print(f"marketplace run {tick.run_id}: {tick.summary}")
    return 0


def _cmd_prices_tick(args) -> int:
    from economy_app.models import utcnow
    from economy_app.services import schedule

    now = utcnow()
    with get_session() as s:
        tick = schedule.run_job(s, schedule.PRICES, now, slot=f"manual-{now.isoformat(timespec='microseconds')}")
    print(f"price tick {tick.run_id}: {tick.summary}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from economy_app import localservices

    p = argparse.ArgumentParser(prog="economy", description="Operate the economy (honours DATABASE_URL).")
    sub = p.add_subparsers(dest="command", required=True)

    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    up = db_sub.add_parser("upgrade", help="apply migrations")
    up.add_argument("revision", nargs="?", default="head")
    up.set_defaults(func=_cmd_db_upgrade)

    b = sub.add_parser("balance", help="print an account's balance (from the balances table)")
    b.add_argument("account_id", type=int)
    b.set_defaults(func=_cmd_balance)

    for name, func, what in (
        ("recalc", _cmd_recalc, "recalculate from the ledger"),
        ("sync", _cmd_sync, "sync balances from the account cache"),
    ):
        c = sub.add_parser(name, help=what)
        g = c.add_mutually_exclusive_group(required=True)
        g.add_argument("account_id", type=int, nargs="?")
        g.add_argument("--all", action="store_true", help="every account (set-based)")
        c.set_defaults(func=func)

    r = sub.add_parser("reconcile", help="print every account whose copies disagree (exit 1 on drift)")
    r.set_defaults(func=_cmd_reconcile)

    lg = sub.add_parser("ledger", help="ledger archival")
    lg_sub = lg.add_subparsers(dest="ledger_command", required=True)
    la = lg_sub.add_parser("archive", help="move entries older than a date to data/archive/ and the archive table")
    la.add_argument("--before", required=True, help="a date or time (UTC), e.g. 2026-01-31")
    la.set_defaults(func=_cmd_archive)
    lr = lg_sub.add_parser(
        "restore",
        help="bring an archive file's entries back into the ledger (refused, with "
        "nothing changed, if the file differs from what was archived)",
    )
    lr.add_argument("file")
    lr.set_defaults(func=_cmd_restore)

    sv = sub.add_parser("services", help="PostgreSQL and Redis on loopback for the scaled mode (make run-scaled)")
    sv_sub = sv.add_subparsers(dest="services_command", required=True)
    for name, what in (
        ("up", "start whichever is not running (data in data/postgres, data/redis); print the URLs"),
        ("down", "stop the PostgreSQL cluster and Redis server that `up` started"),
    ):
        c = sv_sub.add_parser(name, help=what)
        c.add_argument("--pg-port", type=int, default=localservices.DEFAULT_PG_PORT)
        c.add_argument("--redis-port", type=int, default=localservices.DEFAULT_REDIS_PORT)
        c.add_argument("--database", default=localservices.DEFAULT_DATABASE)
        c.set_defaults(func=_cmd_services)

    sd = sub.add_parser("seed", help="create a small demo world if the database has no players")
    sd.set_defaults(func=_cmd_seed)

    h = sub.add_parser("health", help="economy-wide figures")
    h.set_defaults(func=_cmd_health)

    pr = sub.add_parser("prices", help="share prices")
    pr_sub = pr.add_subparsers(dest="prices_command", required=True)
    pt = pr_sub.add_parser("tick", help="move every public company's price once now (recorded in job_runs)")
    pt.set_defaults(func=_cmd_prices_tick)

    mk = sub.add_parser("marketplace", help="the simulated public buying products")
    mk_sub = mk.add_subparsers(dest="marketplace_command", required=True)
    mr = mk_sub.add_parser("run", help="run one marketplace batch now (recorded in job_runs)")
    mr.add_argument("--seed", type=int, default=None, help="seed the run's random choices")
    mr.set_defaults(func=_cmd_marketplace_run)

    ma = sub.add_parser("make-admin", help="grant the admin role to a user")
    ma.add_argument("username")
    ma.set_defaults(func=_cmd_make_admin)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    from economy_app.services.errors import EconomyError

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except EconomyError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
