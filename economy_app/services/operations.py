"""Operations: who may run an operator action, its audit row, one run at a time across every worker, the
whole-economy operations and "Run now" for the admin page, pausing a job, and the admin page's dashboard.

Every admin action checks the role on the server (``require_admin``) and is audited in the same transaction
as its work (``audited``); a failure is audited in a unit of its own after its rollback. The work itself is
``services/reconciliation.py`` (repairs, checks) and ``services/schedule.py`` (the jobs).
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import threading
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import func, select, text
from sqlmodel import Session

from economy_app.db import insert_ignore
from economy_app.models import (
    AdminAudit,
    Company,
    JobRun,
    LedgerArchive,
    LedgerEntry,
    ReconciliationReport,
    User,
    utcnow,
)
from economy_app.services import (
    accounts,
    companies,
    ledger,
    live,
    marketplace_settings,
    moderation,
    reconciliation,
    schedule,
    stats,
)
from economy_app.services._tx import unit
from economy_app.services.errors import AlreadyRunning, EconomyError, InvalidInput, NotAdmin

log = logging.getLogger(__name__)
audit_t = AdminAudit.__table__
reports_t = ReconciliationReport.__table__
job_runs_t = JobRun.__table__
companies_t = Company.__table__
ledger_t = LedgerEntry.__table__
archive_t = LedgerArchive.__table__


def require_admin(s: Session, user_id: int | None) -> User:
    """The user, if they are an admin (checked on the server for every admin action)."""
    with unit(s, write=False):
        user = s.get(User, user_id) if user_id else None
    if user is None or user.role != "admin":
        raise NotAdmin("Only admins can do that.")
    return user


def record(
    s: Session,
    *,
    admin_id: int | None,
    admin_name: str,
    action: str,
    target: str = "",
    result: str = "",
    ok: bool = True,
) -> None:
    """Write an audit row: inside the caller's unit if there is one (the action's own transaction), else in
    its own."""
    with unit(s, write=True):
        live.touch(s, live.ADMIN)
        s.execute(
            audit_t.insert().values(
                admin_id=admin_id,
                admin_name=admin_name[:40],
                action=action[:40],
                target=target[:100],
                result=result[:500],
                ok=ok,
                created_at=utcnow(),
            )
        )


def _failure(e: BaseException) -> str:
    return str(e) if isinstance(e, EconomyError) else f"{type(e).__name__}: {e}"


def audited(
    s: Session,
    *,
    actor: tuple[int | None, str],
    action: str,
    target: str,
    fn,
    describe=str,
    exclusive_name: str | None = None,
    audit_within: bool = False,
):
    """Run an operator action and audit it: ``actor`` is (admin id, name), e.g. ``(None, "cli")``.

    ``fn()`` runs in one write unit **with its audit row**: the action and its record commit together or
    not at all. ``audit_within=True`` is for an action that makes its own transaction (a job's "Run now",
    which claims its slot in the job's own session): it is called as ``fn(audit)`` and must call
    ``audit(session, result)`` inside that transaction. A failed action (any exception) is audited in its
    own unit, after its transaction rolled back, and re-raised. ``exclusive_name``: only one run at a
    time across every worker (``exclusive``); a second one is refused with ``AlreadyRunning``, audited."""
    admin_id, admin_name = actor
    entry = dict(admin_id=admin_id, admin_name=admin_name, action=action, target=target)
    audits: list[bool] = []

    def audit(session: Session, result) -> None:
        record(session, **entry, result=describe(result))
        audits.append(True)

    try:
        with exclusive(s, exclusive_name) if exclusive_name else nullcontext():
            if audit_within:
                result = fn(audit)
                if not audits:  # the action ran no transaction of its own to audit in
                    record(s, **entry, result=describe(result))
            else:
                with unit(s, write=True):
                    result = fn()
                    audit(s, result)
    except Exception as e:
        record(s, **entry, result=_failure(e), ok=False)
        raise
    return result


def perform(
    s: Session,
    *,
    actor_id: int,
    action: str,
    target: str,
    fn,
    describe=str,
    exclusive_name: str | None = None,
    audit_within: bool = False,
):
    """Run an admin action: the role checked on the server, then ``audited`` (the action and its audit row
    in one transaction; a failure audited in its own)."""
    admin = require_admin(s, actor_id)
    return audited(
        s,
        actor=(admin.id, admin.username),
        action=action,
        target=target,
        fn=fn,
        describe=describe,
        exclusive_name=exclusive_name,
        audit_within=audit_within,
    )


class _AdvisoryLock:
    """PostgreSQL: a session-level advisory lock on a connection of its own, held while the claim's holder
    runs. It dies with that connection, so a crashed holder (on any host) frees it at once, and a living
    holder keeps it however long it works."""

    _TRY = text("SELECT pg_try_advisory_lock(:space, hashtext(:job))")
    _UNLOCK = text("SELECT pg_advisory_unlock(:space, hashtext(:job))")

    def __init__(self, engine, job: str):
        self.engine, self.params, self.conn = engine, {"space": ledger.ADVISORY_SPACE + 1, "job": job}, None

    def acquire(self) -> bool:
        conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            got = bool(conn.execute(self._TRY, self.params).scalar())
        except BaseException:
            conn.close()
            raise
        if got:
            self.conn = conn
        else:
            conn.close()
        return got

    def release(self) -> None:
        conn, self.conn = self.conn, None
        if conn is None:
            return
        try:
            conn.execute(self._UNLOCK, self.params)
        except Exception:
            conn.invalidate()  # the connection is discarded, and the lock with it
        conn.close()


_PROCESS_LOCKS: dict[tuple[int, str], threading.Lock] = {}


class _FileLock:
    """SQLite (one machine): an ``flock`` on a file beside the database, held while the claim's holder runs.
    The operating system releases it when the holder's process ends, however it ends; a living holder keeps
    it however long it works. (An in-memory database lives in one process: a lock of that process.)"""

    def __init__(self, engine, job: str):
        database = engine.url.database
        self.path = (
            f"{os.path.abspath(database)}.claim-{job.replace(':', '-')}"
            if database and database != ":memory:"
            else None
        )
        self.process_lock = _PROCESS_LOCKS.setdefault((id(engine), job), threading.Lock())
        self.fd: int | None = None
        self.held = False

    def acquire(self) -> bool:
        if self.path is None:
            self.held = self.process_lock.acquire(blocking=False)
            return self.held
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self.fd = fd
        return True

    def release(self) -> None:
        if self.fd is not None:
            fd, self.fd = self.fd, None
            os.close(fd)  # closing the file releases the flock
        elif self.held:
            self.held = False
            self.process_lock.release()


def _holder_lock(s: Session, job: str):
    engine = s.get_bind().engine
    return _AdvisoryLock(engine, job) if engine.dialect.name == "postgresql" else _FileLock(engine, job)


@contextmanager
def exclusive(s: Session, name: str, *, now: datetime | None = None):
    """Only one run of ``name`` at a time across every worker: a claim row in ``job_runs`` while it runs, and
    beside it a lock that lives exactly as long as its holder (``_holder_lock``: a PostgreSQL advisory lock
    on a connection of its own; on SQLite an ``flock`` beside the database file).

    The lock decides, without waiting: of two admins starting the same operation at once, one takes it and
    the other gets ``AlreadyRunning`` at once (never an IntegrityError, and never a wait behind a long write
    on SQLite). The holder then records its claim (INSERT ... ON CONFLICT DO NOTHING on the unique
    (job_name, slot)). A claim row already there while the lock is free was left by a holder that died (a
    crash, a kill): it is taken over at once. A claim whose holder is alive is never taken over, however long
    it has been running (an archive of 20M entries takes minutes). Claimed and released in units of their
    own, so call it outside a unit. ``now`` is the claim's start time (default: now)."""
    if s.info.get("economy_unit") is not None:
        raise RuntimeError("exclusive() claims in its own transaction: call it outside a unit")
    now = now or utcnow()
    job = f"admin:{name}"
    running = (job_runs_t.c.job_name == job) & (job_runs_t.c.slot == "running")
    claim_row = dict(job_name=job, slot="running", started_at=now, status="running")
    alive = _holder_lock(s, job)
    if not alive.acquire():  # its holder is alive
        raise AlreadyRunning("That operation is already running. Wait for it to finish.")
    try:
        with unit(s, write=True):
            claim = insert_ignore(s, job_runs_t, claim_row, index_elements=["job_name", "slot"])
            if claim is None:  # a claim whose holder died: taken over
                log.warning("taking over the claim on %s left by a holder that is gone", job)
                s.execute(job_runs_t.delete().where(running))
                claim = insert_ignore(s, job_runs_t, claim_row, index_elements=["job_name", "slot"])
    except BaseException:
        alive.release()
        raise
    try:
        yield
    finally:
        alive.release()  # first: from here on, a claimer finding the row takes it over
        with unit(s, write=True):
            s.execute(job_runs_t.delete().where(job_runs_t.c.id == claim))


BULK_OPERATIONS = ("recalculate_all", "sync_all", "reconcile")


def run_bulk(s: Session, *, actor_id: int, op: str):
    """A whole-economy operation for the admin page: role checked, one at a time across every worker
    (``AlreadyRunning`` otherwise), the work and its audit row in one transaction. Returns a ``BulkResult``
    (recalculate_all, sync_all) or the reconciliation report (reconcile)."""
    if op not in BULK_OPERATIONS:
        raise InvalidInput("No such operation.")

    def work():
        if op == "recalculate_all":
            return reconciliation.recalculate_all_balances(s)
        if op == "sync_all":
            return reconciliation.sync_all_balances(s)
        return reconciliation.run_reconciliation(s, source="admin")

    def describe(r):
        if op == "reconcile":
            return (
                f"{r['accounts_checked']} accounts, {r['drifts_found']} drifted, "
                f"{r['archive_problems']} archive problems"
            )
        return f"{r.accounts} accounts, {r.changed} changed, {r.duration_ms} ms"

    return perform(
        s, actor_id=actor_id, action=op, target="all accounts", fn=work, describe=describe, exclusive_name=op
    )


@dataclass(frozen=True)
class BatchRun:
    at: datetime
    ledger_rows: int
    units: int


@dataclass(frozen=True)
class Overview:
    players: int
    companies: int
    accounts: int
    ledger_entries: int
    archived_entries: int
    money_in_circulation: int
    marketplace_runs: list[BatchRun]
    last_report: dict | None


def overview(s: Session) -> Overview:
    """The economy at a glance, with the ledger rows each of the last 20 marketplace runs wrote."""
    health = stats.economy_health(s)
    with unit(s, write=False):
        runs = s.execute(
            select(ledger_t.c.created_at, func.count().label("rows"), func.sum(ledger_t.c.batch_count).label("units"))
            .where(ledger_t.c.type == "marketplace_batch")
            .group_by(ledger_t.c.created_at)
            .order_by(ledger_t.c.created_at.desc())
            .limit(20)
        ).all()
        companies = s.execute(select(func.count()).select_from(companies_t)).scalar_one()
        archived = s.execute(select(func.count()).select_from(archive_t)).scalar_one()
        last = s.execute(select(reports_t).order_by(reports_t.c.id.desc()).limit(1)).mappings().first()
    return Overview(
        players=health.players,
        companies=companies,
        accounts=health.accounts,
        ledger_entries=health.ledger_entries,
        archived_entries=archived,
        money_in_circulation=health.money_in_circulation,
        # Each run's revenue and cost entries carry the same units: count them once.
        marketplace_runs=[BatchRun(r.created_at, r.rows, int(r.units or 0) // 2) for r in runs],
        last_report=dict(last) if last else None,
    )


def audit_log(s: Session, limit: int = 50) -> list[dict]:
    with unit(s, write=False):
        return [dict(r) for r in s.execute(select(audit_t).order_by(audit_t.c.id.desc()).limit(limit)).mappings()]


# --------------------------------------------------------------------------- the admin page's actions


def update_marketplace_settings(s: Session, *, actor_id: int, **values) -> marketplace_settings.MarketSettings:
    """An admin sets marketplace settings: role checked; the ones that differ from those in force are
    stored (the others keep their source) and audited with their before and after values; a refusal is
    audited too and changes nothing."""
    user = require_admin(s, actor_id)
    holder: dict = {}

    def work() -> marketplace_settings.MarketSettings:
        unknown = set(values) - set(marketplace_settings.FIELDS)
        if unknown:
            raise InvalidInput(f"Unknown marketplace setting: {', '.join(sorted(unknown))}.")
        old = marketplace_settings.load(s)
        new = marketplace_settings.validate(replace(old, **values))
        holder["change"] = marketplace_settings.describe_change(old, new)
        changed = {k: v for k, v in values.items() if getattr(old, k) != v}
        return marketplace_settings.save(s, changed, by=user.username) if changed else old

    return perform(
        s,
        actor_id=actor_id,
        action="marketplace settings",
        target="marketplace",
        fn=work,
        describe=lambda _new: holder["change"],
    )


def run_job_now(s: Session, *, actor_id: int, name: str) -> schedule.TickResult:
    """An admin's "Run now": the role checked, then the job run in this session for a slot of its own (so it
    runs even when paused, and never takes a scheduled slot), its audit row written inside the job's own
    transaction (the run and its record commit together); a failed run is in ``job_runs`` and audited."""
    admin = require_admin(s, actor_id)
    if not isinstance(name, str) or name not in schedule.JOBS:
        raise InvalidInput("No such job.")
    slot = f"admin-{utcnow().isoformat(timespec='microseconds')}"
    return audited(
        s,
        actor=(admin.id, admin.username),
        action="run job",
        target=name,
        fn=lambda audit: schedule.run_job(s, name, slot=slot, audit=audit),
        describe=lambda t: t if isinstance(t, str) else t.summary,
        audit_within=True,
    )


def pause_job(s: Session, *, actor_id: int, name: str, paused: bool) -> None:
    """Pause or resume a job on every worker (a switch in ``job_settings``): role checked, audited."""
    admin = require_admin(s, actor_id)
    if not isinstance(name, str) or name not in schedule.JOBS:
        raise InvalidInput("No such job.")
    audited(
        s,
        actor=(admin.id, admin.username),
        action="pause job" if paused else "resume job",
        target=name,
        fn=lambda: schedule.set_job_paused(s, name, paused),
        describe=lambda _: "ok",
    )


def repair_account(s: Session, *, actor_id: int, account_id: int, action: str) -> reconciliation.RepairResult:
    """Recalculate one account from the ledger (``action="recalculate"``) or sync it from the account cache
    (``"sync"``): role checked, audited with its result."""
    fns = {"recalculate": reconciliation.recalculate_balance, "sync": reconciliation.sync_balance_from_account}
    if action not in fns:
        raise InvalidInput("No such repair.")
    require_admin(s, actor_id)
    return perform(
        s,
        actor_id=actor_id,
        action=action,
        target=f"{moderation.label_of(s, account_id)} (#{account_id})",
        fn=lambda: fns[action](s, account_id),
        describe=lambda r: "changed" if r.changed else "already agreed",
    )


def account_lookup(s: Session, *, actor_id: int, query: str) -> list[moderation.FoundAccount]:
    """The admin page's account lookup (``reconciliation.find_accounts``) with each account's owner, company,
    freeze and last few entries, role checked."""
    require_admin(s, actor_id)
    return moderation.found_accounts(s, reconciliation.find_accounts(s, query))


FREEZE_KINDS = ("player", "company")


def freeze(
    s: Session, *, actor_id: int, kind: str, target_id: int, reason: str, frozen: bool = True
) -> moderation.FreezeChange:
    """Freeze (``frozen=True``) or unfreeze every account of a player (``kind="player"``) or one company's account
    (``kind="company"``), with a reason (3 to 200 characters, required both ways): role checked, the change and its
    audit row (the accounts, the reason, and any freeze it leaves in place and why) in one transaction; a refusal
    (no reason, nothing to change) audited too. Returns what changed (``moderation.FreezeChange``). See
    ``services/moderation.py`` for what a freeze stops and how the scopes of player and company freezes meet."""
    admin = require_admin(s, actor_id)
    if kind not in FREEZE_KINDS:
        raise InvalidInput("Freeze a player or a company.")
    t = moderation.target(s, kind, target_id)
    said: dict = {}

    def work() -> moderation.FreezeChange:
        f = moderation.new_freeze(reason, admin.username)
        said["reason"] = f.reason
        return moderation.set_frozen(s, t, freeze=f if frozen else None)

    def describe(done: moderation.FreezeChange) -> str:
        verb, n = "frozen" if frozen else "unfrozen", len(done.changed)
        what = f"{n} account{'s' if n != 1 else ''} {verb} ({', '.join(done.changed)})" if n else f"No account {verb}"
        return " ".join([f"{what}: {said['reason'].rstrip('.')}.", *done.notes])

    return audited(
        s,
        actor=(admin.id, admin.username),
        action=f"{'freeze' if frozen else 'unfreeze'} {kind}",
        target=t.label,
        fn=work,
        describe=describe,
    )


@dataclass(frozen=True)
class AdminAccount:
    """One account's admin page: the account (its three copies, owner, company, freeze), the owner with every
    account and company they hold, and a page of its history."""

    account: moderation.FoundAccount
    owner: moderation.Owner | None  # None for the system account
    companies: list[companies.CompanyView]
    history: list[ledger.HistoryRow]
    has_more: bool  # older entries than this page
    system_account_id: int | None


def admin_account(
    s: Session, *, actor_id: int, account_id: int, before: ledger.Cursor | None = None, limit: int = 25
) -> AdminAccount:
    """Everything an account's admin page shows, in one call, role checked: ``limit`` entries after ``before``
    (a ``ledger.cursor``), newest first."""
    require_admin(s, actor_id)
    facts = moderation.require_account(s, account_id)
    copies = reconciliation.account_copies(s, account_id)
    rows = ledger.history(s, account_id, before=before, limit=limit + 1)
    found = moderation.FoundAccount(copies=copies, facts=facts, recent=[])
    who = moderation.owner(s, facts.owner_id) if facts.owner_id is not None else None
    return AdminAccount(
        account=found,
        owner=who,
        companies=companies.my_companies(s, facts.owner_id) if facts.owner_id is not None else [],
        history=rows[:limit],
        has_more=len(rows) > limit,
        system_account_id=accounts.find_system_account_id(s),
    )


@dataclass(frozen=True)
class JobStatus:
    """One scheduled job as the admin page shows it."""

    name: str
    title: str
    interval_seconds: int
    last_started: datetime | None
    status: str  # of the last run: "ok", "failed", "running", or "" (never ran)
    summary: str
    duration_ms: int | None
    paused: bool
    next_run: datetime | None  # None while paused


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    admin: str
    action: str
    target: str
    result: str
    ok: bool


@dataclass(frozen=True)
class AdminDashboard:
    """Everything the admin page shows but the marketplace settings, read in one call."""

    overview: Overview
    jobs: list[JobStatus]
    audit: list[AuditEntry]
    found: list[moderation.FoundAccount]  # the account lookup's matches ([] without a query)


def job_statuses(s: Session, *, now: datetime | None = None) -> list[JobStatus]:
    """Every job: its interval in force, its last run, paused or when it runs next."""
    last = schedule.last_runs(s, list(schedule.JOBS))
    paused_now = schedule.paused_jobs(s)
    out = []
    for job in schedule.JOBS.values():
        run, paused, interval = last.get(job.name), job.name in paused_now, job.interval_now(s)
        duration = None
        if run and run["finished_at"]:
            duration = int((run["finished_at"] - run["started_at"]).total_seconds() * 1000)
        out.append(
            JobStatus(
                name=job.name,
                title=job.title,
                interval_seconds=interval,
                last_started=run["started_at"] if run else None,
                status=run["status"] if run else "",
                summary=(run["summary"] or "") if run else "",
                duration_ms=duration,
                paused=paused,
                next_run=None if paused else schedule.next_run_at(interval, now),
            )
        )
    return out


def dashboard(s: Session, *, actor_id: int, query: str = "", audit_entries: int = 30) -> AdminDashboard:
    """The admin page in one call: the role checked, then the overview, the scheduler, the audit log and the
    account lookup's matches for ``query``."""
    require_admin(s, actor_id)
    return AdminDashboard(
        overview=overview(s),
        jobs=job_statuses(s),
        audit=audit_entries_in_words(s, audit_log(s, audit_entries)),
        found=moderation.found_accounts(s, reconciliation.find_accounts(s, query)) if query else [],
    )


_ACCOUNT_TARGET = re.compile(r"account (\d{1,10})")  # how repairs named their account before names were written


def audit_entries_in_words(s: Session, rows: list[dict]) -> list[AuditEntry]:
    """Audit rows as people read them: a job by its title, an account written as "account 12" (rows from
    before names were written) by its owner's name."""
    ids = {int(m.group(1)) for a in rows if (m := _ACCOUNT_TARGET.fullmatch(a["target"] or ""))}
    facts = moderation.account_facts(s, ids)

    def target(a) -> str:
        text = a["target"] or ""
        if a["action"] in ("run job", "pause job", "resume job") and text in schedule.JOBS:
            return schedule.JOBS[text].title
        if m := _ACCOUNT_TARGET.fullmatch(text):
            account = int(m.group(1))
            return f"{moderation.account_label(facts.get(account), account)} (#{account})"
        return text

    return [
        AuditEntry(
            at=a["created_at"],
            admin=a["admin_name"],
            action=a["action"],
            target=target(a),
            result=a["result"],
            ok=bool(a["ok"]),
        )
        for a in rows
    ]
