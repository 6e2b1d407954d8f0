"""The operator CLI, run as operators run it: a subprocess honouring DATABASE_URL."""

from __future__ import annotations

import os
import subprocess
import sys

from sqlalchemy import update

from economy_app.models import Account, Balance
from economy_app.services import accounts, users
from tests.support.db import check_invariants


def economy(db_url, *args):
    env = dict(os.environ, DATABASE_URL=db_url)
    return subprocess.run([sys.executable, "-m", "economy_app", *args], env=env, capture_output=True, text=True,
                          timeout=120)


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
