"""A negotiation step's answers: accept at its price, reject, or counter with another (the owner's dashboard and
the buyer's "Companies for sale" share it)."""

from __future__ import annotations

import reflex as rx


def reply_row(open_id, open_price, *, accept, reject, counter, prefix: str) -> rx.Component:
    """Accept/Reject/Counter for the open step ``open_id`` (at ``open_price``); ``accept`` and ``reject`` take the
    step's id, ``counter`` receives the form (``offer_id``, ``price``). ``prefix`` names the buttons' classes."""
    return rx.flex(
        rx.button(
            "Accept " + open_price,
            size="1",
            color_scheme="jade",
            on_click=accept(open_id),
            class_name=f"{prefix}-accept",
        ),
        rx.button(
            "Reject",
            size="1",
            variant="soft",
            color_scheme="gray",
            on_click=reject(open_id),
            class_name=f"{prefix}-reject",
        ),
        rx.form(
            rx.hstack(
                rx.el.input(type="hidden", name="offer_id", value=open_id.to_string()),
                rx.input(
                    name="price",
                    placeholder="Counter-offer",
                    aria_label="Counter-offer",
                    size="1",
                    input_mode="decimal",
                    width="10em",
                ),
                rx.button("Counter", size="1", variant="soft", type="submit", class_name=f"{prefix}-counter"),
                spacing="1",
            ),
            on_submit=counter,
            reset_on_submit=True,
        ),
        gap="0.5em",
        wrap="wrap",
        align="center",
    )
