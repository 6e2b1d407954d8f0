"""Reconciliation and repair: the three copies of every balance side by side, recalculating a balance from
the ledger or syncing it from the cache (one account or all), the checks that every balance and every
cached balance sum to zero and that the archive is provable, and the reconciliation report.

Every whole-economy operation is set-based (a few statements whatever the number of accounts); the writes
themselves are the ledger package's repair primitives (``ledger/repair.py``), so the money tables keep
exactly one writer. Who may run them, with what audit, one at a time, is ``services/operations.py``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, or_, select
from sqlmodel import Session

from economy_app import config
from economy_app.db import like_prefix
from economy_app.models import (
    Account,
    ArchiveFile,
    Balance,
    Company,
    LedgerArchive,
    LedgerCheckpoint,
    LedgerEntry,
    ReconciliationReport,
    User,
    utcnow,
)
from economy_app.money import format_cents
from economy_app.services import ledger
from economy_app.services._tx import unit
from economy_app.services.archive_files import file_sha256
from economy_app.services.errors import AccountNotFound

log = logging.getLogger(__name__)
accounts_t = Account.__table__
balances_t = Balance.__table__
reports_t = ReconciliationReport.__table__
users_t = User.__table__
companies_t = Company.__table__
ledger_t = LedgerEntry.__table__
archive_t = LedgerArchive.__table__
checkpoints_t = LedgerCheckpoint.__table__
files_t = ArchiveFile.__table__


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


@dataclass(frozen=True)
class RepairResult:
    before: AccountCopies
    after: AccountCopies

    @property
    def changed(self) -> bool:
        return (self.before.balances_value, self.before.cached_value) != (
            self.after.balances_value,
            self.after.cached_value,
        )


@dataclass(frozen=True)
class BulkResult:
    accounts: int
    changed: int
    duration_ms: int


def account_copies(s: Session, account_id: int) -> AccountCopies:
    """The balances value, the cached value and the ledger-derived value of one account."""
    with unit(s, write=False):
        row = s.execute(
            select(
                accounts_t.c.id,
                accounts_t.c.name,
                accounts_t.c.kind,
                accounts_t.c.balance,
                balances_t.c.balance.label("primary"),
            )
            .select_from(accounts_t)
            .outerjoin(balances_t, balances_t.c.account_id == accounts_t.c.id)
            .where(accounts_t.c.id == account_id)
        ).first()
        if row is None:
            raise AccountNotFound(f"Account {account_id} does not exist.")
        return AccountCopies(
            account_id=row.id,
            name=row.name,
            kind=row.kind,
            balances_value=row.primary,
            cached_value=row.balance,
            ledger_value=ledger.ledger_value(s, account_id),
        )


def recalculate_balance(s: Session, account_id: int) -> RepairResult:
    """Set the account's balance (both copies) to what the ledger says. The balance row is locked first
    (PostgreSQL), so a posting in flight is either counted or waits: a repair never overwrites it."""
    with unit(s, write=True):
        ledger.lock_balances(s, [account_id])
        before = account_copies(s, account_id)
        ledger.set_balances_from_ledger(s, [account_id])
        return RepairResult(before=before, after=account_copies(s, account_id))


def sync_balance_from_account(s: Session, account_id: int) -> RepairResult:
    """Set ``balances`` to the cached ``accounts.balance`` (creating a missing row), the row locked first."""
    with unit(s, write=True):
        ledger.lock_balances(s, [account_id])
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


def reconcile(s: Session) -> list[AccountCopies]:
    """Every account whose three copies disagree, in one set-based query. Changes nothing."""
    net = ledger.ledger_net().subquery("net")
    q = (
        select(
            accounts_t.c.id,
            accounts_t.c.name,
            accounts_t.c.kind,
            accounts_t.c.balance,
            balances_t.c.balance.label("primary"),
            net.c.net,
        )
        .select_from(accounts_t)
        .join(net, net.c.account_id == accounts_t.c.id)
        .outerjoin(balances_t, balances_t.c.account_id == accounts_t.c.id)
        .where(
            or_(balances_t.c.balance.is_(None), balances_t.c.balance != net.c.net, accounts_t.c.balance != net.c.net)
        )
        .order_by(accounts_t.c.id)
    )
    with unit(s, write=False):
        return [
            AccountCopies(
                account_id=r.id,
                name=r.name,
                kind=r.kind,
                balances_value=r.primary,
                cached_value=r.balance,
                ledger_value=int(r.net),
            )
            for r in s.execute(q)
        ]


@dataclass(frozen=True)
class MoneyTotals:
    """The sum of every ``balances`` row and of every cached ``accounts.balance``. The mint holds minus the
    money in circulation, so both are exactly zero unless a cent was created or lost: a balance can be
    wrong together with its cache and its ledger-derived value (a checkpoint off by the same amount), and
    then only the sums (and the archive's proof) can see it."""

    balances: int
    cache: int

    @property
    def zero(self) -> bool:
        return self.balances == 0 and self.cache == 0


_TOTALS = select(
    select(func.coalesce(func.sum(balances_t.c.balance), 0)).scalar_subquery(),
    select(func.coalesce(func.sum(accounts_t.c.balance), 0)).scalar_subquery(),
)


def money_totals(s: Session) -> MoneyTotals:
    """Both sums in one statement (one snapshot: a posting committing meanwhile is counted whole or not at
    all). Changes nothing."""
    with unit(s, write=False):
        balances, cache = s.execute(_TOTALS).one()
    return MoneyTotals(balances=int(balances), cache=int(cache))


def find_accounts(s: Session, query: str, *, limit: int = 20) -> list[AccountCopies]:
    """Accounts by id, owner's username, company name or ticker, with their three copies side by side."""
    query = (query or "").strip()
    if not query:
        return []
    pattern = like_prefix(query)
    q = (
        select(accounts_t.c.id)
        .select_from(accounts_t)
        .outerjoin(users_t, users_t.c.id == accounts_t.c.owner_id)
        .outerjoin(companies_t, companies_t.c.account_id == accounts_t.c.id)
    )
    match = (
        func.lower(users_t.c.username).like(pattern, escape="\\")
        | func.lower(accounts_t.c.name).like(pattern, escape="\\")
        | func.lower(companies_t.c.ticker).like(pattern, escape="\\")
    )
    if query.isascii() and query.isdigit() and len(query) <= 10 and int(query) <= 2_147_483_647:  # an id
        match = match | (accounts_t.c.id == int(query))
    with unit(s, write=False):
        ids = s.execute(q.where(match).order_by(accounts_t.c.id).limit(max(1, min(limit, 50)))).scalars().all()
        return [account_copies(s, i) for i in ids]


@dataclass(frozen=True)
class CheckpointDrift:
    """An account whose checkpoint is not the sum of its archived entries: an archived entry was lost
    (or added) behind the archive's back."""

    account_id: int
    name: str
    checkpoint: int
    checkpoint_entries: int
    archived: int  # the net of the account's entries in ledger_archive
    archived_entries: int


@dataclass(frozen=True)
class FileCheck:
    """One recorded archive file: ``archived`` of its entries are still in ``ledger_archive``, ``restored``
    were brought back; ``status`` is "ok", "missing" (not at its path on this machine: reported, not a
    problem, since its entries are still in the archive table), "changed" (its SHA-256 differs from the
    one recorded) or "count differs" (archived + restored is not the count it was written with)."""

    id: int
    name: str
    path: str
    sha256: str
    entries: int
    archived: int
    restored: int
    status: str

    @property
    def problem(self) -> bool:
        return self.status not in ("ok", "missing")


@dataclass(frozen=True)
class ArchiveCheck:
    archived_entries: int
    checkpoints: int  # accounts holding a checkpoint
    checkpoint_drifts: list[CheckpointDrift] = field(default_factory=list)
    files: list[FileCheck] = field(default_factory=list)
    in_both: int = 0  # ids in both the ledger and the archive (an entry counted twice)
    unfiled: int = 0  # archived entries with no file record (archived before files were recorded)

    @property
    def problems(self) -> int:
        return len(self.checkpoint_drifts) + sum(f.problem for f in self.files) + self.in_both

    def summary(self) -> str:
        verified = sum(f.status == "ok" for f in self.files)
        missing = sum(f.status == "missing" for f in self.files)
        text = (
            f"{self.archived_entries:,} archived entries; {self.checkpoints:,} checkpoints, "
            f"{len(self.checkpoint_drifts)} differ from their archived entries; {len(self.files)} files, "
            f"{verified} verified (SHA-256 and entry count)"
        )
        if missing:
            text += f", {missing} not on this machine"
        if self.files and (bad := sum(f.problem for f in self.files)):
            text += f", {bad} with problems"
        if self.in_both:
            text += f"; {self.in_both} ids in both the ledger and the archive"
        return text


def _archived_net():
    """(account_id, net, entries) of the archived entries, per account: two grouped sums."""
    inflow = (
        select(
            archive_t.c.to_account_id.label("aid"), func.sum(archive_t.c.amount).label("total"), func.count().label("n")
        )
        .group_by(archive_t.c.to_account_id)
        .subquery("ain")
    )
    outflow = (
        select(
            archive_t.c.from_account_id.label("aid"),
            func.sum(archive_t.c.amount).label("total"),
            func.count().label("n"),
        )
        .group_by(archive_t.c.from_account_id)
        .subquery("aout")
    )
    return inflow, outflow


def check_archive(s: Session, *, verify_files: bool = True) -> ArchiveCheck:
    """The archive's proof, set-based: every account's checkpoint equals the net (and count) of its entries
    in ``ledger_archive``; every recorded file still has its SHA-256 (read back from disk when
    ``verify_files``) and its entry count (still archived + restored); no id is in both tables. Read in
    one snapshot (REPEATABLE READ on PostgreSQL), so an archive run or a restore committing meanwhile is
    seen whole or not at all."""
    inflow, outflow = _archived_net()
    cp_balance = func.coalesce(checkpoints_t.c.balance, 0)
    cp_entries = func.coalesce(checkpoints_t.c.entries, 0)
    archived = func.coalesce(inflow.c.total, 0) - func.coalesce(outflow.c.total, 0)
    archived_n = func.coalesce(inflow.c.n, 0) + func.coalesce(outflow.c.n, 0)
    drifts_q = (
        select(
            accounts_t.c.id,
            accounts_t.c.name,
            cp_balance.label("cp"),
            cp_entries.label("cpn"),
            archived.label("net"),
            archived_n.label("n"),
        )
        .select_from(accounts_t)
        .outerjoin(checkpoints_t, checkpoints_t.c.account_id == accounts_t.c.id)
        .outerjoin(inflow, inflow.c.aid == accounts_t.c.id)
        .outerjoin(outflow, outflow.c.aid == accounts_t.c.id)
        .where(or_(cp_balance != archived, cp_entries != archived_n))
        .order_by(accounts_t.c.id)
    )
    per_file = select(archive_t.c.file_id, func.count().label("n")).group_by(archive_t.c.file_id)
    # One snapshot for every statement: an archive or a restore committing between two of them would
    # otherwise be half seen (a file recorded with its entries not yet counted: "count differs").
    with unit(s, write=False, snapshot=True):
        drifts = [
            CheckpointDrift(r.id, r.name, int(r.cp), int(r.cpn), int(r.net), int(r.n)) for r in s.execute(drifts_q)
        ]
        counts = {r.file_id: r.n for r in s.execute(per_file)}
        files = s.execute(select(files_t).order_by(files_t.c.id)).mappings().all()
        checkpoints = s.execute(select(func.count()).select_from(checkpoints_t)).scalar_one()
        in_both = s.execute(
            select(func.count()).select_from(archive_t).join(ledger_t, ledger_t.c.id == archive_t.c.id)
        ).scalar_one()
    checks = []
    for f in files:
        held = counts.get(f["id"], 0)
        if held + f["restored_entries"] != f["entries"]:
            status = "count differs"
        elif not verify_files:
            status = "ok"
        elif not Path(f["path"]).is_file():
            status = "missing"
        else:
            status = "ok" if file_sha256(Path(f["path"])) == f["sha256"] else "changed"
        checks.append(
            FileCheck(
                id=f["id"],
                name=f["name"],
                path=f["path"],
                sha256=f["sha256"],
                entries=f["entries"],
                archived=held,
                restored=f["restored_entries"],
                status=status,
            )
        )
    return ArchiveCheck(
        archived_entries=sum(counts.values()),
        checkpoints=checkpoints,
        checkpoint_drifts=drifts,
        files=checks,
        in_both=in_both,
        unfiled=counts.get(None, 0),
    )


class _RepairUndone(Exception):
    """AUTO_REPAIR's own check failed inside its unit: the unit rolls back."""


def run_reconciliation(s: Session, *, source: str, auto_repair: bool | None = None) -> dict:
    """Check every account (set-based), the archive (``check_archive``) and that every balance and every
    cached balance sum to zero (``money_totals``); store a report, log each problem.

    With AUTO_REPAIR=on, recalculate the drifted accounts from the ledger (their balance rows locked first),
    but only from a ledger that is proven: while the archive has any problem (a checkpoint that is not its
    archived entries, an id in both tables, a file whose count differs), a ledger-derived value may hold a
    cent that exists nowhere else, so nothing is repaired automatically and the report says why. The repair
    then checks its own result in its transaction: if the balances would not sum to zero, it rolls back.
    Archive problems are never repaired automatically: they need an operator."""
    if auto_repair is None:
        auto_repair = config.auto_repair()
    started = time.perf_counter()
    drifts = reconcile(s)
    archive_check = check_archive(s)
    totals = money_totals(s)
    with unit(s, write=False):
        checked = _count_accounts(s)
    for d in drifts:
        log.warning(
            "drift on account %s (%s): balances %s, cache %s, ledger %s",
            d.account_id,
            d.name,
            d.balances_value,
            d.cached_value,
            d.ledger_value,
        )
    for c in archive_check.checkpoint_drifts:
        log.warning(
            "checkpoint of account %s (%s) is %s over %s entries, its archived entries sum to %s over %s",
            c.account_id,
            c.name,
            c.checkpoint,
            c.checkpoint_entries,
            c.archived,
            c.archived_entries,
        )
    for f in archive_check.files:
        if f.status != "ok":
            log.warning("archive file %s (%s): %s", f.name, f.path, f.status)
    if archive_check.in_both:
        log.warning("%s ids are in both the ledger and the archive", archive_check.in_both)
    if not totals.zero:
        log.warning(
            "the balances sum to %s cents and the cached balances to %s cents, not 0", totals.balances, totals.cache
        )
    repaired, withheld = 0, ""
    if auto_repair and drifts:
        if archive_check.problems:
            withheld = (
                f"AUTO_REPAIR withheld: the archive has {archive_check.problems} problem(s), so the "
                "ledger-derived values are not proven, and nothing was repaired automatically"
            )
        else:
            try:
                # A savepoint: when this runs inside the scheduler's unit (the slot's claim), that unit does not end
                # here, so a raise alone would not undo the repair; rolling back to the savepoint does.
                with unit(s, write=True), s.begin_nested():
                    repaired = ledger.set_balances_from_ledger(s, [d.account_id for d in drifts])
                    after = money_totals(s)
                    if not after.zero:
                        raise _RepairUndone(after)
            except _RepairUndone as e:
                repaired, after = 0, e.args[0]
                withheld = (
                    f"AUTO_REPAIR withheld: the repaired balances would sum to {format_cents(after.balances)}"
                    f" and the caches to {format_cents(after.cache)}, so nothing was repaired automatically"
                )
        if withheld:
            log.warning("%s", withheld)
    details = "; ".join(
        f"#{d.account_id} {d.name}: balances={d.balances_value} cache={d.cached_value} ledger={d.ledger_value}"
        for d in drifts[:30]
    )
    if not totals.zero:
        details = "; ".join(
            filter(
                None,
                [
                    f"money: the balances sum to {format_cents(totals.balances)} and the "
                    f"caches to {format_cents(totals.cache)}, not $0.00",
                    details,
                ],
            )
        )
    if withheld:
        details = f"{withheld}; {details}"
    archive_details = "; ".join(
        [
            f"checkpoint #{c.account_id} {c.name}: {c.checkpoint} over {c.checkpoint_entries} entries, archived "
            f"{c.archived} over {c.archived_entries}"
            for c in archive_check.checkpoint_drifts[:10]
        ]
        + [f"file {f.name}: {f.status}" for f in archive_check.files if f.problem][:10]
        + ([f"{archive_check.in_both} ids in both tables"] if archive_check.in_both else [])
    )
    if archive_details:
        details = f"{details}; archive: {archive_details}" if details else f"archive: {archive_details}"
    report = dict(
        created_at=utcnow(),
        accounts_checked=checked,
        drifts_found=len(drifts),
        repaired=repaired,
        duration_ms=_ms_since(started),
        source=source,
        details=details[:4000],
        archive_problems=archive_check.problems,
        balances_total=totals.balances,
        cache_total=totals.cache,
    )
    with unit(s, write=True):
        report["id"] = s.execute(reports_t.insert().values(**report).returning(reports_t.c.id)).scalar_one()
    report["drifts"] = drifts
    report["archive"] = archive_check
    report["totals"] = totals
    report["withheld"] = withheld
    return report


def recent_reports(s: Session, limit: int = 10) -> list[dict]:
    with unit(s, write=False):
        return [dict(r) for r in s.execute(select(reports_t).order_by(reports_t.c.id.desc()).limit(limit)).mappings()]
