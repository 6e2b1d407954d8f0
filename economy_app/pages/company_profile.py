"""A company's public profile: what every player may read before trading its shares (issue 19)."""

from __future__ import annotations

import reflex as rx

from economy_app import routes
from economy_app.components.layout import player_page
from economy_app.display import IpoItem, ipo_item, when
from economy_app.event_args import parse_id
from economy_app.money import format_cents
from economy_app.services import live as topics
from economy_app.services import profiles
from economy_app.services.errors import EconomyError
from economy_app.state.auth import AuthState, logged_in, private, refresh_on_push, run


@private
class CompanyProfileState(AuthState):
    loaded: bool = False
    error: str = ""
    company_id: int = 0
    name: str = ""
    ticker: str = ""
    owner: str = ""
    description: str = ""
    tags: list[str] = []
    founded: str = ""
    is_owner: bool = False
    cash: str = ""
    revenue: str = ""
    costs: str = ""
    products: list[dict[str, str]] = []
    runs: list[dict[str, str]] = []
    ipo: IpoItem = IpoItem()

    async def _fetch(self, user):
        try:
            p = await run(profiles.company_profile, self.company_id, user.id)
        except EconomyError as e:
            self.reset()
            self.loaded, self.error = True, str(e)
            return rx.toast.error(str(e))
        c = p.company
        self.name, self.ticker, self.owner, self.description = c.name, c.ticker, c.owner_username, c.description
        self.tags, self.founded, self.is_owner = list(c.tags), when(c.created_at), p.is_owner
        self.cash, self.revenue, self.costs = (
            format_cents(c.balance),
            format_cents(p.revenue_30d),
            format_cents(p.costs_30d),
        )
        self.products = [
            {
                "name": x.name,
                "description": x.description,
                "price": format_cents(x.price_cents),
                "sold": f"{x.units_sold:,}",
                "status": "On sale" if x.on_sale else "Withdrawn",
            }
            for x in p.products
        ]
        self.runs = [
            {
                "at": when(r.at),
                "units": f"{r.units:,}",
                "revenue": format_cents(r.revenue),
                "costs": format_cents(r.costs),
            }
            for r in p.runs
        ]
        self.ipo = ipo_item(p.ipo)
        self.error, self.loaded = "", True
        self._listen(user, topics.company(c.id), topics.account(c.account_id), topics.MARKET)
        return None

    @rx.event
    @logged_in
    async def load(self, user):
        self.company_id = parse_id(self.router.url.query_parameters.get("id", "")) or 0
        return await self._fetch(user)

    @rx.event
    @refresh_on_push
    async def live_refresh(self, user):
        """A marketplace run, a trade, a price tick or a payment: fresh figures."""
        return await self._fetch(user)


def _stat(label: str, value, test_id: str, hint=None) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.text(label, size="1", color_scheme="gray", weight="medium"),
            rx.heading(value, size="4", id=test_id),
            rx.text(hint, size="1", color_scheme="gray") if hint is not None else rx.fragment(),
            spacing="1",
        ),
        width="100%",
    )


def ipo_progress(ipo) -> rx.Component:
    """A private company's way to the stock market: its cash against the threshold."""
    return rx.card(
        rx.vstack(
            rx.heading("Going public", size="3"),
            rx.text(
                "A company goes public once its cash is above ",
                ipo.threshold,
                " (checked after every marketplace run it sells in).",
                size="2",
                color_scheme="gray",
            ),
            rx.progress(value=ipo.progress, max=100, width="100%", aria_label="Progress toward going public"),
            rx.text(ipo.progress_text, size="2", id="ipo-progress"),
            spacing="2",
            width="100%",
        ),
        width="100%",
        id="ipo-progress-card",
    )


def ipo_figures(ipo) -> rx.Component:
    """The IPO and the company's shares now: for investors on the profile, and the IPO card of the owner."""
    return rx.grid(
        _stat("Public since", ipo.public_at, "ipo-date"),
        _stat("IPO price", ipo.ipo_price, "ipo-price", rx.text("market cap then ", ipo.ipo_market_cap)),
        _stat("Price now", ipo.price, "ipo-price-now", rx.text("market cap ", ipo.market_cap)),
        _stat("Cash per share", ipo.cash_per_share, "ipo-cash-per-share", "the company's cash / 1,000,000 shares"),
        _stat("Shares in the treasury", ipo.treasury, "ipo-treasury", "the company's own, for sale"),
        _stat("Founder's stake", ipo.founder_stake, "ipo-founder-stake", "shares the owner holds"),
        _stat("Can buy back now", ipo.buyback, "ipo-buyback", "of the shares players hold"),
        columns=rx.breakpoints(initial="2", md="4"),
        spacing="3",
        width="100%",
    )


def _table(title: str, head: list[str], rows, cells, empty: str, test_id: str) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading(title, size="3"),
            rx.cond(
                rows.length() > 0,
                rx.box(
                    rx.table.root(
                        rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in head])),
                        rx.table.body(rx.foreach(rows, cells)),
                        size="1",
                        width="100%",
                    ),
                    overflow_x="auto",
                    width="100%",
                ),
                rx.text(empty, size="2", color_scheme="gray"),
            ),
            width="100%",
        ),
        width="100%",
        id=test_id,
    )


def company_profile_page() -> rx.Component:
    s = CompanyProfileState
    return player_page(
        rx.cond(
            s.error != "",
            rx.callout(s.error, icon="triangle-alert", color_scheme="red", id="profile-error"),
            rx.cond(
                s.loaded,
                rx.vstack(
                    rx.flex(
                        rx.badge(s.ticker, size="3", variant="surface"),
                        rx.cond(
                            s.ipo.public,
                            rx.badge("Public", color_scheme="grass", size="3"),
                            rx.badge("Private", color_scheme="gray", variant="soft", size="3"),
                        ),
                        rx.text("by @", s.owner, " · founded ", s.founded, size="2", color_scheme="gray"),
                        rx.foreach(s.tags, lambda t: rx.badge(t, variant="soft", color_scheme="gray")),
                        gap="0.75em",
                        align="center",
                        wrap="wrap",
                        width="100%",
                    ),
                    rx.cond(s.description != "", rx.text(s.description, size="3", id="profile-description")),
                    rx.grid(
                        _stat("Cash", s.cash, "profile-cash"),
                        _stat("Revenue, 30 days", s.revenue, "profile-revenue"),
                        _stat("Production costs, 30 days", s.costs, "profile-costs"),
                        columns=rx.breakpoints(initial="1", sm="3"),
                        spacing="3",
                        width="100%",
                    ),
                    rx.cond(s.ipo.public, ipo_figures(s.ipo), ipo_progress(s.ipo)),
                    _table(
                        "Products",
                        ["Product", "Price", "Units sold", ""],
                        s.products,
                        lambda p: rx.table.row(
                            rx.table.cell(
                                rx.vstack(
                                    rx.text(p["name"], weight="medium"),
                                    rx.text(p["description"], size="1", color_scheme="gray"),
                                    spacing="0",
                                )
                            ),
                            rx.table.cell(p["price"]),
                            rx.table.cell(p["sold"]),
                            rx.table.cell(p["status"]),
                            class_name="profile-product",
                        ),
                        "No products yet.",
                        "profile-products",
                    ),
                    _table(
                        "Recent marketplace runs",
                        ["Time (UTC)", "Units sold", "Revenue", "Production costs"],
                        s.runs,
                        lambda r: rx.table.row(
                            rx.table.cell(r["at"]),
                            rx.table.cell(r["units"]),
                            rx.table.cell(r["revenue"]),
                            rx.table.cell(r["costs"]),
                            class_name="profile-run",
                        ),
                        "It has sold nothing in the last 7 days.",
                        "profile-runs",
                    ),
                    spacing="4",
                    width="100%",
                ),
                rx.center(rx.spinner(size="3"), padding="4em"),
            ),
        ),
        title=rx.cond(s.name != "", s.name, "Company"),
        actions=rx.hstack(
            rx.cond(
                s.ipo.public,
                rx.link(
                    rx.button(rx.icon("chart-candlestick", size=16), "Stock", variant="soft"),
                    href=routes.STOCK + "?id=" + s.company_id.to_string(),
                    id="profile-stock",
                ),
            ),
            rx.link(
                rx.button(rx.icon("store", size=16), "Products", variant="soft"),
                href=routes.MARKETPLACE + "?company=" + s.company_id.to_string(),
            ),
            rx.cond(
                s.is_owner,
                rx.link(
                    rx.button(rx.icon("layout-dashboard", size=16), "Dashboard"),
                    href=routes.COMPANY + "?id=" + s.company_id.to_string(),
                    id="profile-dashboard",
                ),
            ),
            spacing="2",
            wrap="wrap",
        ),
    )
