"""One stock's page, issue 16: giving shares to another player or to a company, and the company's dividends.

A mixin of ``StockState`` (pages/stocks.py): its figures come with the page's one service call
(``stock_views.stock_page``: ``held``, ``dividends``)."""

from __future__ import annotations

import reflex as rx

from economy_app.components.forms import field_label
from economy_app.display import DividendItem, dividend_item
from economy_app.event_args import parse_id, text_arg
from economy_app.money import format_cents, format_price, parse_whole
from economy_app.services import accounts, share_transfers
from economy_app.services.errors import EconomyError
from economy_app.state.auth import logged_in, run


class StockGifts(rx.State, mixin=True):
    gift_accounts: list[dict[str, str]] = []  # value (account id), label (name and shares held)
    gift_from: str = ""
    gift_shares: str = ""
    gift_query: str = ""
    gift_results: list[dict[str, str]] = []
    gift_to_id: int = 0
    gift_to_name: str = ""
    gift_busy: bool = False
    gift_price_micros: int = 0
    dividends: list[DividendItem] = []

    def _show_gifts(self, page) -> None:
        """From ``stock_views.StockPage``: the accounts that hold this stock, its dividends."""
        self.gift_accounts = [
            {"value": str(p.account_id), "label": f"{p.account_name} · {p.shares:,} shares", "shares": str(p.shares)}
            for p in page.held
        ]
        if self.gift_from not in {a["value"] for a in self.gift_accounts}:
            self.gift_from = self.gift_accounts[0]["value"] if self.gift_accounts else ""
        self.gift_price_micros = page.detail.price_micros
        self.dividends = [dividend_item(r) for r in page.dividends]

    @rx.var
    def gift_preview(self) -> str:
        held = next((int(a["shares"]) for a in self.gift_accounts if a["value"] == self.gift_from), 0)
        shares = parse_whole(self.gift_shares, maximum=10**12)
        if not self.gift_to_name or shares is None:
            return ""
        if shares > held:
            return f"You hold only {held:,} shares in that account."
        worth = format_cents(shares * self.gift_price_micros // 10_000)
        return (
            f"You give {shares:,} shares (worth {worth} at {format_price(self.gift_price_micros)}) to "
            f"{self.gift_to_name}. No money moves."
        )

    @rx.event
    def set_gift_from(self, value: str):
        if isinstance(value, str) and value in {a["value"] for a in self.gift_accounts}:
            self.gift_from = value

    @rx.event
    def set_gift_shares(self, text: str):
        self.gift_shares = text_arg(text, 12)

    @rx.event
    @logged_in
    async def search_gift_to(self, user, text: str):
        self.gift_query = text_arg(text, 40)
        if not self.gift_query.strip():
            self.gift_results = []
            return
        found = await run(accounts.search_recipients, self.gift_query)
        self.gift_results = [
            {
                "id": str(r.account_id),
                "name": r.name,
                "detail": (f"@{r.owner_username}" if r.kind == "personal" else f"{r.ticker} · company"),
            }
            for r in found
            if str(r.account_id) != self.gift_from
        ]

    @rx.event
    def pick_gift_to(self, account_id: str):
        chosen = next((r for r in self.gift_results if parse_id(r["id"]) == parse_id(account_id)), None)
        if chosen is not None:
            self.gift_to_id, self.gift_to_name = int(chosen["id"]), chosen["name"]
            self.gift_results, self.gift_query = [], ""

    @rx.event
    def clear_gift_to(self):
        self.gift_to_id, self.gift_to_name = 0, ""

    @rx.event
    @logged_in
    async def give(self, user):
        if self.gift_busy:
            return
        shares = parse_whole(self.gift_shares, maximum=10**12)
        if shares is None or not self.gift_to_id:
            yield rx.toast.error("Choose who receives the shares, and how many.")
            return
        self.gift_busy = True
        yield
        try:
            r = await run(
                share_transfers.give,
                actor_id=user.id,
                from_account_id=parse_id(self.gift_from) or 0,
                to_account_id=self.gift_to_id,
                company_id=self.company_id,
                shares=shares,
            )
        except EconomyError as e:
            self.gift_busy = False
            yield rx.toast.error(str(e))
            return
        self.gift_busy, self.gift_shares, self.gift_to_id, self.gift_to_name = False, "", 0, ""
        await self._refresh(user)
        yield rx.toast.success(f"Gave {r.shares:,} {r.ticker} to {r.receiver}. You hold {r.giver_holding:,} there.")


def gift_box(S) -> rx.Component:
    """``S``: the page state mixing in ``StockGifts``. Shown to a player who holds this stock."""
    return rx.card(
        rx.vstack(
            rx.heading("Give shares", size="4"),
            rx.text("To another player or a company, for nothing: no money moves.", size="1", color_scheme="gray"),
            field_label("Give from", "gift-from"),
            rx.select.root(
                rx.select.trigger(width="100%", id="gift-from"),
                rx.select.content(rx.foreach(S.gift_accounts, lambda a: rx.select.item(a["label"], value=a["value"]))),
                value=S.gift_from,
                on_change=S.set_gift_from,
            ),
            field_label("Shares to give", "gift-shares"),
            rx.input(
                value=S.gift_shares,
                on_change=S.set_gift_shares,
                debounce_timeout=200,
                input_mode="numeric",
                width="100%",
                id="gift-shares",
            ),
            field_label("Give to", "gift-search"),
            rx.cond(
                S.gift_to_id != 0,
                rx.hstack(
                    rx.badge(S.gift_to_name, size="2", variant="soft", id="gift-recipient"),
                    rx.button("Change", variant="ghost", size="1", on_click=S.clear_gift_to),
                    align="center",
                ),
                rx.vstack(
                    rx.input(
                        placeholder="A player, a company or a ticker",
                        value=S.gift_query,
                        on_change=S.search_gift_to,
                        debounce_timeout=250,
                        width="100%",
                        auto_complete="off",
                        id="gift-search",
                    ),
                    rx.foreach(
                        S.gift_results,
                        lambda r: rx.button(
                            rx.text(r["name"], weight="medium"),
                            rx.text(r["detail"], color_scheme="gray", size="1"),
                            variant="ghost",
                            justify="start",
                            width="100%",
                            on_click=S.pick_gift_to(r["id"]),
                            class_name="gift-result",
                        ),
                    ),
                    spacing="1",
                    width="100%",
                ),
            ),
            rx.cond(S.gift_preview != "", rx.text(S.gift_preview, size="2", id="gift-preview")),
            rx.button(
                rx.icon("gift", size=14),
                "Give shares",
                width="100%",
                disabled=S.gift_preview == "",
                loading=S.gift_busy,
                on_click=S.give,
                id="gift-confirm",
            ),
            spacing="2",
            width="100%",
        ),
        width="100%",
        id="gift-box",
    )


def dividends_table(S) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Dividends", size="3"),
            rx.cond(
                S.dividends.length() > 0,
                rx.box(
                    rx.table.root(
                        rx.table.header(
                            rx.table.row(
                                *[
                                    rx.table.column_header_cell(h)
                                    for h in ("Paid (UTC)", "A share", "In all", "Holders", "Price")
                                ]
                            )
                        ),
                        rx.table.body(
                            rx.foreach(
                                S.dividends,
                                lambda r: rx.table.row(
                                    rx.table.cell(r.at),
                                    rx.table.cell(r.per_share),
                                    rx.table.cell(r.paid),
                                    rx.table.cell(r.holders),
                                    rx.table.cell(r.price),
                                    class_name="dividend-row",
                                ),
                            )
                        ),
                        size="1",
                        width="100%",
                    ),
                    overflow_x="auto",
                    width="100%",
                ),
                rx.text("No dividend paid yet.", size="2", color_scheme="gray"),
            ),
            width="100%",
        ),
        width="100%",
        id="stock-dividends",
    )
