"""My companies (cards) with the founding form, and the directory of every company."""

from __future__ import annotations

import reflex as rx

from economy_app import routes
from economy_app.components.forms import field_label
from economy_app.components.layout import player_page
from economy_app.components.money import money
from economy_app.display import CompanyItem, company_item
from economy_app.event_args import form_text, text_arg
from economy_app.pages.stocks import halted_badge
from economy_app.services import companies
from economy_app.services import live as topics
from economy_app.services.errors import EconomyError
from economy_app.state.auth import AuthState, logged_in, private, refresh_on_push, run
from economy_app.state.paging import PagedList, pager

DIRECTORY_PAGE = 20


@private
class CompaniesState(AuthState):
    loaded: bool = False
    items: list[CompanyItem] = []
    error: str = ""
    creating: bool = False

    @rx.event
    @logged_in
    async def load(self, user):
        await self._show(user)

    @rx.event
    @refresh_on_push
    async def live_refresh(self, user):
        await self._show(user)

    async def _show(self, user):
        views = await run(companies.my_companies, user.id)
        self.items = [company_item(v) for v in views]
        self.loaded = True
        self._listen(user, *(topics.account(v.account_id) for v in views))

    @rx.event
    @logged_in
    async def create(self, user, form: dict):
        if self.creating:
            return
        fields = [form_text(form, k) for k in ("name", "ticker", "description", "tags")]
        if None in fields:
            self.error = "Fill in the form: a name and a ticker."
            yield rx.toast.error(self.error)
            return
        name, ticker, description, tags = fields
        self.creating = True
        yield
        try:
            view = await run(
                companies.create_company, owner_id=user.id, name=name, ticker=ticker, description=description, tags=tags
            )
        except EconomyError as e:
            self.error, self.creating = str(e), False
            yield rx.toast.error(str(e))
            return
        self.error, self.creating = "", False
        yield [
            rx.toast.success(f"{view.name} ({view.ticker}) is open for business."),
            rx.redirect(f"{routes.COMPANY}?id={view.id}"),
        ]


@private
class DirectoryState(PagedList, AuthState):
    page_size = DIRECTORY_PAGE
    sorts = companies.DIRECTORY_SORTS
    loaded: bool = False
    query: str = ""
    sort: str = "name"
    items: list[CompanyItem] = []

    @logged_in
    async def _fetch(self, user):
        rows, self.total = await run(
            companies.directory, query=self.query, sort=self.sort, page=self.page, page_size=DIRECTORY_PAGE
        )
        self.items = [company_item(v) for v in rows]
        self.loaded = True
        self._listen(user, topics.ECONOMY)
        return None

    @rx.event
    async def load(self):
        return await self._fetch()

    @rx.event
    async def live_refresh(self):
        if self._left_page():  # a push answered after the tab moved to another page
            return None
        return await self._fetch()

    @rx.event
    async def search(self, text: str):
        self.query, self.page = text_arg(text, 50), 1
        return await self._fetch()


def company_card(item: CompanyItem, *, owner_view: bool) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.vstack(
                    rx.link(
                        rx.text(item.name, weight="bold", size="4"),
                        href=f"{routes.COMPANY_PROFILE}?id={item.id}",
                        class_name="company-profile-link",
                    ),
                    rx.text(item.ticker, " · by @", item.owner, size="1", color_scheme="gray"),
                    spacing="0",
                ),
                rx.spacer(),
                rx.vstack(
                    rx.cond(
                        item.public,
                        rx.badge("Public", color_scheme="grass"),
                        rx.badge("Private", variant="soft", color_scheme="gray"),
                    ),
                    halted_badge(item.halted),
                    spacing="1",
                    align="end",
                ),
                align="start",
                width="100%",
            ),
            rx.heading(money(item.balance, item.cents), size="5"),
            rx.hstack(
                rx.text(
                    item.products, rx.cond(item.products == 1, " product", " products"), size="1", color_scheme="gray"
                ),
                rx.text("·", size="1", color_scheme="gray"),
                rx.text("Revenue 30 days ", item.revenue_30d, size="1", color_scheme="gray"),
                spacing="1",
                wrap="wrap",
            ),
            rx.hstack(
                rx.link(rx.button("Dashboard", size="1"), href=f"{routes.COMPANY}?id={item.id}")
                if owner_view
                else rx.fragment(),
                rx.link(
                    rx.button("Products", size="1", variant="soft"), href=f"{routes.MARKETPLACE}?company={item.id}"
                ),
                spacing="2",
            ),
            spacing="2",
            width="100%",
        ),
        width="100%",
        class_name="company-card",
    )


def _field(label: str, name: str, hint: str = "", **props) -> rx.Component:
    return rx.vstack(
        field_label(label, f"company-{name}"),
        rx.input(name=name, id=f"company-{name}", width="100%", **props),
        rx.text(hint, size="1", color_scheme="gray") if hint else rx.fragment(),
        spacing="1",
        width="100%",
    )


def _create_form() -> rx.Component:
    return rx.card(
        rx.form(
            rx.vstack(
                rx.heading("Found a company", size="4"),
                rx.cond(
                    CompaniesState.error != "",
                    rx.callout(
                        CompaniesState.error,
                        icon="triangle-alert",
                        color_scheme="red",
                        width="100%",
                        id="company-error",
                    ),
                ),
                rx.grid(
                    _field("Name", "name", max_length=50, required=True, placeholder="Acme Rockets"),
                    _field(
                        "Ticker",
                        "ticker",
                        "1-5 letters, unique",
                        max_length=5,
                        required=True,
                        placeholder="ACME",
                        text_transform="uppercase",
                    ),
                    columns=rx.breakpoints(initial="1", sm="2"),
                    spacing="3",
                    width="100%",
                ),
                _field("Description", "description", max_length=500, placeholder="What does it make?"),
                _field("Tags", "tags", "Up to 5, separated by commas", placeholder="space, rockets"),
                rx.button("Found company", type="submit", loading=CompaniesState.creating, id="company-create"),
                spacing="3",
                width="100%",
            ),
            on_submit=CompaniesState.create,
            reset_on_submit=False,
            width="100%",
        ),
        width="100%",
        max_width="40em",
    )


def companies_page() -> rx.Component:
    return player_page(
        rx.cond(
            CompaniesState.loaded,
            rx.vstack(
                rx.cond(
                    CompaniesState.items.length() > 0,
                    rx.grid(
                        rx.foreach(CompaniesState.items, lambda i: company_card(i, owner_view=True)),
                        columns=rx.breakpoints(initial="1", sm="2", lg="3"),
                        spacing="4",
                        width="100%",
                    ),
                    rx.callout(
                        "You have no company yet. Found one: the public buys its products every few minutes.",
                        icon="info",
                        width="100%",
                    ),
                ),
                _create_form(),
                spacing="5",
                width="100%",
            ),
            rx.center(rx.spinner(size="3"), padding="4em"),
        ),
        title="My companies",
        actions=rx.link(rx.button(rx.icon("list", size=16), "Directory", variant="soft"), href=routes.DIRECTORY),
    )


def directory_page() -> rx.Component:
    return player_page(
        rx.vstack(
            rx.flex(
                rx.input(
                    placeholder="Search by name or ticker",
                    aria_label="Search companies",
                    value=DirectoryState.query,
                    on_change=DirectoryState.search,
                    debounce_timeout=250,
                    id="directory-search",
                    min_width="16em",
                ),
                rx.select.root(
                    rx.select.trigger(id="directory-sort", aria_label="Sort companies"),
                    rx.select.content(
                        rx.select.item("Name", value="name"),
                        rx.select.item("Ticker", value="ticker"),
                        rx.select.item("Cash", value="balance"),
                        rx.select.item("Newest", value="newest"),
                    ),
                    value=DirectoryState.sort,
                    on_change=DirectoryState.set_sort,
                ),
                rx.text(
                    DirectoryState.total,
                    rx.cond(DirectoryState.total == 1, " company", " companies"),
                    size="2",
                    color_scheme="gray",
                ),
                gap="0.75em",
                wrap="wrap",
                align="center",
            ),
            rx.grid(
                rx.foreach(DirectoryState.items, lambda i: company_card(i, owner_view=False)),
                columns=rx.breakpoints(initial="1", sm="2", lg="3"),
                spacing="4",
                width="100%",
            ),
            pager(DirectoryState),
            spacing="4",
            width="100%",
        ),
        title="Company directory",
    )
