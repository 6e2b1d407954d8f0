"""Companies for sale (issue 16): search and sort the listings, buy at the asking price or make an offer, and
follow one's offers (answer a counter-offer, withdraw an offer)."""

from __future__ import annotations

import reflex as rx

from economy_app import routes
from economy_app.components.forms import field_label
from economy_app.components.layout import player_page
from economy_app.components.offers import reply_row
from economy_app.components.tables import narrow_or_wide, row_card
from economy_app.display import ListingItem, ThreadItem, listing_item, thread_item, trade_account_options
from economy_app.event_args import counter_offer_form, form_text, parse_id, text_arg
from economy_app.money import AmountError, format_cents, parse_dollars
from economy_app.services import company_sales
from economy_app.services import live as topics
from economy_app.services.errors import EconomyError
from economy_app.state.auth import AuthState, logged_in, private, run
from economy_app.state.paging import PagedList, pager

PAGE_SIZE = 20
SORT_LABELS = {
    "newest": "Newest",
    "price": "Price, lowest first",
    "price_desc": "Price, highest first",
    "cash": "Cash",
    "revenue": "Revenue, 30 days",
    "market_cap": "Market cap",
}


@private
class ForSaleState(PagedList, AuthState):
    page_size = PAGE_SIZE
    sorts = company_sales.SORTS
    loaded: bool = False
    query: str = ""
    sort: str = "newest"
    items: list[ListingItem] = []
    threads: list[ThreadItem] = []
    pay_accounts: list[dict[str, str]] = []
    pay_account_id: str = ""
    deal: ListingItem = ListingItem()  # the listing whose buy/offer dialog is open (id 0: none)
    busy: bool = False

    @logged_in
    async def _fetch(self, user):
        page = await run(
            company_sales.market_page, user.id, query=self.query, sort=self.sort, page=self.page, page_size=PAGE_SIZE
        )
        self.items, self.total = [listing_item(r) for r in page.rows], page.total
        self.threads = [thread_item(t, as_buyer=True) for t in page.threads]
        self.pay_accounts = trade_account_options(page.accounts)
        if self.pay_account_id not in {a["value"] for a in self.pay_accounts} and self.pay_accounts:
            self.pay_account_id = self.pay_accounts[0]["value"]
        if self.deal.id and not any(i.id == self.deal.id for i in self.items):
            self.deal = ListingItem()  # sold, withdrawn or expired meanwhile
        self.loaded = True
        self._listen(user, topics.SALES)
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

    @rx.event
    def open_deal(self, listing_id: int):
        self.deal = next((i for i in self.items if i.id == parse_id(listing_id)), ListingItem())

    @rx.event
    def close_deal(self, _open: bool = False):
        self.deal = ListingItem()

    @rx.event
    def set_pay_account(self, value: str):
        if isinstance(value, str) and value in {a["value"] for a in self.pay_accounts}:
            self.pay_account_id = value

    @logged_in
    async def _do(self, user, fn, success: str, **kwargs):
        """Run a buyer's step (the service checks everything), then show the page afresh."""
        if self.busy:
            return None
        self.busy = True
        try:
            await run(fn, actor_id=user.id, **kwargs)
        except EconomyError as e:
            return rx.toast.error(str(e))
        finally:
            self.busy = False
            await self._fetch()
        self.deal = ListingItem()
        return rx.toast.success(success)

    @rx.event
    async def buy(self):
        deal = self.deal
        if not deal.id:
            return None
        return await self._do(
            company_sales.buy_now,
            f"You bought {deal.name} for {deal.price}.",
            listing_id=deal.id,
            pay_account_id=parse_id(self.pay_account_id),
            expect_cash_cents=deal.cash_cents,  # what this page showed: refused if its cash fell since
        )

    @rx.event
    async def offer(self, form: dict):
        price_text = form_text(form, "price", 32)
        if price_text is None or not self.deal.id:
            return rx.toast.error("Fill in the form.")
        try:
            price = parse_dollars(price_text)
        except AmountError as e:
            return rx.toast.error(f"Offer: {e}")
        return await self._do(
            company_sales.make_offer,
            f"Offer of {format_cents(price)} sent to {self.deal.seller}.",
            listing_id=self.deal.id,
            price_cents=price,
            pay_account_id=parse_id(self.pay_account_id),
        )

    @rx.event
    async def accept_counter(self, offer_id: int):
        thread = next((t for t in self.threads if t.open_id and t.open_id == parse_id(offer_id)), None)
        if thread is None:
            return rx.toast.error("That offer was not found.")
        return await self._do(
            company_sales.accept,
            f"You bought {thread.name} for {thread.open_price}.",
            offer_id=thread.open_id,
            expect_cash_cents=thread.cash_cents,
        )

    @rx.event
    async def reject_counter(self, offer_id: int):
        return await self._do(company_sales.reject, "Counter-offer rejected.", offer_id=parse_id(offer_id) or 0)

    @rx.event
    async def counter(self, form: dict):
        try:
            offer_id, price = counter_offer_form(form)
        except AmountError as e:
            return rx.toast.error(str(e))
        return await self._do(
            company_sales.counter, f"Counter-offer of {format_cents(price)} sent.", offer_id=offer_id, price_cents=price
        )

    @rx.event
    async def withdraw_offer(self, offer_id: int):
        return await self._do(company_sales.withdraw_offer, "Offer withdrawn.", offer_id=parse_id(offer_id) or 0)

    @rx.event
    async def offer_again(self, listing_id: int):
        """From "Your offers": open the listing's dialog for a new offer."""
        self.deal = next((i for i in self.items if i.id == parse_id(listing_id)), ListingItem())
        if not self.deal.id:
            return rx.toast.error("That company is no longer for sale.")
        return None


def _listing_row(item: ListingItem) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.vstack(
                rx.link(
                    item.name,
                    href=routes.COMPANY_PROFILE + "?id=" + item.company_id.to_string(),
                    weight="medium",
                    class_name="sale-company",
                ),
                rx.hstack(
                    rx.badge(item.ticker, variant="surface", size="1"),
                    rx.cond(item.public, rx.badge("Public", color_scheme="grass", size="1")),
                    rx.cond(item.buyer != "", rx.badge("Offered to you", color_scheme="iris", size="1")),
                    spacing="1",
                ),
                spacing="1",
            )
        ),
        rx.table.cell(item.seller),
        rx.table.cell(item.price, weight="bold"),
        rx.table.cell(item.cash),
        rx.table.cell(item.revenue),
        rx.table.cell(rx.cond(item.market_cap != "", item.market_cap, "private")),
        rx.table.cell(item.expires),
        rx.table.cell(_action(item)),
        class_name="sale-row",
    )


def _action(item: ListingItem) -> rx.Component:
    return rx.cond(
        item.mine,
        rx.link("Your listing", href=routes.COMPANY + "?id=" + item.company_id.to_string(), size="2"),
        rx.button("Buy or offer", size="1", on_click=ForSaleState.open_deal(item.id), class_name="sale-deal"),
    )


def _listing_card(item: ListingItem) -> rx.Component:
    """A listing on a narrow screen: the company and its price first, the figures below, the action."""
    return row_card(
        rx.link(item.name, href=routes.COMPANY_PROFILE + "?id=" + item.company_id.to_string(), weight="medium"),
        rx.text(item.price, weight="bold"),
        rx.text(
            item.ticker,
            " · from ",
            item.seller,
            " · cash ",
            item.cash,
            " · revenue ",
            item.revenue,
            rx.cond(item.market_cap != "", " · market cap " + item.market_cap, " · private"),
            size="1",
            color_scheme="gray",
        ),
        rx.hstack(rx.text("until ", item.expires, size="1", color_scheme="gray"), rx.spacer(), _action(item)),
        class_name="sale-card",
    )


def _deal_dialog() -> rx.Component:
    d = ForSaleState.deal
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Buy ", d.name),
            rx.vstack(
                rx.text(
                    d.seller,
                    " asks ",
                    d.price,
                    ". Its cash now: ",
                    d.cash,
                    rx.cond(d.public, " (public)", ""),
                    ".",
                    size="2",
                    id="deal-terms",
                ),
                field_label("Pay from", "deal-account"),
                rx.select.root(
                    rx.select.trigger(width="100%", id="deal-account"),
                    rx.select.content(
                        rx.foreach(ForSaleState.pay_accounts, lambda a: rx.select.item(a["label"], value=a["value"]))
                    ),
                    value=ForSaleState.pay_account_id,
                    on_change=ForSaleState.set_pay_account,
                ),
                rx.button(
                    "Buy for " + d.price,
                    width="100%",
                    color_scheme="jade",
                    loading=ForSaleState.busy,
                    on_click=ForSaleState.buy,
                    id="deal-buy",
                ),
                rx.form(
                    rx.vstack(
                        field_label("Or offer", "deal-offer"),
                        rx.hstack(
                            rx.input(name="price", placeholder="e.g. 20,000.00", input_mode="decimal", id="deal-offer"),
                            rx.button("Make offer", type="submit", variant="soft", id="deal-make-offer"),
                            spacing="2",
                        ),
                        spacing="1",
                    ),
                    on_submit=ForSaleState.offer,
                    reset_on_submit=True,
                    width="100%",
                ),
                rx.text(
                    "The company comes with its account, its cash and its products. Shares of it you hold (in any of "
                    "your accounts) are sold back to its treasury at the current bid when the sale completes.",
                    size="1",
                    color_scheme="gray",
                ),
                rx.dialog.close(rx.button("Close", variant="soft", color_scheme="gray", width="100%")),
                spacing="3",
                width="100%",
            ),
        ),
        open=d.id != 0,
        on_open_change=ForSaleState.close_deal,
    )


def _thread(t: ThreadItem) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.link(t.name, href=routes.COMPANY_PROFILE + "?id=" + t.company_id.to_string(), weight="medium"),
                rx.badge(t.status, size="1", variant="soft"),
                rx.text(
                    "from ", t.seller, ", asking ", t.asking, "; its cash now ", t.cash, size="1", color_scheme="gray"
                ),
                align="center",
                spacing="2",
                wrap="wrap",
            ),
            rx.foreach(t.steps, lambda line: rx.text(line, size="1", color_scheme="gray", class_name="offer-step")),
            rx.cond(
                t.open_id != 0,
                reply_row(
                    t.open_id,
                    t.open_price,
                    accept=ForSaleState.accept_counter,
                    reject=ForSaleState.reject_counter,
                    counter=ForSaleState.counter,
                    prefix="counter",
                ),
            ),
            rx.cond(
                t.mine_open_id != 0,
                rx.hstack(
                    rx.text("Waiting for ", t.seller, "'s answer.", size="1", color_scheme="gray"),
                    rx.button(
                        "Withdraw",
                        size="1",
                        variant="ghost",
                        on_click=ForSaleState.withdraw_offer(t.mine_open_id),
                        class_name="offer-withdraw",
                    ),
                    align="center",
                ),
            ),
            rx.cond(
                t.can_offer,
                rx.button(
                    "Make another offer", size="1", variant="soft", on_click=ForSaleState.offer_again(t.listing_id)
                ),
            ),
            spacing="1",
            width="100%",
        ),
        width="100%",
        class_name="buyer-thread",
    )


def for_sale_page() -> rx.Component:
    head = ["Company", "Seller", "Price", "Cash", "Revenue, 30 days", "Market cap", "Until (UTC)", ""]
    return player_page(
        rx.cond(
            ForSaleState.loaded,
            rx.vstack(
                rx.flex(
                    rx.input(
                        placeholder="Search by name or ticker",
                        aria_label="Search companies for sale",
                        value=ForSaleState.query,
                        on_change=ForSaleState.search,
                        debounce_timeout=250,
                        width="16em",
                    ),
                    rx.select.root(
                        rx.select.trigger(aria_label="Sort companies for sale"),
                        rx.select.content(*[rx.select.item(label, value=k) for k, label in SORT_LABELS.items()]),
                        value=ForSaleState.sort,
                        on_change=ForSaleState.set_sort,
                    ),
                    rx.text(ForSaleState.total, " for sale", size="2", color_scheme="gray"),
                    gap="0.75em",
                    align="center",
                    wrap="wrap",
                ),
                rx.cond(
                    ForSaleState.items.length() > 0,
                    narrow_or_wide(
                        rx.vstack(rx.foreach(ForSaleState.items, _listing_card), spacing="0", width="100%"),
                        rx.table.root(
                            rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in head])),
                            rx.table.body(rx.foreach(ForSaleState.items, _listing_row)),
                            width="100%",
                            variant="surface",
                        ),
                    ),
                    rx.callout(
                        "No company is for sale right now. An owner lists theirs from its dashboard.",
                        icon="info",
                        width="100%",
                    ),
                ),
                pager(ForSaleState),
                rx.heading("Your offers", size="4"),
                rx.cond(
                    ForSaleState.threads.length() > 0,
                    rx.vstack(rx.foreach(ForSaleState.threads, _thread), spacing="2", width="100%"),
                    rx.text("You have made no offer yet.", size="2", color_scheme="gray"),
                ),
                _deal_dialog(),
                spacing="4",
                width="100%",
            ),
            rx.center(rx.spinner(size="3"), padding="4em"),
        ),
        title="Companies for sale",
    )
