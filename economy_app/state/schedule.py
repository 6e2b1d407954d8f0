"""When the scheduled jobs run next: shared by every page that shows a countdown (no private data)."""

from __future__ import annotations

import reflex as rx

from economy_app.services import schedule
from economy_app.state.auth import run


def every_text(seconds: int) -> str:
    """'10 minutes', 'minute', '90 seconds': how often the public shops."""
    if seconds % 60:
        return f"{seconds} seconds"
    minutes = seconds // 60
    return "minute" if minutes == 1 else f"{minutes} minutes"


class ScheduleState(rx.State):
    next_marketplace: str = ""  # ISO time (UTC) of the next marketplace run
    marketplace_every: str = ""  # "10 minutes": the interval an admin set (stored in the database)
    marketplace_paused: bool = False  # an admin paused the runs: no countdown, say so

    @rx.event
    async def refresh(self, _shown: str = ""):
        """Called when a countdown mounts and whenever its text changes (so at least once a minute, paused or
        not): rolls over once a run is due. The interval and the pause are stored settings, so a change on the
        admin page shows everywhere."""
        clock = await run(schedule.marketplace_clock)
        self.next_marketplace = clock.next_run.isoformat() + "Z"
        self.marketplace_every = every_text(clock.interval_seconds)
        self.marketplace_paused = clock.paused
