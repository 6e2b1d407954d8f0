"""A live countdown to the next marketplace run ("in 4 minutes"), rolling over to the next slot by itself."""

from __future__ import annotations

import reflex as rx

from economy_app.state.schedule import ScheduleState


def marketplace_countdown(**props) -> rx.Component:
    return rx.moment(
        ScheduleState.next_marketplace,
        from_now=True,
        interval=1000,
        with_title=True,
        on_mount=ScheduleState.refresh,
        on_change=ScheduleState.refresh,
        **props,
    )


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
