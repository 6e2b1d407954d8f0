"""Archival primitives: moving old entries out of the ledger (into ``ledger_archive``, each account's net
kept in its checkpoint) and back. The operator's use cases around them (the file, its record, the audit)
are ``services/archive_files.py``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import DateTime, Integer, case, insert, literal, select, text
from sqlmodel import Session

from economy_app.db import dialect_insert, ids_in
from economy_app.models import LedgerArchive, LedgerCheckpoint, LedgerEntry, utcnow
from economy_app.services._tx import in_write_unit
from economy_app.services.errors import AlreadyRunning, RestoreConflict
from economy_app.services.ledger.posting import LEDGER_COLUMNS

ledger_t = LedgerEntry.__table__
checkpoints_t = LedgerCheckpoint.__table__
archive_t = LedgerArchive.__table__

ARCHIVE_CHUNK = 5000  # ids per statement when moving entries between the ledger and the archive


def _chunks(items: Sequence, size: int = ARCHIVE_CHUNK):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _add_net(nets: dict[int, list[int]], row) -> None:
    """Add one entry to each side's (net, entries) in ``nets``."""
    for aid, delta in ((row["to_account_id"], row["amount"]), (row["from_account_id"], -row["amount"])):
        acc = nets.setdefault(aid, [0, 0])
        acc[0] += delta
        acc[1] += 1


_CHECKPOINT_UPSERT: dict[tuple[str, bool], object] = {}


def _checkpoint_upsert(s: Session, forward: bool):
    """INSERT a checkpoint, or add to the one there: ``balance = balance + :net, entries = entries + :n`` (and,
    archiving, the cutoff moved forward), built once per dialect."""
    key = (s.get_bind().dialect.name, forward)
    if key not in _CHECKPOINT_UPSERT:
        ins = dialect_insert(s, checkpoints_t)
        set_ = dict(
            balance=checkpoints_t.c.balance + ins.excluded.balance,
            entries=checkpoints_t.c.entries + ins.excluded.entries,
        )
        if forward:
            set_["as_of"] = case(
                (ins.excluded.as_of > checkpoints_t.c.as_of, ins.excluded.as_of), else_=checkpoints_t.c.as_of
            )
        _CHECKPOINT_UPSERT[key] = ins.on_conflict_do_update(index_elements=["account_id"], set_=set_)
    return _CHECKPOINT_UPSERT[key]


def _add_to_checkpoints(s: Session, nets: list, as_of: datetime, sign: int) -> None:
    """Add ``sign`` x each account's (net, entries) to its checkpoint, **relatively**: one upsert per account
    (``balance = balance + :net``), in account order, never a value read, computed and written back. On
    PostgreSQL a checkpoint another transaction changed meanwhile is then updated from its latest committed
    value (the upsert waits for that row's lock), so no update is ever lost, whoever else writes it. A
    checkpoint left with no entries (everything restored) is deleted."""
    if not nets:
        return
    rows = [
        dict(account_id=aid, balance=sign * int(net), entries=sign * int(n), as_of=as_of)
        for aid, net, n in sorted(nets)
    ]
    s.execute(_checkpoint_upsert(s, sign > 0), rows)
    if sign < 0:
        for chunk in _chunks([r["account_id"] for r in rows]):
            s.execute(
                checkpoints_t.delete().where(ids_in(s, checkpoints_t.c.account_id, chunk), checkpoints_t.c.entries == 0)
            )


# Archive and restore hold this for their whole transaction on PostgreSQL: (ADVISORY_SPACE, ARCHIVE_LOCK),
# in the two-int4 key space (apart from the idempotency keys' bigint locks).
ADVISORY_SPACE = 0x45434F4E  # "ECON"
ARCHIVE_LOCK = 1
_ARCHIVE_LOCK_PG = text("SELECT pg_try_advisory_xact_lock(:space, :key)")


def lock_archive(s: Session) -> None:
    """Archive and restore move entries between the ledger and the archive and write checkpoints: one of
    them at a time, whoever calls (the CLI, the admin page, a script), for the whole transaction, so none
    ever acts on what another is halfway through. PostgreSQL: a transaction-level advisory lock, released at
    commit or rollback (or with a dead connection, so a crash never leaves it behind); taken without waiting:
    a second run gets ``AlreadyRunning``. SQLite: the write unit already holds the database's write lock
    (``BEGIN IMMEDIATE``) until it ends."""
    if not in_write_unit(s):
        raise RuntimeError("lock_archive() must run inside a write unit")
    if (
        s.get_bind().dialect.name == "postgresql"
        and not s.execute(_ARCHIVE_LOCK_PG, {"space": ADVISORY_SPACE, "key": ARCHIVE_LOCK}).scalar()
    ):
        raise AlreadyRunning("An archive or a restore is already running. Wait for it to finish.")


def archive_entries(
    s: Session, cutoff: datetime, write_row, *, file_id: int | None = None, now: datetime | None = None
) -> int:
    """Move every entry older than ``cutoff`` out of the ledger, inside the caller's write unit.

    The entries are selected **once** (one statement, one snapshot); everything after acts on exactly
    those ids: ``write_row(dict)`` receives each (in id order, for the export file), each account's
    checkpoint grows by the net of exactly those entries, and exactly those rows go to ``ledger_archive``
    (tagged with ``file_id``) and leave the ledger. An entry that commits meanwhile (PostgreSQL) is not in
    the set: it stays in the ledger for the next archive. Balances do not change, and recalculation stays
    exact: checkpoint + the entries after it. Returns the number of entries moved."""
    if not in_write_unit(s):
        raise RuntimeError("archive_entries() must run inside a write unit")
    lock_archive(s)
    now = now or utcnow()
    ids: list[int] = []
    nets: dict[int, list[int]] = {}
    rows = select(ledger_t).where(ledger_t.c.created_at < cutoff).order_by(ledger_t.c.id)
    for row in s.execute(rows.execution_options(yield_per=ARCHIVE_CHUNK)).mappings():
        write_row(dict(row))
        ids.append(row["id"])
        _add_net(nets, row)
    if not ids:
        return 0
    _add_to_checkpoints(s, [(aid, net, n) for aid, (net, n) in nets.items()], cutoff, +1)
    copy = select(*[ledger_t.c[c] for c in LEDGER_COLUMNS], literal(now, DateTime), literal(file_id, Integer))
    for chunk in _chunks(ids):
        moved = len(
            s.execute(
                insert(archive_t)
                .from_select([*LEDGER_COLUMNS, "archived_at", "file_id"], copy.where(ids_in(s, ledger_t.c.id, chunk)))
                .returning(archive_t.c.id)
            ).all()
        )
        deleted = s.execute(ledger_t.delete().where(ids_in(s, ledger_t.c.id, chunk))).rowcount
        if not moved == deleted == len(chunk):  # only archival deletes ledger rows, and it runs alone
            raise RuntimeError(f"archive: {len(chunk)} entries selected, {moved} copied, {deleted} deleted")
    return len(ids)


@dataclass(frozen=True)
class Restored:
    restored: int  # entries moved back from the archive to the ledger
    already_in_ledger: int  # identical entries found in the ledger (restored before): skipped
    per_file: dict[int | None, int]  # restored entries per archive file id (None: archived before files)


def _same_entry(a, b) -> bool:
    return all(a[c] == b[c] for c in LEDGER_COLUMNS)


def _differences(file_row, db_row) -> str:
    return ", ".join(
        f"{c} {file_row[c]!r} here, {db_row[c]!r} there" for c in LEDGER_COLUMNS if file_row[c] != db_row[c]
    )


def restore_entries(s: Session, rows: Iterable[dict]) -> Restored:
    """Bring archived entries back into the ledger (same ids), inside the caller's write unit, comparing
    whole rows, never ids alone:

    - an entry identical to one in ``ledger_archive`` moves back to the ledger (and out of its account's
      checkpoint);
    - an entry identical to one in the ledger was restored before: skipped;
    - an entry whose id is taken by a *different* entry (in either table), an entry that is in neither
      table (restoring it would create money), or an id that appears twice: ``RestoreConflict`` naming
      them. The caller's unit then rolls back, so nothing changes.

    ``rows`` may be a generator (read in chunks, never all in memory)."""
    if not in_write_unit(s):
        raise RuntimeError("restore_entries() must run inside a write unit")
    lock_archive(s)
    problems: list[str] = []
    seen: set[int] = set()
    nets: dict[int, list[int]] = {}
    per_file: dict[int | None, int] = {}
    restored = skipped = 0
    batch: list[dict] = []

    def flush() -> None:
        nonlocal restored, skipped
        ids = [r["id"] for r in batch]
        in_ledger = {r["id"]: r for r in s.execute(select(ledger_t).where(ids_in(s, ledger_t.c.id, ids))).mappings()}
        archived = {r["id"]: r for r in s.execute(select(archive_t).where(ids_in(s, archive_t.c.id, ids))).mappings()}
        back = []
        for r in batch:
            entry_id = r["id"]
            if entry_id in seen:
                problems.append(f"entry {entry_id} appears twice in the file")
                continue
            seen.add(entry_id)
            here, there = in_ledger.get(entry_id), archived.get(entry_id)
            if here is not None and there is not None:
                differ = [
                    name for name, row in (("the ledger's", here), ("the archive's", there)) if not _same_entry(r, row)
                ]
                problems.append(
                    f"entry {entry_id} is in both the ledger and the archive"
                    + (f" ({' and '.join(differ)} differs from this file's)" if differ else "")
                )
            elif here is not None:
                if _same_entry(r, here):
                    skipped += 1
                else:
                    problems.append(
                        f"entry {entry_id}: the ledger holds a different entry with this id ({_differences(r, here)})"
                    )
            elif there is not None:
                if _same_entry(r, there):
                    back.append(entry_id)
                    _add_net(nets, there)
                    per_file[there["file_id"]] = per_file.get(there["file_id"], 0) + 1
                else:
                    problems.append(
                        f"entry {entry_id}: the archive holds a different entry with this id ({_differences(r, there)})"
                    )
            else:
                problems.append(
                    f"entry {entry_id} is in neither the ledger nor the archive (restoring it would create money)"
                )
        if back and not problems:  # after the first problem, only check: the unit will roll back anyway
            archived_rows = select(*[archive_t.c[c] for c in LEDGER_COLUMNS]).where(ids_in(s, archive_t.c.id, back))
            s.execute(insert(ledger_t).from_select(list(LEDGER_COLUMNS), archived_rows))
            s.execute(archive_t.delete().where(ids_in(s, archive_t.c.id, back)))
            restored += len(back)
        batch.clear()

    for row in rows:
        batch.append(row)
        if len(batch) >= ARCHIVE_CHUNK:
            flush()
    if batch:
        flush()
    if problems:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise RestoreConflict(
            f"Nothing was restored: {len(problems)} entr{'y' if len(problems) == 1 else 'ies'} "
            f"of this file cannot be restored: {shown}."
        )
    _add_to_checkpoints(s, [(aid, net, n) for aid, (net, n) in nets.items()], utcnow(), -1)
    ledger_sequence_not_behind(s)
    return Restored(restored=restored, already_in_ledger=skipped, per_file=per_file)


_SEQUENCE_NOT_BEHIND_PG = text(
    "SELECT setval(pg_get_serial_sequence('ledger', 'id'), top) FROM ("
    "SELECT GREATEST((SELECT MAX(id) FROM ledger), (SELECT MAX(id) FROM ledger_archive)) AS top) t "
    "WHERE top > COALESCE(pg_sequence_last_value(pg_get_serial_sequence('ledger', 'id')::regclass), 0)"
)


def ledger_sequence_not_behind(s: Session) -> None:
    """After entries were inserted with explicit ids (a restore), the next id is still above every id in
    the ledger and the archive. SQLite's AUTOINCREMENT moves its sequence up by itself; a PostgreSQL
    sequence is moved with setval (never down)."""
    if s.get_bind().dialect.name == "postgresql":
        s.execute(_SEQUENCE_NOT_BEHIND_PG)
