"""Operator tools: recalculate balances from the ledger, sync them from the cache, reconcile.

Every whole-economy operation is set-based (a few statements whatever the
number of accounts); the writes themselves are the ledger module's repair
primitives, so the money tables keep exactly one writer.
"""

from __future__ import annotations

import logging
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlmodel import Session

from economy_app.models import (
    Account,
    AdminAudit,
    Balance,
    Company,
    JobRun,
    JobSetting,
    LedgerArchive,
    LedgerEntry,
    ReconciliationReport,
    User,
    utcnow,
)
from economy_app.services import ledger
from economy_app.services._tx import unit
from economy_app.services.errors import AccountNotFound, AlreadyRunning, EconomyError, NotAdmin
from economy_app.services.ledger import insert_ignore

accounts_t = Account.__table__
balances_t = Balance.__table__


@dataclass(frozen=True)
class AccountCopies:
    """The three copies of one balance, side by side. ``balances_value`` is None when the row is missing."""

    account_id: int
    name: str
    kind: str
    balances_value: int | None
    cached_value: int
    ledger_value: int

    @property
    def drifted(self) -> bool:
        return not (self.balances_value == self.cached_value == self.ledger_value)


# A drift is the same shape: an account whose copies disagree.
Drift = AccountCopies


@dataclass(frozen=True)
class RepairResult:
    before: AccountCopies
    after: AccountCopies

    @property
    def changed(self) -> bool:
        return (self.before.balances_value, self.before.cached_value) != (
            self.after.balances_value, self.after.cached_value)


@dataclass(frozen=True)
class BulkResult:
    accounts: int
    changed: int
    duration_ms: int


def account_copies(s: Session, account_id: int) -> AccountCopies:
    """The balances value, the cached value and the ledger-derived value of one account."""
    with unit(s, write=False):
        row = s.execute(
            select(accounts_t.c.id, accounts_t.c.name, accounts_t.c.kind, accounts_t.c.balance,
                   balances_t.c.balance.label("primary"))
            .select_from(accounts_t)
            .outerjoin(balances_t, balances_t.c.account_id == accounts_t.c.id)
            .where(accounts_t.c.id == account_id)
        ).first()
        if row is None:
            raise AccountNotFound(f"Account {account_id} does not exist.")
        return AccountCopies(
            account_id=row.id, name=row.name, kind=row.kind, balances_value=row.primary,
            cached_value=row.balance, ledger_value=ledger.ledger_value(s, account_id),
        )


def recalculate_balance(s: Session, account_id: int) -> RepairResult:
    """Set the account's balance (both copies) to what the ledger says."""
    with unit(s, write=True):
        before = account_copies(s, account_id)
        ledger.set_balances_from_ledger(s, [account_id])
        return RepairResult(before=before, after=account_copies(s, account_id))


def sync_balance_from_account(s: Session, account_id: int) -> RepairResult:
    """Set ``balances`` to the cached ``accounts.balance`` (creating a missing row)."""
    with unit(s, write=True):
        before = account_copies(s, account_id)
        ledger.set_balances_from_cache(s, [account_id])
        return RepairResult(before=before, after=account_copies(s, account_id))


def _ms_since(started) -> int:  # started: a perf_counter() reading
    return round((time.perf_counter() - started) * 1000)


def _count_accounts(s: Session) -> int:
    return s.execute(select(func.count()).select_from(accounts_t)).scalar_one()


def recalculate_all_balances(s: Session) -> BulkResult:
    """Every account's balance from the ledger, set-based (one grouped query, no per-account loop)."""
    started = time.perf_counter()
    with unit(s, write=True):
        changed = ledger.set_balances_from_ledger(s, None)
        total = _count_accounts(s)
    return BulkResult(accounts=total, changed=changed, duration_ms=_ms_since(started))


def sync_all_balances(s: Session) -> BulkResult:
    """Every ``balances`` row from the cached ``accounts.balance``, set-based."""
    started = time.perf_counter()
    with unit(s, write=True):
        changed = ledger.set_balances_from_cache(s, None)
        total = _count_accounts(s)
    return BulkResult(accounts=total, changed=changed, duration_ms=_ms_since(started))


def reconcile(s: Session) -> list[Drift]:
    """Every account whose three copies disagree, in one set-based query. Changes nothing."""
    net = ledger.ledger_net().subquery("net")
    q = (
        select(accounts_t.c.id, accounts_t.c.name, accounts_t.c.kind, accounts_t.c.balance,
               balances_t.c.balance.label("primary"), net.c.net)
        .select_from(accounts_t)
        .join(net, net.c.account_id == accounts_t.c.id)
        .outerjoin(balances_t, balances_t.c.account_id == accounts_t.c.id)
        .where(or_(balances_t.c.balance.is_(None), balances_t.c.balance != net.c.net,
                   accounts_t.c.balance != net.c.net))
        .order_by(accounts_t.c.id)
    )
    with unit(s, write=False):
        return [
            Drift(account_id=r.id, name=r.name, kind=r.kind, balances_value=r.primary, cached_value=r.balance,
                  ledger_value=int(r.net))
            for r in s.execute(q)
        ]


# --------------------------------------------------------------------------- the operator's side

log = logging.getLogger(__name__)
audit_t = AdminAudit.__table__
reports_t = ReconciliationReport.__table__
settings_t = JobSetting.__table__
job_runs_t = JobRun.__table__
users_t = User.__table__
companies_t = Company.__table__
ledger_t = LedgerEntry.__table__
archive_t = LedgerArchive.__table__

EXCLUSIVE_STALE = timedelta(minutes=10)


def require_admin(s: Session, user_id: int | None) -> User:
    """The user, if they are an admin (checked on the server for every admin action)."""
    with unit(s, write=False):
        user = s.get(User, user_id) if user_id else None
    if user is None or user.role != "admin":
        raise NotAdmin("Only admins can do that.")
    return user


def record(s: Session, *, admin_id: int | None, admin_name: str, action: str, target: str = "", result: str = "",
           ok: bool = True) -> None:
    with unit(s, write=True):
        s.execute(audit_t.insert().values(admin_id=admin_id, admin_name=admin_name[:40], action=action[:40],
                                          target=target[:100], result=result[:500], ok=ok, created_at=utcnow()))


def perform(s: Session, *, actor_id: int, action: str, target: str, fn, describe=str):
    """Run an admin action: role checked, the outcome written to the audit log (failures too)."""
    admin = require_admin(s, actor_id)
    try:
        result = fn()
    except EconomyError as e:
        record(s, admin_id=admin.id, admin_name=admin.username, action=action, target=target, result=str(e),
               ok=False)
        raise
    record(s, admin_id=admin.id, admin_name=admin.username, action=action, target=target, result=describe(result))
    return result


@contextmanager
def exclusive(s: Session, name: str, *, now: datetime | None = None):
    """Only one run of ``name`` at a time across every worker (a row in job_runs while it runs)."""
    now = now or utcnow()
    job = f"admin:{name}"
    with unit(s, write=True):
        held = s.execute(select(job_runs_t.c.started_at).where(job_runs_t.c.job_name == job,
                                                               job_runs_t.c.slot == "running")).scalar()
        if held is not None and now - held < EXCLUSIVE_STALE:
            raise AlreadyRunning("That operation is already running. Wait for it to finish.")
        if held is not None:  # left behind by a crash
            s.execute(job_runs_t.delete().where(job_runs_t.c.job_name == job, job_runs_t.c.slot == "running"))
        s.execute(job_runs_t.insert().values(job_name=job, slot="running", started_at=now, status="running"))
    try:
        yield
    finally:
        with unit(s, write=True):
            s.execute(job_runs_t.delete().where(job_runs_t.c.job_name == job, job_runs_t.c.slot == "running"))


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
    from economy_app.services import stats

    health = stats.economy_health(s)
    with unit(s, write=False):
        runs = s.execute(
            select(ledger_t.c.created_at, func.count().label("rows"), func.sum(ledger_t.c.batch_count).label("units"))
            .where(ledger_t.c.type == "marketplace_batch").group_by(ledger_t.c.created_at)
            .order_by(ledger_t.c.created_at.desc()).limit(20)
        ).all()
        companies = s.execute(select(func.count()).select_from(companies_t)).scalar_one()
        archived = s.execute(select(func.count()).select_from(archive_t)).scalar_one()
        last = s.execute(select(reports_t).order_by(reports_t.c.id.desc()).limit(1)).mappings().first()
    return Overview(
        players=health.players, companies=companies, accounts=health.accounts, ledger_entries=health.ledger_entries,
        archived_entries=archived, money_in_circulation=health.money_in_circulation,
        # Each run's revenue and cost entries carry the same units: count them once.
        marketplace_runs=[BatchRun(r.created_at, r.rows, int(r.units or 0) // 2) for r in runs],
        last_report=dict(last) if last else None,
    )


def find_accounts(s: Session, query: str, *, limit: int = 20) -> list[AccountCopies]:
    """Accounts by id, owner's username, company name or ticker, with their three copies side by side."""
    query = (query or "").strip()
    if not query:
        return []
    pattern = query.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    q = (select(accounts_t.c.id).select_from(accounts_t)
         .outerjoin(users_t, users_t.c.id == accounts_t.c.owner_id)
         .outerjoin(companies_t, companies_t.c.account_id == accounts_t.c.id))
    match = (func.lower(users_t.c.username).like(pattern, escape="\\")
             | func.lower(accounts_t.c.name).like(pattern, escape="\\")
             | func.lower(companies_t.c.ticker).like(pattern, escape="\\"))
    if query.isascii() and query.isdigit() and len(query) <= 10 and int(query) <= 2_147_483_647:  # an id
        match = match | (accounts_t.c.id == int(query))
    with unit(s, write=False):
        ids = s.execute(q.where(match).order_by(accounts_t.c.id).limit(max(1, min(limit, 50)))).scalars().all()
        return [account_copies(s, i) for i in ids]


def run_reconciliation(s: Session, *, source: str, auto_repair: bool | None = None) -> dict:
    """Check every account (set-based), store a report, log each drift; with AUTO_REPAIR=on, recalculate
    the drifted accounts from the ledger."""
    if auto_repair is None:
        auto_repair = os.environ.get("AUTO_REPAIR", "off").lower() in ("on", "1", "true", "yes")
    started = time.perf_counter()
    drifts = reconcile(s)
    with unit(s, write=False):
        checked = _count_accounts(s)
    for d in drifts:
        log.warning("drift on account %s (%s): balances %s, cache %s, ledger %s", d.account_id, d.name,
                    d.balances_value, d.cached_value, d.ledger_value)
    repaired = 0
    if auto_repair and drifts:
        with unit(s, write=True):
            repaired = ledger.set_balances_from_ledger(s, [d.account_id for d in drifts])
    details = "; ".join(f"#{d.account_id} {d.name}: balances={d.balances_value} cache={d.cached_value} "
                        f"ledger={d.ledger_value}" for d in drifts[:30])
    report = dict(created_at=utcnow(), accounts_checked=checked, drifts_found=len(drifts), repaired=repaired,
                  duration_ms=_ms_since(started), source=source, details=details[:4000])
    with unit(s, write=True):
        report["id"] = s.execute(reports_t.insert().values(**report).returning(reports_t.c.id)).scalar_one()
    report["drifts"] = drifts
    return report


def recent_reports(s: Session, limit: int = 10) -> list[dict]:
    with unit(s, write=False):
        return [dict(r) for r in s.execute(select(reports_t).order_by(reports_t.c.id.desc()).limit(limit)).mappings()]


def audit_log(s: Session, limit: int = 50) -> list[dict]:
    with unit(s, write=False):
        return [dict(r) for r in s.execute(select(audit_t).order_by(audit_t.c.id.desc()).limit(limit)).mappings()]


def job_paused(s: Session, job_name: str) -> bool:
    with unit(s, write=False):
        return bool(s.execute(select(settings_t.c.paused).where(settings_t.c.job_name == job_name)).scalar())


def paused_jobs(s: Session) -> set[str]:
    with unit(s, write=False):
        return set(s.execute(select(settings_t.c.job_name).where(settings_t.c.paused.is_(True))).scalars())


def set_job_paused(s: Session, job_name: str, paused: bool) -> None:
    with unit(s, write=True):
        insert_ignore(s, settings_t, dict(job_name=job_name, paused=False, updated_at=utcnow()),
                      index_elements=["job_name"])
        s.execute(settings_t.update().where(settings_t.c.job_name == job_name)
                  .values(paused=bool(paused), updated_at=utcnow()))


def last_runs(s: Session, job_names: list[str]) -> dict[str, dict]:
    """Each job's latest run (started, finished, status, summary)."""
    with unit(s, write=False):
        latest = (select(job_runs_t.c.job_name, func.max(job_runs_t.c.id).label("id"))
                  .where(job_runs_t.c.job_name.in_(job_names)).group_by(job_runs_t.c.job_name).subquery())
        rows = s.execute(select(job_runs_t).join(latest, latest.c.id == job_runs_t.c.id)).mappings().all()
    return {r["job_name"]: dict(r) for r in rows}
