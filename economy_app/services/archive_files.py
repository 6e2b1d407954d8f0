"""The operator's archival: old entries to a compressed JSONL file and the ``ledger_archive`` table, with
per-account checkpoints so recalculation stays exact (checkpoint + later entries) and fast.

The archive is provable:

- every file is recorded in ``ledger_archive_files`` when it is written (name, path, SHA-256 of its bytes,
  entry count, first and last id), in the same transaction that moves its entries; each archived entry
  carries its file's id;
- ``restore`` refuses a file whose SHA-256 differs from the one recorded under its name, and compares
  every entry of any file, known or not, with the row holding its id (see ``ledger.restore_entries``):
  nothing is ever restored twice, over a different entry, or out of nowhere;
- reconciliation (``admin.check_archive``) checks each checkpoint against the archived entries, each
  file's digest and count, and that no id is in both tables.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import insert, select, update
from sqlmodel import Session

from economy_app import config
from economy_app.models import ArchiveFile, utcnow
from economy_app.services import ledger
from economy_app.services._tx import unit
from economy_app.services.errors import ArchiveFileMismatch, RestoreRefused

files_t = ArchiveFile.__table__


def archive_dir() -> Path:
    return config.data_dir() / "archive"


@dataclass(frozen=True)
class ArchiveResult:
    entries: int
    path: Path | None
    sha256: str | None = None
    file_id: int | None = None


@dataclass(frozen=True)
class RestoreResult:
    restored: int  # entries moved back to the ledger
    already_in_ledger: int  # identical entries already there (restored before): skipped
    sha256: str
    known_file: bool  # the file (its SHA-256) is recorded in ledger_archive_files


def _encode(value):
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot encode {type(value).__name__}")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def archive(
    s: Session, *, before: datetime, directory: Path | None = None, now: datetime | None = None
) -> ArchiveResult:
    """Export the entries older than ``before`` to a file and move them to the archive, in one transaction.

    Inside the transaction: the file's record is created (its id names the file), the entries are
    selected once and written (fsynced, then read back for its SHA-256), the file is linked into place,
    the record gets the digest and count, and exactly the written entries move to ``ledger_archive``.
    If anything fails, the transaction rolls back and the file is removed. (Killed between the link and
    the commit, a file with no record stays behind; its entries are still in the ledger, so restoring it
    restores nothing.)"""
    now = now or utcnow()
    directory = Path(directory or archive_dir())
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    try:
        with unit(s, write=True):
            ledger.lock_archive(s)  # one archive or restore at a time, whoever calls: AlreadyRunning otherwise
            file_id = s.execute(
                insert(files_t)
                .values(
                    name=f"writing-{uuid.uuid4().hex}",
                    path="",
                    sha256="",
                    entries=0,
                    before=before,
                    created_at=now,
                )
                .returning(files_t.c.id)
            ).scalar_one()
            path = directory / f"ledger-{file_id:06d}-before-{before:%Y%m%dT%H%M%S}-at-{now:%Y%m%dT%H%M%S}.jsonl.gz"
            partial = path.with_name(path.name + ".partial")
            ids: list[int] = []
            with open(partial, "xb") as raw:  # never over an existing file
                written.append(partial)
                with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) as out:

                    def write_row(row: dict) -> None:
                        out.write((json.dumps(row, default=_encode, sort_keys=True) + "\n").encode())
                        ids.append(row["id"])

                    count = ledger.archive_entries(s, before, write_row, file_id=file_id, now=now)
                raw.flush()
                os.fsync(raw.fileno())
            if count == 0:  # no file, no record
                s.execute(files_t.delete().where(files_t.c.id == file_id))
                partial.unlink(missing_ok=True)
                return ArchiveResult(0, None)
            sha256 = file_sha256(partial)
            os.link(partial, path)  # into place, never over an existing file (FileExistsError)
            written.append(path)
            partial.unlink()
            _fsync_dir(directory)
            s.execute(
                update(files_t)
                .where(files_t.c.id == file_id)
                .values(
                    name=path.name,
                    path=str(path.resolve()),
                    sha256=sha256,
                    entries=count,
                    first_id=ids[0],
                    last_id=ids[-1],
                )
            )
        return ArchiveResult(count, path, sha256, file_id)
    except BaseException:
        for p in written:
            p.unlink(missing_ok=True)
        raise


def _rows(path: Path) -> Iterator[dict]:
    """The entries of an archive file, one at a time; a line that is not a ledger entry refuses the file."""
    columns = set(ledger.LEDGER_COLUMNS)
    try:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                    if not isinstance(row, dict) or set(row) != columns:
                        raise ValueError("not the ledger's columns")
                    row["created_at"] = datetime.fromisoformat(row["created_at"])
                except (ValueError, TypeError) as e:
                    raise RestoreRefused(
                        f"Nothing was restored: line {number} of {path.name} is not a ledger entry ({e})."
                    ) from None
                yield row
    except (OSError, EOFError, zlib.error) as e:  # a truncated or corrupted gzip stream
        raise RestoreRefused(f"Nothing was restored: {path.name} is not a readable archive file ({e}).") from None


def read_archive(path: Path) -> list[dict]:
    return list(_rows(Path(path)))


def restore(s: Session, path: Path) -> RestoreResult:
    """Bring an archive file's entries back into the ledger, in one transaction.

    A file recorded under this name must still have the SHA-256 recorded when it was written
    (``ArchiveFileMismatch`` otherwise). Any file, recorded or not, is then checked entry by entry
    against the row holding each id (``ledger.restore_entries``): identical archived entries come back,
    identical live ones are skipped, and any other entry refuses the whole file. Refused: nothing changed."""
    path = Path(path)
    if not path.is_file():
        raise RestoreRefused(f"No archive file at {path}.")
    sha256 = file_sha256(path)
    with unit(s, write=True):
        ledger.lock_archive(s)  # one archive or restore at a time, whoever calls: AlreadyRunning otherwise
        recorded = s.execute(select(files_t.c.sha256, files_t.c.entries).where(files_t.c.name == path.name)).first()
        if recorded is not None and recorded.sha256 != sha256:
            raise ArchiveFileMismatch(
                f"Nothing was restored: {path.name} has changed since it was written (SHA-256 {sha256[:16]}…, "
                f"recorded {recorded.sha256[:16]}… for its {recorded.entries:,} entries)."
            )
        known = (
            recorded is not None
            or s.execute(select(files_t.c.id).where(files_t.c.sha256 == sha256).limit(1)).first() is not None
        )
        result = ledger.restore_entries(s, _rows(path))
        now = utcnow()
        for file_id, n in result.per_file.items():
            if file_id is not None:
                s.execute(
                    update(files_t)
                    .where(files_t.c.id == file_id)
                    .values(restored_entries=files_t.c.restored_entries + n, restored_at=now)
                )
    return RestoreResult(
        restored=result.restored, already_in_ledger=result.already_in_ledger, sha256=sha256, known_file=known
    )
