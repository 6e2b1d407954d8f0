"""Money at the UI edge. States hold cents (ints) beside their formatted text; this only colours."""

from __future__ import annotations

import reflex as rx


def money(text: rx.Var | str, cents: rx.Var | int, *, signed: bool = False, **props) -> rx.Component:
    """``$1,234.56``: red when negative; with ``signed``, green when positive (a credit)."""
    color = (
        rx.cond(cents < 0, "var(--red-11)", rx.cond(cents > 0, "var(--green-11)", "inherit"))
        if signed
        else rx.cond(cents < 0, "var(--red-11)", "inherit")
    )
    return rx.text(text, color=color, font_variant_numeric="tabular-nums", as_="span", **props)
