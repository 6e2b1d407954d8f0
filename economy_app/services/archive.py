"""Ledger archival: old entries to a compressed JSONL file and the ``ledger_archive`` table, with
per-account checkpoints so recalculation stays exact (checkpoint + later entries) and fast."""

from __future__ import annotations

import gzip
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlmodel import Session

from economy_app import config
from economy_app.models import utcnow
from economy_app.services import ledger
from economy_app.services._tx import unit


def archive_dir() -> Path:
    return config.data_dir() / "archive"


@dataclass(frozen=True)
class ArchiveResult:
    entries: int
    path: Path | None


def _encode(value):
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot encode {type(value).__name__}")


def archive(s: Session, *, before: datetime, directory: Path | None = None,
            now: datetime | None = None) -> ArchiveResult:
    """Export entries older than ``before`` and move them to the archive, in one transaction."""
    now = now or utcnow()
    directory = directory or archive_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"ledger-before-{before:%Y%m%dT%H%M%S}-at-{now:%Y%m%dT%H%M%S}.jsonl.gz"
    partial = path.with_name(path.name + ".partial")
    try:
        with gzip.open(partial, "wt", encoding="utf-8") as out:
            with unit(s, write=True):
                count = ledger.archive_entries(
                    s, before, lambda row: out.write(json.dumps(row, default=_encode, sort_keys=True) + "\n"),
                    now=now)
                out.flush()
        if count == 0:
            partial.unlink(missing_ok=True)
            return ArchiveResult(0, None)
        os.replace(partial, path)
        return ArchiveResult(count, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def read_archive(path: Path) -> list[dict]:
    rows = []
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                row = json.loads(line)
                row["created_at"] = datetime.fromisoformat(row["created_at"])
                rows.append(row)
    return rows


def restore(s: Session, path: Path) -> int:
    """Bring an archive file's entries back into the ledger (skipping any already there)."""
    rows = read_archive(Path(path))
    with unit(s, write=True):
        return ledger.restore_entries(s, rows)
