"""History: the ledger of one of your accounts (or all), newest first, 50 a page, filters, CSV export."""

from __future__ import annotations

from datetime import UTC, datetime

import reflex as rx

from economy_app.components.layout import player_page
from economy_app.components.tables import history_table
from economy_app.display import TYPE_LABELS, HistoryItem, history_item
from economy_app.event_args import day_range, parse_id, text_arg
from economy_app.services import accounts, ledger
from economy_app.services import live as topics
from economy_app.services.errors import EconomyError
from economy_app.state import reads
from economy_app.state.auth import AuthState, logged_in, private, read, run

PAGE_SIZE = 50
ALL = "all"


@private
class HistoryState(AuthState):
    loaded: bool = False
    account_options: list[dict[str, str]] = []
    account_filter: str = ALL
    type_filter: str = ALL
    since_text: str = ""
    until_text: str = ""
    rows: list[HistoryItem] = []
    # Keyset cursors (ledger.cursor_text): where each visited page started ("" for the first).
    page_starts: list[str] = []
    has_next: bool = False
    error: str = ""
    _last_cursor: str = ""  # backend only: where the next page starts
    _system_id: int = 0  # backend only: the mint's account, whose rows get the system badge

    @rx.var
    def page_number(self) -> int:
        return len(self.page_starts)

    @rx.var
    def show_account_column(self) -> bool:
        return self.account_filter == ALL and len(self.account_options) > 1

    def _filters(self) -> tuple[int | None, dict]:
        """The filters as set: the account (None: every account of the player) and the service's keyword
        filters (types, since, until). Raises ValueError for dates that are not dates."""
        since, until = day_range(self.since_text, self.until_text)
        account = None if self.account_filter == ALL else parse_id(self.account_filter) or 0
        return account, dict(types=None if self.type_filter == ALL else [self.type_filter], since=since, until=until)

    def _query(self, start: str):
        """The read of the page starting after ``start`` with the filters as set, as ``query(session, user)``.
        Raises ValueError for filters or a cursor that make no sense."""
        account, filters = self._filters()
        before = ledger.parse_cursor(start) if start else None

        def query(s, user):
            return accounts.player_history(s, user.id, account, before=before, limit=PAGE_SIZE + 1, **filters)

        return query

    async def _fetch(self, start: str):
        """Fetch the page starting after ``start`` (the session check and the read in one thread hop); returns
        an event to yield (or None)."""
        try:
            query = self._query(start)
        except ValueError as e:
            return self._no_rows(e)
        try:
            user, rows = await self._check_session(query)
        except (ValueError, EconomyError) as e:
            return self._no_rows(e)
        if user is None:
            return await self._to_login()
        return self._show_rows(rows)

    async def _rows(self, user, start: str):
        """``_fetch`` for a handler that has checked the session already (``load``: once per event is enough)."""
        try:
            rows = await read(self._query(start), user)
        except (ValueError, EconomyError) as e:
            return self._no_rows(e)
        return self._show_rows(rows)

    def _no_rows(self, e: Exception):
        if isinstance(e, EconomyError):
            self.error, self.rows, self.has_next = str(e), [], False
            return rx.toast.error(str(e))
        # Nothing matches filters that make no sense: the rows of the filters before go too.
        self.error = str(e) if "date" in str(e) else "Use dates like 2026-11-21."
        self.rows, self.has_next, self._last_cursor = [], False, ""
        return rx.toast.error(self.error)

    def _show_rows(self, rows) -> None:
        names = {int(o["value"]): o["label"] for o in self.account_options}
        self._assign(
            error="",
            has_next=len(rows) > PAGE_SIZE,
            rows=[history_item(r, names, self._system_id or None) for r in rows[:PAGE_SIZE]],
        )
        self._last_cursor = ledger.cursor_text(ledger.cursor(rows[PAGE_SIZE - 1])) if self.has_next else ""
        return None

    @rx.event
    async def load(self):
        # The account in the link (?account=), else the filter as set; the first page with the filters as set.
        wanted = self.router.url.query_parameters.get("account", "")
        if wanted:
            account = parse_id(wanted) or -1  # -1: no account, so "Account not found."
        else:
            account = None if self.account_filter == ALL else parse_id(self.account_filter)
        try:
            _, filters = self._filters()
            bad_dates = None
        except ValueError as e:  # shown after the accounts load, with no rows
            filters, bad_dates = {}, e

        def first_page(s, user) -> accounts.HistoryPage:
            page = accounts.history_page(s, user.id, account, limit=PAGE_SIZE + 1, **filters)
            if page.rows is None and not wanted:  # the filter's account is gone (sold with its company)
                page = accounts.history_page(s, user.id, None, limit=PAGE_SIZE + 1, **filters)
            return page

        try:  # the session check and the whole first page: one thread hop, one read transaction
            user, page = await self._check_session(first_page)
        except EconomyError as e:
            user, page = await self._current_user(), None
            if user is not None:
                self.loaded = True
                return self._no_rows(e)
        if user is None:
            return await self._to_login()
        if self._system_id != (page.system_account_id or 0):  # an assignment stores the tab's state (Redis) again
            self._system_id = page.system_account_id or 0
        self._assign(account_options=[{"value": str(v.id), "label": v.name} for v in page.accounts])
        self._listen(user, *(topics.account(v.id) for v in page.accounts))
        if page.rows is None and wanted:
            # Another player's account, or none at all: show nothing of it.
            self.rows, self.has_next, self.page_starts, self.loaded = [], False, [], True
            self.account_filter = ALL
            self.error = "Account not found."
            return rx.toast.error("Account not found.")
        if wanted:
            self.account_filter = wanted
        elif self.account_filter != ALL and self.account_filter not in {o["value"] for o in self.account_options}:
            self.account_filter = ALL
        self._assign(page_starts=[""], loaded=True)
        if bad_dates is not None:
            return self._no_rows(bad_dates)
        return self._show_rows(page.rows)

    @rx.event
    async def live_refresh(self):
        """New entries show on the first page (with the filters as set); a deeper page stays still under
        the reader's eyes."""
        if self._left_page():  # a push answered after the tab moved to another page
            return None
        if len(self.page_starts) <= 1 and not self.error:
            with reads.refreshing():  # its read lets clicks go first (state/reads.py)
                return await self._fetch("")
        return None

    @rx.event
    async def apply(self):
        self.page_starts = [""]
        return await self._fetch("")

    @rx.event
    async def set_account(self, value: str):
        if value != ALL and (not isinstance(value, str) or value not in {o["value"] for o in self.account_options}):
            return rx.toast.error("Account not found.")
        self.account_filter = value
        return await self.apply()

    @rx.event
    async def set_type(self, value: str):
        if value != ALL and (not isinstance(value, str) or value not in TYPE_LABELS):
            return rx.toast.error("Unknown entry type.")
        self.type_filter = value
        return await self.apply()

    @rx.event
    def set_since(self, value: str):
        self.since_text = text_arg(value, 10)

    @rx.event
    def set_until(self, value: str):
        self.until_text = text_arg(value, 10)

    @rx.event
    async def clear_filters(self):
        self.type_filter, self.since_text, self.until_text = ALL, "", ""
        return await self.apply()

    @rx.event
    async def older(self):
        if not self.has_next or not self._last_cursor:
            return
        start = self._last_cursor
        event = await self._fetch(start)
        if event is None:
            self.page_starts = [*self.page_starts, start]
        return event

    @rx.event
    async def newer(self):
        if len(self.page_starts) <= 1:
            return
        starts = self.page_starts[:-1]
        event = await self._fetch(starts[-1])
        if event is None:
            self.page_starts = starts
        return event

    @rx.event
    @logged_in
    async def export_csv(self, user):
        try:
            account, filters = self._filters()
            text, count, truncated = await run(accounts.history_csv, user.id, account, **filters)
        except (ValueError, EconomyError) as e:
            return rx.toast.error(str(e))
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
        events = [rx.download(data=text, filename=f"history-{stamp}.csv", mime_type="text/csv")]
        if truncated:
            events.append(rx.toast.warning(f"Exported the newest {count:,} entries; narrow the dates for older ones."))
        return events


def _select(value, on_change, options, placeholder: str, id_: str, fixed: list[tuple[str, str]]) -> rx.Component:
    return rx.select.root(
        rx.select.trigger(placeholder=placeholder, id=id_, aria_label=placeholder, min_width="11em"),
        rx.select.content(
            *[rx.select.item(label, value=v) for v, label in fixed],
            rx.foreach(options, lambda o: rx.select.item(o["label"], value=o["value"]))
            if options is not None
            else rx.fragment(),
        ),
        value=value,
        on_change=on_change,
    )


def _filters() -> rx.Component:
    return rx.flex(
        _select(
            HistoryState.account_filter,
            HistoryState.set_account,
            HistoryState.account_options,
            "Account",
            "history-account",
            [(ALL, "All accounts")],
        ),
        _select(
            HistoryState.type_filter,
            HistoryState.set_type,
            None,
            "Type",
            "history-type",
            [(ALL, "All types"), *TYPE_LABELS.items()],
        ),
        rx.hstack(
            rx.input(
                type="date",
                value=HistoryState.since_text,
                on_change=HistoryState.set_since,
                id="history-since",
                aria_label="From date",
            ),
            rx.text("to", size="2", color_scheme="gray"),
            rx.input(
                type="date",
                value=HistoryState.until_text,
                on_change=HistoryState.set_until,
                id="history-until",
                aria_label="To date",
            ),
            align="center",
        ),
        rx.button("Apply", on_click=HistoryState.apply, variant="soft", id="history-apply"),
        rx.button("Clear", on_click=HistoryState.clear_filters, variant="ghost", color_scheme="gray"),
        gap="0.75em",
        wrap="wrap",
        align="center",
        width="100%",
    )


def _pager() -> rx.Component:
    return rx.hstack(
        rx.button(
            rx.icon("chevron-left", size=16),
            "Newer",
            on_click=HistoryState.newer,
            disabled=HistoryState.page_number <= 1,
            variant="soft",
            id="history-newer",
        ),
        rx.text("Page ", HistoryState.page_number, size="2", color_scheme="gray", id="history-page"),
        rx.button(
            "Older",
            rx.icon("chevron-right", size=16),
            on_click=HistoryState.older,
            disabled=~HistoryState.has_next,
            variant="soft",
            id="history-older",
        ),
        align="center",
        justify="center",
        width="100%",
    )


def history_page() -> rx.Component:
    return player_page(
        rx.cond(
            HistoryState.loaded,
            rx.vstack(
                _filters(),
                rx.cond(
                    HistoryState.error != "",
                    rx.callout(
                        HistoryState.error, icon="triangle-alert", color_scheme="red", width="100%", id="history-error"
                    ),
                ),
                history_table(
                    HistoryState.rows, show_account=HistoryState.show_account_column, empty="No entries match."
                ),
                _pager(),
                spacing="4",
                width="100%",
            ),
            rx.center(rx.spinner(size="3"), padding="4em"),
        ),
        title="History",
        actions=rx.button(
            rx.icon("download", size=16),
            "Export CSV",
            on_click=HistoryState.export_csv,
            variant="soft",
            id="history-export",
        ),
    )
