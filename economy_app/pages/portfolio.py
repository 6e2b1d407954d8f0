"""Portfolio (holdings at market price, per account) and the leaderboard."""

from __future__ import annotations

import reflex as rx

from economy_app import routes
from economy_app.components.layout import player_page
from economy_app.components.money import money
from economy_app.components.tables import narrow_or_wide, row_card
from economy_app.display import PositionItem, position_item
from economy_app.money import format_cents
from economy_app.services import live as topics
from economy_app.services import stock_views
from economy_app.state.auth import AuthState, logged_in, private, refresh_on_push, run


@private
class PortfolioState(AuthState):
    loaded: bool = False
    items: list[PositionItem] = []
    total_value: str = ""
    total_gain: str = ""
    total_gain_cents: int = 0
    unpayable: str = ""  # of the value, what the companies could not pay for now ("" when they could)

    @rx.event
    @logged_in
    async def load(self, user):
        await self._show(user)

    @rx.event
    @refresh_on_push
    async def live_refresh(self, user):
        await self._show(user)

    async def _show(self, user):
        positions = await run(stock_views.portfolio, user.id)
        self.items = [position_item(p) for p in positions]
        short = stock_views.unpayable_cents(positions)
        self.unpayable = format_cents(short) if short else ""
        self.total_value = format_cents(sum(p.value_cents for p in positions))
        gain = sum(p.gain_cents for p in positions)
        self.total_gain, self.total_gain_cents = format_cents(gain, sign=True), gain
        self.loaded = True
        self._listen(user, topics.MARKET)


def _signed(text, sign) -> rx.Component:
    return rx.text(
        text, color=rx.cond(sign > 0, "var(--green-11)", rx.cond(sign < 0, "var(--red-11)", "inherit")), as_="span"
    )


def _note(p: PositionItem) -> rx.Component:
    """A holding its company cannot buy back in full now (display.holding_note)."""
    return rx.cond(
        p.note != "",
        rx.badge(
            rx.icon("triangle-alert", size=12),
            p.note,
            color_scheme="amber",
            variant="soft",
            size="1",
            white_space="normal",
            class_name="position-note",
        ),
    )


def _position_card(p: PositionItem) -> rx.Component:
    """A holding on a narrow screen: the stock and its value first, then gain/loss, shares, prices, account."""
    return row_card(
        rx.vstack(
            rx.link(p.ticker, href=routes.STOCK + "?id=" + p.company_id.to_string(), weight="bold"),
            rx.text(p.name, size="1", color_scheme="gray"),
            _note(p),
            spacing="0",
        ),
        rx.vstack(
            rx.text(p.value, weight="bold", size="3"),
            money(p.gain, p.gain_cents, signed=True, size="2"),
            spacing="0",
            align="end",
        ),
        rx.text(
            p.shares,
            " shares at ",
            p.price,
            " (avg cost ",
            p.avg_price,
            ") · 24h ",
            _signed(p.change, p.change_sign),
            " · ",
            p.account,
            size="1",
            color_scheme="gray",
        ),
        class_name="position-card",
    )


def portfolio_page() -> rx.Component:
    head = ["Account", "Stock", "Shares", "Avg cost", "Price", "Value", "Gain/loss", "24h"]
    return player_page(
        rx.cond(
            PortfolioState.loaded,
            rx.vstack(
                rx.hstack(
                    rx.card(
                        rx.vstack(
                            rx.text("Holdings value", size="1", color_scheme="gray"),
                            rx.heading(PortfolioState.total_value, size="6", id="portfolio-value"),
                            spacing="1",
                        )
                    ),
                    rx.card(
                        rx.vstack(
                            rx.text("Gain/loss", size="1", color_scheme="gray"),
                            rx.heading(
                                money(PortfolioState.total_gain, PortfolioState.total_gain_cents, signed=True),
                                size="6",
                                id="portfolio-gain",
                            ),
                            spacing="1",
                        )
                    ),
                    spacing="3",
                    wrap="wrap",
                ),
                rx.cond(
                    PortfolioState.unpayable != "",
                    rx.callout(
                        rx.text(
                            PortfolioState.unpayable,
                            " of this value is more than the companies could pay for these shares now: they buy "
                            "back only what their cash pays for (see each marked holding).",
                            as_="span",
                        ),
                        icon="triangle-alert",
                        color_scheme="amber",
                        width="100%",
                        id="portfolio-unpayable",
                    ),
                ),
                rx.cond(
                    PortfolioState.items.length() > 0,
                    narrow_or_wide(
                        rx.card(rx.foreach(PortfolioState.items, _position_card), width="100%"),
                        rx.table.root(
                            rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in head])),
                            rx.table.body(
                                rx.foreach(
                                    PortfolioState.items,
                                    lambda p: rx.table.row(
                                        rx.table.cell(p.account),
                                        rx.table.cell(
                                            rx.vstack(
                                                rx.link(
                                                    p.ticker, href=routes.STOCK + "?id=" + p.company_id.to_string()
                                                ),
                                                _note(p),
                                                spacing="1",
                                            )
                                        ),
                                        rx.table.cell(p.shares),
                                        rx.table.cell(p.avg_price),
                                        rx.table.cell(p.price),
                                        rx.table.cell(p.value),
                                        rx.table.cell(money(p.gain, p.gain_cents, signed=True)),
                                        rx.table.cell(_signed(p.change, p.change_sign)),
                                        class_name="position-row",
                                    ),
                                )
                            ),
                            width="100%",
                            variant="surface",
                        ),
                    ),
                    rx.callout("You hold no shares yet. Browse the stock market to invest.", icon="info", width="100%"),
                ),
                spacing="4",
                width="100%",
            ),
            rx.center(rx.spinner(size="3"), padding="4em"),
        ),
        title="Portfolio",
        actions=rx.link(rx.button("Stock market", variant="soft"), href=routes.STOCKS),
    )
