"""The admin page: the economy at a glance, account lookup and repair, whole-economy operations,
the scheduler, and the audit log. Every service it calls checks the admin role on the server
(``services/operations.py``); a refresh is one call (``operations.dashboard``)."""

from __future__ import annotations

import functools
import logging

import reflex as rx

from economy_app import routes
from economy_app.components.layout import player_page
from economy_app.display import (
    AuditRow,
    CopiesRow,
    FigureRow,
    FindingRow,
    JobRow,
    RunRow,
    archive_findings,
    audit_row,
    copies_row,
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
    "sync_all": ("Sync all", "synced from the account cache"),
    "reconcile": ("Reconcile now", "reconciled"),
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
    found: list[CopiesRow] = []
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
        self.found = [copies_row(c) for c in d.found]

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
        self.found = [copies_row(c) for c in await run(operations.account_lookup, actor_id=user.id, query=self.query)]

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
        self.found = [copies_row(result.after) if f.id == account else f for f in self.found]
        self.drifts = [d for d in self.drifts if d.id != account or result.after.drifted]
        await self._refresh(user)
        word = "Recalculated from the ledger" if action == "recalculate" else "Synced from the account cache"
        return rx.toast.success(
            f"{word}: account {account} now holds {format_maybe_cents(result.after.balances_value)}."
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


def _copies_row(c: CopiesRow) -> rx.Component:
    def off(disagrees):  # the copy that disagrees with the ledger, in red
        return {
            "color": rx.cond(disagrees, "var(--red-11)", "inherit"),
            "font_weight": rx.cond(disagrees, "bold", "normal"),
        }

    return rx.table.row(
        rx.table.cell(c.id),
        rx.table.cell(c.name),
        rx.table.cell(c.kind),
        rx.table.cell(c.balances, **off(c.balances_off)),
        rx.table.cell(c.cache, **off(c.cache_off)),
        rx.table.cell(c.ledger),
        rx.table.cell(rx.cond(c.drift, rx.badge("drift", color_scheme="red"), rx.badge("ok", color_scheme="green"))),
        rx.table.cell(
            rx.hstack(
                rx.button("Recalculate from ledger", size="1", variant="soft", on_click=AdminState.recalculate(c.id)),
                rx.button(
                    "Sync from account cache",
                    size="1",
                    variant="soft",
                    color_scheme="gray",
                    on_click=AdminState.sync(c.id),
                ),
                spacing="1",
                wrap="wrap",
            )
        ),
        class_name="copies-row",
        data_account=c.id,
    )


COPIES_HEAD = ["Account", "Name", "Kind", "balances", "accounts.balance (cache)", "ledger", "", ""]


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
                rx.card(
                    rx.vstack(
                        rx.heading("Account lookup", size="4"),
                        rx.input(
                            placeholder="Player, company, ticker or account id",
                            aria_label="Account lookup",
                            value=AdminState.query,
                            on_change=AdminState.search,
                            debounce_timeout=300,
                            width="100%",
                            id="admin-search",
                        ),
                        rx.cond(AdminState.found.length() > 0, _table(COPIES_HEAD, AdminState.found, _copies_row)),
                        width="100%",
                    ),
                    width="100%",
                ),
                rx.card(
                    rx.vstack(
                        rx.heading("Whole economy", size="4"),
                        rx.hstack(
                            *[
                                rx.button(
                                    title,
                                    on_click=AdminState.start_bulk(op),
                                    disabled=AdminState.running != "",
                                    variant="soft",
                                    id=f"admin-{op}",
                                )
                                for op, (title, _) in BULK.items()
                            ],
                            spacing="2",
                            wrap="wrap",
                        ),
                        rx.cond(
                            AdminState.running != "",
                            rx.progress(value=AdminState.progress, width="100%", id="admin-progress"),
                        ),
                        rx.cond(
                            AdminState.reconciled,
                            rx.cond(
                                AdminState.drifts.length() > 0,
                                _table(COPIES_HEAD, AdminState.drifts, _copies_row, id="admin-drifts"),
                                rx.callout(
                                    "Every account agrees: balances = cache = ledger.",
                                    icon="check",
                                    color_scheme="green",
                                    id="admin-clean",
                                ),
                            ),
                        ),
                        rx.cond(AdminState.reconciled, _money_check()),
                        rx.cond(AdminState.reconciled, _archive_check()),
                        width="100%",
                    ),
                    width="100%",
                ),
                rx.card(
                    rx.vstack(
                        rx.heading("Scheduler", size="4"),
                        _table(
                            ["Job", "Every", "Last run (UTC)", "Result", "Took", "Next run (UTC)", ""],
                            AdminState.jobs,
                            lambda j: rx.table.row(
                                rx.table.cell(j.title),
                                rx.table.cell(j.interval),
                                rx.table.cell(j.last),
                                rx.table.cell(
                                    rx.vstack(
                                        rx.text(j.status, weight="medium"),
                                        rx.text(j.summary, size="1", color_scheme="gray"),
                                        spacing="0",
                                    )
                                ),
                                rx.table.cell(j.duration),
                                rx.table.cell(j.next),
                                rx.table.cell(
                                    rx.hstack(
                                        rx.button("Run now", size="1", on_click=AdminState.run_now(j.name)),
                                        rx.cond(
                                            j.paused,
                                            rx.button(
                                                "Resume", size="1", variant="soft", on_click=AdminState.resume(j.name)
                                            ),
                                            rx.button(
                                                "Pause",
                                                size="1",
                                                variant="soft",
                                                color_scheme="gray",
                                                on_click=AdminState.pause(j.name),
                                            ),
                                        ),
                                        spacing="1",
                                    )
                                ),
                                class_name="job-row",
                            ),
                        ),
                        width="100%",
                    ),
                    width="100%",
                ),
                marketplace_settings_card(),
                rx.card(
                    rx.vstack(
                        rx.heading("Ledger rows per marketplace run (last 20)", size="4"),
                        rx.cond(
                            AdminState.runs.length() > 0,
                            _table(
                                ["Run (UTC)", "Ledger rows", "Units sold", "Unbatched rows (2 per unit)"],
                                AdminState.runs,
                                lambda r: rx.table.row(
                                    rx.table.cell(r.at),
                                    rx.table.cell(r.rows),
                                    rx.table.cell(r.units),
                                    rx.table.cell(r.unbatched),
                                ),
                            ),
                            rx.text("No marketplace run yet.", size="2", color_scheme="gray"),
                        ),
                        width="100%",
                    ),
                    width="100%",
                ),
                rx.card(
                    rx.vstack(
                        rx.heading("Audit log", size="4"),
                        _table(
                            ["When (UTC)", "Admin", "Action", "Target", "Result"],
                            AdminState.audit,
                            lambda a: rx.table.row(
                                rx.table.cell(a.at),
                                rx.table.cell(a.who),
                                rx.table.cell(a.action),
                                rx.table.cell(a.target),
                                rx.table.cell(a.result, color=rx.cond(a.ok, "inherit", "var(--red-11)")),
                                class_name="audit-row",
                            ),
                        ),
                        width="100%",
                    ),
                    width="100%",
                ),
                spacing="4",
                width="100%",
            ),
            rx.center(rx.spinner(size="3"), padding="4em"),
        ),
        title="Admin",
    )
