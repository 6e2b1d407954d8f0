"""The admin page: the economy at a glance, account lookup and repair, whole-economy operations,
the scheduler, and the audit log. Every service it calls checks the admin role on the server
(``services/operations.py``); a refresh is one call (``operations.dashboard``). Laid out for a phone too:
below 768 px the lookup, the scheduler and the audit log are cards, not wide tables."""

from __future__ import annotations

import functools
import logging

import reflex as rx

from economy_app import routes
from economy_app.components.layout import player_page
from economy_app.components.money import money
from economy_app.display import (
    CACHED_COPY,
    COPIES_EXPLAINED,
    LEDGER_COPY,
    PRIMARY_COPY,
    RUNS_EXPLAINED,
    AuditRow,
    CopiesRow,
    FigureRow,
    FindingRow,
    FoundRow,
    HistoryItem,
    JobRow,
    RunRow,
    archive_findings,
    audit_row,
    copies_row,
    found_row,
    job_row,
    money_check_text,
    overview_figures,
    report_text,
    run_row,
    sums_text,
)
from economy_app.event_args import parse_id, text_arg
from economy_app.money import format_maybe_cents
from economy_app.pages.admin_marketplace import marketplace_settings_card
from economy_app.services import live as topics
from economy_app.services import operations, schedule
from economy_app.services.errors import EconomyError, NotAdmin
from economy_app.state.auth import AuthState, logged_in, private, refresh_on_push, run

BULK = {
    "recalculate_all": ("Recalculate all", "recalculated from the ledger"),
    "sync_all": ("Sync all", "synced from their cached balances"),
    "reconcile": ("Reconcile now", "reconciled"),
}
# What each whole-economy button does, which copy it trusts, and (for the two that overwrite) what its
# confirmation asks.
BULK_EXPLAINED = {
    "recalculate_all": "Trusts the ledger: sets every account's primary and cached balance to what its ledger "
    "entries add up to.",
    "sync_all": "Trusts the cached balances: sets every primary balance to the account's cached balance; the "
    "ledger is not read.",
    "reconcile": "Changes nothing: checks every account's three copies, that all balances sum to zero, and the "
    "archive (with AUTO_REPAIR on, it also recalculates drifted accounts from a proven ledger).",
}
BULK_CONFIRM = {
    "recalculate_all": (
        "Recalculate every balance from the ledger?",
        "Every account's primary balance and cached balance are overwritten with what its ledger entries add up "
        "to. The ledger is trusted and left as it is. This is the usual repair after a reconciliation found "
        "drift.",
        "Recalculate every balance",
    ),
    "sync_all": (
        "Overwrite every primary balance with its cached balance?",
        "Every account's primary balance is overwritten with the cached balance kept on the account; the ledger "
        "is not read. Use it only when the primary balances are known to be wrong and the cached ones right: an "
        "account whose cached balance differs from its ledger will still drift afterwards (Recalculate all "
        "repairs from the ledger).",
        "Sync every balance",
    ),
}
log = logging.getLogger(__name__)


def admins_only(handler):
    """For an admin handler (already ``logged_in``): a refusal of the role by the service closes the page."""

    @functools.wraps(handler)
    async def guarded(self, *args, **kwargs):
        try:
            return await handler(self, *args, **kwargs)
        except NotAdmin as e:
            self.reset()
            return [rx.redirect(routes.DASHBOARD, replace=True), rx.toast.error(str(e))]

    return guarded


@private
class AdminState(AuthState):
    allowed: bool = False
    figures: list[FigureRow] = []
    runs: list[RunRow] = []
    last_report: str = ""
    query: str = ""
    searched: str = ""  # the query the lookup's matches are for ("" before any)
    found: list[FoundRow] = []
    drifts: list[CopiesRow] = []
    reconciled: bool = False
    archive_summary: str = ""  # the archive's checks at the last "Reconcile now"
    archive_clean: bool = True
    archive_findings: list[FindingRow] = []
    money_summary: str = ""  # the sums at the last "Reconcile now": every balance, every cached balance
    money_clean: bool = True
    withheld: str = ""  # why AUTO_REPAIR repaired nothing, if it did not
    running: str = ""  # the bulk operation in progress in this tab
    progress: int = 0
    jobs: list[JobRow] = []
    audit: list[AuditRow] = []

    async def _refresh(self, user) -> None:
        """Everything on the page from one service call (the role checked there)."""
        d = await run(operations.dashboard, actor_id=user.id, query=self.query)
        self.allowed = True
        self.figures = overview_figures(d.overview)
        self.runs = [run_row(r) for r in d.overview.marketplace_runs]
        self.last_report = report_text(d.overview.last_report)
        self.jobs = [job_row(j) for j in d.jobs]
        self.audit = [audit_row(a) for a in d.audit]
        self._show_found(d.found)

    def _show_found(self, found) -> None:
        self.found = [found_row(f, f"{routes.ADMIN_ACCOUNT}?id={f.copies.account_id}") for f in found]
        self.searched = self.query

    @rx.event
    @logged_in
    @admins_only
    async def load(self, user):
        self._listen(user, topics.ADMIN, topics.ECONOMY, *(topics.job(name) for name in schedule.JOBS))
        await self._refresh(user)

    @rx.event
    @refresh_on_push
    @admins_only
    async def live_refresh(self, user):
        """A run, a repair, a reconciliation or another admin's action: the page as it is now (the role is
        checked again)."""
        await self._refresh(user)

    @rx.event
    async def search(self, text: str):
        self.query = text_arg(text, 60)
        return await self._search()

    @logged_in
    @admins_only
    async def _search(self, user):
        self._show_found(await run(operations.account_lookup, actor_id=user.id, query=self.query))

    @logged_in
    @admins_only
    async def _repair(self, user, account_id, action: str):
        account = parse_id(account_id)
        try:
            if account is None:
                raise EconomyError("Account not found.")
            result = await run(operations.repair_account, actor_id=user.id, account_id=account, action=action)
        except NotAdmin:
            raise
        except EconomyError as e:
            return rx.toast.error(str(e))
        self.drifts = [
            copies_row(result.after) if d.id == account else d
            for d in self.drifts
            if d.id != account or result.after.drifted
        ]
        await self._refresh(user)
        word = "Recalculated from the ledger" if action == "recalculate" else "Synced from the cached balance"
        return rx.toast.success(
            f"{word}: {result.after.name} now holds {format_maybe_cents(result.after.balances_value)}."
        )

    @rx.event
    async def recalculate(self, account_id: str):
        return await self._repair(account_id, "recalculate")

    @rx.event
    async def sync(self, account_id: str):
        return await self._repair(account_id, "sync")

    @rx.event(background=True)
    async def start_bulk(self, op: str):
        """A whole-economy operation, in the background with a progress bar; one at a time everywhere.
        However it ends (done, refused, failed), it ends in a message and the tab is free again."""
        if not isinstance(op, str) or op not in BULK:
            return
        async with self:
            if self.running:
                return rx.toast.warning("Another operation is running.")
            user = await self._current_user()
            if user is None:
                return await self._to_login()
            self.running, self.progress = op, 10
        title, done = BULK[op]
        try:
            result = await run(operations.run_bulk, actor_id=user.id, op=op)
        except Exception as e:
            async with self:
                self.running, self.progress = "", 0
                try:
                    await self._refresh(user)  # the refusal or failure is in the audit log now
                except NotAdmin:
                    self.reset()
                    return [rx.redirect(routes.DASHBOARD, replace=True), rx.toast.error(str(e))]
                except Exception:
                    log.exception("refreshing the admin page after %s failed", op)
            if isinstance(e, EconomyError):
                return rx.toast.error(str(e))
            log.exception("%s failed", op)
            return rx.toast.error(f"{title} failed ({type(e).__name__}); nothing was changed. See the audit log.")
        async with self:
            try:
                self.progress = 90
                if op == "reconcile":
                    self.drifts, self.reconciled = [copies_row(d) for d in result["drifts"]], True
                    check = result["archive"]
                    self.archive_summary, self.archive_clean = check.summary(), check.problems == 0
                    self.archive_findings = archive_findings(check)
                    self.money_clean = result["totals"].zero
                    self.money_summary = money_check_text(result["totals"])
                    self.withheld = result["withheld"]
                    message = (
                        f"Reconciled {result['accounts_checked']:,} accounts: {result['drifts_found']} drifted; "
                        f"archive: {check.problems} problems; {sums_text(result)}."
                    )
                else:
                    message = f"{title}: {result.accounts:,} accounts {done}, {result.changed} changed."
                    if self.drifts:  # the drift table is stale now
                        self.drifts, self.reconciled = [], False
                await self._refresh(user)
            finally:
                self.running, self.progress = "", 100
        return rx.toast.success(message)

    @rx.event
    @logged_in
    @admins_only
    async def run_now(self, user, name: str):
        if not isinstance(name, str) or name not in schedule.JOBS:
            return rx.toast.error("No such job.")
        try:
            tick = await run(operations.run_job_now, actor_id=user.id, name=name)
        except NotAdmin:
            raise
        except Exception as e:  # the job failed: it is in job_runs and the audit log
            await self._refresh(user)
            return rx.toast.error(f"{schedule.JOBS[name].title} failed: {e}")
        await self._refresh(user)
        return rx.toast.success(f"{schedule.JOBS[name].title}: {tick.summary}")

    @logged_in
    @admins_only
    async def _pause(self, user, name: str, paused: bool):
        if not isinstance(name, str) or name not in schedule.JOBS:
            return rx.toast.error("No such job.")
        try:
            await run(operations.pause_job, actor_id=user.id, name=name, paused=paused)
        except NotAdmin:
            raise
        except EconomyError as e:
            return rx.toast.error(str(e))
        await self._refresh(user)
        return rx.toast.info(f"{schedule.JOBS[name].title} {'paused' if paused else 'resumed'}.")

    @rx.event
    async def pause(self, name: str):
        return await self._pause(name, True)

    @rx.event
    async def resume(self, name: str):
        return await self._pause(name, False)


# --------------------------------------------------------------------------- the page

NARROW = ["block", "block", "none"]  # cards below 768 px
WIDE = ["none", "none", "block"]  # tables from 768 px


def _figure(f: FigureRow) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.text(f.label, size="1", color_scheme="gray"),
            rx.heading(f.value, size="5", id="admin-" + f.key),
            spacing="1",
        ),
        width="100%",
    )


def _table(head: list[str], rows, cells, **props) -> rx.Component:
    return rx.box(
        rx.table.root(
            rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in head])),
            rx.table.body(rx.foreach(rows, cells)),
            size="1",
            width="100%",
            **props,
        ),
        overflow_x="auto",
        width="100%",
    )


def _section(title: str, *children, **props) -> rx.Component:
    return rx.card(rx.vstack(rx.heading(title, size="4"), *children, width="100%"), width="100%", **props)


def _note(text, **props) -> rx.Component:
    return rx.text(text, size="1", color_scheme="gray", **props)


# ---- the three copies of a balance


def _copy(label: str, value, off, key: str) -> rx.Component:
    """One copy: its name for people, its value (in red when it differs from the ledger)."""
    return rx.vstack(
        rx.text(label, size="1", color_scheme="gray"),
        rx.text(
            value,
            size="2",
            weight=rx.cond(off, "bold", "medium"),
            color=rx.cond(off, "var(--red-11)", "inherit"),
            font_variant_numeric="tabular-nums",
            class_name=f"copy-{key}",
        ),
        spacing="0",
        min_width="8em",
    )


def _copies(c) -> rx.Component:
    """A ``CopiesRow`` or ``FoundRow``: the three copies side by side, wrapping on a phone."""
    return rx.flex(
        _copy(PRIMARY_COPY, c.balances, c.balances_off, "primary"),
        _copy(CACHED_COPY, c.cache, c.cache_off, "cached"),
        _copy(LEDGER_COPY, c.ledger, False, "ledger"),
        rx.cond(
            c.drift,
            rx.badge("The copies disagree", color_scheme="red", class_name="drift-badge"),
            rx.badge("The copies agree", color_scheme="green"),
        ),
        gap="0.5em 1.5em",
        wrap="wrap",
        align="center",
        width="100%",
    )


def _repairs(account_id) -> rx.Component:
    return rx.flex(
        rx.button("Recalculate from ledger", size="1", variant="soft", on_click=AdminState.recalculate(account_id)),
        rx.button(
            "Sync from cached balance",
            size="1",
            variant="soft",
            color_scheme="gray",
            on_click=AdminState.sync(account_id),
        ),
        gap="0.5em",
        wrap="wrap",
    )


def _drift_card(c: CopiesRow) -> rx.Component:
    """An account that drifted at the last "Reconcile now"."""
    return rx.box(
        rx.vstack(
            rx.text(c.name, " · ", c.kind, " · #", c.id, size="2", weight="medium"),
            _copies(c),
            _repairs(c.id),
            spacing="2",
            width="100%",
        ),
        class_name="copies-row",
        data_account=c.id,
        padding_y="0.75em",
        border_bottom="1px solid var(--gray-a4)",
        width="100%",
    )


# ---- the account lookup


def _entry_line(item: HistoryItem) -> rx.Component:
    return rx.flex(
        rx.text(item.date, size="1", color_scheme="gray", white_space="nowrap"),
        rx.text(item.type, " · ", item.counterpart, size="1", flex="1", min_width="8em"),
        money(item.amount, item.cents, signed=True, size="1", weight="medium", white_space="nowrap"),
        gap="0.25em 0.75em",
        wrap="wrap",
        width="100%",
        class_name="recent-entry",
    )


def _found_card(f: FoundRow) -> rx.Component:
    return rx.box(
        rx.vstack(
            rx.flex(
                rx.text(f.name, size="3", weight="bold"),
                rx.badge(f.kind, variant="soft", color_scheme="gray"),
                rx.text("#", f.id, size="1", color_scheme="gray"),
                rx.cond(f.frozen, rx.badge(rx.icon("snowflake", size=12), "Frozen", color_scheme="blue")),
                gap="0.5em",
                align="center",
                wrap="wrap",
            ),
            rx.cond(
                f.owner != "",
                rx.text(
                    rx.cond(f.company != "", f.company + ", run by ", "Owner: "),
                    rx.text(f.owner, as_="span", weight="medium"),
                    size="2",
                    class_name="found-owner",
                ),
                rx.text("The system account (the mint): owned by nobody.", size="2"),
            ),
            rx.cond(
                f.frozen,
                rx.callout(f.frozen_text, icon="snowflake", color_scheme="blue", size="1", class_name="found-frozen"),
            ),
            _copies(f),
            rx.cond(
                f.recent.length() > 0,
                rx.vstack(
                    _note("Last entries"),
                    rx.foreach(f.recent, _entry_line),
                    spacing="1",
                    width="100%",
                ),
                _note("No entries yet."),
            ),
            rx.flex(
                rx.link(
                    rx.button(rx.icon("folder-open", size=14), "Open account", size="1"),
                    href=f.href,
                ),
                _repairs(f.id),
                gap="0.5em",
                wrap="wrap",
            ),
            spacing="2",
            width="100%",
        ),
        class_name="found-account",
        data_account=f.id,
        padding_y="0.9em",
        border_top="1px solid var(--gray-a4)",
        width="100%",
    )


def _lookup() -> rx.Component:
    return _section(
        "Account lookup",
        rx.input(
            placeholder="Player, company, ticker or account id",
            aria_label="Account lookup",
            value=AdminState.query,
            on_change=AdminState.search,
            debounce_timeout=300,
            width="100%",
            id="admin-search",
        ),
        _note(COPIES_EXPLAINED),
        rx.cond(
            AdminState.found.length() > 0,
            rx.vstack(rx.foreach(AdminState.found, _found_card), spacing="0", width="100%", id="admin-found"),
            rx.cond(
                AdminState.searched != "",
                rx.callout(
                    rx.text("No player, company, ticker or account id matches “", AdminState.searched, "”."),
                    icon="search-x",
                    color_scheme="gray",
                    width="100%",
                    id="admin-no-match",
                ),
            ),
        ),
    )


# ---- whole-economy operations


def _bulk_button(op: str) -> rx.Component:
    """A whole-economy operation, with what it trusts; the two that overwrite balances ask first."""
    title, _ = BULK[op]
    props = dict(disabled=AdminState.running != "", variant="soft", id=f"admin-{op}", flex_shrink="0")
    if op not in BULK_CONFIRM:
        control = rx.button(title, on_click=AdminState.start_bulk(op), **props)
    else:
        question, detail, confirm = BULK_CONFIRM[op]
        control = rx.alert_dialog.root(
            rx.alert_dialog.trigger(rx.button(title, **props)),
            rx.alert_dialog.content(
                rx.alert_dialog.title(question),
                rx.alert_dialog.description(detail, size="2"),
                rx.flex(
                    rx.alert_dialog.cancel(rx.button("Cancel", variant="soft", color_scheme="gray")),
                    rx.alert_dialog.action(rx.button(confirm, color_scheme="red", on_click=AdminState.start_bulk(op))),
                    gap="0.75em",
                    justify="end",
                    wrap="wrap",
                    margin_top="1em",
                ),
                max_width="32em",
            ),
        )
    return rx.flex(
        control,
        rx.text(BULK_EXPLAINED[op], size=rx.breakpoints(initial="1", sm="2"), color_scheme="gray"),
        gap="0.5em 1em",
        align="center",
        direction=rx.breakpoints(initial="column", sm="row"),
        align_items=rx.breakpoints(initial="start", sm="center"),
        width="100%",
        class_name="bulk-op",
    )


def _money_check() -> rx.Component:
    """The sums beside the three copies: every balance, and every cached balance, must add up to zero."""
    return rx.vstack(
        rx.callout(
            AdminState.money_summary,
            icon=rx.cond(AdminState.money_clean, "check", "triangle_alert"),
            color_scheme=rx.cond(AdminState.money_clean, "green", "red"),
            id="admin-money-check",
            width="100%",
        ),
        rx.cond(
            AdminState.withheld != "",
            rx.callout(
                AdminState.withheld, icon="triangle_alert", color_scheme="orange", id="admin-withheld", width="100%"
            ),
        ),
        width="100%",
        spacing="2",
    )


def _archive_check() -> rx.Component:
    """The archive's proof beside the three copies: checkpoints = archived entries, each file's SHA-256 and
    entry count, no id in both tables."""
    return rx.vstack(
        rx.callout(
            rx.text("Archive: ", AdminState.archive_summary),
            icon=rx.cond(AdminState.archive_clean, "check", "triangle_alert"),
            color_scheme=rx.cond(AdminState.archive_clean, "green", "red"),
            id="admin-archive-check",
            width="100%",
        ),
        rx.cond(
            AdminState.archive_findings.length() > 0,
            _table(
                ["Archive", "Found"],
                AdminState.archive_findings,
                lambda f: rx.table.row(
                    rx.table.cell(f.what),
                    rx.table.cell(f.detail, color=rx.cond(f.bad, "var(--red-11)", "inherit")),
                    class_name="archive-finding",
                ),
                id="admin-archive-findings",
            ),
        ),
        width="100%",
        spacing="2",
    )


def _whole_economy() -> rx.Component:
    return _section(
        "Whole economy",
        rx.vstack(*[_bulk_button(op) for op in BULK], spacing="3", width="100%"),
        rx.cond(
            AdminState.running != "",
            rx.progress(value=AdminState.progress, width="100%", id="admin-progress"),
        ),
        rx.cond(
            AdminState.reconciled,
            rx.cond(
                AdminState.drifts.length() > 0,
                rx.vstack(rx.foreach(AdminState.drifts, _drift_card), spacing="0", width="100%", id="admin-drifts"),
                rx.callout(
                    "Every account agrees: primary balance = cached balance = ledger.",
                    icon="check",
                    color_scheme="green",
                    id="admin-clean",
                ),
            ),
        ),
        rx.cond(AdminState.reconciled, _money_check()),
        rx.cond(AdminState.reconciled, _archive_check()),
    )


# ---- the scheduler


def _job_buttons(j: JobRow) -> rx.Component:
    return rx.hstack(
        rx.button("Run now", size="1", on_click=AdminState.run_now(j.name)),
        rx.cond(
            j.paused,
            rx.button("Resume", size="1", variant="soft", on_click=AdminState.resume(j.name)),
            rx.button("Pause", size="1", variant="soft", color_scheme="gray", on_click=AdminState.pause(j.name)),
        ),
        spacing="1",
    )


def _job_result(j: JobRow) -> rx.Component:
    return rx.vstack(
        rx.text(j.status, weight="medium", size="2"),
        rx.text(j.summary, size="1", color_scheme="gray"),
        spacing="0",
    )


def _job_card(j: JobRow) -> rx.Component:
    return rx.box(
        rx.vstack(
            rx.flex(
                rx.text(j.title, weight="bold", size="2", flex="1", min_width="0"),
                rx.box(_job_buttons(j), flex_shrink="0"),
                align="center",
                gap="0.5em",
                width="100%",
            ),
            rx.text("Every ", j.interval, " · next ", j.next, size="1", color_scheme="gray"),
            rx.text(
                "Last run ",
                j.last,
                rx.cond(j.status != "", " · " + j.status, ""),
                rx.cond(j.duration != "", " · took " + j.duration, ""),
                size="1",
                color_scheme="gray",
            ),
            rx.cond(j.summary != "", rx.text(j.summary, size="1")),
            spacing="1",
            width="100%",
        ),
        class_name="job-card",
        padding_y="0.6em",
        border_bottom="1px solid var(--gray-a4)",
        width="100%",
    )


def _scheduler() -> rx.Component:
    return _section(
        "Scheduler",
        _note("Times are UTC."),
        rx.box(rx.foreach(AdminState.jobs, _job_card), display=NARROW, width="100%"),
        rx.box(
            _table(
                ["Job", "Every", "Last run", "Result", "Took", "Next run", ""],
                AdminState.jobs,
                lambda j: rx.table.row(
                    rx.table.cell(j.title),
                    rx.table.cell(j.interval, white_space="nowrap"),
                    rx.table.cell(j.last),
                    rx.table.cell(_job_result(j)),
                    rx.table.cell(j.duration, white_space="nowrap"),
                    rx.table.cell(j.next),
                    rx.table.cell(_job_buttons(j)),
                    class_name="job-row",
                ),
            ),
            display=WIDE,
            width="100%",
        ),
    )


# ---- marketplace runs and the audit log


def _runs() -> rx.Component:
    return _section(
        "Marketplace runs: ledger entries written (last 20)",
        _note(RUNS_EXPLAINED),
        rx.cond(
            AdminState.runs.length() > 0,
            _table(
                ["Run (UTC)", "Entries", "Units sold", "Unit by unit"],
                AdminState.runs,
                lambda r: rx.table.row(
                    rx.table.cell(r.at, white_space="nowrap"),
                    rx.table.cell(r.rows),
                    rx.table.cell(r.units),
                    rx.table.cell(r.unbatched),
                ),
            ),
            rx.text("No marketplace run yet.", size="2", color_scheme="gray"),
        ),
    )


def _audit_card(a: AuditRow) -> rx.Component:
    return rx.box(
        rx.text(
            rx.text(a.who, as_="span", weight="bold"),
            " · ",
            a.action,
            rx.cond(a.target != "", " · " + a.target, ""),
            size="2",
        ),
        rx.text(
            rx.text(a.result, as_="span", color=rx.cond(a.ok, "inherit", "var(--red-11)")),
            rx.text(" · ", a.at, " UTC", as_="span", color="var(--gray-11)"),
            size="1",
        ),
        class_name="audit-card",
        padding_y="0.5em",
        border_bottom="1px solid var(--gray-a4)",
        width="100%",
    )


def _audit_log() -> rx.Component:
    return _section(
        "Audit log",
        rx.box(rx.foreach(AdminState.audit, _audit_card), display=NARROW, width="100%"),
        rx.box(
            _table(
                ["When (UTC)", "Admin", "Action", "Target", "Result"],
                AdminState.audit,
                lambda a: rx.table.row(
                    rx.table.cell(a.at, white_space="nowrap"),
                    rx.table.cell(a.who),
                    rx.table.cell(a.action),
                    rx.table.cell(a.target),
                    rx.table.cell(a.result, color=rx.cond(a.ok, "inherit", "var(--red-11)")),
                    class_name="audit-row",
                ),
            ),
            display=WIDE,
            width="100%",
        ),
    )


def admin_page() -> rx.Component:
    return player_page(
        rx.cond(
            AdminState.allowed,
            rx.vstack(
                rx.grid(
                    rx.foreach(AdminState.figures, _figure),
                    columns=rx.breakpoints(initial="2", md="3", lg="6"),
                    spacing="3",
                    width="100%",
                ),
                rx.text(
                    "Last reconciliation: ",
                    rx.text(AdminState.last_report, as_="span", id="admin-last-report"),
                    size="2",
                    color_scheme="gray",
                ),
                _lookup(),
                _whole_economy(),
                _scheduler(),
                marketplace_settings_card(),
                _runs(),
                _audit_log(),
                spacing="4",
                width="100%",
            ),
            rx.center(rx.spinner(size="3"), padding="4em"),
        ),
        title="Admin",
    )
