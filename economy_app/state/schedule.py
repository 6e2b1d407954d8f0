"""When the scheduled jobs run next: shared by every page that shows a countdown (no private data)."""

from __future__ import annotations

import reflex as rx

from economy_app.services import marketplace_settings
from economy_app.services.schedule import next_run_at
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

    @rx.event
    async def refresh(self, _shown: str = ""):
        """Called when a countdown mounts and whenever its text changes: rolls over once a run is due.
        The interval is the stored setting, so a change on the admin page shows everywhere."""
        interval = await run(marketplace_settings.interval_seconds)
        self.next_marketplace = next_run_at(interval).isoformat() + "Z"
        self.marketplace_every = every_text(interval)
