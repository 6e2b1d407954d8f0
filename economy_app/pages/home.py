"""Home: the economy's health at a glance, read through the services."""

from __future__ import annotations

from datetime import datetime

import reflex as rx

from economy_app import config, routes
from economy_app.components.layout import public_page
from economy_app.components.money import money
from economy_app.money import format_cents
from economy_app.services import live as topics
from economy_app.services import stats
from economy_app.state import live
from economy_app.state.auth import run


def _figures(h: stats.Health) -> dict:
    return {
        "players": f"{h.players:,}",
        "accounts": f"{h.accounts:,}",
        "ledger_entries": f"{h.ledger_entries:,}",
        "circulation_cents": h.money_in_circulation,
        "circulation": format_cents(h.money_in_circulation),
        "balance_sum_cents": h.balance_sum,
        "balance_sum": format_cents(h.balance_sum),
    }


class HomeState(rx.State):
    """Plain figures only: no ORM rows in state."""

    players: str = "0"
    accounts: str = "0"
    ledger_entries: str = "0"
    circulation: str = "$0.00"
    circulation_cents: int = 0
    balance_sum: str = "$0.00"
    balance_sum_cents: int = 0
    checked_at: str = ""
    loaded: bool = False

    @rx.event
    async def load(self):
        try:
            figures = _figures(await run(stats.economy_health))
        except Exception:  # the database is unreachable: say so, keep the last figures
            yield rx.toast.error("Could not read the economy's figures. Try again in a moment.")
            return
        for key, value in figures.items():
            setattr(self, key, value)
        self.checked_at = datetime.now().strftime("%H:%M:%S")
        self.loaded = True
        live.subscribe(self.router.session.client_token, HomeState, None, {topics.ECONOMY})

    @rx.event
    async def live_refresh(self):
        if not live.is_current(self.router.session.client_token, HomeState):  # the tab moved to another page
            return
        async for event in self.load():
            yield event


def _stat(label: str, value: rx.Component, hint: str, test_id: str) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.text(label, size="2", color_scheme="gray", weight="medium"),
            rx.heading(value, size="7", id=test_id),
            rx.text(hint, size="1", color_scheme="gray"),
            spacing="1",
        ),
        size="2",
    )


def home_page() -> rx.Component:
    return public_page(
        rx.text(
            "Every cent in this economy moves through one ledger. The mint's account balances "
            "everything else, so the sum of all balances is always zero.",
            color_scheme="gray",
            size="3",
            margin_bottom="1em",
        ),
        rx.hstack(
            rx.link(
                rx.button(
                    f"Start playing: {format_cents(config.INITIAL_BALANCE_CENTS, whole=True)} to begin", size="3"
                ),
                href=routes.SIGNUP,
            ),
            rx.link(rx.button("Log in", size="3", variant="soft"), href=routes.LOGIN),
            spacing="3",
            margin_bottom="1.5em",
            wrap="wrap",
        ),
        rx.grid(
            _stat(
                "Money in circulation",
                money(HomeState.circulation, HomeState.circulation_cents),
                "held by players and companies",
                "stat-circulation",
            ),
            _stat("Players", rx.text(HomeState.players), "signed up", "stat-players"),
            _stat("Accounts", rx.text(HomeState.accounts), "including the mint", "stat-accounts"),
            _stat("Ledger entries", rx.text(HomeState.ledger_entries), "immutable, append-only", "stat-ledger"),
            columns=rx.breakpoints(initial="1", sm="2", lg="4"),
            spacing="4",
            width="100%",
        ),
        rx.flex(
            rx.cond(
                HomeState.balance_sum_cents == 0,
                rx.badge(
                    rx.icon("circle-check", size=14),
                    "Balanced: sum of all balances ",
                    rx.text(HomeState.balance_sum, as_="span", id="stat-balance-sum"),
                    color_scheme="green",
                    size="2",
                ),
                rx.badge(
                    rx.icon("triangle-alert", size=14),
                    "Out of balance by ",
                    rx.text(HomeState.balance_sum, as_="span", id="stat-balance-sum"),
                    color_scheme="red",
                    size="2",
                ),
            ),
            rx.spacer(),
            rx.hstack(
                rx.cond(
                    HomeState.loaded,
                    rx.text("Checked at ", HomeState.checked_at, size="1", color_scheme="gray", white_space="nowrap"),
                ),
                rx.button(rx.icon("refresh-cw", size=14), "Refresh", on_click=HomeState.load, variant="soft", size="2"),
                align="center",
            ),
            margin_top="1.25em",
            align="center",
            wrap="wrap",
            gap="0.75em",
            width="100%",
        ),
        title="The economy",
    )
