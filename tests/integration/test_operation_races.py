"""Operator tools racing the app on PostgreSQL (READ COMMITTED, many connections at once).

SQLite needs none of this: every write unit holds the database's write lock (BEGIN IMMEDIATE), so a
repair, an archive run or a count-then-insert never interleaves with another write. On PostgreSQL they do,
and each test makes the dangerous interleaving happen for sure (a transaction held open, or a hook on
the statement stream that lets the other side commit at the worst moment):

- a repair (one account, all, AUTO_REPAIR, sync) while a transfer holds its transaction open;
- an archive run while an entry older than the cutoff commits between its statements;
- 12 concurrent company foundings by one player, against the 5-company limit;
- two admins starting the same bulk operation at the same instant.
"""

from __future__ import annotations

import gzip
import json
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import event, func, select, update
from sqlmodel import Session

from economy_app.db import make_engine
from economy_app.models import Balance, Company, LedgerArchive, LedgerEntry, utcnow
from economy_app.services import accounts, archive_files, companies, operations, reconciliation, users
from economy_app.services._tx import unit
from economy_app.services.errors import AlreadyRunning, CompanyLimit
from tests.support.db import check_invariants

pytestmark = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)

L, A = LedgerEntry.__table__, LedgerArchive.__table__


def _player(engine, name: str) -> tuple[int, int]:
    with Session(engine, expire_on_commit=False) as s:
        user = users.create_user(s, name, "correct horse")
        return user.id, accounts.initialize_account(s, user.id).id


def _thread(target, *args) -> threading.Thread:
    errors: list[BaseException] = []

    def run():
        try:
            target(*args)
        except BaseException as e:  # re-raised by the test
            errors.append(e)

    t = threading.Thread(target=run)
    t.errors = errors
    t.start()
    return t


def _all_at_once(engine, hook_name: str, hook, runs: list[tuple]) -> None:
    """Run ``target(*args)`` for each of ``runs`` in its own thread with ``hook`` listening on the engine's
    statements; none may raise."""
    event.listen(engine, hook_name, hook)
    try:
        threads = [_thread(*run) for run in runs]
        for t in threads:
            t.join(60)
    finally:
        event.remove(engine, hook_name, hook)
    assert [e for t in threads for e in t.errors] == []


REPAIRS = {
    "recalculate one": lambda s, account: reconciliation.recalculate_balance(s, account),
    "recalculate all": lambda s, account: reconciliation.recalculate_all_balances(s),
    "AUTO_REPAIR": lambda s, account: reconciliation.run_reconciliation(s, source="scheduler", auto_repair=True),
    "sync one": lambda s, account: reconciliation.sync_balance_from_account(s, account),
    "sync all": lambda s, account: reconciliation.sync_all_balances(s),
}


@pytest.mark.parametrize("repair", list(REPAIRS))
def test_a_repair_never_overwrites_a_transfer_in_flight(engine, repair):
    """The issue's repro: alice's balances row is 5 cents off; a $9,000 transfer holds its transaction
    open for a second while an admin repairs alice. The repair must count the transfer."""
    alice, a = _player(engine, "alice")
    _, b = _player(engine, "bob")
    with engine.begin() as conn:
        conn.execute(
            update(Balance.__table__)
            .where(Balance.__table__.c.account_id == a)
            .values(balance=Balance.__table__.c.balance + 5)
        )
    posted = threading.Event()

    def transfer_held_open():
        with Session(engine) as s:
            with unit(s, write=True):
                accounts.transfer(s, actor_id=alice, from_account_id=a, to_account_id=b, amount=900_000)
                posted.set()
                time.sleep(1.0)  # committed only after the repair has started

    t = _thread(transfer_held_open)
    assert posted.wait(10)
    with Session(engine, expire_on_commit=False) as s:
        REPAIRS[repair](s, a)
    t.join()
    assert t.errors == []
    with Session(engine) as s:
        alice_now = reconciliation.account_copies(s, a)
        assert (alice_now.balances_value, alice_now.cached_value, alice_now.ledger_value) == (
            100_000,
            100_000,
            100_000,
        )  # $1,000.00
        assert reconciliation.reconcile(s) == []


@pytest.mark.parametrize("moment", ["INSERT INTO ledger_archive (", "DELETE FROM ledger "])
def test_an_entry_committing_during_an_archive_run_is_never_lost(db_url, engine, tmp_path, moment):
    """An entry dated before the cutoff commits between the archive's statements (just before it copies
    rows to the archive, or just before it deletes them from the ledger): it is either archived (in the
    file, the checkpoint and the table) or still in the ledger, never half of it, never gone."""
    alice, a = _player(engine, "alice")
    _, b = _player(engine, "bob")
    with Session(engine) as s:
        accounts.transfer(s, actor_id=alice, from_account_id=a, to_account_id=b, amount=100)
    other = make_engine(db_url)  # the app, on its own connections
    late: list[int] = []

    def post_now():
        with Session(other) as s:
            late.append(accounts.transfer(s, actor_id=alice, from_account_id=a, to_account_id=b, amount=250).id)

    def at_the_worst_moment(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().startswith(moment) and not late:
            t = _thread(post_now)
            t.join(10)
            assert not t.is_alive() and t.errors == []

    event.listen(engine, "before_cursor_execute", at_the_worst_moment)
    try:
        with Session(engine) as s:
            result = archive_files.archive(s, before=utcnow() + timedelta(hours=1), directory=tmp_path)
    finally:
        event.remove(engine, "before_cursor_execute", at_the_worst_moment)
        other.dispose()
    assert late, "the concurrent posting never ran"
    check_invariants(engine)
    with engine.connect() as conn:
        live = set(conn.execute(select(L.c.id)).scalars())
        archived = set(conn.execute(select(A.c.id)).scalars())
    with gzip.open(result.path, "rt") as f:
        in_file = {json.loads(line)["id"] for line in f}
    assert in_file == archived and not live & archived  # the file is exactly what was archived
    assert live | archived == set(range(1, max(live | archived) + 1))  # every entry ever posted is somewhere
    assert late[0] in live  # the late entry was not in the run's selection: it waits for the next one
    with Session(engine) as s:
        assert reconciliation.reconcile(s) == [] and reconciliation.check_archive(s).problems == 0


def _one_archived_one_live(engine, directory):
    """alice sends bob $1.00; everything so far is archived (3 entries); then alice sends bob $70.00 (live)."""
    alice, a = _player(engine, "alice")
    _, b = _player(engine, "bob")
    with Session(engine) as s:
        accounts.transfer(s, actor_id=alice, from_account_id=a, to_account_id=b, amount=100)
        first = archive_files.archive(s, before=utcnow() + timedelta(seconds=1), directory=directory)
        accounts.transfer(s, actor_id=alice, from_account_id=a, to_account_id=b, amount=7_000)
    assert first.entries == 3
    return first


def _while_the_restore_writes_checkpoints(engine, restore, other) -> list[threading.Thread]:
    """Run ``restore()`` in a thread named "restore"; the moment it first touches ``ledger_checkpoints`` (to read
    a checkpoint, or to write one), start ``other()`` in a thread and give it 3 s to finish (a fixed service
    may make it wait for the restore instead: then the restore goes on). Returns [the restore, the other]."""
    fired: list[threading.Thread] = []

    def hook(conn, cursor, statement, parameters, context, executemany):
        if threading.current_thread().name == "restore" and not fired and "ledger_checkpoints" in statement:
            fired.append(_thread(other))
            fired[0].join(3)

    def run_restore():
        try:
            restore()
        except BaseException as e:
            restorer.errors.append(e)

    event.listen(engine, "after_cursor_execute", hook)
    try:
        restorer = threading.Thread(target=run_restore, name="restore")
        restorer.errors = []
        restorer.start()
        restorer.join(60)
        assert fired, "the restore never touched a checkpoint"
        fired[0].join(60)
    finally:
        event.remove(engine, "after_cursor_execute", hook)
    assert not restorer.is_alive() and not fired[0].is_alive()
    return [restorer, fired[0]]


def test_an_archive_run_during_a_restore_is_refused(engine, tmp_path):
    """(Attack 1, finding 2.) A restore is writing checkpoints when an archive run starts (a script, a test, the
    CLI of an operator whose claim was taken over): archive and restore take one lock for their whole
    transaction inside the services, so the archive is refused at once ("already running"), whoever called it.
    It used to run: it committed between the restore's read of alice's checkpoint and its write, and the
    restore's write then lost the archived $70.00 from every checkpoint (the ledger said alice had $70.00 more
    than she has, and AUTO_REPAIR turned that into money)."""
    first = _one_archived_one_live(engine, tmp_path)

    def restore():
        with Session(engine) as s:
            assert archive_files.restore(s, first.path).restored == 3

    def archive_now():
        with Session(engine) as s:
            archive_files.archive(s, before=utcnow() + timedelta(seconds=1), directory=tmp_path)

    restorer, archiver = _while_the_restore_writes_checkpoints(engine, restore, archive_now)
    assert restorer.errors == []
    assert [type(e) for e in archiver.errors] == [AlreadyRunning]
    assert sorted(p.name for p in tmp_path.iterdir()) == [first.path.name]  # the refused run left no file
    with Session(engine) as s:
        assert reconciliation.reconcile(s) == [] and reconciliation.check_archive(s).problems == 0
        assert archive_files.archive(s, before=utcnow() + timedelta(seconds=1), directory=tmp_path).entries == 4
        assert reconciliation.reconcile(s) == [] and reconciliation.check_archive(s).problems == 0
    check_invariants(engine)


def test_checkpoints_are_written_relatively(engine, tmp_path, monkeypatch):
    """The same race below the services' lock (as if it were bypassed): an archive of the $70.00 entry commits
    while a restore's transaction is writing checkpoints. Checkpoints are added to (``balance = balance +
    net``, an upsert), never computed from a read and written back, so whichever commits second adds to what
    the first committed: no update is lost. (A restore that only read the checkpoint used to let the archive
    commit and then wrote its stale total over it.)"""
    from economy_app.services import ledger
    from economy_app.services.ledger import archive as ledger_archive

    first = _one_archived_one_live(engine, tmp_path)
    rows = archive_files.read_archive(first.path)
    monkeypatch.setattr(ledger_archive, "lock_archive", lambda s: None)

    def restore():
        with Session(engine) as s:
            with unit(s, write=True):
                assert ledger.restore_entries(s, iter(rows)).restored == 3

    def archive_now():
        with Session(engine) as s:
            with unit(s, write=True):
                assert ledger.archive_entries(s, utcnow() + timedelta(seconds=1), lambda row: None) == 1

    restorer, archiver = _while_the_restore_writes_checkpoints(engine, restore, archive_now)
    assert restorer.errors == [] and archiver.errors == []
    with Session(engine) as s:
        assert reconciliation.reconcile(s) == [] and reconciliation.check_archive(s).checkpoint_drifts == []
    check_invariants(engine)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(A)).scalar_one() == 1  # the $70.00, archived


def test_reconciliation_during_an_archive_run_reports_no_false_problem(engine, tmp_path):
    """(Attack 1, finding 8.) check_archive read the per-file counts and the file records in separate READ
    COMMITTED statements: an archive run committing between them was a file with 1 entry of which 0 were
    archived, "count differs", an archive problem that is not there (the hourly report, and `economy
    reconcile` exiting 1). The check reads one snapshot (REPEATABLE READ)."""
    alice, a = _player(engine, "alice")
    _, b = _player(engine, "bob")
    with Session(engine) as s:
        accounts.transfer(s, actor_id=alice, from_account_id=a, to_account_id=b, amount=100)
    fired: list[threading.Thread] = []

    def archive_now():
        with Session(engine) as s:
            assert archive_files.archive(s, before=utcnow() + timedelta(seconds=1), directory=tmp_path).entries == 3

    def between_the_counts_and_the_files(conn, cursor, statement, parameters, context, executemany):
        if not fired and "GROUP BY ledger_archive.file_id" in statement:
            fired.append(_thread(archive_now))
            fired[0].join(10)

    event.listen(engine, "after_cursor_execute", between_the_counts_and_the_files)
    try:
        with Session(engine) as s:
            report = reconciliation.run_reconciliation(s, source="scheduler")
    finally:
        event.remove(engine, "after_cursor_execute", between_the_counts_and_the_files)
    assert fired and not fired[0].is_alive() and fired[0].errors == []
    assert report["archive_problems"] == 0, report["details"]
    with Session(engine) as s:  # and the next check sees the archive run whole
        check = reconciliation.check_archive(s)
    assert (check.archived_entries, [f.status for f in check.files], check.problems) == (3, ["ok"], 0)


def test_the_company_limit_holds_under_concurrent_foundings(engine):
    """12 foundings by one player at once, each pausing between its count and its insert: at most 5."""
    owner, _ = _player(engine, "founder")
    start = threading.Barrier(12)
    outcomes: list[str] = []

    def slow_count(conn, cursor, statement, parameters, context, executemany):
        if "count(*)" in statement and "FROM companies" in statement:
            time.sleep(0.1)  # widen the window between the count and the insert

    def found(i: int):
        start.wait()
        with Session(engine, expire_on_commit=False) as s:
            try:
                companies.create_company(s, owner_id=owner, name=f"Company {i}", ticker="Q" + "ABCDEFGHIJKL"[i])
                outcomes.append("created")
            except CompanyLimit:
                outcomes.append("limit")

    _all_at_once(engine, "after_cursor_execute", slow_count, [(found, i) for i in range(12)])
    with Session(engine) as s:
        owned = s.execute(select(func.count()).select_from(Company).where(Company.owner_id == owner)).scalar_one()
    assert owned == outcomes.count("created") == 5 and outcomes.count("limit") == 7
    check_invariants(engine)


def test_two_admins_starting_the_same_operation_at_once(engine):
    """Both claim at the same instant: one runs, the other is told it is already running (never an
    IntegrityError), and the claim is gone afterwards."""
    both_claiming = threading.Barrier(2, timeout=10)
    outcomes: list[str] = []

    def at_the_same_instant(conn, cursor, statement, parameters, context, executemany):
        if "pg_try_advisory_lock" in statement:
            both_claiming.wait()

    def start():
        with Session(engine) as s:
            try:
                with operations.exclusive(s, "recalculate_all"):
                    time.sleep(0.3)
                outcomes.append("ran")
            except AlreadyRunning:
                outcomes.append("already running")

    _all_at_once(engine, "before_cursor_execute", at_the_same_instant, [(start,), (start,)])
    assert sorted(outcomes) == ["already running", "ran"]
    with Session(engine) as s:
        with operations.exclusive(s, "recalculate_all"):  # released
            pass


def test_two_admins_on_the_admin_path_get_a_clear_message(engine):
    """The same race through the admin page's service: the loser's refusal is audited like any failure."""
    admins = []
    with Session(engine) as s:
        for name in ("root", "ops"):
            admins.append(users.create_user(s, name, "correct horse", role="admin").id)
    _player(engine, "alice")
    both_claiming = threading.Barrier(2, timeout=10)
    outcomes: list[str] = []

    def at_the_same_instant(conn, cursor, statement, parameters, context, executemany):
        if "pg_try_advisory_lock" in statement and "admin:" in str(parameters):
            both_claiming.wait()
        elif statement.lstrip().startswith("DELETE FROM job_runs WHERE job_runs.id"):
            time.sleep(0.3)  # the winner still runs while the loser looks

    def start(actor: int):
        with Session(engine) as s:
            try:
                operations.run_bulk(s, actor_id=actor, op="recalculate_all")
                outcomes.append("ran")
            except AlreadyRunning as e:
                outcomes.append(str(e))

    _all_at_once(engine, "before_cursor_execute", at_the_same_instant, [(start, actor) for actor in admins])
    assert sorted(outcomes) == ["That operation is already running. Wait for it to finish.", "ran"]
    with Session(engine) as s:
        log = operations.audit_log(s)
    assert sorted((e["action"], e["ok"]) for e in log) == [("recalculate_all", False), ("recalculate_all", True)]
