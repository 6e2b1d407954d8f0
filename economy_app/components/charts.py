"""Chart pieces whose every label comes from the server (display.ChartAxes): round ticks, labels that differ
from their neighbours, padded ranges. The browser only places them; nothing is formatted in JavaScript."""

from __future__ import annotations

import reflex as rx
from reflex.vars import FunctionStringVar, Var

TICK = {"fontSize": 11}


def labelled(labels: Var) -> FunctionStringVar:
    """A tick formatter that says what the server wrote for each tick value (``labels``: value as text -> label)."""
    return FunctionStringVar.create(f"((v) => ({labels})[String(v)] ?? '')", _var_data=labels._get_all_var_data())


def time_axis(axes) -> rx.Component:
    """The x axis of a line over time: ``data_key`` "ts" (epoch ms), spaced by time, not by event."""
    return rx.recharts.x_axis(
        data_key="ts",
        type_="number",
        domain=axes.x_domain,
        ticks=axes.x_ticks,
        tick_formatter=labelled(axes.x_labels),
        allow_data_overflow=True,
        tick=TICK,
        min_tick_gap=24,
    )


def value_axis(axes, *, width: int = 80) -> rx.Component:
    return rx.recharts.y_axis(
        domain=axes.y_domain,
        ticks=axes.y_ticks,
        tick_formatter=labelled(axes.y_labels),
        allow_data_overflow=True,
        width=width,
        tick=TICK,
    )


def tooltip() -> rx.Component:
    """A tooltip that shows each point's own text (``at``, and ``<series>_text`` for each series' value), as the
    server wrote them."""
    return rx.recharts.graphing_tooltip(
        custom_attrs={
            "formatter": FunctionStringVar.create(
                "((value, name, item) => [item.payload[item.dataKey + '_text'] ?? value, name])"
            ),
            "labelFormatter": FunctionStringVar.create("((label, payload) => payload?.[0]?.payload?.at ?? '')"),
        }
    )


def legend_in_order() -> rx.Component:
    """A legend in the order of the chart's series (Recharts 3 sorts it by name unless told not to)."""
    return rx.recharts.legend(custom_attrs={"itemSorter": Var(_js_expr="null")})
