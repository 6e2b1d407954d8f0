"""One account's admin page (``/admin/account?id=N``), opened from the account lookup: the account's three copies,
its owner with every account and company they hold (each opens here too), its ledger, 25 entries a page, and
moderation: freezing and unfreezing the player or the company, with a reason. Every service it calls checks the
admin role on the server; a refresh is one call (``operations.admin_account``)."""

from __future__ import annotations

import reflex as rx

from economy_app import routes
from economy_app.components.forms import field_label
from economy_app.components.layout import player_page
from economy_app.components.tables import history_table
from economy_app.display import (
    COPIES_EXPLAINED,
    AdminCompanyRow,
    FoundRow,
    HistoryItem,
    OwnedRow,
    admin_company_row,
    found_row,
    history_item,
    owned_row,
    when,
)
from economy_app.event_args import parse_id, text_arg
from economy_app.pages.admin import _copies, _note, _section, admins_only
from economy_app.services import ledger, operations
from economy_app.services import live as topics
from economy_app.services.errors import EconomyError, NotAdmin
from economy_app.services.moderation import REASON_MAX
from economy_app.state.auth import AuthState, logged_in, private, refresh_on_push, run

PAGE_SIZE = 25
NO_ACCOUNT = FoundRow(0, "", "", "", "", "", "", "", False, False, False, False, "", [], "")


def account_href(account_id: int) -> str:
    return f"{routes.ADMIN_ACCOUNT}?id={account_id}"


@private
class AdminAccountState(AuthState):
    loaded: bool = False
    error: str = ""
    account: FoundRow = NO_ACCOUNT
    has_owner: bool = False
    owner: str = ""  # "alice (Alice), player since 2026-11-30"
    owner_name: str = ""
    player_frozen: bool = False  # every account of the owner is frozen: nothing left for "Freeze player"
    player_freeze_on: bool = False  # some account carries the player's freeze: what "Unfreeze player" lifts
    company: str = ""  # the company whose account this is ("" for a personal account)
    company_frozen: bool = False  # the company's own freeze ("Unfreeze company"); not one it has with its owner
    accounts: list[OwnedRow] = []
    companies: list[AdminCompanyRow] = []
    rows: list[HistoryItem] = []
    page_starts: list[str] = []  # keyset cursors (ledger.cursor_text) where each visited page starts
    has_next: bool = False
    reason: str = ""
    _account_id: int = 0  # backend only: what this page shows and acts on, never taken from an event
    _owner_id: int = 0
    _company_id: int = 0
    _last_cursor: str = ""

    @rx.var
    def page_number(self) -> int:
        return len(self.page_starts)

    async def _refresh(self, user, start: str = "") -> None:
        a = await run(
            operations.admin_account,
            actor_id=user.id,
            account_id=self._account_id,
            before=ledger.parse_cursor(start) if start else None,
            limit=PAGE_SIZE,
        )
        facts = a.account.facts
        self.account = found_row(a.account, account_href(facts.account_id), a.system_account_id)
        self._owner_id = a.owner.id if a.owner else 0
        self._company_id = facts.company_id or 0
        self.has_owner = a.owner is not None
        if a.owner is not None:
            o = a.owner
            shown = o.username if o.display_name == o.username else f"{o.username} ({o.display_name})"
            self.owner = f"{shown}, {o.role} since {when(o.joined)} UTC"
            self.owner_name = o.username
            self.player_frozen, self.player_freeze_on = o.frozen, o.player_frozen
            self.accounts = [owned_row(x, account_href(x.id)) for x in o.accounts]
        else:
            self.owner = self.owner_name = ""
            self.player_frozen = self.player_freeze_on = False
            self.accounts = []
        self.companies = [admin_company_row(c, account_href(c.account_id)) for c in a.companies]
        self.company = facts.company
        self.company_frozen = (
            facts.company_id is not None and facts.freeze is not None and facts.freeze.scope == "company"
        )
        names = {facts.account_id: facts.name}
        self.rows = [history_item(r, names, a.system_account_id) for r in a.history]
        self.has_next = a.has_more
        self._last_cursor = ledger.cursor_text(ledger.cursor(a.history[-1])) if a.has_more else ""
        self.error, self.loaded = "", True

    @rx.event
    @logged_in
    async def load(self, user):
        self.loaded, self.reason = False, ""
        account = parse_id(self.router.url.query_parameters.get("id", ""))
        try:
            if account is None:
                raise EconomyError("Account not found.")
            self._account_id = account
            self.page_starts = [""]
            await self._refresh(user)
        except NotAdmin as e:
            self.reset()
            return [rx.redirect(routes.DASHBOARD, replace=True), rx.toast.error(str(e))]
        except EconomyError as e:
            self.reset()
            self.loaded, self.error = True, str(e)
            return rx.toast.error(str(e))
        self._listen(user, topics.ADMIN, topics.account(account), topics.user(self._owner_id))
        return None

    @rx.event
    @refresh_on_push
    @admins_only
    async def live_refresh(self, user):
        """A posting, a freeze, another admin's action: the page as it is now (a deeper page stays still)."""
        if self._account_id and len(self.page_starts) <= 1:
            await self._refresh(user)

    @rx.event
    def set_reason(self, text: str):
        self.reason = text_arg(text, REASON_MAX + 50)

    @logged_in
    @admins_only
    async def _moderate(self, user, kind: str, frozen: bool):
        target = {"player": self._owner_id, "company": self._company_id}.get(kind if isinstance(kind, str) else "")
        if not target:
            return rx.toast.error("Nothing to freeze here.")
        try:
            done = await run(
                operations.freeze, actor_id=user.id, kind=kind, target_id=target, reason=self.reason, frozen=frozen
            )
        except NotAdmin:
            raise
        except EconomyError as e:
            return rx.toast.error(str(e))
        self.reason = ""
        self.page_starts = [""]
        await self._refresh(user)
        verb = "Frozen" if frozen else "Unfrozen"
        said = f"{verb}: {', '.join(done.changed)}." if done.changed else f"No account {verb.lower()}."
        return rx.toast.success(" ".join([said, *done.notes]))

    @rx.event
    async def freeze(self, kind: str):
        return await self._moderate(kind, True)

    @rx.event
    async def unfreeze(self, kind: str):
        return await self._moderate(kind, False)

    @logged_in
    @admins_only
    async def _page(self, user, start: str):
        """The page of history starting after ``start``; returns an event to send (or None)."""
        await self._refresh(user, start)

    @rx.event
    async def older(self):
        if not self.has_next or not self._last_cursor:
            return None
        start = self._last_cursor
        event = await self._page(start)
        if event is None:
            self.page_starts = [*self.page_starts, start]
        return event

    @rx.event
    async def newer(self):
        if len(self.page_starts) <= 1:
            return None
        starts = self.page_starts[:-1]
        event = await self._page(starts[-1])
        if event is None:
            self.page_starts = starts
        return event


# --------------------------------------------------------------------------- the page

S = AdminAccountState


def _frozen_badge(frozen) -> rx.Component:
    return rx.cond(frozen, rx.badge(rx.icon("snowflake", size=12), "Frozen", color_scheme="blue"))


def _account_card() -> rx.Component:
    a = S.account
    return rx.card(
        rx.vstack(
            rx.flex(
                rx.text(a.name, size="4", weight="bold", id="admin-account-name"),
                rx.badge(a.kind, variant="soft", color_scheme="gray"),
                rx.text("#", a.id, size="1", color_scheme="gray"),
                _frozen_badge(a.frozen),
                gap="0.5em",
                align="center",
                wrap="wrap",
            ),
            rx.cond(
                a.frozen,
                rx.callout(
                    a.frozen_text, icon="snowflake", color_scheme="blue", width="100%", id="admin-account-frozen"
                ),
            ),
            _copies(a),
            _note(COPIES_EXPLAINED),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def _moderation() -> rx.Component:
    def action(label, handler, color: str, id_: str):
        return rx.button(label, on_click=handler, color_scheme=color, variant="soft", id=id_)

    return _section(
        "Moderation",
        _note(
            "A frozen account sends nothing: every payment, transfer and trade from it is refused with the reason "
            "below, its company lists nothing and its products do not sell. Money can still come in, and its "
            "owner can still log in and look. Freezing a player freezes every account they hold; freezing a company "
            "gives its account a freeze of its own, which unfreezing the player leaves in place (Unfreeze company "
            "lifts it)."
        ),
        rx.vstack(
            field_label("Reason", "moderation-reason"),
            rx.input(
                value=S.reason,
                on_change=S.set_reason,
                placeholder="3 to 200 characters; the player sees it",
                max_length=REASON_MAX,
                id="moderation-reason",
                width="100%",
            ),
            spacing="1",
            width="100%",
        ),
        rx.flex(
            rx.cond(
                S.has_owner,
                rx.fragment(
                    rx.cond(
                        ~S.player_frozen,
                        action("Freeze player " + S.owner_name, S.freeze("player"), "blue", "freeze-player"),
                    ),
                    rx.cond(
                        S.player_freeze_on,
                        action("Unfreeze player " + S.owner_name, S.unfreeze("player"), "gray", "unfreeze-player"),
                    ),
                ),
            ),
            rx.cond(
                S.company != "",
                rx.cond(
                    S.company_frozen,
                    action("Unfreeze company " + S.company, S.unfreeze("company"), "gray", "unfreeze-company"),
                    action("Freeze company " + S.company, S.freeze("company"), "blue", "freeze-company"),
                ),
            ),
            gap="0.5em",
            wrap="wrap",
        ),
    )


def _owned(r: OwnedRow) -> rx.Component:
    return rx.flex(
        rx.link(r.name, href=r.href, weight="medium"),
        rx.badge(r.kind, variant="soft", color_scheme="gray"),
        _frozen_badge(r.frozen),
        rx.spacer(),
        rx.text(r.balance, size="2", font_variant_numeric="tabular-nums"),
        gap="0.5em",
        align="center",
        wrap="wrap",
        width="100%",
        class_name="owned-account",
        padding_y="0.4em",
        border_bottom="1px solid var(--gray-a4)",
    )


def _company(c: AdminCompanyRow) -> rx.Component:
    return rx.flex(
        rx.link(c.name, " (", c.ticker, ")", href=c.href, weight="medium"),
        rx.text(c.status, " · ", c.products, " · ", c.cash, size="2", color_scheme="gray"),
        gap="0.25em 0.75em",
        wrap="wrap",
        width="100%",
        class_name="owned-company",
        padding_y="0.4em",
        border_bottom="1px solid var(--gray-a4)",
    )


def _owner_card() -> rx.Component:
    return _section(
        "Owner",
        rx.text(S.owner, size="2", id="admin-account-owner"),
        rx.text("Accounts", size="2", weight="medium", margin_top="0.5em"),
        rx.vstack(rx.foreach(S.accounts, _owned), spacing="0", width="100%"),
        rx.text("Companies", size="2", weight="medium", margin_top="0.5em"),
        rx.cond(
            S.companies.length() > 0,
            rx.vstack(rx.foreach(S.companies, _company), spacing="0", width="100%"),
            _note("None."),
        ),
    )


def _history() -> rx.Component:
    return _section(
        "History",
        history_table(S.rows),
        rx.hstack(
            rx.button(rx.icon("chevron-left", size=16), "Newer", on_click=S.newer, disabled=S.page_number <= 1),
            rx.text("Page ", S.page_number, size="2", color_scheme="gray"),
            rx.button("Older", rx.icon("chevron-right", size=16), on_click=S.older, disabled=~S.has_next),
            align="center",
            justify="center",
            width="100%",
        ),
    )


def admin_account_page() -> rx.Component:
    return player_page(
        rx.cond(
            S.loaded,
            rx.cond(
                S.error != "",
                rx.callout(S.error, icon="triangle-alert", color_scheme="red", width="100%"),
                rx.vstack(
                    _account_card(),
                    rx.cond(S.has_owner | (S.company != ""), _moderation()),
                    rx.cond(S.has_owner, _owner_card()),
                    _history(),
                    spacing="4",
                    width="100%",
                ),
            ),
            rx.center(rx.spinner(size="3"), padding="4em"),
        ),
        title="Account",
        actions=rx.link(rx.button(rx.icon("arrow-left", size=16), "Admin", variant="soft"), href=routes.ADMIN),
    )
