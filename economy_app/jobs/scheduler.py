"""The in-process scheduler: APScheduler wiring only (the jobs themselves are ``services/schedule.py``).

Every app worker runs its own ``AsyncIOScheduler``; triggers are aligned to
slot boundaries (multiples of the interval since the epoch), so every worker
fires on the same tick and ``schedule.run_claimed`` lets exactly one of
them run it. Jobs run their database work in a thread, off the event loop.

The marketplace's interval is a database setting: every worker re-reads it every
``SETTINGS_POLL_SECONDS`` and moves its trigger to the new slot boundaries.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from economy_app import config
from economy_app.db import get_session
from economy_app.services.schedule import JOBS, Job, TickResult, run_job

log = logging.getLogger(__name__)

SETTINGS_POLL_SECONDS = 10


def run_scheduled(name: str) -> TickResult:
    """One scheduled firing of job ``name`` in this worker, logged to the server output."""
    with get_session() as s:
        tick = run_job(s, name, scheduled=True)
    if tick.run_id is not None:
        log.info("%s run %s (slot %s): %s", name, tick.run_id, tick.slot, tick.summary)
    elif tick.summary == "slot already claimed":
        log.info("%s slot %s: already claimed (another worker, or an earlier run, has it)", name, tick.slot)
    return tick


def _job_runner(name: str):
    async def run() -> None:
        try:
            await asyncio.to_thread(run_scheduled, name)
        except Exception:  # recorded in job_runs; the scheduler keeps going
            log.exception("%s run failed", name)

    run.__name__ = f"run_{name}"
    return run


def _slot_trigger(interval: int) -> IntervalTrigger:
    """Fires on every multiple of ``interval`` seconds since the epoch (the slot boundaries)."""
    return IntervalTrigger(seconds=interval, start_date=datetime(1970, 1, 1, tzinfo=UTC), timezone=UTC)


def _stored_interval(job: Job) -> int:
    with get_session() as s:
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


def build_scheduler() -> AsyncIOScheduler:
    """Every job on its slot trigger, plus a watcher that follows the stored intervals (the marketplace's
    comes from the database: read once here, then every SETTINGS_POLL_SECONDS)."""
    scheduler = AsyncIOScheduler(timezone=UTC)
    current: dict[str, int] = {}
    for job in JOBS.values():
        if job.stored_interval is not None:
            interval = _stored_interval(job)
        else:
            interval = job.interval()
        current[job.name] = interval
        scheduler.add_job(
            _job_runner(job.name),
            _slot_trigger(interval),
            id=job.name,
            name=job.title,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=interval,
            replace_existing=True,
        )
    scheduler.add_job(
        _settings_watcher(scheduler, current),
        IntervalTrigger(seconds=SETTINGS_POLL_SECONDS, timezone=UTC),
        id="watch_settings",
        name="Follow stored job intervals",
        coalesce=True,
        max_instances=1,
        replace_existing=True,
    )
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
    logger.setLevel(config.log_level())


@contextlib.asynccontextmanager
async def scheduler_lifespan():
    """The app's lifespan task: start the scheduler with the app, stop it with the app."""
    _log_to_server_output()
    if not config.scheduler_enabled():
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
