"""The admin page: the economy at a glance, account lookup and repair, whole-economy operations,
the scheduler, and the audit log. Every handler checks the admin role on the server."""

from __future__ import annotations

import logging

import reflex as rx

from economy_app import routes
from economy_app.components.layout import player_page
from economy_app.pages.admin_marketplace import marketplace_settings_card
from economy_app.jobs.scheduler import JOBS, next_run_at, run_job
from economy_app.models import utcnow
from economy_app.money import format_cents
from economy_app.services import admin
from economy_app.services import live as topics
from economy_app.services.errors import EconomyError, NotAdmin
from economy_app.state.auth import AuthState, private, run
from economy_app.state.present import parse_id, text_arg, when

BULK = {
    "recalculate_all": ("Recalculate all", "recalculated from the ledger"),
    "sync_all": ("Sync all", "synced from the account cache"),
    "reconcile": ("Reconcile now", "reconciled"),
}
log = logging.getLogger(__name__)


def _money(cents) -> str:
    return "missing" if cents is None else format_cents(cents)


def _copies(c) -> dict[str, str]:
    return {"id": str(c.account_id), "name": c.name, "kind": c.kind, "balances": _money(c.balances_value),
            "cache": _money(c.cached_value), "ledger": _money(c.ledger_value), "drift": "yes" if c.drifted else "",
            "balances_off": "yes" if c.balances_value != c.ledger_value else "",
            "cache_off": "yes" if c.cached_value != c.ledger_value else ""}


def _archive_findings(check) -> list[dict[str, str]]:
    """What the archive check found, one row each: checkpoints that differ from their archived entries,
    files that changed, lost entries or are not on this machine, ids in both tables."""
    rows = [{"what": f"checkpoint of account {c.account_id} ({c.name})",
             "detail": f"{format_cents(c.checkpoint)} over {c.checkpoint_entries:,} entries; its archived entries: "
                       f"{format_cents(c.archived)} over {c.archived_entries:,}", "bad": "yes"}
            for c in check.checkpoint_drifts]
    rows += [{"what": f"file {f.name}",
              "detail": f"{f.status}: {f.entries:,} entries written, {f.archived:,} archived, {f.restored:,} restored",
              "bad": "yes" if f.problem else ""}
             for f in check.files if f.status != "ok"]
    if check.in_both:
        rows.append({"what": "ledger and archive", "detail": f"{check.in_both:,} ids are in both", "bad": "yes"})
    return rows


def _sums(report: dict) -> str:
    """The reconciliation's money check in words: every balance and every cached balance sum to zero."""
    balances, cache = report.get("balances_total"), report.get("cache_total")
    if balances is None or cache is None:  # a report from before the sums were checked
        return "sums not checked"
    if balances == cache == 0:
        return "balances sum to $0.00"
    return f"balances sum to {format_cents(balances)} and caches to {format_cents(cache)}, not $0.00"


@private
class AdminState(AuthState):
    allowed: bool = False
    figures: dict[str, str] = {}
    runs: list[dict[str, str]] = []
    last_report: str = ""
    query: str = ""
    found: list[dict[str, str]] = []
    drifts: list[dict[str, str]] = []
    reconciled: bool = False
    archive_summary: str = ""  # the archive's checks at the last "Reconcile now"
    archive_clean: bool = True
    archive_findings: list[dict[str, str]] = []
    money_summary: str = ""  # the sums at the last "Reconcile now": every balance, every cached balance
    money_clean: bool = True
    withheld: str = ""  # why AUTO_REPAIR repaired nothing, if it did not
    running: str = ""  # the bulk operation in progress in this tab
    progress: int = 0
    jobs: list[dict[str, str]] = []
    audit: list[dict[str, str]] = []

    async def _admin(self):
        """The logged-in admin, or None (and the page closed): the role is checked on the server."""
        user = await self._current_user()
        if user is None:
            return None, await self._to_login()
        try:
            await run(admin.require_admin, user.id)
        except NotAdmin as e:
            self.reset()
            return None, [rx.redirect(routes.DASHBOARD, replace=True), rx.toast.error(str(e))]
        return user, None

    async def _refresh(self) -> None:
        o = await run(admin.overview)
        self.figures = {"players": f"{o.players:,}", "companies": f"{o.companies:,}", "accounts": f"{o.accounts:,}",
                        "entries": f"{o.ledger_entries:,}", "archived": f"{o.archived_entries:,}",
                        "circulation": format_cents(o.money_in_circulation)}
        self.runs = [{"at": when(r.at), "rows": str(r.ledger_rows), "units": f"{r.units:,}",
                      "unbatched": f"{2 * r.units:,}"} for r in o.marketplace_runs]
        r = o.last_report
        self.last_report = (f"{when(r['created_at'])} UTC ({r['source']}): {r['accounts_checked']:,} accounts, "
                            f"{r['drifts_found']} drifted, {r['repaired']} repaired, "
                            f"{r['archive_problems']} archive problems, {_sums(r)}, {r['duration_ms']} ms"
                            if r else "No reconciliation yet.")
        last = await run(admin.last_runs, list(JOBS))
        paused_now = await run(admin.paused_jobs)
        self.jobs = []
        for job in JOBS.values():
            lr = last.get(job.name)
            paused = job.name in paused_now
            duration = ""
            if lr and lr["finished_at"]:
                duration = f"{int((lr['finished_at'] - lr['started_at']).total_seconds() * 1000):,} ms"
            self.jobs.append({
                "name": job.name, "title": job.title, "interval": f"{job.interval():,} s",
                "last": when(lr["started_at"]) if lr else "never", "status": lr["status"] if lr else "",
                "summary": (lr["summary"] or "") if lr else "", "duration": duration,
                "next": "paused" if paused else when(next_run_at(job.interval())), "paused": "yes" if paused else "",
            })
        self.audit = [{"at": when(a["created_at"]), "who": a["admin_name"], "action": a["action"],
                       "target": a["target"], "result": a["result"], "ok": "yes" if a["ok"] else ""}
                      for a in await run(admin.audit_log, 30)]

    @rx.event
    async def load(self):
        user, exit_ = await self._admin()
        if user is None:
            return exit_
        self.allowed = True
        self._listen(user, topics.ADMIN, topics.ECONOMY, *(topics.job(name) for name in JOBS))
        await self._refresh()

    @rx.event
    async def live_refresh(self):
        """A run, a repair, a reconciliation or another admin's action: the overview, the scheduler and the
        audit log as they are now (the role is checked again)."""
        if self._left_page():  # a push answered after the tab moved to another page
            return
        user, exit_ = await self._admin()
        if user is None:
            return exit_
        await self._refresh()
        if self.query:  # an account on screen may have been repaired
            self.found = [_copies(c) for c in await run(admin.find_accounts, self.query)]

    @rx.event
    async def search(self, text: str):
        self.query = text_arg(text, 60)
        user, exit_ = await self._admin()
        if user is None:
            return exit_
        self.found = [_copies(c) for c in await run(admin.find_accounts, self.query)]

    async def _repair(self, account_id: str, action: str, fn):
        user, exit_ = await self._admin()
        if user is None:
            return exit_
        try:
            account = parse_id(account_id)
            if account is None:
                raise EconomyError("Account not found.")
            result = await run(_perform, user.id, action, f"account {account}", fn, (account,),
                               lambda r: "changed" if r.changed else "already agreed")
        except (EconomyError, ValueError) as e:
            return rx.toast.error(str(e))
        self.found = [_copies(result.after) if f["id"] == account_id else f for f in self.found]
        self.drifts = [d for d in self.drifts if d["id"] != account_id or result.after.drifted]
        await self._refresh()
        word = "Recalculated from the ledger" if action == "recalculate" else "Synced from the account cache"
        return rx.toast.success(f"{word}: account {account} now holds {_money(result.after.balances_value)}.")

    @rx.event
    async def recalculate(self, account_id: str):
        return await self._repair(account_id, "recalculate", admin.recalculate_balance)

    @rx.event
    async def sync(self, account_id: str):
        return await self._repair(account_id, "sync", admin.sync_balance_from_account)

    @rx.event(background=True)
    async def start_bulk(self, op: str):
        """A whole-economy operation, in the background with a progress bar; one at a time everywhere.
        However it ends (done, refused, failed), it ends in a message and the tab is free again."""
        if not isinstance(op, str) or op not in BULK:
            return
        async with self:
            if self.running:
                return rx.toast.warning("Another operation is running.")
            user, exit_ = await self._admin()
            if user is None:
                return exit_
            self.running, self.progress = op, 10
        title, done = BULK[op]
        try:
            result = await run(admin.run_bulk, actor_id=user.id, op=op)
        except Exception as e:
            async with self:
                self.running, self.progress = "", 0
                try:
                    await self._refresh()  # the refusal or failure is in the audit log now
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
                    self.drifts, self.reconciled = [_copies(d) for d in result["drifts"]], True
                    check = result["archive"]
                    self.archive_summary, self.archive_clean = check.summary(), check.problems == 0
                    self.archive_findings = _archive_findings(check)
                    totals = result["totals"]
                    self.money_clean = totals.zero
                    self.money_summary = (
                        "Every balance and every cached balance sum to $0.00: no cent created or lost."
                        if totals.zero else
                        f"The balances sum to {format_cents(totals.balances)} and the cached balances to "
                        f"{format_cents(totals.cache)}, not $0.00: a cent was created or lost.")
                    self.withheld = result["withheld"]
                    message = (f"Reconciled {result['accounts_checked']:,} accounts: {result['drifts_found']} drifted; "
                               f"archive: {check.problems} problems; {_sums(result)}.")
                else:
                    message = f"{title}: {result.accounts:,} accounts {done}, {result.changed} changed."
                    if self.drifts:  # the drift table is stale now
                        self.drifts, self.reconciled = [], False
                await self._refresh()
            finally:
                self.running, self.progress = "", 100
        return rx.toast.success(message)

    @rx.event
    async def run_now(self, name: str):
        user, exit_ = await self._admin()
        if user is None:
            return exit_
        if not isinstance(name, str) or name not in JOBS:
            return rx.toast.error("No such job.")
        try:
            # The job runs in its own session and transaction (it claims its slot); the audit row is written
            # inside that transaction, so the run and its record commit together.
            tick = await run(_perform, user.id, "run job", name,
                             lambda _s, audit: run_job(name, slot=f"admin-{utc_slug()}", audit=audit), (),
                             lambda t: t if isinstance(t, str) else t.summary, audit_within=True)
        except Exception as e:  # the job failed: it is in job_runs and the audit log
            await self._refresh()
            return rx.toast.error(f"{JOBS[name].title} failed: {e}")
        await self._refresh()
        return rx.toast.success(f"{JOBS[name].title}: {tick.summary}")

    async def _pause(self, name: str, paused: bool):
        user, exit_ = await self._admin()
        if user is None:
            return exit_
        if not isinstance(name, str) or name not in JOBS:
            return rx.toast.error("No such job.")
        await run(_perform, user.id, "pause job" if paused else "resume job", name, admin.set_job_paused,
                  (name, paused), lambda _: "ok")
        await self._refresh()
        return rx.toast.info(f"{JOBS[name].title} {'paused' if paused else 'resumed'}.")

    @rx.event
    async def pause(self, name: str):
        return await self._pause(name, True)

    @rx.event
    async def resume(self, name: str):
        return await self._pause(name, False)


def utc_slug() -> str:
    return utcnow().isoformat(timespec="microseconds")


def _perform(s, actor_id: int, action: str, target: str, fn, args=(), describe=str, audit_within: bool = False):
    """An audited admin action on this session: ``fn(s, *args)`` runs only for an admin, in one transaction
    with its audit row (``audit_within``: ``fn(s, audit, *args)`` makes its own and audits in it)."""
    if audit_within:
        return admin.perform(s, actor_id=actor_id, action=action, target=target,
                             fn=lambda audit: fn(s, audit, *args), describe=describe, audit_within=True)
    return admin.perform(s, actor_id=actor_id, action=action, target=target, fn=lambda: fn(s, *args),
                         describe=describe)


# --------------------------------------------------------------------------- the page


def _figure(label: str, key: str) -> rx.Component:
    return rx.card(rx.vstack(rx.text(label, size="1", color_scheme="gray"),
                             rx.heading(AdminState.figures[key], size="5", id=f"admin-{key}"), spacing="1"),
                   width="100%")


def _table(head: list[str], rows, cells, **props) -> rx.Component:
    return rx.box(rx.table.root(rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in head])),
                                rx.table.body(rx.foreach(rows, cells)), size="1", width="100%", **props),
                  overflow_x="auto", width="100%")


def _copies_row(c) -> rx.Component:
    drift = c["drift"] == "yes"

    def off(key):  # the copy that disagrees with the ledger, in red
        return {"color": rx.cond(c[key] == "yes", "var(--red-11)", "inherit"),
                "font_weight": rx.cond(c[key] == "yes", "bold", "normal")}

    return rx.table.row(
        rx.table.cell(c["id"]), rx.table.cell(c["name"]), rx.table.cell(c["kind"]),
        rx.table.cell(c["balances"], **off("balances_off")), rx.table.cell(c["cache"], **off("cache_off")),
        rx.table.cell(c["ledger"]),
        rx.table.cell(rx.cond(drift, rx.badge("drift", color_scheme="red"), rx.badge("ok", color_scheme="green"))),
        rx.table.cell(rx.hstack(
            rx.button("Recalculate from ledger", size="1", variant="soft", on_click=AdminState.recalculate(c["id"])),
            rx.button("Sync from account cache", size="1", variant="soft", color_scheme="gray",
                      on_click=AdminState.sync(c["id"])),
            spacing="1")),
        class_name="copies-row",
        data_account=c["id"],
    )


COPIES_HEAD = ["Account", "Name", "Kind", "balances", "accounts.balance (cache)", "ledger", "", ""]


def _money_check() -> rx.Component:
    """The sums beside the three copies: every balance, and every cached balance, must add up to zero."""
    return rx.vstack(
        rx.callout(AdminState.money_summary, icon=rx.cond(AdminState.money_clean, "check", "triangle_alert"),
                   color_scheme=rx.cond(AdminState.money_clean, "green", "red"), id="admin-money-check",
                   width="100%"),
        rx.cond(AdminState.withheld != "", rx.callout(AdminState.withheld, icon="triangle_alert",
                                                      color_scheme="orange", id="admin-withheld", width="100%")),
        width="100%", spacing="2")


def _archive_check() -> rx.Component:
    """The archive's proof beside the three copies: checkpoints = archived entries, each file's SHA-256 and
    entry count, no id in both tables."""
    return rx.vstack(
        rx.callout(rx.text("Archive: ", AdminState.archive_summary), icon=rx.cond(AdminState.archive_clean,
                                                                                  "check", "triangle_alert"),
                   color_scheme=rx.cond(AdminState.archive_clean, "green", "red"), id="admin-archive-check",
                   width="100%"),
        rx.cond(AdminState.archive_findings.length() > 0,
                _table(["Archive", "Found"], AdminState.archive_findings, lambda f: rx.table.row(
                    rx.table.cell(f["what"]),
                    rx.table.cell(f["detail"], color=rx.cond(f["bad"] == "yes", "var(--red-11)", "inherit")),
                    class_name="archive-finding"), id="admin-archive-findings")),
        width="100%", spacing="2")


def admin_page() -> rx.Component:
    return player_page(
        rx.cond(
            AdminState.allowed,
            rx.vstack(
                rx.grid(_figure("Players", "players"), _figure("Companies", "companies"),
                        _figure("Accounts", "accounts"), _figure("Ledger entries", "entries"),
                        _figure("Archived entries", "archived"), _figure("Money in circulation", "circulation"),
                        columns=rx.breakpoints(initial="2", md="3", lg="6"), spacing="3", width="100%"),
                rx.text("Last reconciliation: ", rx.text(AdminState.last_report, as_="span", id="admin-last-report"),
                        size="2", color_scheme="gray"),

                rx.card(rx.vstack(
                    rx.heading("Account lookup", size="4"),
                    rx.input(placeholder="Player, company, ticker or account id", value=AdminState.query,
                             on_change=AdminState.search, debounce_timeout=300, width="100%", id="admin-search"),
                    rx.cond(AdminState.found.length() > 0,
                            _table(COPIES_HEAD, AdminState.found, _copies_row)),
                    width="100%"), width="100%"),

                rx.card(rx.vstack(
                    rx.heading("Whole economy", size="4"),
                    rx.hstack(*[rx.button(title, on_click=AdminState.start_bulk(op), disabled=AdminState.running != "",
                                          variant="soft", id=f"admin-{op}") for op, (title, _) in BULK.items()],
                              spacing="2", wrap="wrap"),
                    rx.cond(AdminState.running != "", rx.progress(value=AdminState.progress, width="100%",
                                                                  id="admin-progress")),
                    rx.cond(AdminState.reconciled,
                            rx.cond(AdminState.drifts.length() > 0,
                                    _table(COPIES_HEAD, AdminState.drifts, _copies_row, id="admin-drifts"),
                                    rx.callout("Every account agrees: balances = cache = ledger.", icon="check",
                                               color_scheme="green", id="admin-clean"))),
                    rx.cond(AdminState.reconciled, _money_check()),
                    rx.cond(AdminState.reconciled, _archive_check()),
                    width="100%"), width="100%"),

                rx.card(rx.vstack(
                    rx.heading("Scheduler", size="4"),
                    _table(["Job", "Every", "Last run (UTC)", "Result", "Took", "Next run (UTC)", ""], AdminState.jobs,
                           lambda j: rx.table.row(
                               rx.table.cell(j["title"]), rx.table.cell(j["interval"]), rx.table.cell(j["last"]),
                               rx.table.cell(rx.vstack(rx.text(j["status"], weight="medium"),
                                                       rx.text(j["summary"], size="1", color_scheme="gray"),
                                                       spacing="0")),
                               rx.table.cell(j["duration"]), rx.table.cell(j["next"]),
                               rx.table.cell(rx.hstack(
                                   rx.button("Run now", size="1", on_click=AdminState.run_now(j["name"])),
                                   rx.cond(j["paused"] == "yes",
                                           rx.button("Resume", size="1", variant="soft",
                                                     on_click=AdminState.resume(j["name"])),
                                           rx.button("Pause", size="1", variant="soft", color_scheme="gray",
                                                     on_click=AdminState.pause(j["name"]))),
                                   spacing="1")),
                               class_name="job-row")),
                    width="100%"), width="100%"),

                marketplace_settings_card(),

                rx.card(rx.vstack(
                    rx.heading("Ledger rows per marketplace run (last 20)", size="4"),
                    rx.cond(AdminState.runs.length() > 0,
                            _table(["Run (UTC)", "Ledger rows", "Units sold", "Unbatched rows (2 per unit)"],
                                   AdminState.runs, lambda r: rx.table.row(
                                       rx.table.cell(r["at"]), rx.table.cell(r["rows"]), rx.table.cell(r["units"]),
                                       rx.table.cell(r["unbatched"]))),
                            rx.text("No marketplace run yet.", size="2", color_scheme="gray")),
                    width="100%"), width="100%"),

                rx.card(rx.vstack(
                    rx.heading("Audit log", size="4"),
                    _table(["When (UTC)", "Admin", "Action", "Target", "Result"], AdminState.audit,
                           lambda a: rx.table.row(
                               rx.table.cell(a["at"]), rx.table.cell(a["who"]), rx.table.cell(a["action"]),
                               rx.table.cell(a["target"]),
                               rx.table.cell(a["result"], color=rx.cond(a["ok"] == "yes", "inherit", "var(--red-11)")),
                               class_name="audit-row")),
                    width="100%"), width="100%"),
                spacing="4", width="100%",
            ),
            rx.center(rx.spinner(size="3"), padding="4em"),
        ),
        title="Admin",
    )
