"""The page shell: a top bar with the brand, navigation and the dark mode toggle."""

from __future__ import annotations

import reflex as rx

NAV = [("Economy", "/")]


def _nav_link(label: str, href: str) -> rx.Component:
    return rx.link(label, href=href, size="3", weight="medium", underline="none", color_scheme="gray",
                   high_contrast=True)


def page_shell(*children: rx.Component, title: str) -> rx.Component:
    return rx.box(
        rx.flex(
            rx.hstack(
                rx.icon("landmark", size=22),
                rx.heading("economy", size="5", weight="bold"),
                align="center",
                spacing="2",
            ),
            rx.hstack(*[_nav_link(label, href) for label, href in NAV], spacing="4", align="center"),
            rx.spacer(),
            rx.color_mode.button(size="2", variant="ghost"),
            align="center",
            spacing="5",
            padding_x=["1em", "2em"],
            padding_y="0.75em",
            border_bottom="1px solid var(--gray-a5)",
            position="sticky",
            top="0",
            z_index="10",
            background_color="var(--color-background)",
        ),
        rx.box(
            rx.heading(title, size="7", margin_bottom="0.75em"),
            *children,
            max_width="72em",
            margin_x="auto",
            padding=["1em", "2em"],
        ),
        min_height="100vh",
    )
