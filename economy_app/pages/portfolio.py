"""Portfolio (holdings at market price, per account) and the leaderboard."""

from __future__ import annotations

import reflex as rx

from economy_app import routes
from economy_app.components.layout import player_page
from economy_app.components.money import money
from economy_app.money import format_cents
from economy_app.services import market
from economy_app.services import live as topics
from economy_app.state.auth import AuthState, private, run
from economy_app.state.present import PositionItem, position_item


@private
class PortfolioState(AuthState):
    loaded: bool = False
    items: list[PositionItem] = []
    total_value: str = ""
    total_gain: str = ""
    total_gain_cents: int = 0
    unpayable: str = ""  # of the value, what the companies could not pay for now ("" when they could)

    @rx.event
    async def load(self):
        user = await self._current_user()
        if user is None:
            return await self._to_login()
        positions = await run(market.portfolio, user.id)
        self.items = [position_item(p) for p in positions]
        short = market.unpayable_cents(positions)
        self.unpayable = format_cents(short) if short else ""
        self.total_value = format_cents(sum(p.value_cents for p in positions))
        gain = sum(p.gain_cents for p in positions)
        self.total_gain, self.total_gain_cents = format_cents(gain, sign=True), gain
        self.loaded = True
        self._listen(user, topics.MARKET)

    @rx.event
    async def live_refresh(self):
        if self._left_page():  # a push answered after the tab moved to another page
            return
        return await self.load()


class LeaderboardState(AuthState):
    """Public figures only (names, net worth, market caps): nothing private to clear."""

    loaded: bool = False
    players: list[dict[str, str]] = []
    by_cap: list[dict[str, str]] = []
    by_cash: list[dict[str, str]] = []
    products: list[dict[str, str]] = []

    @rx.event
    async def load(self):
        user = await self._current_user()
        if user is None:
            return await self._to_login()
        self._listen(user, topics.ECONOMY, topics.MARKET)
        b = await run(market.leaderboard)
        self.players = [{"rank": str(i), "name": n, "worth": format_cents(w), "cash": format_cents(c),
                         "held": format_cents(h), "owed": format_cents(o)}
                        for i, (n, w, c, h, o) in enumerate(b.players, 1)]
        self.by_cap = [{"rank": str(i), "id": str(cid), "name": n, "ticker": t, "value": format_cents(v)}
                       for i, (cid, n, t, v) in enumerate(b.by_market_cap, 1)]
        self.by_cash = [{"rank": str(i), "id": str(cid), "name": n, "ticker": t, "value": format_cents(v)}
                        for i, (cid, n, t, v) in enumerate(b.by_cash, 1)]
        self.products = [{"rank": str(i), "name": n, "ticker": t, "units": f"{u:,}", "revenue": format_cents(r)}
                         for i, (n, t, u, r) in enumerate(b.products, 1)]
        self.loaded = True

    @rx.event
    async def live_refresh(self):
        if self._left_page():  # a push answered after the tab moved to another page
            return
        return await self.load()


def _signed(text, sign) -> rx.Component:
    return rx.text(text, color=rx.cond(sign > 0, "var(--green-11)", rx.cond(sign < 0, "var(--red-11)", "inherit")),
                   as_="span")


def portfolio_page() -> rx.Component:
    head = ["Account", "Stock", "Shares", "Avg cost", "Price", "Value", "Gain/loss", "24h"]
    return player_page(
        rx.cond(
            PortfolioState.loaded,
            rx.vstack(
                rx.hstack(
                    rx.card(rx.vstack(rx.text("Holdings value", size="1", color_scheme="gray"),
                                      rx.heading(PortfolioState.total_value, size="6", id="portfolio-value"),
                                      spacing="1")),
                    rx.card(rx.vstack(rx.text("Gain/loss", size="1", color_scheme="gray"),
                                      rx.heading(money(PortfolioState.total_gain, PortfolioState.total_gain_cents,
                                                       signed=True), size="6", id="portfolio-gain"), spacing="1")),
                    spacing="3", wrap="wrap"),
                rx.cond(PortfolioState.unpayable != "",
                        rx.callout(rx.text(PortfolioState.unpayable, " of this value is more than the companies "
                                           "could pay for these shares now: they buy back only what their cash "
                                           "pays for (see each marked holding).", as_="span"),
                                   icon="triangle-alert", color_scheme="amber", width="100%",
                                   id="portfolio-unpayable")),
                rx.cond(
                    PortfolioState.items.length() > 0,
                    rx.box(rx.table.root(
                        rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in head])),
                        rx.table.body(rx.foreach(PortfolioState.items, lambda p: rx.table.row(
                            rx.table.cell(p.account),
                            rx.table.cell(rx.vstack(
                                rx.link(p.ticker, href=routes.STOCK + "?id=" + p.company_id.to_string()),
                                rx.cond(p.note != "", rx.badge(rx.icon("triangle-alert", size=12), p.note,
                                                               color_scheme="amber", variant="soft", size="1",
                                                               white_space="normal", class_name="position-note")),
                                spacing="1")),
                            rx.table.cell(p.shares), rx.table.cell(p.avg_price), rx.table.cell(p.price),
                            rx.table.cell(p.value), rx.table.cell(money(p.gain, p.gain_cents, signed=True)),
                            rx.table.cell(_signed(p.change, p.change_sign)), class_name="position-row"))),
                        width="100%", variant="surface"), overflow_x="auto", width="100%"),
                    rx.callout("You hold no shares yet. Browse the stock market to invest.", icon="info",
                               width="100%"),
                ),
                spacing="4", width="100%",
            ),
            rx.center(rx.spinner(size="3"), padding="4em"),
        ),
        title="Portfolio",
        actions=rx.link(rx.button("Stock market", variant="soft"), href=routes.STOCKS),
    )


def _board(title: str, head: list[str], rows, keys: list[str], link: bool = False,
           profile: bool = False) -> rx.Component:
    def row(r):
        cells = [rx.table.cell(r[k]) for k in keys]
        if profile:  # a company's name: its profile
            cells[1] = rx.table.cell(rx.link(r["name"], href=routes.COMPANY_PROFILE + "?id=" + r["id"],
                                             class_name="board-company"))
        if link:  # its ticker: the stock
            cells[2] = rx.table.cell(rx.link(r["ticker"], href=routes.STOCK + "?id=" + r["id"]))
        return rx.table.row(*cells)

    return rx.card(rx.vstack(
        rx.heading(title, size="4"),
        rx.cond(rows.length() > 0,
                rx.table.root(rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in head])),
                              rx.table.body(rx.foreach(rows, row)), size="1", width="100%"),
                rx.text("Nothing here yet.", size="2", color_scheme="gray")),
        width="100%"), width="100%")


def leaderboard_page() -> rx.Component:
    return player_page(
        rx.grid(
            _board("Richest players", ["#", "Player", "Net worth", "Cash", "Shares", "Owed to shareholders"],
                   LeaderboardState.players, ["rank", "name", "worth", "cash", "held", "owed"]),
            _board("Largest companies", ["#", "Company", "Ticker", "Market cap"], LeaderboardState.by_cap,
                   ["rank", "name", "ticker", "value"], link=True, profile=True),
            _board("Most cash", ["#", "Company", "Ticker", "Cash"], LeaderboardState.by_cash,
                   ["rank", "name", "ticker", "value"], profile=True),
            _board("Best-selling products", ["#", "Product", "Ticker", "Units sold", "Revenue"],
                   LeaderboardState.products, ["rank", "name", "ticker", "units", "revenue"]),
            columns=rx.breakpoints(initial="1", lg="2"), spacing="4", width="100%",
        ),
        title="Leaderboard",
    )
