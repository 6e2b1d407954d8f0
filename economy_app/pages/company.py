"""A company's dashboard for its owner: 30-day figures, a daily chart, products, editing."""

from __future__ import annotations

import reflex as rx

from economy_app import routes
from economy_app.components.charts import TICK, legend_in_order, tooltip, value_axis
from economy_app.components.countdown import marketplace_clock
from economy_app.components.forms import field_label
from economy_app.components.layout import player_page
from economy_app.components.money import money
from economy_app.components.tables import narrow_or_wide, row_card
from economy_app.display import (
    ChartAxes,
    IpoItem,
    ProductItem,
    bar_rows,
    company_frozen_notice,
    ipo_item,
    market_note,
    money_axis,
    percent_text,
    product_item,
)
from economy_app.event_args import form_text, parse_id
from economy_app.money import AmountError, format_cents, parse_dollars
from economy_app.pages.company_profile import ipo_figures, ipo_progress
from economy_app.services import companies, products, schedule, shareholders
from economy_app.services import live as topics
from economy_app.services.errors import CompanyNotFound, EconomyError, NotCompanyOwner
from economy_app.state.auth import AuthState, logged_in, private, refresh_on_push, run
from economy_app.state.schedule import ScheduleState

FORM_ERROR = "Fill in the form."


@private
class CompanyState(AuthState):
    loaded: bool = False
    error: str = ""
    company_id: int = 0
    account_id: int = 0
    name: str = ""
    ticker: str = ""
    description: str = ""
    tags_text: str = ""
    public: bool = False
    balance: str = ""
    balance_cents: int = 0
    revenue: str = ""
    costs: str = ""
    profit: str = ""
    profit_cents: int = 0
    margin: str = ""
    scale: str = "runs"  # the chart: one bar per marketplace run, hour or day (companies.CHART_SCALES)
    bars: list[dict] = []
    bar_axes: ChartAxes = ChartAxes()
    has_sales: bool = False
    items: list[ProductItem] = []
    editing: int = 0  # the product whose edit dialog is open
    edit_name: str = ""
    edit_price: str = ""
    edit_description: str = ""
    busy: bool = False
    market_note: str = ""  # the listing limit, the hold and the market's typical price
    frozen_notice: str = ""  # an admin froze the company's account (display.company_frozen_notice)
    add_form: int = 0  # the add-product form's key: a new one (empty) after each product listed
    ipo: IpoItem = IpoItem()  # progress toward going public, or the IPO card

    async def _refresh(self, user_id: int, company_id: int):
        try:
            d = await run(companies.company_dashboard, user_id, company_id, scale=self.scale)
        except NotCompanyOwner:
            # Another player's company: its public profile (the directory lists every company anyway).
            self.reset()
            return rx.redirect(f"{routes.COMPANY_PROFILE}?id={company_id}", replace=True)
        except CompanyNotFound:
            self.reset()
            self.loaded, self.error = True, "Company not found."
            return rx.toast.error("Company not found.")
        c = d.company
        went_public = self.loaded and self.company_id == c.id and not self.public and c.is_public
        self.company_id, self.name, self.ticker, self.description = c.id, c.name, c.ticker, c.description
        self.account_id = c.account_id
        self.tags_text, self.public = ", ".join(c.tags), c.is_public
        self.balance, self.balance_cents = format_cents(c.balance), c.balance
        self.revenue, self.costs = format_cents(d.revenue_30d), format_cents(d.costs_30d)
        self.profit, self.profit_cents = format_cents(d.profit_30d), d.profit_30d
        self.margin = percent_text(d.margin_permille)
        self.bars = bar_rows(d.bars, d.scale)
        self.bar_axes = money_axis([max(b.revenue, b.costs) for b in d.bars])
        self.has_sales = d.revenue_30d > 0
        self.items = [product_item(p, company=c.name, ticker=c.ticker) for p in d.products]
        self.market_note = market_note(
            sum(1 for p in d.products if p.active),
            d.listing_limit,
            d.hold_seconds,
            d.typical_price_cents,
            listed=(len(d.products), products.most_ever_listed(d.listing_limit)),
        )
        self.frozen_notice = company_frozen_notice(d.frozen_reason)
        self.ipo = ipo_item(d.ipo)
        self.error, self.loaded = "", True
        if went_public:  # a marketplace run took it public while this page was open
            return rx.toast.success(self._ipo_news())
        return None

    def _ipo_news(self) -> str:
        return (
            f"{self.name} is now public at {self.ipo.ipo_price} a share: {self.ipo.founder_stake} shares are "
            f"yours, {self.ipo.treasury} in its treasury."
        )

    @rx.event
    @logged_in
    async def load(self, user):
        event = await self._refresh(user.id, parse_id(self.router.url.query_parameters.get("id", "")) or 0)
        if event is None:
            self._listen(
                user, topics.company(self.company_id), topics.account(self.account_id), topics.job(schedule.MARKETPLACE)
            )
        return event

    @rx.event
    @logged_in
    async def set_scale(self, user, scale: str | list[str]):
        if isinstance(scale, str) and scale in companies.CHART_SCALES:
            self.scale = scale
        return await self._refresh(user.id, self.company_id)

    @rx.event
    @refresh_on_push
    async def live_refresh(self, user):
        """A marketplace run, a trade or another tab changed the company: fresh figures, and the countdown
        rolls over to the next run."""
        await (await self.get_state(ScheduleState)).refresh()
        return await self._refresh(user.id, self.company_id)

    async def _act(self, fn, success: str, *args, **kwargs):
        """Run an owner action (the service checks ownership), then refresh the figures. Returns the events to
        show and whether it was done (a refused action keeps what the player typed)."""
        user = await self._current_user()
        if user is None:  # as @logged_in does
            return await self._to_login(), False
        try:
            result = await run(fn, *args, actor_id=user.id, **kwargs)
        except EconomyError as e:
            return [rx.toast.error(str(e))], False
        await self._refresh(user.id, self.company_id)
        warning = getattr(result, "price_warning", "")
        return [rx.toast.success(success), *([rx.toast.warning(warning)] if warning else [])], True

    @rx.event
    async def save_company(self, form: dict):
        fields = [form_text(form, k) for k in ("company_id", "name", "description", "tags")]
        if None in fields:
            return rx.toast.error(FORM_ERROR)
        company_id, name, description, tags = fields
        events, _ = await self._act(
            companies.update_company,
            "Company updated.",
            company_id=parse_id(company_id) or 0,
            name=name,
            description=description,
            tags=tags,
        )
        return events

    @rx.event
    async def add_product(self, form: dict):
        fields = [form_text(form, k) for k in ("company_id", "name", "price", "description")]
        if None in fields:
            return rx.toast.error(FORM_ERROR)
        company_id, name, price_text, description = fields
        try:
            price = parse_dollars(price_text)
        except AmountError as e:
            return rx.toast.error(f"Price: {e}")
        events, done = await self._act(
            products.create_product,
            f"{name.strip()} is on sale.",
            company_id=parse_id(company_id) or 0,
            name=name,
            price_cents=price,
            description=description,
        )
        if done:  # a new, empty form; a refused one keeps what was typed
            self.add_form += 1
        return events

    @rx.event
    def open_edit(self, product_id: int):
        item = next((i for i in self.items if i.id == parse_id(product_id)), None)
        if item is not None:
            self.editing, self.edit_name = item.id, item.name
            self.edit_price, self.edit_description = item.price_input, item.description

    @rx.event
    def close_edit(self, _open: bool = False):
        self.editing = 0

    @rx.event
    async def save_product(self, form: dict):
        fields = [form_text(form, k) for k in ("product_id", "name", "price", "description")]
        if None in fields:
            return rx.toast.error(FORM_ERROR)
        product_id, name, price_text, description = fields
        try:
            price = parse_dollars(price_text)
        except AmountError as e:
            return rx.toast.error(f"Price: {e}")
        events, done = await self._act(
            products.update_product,
            "Product updated.",
            product_id=parse_id(product_id) or 0,
            name=name,
            description=description,
            price_cents=price,
        )
        if done:  # a refused edit stays open with what was typed
            self.editing = 0
        return events

    @rx.event
    async def set_active(self, product_id: int, active: bool):
        if not isinstance(active, bool):
            return rx.toast.error("Product not found.")
        events, _ = await self._act(
            products.set_active,
            "Product is on sale again." if active else "Product withdrawn.",
            product_id=parse_id(product_id) or 0,
            active=active,
        )
        return events

    @rx.event
    @logged_in
    async def check_public(self, user):
        try:
            went = await run(companies.go_public, actor_id=user.id, company_id=self.company_id)
        except EconomyError as e:
            return rx.toast.error(str(e))
        await self._refresh(user.id, self.company_id)
        if went:
            return rx.toast.success(self._ipo_news())
        return rx.toast.info(
            f"Still private: a company goes public once its cash is above "
            f"{format_cents(companies.PUBLIC_THRESHOLD_CENTS)}."
        )


def _stat(label: str, value: rx.Component, test_id: str) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.text(label, size="1", color_scheme="gray", weight="medium"),
            rx.heading(value, size="5", id=test_id),
            spacing="1",
        ),
        width="100%",
    )


SCALES = [("runs", "Per run"), ("hours", "Hourly"), ("days", "Daily")]
SCALE_TITLES = {
    "runs": "each of the last 36 marketplace runs",
    "hours": "each of the last 48 hours",
    "days": "each of the last 30 days",
}


def _chart() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.flex(
                rx.text(
                    "Revenue and production costs, ",
                    rx.match(CompanyState.scale, *SCALE_TITLES.items(), ""),
                    " (UTC)",
                    size="3",
                ),
                rx.spacer(),
                rx.segmented_control.root(
                    *[rx.segmented_control.item(label, value=v) for v, label in SCALES],
                    value=CompanyState.scale,
                    on_change=CompanyState.set_scale,
                    size="1",
                    id="company-chart-scale",
                ),
                gap="0.5em",
                wrap="wrap",
                align="center",
                width="100%",
            ),
            rx.cond(
                CompanyState.has_sales,
                rx.recharts.bar_chart(
                    rx.recharts.bar(
                        data_key="revenue", fill="var(--grass-9)", name="Revenue", is_animation_active=False
                    ),
                    rx.recharts.bar(data_key="costs", fill="var(--tomato-9)", name="Costs", is_animation_active=False),
                    rx.recharts.x_axis(data_key="label", tick=TICK, min_tick_gap=8),
                    value_axis(CompanyState.bar_axes),
                    legend_in_order(),
                    tooltip(),
                    rx.recharts.cartesian_grid(stroke_dasharray="3 3", stroke="var(--gray-a5)"),
                    data=CompanyState.bars,
                    width="100%",
                    height=260,
                ),
                rx.text(
                    "No sales in the last 30 days yet. The public buys listed products at every marketplace run.",
                    size="2",
                    color_scheme="gray",
                ),
            ),
            width="100%",
        ),
        width="100%",
        id="company-chart",
    )


def _product_actions(item: ProductItem) -> rx.Component:
    return rx.hstack(
        rx.button("Edit", size="1", variant="soft", on_click=CompanyState.open_edit(item.id)),
        rx.cond(
            item.active,
            rx.button(
                "Withdraw",
                size="1",
                variant="soft",
                color_scheme="gray",
                on_click=CompanyState.set_active(item.id, False),
            ),
            rx.button("Sell again", size="1", variant="soft", on_click=CompanyState.set_active(item.id, True)),
        ),
        spacing="2",
    )


def _product_card(item: ProductItem) -> rx.Component:
    """A product on a narrow screen: name, price and its actions in view; the figures below."""
    return row_card(
        _product_name(item),
        rx.text(item.price, weight="bold", size="3"),
        rx.text(
            item.units_sold,
            " sold · revenue ",
            item.revenue,
            " · costs ",
            item.costs,
            " (",
            item.cost_percent.to_string(),
            "%) · margin ",
            item.margin,
            size="1",
            color_scheme="gray",
        ),
        rx.box(_product_actions(item), margin_top="0.4em"),
        class_name="product-card",
    )


def _product_name(item: ProductItem) -> rx.Component:
    return rx.vstack(
        rx.text(item.name, weight="medium"),
        rx.cond(~item.active, rx.badge("Withdrawn", color_scheme="gray", size="1")),
        rx.cond(
            item.waiting != "",
            rx.badge(item.waiting, color_scheme="amber", size="1", white_space="normal", class_name="product-waiting"),
        ),
        rx.cond(
            item.warning != "",
            rx.badge(
                rx.icon("triangle-alert", size=12),
                item.warning,
                color_scheme="red",
                size="1",
                white_space="normal",
                class_name="product-warning",
            ),
        ),
        spacing="1",
    )


def _product_row(item: ProductItem) -> rx.Component:
    return rx.table.row(
        rx.table.cell(_product_name(item)),
        rx.table.cell(item.price, justify="end"),
        rx.table.cell(item.cost_percent.to_string() + "%", justify="end"),
        rx.table.cell(item.units_sold, justify="end"),
        rx.table.cell(item.revenue, justify="end"),
        rx.table.cell(item.costs, justify="end"),
        rx.table.cell(item.margin, justify="end"),
        rx.table.cell(_product_actions(item)),
        class_name="product-row",
    )


def _products() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Products", size="4"),
            rx.cond(
                CompanyState.items.length() > 0,
                narrow_or_wide(
                    rx.foreach(CompanyState.items, _product_card),
                    rx.table.root(
                        rx.table.header(
                            rx.table.row(
                                *[
                                    rx.table.column_header_cell(h, justify="end" if i else "start")
                                    for i, h in enumerate(
                                        ["Product", "Price", "Cost", "Units sold", "Revenue", "Costs", "Margin"]
                                    )
                                ],
                                rx.table.column_header_cell(""),
                            )
                        ),
                        rx.table.body(rx.foreach(CompanyState.items, _product_row)),
                        size="1",
                        width="100%",
                    ),
                ),
                rx.text("No products yet: the public can only buy what you list.", color_scheme="gray", size="2"),
            ),
            rx.form(
                rx.flex(
                    rx.el.input(type="hidden", name="company_id", value=CompanyState.company_id.to_string()),
                    rx.input(
                        name="name",
                        placeholder="Product name",
                        max_length=80,
                        required=True,
                        id="product-name",
                        aria_label="Product name",
                        flex="2",
                        min_width="10em",
                    ),
                    rx.input(
                        name="price",
                        placeholder="Price, e.g. 19.99",
                        required=True,
                        id="product-price",
                        aria_label="Price",
                        input_mode="decimal",
                        flex="1",
                        min_width="8em",
                    ),
                    rx.input(
                        name="description",
                        placeholder="Description (optional)",
                        max_length=500,
                        flex="3",
                        aria_label="Description",
                        min_width="12em",
                    ),
                    rx.button(rx.icon("plus", size=14), "Add product", type="submit", id="product-add"),
                    gap="0.5em",
                    wrap="wrap",
                    width="100%",
                ),
                on_submit=CompanyState.add_product,
                reset_on_submit=False,
                key=CompanyState.add_form.to_string(),
                width="100%",
            ),
            rx.text(
                f"Each product's production cost is a share of its price ({products.COST_PERCENT_RANGE[0]}-"
                f"{products.COST_PERCENT_RANGE[1]}%), fixed when it is listed.",
                size="1",
                color_scheme="gray",
            ),
            rx.text(CompanyState.market_note, size="1", color_scheme="gray", id="company-market-note"),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def _edit_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Edit product"),
            rx.form(
                rx.vstack(
                    rx.el.input(type="hidden", name="product_id", value=CompanyState.editing.to_string()),
                    field_label("Name", "edit-name"),
                    rx.input(
                        name="name", default_value=CompanyState.edit_name, max_length=80, width="100%", id="edit-name"
                    ),
                    field_label("Price", "edit-price"),
                    rx.input(name="price", default_value=CompanyState.edit_price, width="100%", id="edit-price"),
                    field_label("Description", "edit-description"),
                    rx.input(
                        name="description",
                        default_value=CompanyState.edit_description,
                        max_length=500,
                        width="100%",
                        id="edit-description",
                    ),
                    rx.hstack(
                        rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray", type="button")),
                        rx.button("Save", type="submit", id="edit-save"),
                        justify="end",
                        width="100%",
                    ),
                    spacing="2",
                    width="100%",
                ),
                on_submit=CompanyState.save_product,
            ),
        ),
        open=CompanyState.editing != 0,
        on_open_change=CompanyState.close_edit,
    )


def _settings() -> rx.Component:
    return rx.card(
        rx.form(
            rx.vstack(
                rx.heading("Company details", size="4"),
                rx.el.input(
                    type="hidden",
                    name="company_id",
                    value=CompanyState.company_id.to_string(),
                    id="settings-company-id",
                ),
                field_label("Name", "settings-name"),
                rx.input(
                    name="name",
                    default_value=CompanyState.name,
                    max_length=50,
                    width="100%",
                    key=CompanyState.name,
                    id="settings-name",
                ),
                field_label("Description", "settings-description"),
                rx.text_area(
                    name="description",
                    default_value=CompanyState.description,
                    max_length=500,
                    width="100%",
                    key=CompanyState.description,
                    id="settings-description",
                ),
                field_label("Tags (comma-separated, up to 5)", "settings-tags"),
                rx.input(
                    name="tags",
                    default_value=CompanyState.tags_text,
                    width="100%",
                    key=CompanyState.tags_text,
                    id="settings-tags",
                ),
                rx.button("Save details", type="submit", variant="soft", id="settings-save"),
                spacing="2",
                width="100%",
            ),
            on_submit=CompanyState.save_company,
            width="100%",
        ),
        width="100%",
    )


def _ipo_card() -> rx.Component:
    """Going public happened: the IPO and the company's shares, with the way to its stock page."""
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.heading("IPO", size="4"),
                rx.spacer(),
                rx.link(
                    rx.button(rx.icon("chart-candlestick", size=14), "Stock page", size="1", variant="soft"),
                    href=routes.STOCK + "?id=" + CompanyState.company_id.to_string(),
                    id="ipo-stock",
                ),
                align="center",
                width="100%",
            ),
            ipo_figures(CompanyState.ipo),
            rx.text(
                "You may sell back now: ",
                rx.text(CompanyState.ipo.owner_can_sell, weight="bold", as_="span", id="ipo-owner-can-sell"),
                " of your ",
                CompanyState.ipo.founder_stake,
                " shares.",
                size="2",
            ),
            rx.text(
                "Your stake is valued like every holding, at its part of what buying back every share would cost the "
                "company, and sold back at the same curve, but your shares come last: the company keeps the cash to "
                "buy back every other shareholder's shares before yours. Once public, its cash belongs to the "
                "business and its shareholders: take money out by selling shares you hold; payments to others and "
                f"its purchases of other stock are capped at {shareholders.OUTFLOW_PERCENT}% of its equity (its cash "
                "less what buying back the other shareholders' shares would cost) in any 24 hours.",
                size="1",
                color_scheme="gray",
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
        id="ipo-card",
    )


def company_page() -> rx.Component:
    return player_page(
        rx.cond(
            CompanyState.error != "",
            rx.callout(CompanyState.error, icon="triangle-alert", color_scheme="red", id="company-page-error"),
            rx.cond(
                CompanyState.loaded,
                rx.vstack(
                    rx.flex(
                        rx.badge(CompanyState.ticker, size="3", variant="surface"),
                        rx.cond(
                            CompanyState.public,
                            rx.badge("Public", color_scheme="grass", size="3"),
                            rx.button(
                                "Check public status", size="1", variant="soft", on_click=CompanyState.check_public
                            ),
                        ),
                        rx.spacer(),
                        rx.hstack(
                            rx.icon("timer", size=16),
                            marketplace_clock(
                                rx.text("Next marketplace run ", size="2"),
                                "Marketplace runs paused by an admin",
                                id="company-countdown",
                            ),
                            align="center",
                            spacing="1",
                        ),
                        gap="0.75em",
                        align="center",
                        wrap="wrap",
                        width="100%",
                    ),
                    rx.cond(
                        CompanyState.frozen_notice != "",
                        rx.callout(
                            CompanyState.frozen_notice,
                            icon="snowflake",
                            color_scheme="blue",
                            width="100%",
                            id="company-frozen",
                        ),
                    ),
                    rx.grid(
                        _stat("Cash", money(CompanyState.balance, CompanyState.balance_cents), "company-balance"),
                        _stat("Revenue, 30 days", rx.text(CompanyState.revenue), "company-revenue"),
                        _stat("Costs, 30 days", rx.text(CompanyState.costs), "company-costs"),
                        _stat(
                            "Profit, 30 days", money(CompanyState.profit, CompanyState.profit_cents), "company-profit"
                        ),
                        _stat("Margin", rx.text(CompanyState.margin), "company-margin"),
                        columns=rx.breakpoints(initial="2", sm="3", lg="5"),
                        spacing="3",
                        width="100%",
                    ),
                    rx.cond(CompanyState.public, _ipo_card(), ipo_progress(CompanyState.ipo)),
                    _chart(),
                    _products(),
                    _settings(),
                    _edit_dialog(),
                    spacing="4",
                    width="100%",
                ),
                rx.center(rx.spinner(size="3"), padding="4em"),
            ),
        ),
        title=rx.cond(CompanyState.name != "", CompanyState.name, "Company"),
        actions=rx.cond(
            CompanyState.account_id != 0,
            rx.hstack(
                rx.link(
                    rx.button(rx.icon("id-card", size=16), "Public profile", variant="soft"),
                    href=routes.COMPANY_PROFILE + "?id=" + CompanyState.company_id.to_string(),
                    id="company-profile",
                ),
                rx.link(
                    rx.button(rx.icon("scroll-text", size=16), "Ledger", variant="soft"),
                    href=routes.HISTORY + "?account=" + CompanyState.account_id.to_string(),
                    id="company-ledger",
                ),
                spacing="2",
            ),
        ),
    )
