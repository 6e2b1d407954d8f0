"""The owner's dashboard, issue 16: paying a dividend, and selling the company (its listing, the offers on it).

A mixin of ``CompanyState`` (pages/company.py): its figures come with the dashboard's one service call
(``companies.company_dashboard``: ``dividends`` and ``sale``), and its handlers act through the services, then
refresh the page like the dashboard's own."""

from __future__ import annotations

import reflex as rx

from economy_app import routes
from economy_app.components.forms import field_label
from economy_app.components.offers import reply_row
from economy_app.display import (
    DividendItem,
    ListingItem,
    PayeeItem,
    ThreadItem,
    dividend_item,
    dividend_note,
    dividend_preview,
    listing_item,
    thread_item,
)
from economy_app.event_args import counter_offer_form, form_text, parse_id, text_arg
from economy_app.money import AmountError, format_cents, parse_dollars
from economy_app.services import company_sales, dividends
from economy_app.services.errors import EconomyError
from economy_app.state.auth import logged_in, run

DAYS = ["1", "3", "7", "14", "30"]


class CompanyDeals(rx.State, mixin=True):
    div_public: bool = False
    div_note: str = ""
    div_total: str = ""
    div_preview: str = ""
    div_error: str = ""
    div_payees: list[PayeeItem] = []
    div_past: list[DividendItem] = []
    div_busy: bool = False
    sale_listing: ListingItem = ListingItem()
    sale_threads: list[ThreadItem] = []
    sale_past: list[ListingItem] = []
    sale_days: str = "7"

    def _show_deals(self, d) -> None:
        """From ``companies.CompanyDashboard``: the dividend card and the sale card."""
        view = d.dividends
        self.div_public = bool(view and view.public)
        self.div_note = dividend_note(view) if view else ""
        self.div_past = [dividend_item(r) for r in view.past] if view else []
        sale = d.sale
        self.sale_listing = listing_item(sale.listing) if sale and sale.listing else ListingItem()
        self.sale_threads = [thread_item(t, as_buyer=False) for t in sale.threads] if sale else []
        self.sale_past = [listing_item(r) for r in sale.past] if sale else []

    async def _quote_dividend(self, user) -> None:
        self.div_preview, self.div_payees, self.div_error = "", [], ""
        if not self.div_total.strip():
            return
        try:
            cents = parse_dollars(self.div_total)
            plan = await run(dividends.preview, actor_id=user.id, company_id=self.company_id, total_cents=cents)
        except (AmountError, EconomyError) as e:
            self.div_error = str(e)
            return
        self.div_preview, self.div_payees = dividend_preview(plan)

    @rx.event
    @logged_in
    async def set_dividend_total(self, user, text: str):
        self.div_total = text_arg(text, 32)
        await self._quote_dividend(user)

    @rx.event
    @logged_in
    async def pay_dividend(self, user):
        if self.div_busy:
            return
        try:
            cents = parse_dollars(self.div_total)
        except AmountError as e:
            yield rx.toast.error(str(e))
            return
        self.div_busy = True
        yield
        try:
            plan = await run(dividends.declare, actor_id=user.id, company_id=self.company_id, total_cents=cents)
        except EconomyError as e:
            self.div_busy = False
            await self._quote_dividend(user)
            yield rx.toast.error(str(e))
            return
        self.div_busy, self.div_total, self.div_preview, self.div_payees = False, "", "", []
        await self._refresh(user.id, self.company_id)
        yield rx.toast.success(
            f"Paid a dividend of {format_cents(plan.paid_cents)} to {plan.holders_paid:,} "
            f"holder{'s' if plan.holders_paid != 1 else ''}."
        )

    async def _deal(self, fn, success: str, **kwargs):
        """An owner's step through the dashboard's ``_act`` (the service checks ownership; the figures refresh):
        the events to show."""
        events, _done = await self._act(fn, success, **kwargs)
        return events

    @rx.event
    def set_sale_days(self, value: str):
        if value in DAYS:
            self.sale_days = value

    @rx.event
    async def list_company(self, form: dict):
        price_text, buyer = form_text(form, "price", 32), form_text(form, "buyer", 40)
        if price_text is None or buyer is None:
            return rx.toast.error("Fill in the form.")
        try:
            price = parse_dollars(price_text)
        except AmountError as e:
            return rx.toast.error(f"Price: {e}")
        return await self._deal(
            company_sales.list_company,
            f"{self.name} is for sale.",
            company_id=self.company_id,
            price_cents=price,
            buyer_username=buyer.strip() or None,
            days=int(self.sale_days),
        )

    @rx.event
    async def withdraw_listing(self):
        if not self.sale_listing.id:
            return None
        return await self._deal(
            company_sales.withdraw, f"{self.name} is no longer for sale.", listing_id=self.sale_listing.id
        )

    @rx.event
    async def accept_offer(self, offer_id: int):
        return await self._deal(company_sales.accept, "Sold.", offer_id=parse_id(offer_id) or 0)

    @rx.event
    async def reject_offer(self, offer_id: int):
        return await self._deal(company_sales.reject, "Offer rejected.", offer_id=parse_id(offer_id) or 0)

    @rx.event
    async def counter_offer(self, form: dict):
        try:
            offer_id, price = counter_offer_form(form)
        except AmountError as e:
            return rx.toast.error(str(e))
        return await self._deal(company_sales.counter, "Counter-offer sent.", offer_id=offer_id, price_cents=price)


def dividend_card(S) -> rx.Component:
    """``S``: the page state mixing in ``CompanyDeals``."""
    return rx.card(
        rx.vstack(
            rx.heading("Pay a dividend", size="4"),
            rx.text(S.div_note, size="2", color_scheme="gray", id="dividend-note"),
            rx.vstack(
                field_label("Dividend total", "dividend-total"),
                rx.input(
                    placeholder="e.g. 1,000.00",
                    value=S.div_total,
                    on_change=S.set_dividend_total,
                    debounce_timeout=250,
                    input_mode="decimal",
                    auto_complete="off",
                    width="100%",
                    max_width="20em",
                    id="dividend-total",
                ),
                spacing="1",
                width="100%",
            ),
            rx.cond(S.div_error != "", rx.text(S.div_error, color_scheme="red", size="2", id="dividend-error")),
            rx.cond(
                S.div_preview != "",
                rx.vstack(
                    rx.callout(S.div_preview, icon="info", width="100%", id="dividend-preview"),
                    rx.foreach(
                        S.div_payees,
                        lambda p: rx.hstack(
                            rx.text(p.name, size="2", weight="medium"),
                            rx.text(p.shares, " shares", size="2", color_scheme="gray"),
                            rx.spacer(),
                            rx.text(p.amount, size="2"),
                            width="100%",
                            max_width="28em",
                            class_name="dividend-payee",
                        ),
                    ),
                    spacing="1",
                    width="100%",
                ),
            ),
            rx.button(
                rx.icon("hand-coins", size=14),
                "Pay dividend",
                disabled=S.div_preview == "",
                loading=S.div_busy,
                on_click=S.pay_dividend,
                id="dividend-pay",
            ),
            rx.cond(
                S.div_past.length() > 0,
                rx.vstack(
                    rx.text("Past dividends", size="2", weight="medium"),
                    rx.foreach(
                        S.div_past,
                        lambda r: rx.text(
                            r.at,
                            " UTC: ",
                            r.paid,
                            " to ",
                            r.holders,
                            " holders (",
                            r.per_share,
                            " a share; price ",
                            r.price,
                            ")",
                            size="1",
                            color_scheme="gray",
                            class_name="dividend-past",
                        ),
                    ),
                    spacing="1",
                ),
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
        id="dividend-card",
    )


def _thread(S, t: ThreadItem) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.text(t.buyer, weight="medium"),
            rx.foreach(t.steps, lambda line: rx.text(line, size="1", color_scheme="gray")),
            rx.cond(
                t.open_id != 0,
                reply_row(
                    t.open_id,
                    t.open_price,
                    accept=S.accept_offer,
                    reject=S.reject_offer,
                    counter=S.counter_offer,
                    prefix="offer",
                ),
                rx.cond(
                    t.mine_open_id != 0,
                    rx.text("Waiting for ", t.buyer, "'s answer.", size="1", color_scheme="gray"),
                ),
            ),
            spacing="1",
            width="100%",
        ),
        width="100%",
        class_name="sale-thread",
    )


def sale_card(S) -> rx.Component:
    listing = S.sale_listing
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.heading("Sell this company", size="4"),
                rx.spacer(),
                rx.link("Companies for sale", href=routes.FOR_SALE, size="2"),
                align="center",
                width="100%",
            ),
            rx.cond(
                listing.id != 0,
                rx.vstack(
                    rx.hstack(
                        rx.text(
                            rx.cond(listing.status == "expired", "Was for sale at ", "For sale at "),
                            listing.price,
                            rx.cond(listing.buyer != "", " to " + listing.buyer, " to anyone"),
                            rx.cond(listing.status == "expired", ", until ", ", until "),
                            listing.expires,
                            rx.cond(listing.status == "expired", " (expired)", ""),
                            size="2",
                            id="sale-listing",
                        ),
                        rx.spacer(),
                        rx.cond(
                            listing.status == "open",
                            rx.button(
                                "Withdraw",
                                size="1",
                                variant="soft",
                                color_scheme="gray",
                                on_click=S.withdraw_listing,
                                id="sale-withdraw",
                            ),
                        ),
                        align="center",
                        width="100%",
                        wrap="wrap",
                    ),
                    rx.cond(
                        S.sale_threads.length() > 0,
                        rx.vstack(rx.foreach(S.sale_threads, lambda t: _thread(S, t)), spacing="2", width="100%"),
                        rx.text("No offers yet.", size="2", color_scheme="gray"),
                    ),
                    spacing="2",
                    width="100%",
                ),
            ),
            rx.cond(
                (listing.id == 0) | (listing.status == "expired"),
                rx.form(
                    rx.flex(
                        rx.vstack(
                            field_label("Asking price", "sale-price"),
                            rx.input(name="price", placeholder="e.g. 25,000.00", input_mode="decimal", id="sale-price"),
                            spacing="1",
                        ),
                        rx.vstack(
                            field_label("Only to (a player's username; empty: anyone)", "sale-buyer"),
                            rx.input(name="buyer", placeholder="anyone", max_length=40, id="sale-buyer"),
                            spacing="1",
                        ),
                        rx.vstack(
                            field_label("Days", "sale-days"),
                            rx.select.root(
                                rx.select.trigger(id="sale-days"),
                                rx.select.content(*[rx.select.item(d, value=d) for d in DAYS]),
                                value=S.sale_days,
                                on_change=S.set_sale_days,
                            ),
                            spacing="1",
                        ),
                        rx.button(rx.icon("tag", size=14), "List for sale", type="submit", id="sale-list"),
                        gap="0.75em",
                        align="end",
                        wrap="wrap",
                    ),
                    on_submit=S.list_company,
                    reset_on_submit=True,
                    width="100%",
                ),
            ),
            rx.text(
                "The buyer pays you from their personal account or a company of theirs, and gets the company with its "
                "account, its cash and its products. A public company's cash stays with the business and its "
                "shareholders; your shares in it go with it (the owner's shares come last). Shares the buyer holds in "
                "it are sold back to its treasury at the current bid when the sale completes.",
                size="1",
                color_scheme="gray",
            ),
            rx.cond(
                S.sale_past.length() > 0,
                rx.vstack(
                    rx.text("Earlier listings", size="2", weight="medium"),
                    rx.foreach(
                        S.sale_past,
                        lambda r: rx.text(r.price, " by ", r.seller, ": ", r.status, size="1", color_scheme="gray"),
                    ),
                    spacing="1",
                ),
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
        id="sale-card",
    )
