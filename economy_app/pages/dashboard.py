"""Dashboard: net worth, personal balance, the last 10 ledger entries, quick actions."""

from __future__ import annotations

import reflex as rx

from economy_app import routes
from economy_app.components.countdown import marketplace_countdown, notice
from economy_app.components.layout import player_page
from economy_app.components.money import money
from economy_app.components.tables import history_table
from economy_app.display import HistoryItem, history_item
from economy_app.money import format_cents
from economy_app.services import accounts
from economy_app.services import live as topics
from economy_app.state.auth import AuthState, logged_in, private, refresh_on_push, run


@private
class DashboardState(AuthState):
    loaded: bool = False
    net_worth: str = ""
    net_worth_cents: int = 0
    holdings: str = ""
    holdings_cents: int = 0
    owed: str = ""  # what the player's companies owe their shareholders
    owed_cents: int = 0
    unpayable: str = ""  # of the shares' value, what their companies could not pay for now ("" when they could)
    personal: str = ""
    personal_cents: int = 0
    account_count: int = 0
    recent: list[HistoryItem] = []

    @rx.event
    @logged_in
    async def load(self, user):
        await self._show(user)

    @rx.event
    @refresh_on_push
    async def live_refresh(self, user):
        await self._show(user)

    async def _show(self, user):
        d = await run(accounts.dashboard, user.id)
        names = {v.id: v.name for v in d.accounts}
        self.net_worth, self.net_worth_cents = format_cents(d.net_worth), d.net_worth
        self.holdings, self.holdings_cents = format_cents(d.holdings), d.holdings
        self.owed, self.owed_cents = format_cents(d.owed), d.owed
        self.unpayable = format_cents(d.unpayable) if d.unpayable else ""
        self.personal, self.personal_cents = format_cents(d.personal_balance), d.personal_balance
        self.account_count = len(d.accounts)
        self.recent = [history_item(r, names, d.system_account_id) for r in d.recent]
        self.loaded = True
        self._listen(user, *(topics.account(v.id) for v in d.accounts))


def stat(label: str, value: rx.Component, hint: rx.Component | str, test_id: str) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.text(label, size="2", color_scheme="gray", weight="medium"),
            rx.heading(value, size="7", id=test_id),
            rx.text(hint, size="1", color_scheme="gray"),
            spacing="1",
        ),
        size="2",
        width="100%",
    )


def _action(label: str, href: str, icon: str) -> rx.Component:
    return rx.link(rx.button(rx.icon(icon, size=16), label, variant="soft", size="3"), href=href)


def dashboard_page() -> rx.Component:
    return player_page(
        rx.cond(
            DashboardState.loaded,
            rx.vstack(
                rx.text(
                    "Welcome back, ",
                    rx.text(DashboardState.display_name, as_="span", weight="bold"),
                    ".",
                    size="3",
                    color_scheme="gray",
                ),
                rx.grid(
                    stat(
                        "Net worth",
                        money(DashboardState.net_worth, DashboardState.net_worth_cents),
                        rx.fragment(
                            rx.cond(
                                DashboardState.holdings_cents > 0,
                                "cash in all your accounts + " + DashboardState.holdings + " in shares",
                                "cash across all your accounts",
                            ),
                            rx.cond(
                                DashboardState.owed_cents > 0,
                                " - " + DashboardState.owed + " your companies owe their shareholders",
                                "",
                            ),
                        ),
                        "net-worth",
                    ),
                    stat(
                        "Personal balance",
                        money(DashboardState.personal, DashboardState.personal_cents),
                        "your personal account",
                        "personal-balance",
                    ),
                    stat("Accounts", rx.text(DashboardState.account_count), "that you own", "account-count"),
                    columns=rx.breakpoints(initial="1", sm="3"),
                    spacing="4",
                    width="100%",
                ),
                rx.cond(
                    DashboardState.unpayable != "",
                    rx.callout(
                        rx.fragment(
                            rx.text(
                                DashboardState.unpayable,
                                " of your shares' value is more than their companies could pay for them now. ",
                                as_="span",
                            ),
                            rx.link("See your portfolio.", href=routes.PORTFOLIO),
                        ),
                        icon="triangle-alert",
                        color_scheme="amber",
                        width="100%",
                        id="dashboard-unpayable",
                    ),
                ),
                notice(
                    "timer",
                    rx.text("Next marketplace run", size="2"),
                    marketplace_countdown(id="countdown", font_size="var(--font-size-2)"),
                    rx.link("See what's on sale", href=routes.MARKETPLACE, size="2"),
                ),
                rx.flex(
                    _action("Send money", routes.SEND, "send"),
                    _action("History", routes.HISTORY, "scroll-text"),
                    _action("Accounts", routes.ACCOUNTS, "wallet"),
                    _action("Companies", routes.COMPANIES, "building-2"),
                    gap="0.75em",
                    wrap="wrap",
                ),
                rx.heading("Recent activity", size="4", margin_top="0.5em"),
                history_table(DashboardState.recent, show_account=DashboardState.account_count > 1),
                spacing="4",
                width="100%",
            ),
            rx.center(rx.spinner(size="3"), padding="4em"),
        ),
        title="Dashboard",
    )
