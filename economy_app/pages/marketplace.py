"""The marketplace: every active product with its company and ticker; search, filter, sort, pages; and a
player buying units of one (from their personal account or a company they own) into their collection.

A purchase carries its own idempotency key, embedded in the click (as sending money does): a double click
buys once. The price sent is the one the dialog showed: a price changed since is refused, never charged."""

from __future__ import annotations

import uuid

import reflex as rx

from economy_app import config, routes
from economy_app.components.countdown import PAUSED_TEXT, marketplace_clock, notice
from economy_app.components.forms import field_label
from economy_app.components.layout import player_page
from economy_app.display import AccountItem, ProductItem, account_item, product_item, purchase_preview
from economy_app.event_args import parse_id, text_arg
from economy_app.money import format_cents, parse_whole
from economy_app.services import accounts, companies, products, purchases, schedule
from economy_app.services import live as topics
from economy_app.services.errors import EconomyError
from economy_app.state.auth import AuthState, logged_in, private, run
from economy_app.state.paging import PagedList, pager
from economy_app.state.schedule import ScheduleState

PAGE_SIZE = 24
SORTS = [
    ("best_selling", "Best-selling"),
    ("price_asc", "Price: low to high"),
    ("price_desc", "Price: high to low"),
    ("newest", "Newest"),
]


@private
class MarketplaceState(PagedList, AuthState):
    page_size = PAGE_SIZE
    sorts = products.LISTING_SORTS
    loaded: bool = False
    query: str = ""
    sort: str = "best_selling"
    company_id: int = 0
    company_label: str = ""
    items: list[ProductItem] = []
    # The buy dialog: the product as it was shown, the accounts that may pay, what is typed.
    buying: int = 0  # the product's id while the dialog is open
    buy_name: str = ""
    buy_price: str = ""
    buy_price_cents: int = 0
    buy_accounts: list[AccountItem] = []
    buy_account_id: str = ""
    units_text: str = "1"
    units_error: str = ""
    buy_key: str = ""
    last_buy_key: str = ""
    busy: bool = False

    def _units(self) -> tuple[int | None, str]:
        most = config.max_purchase_units()
        units = parse_whole(self.units_text, maximum=most)
        return (units, "") if units is not None else (None, f"Buy 1 to {most:,} whole units.")

    def _buy_account(self) -> AccountItem | None:
        return next((a for a in self.buy_accounts if str(a.id) == self.buy_account_id), None)

    @rx.var
    def buy_preview(self) -> str:
        units, _ = self._units()
        account = self._buy_account()
        if units is None or account is None or not self.buying:
            return ""
        return purchase_preview(units, self.buy_name, self.buy_price_cents, account.name, account.cents)

    @logged_in
    async def _fetch(self, user):
        rows, self.total = await run(
            products.listing,
            query=self.query,
            company_id=self.company_id or None,
            sort=self.sort,
            page=self.page,
            page_size=PAGE_SIZE,
        )
        self.items = [product_item(p) for p in rows]
        self.loaded = True
        self._listen(user, topics.job(schedule.MARKETPLACE))
        return None

    @rx.event
    async def live_refresh(self):
        """A marketplace run ended: units sold move, and the countdown rolls over to the next run."""
        if self._left_page():  # a push answered after the tab moved to another page
            return None
        await (await self.get_state(ScheduleState)).refresh()
        return await self._fetch()

    @rx.event
    async def load(self):
        wanted = parse_id(self.router.url.query_parameters.get("company", ""))
        self.company_id, self.company_label, self.page = 0, "", 1
        if wanted is not None:
            try:
                c = await run(companies.get_company, wanted)
                self.company_id, self.company_label = c.id, f"{c.name} ({c.ticker})"
            except EconomyError:
                pass
        return await self._fetch()

    @rx.event
    async def search(self, text: str):
        self.query, self.page = text_arg(text, 80), 1
        return await self._fetch()

    @rx.event
    async def clear_company(self):
        self.company_id, self.company_label, self.page = 0, "", 1
        return await self._fetch()

    @rx.event
    @logged_in
    async def open_buy(self, user, product_id: int):
        """Open the buy dialog for a product shown on this page: the accounts that may pay for it (the player's
        personal account and companies, but not the company selling it)."""
        item = next((i for i in self.items if i.id == parse_id(product_id)), None)
        if item is None:
            return
        views = await run(accounts.list_accounts, user.id)
        self.buy_accounts = [
            account_item(v)
            for v in views
            if v.kind in accounts.SPENDING_KINDS and not (v.kind == "company" and v.company_id == item.company_id)
        ]
        if self._buy_account() is None and self.buy_accounts:
            self.buy_account_id = str(self.buy_accounts[0].id)
        self.buying, self.buy_name, self.buy_price, self.buy_price_cents = (
            item.id,
            item.name,
            item.price,
            item.price_cents,
        )
        self.units_text, self.units_error, self.buy_key = "1", "", uuid.uuid4().hex

    @rx.event
    def close_buy(self, _open: bool = False):
        self.buying = 0

    @rx.event
    def set_buy_account(self, value: str):
        if isinstance(value, str) and any(str(a.id) == value for a in self.buy_accounts):
            self.buy_account_id = value

    @rx.event
    def set_units(self, text: str):
        self.units_text = text_arg(text, 16)
        self.units_error = self._units()[1] if self.units_text.strip() else ""

    @rx.event
    @logged_in
    async def confirm_buy(self, user, key: str):
        """Buy. ``key`` comes from the dialog that was clicked: a second click or a replay carries the same one."""
        if self.busy or not self.buying or not isinstance(key, str) or not key or len(key) > 64:
            return
        if key == self.last_buy_key:
            return
        units, error = self._units()
        if units is None:
            self.units_error = error
            yield rx.toast.error(error)
            return
        self.busy = True
        yield
        try:
            bought = await run(
                purchases.buy,
                actor_id=user.id,
                account_id=parse_id(self.buy_account_id) or 0,
                product_id=self.buying,
                units=units,
                price_cents=self.buy_price_cents,
                idempotency_key=f"buy:{user.id}:{key}",
            )
        except EconomyError as e:
            self.busy = False
            yield rx.toast.error(str(e))
            return
        self.last_buy_key, self.buying, self.busy = key, 0, False
        yield rx.toast.success(
            f"Bought {bought.units:,} x {bought.product_name} for {format_cents(bought.total)}: "
            f"you now have {bought.collection_units:,}."
        )
        yield await self._fetch()


def _product_card(item: ProductItem) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.text(item.name, weight="bold", size="3"),
                rx.spacer(),
                rx.heading(item.price, size="4"),
                align="center",
                width="100%",
            ),
            rx.text(
                rx.link(
                    item.company,
                    href=routes.COMPANY_PROFILE + "?id=" + item.company_id.to_string(),
                    class_name="market-company",
                ),
                " · ",
                item.ticker,
                size="1",
                color_scheme="gray",
            ),
            rx.cond(item.description != "", rx.text(item.description, size="2")),
            rx.hstack(
                rx.text(item.public_units, " sold to the public", size="1", color_scheme="gray"),
                rx.spacer(),
                rx.button(
                    "Buy",
                    size="1",
                    variant="soft",
                    on_click=MarketplaceState.open_buy(item.id),
                    aria_label="Buy " + item.name,
                ),
                align="center",
                width="100%",
            ),
            rx.cond(
                item.waiting != "",
                rx.badge(
                    item.waiting,
                    color_scheme="amber",
                    variant="soft",
                    size="1",
                    white_space="normal",
                    class_name="market-waiting",
                ),
            ),
            spacing="1",
            width="100%",
        ),
        width="100%",
        class_name="market-product",
    )


def _buy_dialog() -> rx.Component:
    s = MarketplaceState
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Buy " + s.buy_name),
            rx.dialog.description(
                s.buy_price + " a unit. What you buy joins your collection (the portfolio).", margin_bottom="0.75em"
            ),
            rx.vstack(
                field_label("Pay from", "buy-account"),
                rx.select.root(
                    rx.select.trigger(width="100%", id="buy-account"),
                    rx.select.content(
                        rx.foreach(
                            s.buy_accounts, lambda a: rx.select.item(a.name + " · " + a.balance, value=a.id.to_string())
                        )
                    ),
                    value=s.buy_account_id,
                    on_change=s.set_buy_account,
                ),
                field_label("Units", "buy-units"),
                rx.input(
                    value=s.units_text,
                    on_change=s.set_units,
                    width="100%",
                    id="buy-units",
                    input_mode="numeric",
                    auto_complete="off",
                    color_scheme=rx.cond(s.units_error != "", "red", "gray"),
                ),
                rx.cond(s.units_error != "", rx.text(s.units_error, color_scheme="red", size="2")),
                rx.cond(s.buy_preview != "", rx.callout(s.buy_preview, icon="info", width="100%", id="buy-preview")),
                rx.hstack(
                    rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray", type="button")),
                    rx.button(
                        "Confirm purchase",
                        disabled=(s.buy_preview == "") | s.busy,
                        loading=s.busy,
                        on_click=s.confirm_buy(s.buy_key),
                    ),
                    justify="end",
                    width="100%",
                ),
                spacing="2",
                width="100%",
            ),
        ),
        open=s.buying != 0,
        on_open_change=s.close_buy,
    )


def marketplace_page() -> rx.Component:
    return player_page(
        rx.vstack(
            notice(
                "timer",
                marketplace_clock(
                    rx.text("The public shops every ", ScheduleState.marketplace_every, ". Next run", size="2"),
                    PAUSED_TEXT,
                    id="market-countdown",
                ),
            ),
            rx.flex(
                rx.input(
                    rx.input.slot(rx.icon("search", size=16)),
                    placeholder="Product, company or ticker",
                    aria_label="Search products",
                    value=MarketplaceState.query,
                    on_change=MarketplaceState.search,
                    debounce_timeout=250,
                    flex="1 1 16em",
                    max_width=["100%", "100%", "24em"],
                    id="market-search",
                ),
                rx.select.root(
                    rx.select.trigger(id="market-sort", aria_label="Sort products"),
                    rx.select.content(*[rx.select.item(label, value=v) for v, label in SORTS]),
                    value=MarketplaceState.sort,
                    on_change=MarketplaceState.set_sort,
                ),
                rx.cond(
                    MarketplaceState.company_id != 0,
                    rx.badge(
                        MarketplaceState.company_label,
                        rx.icon("x", size=12, on_click=MarketplaceState.clear_company, cursor="pointer"),
                        size="2",
                        variant="soft",
                    ),
                ),
                rx.text(
                    MarketplaceState.total,
                    rx.cond(MarketplaceState.total == 1, " product", " products"),
                    " on sale",
                    size="2",
                    color_scheme="gray",
                ),
                gap="0.75em",
                wrap="wrap",
                align="center",
                width="100%",
            ),
            rx.cond(
                MarketplaceState.items.length() > 0,
                rx.grid(
                    rx.foreach(MarketplaceState.items, _product_card),
                    columns=rx.breakpoints(initial="1", sm="2", lg="3"),
                    spacing="3",
                    width="100%",
                ),
                rx.callout("Nothing on sale matches. Found a company and list a product!", icon="info", width="100%"),
            ),
            pager(MarketplaceState),
            _buy_dialog(),
            spacing="4",
            width="100%",
        ),
        title="Marketplace",
        actions=rx.link(rx.button("My companies", variant="soft"), href=routes.COMPANIES),
    )
