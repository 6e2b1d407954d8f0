"""The in-process scheduler and its jobs.

Every app worker runs its own ``AsyncIOScheduler``; triggers are aligned to
slot boundaries (multiples of the interval since the epoch), so every worker
fires on the same tick and ``services.jobs.run_claimed`` lets exactly one of
them run it. Jobs run their database work in a thread, off the event loop.

The marketplace's interval is a database setting (an admin changes it on the
admin page): each run reads it in its own transaction and claims the slot of
that interval holding ``now`` (one run per window, whichever worker fires and
whatever interval its trigger still had), and every worker re-reads it every
``SETTINGS_POLL_SECONDS`` and moves its trigger to the new slot boundaries.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from economy_app.db import get_session
from economy_app.models import utcnow
from economy_app.services import admin, jobs, marketplace, marketplace_settings, stocks

log = logging.getLogger(__name__)

MARKETPLACE = "marketplace"
PRICES = "prices"
PRICE_HISTORY_PURGE = "price_history_purge"
RECONCILE = "reconcile"
EPOCH = datetime(1970, 1, 1)
SETTINGS_POLL_SECONDS = 10


def _seconds(variable: str, default: int) -> int:
    return max(1, int(os.environ.get(variable, default)))


def marketplace_interval() -> int:
    """Seconds between marketplace runs as this process last read the setting (never a database read
    itself: safe on the event loop). Default 10 minutes (ECONOMY_MARKETPLACE_INTERVAL_SECONDS)."""
    return marketplace_settings.cached_interval()


def _marketplace(s, now, rng):
    return marketplace.run_batch(s, rng=rng, now=now)


def _prices(s, now, rng):
    return f"{stocks.update_prices(s, rng=rng, now=now)} prices moved"


def _purge(s, now, rng):
    return f"{stocks.purge_history(s, now=now)} price rows older than {stocks.HISTORY_DAYS} days deleted"


def _reconcile(s, now, rng):
    report = admin.run_reconciliation(s, source="scheduler")
    totals = report["totals"]
    money = "" if totals.zero else f", balances sum to {totals.balances} cents and caches to {totals.cache}"
    return (f"{report['accounts_checked']} accounts checked, {report['drifts_found']} drifted, "
            f"{report['repaired']} repaired, {report['archive_problems']} archive problems{money} "
            f"in {report['duration_ms']} ms")


@dataclass(frozen=True)
class Job:
    name: str
    title: str
    interval: Callable[[], int]
    work: Callable  # work(session, now, rng) -> a result with .summary() or a string
    stored_interval: Callable | None = None  # stored_interval(session) -> seconds: a setting in the database

    def interval_now(self, s) -> int:
        """The interval in force: the stored setting when the job has one (read in ``s``)."""
        return self.stored_interval(s) if self.stored_interval else self.interval()


JOBS = {
    MARKETPLACE: Job(MARKETPLACE, "Marketplace run", marketplace_interval, _marketplace,
                     marketplace_settings.interval_seconds),
    PRICES: Job(PRICES, "Share price tick", lambda: _seconds("ECONOMY_PRICE_INTERVAL_SECONDS", 300), _prices),
    PRICE_HISTORY_PURGE: Job(PRICE_HISTORY_PURGE, "Price history clean-up",
                             lambda: _seconds("ECONOMY_PURGE_INTERVAL_SECONDS", 86_400), _purge),
    RECONCILE: Job(RECONCILE, "Reconciliation", lambda: _seconds("ECONOMY_RECONCILE_INTERVAL_SECONDS", 3600),
                   _reconcile),
}


def scheduler_enabled() -> bool:
    return os.environ.get("ECONOMY_SCHEDULER", "on").lower() not in ("off", "0", "false", "no")


def next_run_at(interval: int, now: datetime | None = None) -> datetime:
    """The start of the next slot (naive UTC): when every worker's trigger fires next."""
    now = now or utcnow()
    elapsed = int((now - EPOCH).total_seconds())
    return EPOCH + timedelta(seconds=elapsed - elapsed % interval + interval)


@dataclass(frozen=True)
class TickResult:
    ran: bool
    run_id: int | None
    slot: str
    summary: str


def run_job(name: str, now: datetime | None = None, *, slot: str | None = None, rng: random.Random | None = None,
            url: str | None = None, scheduled: bool = False, audit=None) -> TickResult:
    """Run job ``name`` for the slot holding ``now`` unless some worker already did (slot claimed in job_runs).
    A scheduled run of a paused job does nothing; a manual one ("Run now", the CLI) runs anyway.
    ``audit(session, summary)``: an admin's audit row, written in the run's own transaction."""
    job = JOBS[name]
    now = now or utcnow()
    rng = rng or random.Random()
    with get_session(url) as s:
        # The slot of the interval in force now (read from the database for the marketplace), so every
        # worker claims the same key even while one of them still fires on an older interval's ticks.
        slot = slot or jobs.slot_for(now, job.interval_now(s))
        if scheduled and admin.job_paused(s, name):
            return TickResult(ran=False, run_id=None, slot=slot, summary="paused")
        run_id, result = jobs.run_claimed(s, name, slot, lambda s_: job.work(s_, now, rng), now=now, audit=audit)
    if run_id is None:
        log.info("%s slot %s: already claimed (another worker, or an earlier run, has it)", name, slot)
        return TickResult(ran=False, run_id=None, slot=slot, summary="slot already claimed")
    summary = result.summary() if hasattr(result, "summary") else str(result)
    log.info("%s run %s (slot %s): %s", name, run_id, slot, summary)
    return TickResult(ran=True, run_id=run_id, slot=slot, summary=summary)


def marketplace_tick(now: datetime | None = None, *, slot: str | None = None, rng: random.Random | None = None,
                     url: str | None = None) -> TickResult:
    return run_job(MARKETPLACE, now, slot=slot, rng=rng, url=url)


def _job_runner(name: str):
    async def run() -> None:
        try:
            await asyncio.to_thread(run_job, name, scheduled=True)
        except Exception:  # recorded in job_runs; the scheduler keeps going
            log.exception("%s run failed", name)
    run.__name__ = f"run_{name}"
    return run


def _slot_trigger(interval: int) -> IntervalTrigger:
    """Fires on every multiple of ``interval`` seconds since the epoch (the slot boundaries)."""
    return IntervalTrigger(seconds=interval, start_date=datetime(1970, 1, 1, tzinfo=UTC), timezone=UTC)


def _stored_interval(job: Job, url: str | None = None) -> int:
    with get_session(url) as s:
        return job.interval_now(s)


def _settings_watcher(scheduler: AsyncIOScheduler, current: dict[str, int]):
    """Re-read the stored intervals (in a thread) and move a job's trigger when its interval changed."""
    async def watch() -> None:
        for job in JOBS.values():
            if job.stored_interval is None or scheduler.get_job(job.name) is None:
                continue
            try:
                interval = await asyncio.to_thread(_stored_interval, job)
            except Exception:  # the database is away for a moment: keep the current trigger
                log.exception("could not read the %s interval", job.name)
                continue
            if interval != current.get(job.name):
                scheduler.reschedule_job(job.name, trigger=_slot_trigger(interval))
                scheduler.modify_job(job.name, misfire_grace_time=interval)
                log.info("%s interval is now %ss (was %ss)", job.name, interval, current.get(job.name))
                current[job.name] = interval
    watch.__name__ = "watch_settings"
    return watch


def build_scheduler(*, marketplace_seconds: int | None = None) -> AsyncIOScheduler:
    """Every job on its slot trigger, plus a watcher that follows the stored intervals (the marketplace's
    comes from the database: read once here, then every SETTINGS_POLL_SECONDS)."""
    scheduler = AsyncIOScheduler(timezone=UTC)
    current: dict[str, int] = {}
    for job in JOBS.values():
        if job.name == MARKETPLACE and marketplace_seconds:
            interval = marketplace_seconds
        elif job.stored_interval is not None:
            interval = _stored_interval(job)
        else:
            interval = job.interval()
        current[job.name] = interval
        scheduler.add_job(
            _job_runner(job.name), _slot_trigger(interval),
            id=job.name, name=job.title, coalesce=True, max_instances=1, misfire_grace_time=interval,
            replace_existing=True,
        )
    if not marketplace_seconds:
        scheduler.add_job(_settings_watcher(scheduler, current),
                          IntervalTrigger(seconds=SETTINGS_POLL_SECONDS, timezone=UTC), id="watch_settings",
                          name="Follow stored job intervals", coalesce=True, max_instances=1, replace_existing=True)
    return scheduler


def _log_to_server_output() -> None:
    """Job runs and skipped slots go to the server's output, one line each, marked with the worker's pid
    (several workers share one output). ECONOMY_LOG_LEVEL sets the level (default INFO)."""
    logger = logging.getLogger("economy_app")
    if any(getattr(h, "economy_output", False) for h in logger.handlers):
        return
    handler = logging.StreamHandler()
    handler.economy_output = True
    handler.setFormatter(logging.Formatter("%(asctime)s [worker %(process)d] %(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(os.environ.get("ECONOMY_LOG_LEVEL", "INFO").upper())


@contextlib.asynccontextmanager
async def scheduler_lifespan():
    """The app's lifespan task: start the scheduler with the app, stop it with the app."""
    _log_to_server_output()
    if not scheduler_enabled():
        log.info("scheduler off (ECONOMY_SCHEDULER=off)")
        yield
        return
    scheduler = await asyncio.to_thread(build_scheduler)  # it reads the stored intervals
    scheduler.start()
    log.info("scheduler started: %s", ", ".join(f"{j.name} every {j.interval()}s" for j in JOBS.values()))
    try:
        yield
    finally:
        scheduler.shutdown(wait=False)
