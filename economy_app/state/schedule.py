"""When the scheduled jobs run next: shared by every page that shows a countdown (no private data)."""

from __future__ import annotations

import reflex as rx

from economy_app.jobs.scheduler import marketplace_interval, next_run_at


class ScheduleState(rx.State):
    next_marketplace: str = ""  # ISO time (UTC) of the next marketplace run

    @rx.event
    def refresh(self, _shown: str = ""):
        """Called when a countdown mounts and whenever its text changes: rolls over once a run is due."""
        self.next_marketplace = next_run_at(marketplace_interval()).isoformat() + "Z"
