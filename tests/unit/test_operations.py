"""Operations: admin checks and the audit log, reconciliation reports, single-flight jobs, pausing,
ledger archival with checkpoints."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from economy_app.models import Balance, JobRun, LedgerArchive, LedgerEntry, utcnow
from economy_app.services import accounts, archive_files, operations, reconciliation, schedule, users
from economy_app.services.errors import AlreadyRunning, DuplicateRequest, NotAdmin
from economy_app.services.ledger import archive as ledger_archive
from tests.support.db import check_invariants, fingerprint


@pytest.fixture
def admin_id(session):
    return users.create_user(session, "root", "correct horse", role="admin").id


def test_admin_actions_check_the_role_and_are_audited(session, engine, make_player, admin_id):
    player, account = make_player()
    before = fingerprint(engine)
    with pytest.raises(NotAdmin):
        operations.perform(
            session,
            actor_id=player,
            action="recalculate",
            target=f"account {account}",
            fn=lambda: reconciliation.recalculate_balance(session, account),
        )
    assert fingerprint(engine) == before  # refused: nothing ran, nothing logged
    result = operations.perform(
        session,
        actor_id=admin_id,
        action="recalculate",
        target=f"account {account}",
        fn=lambda: reconciliation.recalculate_balance(session, account),
        describe=lambda r: "changed" if r.changed else "no change",
    )
    assert not result.changed
    [entry] = operations.audit_log(session)
    assert (entry["admin_name"], entry["action"], entry["target"], entry["result"], entry["ok"]) == (
        "root",
        "recalculate",
        f"account {account}",
        "no change",
        True,
    )


def test_find_accounts_by_name_ticker_or_id(session, make_player, make_company):
    owner, personal = make_player("alice")
    company, company_account = make_company(owner, "ACME", "Acme")
    assert [c.account_id for c in reconciliation.find_accounts(session, "ali")] == [
        personal,
        company_account,
    ]  # and hers
    assert [c.account_id for c in reconciliation.find_accounts(session, "acme")] == [company_account]
    assert [c.account_id for c in reconciliation.find_accounts(session, str(personal))] == [personal]
    assert reconciliation.find_accounts(session, "") == []


def test_reconciliation_reports_and_auto_repair(session, engine, make_player, monkeypatch):
    _, a = make_player()
    _, b = make_player()
    report = reconciliation.run_reconciliation(session, source="cli")
    assert (report["drifts_found"], report["accounts_checked"]) == (0, 3)
    with engine.begin() as conn:
        conn.execute(update(Balance.__table__).where(Balance.__table__.c.account_id == a).values(balance=1))
    monkeypatch.setenv("AUTO_REPAIR", "off")
    report = reconciliation.run_reconciliation(session, source="scheduler")
    assert (report["drifts_found"], report["repaired"]) == (1, 0) and f"#{a}" in report["details"]
    monkeypatch.setenv("AUTO_REPAIR", "on")
    report = reconciliation.run_reconciliation(session, source="scheduler")
    assert (report["drifts_found"], report["repaired"]) == (1, 1)
    assert reconciliation.reconcile(session) == []
    assert [r["drifts_found"] for r in reconciliation.recent_reports(session)] == [1, 1, 0]
    check_invariants(engine)


def test_bulk_operations_cannot_run_twice_at_once(session, engine):
    with operations.exclusive(session, "recalculate_all"):
        with pytest.raises(AlreadyRunning):
            with operations.exclusive(session, "recalculate_all"):
                pass
        with operations.exclusive(session, "sync_all"):  # another operation may run
            pass
    with operations.exclusive(session, "recalculate_all"):  # released afterwards
        pass
    J = JobRun.__table__
    with engine.begin() as conn:  # a claim row whose holder died (killed before it could release it)
        conn.execute(
            J.insert().values(
                job_name="admin:reconcile", slot="running", started_at=utcnow() - timedelta(seconds=5), status="running"
            )
        )
    with operations.exclusive(session, "reconcile"):  # taken over at once: nobody holds it
        with engine.connect() as conn:
            [claim] = conn.execute(select(J.c.started_at).where(J.c.job_name == "admin:reconcile")).all()
            assert claim.started_at > utcnow() - timedelta(seconds=5)  # the new holder's claim
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(J)).scalar_one() == 0


def test_a_running_operation_is_never_taken_over(session, engine):
    """(Attack 1, finding 7.) A claim used to be taken over once it was 10 minutes old, as "left behind by a
    crash", even while its holder was alive and still working (an archive or a restore of ~20M entries):
    the second operator's run then overlapped it. A claim lives exactly as long as its holder."""
    from sqlmodel import Session

    much_later = utcnow() + timedelta(days=1)
    with Session(engine) as second:
        with operations.exclusive(session, "ledger_archive"):  # alive and working, a day later
            with pytest.raises(AlreadyRunning):
                with operations.exclusive(second, "ledger_archive", now=much_later):
                    pass
        with operations.exclusive(second, "ledger_archive"):  # released: free
            pass


def test_a_claim_lives_as_long_as_its_holders_process(db_url, engine):
    """Another process (a second worker, the CLI) holds a claim: it is never taken over while that process
    lives, however old the claim; the moment the process is killed (no chance to release anything), the
    next claimer takes it over."""
    import subprocess
    import sys
    import time

    from sqlmodel import Session

    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import sys, time\n"
                "from sqlmodel import Session\n"
                "from economy_app.db import make_engine\n"
                "from economy_app.services import operations\n"
                "with Session(make_engine(sys.argv[1])) as s, operations.exclusive(s, 'ledger_archive'):\n"
                "    print('claimed', flush=True)\n"
                "    time.sleep(120)\n"
            ),
            db_url,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "claimed"
        with Session(engine) as s:
            with pytest.raises(AlreadyRunning):
                with operations.exclusive(s, "ledger_archive", now=utcnow() + timedelta(days=1)):
                    pass
        holder.kill()
        holder.wait(10)
        J = JobRun.__table__
        with engine.connect() as conn:  # the dead holder's claim row is still there
            assert (
                conn.execute(
                    select(func.count()).select_from(J).where(J.c.job_name == "admin:ledger_archive")
                ).scalar_one()
                == 1
            )
        deadline = time.monotonic() + 10  # PostgreSQL ends the dead client's session (and its lock) at once
        while True:
            try:
                with Session(engine) as s, operations.exclusive(s, "ledger_archive"):
                    break
            except AlreadyRunning:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
    finally:
        holder.kill()
        holder.wait(10)


def test_pause_and_resume(session):
    assert schedule.job_paused(session, "marketplace") is False
    schedule.set_job_paused(session, "marketplace", True)
    assert schedule.job_paused(session, "marketplace") is True
    assert schedule.paused_jobs(session) == {"marketplace"}
    schedule.set_job_paused(session, "marketplace", False)
    assert schedule.job_paused(session, "marketplace") is False


def test_a_paused_job_skips_its_scheduled_run(db_url, session, monkeypatch):
    from economy_app.services.schedule import MARKETPLACE, run_job

    monkeypatch.setenv("DATABASE_URL", db_url)
    schedule.set_job_paused(session, MARKETPLACE, True)
    assert run_job(session, MARKETPLACE, scheduled=True).summary == "paused"
    assert run_job(session, MARKETPLACE, slot="manual-1").ran  # "Run now" runs anyway


def test_archive_and_restore_keep_every_balance(session, engine, make_player, tmp_path):
    alice, a = make_player("alice")
    bob, b = make_player("bob")
    old = utcnow() - timedelta(days=30)
    for i in range(1, 6):
        accounts.transfer(
            session, actor_id=alice, from_account_id=a, to_account_id=b, amount=i * 100, idempotency_key=f"old-{i}"
        )
    with engine.begin() as conn:  # make those five (and the deposits) a month old
        conn.execute(update(LedgerEntry.__table__).values(created_at=old))
    accounts.transfer(session, actor_id=bob, from_account_id=b, to_account_id=a, amount=7)
    balances = {x: accounts.get_balance(session, x) for x in (a, b)}

    result = archive_files.archive(session, before=utcnow() - timedelta(days=1), directory=tmp_path)
    assert result.entries == 7 and result.path.exists() and result.path.suffix == ".gz"
    assert session.execute(select(func.count()).select_from(LedgerEntry)).scalar_one() == 1
    assert session.execute(select(func.count()).select_from(LedgerArchive)).scalar_one() == 7
    assert {x: accounts.get_balance(session, x) for x in (a, b)} == balances
    assert reconciliation.reconcile(session) == []  # checkpoint + later entries = balance
    assert reconciliation.recalculate_all_balances(session).changed == 0
    check_invariants(engine)
    with pytest.raises(DuplicateRequest):  # an archived idempotency key is still remembered
        accounts.transfer(
            session, actor_id=alice, from_account_id=a, to_account_id=b, amount=1, idempotency_key="old-1"
        )
    assert archive_files.archive(session, before=utcnow() - timedelta(days=1), directory=tmp_path).entries == 0

    restored = archive_files.restore(session, result.path)
    assert (restored.restored, restored.already_in_ledger, restored.known_file) == (7, 0, True)
    again = archive_files.restore(session, result.path)  # already back: every entry is found, identical, in the ledger
    assert (again.restored, again.already_in_ledger) == (0, 7)
    assert session.execute(select(func.count()).select_from(LedgerArchive)).scalar_one() == 0
    assert {x: accounts.get_balance(session, x) for x in (a, b)} == balances
    assert reconciliation.reconcile(session) == []
    check_invariants(engine)
    with session.get_bind().connect() as conn:
        assert conn.execute(select(func.count()).select_from(LedgerEntry)).scalar_one() == 8


def test_archive_failure_leaves_nothing(session, engine, make_player, tmp_path, monkeypatch):
    make_player()
    before = fingerprint(engine)

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(ledger_archive, "_add_to_checkpoints", boom)  # fails after the file was written
    folder = tmp_path / "archive"
    with pytest.raises(RuntimeError):
        archive_files.archive(session, before=utcnow() + timedelta(days=1), directory=folder)
    assert fingerprint(engine) == before and list(folder.iterdir()) == []
