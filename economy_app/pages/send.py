"""Send money: pick one of your accounts, find a recipient, type an amount, preview, confirm.

Each form submission carries its own idempotency key (embedded in the click
event), so a double click or a replayed event sends once.
"""

from __future__ import annotations

import functools
import logging
import uuid

import reflex as rx

from economy_app import config
from economy_app.components.forms import field_label
from economy_app.components.layout import player_page
from economy_app.display import AccountItem, account_item, send_preview
from economy_app.event_args import check_amount_text, parse_id, text_arg
from economy_app.money import format_cents
from economy_app.services import accounts
from economy_app.services import live as topics
from economy_app.services.errors import InsufficientFunds, InvalidAmount
from economy_app.state.auth import AuthState, logged_in, private, refresh_on_push

log = logging.getLogger(__name__)
DESCRIPTION_MAX = accounts.MAX_TRANSFER_DESCRIPTION
# A click whose transfer failed for a reason no service foresaw (a bug, a database gone): the form stays as it was,
# with the key that makes a second click send at most once.
UNFINISHED = "Something went wrong and the transfer may not have been made. Confirm again: this form never sends twice."


def player_accounts(s, user) -> list[accounts.AccountView]:
    """The player's accounts, made with the session check (``logged_in(loads=...)``)."""
    return accounts.list_accounts(s, user.id)


def recipients(s, user, *, query: str) -> list[accounts.Recipient]:
    """A search's results, read after the session check in the same trip (``_check_session(snapshot=False)``)."""
    return accounts.search_recipients(s, query)


def send_from(s, user, *, key: str, **transfer) -> accounts.Sent:
    """The click's transfer as the checked user, then the accounts (``_as_user``: one trip for the check, the
    transfer and the balances)."""
    return accounts.send(s, user.id, idempotency_key=f"send:{user.id}:{key}", **transfer)


@private
class SendState(AuthState):
    loaded: bool = False
    sources: list[AccountItem] = []
    source_id: str = ""
    query: str = ""
    results: list[dict[str, str]] = []
    recipient_id: int = 0
    recipient_name: str = ""
    # The one search result whose username, company name or ticker is exactly what was typed (0: none or
    # several): it is the recipient unless the player picks another.
    exact_id: int = 0
    exact_name: str = ""
    exact_several: bool = False
    amount_text: str = ""
    amount_error: str = ""
    description: str = ""
    form_key: str = ""
    last_sent_key: str = ""
    sending: bool = False

    def _source(self) -> AccountItem | None:
        return next((a for a in self.sources if str(a.id) == self.source_id), None)

    def _check(self) -> tuple[int | None, str]:
        source = self._source()
        return check_amount_text(
            self.amount_text, balance=source.cents if source else None, maximum=config.max_transfer_cents()
        )

    def _recipient(self) -> tuple[int, str]:
        """Who receives: the result the player picked, else the one exact match of what they typed."""
        if self.recipient_id:
            return self.recipient_id, self.recipient_name
        return self.exact_id, self.exact_name

    @rx.var
    def preview(self) -> str:
        source = self._source()
        cents, error = self._check()
        _, name = self._recipient()
        if source is None or not name or cents is None:
            return ""
        return send_preview(cents, source.name, source.cents, name)

    @rx.var
    def can_send(self) -> bool:
        return bool(self.preview) and not self.sending

    @rx.var
    def missing(self) -> str:
        """Why "Confirm and send" is disabled, in words ('' when it is not)."""
        if self.preview or self.sending:
            return ""
        needs = []
        if not self._recipient()[0]:
            if self.exact_several:
                needs.append("several match what you typed: click the one you mean in the list")
            elif self.query.strip() and self.results:
                needs.append("click who receives the money in the list")
            else:
                needs.append("search who receives the money")
        if not self.amount_text.strip():
            needs.append("enter an amount")
        elif self._check()[0] is None:
            needs.append("correct the amount")
        return ("To send, " + " and ".join(needs) + ".") if needs else ""

    def _load_sources(self, user, views: list[accounts.AccountView]) -> None:
        self._assign(sources=[account_item(v) for v in views if v.kind in accounts.SPENDING_KINDS])
        if self._source() is None and self.sources:
            self.source_id = str(self.sources[0].id)
        self._listen(user, *(topics.account(a.id) for a in self.sources))

    @rx.event
    @logged_in(loads=player_accounts)
    async def load(self, user, views):
        self._load_sources(user, views)
        self._assign(sending=False)  # a click answered by a failure no service foresaw never leaves it stuck
        if not self.form_key:
            self.form_key = uuid.uuid4().hex
        self._assign(loaded=True)

    @rx.event
    @refresh_on_push(loads=player_accounts)
    async def live_refresh(self, user, views):
        """Money moved in or out of one of the player's accounts: new balances, the form kept as typed."""
        self._load_sources(user, views)

    @rx.event
    def set_source(self, value: str):
        if not isinstance(value, str) or all(str(a.id) != value for a in self.sources):
            return
        self.source_id = value
        if self.recipient_id and str(self.recipient_id) == value:
            self.recipient_id, self.recipient_name = 0, ""
        if self.exact_id and str(self.exact_id) == value:
            self.exact_id, self.exact_name = 0, ""
        if self.amount_text:
            self.amount_error = self._check()[1]

    @rx.event
    async def search(self, text: str):
        """The session check and the search in one trip to the read threads (they need no common snapshot)."""
        self.query = text_arg(text, 40)
        self.exact_id, self.exact_name, self.exact_several = 0, "", False
        if not self.query.strip():
            self.results = []
            return
        user, found = await self._check_session(functools.partial(recipients, query=self.query), snapshot=False)
        if user is None:
            return await self._to_login()
        found = [r for r in found if str(r.account_id) != self.source_id]
        self.results = [
            {
                "id": str(r.account_id),
                "name": r.name,
                "detail": (f"@{r.owner_username}" if r.kind == "personal" else f"{r.ticker} · company"),
            }
            for r in found
        ]
        exact = [r for r in found if self.query.strip().lower() in accounts.exact_names(r)]
        if len(exact) == 1:
            self.exact_id, self.exact_name = exact[0].account_id, exact[0].name
        self.exact_several = len(exact) > 1

    @rx.event
    def pick(self, account_id: str, name: str):
        """Choose one of the search results shown (the name shown is the server's, not the click's)."""
        chosen = next((r for r in self.results if parse_id(r["id"]) == parse_id(account_id)), None)
        if chosen is None:
            return
        self.recipient_id, self.recipient_name = int(chosen["id"]), chosen["name"]
        self.results, self.query = [], ""
        self.exact_id, self.exact_name, self.exact_several = 0, "", False

    @rx.event
    def clear_recipient(self):
        self.recipient_id, self.recipient_name = 0, ""

    @rx.event
    def set_amount(self, text: str):
        self.amount_text = text_arg(text, 32)
        self.amount_error = self._check()[1] if self.amount_text.strip() else ""

    @rx.event
    def set_description(self, text: str):
        self.description = text_arg(text, DESCRIPTION_MAX)

    @rx.event
    async def confirm(self, key: str):
        """Send. ``key`` comes from the page that was clicked: a second click or a replay carries the same one. The
        form is checked here first (no database), then the session check, the transfer and the new balances make one
        trip to the write threads (``_as_user``)."""
        if self.sending or not isinstance(key, str) or not key or len(key) > 64 or key == self.last_sent_key:
            return
        cents, error = self._check()
        if cents is None:
            self.amount_error = error
            yield rx.toast.error(error)
            return
        recipient_id, recipient_name = self._recipient()
        if not recipient_id:
            yield rx.toast.error("Choose who receives the money.")
            return
        self.sending = True
        yield
        try:
            user, sent = await self._as_user(
                send_from,
                key=key,
                from_account_id=parse_id(self.source_id) or 0,
                to_account_id=recipient_id,
                amount=cents,
                description=self.description or None,
            )
        except Exception:
            log.exception("a transfer from the send page failed")
            self.sending = False
            yield rx.toast.error(UNFINISHED)
            return
        self.sending = False
        if user is None:
            yield await self._to_login()
            return
        self._load_sources(user, sent.accounts)  # the balances on screen update at once
        if sent.error is not None:
            if isinstance(sent.error, (InsufficientFunds, InvalidAmount)):
                self.amount_error = str(sent.error)
            yield rx.toast.error(str(sent.error))
            return
        self.last_sent_key = key
        self.form_key = uuid.uuid4().hex
        self.amount_text = self.amount_error = self.description = ""
        self.recipient_id, self.recipient_name = 0, ""
        self.query, self.results = "", []
        self.exact_id, self.exact_name, self.exact_several = 0, "", False
        yield rx.toast.success(f"Sent {format_cents(cents)} to {recipient_name}.")


def _source_picker() -> rx.Component:
    return rx.vstack(
        field_label("From", "send-source"),
        rx.select.root(
            rx.select.trigger(width="100%", id="send-source"),
            rx.select.content(
                rx.foreach(
                    SendState.sources, lambda a: rx.select.item(a.name + " · " + a.balance, value=a.id.to_string())
                )
            ),
            value=SendState.source_id,
            on_change=SendState.set_source,
            size="3",
        ),
        spacing="1",
        width="100%",
    )


def _recipient_picker() -> rx.Component:
    return rx.vstack(
        field_label("To", "send-search"),
        rx.cond(
            SendState.recipient_id != 0,
            rx.hstack(
                rx.badge(
                    rx.icon("user", size=14),
                    SendState.recipient_name,
                    size="3",
                    variant="soft",
                    id="send-recipient",
                    aria_label="Recipient",
                ),
                rx.button("Change", variant="ghost", size="1", on_click=SendState.clear_recipient),
                align="center",
            ),
            rx.vstack(
                rx.input(
                    placeholder="Search a player, a company or a ticker",
                    value=SendState.query,
                    on_change=SendState.search,
                    debounce_timeout=250,
                    size="3",
                    width="100%",
                    id="send-search",
                    auto_complete="off",
                ),
                rx.cond(
                    SendState.results.length() > 0,
                    rx.card(
                        rx.vstack(
                            rx.foreach(
                                SendState.results,
                                lambda r: rx.button(
                                    rx.hstack(
                                        rx.text(r["name"], weight="medium"),
                                        rx.text(r["detail"], color_scheme="gray", size="1"),
                                        align="center",
                                    ),
                                    variant="ghost",
                                    width="100%",
                                    justify="start",
                                    on_click=SendState.pick(r["id"], r["name"]),
                                    class_name="search-result",
                                ),
                            ),
                            spacing="1",
                            width="100%",
                        ),
                        width="100%",
                        size="1",
                    ),
                    rx.cond(SendState.query != "", rx.text("No player matches.", size="1", color_scheme="gray")),
                ),
                rx.cond(
                    SendState.exact_id != 0,
                    rx.text(
                        SendState.exact_name,
                        " matches exactly: the money goes there unless you click another.",
                        size="1",
                        color_scheme="gray",
                        id="send-exact",
                    ),
                ),
                spacing="2",
                width="100%",
            ),
        ),
        spacing="1",
        width="100%",
    )


def send_page() -> rx.Component:
    return player_page(
        rx.cond(
            SendState.loaded,
            rx.card(
                rx.vstack(
                    _source_picker(),
                    _recipient_picker(),
                    rx.vstack(
                        field_label("Amount", "send-amount"),
                        rx.input(
                            placeholder="0.00",
                            value=SendState.amount_text,
                            on_change=SendState.set_amount,
                            size="3",
                            width="100%",
                            id="send-amount",
                            input_mode="decimal",
                            auto_complete="off",
                            color_scheme=rx.cond(SendState.amount_error != "", "red", "gray"),
                        ),
                        rx.cond(
                            SendState.amount_error != "",
                            rx.text(SendState.amount_error, color_scheme="red", size="2", id="amount-error"),
                        ),
                        spacing="1",
                        width="100%",
                    ),
                    rx.vstack(
                        field_label("Description (optional)", "send-description"),
                        rx.input(
                            placeholder="What is it for?",
                            value=SendState.description,
                            on_change=SendState.set_description,
                            max_length=DESCRIPTION_MAX,
                            size="3",
                            width="100%",
                            id="send-description",
                        ),
                        spacing="1",
                        width="100%",
                    ),
                    rx.cond(
                        SendState.preview != "",
                        rx.callout(SendState.preview, icon="info", width="100%", id="send-preview"),
                    ),
                    rx.button(
                        rx.icon("send", size=16),
                        "Confirm and send",
                        size="3",
                        width="100%",
                        disabled=~SendState.can_send,
                        loading=SendState.sending,
                        on_click=SendState.confirm(SendState.form_key),
                        id="send-confirm",
                    ),
                    rx.cond(
                        SendState.missing != "",
                        rx.text(SendState.missing, size="2", color_scheme="gray", id="send-missing"),
                    ),
                    spacing="4",
                    width="100%",
                ),
                size="3",
                width="100%",
                max_width="36em",
            ),
            rx.center(rx.spinner(size="3"), padding="4em"),
        ),
        title="Send money",
    )
