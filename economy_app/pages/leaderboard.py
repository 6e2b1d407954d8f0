"""The leaderboard: the richest players by net worth, the largest companies by market cap and by cash, the
best-selling products. Public figures only."""

from __future__ import annotations

import reflex as rx

from economy_app import routes
from economy_app.components.layout import player_page
from economy_app.components.tables import narrow_or_wide, row_card
from economy_app.display import (
    CompanyRankRow,
    PlayerRankRow,
    ProductRankRow,
    company_rank_rows,
    player_rank_rows,
    product_rank_rows,
)
from economy_app.services import live as topics
from economy_app.services import stock_views
from economy_app.state.auth import AuthState, logged_in, refresh_on_push, run


class LeaderboardState(AuthState):
    """Public figures only (names, net worth, market caps): nothing private to clear."""

    loaded: bool = False
    players: list[PlayerRankRow] = []
    by_cap: list[CompanyRankRow] = []
    by_cash: list[CompanyRankRow] = []
    products: list[ProductRankRow] = []

    @rx.event
    @logged_in
    async def load(self, user):
        await self._show(user)

    @rx.event
    @refresh_on_push
    async def live_refresh(self, user):
        await self._show(user)

    async def _show(self, user):
        self._listen(user, topics.ECONOMY, topics.MARKET)
        b = await run(stock_views.leaderboard)
        self.players = player_rank_rows(b.players)
        self.by_cap, self.by_cash = company_rank_rows(b.by_market_cap), company_rank_rows(b.by_cash)
        self.products = product_rank_rows(b.products)
        self.loaded = True


def _board(title: str, head: list[str], rows, cells, card=None) -> rx.Component:
    """A ranking: a table, and (``card``) on a narrow screen a card per row that keeps every figure in view."""
    table = rx.table.root(
        rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in head])),
        rx.table.body(rx.foreach(rows, lambda r: rx.table.row(*cells(r)))),
        size="1",
        width="100%",
    )
    return rx.card(
        rx.vstack(
            rx.heading(title, size="4"),
            rx.cond(
                rows.length() > 0,
                narrow_or_wide(rx.foreach(rows, card), table) if card else table,
                rx.text("Nothing here yet.", size="2", color_scheme="gray"),
            ),
            width="100%",
        ),
        width="100%",
    )


def _ranked(rank, name) -> rx.Component:
    return rx.hstack(
        rx.text(rank, color_scheme="gray", size="2"), rx.text(name, weight="medium", size="2"), spacing="2"
    )


def _player_card(r: PlayerRankRow) -> rx.Component:
    return row_card(
        _ranked(r.rank, r.name),
        rx.text(r.worth, weight="bold", size="2"),
        rx.text(
            "Cash ", r.cash, " · shares ", r.held, " · owed to shareholders ", r.owed, size="1", color_scheme="gray"
        ),
        class_name="player-card",
    )


def _product_card(r: ProductRankRow) -> rx.Component:
    return row_card(
        _ranked(r.rank, r.name),
        rx.text(r.revenue, weight="bold", size="2"),
        rx.text(r.ticker, " · ", r.units, " units sold", size="1", color_scheme="gray"),
        class_name="product-rank-card",
    )


def _company(r: CompanyRankRow, link: bool) -> list[rx.Component]:
    """A company's name leads to its profile; with ``link``, its ticker to its stock."""
    name = rx.link(r.name, href=routes.COMPANY_PROFILE + "?id=" + r.id.to_string(), class_name="board-company")
    ticker = rx.link(r.ticker, href=routes.STOCK + "?id=" + r.id.to_string()) if link else r.ticker
    return [rx.table.cell(r.rank), rx.table.cell(name), rx.table.cell(ticker), rx.table.cell(r.value)]


def leaderboard_page() -> rx.Component:
    return player_page(
        rx.grid(
            _board(
                "Richest players",
                ["#", "Player", "Net worth", "Cash", "Shares", "Owed to shareholders"],
                LeaderboardState.players,
                lambda r: [rx.table.cell(v) for v in (r.rank, r.name, r.worth, r.cash, r.held, r.owed)],
                card=_player_card,
            ),
            _board(
                "Largest companies",
                ["#", "Company", "Ticker", "Market cap"],
                LeaderboardState.by_cap,
                lambda r: _company(r, link=True),
            ),
            _board(
                "Most cash",
                ["#", "Company", "Ticker", "Cash"],
                LeaderboardState.by_cash,
                lambda r: _company(r, link=False),
            ),
            _board(
                "Best-selling products",
                ["#", "Product", "Ticker", "Units sold", "Revenue"],
                LeaderboardState.products,
                lambda r: [rx.table.cell(v) for v in (r.rank, r.name, r.ticker, r.units, r.revenue)],
                card=_product_card,
            ),
            columns=rx.breakpoints(initial="1", lg="2"),
            spacing="4",
            width="100%",
        ),
        title="Leaderboard",
    )
