"""Scheduled-job bookkeeping: each run claims its slot in ``job_runs`` exactly once.

A slot names one tick of a job (for example the start of a 10-minute window).
``(job_name, slot)`` is unique, so however many workers or restarts reach the
same tick, one ``claim_slot`` wins and the others get None.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlmodel import Session

from economy_app.models import JobRun, utcnow
from economy_app.services import live
from economy_app.services._tx import unit
from economy_app.db import insert_ignore

job_runs_t = JobRun.__table__


def slot_for(now: datetime, interval_seconds: int) -> str:
    """The slot key of the interval window holding ``now`` (naive UTC)."""
    epoch = int((now - datetime(1970, 1, 1)).total_seconds())
    start = epoch - epoch % interval_seconds
    return (datetime(1970, 1, 1) + timedelta(seconds=start)).strftime("%Y-%m-%dT%H:%M:%S")


def claim_slot(s: Session, job_name: str, slot: str, *, now: datetime | None = None) -> int | None:
    """Claim ``(job_name, slot)``: the new run's id, or None if it was claimed before."""
    with unit(s, write=True):
        return insert_ignore(
            s, job_runs_t,
            dict(job_name=job_name, slot=slot, started_at=now or utcnow(), status="running"),
            index_elements=["job_name", "slot"],
        )


def finish_run(s: Session, run_id: int, *, status: str, summary: str | None = None) -> None:
    with unit(s, write=True):
        live.touch(s, live.ADMIN)
        s.execute(
            update(job_runs_t).where(job_runs_t.c.id == run_id)
            .values(status=status, summary=(summary or "")[:2000] or None, finished_at=utcnow())
        )


def recent_runs(s: Session, job_name: str, limit: int = 20) -> list[dict]:
    with unit(s, write=False):
        rows = s.execute(
            select(job_runs_t).where(job_runs_t.c.job_name == job_name)
            .order_by(job_runs_t.c.started_at.desc()).limit(limit)
        )
        return [dict(r._mapping) for r in rows]


def run_claimed(s: Session, job_name: str, slot: str, work, *, now: datetime | None = None, audit=None):
    """Claim ``(job_name, slot)`` and do ``work(s)`` in the same transaction; ``audit(s, summary)``, when
    given (an admin's "Run now"), writes the audit row in that transaction too.

    Returns ``(run_id, result)``, or ``(None, None)`` when the slot was claimed
    already (another worker, or an earlier run in this slot). If ``work`` fails,
    the claim rolls back with it and the failure is recorded in its own
    transaction (so the slot is not retried in a loop); the error is re-raised.
    """
    now = now or utcnow()
    try:
        with unit(s, write=True):
            run_id = claim_slot(s, job_name, slot, now=now)
            if run_id is None:
                return None, None
            live.touch(s, live.job(job_name))
            result = work(s)
            summary = result.summary() if hasattr(result, "summary") else (str(result) if result is not None else "")
            finish_run(s, run_id, status="ok", summary=summary)
            if audit is not None:
                audit(s, summary)
            return run_id, result
    except Exception as e:
        with unit(s, write=True):
            run_id = claim_slot(s, job_name, slot, now=now)
            if run_id is not None:
                finish_run(s, run_id, status="failed", summary=f"{type(e).__name__}: {e}")
        raise
