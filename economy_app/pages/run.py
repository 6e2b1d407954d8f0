"""One marketplace run as one of the selling company's owner sees it: what it sold of each product (the lines
behind the company's two ``marketplace_batch`` entries). Opened from a history row ("21 units")."""

from __future__ import annotations

import dataclasses

import reflex as rx

from economy_app import routes
from economy_app.components.layout import player_page
from economy_app.event_args import parse_id
from economy_app.money import format_cents
from economy_app.services import marketplace_run
from economy_app.services.errors import EconomyError
from economy_app.state.auth import AuthState, logged_in, private, run


@dataclasses.dataclass
class SaleRow:
    name: str
    units: str
    price: str
    revenue: str
    costs: str


@private
class RunState(AuthState):
    loaded: bool = False
    error: str = ""
    company: str = ""
    company_id: int = 0
    account_id: int = 0
    at: str = ""
    units: str = ""
    revenue: str = ""
    costs: str = ""
    profit: str = ""
    rows: list[SaleRow] = []
    kept_days: int = marketplace_run.SALES_KEPT_DAYS

    @rx.event
    @logged_in
    async def load(self, user):
        entry = parse_id(self.router.url.query_parameters.get("entry", ""))
        try:
            if entry is None:
                raise EconomyError("Entry not found.")
            r = await run(marketplace_run.run_sales, user.id, entry)
        except EconomyError as e:
            # Not a run of one of your companies, or no entry at all: the same answer, and nothing on screen.
            self.reset()
            self.loaded, self.error = True, str(e)
            return rx.toast.error(str(e))
        self.company, self.company_id, self.account_id = r.company_name, r.company_id, r.account_id
        self.at = r.at.strftime("%Y-%m-%d %H:%M UTC")
        self.units = f"{r.units:,}"
        self.revenue, self.costs = format_cents(r.revenue_cents), format_cents(r.costs_cents)
        self.profit = format_cents(r.revenue_cents - r.costs_cents, sign=True)
        self.rows = [
            SaleRow(
                name=x.name,
                units=f"{x.units:,}",
                price=format_cents(x.price_cents),
                revenue=format_cents(x.revenue_cents),
                costs=format_cents(x.costs_cents),
            )
            for x in r.lines
        ]
        self.error, self.loaded = "", True
        return None


def _figure(label: str, value) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.text(label, size="1", color_scheme="gray"),
            rx.heading(value, size="4"),
            spacing="1",
        ),
        width="100%",
    )


def _line_card(r: SaleRow) -> rx.Component:
    return rx.box(
        rx.hstack(
            rx.text(r.name, weight="medium", size="2"),
            rx.spacer(),
            rx.text(r.revenue, weight="bold", size="2"),
            width="100%",
        ),
        rx.text(r.units, " units at ", r.price, " · costs ", r.costs, size="1", color_scheme="gray"),
        class_name="sale-card",
        padding_y="0.5em",
        border_bottom="1px solid var(--gray-a4)",
        width="100%",
    )


def _lines() -> rx.Component:
    head = ["Product", "Units", "Price", "Revenue", "Production costs"]
    return rx.cond(
        RunState.rows.length() > 0,
        rx.fragment(
            rx.card(rx.foreach(RunState.rows, _line_card), width="100%", display=["block", "block", "none"]),
            rx.box(
                rx.table.root(
                    rx.table.header(
                        rx.table.row(
                            *[
                                rx.table.column_header_cell(h, justify="end" if i else "start")
                                for i, h in enumerate(head)
                            ]
                        )
                    ),
                    rx.table.body(
                        rx.foreach(
                            RunState.rows,
                            lambda r: rx.table.row(
                                rx.table.cell(r.name),
                                rx.table.cell(r.units, justify="end"),
                                rx.table.cell(r.price, justify="end"),
                                rx.table.cell(r.revenue, justify="end"),
                                rx.table.cell(r.costs, justify="end"),
                                class_name="sale-row",
                            ),
                        )
                    ),
                    variant="surface",
                    width="100%",
                ),
                width="100%",
                display=["none", "none", "block"],
            ),
        ),
        rx.callout(
            f"The per-product lines of a run are kept {marketplace_run.SALES_KEPT_DAYS} days: this run shows its "
            "totals only.",
            icon="info",
            width="100%",
        ),
    )


def run_page() -> rx.Component:
    return player_page(
        rx.cond(
            RunState.error != "",
            rx.callout(RunState.error, icon="triangle-alert", color_scheme="red", id="run-error"),
            rx.cond(
                RunState.loaded,
                rx.vstack(
                    rx.text(
                        "What the public bought from ",
                        rx.link(RunState.company, href=routes.COMPANY + "?id=" + RunState.company_id.to_string()),
                        " in the run of ",
                        RunState.at,
                        ".",
                        size="3",
                        color_scheme="gray",
                    ),
                    rx.grid(
                        _figure("Units sold", RunState.units),
                        _figure("Revenue", RunState.revenue),
                        _figure("Production costs", RunState.costs),
                        _figure("Profit", RunState.profit),
                        columns=rx.breakpoints(initial="2", md="4"),
                        spacing="3",
                        width="100%",
                    ),
                    _lines(),
                    spacing="4",
                    width="100%",
                ),
                rx.center(rx.spinner(size="3"), padding="4em"),
            ),
        ),
        title="Marketplace run",
        actions=rx.cond(
            RunState.account_id != 0,
            rx.link(
                rx.button(rx.icon("scroll-text", size=16), "Company ledger", variant="soft"),
                href=routes.HISTORY + "?account=" + RunState.account_id.to_string(),
            ),
        ),
    )
