"""The operator CLI, run as operators run it: a subprocess honouring DATABASE_URL."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import update

from economy_app.models import Account, Balance
from economy_app.services import accounts, users
from tests.support.db import check_invariants

ROOT = Path(__file__).resolve().parents[2]


def economy(db_url, *args, **extra_env):
    env = dict(os.environ, DATABASE_URL=db_url, **extra_env)
    return subprocess.run(
        [sys.executable, "-m", "economy_app", *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_cli_balance_reconcile_recalc_sync(db_url, session, engine):
    user = users.create_user(session, "alice", "correct horse")
    a = accounts.initialize_account(session, user.id).id
    run = economy(db_url, "balance", str(a))
    assert run.returncode == 0 and run.stdout.strip() == "$10,000.00"
    assert economy(db_url, "reconcile").returncode == 0

    with engine.begin() as conn:
        conn.execute(update(Balance.__table__).where(Balance.__table__.c.account_id == a).values(balance=3))
        conn.execute(update(Account.__table__).where(Account.__table__.c.id == a).values(balance=4))
    run = economy(db_url, "reconcile")
    assert run.returncode == 1, run.stdout + run.stderr
    assert "1 account(s) drifted" in run.stdout and "$0.03" in run.stdout and "$10,000.00" in run.stdout

    run = economy(db_url, "sync", str(a))
    assert run.returncode == 0 and "balances $0.03 -> $0.04" in run.stdout
    run = economy(db_url, "recalc", str(a))
    assert run.returncode == 0 and "-> $10,000.00" in run.stdout
    assert economy(db_url, "reconcile").returncode == 0

    with engine.begin() as conn:
        conn.execute(Balance.__table__.delete().where(Balance.__table__.c.account_id == a))
    run = economy(db_url, "sync", "--all")
    assert run.returncode == 0 and "1 changed" in run.stdout
    run = economy(db_url, "recalc", "--all")
    assert run.returncode == 0 and "0 changed" in run.stdout
    check_invariants(engine)


def test_cli_errors_and_usage(db_url):
    run = economy(db_url, "balance", "999")
    assert run.returncode == 2 and "does not exist" in run.stderr
    assert economy(db_url, "recalc").returncode != 0  # needs an id or --all


def test_cli_seed_once_and_health(db_url, engine):
    run = economy(db_url, "seed")
    assert run.returncode == 0 and "alice / demo-password" in run.stdout
    admin_line = [line for line in run.stdout.splitlines() if line.strip().startswith("admin / ")]
    assert len(admin_line) == 1 and len(admin_line[0].split(" / ")[1]) >= 12  # a random password, shown once
    assert "nothing to do" in economy(db_url, "seed").stdout
    run = economy(db_url, "health")
    assert "players 4" in run.stdout and "sum of balances $0.00" in run.stdout
    check_invariants(engine)


def test_cli_archive_restore_and_the_archive_proof(db_url, session, engine, tmp_path):
    import re
    from datetime import timedelta

    from economy_app.models import LedgerArchive, utcnow
    from economy_app.services import operations

    user = users.create_user(session, "alice", "correct horse")
    accounts.initialize_account(session, user.id)
    env_dir = dict(ECONOMY_DATA_DIR=str(tmp_path))
    before = (utcnow() + timedelta(seconds=2)).isoformat()
    run = economy(db_url, "ledger", "archive", "--before", before, **env_dir)
    assert run.returncode == 0 and "1 entries moved to the archive" in run.stdout and "SHA-256" in run.stdout
    path = re.search(r"written to (\S+\.jsonl\.gz)", run.stdout).group(1)
    run = economy(db_url, "reconcile")
    assert run.returncode == 0 and "archive: provable" in run.stdout and "1 files, 1 verified" in run.stdout

    with engine.begin() as conn:  # an archived entry lost behind the archive's back
        conn.execute(LedgerArchive.__table__.delete())
    run = economy(db_url, "reconcile")
    assert run.returncode == 1 and "every account agrees" in run.stdout  # the three copies cannot see it
    assert "checkpoint of account" in run.stdout and "count differs" in run.stdout
    run = economy(db_url, "ledger", "restore", path)  # the lost entry is not restored out of nowhere
    assert run.returncode == 2 and "in neither the ledger nor the archive" in run.stderr
    assert [(e["admin_name"], e["action"], e["ok"]) for e in operations.audit_log(session)] == [
        ("cli", "ledger restore", False),
        ("cli", "ledger archive", True),
    ]


def test_seed_with_demo_off_creates_no_logins(db_url, engine):
    """Issue 12, item 11: demo players log in with a password everybody knows; ECONOMY_DEMO=off seeds none."""
    run = economy(db_url, "seed", ECONOMY_DEMO="off")
    assert run.returncode == 0 and "no demo logins" in run.stdout and "demo-password" not in run.stdout
    assert "players 0" in economy(db_url, "health").stdout


def test_run_scaled_seeds_no_demo_logins():
    """`make run-scaled` (the shape of a real deployment) seeds with ECONOMY_DEMO=off; `make run` keeps the demo."""

    def seed_lines(target: str) -> list[str]:
        out = subprocess.run(["make", "-n", target], cwd=ROOT, capture_output=True, text=True, timeout=60).stdout
        return [line for line in out.splitlines() if "economy_app seed" in line]

    assert seed_lines("run-scaled") and all("ECONOMY_DEMO=off" in line for line in seed_lines("run-scaled"))
    assert seed_lines("run") and not any("ECONOMY_DEMO=off" in line for line in seed_lines("run"))
