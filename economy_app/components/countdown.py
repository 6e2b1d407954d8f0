"""A live countdown to the next marketplace run ("in 4 minutes"), rolling over to the next slot by itself."""

from __future__ import annotations

import reflex as rx

from economy_app.state.schedule import ScheduleState


def marketplace_countdown(**props) -> rx.Component:
    """'in 4 minutes'. Hidden while an admin has paused the runs, but still mounted: its text still changes
    every minute, and each change re-reads the schedule, so a resume shows within a minute on any page."""
    return rx.moment(
        ScheduleState.next_marketplace,
        from_now=True,
        interval=1000,
        with_title=True,
        on_mount=ScheduleState.refresh,
        on_change=ScheduleState.refresh,
        display=rx.cond(ScheduleState.marketplace_paused, "none", "inline"),
        **props,
    )


def marketplace_clock(running: rx.Component, paused: str, *, id: str, size: str = "2") -> rx.Component:
    """``running`` then the countdown while the public shops on schedule; ``paused`` (and no countdown) while an
    admin has paused the runs, wherever a countdown shows."""
    return rx.fragment(
        rx.cond(ScheduleState.marketplace_paused, rx.text(paused, size=size, id=f"{id}-paused"), running),
        marketplace_countdown(id=id, font_size=f"var(--font-size-{size})"),
    )


PAUSED_TEXT = "Marketplace runs are paused by an admin: the public buys nothing until they resume."


def notice(icon: str, *children: rx.Component, **props) -> rx.Component:
    """A tinted info strip that may hold any components (a callout's text is a <p>: block content breaks it)."""
    return rx.flex(
        rx.icon(icon, size=16, flex_shrink="0"),
        *children,
        align="center",
        gap="0.5em",
        wrap="wrap",
        padding="0.75em 1em",
        border_radius="var(--radius-3)",
        background_color="var(--accent-a3)",
        color="var(--accent-a11)",
        width="100%",
        **props,
    )
