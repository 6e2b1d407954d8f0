"""The stock market: every public company, and one stock's page with its chart and trade box."""

from __future__ import annotations

import reflex as rx

from economy_app import routes
from economy_app.components.charts import time_axis, tooltip, value_axis
from economy_app.components.layout import player_page
from economy_app.components.tables import narrow_or_wide, row_card
from economy_app.display import (
    ChartAxes,
    HolderRow,
    StockItem,
    TradeRow,
    buyback_text,
    change_text,
    chart_axes,
    holder_row,
    line_points,
    price_label,
    sign,
    stock_item,
    trade_account_options,
    trade_row,
)
from economy_app.event_args import parse_id, text_arg
from economy_app.money import format_cents, format_price, parse_whole
from economy_app.services import companies, stock_trading, stock_views
from economy_app.services import live as topics
from economy_app.services.errors import EconomyError
from economy_app.state.auth import AuthState, logged_in, private, refresh_on_push, run
from economy_app.state.paging import PagedList, pager

PAGE_SIZE = 20
RANGE_KEYS = list(stock_views.RANGES)
# What a stock page says while an admin keeps the company's account frozen: no admin's note (that is for the
# company's owner and the admins), only that its shares neither sell nor buy back.
HALTED_NOTE = "Trading in this stock is halted by an admin: its shares can't be bought or sold until it resumes."


def halted_badge(halted) -> rx.Component:
    """ "Trading halted", on a stock whose company's account an admin froze (stock list, stock page, directory)."""
    return rx.cond(
        halted, rx.badge(rx.icon("circle-pause", size=12), "Trading halted", color_scheme="amber", class_name="halted")
    )


@private
class StocksState(PagedList, AuthState):
    page_size = PAGE_SIZE
    sorts = stock_views.MARKET_SORTS
    loaded: bool = False
    sort: str = "market_cap"
    items: list[StockItem] = []

    @logged_in
    async def _fetch(self, user):
        rows, self.total = await run(stock_views.overview, sort=self.sort, page=self.page, page_size=PAGE_SIZE)
        self.items = [stock_item(r) for r in rows]
        self.loaded = True
        self._listen(user, topics.MARKET)
        return None

    @rx.event
    async def load(self):
        return await self._fetch()

    @rx.event
    async def live_refresh(self):
        if self._left_page():  # a push answered after the tab moved to another page
            return None
        return await self._fetch()


@private
class StockState(AuthState):
    loaded: bool = False
    error: str = ""
    company_id: int = 0
    name: str = ""
    ticker: str = ""
    price: str = ""
    change: str = ""
    change_sign: int = 0
    market_cap: str = ""
    halted: bool = False  # an admin froze the company's account: no buy, no sell
    volume: str = ""
    cash: str = ""
    treasury: str = ""
    cash_per_share: str = ""
    buyback: str = ""  # "1,900 of 205,200": shares players hold that the company's cash buys back now
    sell_can: int = 0  # the most shares the viewer may sell now (its owner's own come last)
    sell_note: str = ""  # what the company can buy back now, said before any sale is typed
    buy_note: str = ""  # why the viewer may not buy, said before anything is typed (a founder's own company)
    range_key: str = ""  # "": the stock's default range
    chart: list[dict] = []
    axes: ChartAxes = ChartAxes()
    holders: list[HolderRow] = []
    trades: list[TradeRow] = []
    trade_accounts: list[dict[str, str]] = []  # value, label
    account_id: str = ""
    shares_text: str = ""
    side: str = "buy"
    preview: str = ""
    preview_error: str = ""
    busy: bool = False

    async def _refresh(self, user):
        """The whole page from one read (``stock_views.stock_page``)."""
        try:
            page = await run(stock_views.stock_page, user.id, self.company_id, self.range_key or None)
        except EconomyError as e:
            self.error, self.loaded = str(e), True
            return rx.toast.error(str(e))
        d, points = page.detail, page.points
        self.trade_accounts = trade_account_options(page.accounts)
        if self.account_id not in {a["value"] for a in self.trade_accounts} and self.trade_accounts:
            self.account_id = self.trade_accounts[0]["value"]
        self._listen(
            user, topics.company(self.company_id), topics.MARKET, *(topics.account(v.id) for v in page.accounts)
        )
        self.name, self.ticker, self.price = d.name, d.ticker, format_price(d.price_micros)
        self.change, self.change_sign = change_text(d.change_permille), sign(d.change_permille)
        self.market_cap, self.cash = format_cents(d.market_cap_cents), format_cents(d.cash_cents)
        self.halted = d.halted
        self.volume, self.treasury = f"{d.volume_24h:,}", f"{d.treasury_shares:,}"
        pay = d.payout
        self.cash_per_share = format_price(pay.cash_per_share_micros)
        self.buyback = buyback_text(pay.buyback_shares, pay.held_by_players)
        self.buy_note = stock_trading.FOUNDER_BUY_REFUSAL if d.owner_id == user.id else ""
        if d.owner_id == user.id:  # the owner's shares come last (stock_trading.max_owner_sale)
            self.sell_can = pay.owner_can_sell
            self.sell_note = stock_trading.owner_sale_refusal(d.name, pay.owner_can_sell) if pay.owner_held else ""
        else:
            self.sell_can = pay.buyback_shares
            self.sell_note = stock_trading.buyback_refusal(d.name, pay.buyback_shares) if pay.held_by_players else ""
        self.range_key = page.range_key
        self.chart = line_points(points, format_price, "price")
        self.axes = chart_axes([(c["ts"], c["price"]) for c in self.chart], price_label)
        self.holders = [holder_row(h) for h in d.shareholders]
        self.trades = [trade_row(t) for t in d.trades]
        self.error, self.loaded = "", True
        return None

    @rx.event
    @logged_in
    async def load(self, user):
        self.company_id = parse_id(self.router.url.query_parameters.get("id", "")) or 0
        self.shares_text, self.preview, self.preview_error = "", "", ""
        self.range_key = ""  # the stock's own default (stock_views.default_range): a range that has data
        return await self._refresh(user)

    @rx.event
    @refresh_on_push
    async def live_refresh(self, user):
        """A trade or a price tick: fresh price, chart, holders, trades and account balances; the trade box
        keeps what the player typed, and its preview is quoted again at the new price."""
        event = await self._refresh(user)
        if self.shares_text:
            await self._quote()
        return event

    @rx.event
    @logged_in
    async def set_range(self, user, key: str):
        if isinstance(key, str) and key in stock_views.RANGES:
            self.range_key = key
        return await self._refresh(user)

    def _shares(self) -> int | None:
        return parse_whole(self.shares_text, maximum=10**12)  # the service says how many one trade may move

    async def _quote(self):
        shares = self._shares()
        if shares is None:
            self.preview, self.preview_error = "", "Enter a whole number of shares." if self.shares_text else ""
            return
        try:
            q = await run(stock_trading.quote, self.company_id, self.side, shares, account_id=parse_id(self.account_id))
        except EconomyError as e:
            self.preview, self.preview_error = "", str(e)
            return
        verb = "cost" if q.side == "buy" else "pay you"
        self.preview_error = ""
        self.preview = (
            f"{q.shares:,} shares {verb} {format_cents(q.total_cents)} "
            f"({format_price(q.price_micros)} a share on average); "
            f"the price then is {format_price(q.new_price_micros)}."
        )

    @rx.event
    async def set_shares(self, text: str):
        self.shares_text = text_arg(text, 12)
        await self._quote()

    @rx.event
    async def set_side(self, side: str | list[str]):
        self.side = "sell" if side == "sell" else "buy"
        await self._quote()

    @rx.event
    async def set_account(self, value: str):
        if isinstance(value, str) and value in {a["value"] for a in self.trade_accounts}:
            self.account_id = value
            await self._quote()  # a sale is quoted for the account it comes from

    @rx.event
    @logged_in
    async def trade(self, user):
        if self.busy:
            return
        shares = self._shares()
        if shares is None:
            yield rx.toast.error("Enter a whole number of shares.")
            return
        self.busy = True
        yield
        fn = stock_trading.buy if self.side == "buy" else stock_trading.sell
        try:
            r = await run(
                fn,
                actor_id=user.id,
                account_id=parse_id(self.account_id) or 0,
                company_id=self.company_id,
                shares=shares,
            )
        except EconomyError as e:
            self.busy = False
            yield rx.toast.error(str(e))
            return
        verb = "Bought" if r.side == "buy" else "Sold"
        self.shares_text, self.preview, self.busy = "", "", False
        await self._refresh(user)
        yield rx.toast.success(
            f"{verb} {r.shares:,} {self.ticker} for {format_cents(r.total_cents)}. You hold {r.holding_shares:,}."
        )


def _change(text, sign) -> rx.Component:
    return rx.text(
        text,
        color=rx.cond(sign > 0, "var(--green-11)", rx.cond(sign < 0, "var(--red-11)", "inherit")),
        weight="medium",
        as_="span",
    )


def _spark(item: StockItem) -> rx.Component:
    return rx.recharts.line_chart(
        rx.recharts.line(
            data_key="p",
            stroke=rx.cond(item.change_sign < 0, "var(--red-9)", "var(--green-9)"),
            dot=False,
            stroke_width=1.5,
            is_animation_active=False,
        ),
        rx.recharts.y_axis(hide=True, domain=["dataMin", "dataMax"]),
        data=item.spark,
        width=110,
        height=32,
    )


def _new_listing(i: StockItem) -> rx.Component:
    """The mark of a company public for less than a week (stock_views.NEW_LISTING)."""
    return rx.cond(
        i.new_listing,
        rx.badge("New listing", color_scheme="iris", size="1", title=i.listed, class_name="new-listing"),
    )


def _stock_card(i: StockItem) -> rx.Component:
    """A stock on a narrow screen: ticker and price first, then its 24h change, market cap and trend."""
    return row_card(
        rx.vstack(
            rx.link(
                rx.vstack(
                    rx.text(i.ticker, weight="bold"),
                    rx.text(i.name, size="1", color_scheme="gray"),
                    halted_badge(i.halted),
                    spacing="0",
                ),
                href=routes.STOCK + "?id=" + i.id.to_string(),
                underline="none",
            ),
            _new_listing(i),
            spacing="1",
        ),
        rx.vstack(rx.text(i.price, weight="bold"), _change(i.change, i.change_sign), spacing="0", align="end"),
        rx.hstack(
            rx.text("Market cap ", i.market_cap, size="1", color_scheme="gray"),
            rx.spacer(),
            _spark(i),
            align="center",
            width="100%",
        ),
        class_name="stock-card",
    )


def stocks_page() -> rx.Component:
    head = ["Company", "Price", "24h", "Market cap", "24h trend"]
    return player_page(
        rx.vstack(
            rx.flex(
                rx.select.root(
                    rx.select.trigger(id="stocks-sort", aria_label="Sort stocks"),
                    rx.select.content(
                        rx.select.item("Market cap", value="market_cap"),
                        rx.select.item("Price", value="price"),
                        rx.select.item("24h change", value="change"),
                        rx.select.item("Name", value="name"),
                    ),
                    value=StocksState.sort,
                    on_change=StocksState.set_sort,
                ),
                rx.text(
                    StocksState.total,
                    rx.cond(StocksState.total == 1, " public company", " public companies"),
                    size="2",
                    color_scheme="gray",
                ),
                gap="0.75em",
                align="center",
                wrap="wrap",
            ),
            rx.cond(
                StocksState.items.length() > 0,
                narrow_or_wide(
                    rx.card(rx.foreach(StocksState.items, _stock_card), width="100%"),
                    rx.table.root(
                        rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in head])),
                        rx.table.body(
                            rx.foreach(
                                StocksState.items,
                                lambda i: rx.table.row(
                                    rx.table.cell(
                                        rx.hstack(
                                            rx.link(
                                                rx.vstack(
                                                    rx.text(i.ticker, weight="bold"),
                                                    rx.text(i.name, size="1", color_scheme="gray"),
                                                    halted_badge(i.halted),
                                                    spacing="0",
                                                ),
                                                href=routes.STOCK + "?id=" + i.id.to_string(),
                                                underline="none",
                                            ),
                                            _new_listing(i),
                                            align="center",
                                            spacing="2",
                                        )
                                    ),
                                    rx.table.cell(i.price),
                                    rx.table.cell(_change(i.change, i.change_sign)),
                                    rx.table.cell(i.market_cap),
                                    rx.table.cell(_spark(i)),
                                    class_name="stock-row",
                                ),
                            )
                        ),
                        width="100%",
                        variant="surface",
                    ),
                ),
                rx.callout(
                    f"No company is public yet. A company goes public once its cash passes "
                    f"{format_cents(companies.PUBLIC_THRESHOLD_CENTS)}.",
                    icon="info",
                    width="100%",
                ),
            ),
            pager(StocksState),
            spacing="4",
            width="100%",
        ),
        title="Stock market",
    )


def _stat(label, value, test_id) -> rx.Component:
    return rx.card(
        rx.vstack(rx.text(label, size="1", color_scheme="gray"), rx.heading(value, size="4", id=test_id), spacing="1"),
        width="100%",
    )


def _trade_box() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Trade", size="4"),
            rx.cond(
                StockState.halted,
                rx.callout(HALTED_NOTE, icon="circle-pause", color_scheme="amber", size="1", id="trade-halted"),
            ),
            rx.segmented_control.root(
                rx.segmented_control.item("Buy", value="buy"),
                rx.segmented_control.item("Sell", value="sell"),
                value=StockState.side,
                on_change=StockState.set_side,
                id="trade-side",
            ),
            rx.select.root(
                rx.select.trigger(width="100%", id="trade-account", aria_label="Account"),
                rx.select.content(
                    rx.foreach(StockState.trade_accounts, lambda a: rx.select.item(a["label"], value=a["value"]))
                ),
                value=StockState.account_id,
                on_change=StockState.set_account,
            ),
            rx.input(
                placeholder="Shares",
                aria_label="Shares",
                value=StockState.shares_text,
                on_change=StockState.set_shares,
                debounce_timeout=200,
                input_mode="numeric",
                width="100%",
                id="trade-shares",
            ),
            rx.cond(
                (StockState.side == "sell") & (StockState.sell_note != "") & (StockState.preview_error == ""),
                rx.text(
                    StockState.sell_note,
                    size="2",
                    color_scheme=rx.cond(StockState.sell_can > 0, "gray", "red"),
                    id="trade-buyback",
                ),
            ),
            rx.cond(
                (StockState.side == "buy") & (StockState.buy_note != "") & (StockState.preview_error == ""),
                rx.text(StockState.buy_note, size="2", color_scheme="red", id="trade-buy-note"),
            ),
            rx.cond(
                StockState.preview_error != "",
                rx.text(StockState.preview_error, color_scheme="red", size="2", id="trade-error"),
            ),
            rx.cond(StockState.preview != "", rx.text(StockState.preview, size="2", id="trade-preview")),
            rx.button(
                rx.cond(StockState.side == "buy", "Buy shares", "Sell shares"),
                width="100%",
                disabled=(StockState.preview == "")
                | StockState.halted
                | ((StockState.side == "sell") & (StockState.sell_can == 0))
                | ((StockState.side == "buy") & (StockState.buy_note != "")),
                loading=StockState.busy,
                on_click=StockState.trade,
                id="trade-confirm",
                color_scheme=rx.cond(StockState.side == "buy", "jade", "tomato"),
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def _chart() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                *[
                    rx.button(
                        k,
                        size="1",
                        variant=rx.cond(StockState.range_key == k, "solid", "soft"),
                        on_click=StockState.set_range(k),
                    )
                    for k in RANGE_KEYS
                ],
                spacing="1",
                wrap="wrap",
            ),
            # Round ticks with labels that differ (as many decimals as their step needs), padded ranges, a time
            # axis (UTC) spaced by time: all worked out on the server (display.chart_axes).
            rx.recharts.line_chart(
                rx.recharts.line(
                    data_key="price",
                    stroke="var(--accent-9)",
                    dot=StockState.chart.length() < 3,
                    stroke_width=2,
                    type_="stepAfter",
                    name="Price",
                    is_animation_active=False,
                ),
                time_axis(StockState.axes),
                value_axis(StockState.axes),
                rx.recharts.cartesian_grid(stroke_dasharray="3 3", stroke="var(--gray-a5)"),
                tooltip(),
                data=StockState.chart,
                width="100%",
                height=280,
            ),
            width="100%",
        ),
        width="100%",
        id="stock-chart",
    )


def _table(title: str, head: list[str], rows, cells, card=None) -> rx.Component:
    table = rx.table.root(
        rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in head])),
        rx.table.body(rx.foreach(rows, cells)),
        size="1",
        width="100%",
    )
    return rx.card(
        rx.vstack(
            rx.heading(title, size="3"),
            narrow_or_wide(rx.foreach(rows, card), table) if card else rx.box(table, overflow_x="auto", width="100%"),
            width="100%",
        ),
        width="100%",
    )


def stock_page() -> rx.Component:
    return player_page(
        rx.cond(
            StockState.error != "",
            rx.callout(StockState.error, icon="triangle-alert", color_scheme="red", id="stock-error"),
            rx.cond(
                StockState.loaded,
                rx.vstack(
                    rx.hstack(
                        rx.heading(StockState.price, size="8", id="stock-price"),
                        _change(StockState.change, StockState.change_sign),
                        halted_badge(StockState.halted),
                        align="baseline",
                        spacing="3",
                    ),
                    rx.grid(
                        _stat("Market cap", StockState.market_cap, "stock-cap"),
                        _stat("Volume, 24h", StockState.volume, "stock-volume"),
                        _stat("Company cash", StockState.cash, "stock-cash"),
                        _stat("In treasury", StockState.treasury, "stock-treasury"),
                        _stat("Cash per share", StockState.cash_per_share, "stock-cash-per-share"),
                        _stat("Can buy back now", StockState.buyback, "stock-buyback"),
                        columns=rx.breakpoints(initial="2", md="3"),
                        spacing="3",
                        width="100%",
                    ),
                    rx.flex(
                        rx.box(_chart(), flex="2 1 26em", min_width="0"),
                        rx.box(_trade_box(), flex="1 1 16em"),
                        gap="1em",
                        wrap="wrap",
                        width="100%",
                    ),
                    rx.grid(
                        _table(
                            "Shareholders",
                            ["Holder", "Shares", "Share"],
                            StockState.holders,
                            lambda h: rx.table.row(
                                rx.table.cell(h.name),
                                rx.table.cell(h.shares),
                                rx.table.cell(h.percent),
                                class_name="holder-row",
                            ),
                        ),
                        _table(
                            "Latest trades",
                            ["Time (UTC)", "Side", "Shares", "Price", "Total", "Account"],
                            StockState.trades,
                            lambda t: rx.table.row(
                                rx.table.cell(t.at),
                                rx.table.cell(t.side),
                                rx.table.cell(t.shares),
                                rx.table.cell(t.price),
                                rx.table.cell(t.total),
                                rx.table.cell(t.account),
                                class_name="trade-row",
                            ),
                            card=lambda t: row_card(
                                rx.text(t.side, " ", t.shares, " shares", weight="medium", size="2"),
                                rx.text(t.total, weight="bold", size="2"),
                                rx.text(t.at, " UTC · at ", t.price, " · ", t.account, size="1", color_scheme="gray"),
                                class_name="trade-card",
                            ),
                        ),
                        columns=rx.breakpoints(initial="1", lg="2"),
                        spacing="4",
                        width="100%",
                    ),
                    spacing="4",
                    width="100%",
                ),
                rx.center(rx.spinner(size="3"), padding="4em"),
            ),
        ),
        title=rx.cond(StockState.ticker != "", StockState.name + " (" + StockState.ticker + ")", "Stock"),
        actions=rx.hstack(
            rx.cond(
                StockState.company_id != 0,
                rx.link(
                    rx.button(rx.icon("id-card", size=16), "Company profile", variant="soft"),
                    href=routes.COMPANY_PROFILE + "?id=" + StockState.company_id.to_string(),
                    id="stock-profile",
                ),
            ),
            rx.link(rx.button("All stocks", variant="soft"), href=routes.STOCKS),
            spacing="2",
        ),
    )
