"""Accounts: every account of the player with its balance, and a balance-over-time chart."""

from __future__ import annotations

import reflex as rx

from economy_app import routes
from economy_app.components.charts import time_axis, tooltip, value_axis
from economy_app.components.layout import player_page
from economy_app.components.money import money
from economy_app.display import AccountItem, ChartAxes, account_item, cents_label, chart_axes, line_points
from economy_app.event_args import parse_id
from economy_app.models import utcnow
from economy_app.money import format_cents
from economy_app.services import accounts
from economy_app.services import live as topics
from economy_app.services.errors import EconomyError
from economy_app.state.auth import AuthState, logged_in, private, refresh_on_push, run


@private
class AccountsState(AuthState):
    loaded: bool = False
    items: list[AccountItem] = []
    chart_account: int = 0
    chart_title: str = ""
    series: list[dict] = []
    axes: ChartAxes = ChartAxes()

    @rx.event
    @logged_in
    async def load(self, user):
        return await self._show(user)

    @rx.event
    @refresh_on_push
    async def live_refresh(self, user):
        return await self._show(user)

    async def _show(self, user):
        views = await run(accounts.list_accounts, user.id)
        self.items = [account_item(v) for v in views]
        self.loaded = True
        self._listen(user, *(topics.account(v.id) for v in views))
        if views and self.chart_account not in {v.id for v in views}:
            self.chart_account = views[0].id
        if views:
            return AccountsState.show_chart(self.chart_account)

    @rx.event
    @logged_in
    async def show_chart(self, user, account_id: int):
        account = parse_id(account_id)
        try:
            if account is None:
                raise EconomyError("Account not found.")
            points = await run(accounts.balance_series, user.id, account)
        except EconomyError:
            return rx.toast.error("Account not found.")
        self.chart_account = account
        self.chart_title = next((i.name for i in self.items if i.id == self.chart_account), "")
        series = [(p.at, p.balance) for p in points]
        current = next((i.cents for i in self.items if i.id == self.chart_account), None)
        if series and current is not None:  # the line runs up to now, at today's balance
            series.append((utcnow(), current))
        # Spaced by time (a week's quiet is wide, a burst of trades narrow), ticks that differ (display.chart_axes).
        self.series = line_points(series, format_cents, "balance")
        self.axes = chart_axes([(p["ts"], p["balance"]) for p in self.series], cents_label)


def _account_card(item: AccountItem) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.text(item.name, weight="bold", size="4"),
                rx.badge(item.kind, variant="soft"),
                align="center",
                justify="between",
                width="100%",
            ),
            rx.heading(money(item.balance, item.cents), size="6", class_name="account-balance"),
            rx.text("Updated ", item.updated, " UTC", size="1", color_scheme="gray"),
            rx.cond(item.warning != "", rx.text(item.warning, size="1", color_scheme="amber")),
            rx.hstack(
                rx.button("Chart", size="1", variant="soft", on_click=AccountsState.show_chart(item.id)),
                rx.link(rx.button("History", size="1", variant="soft"), href=f"{routes.HISTORY}?account={item.id}"),
                spacing="2",
            ),
            spacing="2",
            width="100%",
        ),
        width="100%",
        class_name="account-card",
        border=rx.cond(item.id == AccountsState.chart_account, "1px solid var(--accent-8)", "none"),
    )


def _chart() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.text(
                "Balance over time (UTC): ", rx.text(AccountsState.chart_title, as_="span", weight="bold"), size="3"
            ),
            rx.cond(
                AccountsState.series.length() > 1,
                rx.recharts.area_chart(
                    rx.recharts.area(
                        data_key="balance",
                        type_="stepAfter",
                        stroke="var(--accent-9)",
                        fill="var(--accent-a5)",
                        name="Balance",
                        is_animation_active=False,
                    ),
                    time_axis(AccountsState.axes),
                    value_axis(AccountsState.axes, width=90),
                    rx.recharts.cartesian_grid(stroke_dasharray="3 3", stroke="var(--gray-a5)"),
                    tooltip(),
                    data=AccountsState.series,
                    width="100%",
                    height=260,
                ),
                rx.text("The chart appears once this account has moved money.", color_scheme="gray", size="2"),
            ),
            width="100%",
            spacing="3",
        ),
        width="100%",
        id="balance-chart",
    )


def accounts_page() -> rx.Component:
    return player_page(
        rx.cond(
            AccountsState.loaded,
            rx.vstack(
                rx.grid(
                    rx.foreach(AccountsState.items, _account_card),
                    columns=rx.breakpoints(initial="1", sm="2", lg="3"),
                    spacing="4",
                    width="100%",
                ),
                _chart(),
                spacing="4",
                width="100%",
            ),
            rx.center(rx.spinner(size="3"), padding="4em"),
        ),
        title="Accounts",
    )
