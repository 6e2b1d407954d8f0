"""The marketplace: every active product with its company and ticker; search, filter, sort, pages."""

from __future__ import annotations

import reflex as rx

from economy_app import routes
from economy_app.components.countdown import PAUSED_TEXT, marketplace_clock, notice
from economy_app.components.layout import player_page
from economy_app.display import ProductItem, product_item
from economy_app.event_args import parse_id, text_arg
from economy_app.services import companies, products, schedule
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
            rx.text(item.units_sold, " sold", size="1", color_scheme="gray"),
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
            spacing="4",
            width="100%",
        ),
        title="Marketplace",
        actions=rx.link(rx.button("My companies", variant="soft"), href=routes.COMPANIES),
    )
