"""Reusable tables."""

from __future__ import annotations

import reflex as rx

from economy_app.components.money import money


def _counterpart(item, **props) -> rx.Component:
    """The counterpart's name; the system's own rows carry a badge, an element no player's name can produce."""
    return rx.hstack(
        rx.cond(
            item.system,
            rx.badge(
                rx.icon("landmark", size=12),
                "System",
                color_scheme="iris",
                variant="solid",
                size="1",
                class_name="system-badge",
            ),
        ),
        rx.text(item.counterpart, **props),
        spacing="1",
        align="center",
        wrap="wrap",
    )


def _batch(item) -> rx.Component:
    """A marketplace batch's units, linking to what that run sold of each product."""
    badge = rx.badge(item.batch, variant="soft", size="1")
    return rx.cond(
        item.run != "",
        rx.link(
            rx.badge(item.batch, " · by product", rx.icon("chevron-right", size=12), variant="soft", size="1"),
            href=item.run,
            class_name="run-link",
            underline="none",
        ),
        rx.cond(item.batch != "", badge),
    )


def _history_row(item, show_account) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(item.date, white_space="nowrap", size="2")),
        rx.cond(show_account, rx.table.cell(item.account), rx.fragment()),
        rx.table.cell(
            rx.vstack(
                rx.text(item.type, size="2", weight="medium"),
                _batch(item),
                spacing="1",
            )
        ),
        rx.table.cell(_counterpart(item, size="2")),
        rx.table.cell(rx.text(item.description, size="2", color_scheme="gray")),
        rx.table.cell(
            money(item.amount, item.cents, signed=True, weight="medium", white_space="nowrap"), justify="end"
        ),
        class_name="history-row",
    )


def _history_card(item, show_account) -> rx.Component:
    """The same row on a narrow screen: who and how much first, then what and when."""
    return rx.box(
        rx.hstack(
            _counterpart(item, weight="medium", size="2", trim="both"),
            rx.spacer(),
            money(item.amount, item.cents, signed=True, weight="bold", white_space="nowrap", size="3"),
            align="center",
            width="100%",
        ),
        rx.text(
            item.type, " · ", item.date, rx.cond(show_account, " · " + item.account, ""), size="1", color_scheme="gray"
        ),
        rx.cond(item.description != "", rx.text(item.description, size="1")),
        _batch(item),
        class_name="history-card",
        padding_y="0.6em",
        border_bottom="1px solid var(--gray-a4)",
        width="100%",
    )


def history_table(rows, *, show_account=False, empty: str = "No entries yet.") -> rx.Component:
    """Ledger rows (``HistoryItem``s) newest first; amounts signed and coloured.

    A table from 768 px up; below that, a list of compact cards (nothing scrolls sideways).
    """
    return rx.cond(
        rows.length() > 0,
        rx.fragment(
            rx.card(
                rx.foreach(rows, lambda item: _history_card(item, show_account)),
                width="100%",
                display=["block", "block", "none"],
            ),
            rx.box(
                rx.table.root(
                    rx.table.header(
                        rx.table.row(
                            rx.table.column_header_cell("Date (UTC)"),
                            rx.cond(show_account, rx.table.column_header_cell("Account"), rx.fragment()),
                            rx.table.column_header_cell("Type"),
                            rx.table.column_header_cell("Counterpart"),
                            rx.table.column_header_cell("Description"),
                            rx.table.column_header_cell("Amount", justify="end"),
                        )
                    ),
                    rx.table.body(rx.foreach(rows, lambda item: _history_row(item, show_account))),
                    variant="surface",
                    size="2",
                    width="100%",
                ),
                overflow_x="auto",
                width="100%",
                display=["none", "none", "block"],
            ),
        ),
        rx.callout(empty, icon="info", variant="surface", width="100%"),
    )


def narrow_or_wide(cards: rx.Component, table: rx.Component) -> rx.Component:
    """``cards`` below 768 px (what matters first, nothing scrolls sideways), ``table`` from 768 px up."""
    return rx.fragment(
        rx.box(cards, width="100%", display=["block", "block", "none"]),
        rx.box(table, width="100%", overflow_x="auto", display=["none", "none", "block"]),
    )


def row_card(title, value, *details, class_name: str, **props) -> rx.Component:
    """One table row as a narrow screen shows it: its name and its key figure on a line, the rest below."""
    return rx.box(
        rx.hstack(
            rx.box(title, min_width="0"),
            rx.spacer(),
            rx.box(value, text_align="right", white_space="nowrap"),
            align="start",
            width="100%",
        ),
        *details,
        class_name=class_name,
        padding_y="0.6em",
        border_bottom="1px solid var(--gray-a4)",
        width="100%",
        **props,
    )
