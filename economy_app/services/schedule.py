"""The scheduled jobs: what they are, their slots, claiming a slot, running a job once, pausing it.

A slot names one tick of a job: the start of the interval window holding a moment (multiples of the
interval since the epoch). ``(job_name, slot)`` is unique in ``job_runs``, so however many workers or
restarts reach the same tick, one ``claim_slot`` wins and the others get None; the winner's work runs in the
transaction of its claim (``run_claimed``). The APScheduler wiring that fires the jobs on every worker is
``economy_app/jobs/scheduler.py``; an admin's "Run now" is ``operations.run_job_now``.

The marketplace's interval is a database setting (an admin changes it on the admin page): each run reads it
in its own transaction and claims the slot of that interval holding ``now``, so one run happens per window
whichever worker fires and whatever interval its trigger still had.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlmodel import Session

from economy_app import config
from economy_app.db import again_if_disconnected, insert_ignore
from economy_app.models import JobRun, JobSetting, utcnow
from economy_app.services import (
    auth,
    live,
    loans,
    marketplace_run,
    marketplace_settings,
    reconciliation,
    stock_trading,
)
from economy_app.services._tx import unit

job_runs_t = JobRun.__table__
settings_t = JobSetting.__table__

EPOCH = datetime(1970, 1, 1)

MARKETPLACE = "marketplace"
PRICES = "prices"
PRICE_HISTORY_PURGE = "price_history_purge"
RECONCILE = "reconcile"
SESSION_PURGE = "session_purge"
LOANS = "loans"


# --------------------------------------------------------------------------- slots


def slot_start(now: datetime, interval_seconds: int) -> datetime:
    """The start of the interval window holding ``now`` (naive UTC): a multiple of the interval since the epoch."""
    elapsed = int((now - EPOCH).total_seconds())
    return EPOCH + timedelta(seconds=elapsed - elapsed % interval_seconds)


def slot_for(now: datetime, interval_seconds: int) -> str:
    """The slot key of the interval window holding ``now``."""
    return slot_start(now, interval_seconds).strftime("%Y-%m-%dT%H:%M:%S")


def next_run_at(interval_seconds: int, now: datetime | None = None) -> datetime:
    """The start of the next slot (naive UTC): when every worker's trigger fires next."""
    return slot_start(now or utcnow(), interval_seconds) + timedelta(seconds=interval_seconds)


def claim_slot(s: Session, job_name: str, slot: str, *, now: datetime | None = None) -> int | None:
    """Claim ``(job_name, slot)``: the new run's id, or None if it was claimed before."""
    with unit(s, write=True):
        return insert_ignore(
            s,
            job_runs_t,
            dict(job_name=job_name, slot=slot, started_at=now or utcnow(), status="running"),
            index_elements=["job_name", "slot"],
        )


def finish_run(s: Session, run_id: int, *, status: str, summary: str | None = None) -> None:
    with unit(s, write=True):
        live.touch(s, live.ADMIN)
        s.execute(
            update(job_runs_t)
            .where(job_runs_t.c.id == run_id)
            .values(status=status, summary=(summary or "")[:2000] or None, finished_at=utcnow())
        )


def recent_runs(s: Session, job_name: str, limit: int = 20) -> list[dict]:
    with unit(s, write=False):
        rows = s.execute(
            select(job_runs_t)
            .where(job_runs_t.c.job_name == job_name)
            .order_by(job_runs_t.c.started_at.desc())
            .limit(limit)
        )
        return [dict(r._mapping) for r in rows]


def last_runs(s: Session, job_names: list[str]) -> dict[str, dict]:
    """Each job's latest run (started, finished, status, summary)."""
    with unit(s, write=False):
        latest = (
            select(job_runs_t.c.job_name, func.max(job_runs_t.c.id).label("id"))
            .where(job_runs_t.c.job_name.in_(job_names))
            .group_by(job_runs_t.c.job_name)
            .subquery()
        )
        rows = s.execute(select(job_runs_t).join(latest, latest.c.id == job_runs_t.c.id)).mappings().all()
    return {r["job_name"]: dict(r) for r in rows}


def run_claimed(s: Session, job_name: str, slot: str, work, *, now: datetime | None = None, audit=None):
    """Claim ``(job_name, slot)`` and do ``work(s)`` in the same transaction; ``audit(s, summary)``, when
    given (an admin's "Run now"), writes the audit row in that transaction too.

    Returns ``(run_id, result)``, or ``(None, None)`` when the slot was claimed
    already (another worker, or an earlier run in this slot). If ``work`` fails,
    the claim rolls back with it and the failure is recorded in its own
    transaction (so the slot is not retried in a loop); the error is re-raised.
    """
    now = now or utcnow()
    tried: list[int] = []  # the run ids this call's tries claimed

    def claim_and_work():
        with unit(s, write=True):
            run_id = claim_slot(s, job_name, slot, now=now)
            if run_id is None:
                return _own_committed_run(s, tried) or (None, None)
            tried.append(run_id)
            live.touch(s, live.job(job_name))
            result = work(s)
            summary = result.summary() if hasattr(result, "summary") else (str(result) if result is not None else "")
            finish_run(s, run_id, status="ok", summary=summary)
            if audit is not None:
                audit(s, summary)
            return run_id, result

    try:
        # A dead pooled connection costs a second try, not the slot: if the first try did commit after all, the
        # second finds the slot claimed and does nothing.
        return again_if_disconnected(claim_and_work)
    except Exception as e:
        with unit(s, write=True):
            run_id = claim_slot(s, job_name, slot, now=now)
            if run_id is not None:
                finish_run(s, run_id, status="failed", summary=f"{type(e).__name__}: {e}")
        raise


@dataclass(frozen=True)
class _Committed:
    """What a try whose COMMIT reached the server (but whose answer was lost) recorded as its summary."""

    text: str

    def summary(self) -> str:
        return self.text


def _own_committed_run(s: Session, tried: list[int]):
    """A second try that finds the slot claimed: claimed by this call's first try if that try's run row exists
    (its COMMIT reached the server though the connection died before the answer; ids are never reused, so the row
    can only be that try's). Then ``(run_id, its summary)``: the caller is told the job ran, as that run."""
    if not tried:
        return None
    row = s.execute(select(job_runs_t.c.id, job_runs_t.c.summary).where(job_runs_t.c.id == tried[-1])).first()
    return (row.id, _Committed(row.summary or "")) if row else None


# --------------------------------------------------------------------------- pausing (a switch every worker obeys)


def job_paused(s: Session, job_name: str) -> bool:
    with unit(s, write=False):
        return bool(s.execute(select(settings_t.c.paused).where(settings_t.c.job_name == job_name)).scalar())


def paused_jobs(s: Session) -> set[str]:
    with unit(s, write=False):
        return set(s.execute(select(settings_t.c.job_name).where(settings_t.c.paused.is_(True))).scalars())


def set_job_paused(s: Session, job_name: str, paused: bool) -> None:
    """Pause or resume a job on every worker. The pages showing the job's countdown hear it (``job:<name>``)."""
    with unit(s, write=True):
        live.touch(s, live.job(job_name))
        insert_ignore(
            s, settings_t, dict(job_name=job_name, paused=False, updated_at=utcnow()), index_elements=["job_name"]
        )
        s.execute(
            settings_t.update()
            .where(settings_t.c.job_name == job_name)
            .values(paused=bool(paused), updated_at=utcnow())
        )


@dataclass(frozen=True)
class MarketplaceClock:
    """What a countdown to the next marketplace run shows: the interval in force, whether an admin paused the
    runs (then no run comes, whatever the clock says), and the next slot's start (naive UTC)."""

    interval_seconds: int
    paused: bool
    next_run: datetime


def marketplace_clock(s: Session, now: datetime | None = None) -> MarketplaceClock:
    with unit(s, write=False):
        interval = marketplace_settings.interval_seconds(s)
        paused = job_paused(s, MARKETPLACE)
    return MarketplaceClock(interval_seconds=interval, paused=paused, next_run=next_run_at(interval, now))


# --------------------------------------------------------------------------- the jobs


def _marketplace(s, now, rng):
    return marketplace_run.run_batch(s, rng=rng, now=now)


def _prices(s, now, rng):
    return f"{stock_trading.update_prices(s, rng=rng, now=now)} prices moved"


def _purge(s, now, rng):
    prices, sales = stock_trading.purge_history(s, now=now), marketplace_run.purge_sales(s, now=now)
    return (
        f"{prices} price rows older than {stock_trading.HISTORY_DAYS} days and {sales} per-product sale lines "
        f"older than {marketplace_run.SALES_KEPT_DAYS} days deleted"
    )


def _loans(s, now, rng):
    return loans.run_due(s, now=now)


def _sessions(s, now, rng):
    return f"{auth.purge_expired(s, now=now)} expired sessions deleted"


def _reconcile(s, now, rng):
    report = reconciliation.run_reconciliation(s, source="scheduler")
    totals = report["totals"]
    money = "" if totals.zero else f", balances sum to {totals.balances} cents and caches to {totals.cache}"
    return (
        f"{report['accounts_checked']} accounts checked, {report['drifts_found']} drifted, "
        f"{report['repaired']} repaired, {report['archive_problems']} archive problems{money} "
        f"in {report['duration_ms']} ms"
    )


@dataclass(frozen=True)
class Job:
    name: str
    title: str
    interval: Callable[[], int]  # seconds, never a database read (safe on the event loop)
    work: Callable  # work(session, now, rng) -> a result with .summary() or a string
    stored_interval: Callable | None = None  # stored_interval(session) -> seconds: a setting in the database

    def interval_now(self, s: Session) -> int:
        """The interval in force: the stored setting when the job has one (read in ``s``)."""
        return self.stored_interval(s) if self.stored_interval else self.interval()


JOBS = {
    MARKETPLACE: Job(
        MARKETPLACE,
        "Marketplace run",
        marketplace_settings.cached_interval,
        _marketplace,
        marketplace_settings.interval_seconds,
    ),
    PRICES: Job(PRICES, "Share price tick", config.price_interval_seconds, _prices),
    PRICE_HISTORY_PURGE: Job(PRICE_HISTORY_PURGE, "Price history clean-up", config.purge_interval_seconds, _purge),
    RECONCILE: Job(RECONCILE, "Reconciliation", config.reconcile_interval_seconds, _reconcile),
    SESSION_PURGE: Job(SESSION_PURGE, "Expired sessions clean-up", config.session_purge_interval_seconds, _sessions),
    LOANS: Job(LOANS, "Loans: interest and defaults", config.loan_interval_seconds, _loans),
}


@dataclass(frozen=True)
class TickResult:
    ran: bool
    run_id: int | None
    slot: str
    summary: str


def run_job(
    s: Session,
    name: str,
    now: datetime | None = None,
    *,
    slot: str | None = None,
    rng: random.Random | None = None,
    scheduled: bool = False,
    audit=None,
) -> TickResult:
    """Run job ``name`` for the slot holding ``now`` unless some worker already did (slot claimed in job_runs).
    A scheduled run of a paused job does nothing; a manual one ("Run now", the CLI) runs anyway.
    ``audit(session, summary)``: an admin's audit row, written in the run's own transaction."""
    job = JOBS[name]
    now = now or utcnow()
    rng = rng or random.Random()
    # The slot of the interval in force now (read from the database for the marketplace), so every
    # worker claims the same key even while one of them still fires on an older interval's ticks.
    slot = slot or again_if_disconnected(lambda: slot_for(now, job.interval_now(s)))  # (reads: safe to repeat)
    if scheduled and again_if_disconnected(lambda: job_paused(s, name)):
        return TickResult(ran=False, run_id=None, slot=slot, summary="paused")
    run_id, result = run_claimed(s, name, slot, lambda s_: job.work(s_, now, rng), now=now, audit=audit)
    if run_id is None:
        return TickResult(ran=False, run_id=None, slot=slot, summary="slot already claimed")
    summary = result.summary() if hasattr(result, "summary") else str(result)
    return TickResult(ran=True, run_id=run_id, slot=slot, summary=summary)
