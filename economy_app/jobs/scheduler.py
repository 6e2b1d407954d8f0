"""The in-process scheduler and its jobs.

Every app worker runs its own ``AsyncIOScheduler``; triggers are aligned to
slot boundaries (multiples of the interval since the epoch), so every worker
fires on the same tick and ``services.jobs.run_claimed`` lets exactly one of
them run it. Jobs run their database work in a thread, off the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from economy_app.db import get_session
from economy_app.models import utcnow
from economy_app.services import jobs, marketplace

log = logging.getLogger(__name__)

MARKETPLACE = "marketplace"
EPOCH = datetime(1970, 1, 1)


def marketplace_interval() -> int:
    """Seconds between marketplace runs (default 10 minutes)."""
    return max(1, int(os.environ.get("ECONOMY_MARKETPLACE_INTERVAL_SECONDS", 600)))


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


def marketplace_tick(now: datetime | None = None, *, slot: str | None = None, rng: random.Random | None = None,
                     url: str | None = None) -> TickResult:
    """Run the marketplace for the slot holding ``now`` unless some worker already did."""
    now = now or utcnow()
    slot = slot or jobs.slot_for(now, marketplace_interval())
    with get_session(url) as s:
        run_id, result = jobs.run_claimed(
            s, MARKETPLACE, slot, lambda s_: marketplace.run_batch(s_, rng=rng or random.Random(), now=now), now=now)
    if run_id is None:
        return TickResult(ran=False, run_id=None, slot=slot, summary="slot already claimed")
    log.info("marketplace run %s (slot %s): %s", run_id, slot, result.summary())
    return TickResult(ran=True, run_id=run_id, slot=slot, summary=result.summary())


async def _marketplace_job() -> None:
    try:
        await asyncio.to_thread(marketplace_tick)
    except Exception:  # recorded in job_runs; the scheduler keeps going
        log.exception("marketplace run failed")


def build_scheduler(*, marketplace_seconds: int | None = None) -> AsyncIOScheduler:
    interval = marketplace_seconds or marketplace_interval()
    scheduler = AsyncIOScheduler(timezone=UTC)
    scheduler.add_job(
        _marketplace_job,
        IntervalTrigger(seconds=interval, start_date=datetime(1970, 1, 1, tzinfo=UTC), timezone=UTC),
        id=MARKETPLACE, name="Marketplace run", coalesce=True, max_instances=1, misfire_grace_time=interval,
        replace_existing=True,
    )
    return scheduler


@contextlib.asynccontextmanager
async def scheduler_lifespan():
    """The app's lifespan task: start the scheduler with the app, stop it with the app."""
    if not scheduler_enabled():
        log.info("scheduler off (ECONOMY_SCHEDULER=off)")
        yield
        return
    scheduler = build_scheduler()
    scheduler.start()
    log.info("scheduler started: marketplace every %ss", marketplace_interval())
    try:
        yield
    finally:
        scheduler.shutdown(wait=False)
