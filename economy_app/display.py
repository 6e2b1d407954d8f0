"""Turn service results into what page states hold and show: typed rows (dataclasses) and their text.
No Reflex, no database: unit-tested directly (tests/unit/test_display.py). Money and share prices are
formatted by ``money.py`` only."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime

from economy_app import routes
from economy_app.money import (
    format_cents,
    format_dollars_input,
    format_maybe_cents,
    format_micros,
    format_price,
    format_rate,
)
from economy_app.services.accounts import TYPE_NAMES
from economy_app.services.companies import margin_permille

TYPE_LABELS = TYPE_NAMES  # entry types in words (services/accounts.py: the CSV says them too)


KIND_LABELS = {"personal": "Personal", "company": "Company", "system": "System", "loan": "Loan"}


@dataclasses.dataclass
class HistoryItem:
    id: int
    key: str  # unique per row: "entry-account"
    date: str
    account: str
    type: str
    counterpart: str
    system: bool  # the counterpart is the system (the mint): shown with a badge no player name can produce
    description: str
    amount: str
    cents: int
    batch: str
    run: str = ""  # a marketplace batch: the page of what that run sold, by product


@dataclasses.dataclass
class AccountItem:
    id: int
    name: str
    kind: str
    balance: str
    cents: int
    updated: str
    warning: str


def when(value: datetime | None) -> str:
    """``2026-11-30 21:05`` (as ``strftime("%Y-%m-%d %H:%M")``, a third of its cost: every history row has one)."""
    if not value:
        return "never"
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d} {value.hour:02d}:{value.minute:02d}"


def history_item(row, account_names: dict[int, str], system_account_id: int | None = None) -> HistoryItem:
    return HistoryItem(
        id=row.id,
        key=f"{row.id}-{row.account_id}",
        date=when(row.created_at),
        account=account_names.get(row.account_id, f"#{row.account_id}"),
        type=TYPE_LABELS.get(row.type, row.type),
        counterpart=row.counterpart_name,
        system=system_account_id is not None and row.counterpart_account_id == system_account_id,
        description=row.description or "",
        amount=format_cents(row.signed_amount, sign=True),
        cents=row.signed_amount,
        batch=f"{row.batch_count:,} units" if row.batch_count else "",
        run=f"{routes.RUN}?entry={row.id}" if row.type == "marketplace_batch" else "",
    )


def account_item(view) -> AccountItem:
    return AccountItem(
        id=view.id,
        name=view.name,
        kind=KIND_LABELS.get(view.kind, view.kind),
        balance=format_cents(view.balance),
        cents=view.balance,
        updated=when(view.last_updated),
        warning="Balance record missing: showing the cached value" if view.balance_from_cache else "",
    )


def received_text(r) -> str:
    """The receiver's live toast for money received (``accounts.Received``)."""
    amount = format_cents(r.amount)
    if r.type == "dividend":
        return f"You received a dividend of {amount} from {r.sender}"
    if r.type == "company_sale" and r.description:
        return f"You received {amount} from {r.sender}: {r.description}"
    return f"You received {amount} from {r.sender}"


def frozen_notices(views) -> list[str]:
    """What the dashboard tells a player whose accounts an admin froze (``AccountView.frozen_reason``)."""
    frozen = [v for v in views if v.frozen_reason is not None]
    if not frozen:
        return []
    personal = next((v for v in frozen if v.kind == "personal"), None)
    if personal is not None:
        return [
            f"Your account is frozen by an admin: {personal.frozen_reason.rstrip('.')}. You can still log in and "
            "look around, and money can still come in, but you can't send money, trade, found a company, or list "
            "or edit products until an admin unfreezes it."
            + (" Your companies' accounts are frozen too." if len(frozen) > 1 else "")
        ]
    return [company_frozen_notice(v.frozen_reason, v.name) for v in frozen]


def company_frozen_notice(reason: str | None, name: str = "This company") -> str:
    """What a company's dashboard says while an admin keeps its account frozen ("" when it is not)."""
    if reason is None:
        return ""
    return (
        f"{name}'s account is frozen by an admin: {reason.rstrip('.')}. While it is frozen the public buys none "
        "of its products (their production costs could not be paid), it can't pay anyone, trade, change its "
        "name, or list or edit products, and trading in its shares is halted."
    )


def send_preview(cents: int, source_name: str, source_balance: int, recipient_name: str) -> str:
    return (
        f"You send {format_cents(cents)} from {source_name} to {recipient_name}; "
        f"{source_name} will have {format_cents(source_balance - cents)}."
    )


@dataclasses.dataclass
class GuideStepRow:
    """One step of the dashboard's "How to play"."""

    key: str
    title: str
    text: str
    link: str  # where to do it
    link_text: str
    done: bool


def guide_rows(g, *, every: str, threshold_cents: int) -> list[GuideStepRow]:
    """The loop of the game in five steps, each ticked off from ``g`` (services.guide.Guide). ``every``: how often
    the public shops ("10 minutes"); ``threshold_cents``: the cash above which a company goes public."""
    company = f"{routes.COMPANY}?id={g.first_company_id}" if g.first_company_id else routes.COMPANIES
    steps = [
        (
            "company",
            "Found a company",
            "Give it a name and a ticker: it opens with its own account.",
            routes.COMPANIES,
            "Found one",
        ),
        (
            "product",
            "List a product",
            "Price it near the market's typical price (your company page shows it).",
            company,
            "Add a product",
        ),
        (
            "sale",
            "Sell to the public",
            f"The public shops every {every} and buys from what is listed: revenue goes to your company's account.",
            routes.MARKETPLACE,
            "See the marketplace",
        ),
        (
            "public",
            "Go public",
            f"A company whose cash passes {format_cents(threshold_cents, whole=True)} goes "
            "public: 1,000,000 shares anyone can buy.",
            routes.STOCKS,
            "See the stock market",
        ),
        (
            "trade",
            "Trade stocks",
            "Buy shares of other players' public companies, and sell them when they rise.",
            routes.STOCKS,
            "Trade",
        ),
    ]
    return [
        GuideStepRow(k, title, text, link, link_text, bool(g.done.get(k))) for k, title, text, link, link_text in steps
    ]


@dataclasses.dataclass
class CompanyItem:
    id: int
    name: str
    ticker: str
    description: str
    tags: list[str]
    owner: str
    balance: str
    cents: int
    public: bool
    products: int
    revenue_30d: str
    halted: bool  # public, and an admin froze the company's account: its stock does not trade


@dataclasses.dataclass
class ProductItem:
    id: int
    name: str
    description: str
    company_id: int
    company: str
    ticker: str
    price: str
    price_input: str  # the price as the edit form shows it: '19.99'
    cost_percent: int
    active: bool
    units_sold: str  # every unit sold: to the public and to players
    revenue: str
    costs: str
    margin: str
    waiting: str = ""  # why the public does not buy it yet: "New listing: on sale to the public from 10:42 UTC"
    warning: str = ""  # why it sells rarely or never at its price (for its owner)
    public_units: str = ""  # the units the public bought (what "best-selling" ranks)
    price_cents: int = 0


def company_item(view) -> CompanyItem:
    return CompanyItem(
        id=view.id,
        name=view.name,
        ticker=view.ticker,
        description=view.description,
        tags=list(view.tags),
        owner=view.owner_username,
        balance=format_cents(view.balance),
        cents=view.balance,
        public=view.is_public,
        products=view.products,
        revenue_30d=format_cents(view.revenue_30d),
        halted=view.is_public and view.frozen,
    )


def sign(n: int) -> int:
    """-1, 0 or 1: which way a figure moved (the pages colour it red, gray or green)."""
    return (n > 0) - (n < 0)


def percent_text(permille: int | None) -> str:
    """Tenths of a percent as text: 345 -> '34.5%'; None -> '-'."""
    if permille is None:
        return "-"
    sign = "-" if permille < 0 else ""
    return f"{sign}{abs(permille) // 10}.{abs(permille) % 10}%"


def product_item(p, *, company: str = "", ticker: str = "") -> ProductItem:
    revenue = getattr(p, "revenue_cents", None)
    revenue = p.revenue if revenue is None else revenue
    costs = getattr(p, "costs_cents", None)
    costs = p.costs if costs is None else costs
    return ProductItem(
        id=p.id,
        name=p.name,
        description=getattr(p, "description", ""),
        company_id=getattr(p, "company_id", 0),
        company=getattr(p, "company_name", company),
        ticker=getattr(p, "ticker", ticker),
        price=format_cents(p.price_cents),
        price_input=format_dollars_input(p.price_cents),
        cost_percent=p.cost_percent,
        active=p.active,
        units_sold=f"{p.units_sold:,}",
        revenue=format_cents(revenue),
        costs=format_cents(costs),
        margin=percent_text(margin_permille(revenue, costs)),
        waiting=hold_text(getattr(p, "public_from", None)),
        warning=getattr(p, "price_warning", ""),
        public_units=f"{getattr(p, 'public_units', p.units_sold):,}",
        price_cents=p.price_cents,
    )


def hold_text(public_from: datetime | None) -> str:
    """Why a listing does not sell yet: it waits out the hold for new listings."""
    if public_from is None:
        return ""
    return f"New listing: the public starts buying it at {public_from.strftime('%H:%M')} UTC"


def market_note(
    on_sale: int, limit: int, hold_seconds: int, typical: int | None, listed: tuple[int, int] | None = None
) -> str:
    """What the owner needs to list and price well: the limit, the hold, the market's typical price, and
    (``listed``: products created, the most a company may create) how many new products it may still list."""
    minutes = hold_seconds // 60
    hold = (
        f"a new listing waits {minutes} minute{'s' if minutes != 1 else ''} before the public sees it"
        if hold_seconds >= 60
        else f"a new listing waits {hold_seconds} s before the public sees it"
        if hold_seconds
        else "the public sees a new listing at the next run"
    )
    price = (
        f" The market's typical price is {format_cents(typical)}: the public spends most on products priced "
        f"near it, and little far above it."
        if typical
        else ""
    )
    ever = f", {listed[0]} of {listed[1]} ever listed (withdrawn ones too)" if listed else ""
    return f"{on_sale} of {limit} products on sale (the most a company may list){ever}; {hold}.{price}"


def change_text(permille: int) -> str:
    return ("+" if permille > 0 else "") + percent_text(permille)


@dataclasses.dataclass
class StockItem:
    id: int
    name: str
    ticker: str
    price: str
    change: str
    change_sign: int
    market_cap: str
    spark: list[dict]
    halted: bool  # an admin froze the company's account: its stock does not trade
    new_listing: bool = False  # public for less than a week
    listed: str = ""  # "New listing: public since 2026-12-01"


@dataclasses.dataclass
class PositionItem:
    account: str
    company_id: int
    name: str
    ticker: str
    shares: str
    avg_price: str
    price: str
    value: str
    gain: str
    gain_cents: int
    change: str
    change_sign: int
    note: str = ""  # the company cannot buy all of it back now: how much it can


def stock_item(row) -> StockItem:
    return StockItem(
        id=row.company_id,
        name=row.name,
        ticker=row.ticker,
        price=format_price(row.price_micros),
        change=change_text(row.change_permille),
        change_sign=sign(row.change_permille),
        market_cap=format_cents(row.market_cap_cents),
        spark=[{"p": p} for p in row.sparkline],
        new_listing=row.new_listing,
        listed=f"New listing: public since {row.public_at:%Y-%m-%d}" if row.new_listing else "",
        halted=row.halted,
    )


def position_item(p) -> PositionItem:
    return PositionItem(
        account=p.account_name,
        company_id=p.company_id,
        name=p.name,
        ticker=p.ticker,
        shares=f"{p.shares:,}",
        avg_price=format_price(p.avg_price_micros),
        price=format_price(p.price_micros),
        value=format_cents(p.value_cents),
        gain=format_cents(p.gain_cents, sign=True),
        gain_cents=p.gain_cents,
        change=change_text(p.change_permille),
        change_sign=sign(p.change_permille),
        note=holding_note(p),
    )


# --------------------------------------------------------------------------- shareholders (issue 19)


@dataclasses.dataclass
class IpoItem:
    """Going public as the owner's dashboard and the company's profile show it."""

    public: bool = False
    progress: int = 0  # percent, for the bar
    progress_text: str = ""  # "$12,345.67 of $50,000.00 (24.6%)"
    threshold: str = ""
    public_at: str = ""
    ipo_price: str = ""
    price: str = ""
    ipo_market_cap: str = ""
    market_cap: str = ""
    treasury: str = ""
    founder_stake: str = ""
    held_by_players: str = ""
    cash_per_share: str = ""
    buyback: str = ""  # "100,396 of 205,200" shares the treasury can buy back now
    owner_can_sell: str = ""  # of the owner's shares, what the company buys back now (theirs come last)


def buyback_text(buyback_shares: int, held_by_players: int) -> str:
    return f"{buyback_shares:,} of {held_by_players:,}"


def ipo_item(status) -> IpoItem:
    """From ``shareholders.IpoStatus``."""
    progress = (
        f"{format_cents(status.cash_cents)} of {format_cents(status.threshold_cents)} "
        f"({percent_text(status.progress_permille)})"
    )
    if not status.is_public:
        return IpoItem(
            public=False,
            progress=status.progress_permille // 10,
            progress_text=progress,
            threshold=format_cents(status.threshold_cents),
        )
    pay = status.payout
    return IpoItem(
        public=True,
        progress=100,
        progress_text=progress,
        threshold=format_cents(status.threshold_cents),
        public_at=f"{when(status.public_at)} UTC",
        ipo_price=format_price(status.ipo_price_micros),
        price=format_price(status.price_micros),
        ipo_market_cap=format_cents(status.ipo_market_cap_cents),
        market_cap=format_cents(status.market_cap_cents),
        treasury=f"{status.treasury_shares:,}",
        founder_stake=f"{status.founder_stake:,}",
        held_by_players=f"{pay.held_by_players:,}",
        cash_per_share=format_price(pay.cash_per_share_micros),
        buyback=buyback_text(pay.buyback_shares, pay.held_by_players),
        owner_can_sell=f"{pay.owner_can_sell:,}",
    )


def holding_note(p) -> str:
    """A portfolio position the company cannot buy back in full now (``stock_views.Position``): say so."""
    if p.payable_in_full:
        return ""
    if p.buyback_shares <= 0:
        return f"{p.name} can't buy back any of these shares now."
    return (
        f"{p.name} can buy back at most {p.buyback_shares:,} of these shares now (for {format_cents(p.payable_cents)})."
    )


# --------------------------------------------------------------------------- the admin page


# The three copies of every balance, named for people (the README's "money model" names them for engineers:
# ``balances``, ``accounts.balance``, the ledger), and what each one is, in a line.
PRIMARY_COPY, CACHED_COPY, LEDGER_COPY = "Primary balance", "Cached balance", "From the ledger"
COPIES_EXPLAINED = (
    "Every balance is kept three times, and the three must agree: the primary balance (what every page reads), "
    "the cached balance (a copy kept on the account) and what the account's ledger entries add up to (the record "
    "the other two are checked against)."
)


@dataclasses.dataclass
class CopiesRow:
    """One account's three copies of its balance, side by side (the admin page's lookup and drift lists)."""

    id: int
    name: str
    kind: str
    balances: str
    cache: str
    ledger: str
    drift: bool  # the three copies disagree
    balances_off: bool  # ``balances`` differs from the ledger
    cache_off: bool  # the cache differs from the ledger


def copies_row(c) -> CopiesRow:
    return CopiesRow(
        id=c.account_id,
        name=c.name,
        kind=KIND_LABELS.get(c.kind, c.kind),
        balances=format_maybe_cents(c.balances_value),
        cache=format_maybe_cents(c.cached_value),
        ledger=format_maybe_cents(c.ledger_value),
        drift=c.drifted,
        balances_off=c.balances_value != c.ledger_value,
        cache_off=c.cached_value != c.ledger_value,
    )


def freeze_text(freeze) -> str:
    """An account's freeze in a line: "Frozen by root on 2026-11-30 20:24 UTC, with the player: <reason>" (or "on
    its own" for a company's own freeze; "" if not frozen)."""
    if freeze is None:
        return ""
    whose = "on its own" if freeze.scope == "company" else "with the player"
    return f"Frozen by {freeze.by or 'an admin'} on {when(freeze.at)} UTC, {whose}: {freeze.reason}"


@dataclasses.dataclass
class FoundRow:
    """One account of the admin's lookup: its three copies, who owns it, its freeze and its last few entries."""

    id: int
    name: str
    kind: str
    owner: str  # the owner's username ("" for the system)
    company: str  # "Acme Rockets (ACME)" for a company's account
    balances: str
    cache: str
    ledger: str
    drift: bool
    balances_off: bool
    cache_off: bool
    frozen: bool
    frozen_text: str
    recent: list[HistoryItem]
    href: str  # the account's own admin page: history, the owner's accounts and companies, freezing


def found_row(f, href: str, system_account_id: int | None = None) -> FoundRow:
    """A lookup match (``moderation.FoundAccount``) as the admin page shows it."""
    c, facts = f.copies, f.facts
    copies = copies_row(c)
    return FoundRow(
        id=copies.id,
        name=copies.name,
        kind=copies.kind,
        owner=facts.owner,
        company=facts.company,
        balances=copies.balances,
        cache=copies.cache,
        ledger=copies.ledger,
        drift=copies.drift,
        balances_off=copies.balances_off,
        cache_off=copies.cache_off,
        frozen=facts.freeze is not None,
        frozen_text=freeze_text(facts.freeze),
        recent=[history_item(r, {c.account_id: c.name}, system_account_id) for r in f.recent],
        href=href,
    )


@dataclasses.dataclass
class OwnedRow:
    """One account of a player, on an account's admin page."""

    id: int
    name: str
    kind: str
    balance: str
    frozen: bool
    frozen_text: str
    href: str


def owned_row(a, href: str) -> OwnedRow:
    """A ``moderation.OwnedAccount``."""
    return OwnedRow(
        id=a.id,
        name=a.company or a.name,
        kind=KIND_LABELS.get(a.kind, a.kind),
        balance=format_maybe_cents(a.balance),
        frozen=a.freeze is not None,
        frozen_text=freeze_text(a.freeze),
        href=href,
    )


@dataclasses.dataclass
class AdminCompanyRow:
    """One company of a player, on an account's admin page."""

    name: str
    ticker: str
    status: str  # "public" or "private"
    products: str
    cash: str
    href: str  # its account's admin page


def admin_company_row(c, href: str) -> AdminCompanyRow:
    """A ``companies.CompanyView``."""
    return AdminCompanyRow(
        name=c.name,
        ticker=c.ticker,
        status="public" if c.is_public else "private",
        products=f"{c.products:,} product{'s' if c.products != 1 else ''}",
        cash=format_cents(c.balance),
        href=href,
    )


@dataclasses.dataclass
class FindingRow:
    """One thing the archive's proof found."""

    what: str
    detail: str
    bad: bool  # a problem (a file not on this machine is reported, not a problem)


def archive_findings(check) -> list[FindingRow]:
    """What the archive check found, one row each: checkpoints that differ from their archived entries,
    files that changed, lost entries or are not on this machine, ids in both tables."""
    rows = [
        FindingRow(
            what=f"checkpoint of account {c.account_id} ({c.name})",
            detail=f"{format_cents(c.checkpoint)} over {c.checkpoint_entries:,} entries; its archived "
            f"entries: {format_cents(c.archived)} over {c.archived_entries:,}",
            bad=True,
        )
        for c in check.checkpoint_drifts
    ]
    rows += [
        FindingRow(
            what=f"file {f.name}",
            bad=f.problem,
            detail=f"{f.status}: {f.entries:,} entries written, {f.archived:,} archived, {f.restored:,} restored",
        )
        for f in check.files
        if f.status != "ok"
    ]
    if check.in_both:
        rows.append(FindingRow(what="ledger and archive", detail=f"{check.in_both:,} ids are in both", bad=True))
    return rows


def sums_text(report: dict) -> str:
    """The reconciliation's money check in words: every balance and every cached balance sum to zero."""
    balances, cache = report.get("balances_total"), report.get("cache_total")
    if balances is None or cache is None:  # a report from before the sums were checked
        return "sums not checked"
    if balances == cache == 0:
        return "balances sum to $0.00"
    return f"balances sum to {format_cents(balances)} and caches to {format_cents(cache)}, not $0.00"


def money_check_text(totals) -> str:
    """The sums at a "Reconcile now", as the admin page says them."""
    if totals.zero:
        return "Every balance and every cached balance sum to $0.00: no cent created or lost."
    return (
        f"The balances sum to {format_cents(totals.balances)} and the cached balances to "
        f"{format_cents(totals.cache)}, not $0.00: a cent was created or lost."
    )


def report_text(r: dict | None) -> str:
    """The last reconciliation report in one line."""
    if not r:
        return "No reconciliation yet."
    return (
        f"{when(r['created_at'])} UTC ({r['source']}): {r['accounts_checked']:,} accounts, "
        f"{r['drifts_found']} drifted, {r['repaired']} repaired, {r['archive_problems']} archive problems, "
        f"{sums_text(r)}, {r['duration_ms']} ms"
    )


@dataclasses.dataclass
class FigureRow:
    key: str  # the figure's element id: admin-<key>
    label: str
    value: str


def overview_figures(o) -> list[FigureRow]:
    return [
        FigureRow("players", "Players", f"{o.players:,}"),
        FigureRow("companies", "Companies", f"{o.companies:,}"),
        FigureRow("accounts", "Accounts", f"{o.accounts:,}"),
        FigureRow("entries", "Ledger entries", f"{o.ledger_entries:,}"),
        FigureRow("archived", "Archived entries", f"{o.archived_entries:,}"),
        FigureRow("circulation", "Money in circulation", format_cents(o.money_in_circulation)),
    ]


@dataclasses.dataclass
class RunRow:
    at: str
    rows: str
    units: str
    unbatched: str


RUNS_EXPLAINED = (
    "Entries: what the run wrote to the ledger, 2 for each company that sold (its sales and its production "
    "costs), however many units it sold. Unit by unit: what posting every unit on its own would have written "
    "(2 a unit)."
)


def run_row(r) -> RunRow:
    return RunRow(at=when(r.at), rows=str(r.ledger_rows), units=f"{r.units:,}", unbatched=f"{2 * r.units:,}")


@dataclasses.dataclass
class JobRow:
    name: str
    title: str
    interval: str
    last: str
    status: str
    summary: str
    duration: str
    next: str
    paused: bool


def duration_text(seconds: int) -> str:
    """An interval in words, its two largest units: 600 -> "10 min", 86,400 -> "1 day", 5,400 -> "1 hour
    30 min", 45 -> "45 s", 0 -> "none"."""
    seconds = int(seconds)
    if seconds <= 0:
        return "none"
    parts = []
    for size, one, many in ((86_400, "day", "days"), (3_600, "hour", "hours"), (60, "min", "min"), (1, "s", "s")):
        n, seconds = divmod(seconds, size)
        if n:
            parts.append(f"{n:,} {one if n == 1 else many}")
    return " ".join(parts[:2])


def took_text(ms: int | None) -> str:
    """How long a run took: "8 ms", "1.2 s", "2 min 5 s" ("" when it has not finished)."""
    if ms is None:
        return ""
    if ms < 1_000:
        return f"{ms:,} ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f} s"
    return duration_text(round(ms / 1000))


def job_row(j) -> JobRow:
    return JobRow(
        name=j.name,
        title=j.title,
        interval=duration_text(j.interval_seconds),
        last=when(j.last_started),
        status=j.status,
        summary=j.summary,
        duration=took_text(j.duration_ms),
        next="paused" if j.paused else when(j.next_run),
        paused=j.paused,
    )


@dataclasses.dataclass
class AuditRow:
    at: str
    who: str
    action: str
    target: str
    result: str
    ok: bool


# What each audited action did, in words (the audit log stores the action's short name).
ACTION_LABELS = {
    "recalculate": "Recalculated from the ledger",
    "sync": "Synced from the cached balance",
    "recalculate_all": "Recalculated every balance",
    "sync_all": "Synced every balance",
    "reconcile": "Reconciled",
    "run job": "Ran now",
    "pause job": "Paused",
    "resume job": "Resumed",
    "marketplace settings": "Changed the marketplace settings",
    "freeze player": "Froze",
    "unfreeze player": "Unfroze",
    "freeze company": "Froze",
    "unfreeze company": "Unfroze",
    "ledger archive": "Archived ledger entries",
    "ledger restore": "Restored ledger entries",
}


def audit_row(a) -> AuditRow:
    return AuditRow(
        at=when(a.at),
        who=a.admin,
        action=ACTION_LABELS.get(a.action, a.action),
        target=a.target,
        result=a.result,
        ok=a.ok,
    )


# --------------------------------------------------------------------------- one stock's page


@dataclasses.dataclass
class HolderRow:
    name: str
    shares: str
    percent: str


def holder_row(h) -> HolderRow:
    return HolderRow(name=h.name, shares=f"{h.shares:,}", percent=percent_text(h.percent_permille))


@dataclasses.dataclass
class TradeRow:
    at: str
    side: str
    shares: str
    price: str
    total: str
    account: str


def trade_row(t) -> TradeRow:
    return TradeRow(
        at=t.at.strftime("%m-%d %H:%M:%S"),
        side=t.side,
        shares=f"{t.shares:,}",
        price=format_price(t.price_micros),
        total=format_cents(t.total_cents),
        account=t.account_name,
    )


def trade_account_options(views) -> list[dict[str, str]]:
    """The trade box's account choices: value (the id) and label (name and balance)."""
    return [{"value": str(v.id), "label": f"{v.name} · {format_cents(v.balance)}"} for v in views]


# --------------------------------------------------------------------------- the leaderboard


@dataclasses.dataclass
class PlayerRankRow:
    rank: int
    name: str
    worth: str
    cash: str
    held: str
    owed: str
    debt: str = ""


def player_rank_rows(players) -> list[PlayerRankRow]:
    return [
        PlayerRankRow(
            rank=i,
            name=p.username,
            worth=format_cents(p.net_worth),
            cash=format_cents(p.cash),
            held=format_cents(p.holdings),
            owed=format_cents(p.owed),
            debt=format_cents(p.debt),
        )
        for i, p in enumerate(players, 1)
    ]


@dataclasses.dataclass
class CompanyRankRow:
    rank: int
    id: int
    name: str
    ticker: str
    value: str


def company_rank_rows(companies) -> list[CompanyRankRow]:
    return [
        CompanyRankRow(rank=i, id=c.company_id, name=c.name, ticker=c.ticker, value=format_cents(c.value))
        for i, c in enumerate(companies, 1)
    ]


@dataclasses.dataclass
class ProductRankRow:
    rank: int
    name: str
    ticker: str
    units: str
    revenue: str


def product_rank_rows(products) -> list[ProductRankRow]:
    return [
        ProductRankRow(rank=i, name=p.name, ticker=p.ticker, units=f"{p.units_sold:,}", revenue=format_cents(p.revenue))
        for i, p in enumerate(products, 1)
    ]


# --------------------------------------------------------------------------- shareholders (issue 16)


@dataclasses.dataclass
class DividendItem:
    at: str
    per_share: str
    paid: str
    holders: str
    price: str  # "$1.0230 -> $0.9999": the price before and after (ex-dividend)


def dividend_item(r) -> DividendItem:
    """From ``dividends.DividendRow``."""
    return DividendItem(
        at=when(r.at),
        per_share=format_price(r.per_share_micros),
        paid=format_cents(r.paid_cents),
        holders=f"{r.holders_paid:,}",
        price=f"{format_price(r.price_before_micros)} -> {format_price(r.price_after_micros)}",
    )


@dataclasses.dataclass
class PayeeItem:
    name: str
    shares: str
    amount: str


def dividend_preview(plan, *, shown: int = 8) -> tuple[str, list[PayeeItem]]:
    """The owner's preview of ``dividends.DividendPlan``: one sentence, and the largest holders' lines."""
    rest = f" and {plan.holders_paid - shown:,} more" if plan.holders_paid > shown else ""
    kept = f"; {format_cents(plan.remainder_cents)} of rounding stays with {plan.name}" if plan.remainder_cents else ""
    text = (
        f"{format_price(plan.per_share_micros)} a share on {plan.shares:,} shares: {plan.holders_paid:,} "
        f"holder{'s' if plan.holders_paid != 1 else ''} get {format_cents(plan.paid_cents)}{kept}. "
        f"The price goes from {format_price(plan.price_before_micros)} to {format_price(plan.price_after_micros)} "
        "(the cash paid out no longer backs the shares)."
    )
    payees = [
        PayeeItem(name=p.name, shares=f"{p.shares:,}", amount=format_cents(p.amount_cents))
        for p in plan.payees[:shown]
        if p.amount_cents > 0
    ]
    return text + (f" Largest holders shown{rest}." if rest else ""), payees


def dividend_note(view) -> str:
    """What the owner's dividend card says before anything is typed (``dividends.OwnerView``)."""
    if not view.public:
        return ""
    if view.holders == 0:
        return "Nobody holds shares outside the treasury yet: there is nobody to pay."
    wait = f" The next may be declared from {when(view.next_at)} UTC." if view.next_at else ""
    most = (
        f"at most {format_cents(view.max_cents)} now"
        if view.max_cents >= view.min_cents
        else "nothing now (your shares come last: its cash is what buying back the others' shares would cost)"
    )
    return (
        f"Paid to the {view.holders:,} holder{'s' if view.holders != 1 else ''} of the {view.shares_out:,} shares "
        f"outside the treasury, pro rata, you through the shares you hold: at least {format_cents(view.min_cents)}, "
        f"{most}, one every {view.cooldown_seconds // 60:,} minutes.{wait}"
    )


@dataclasses.dataclass
class ListingItem:
    id: int = 0
    company_id: int = 0
    name: str = ""
    ticker: str = ""
    seller: str = ""
    buyer: str = ""  # the one player it is offered to ("" for anyone)
    price: str = ""
    cash: str = ""
    cash_cents: int = 0
    revenue: str = ""
    market_cap: str = ""  # "" for a private company
    public: bool = False
    expires: str = ""
    status: str = ""
    mine: bool = False


def listing_item(r) -> ListingItem:
    """From ``company_sales.ListingRow``."""
    return ListingItem(
        id=r.id,
        company_id=r.company_id,
        name=r.name,
        ticker=r.ticker,
        seller=r.seller,
        buyer=r.buyer,
        price=format_cents(r.price_cents),
        cash=format_cents(r.cash_cents),
        cash_cents=r.cash_cents,
        revenue=format_cents(r.revenue_30d),
        market_cap=format_cents(r.market_cap_cents) if r.public else "",
        public=r.public,
        expires=f"{when(r.expires_at)} UTC",
        status=r.status,
        mine=r.mine,
    )


LISTING_STATUS = {"open": "For sale", "sold": "Sold", "withdrawn": "Withdrawn", "expired": "Expired"}
STEP_STATUS = {
    "open": "waiting for an answer",
    "accepted": "accepted",
    "rejected": "rejected",
    "countered": "countered",
    "withdrawn": "withdrawn",
    "cancelled": "cancelled",
    "expired": "expired",
}


@dataclasses.dataclass
class ThreadItem:
    """One buyer's negotiation over a listing, as one side sees it."""

    key: str = ""
    listing_id: int = 0
    company_id: int = 0
    name: str = ""
    ticker: str = ""
    seller: str = ""
    buyer: str = ""
    asking: str = ""
    status: str = ""  # the listing's: For sale, Sold, Withdrawn, Expired
    steps: list[str] = dataclasses.field(default_factory=list)  # "bob offered $4,000.00 (countered)", oldest first
    open_id: int = 0  # the step the reader may answer (0: none)
    open_price: str = ""
    mine_open_id: int = 0  # the reader's own open step (they may withdraw it)
    pay_account_id: str = ""
    can_offer: bool = False  # a buyer with nothing open on a listing still for sale
    cash: str = ""  # the company's cash now
    cash_cents: int = 0


def thread_item(t, *, as_buyer: bool) -> ThreadItem:
    """From ``company_sales.Thread``, for its buyer (``as_buyer``) or its seller."""
    steps = [
        f"{s.proposer} {'offered' if i == 0 else 'countered with'} {format_cents(s.price_cents)}"
        f"{f' from {s.pay_account}' if s.pay_account else ''}: {STEP_STATUS.get(s.status, s.status)} "
        f"({when(s.at)} UTC)"
        for i, s in enumerate(t.steps)
    ]
    mine = t.open_step is not None and t.open_step.by_buyer == as_buyer
    theirs = t.open_step is not None and not mine
    return ThreadItem(
        key=f"{t.listing_id}-{t.buyer_id}",
        listing_id=t.listing_id,
        company_id=t.company_id,
        name=t.name,
        ticker=t.ticker,
        seller=t.seller,
        buyer=t.buyer,
        asking=format_cents(t.asking_cents),
        status=LISTING_STATUS.get(t.listing_status, t.listing_status),
        steps=steps,
        open_id=t.open_step.id if theirs else 0,
        open_price=format_cents(t.open_step.price_cents) if theirs else "",
        mine_open_id=t.open_step.id if mine else 0,
        pay_account_id=str(t.pay_account_id or ""),
        can_offer=as_buyer and t.open_step is None and t.listing_status == "open",
        cash=format_cents(t.cash_cents),
        cash_cents=t.cash_cents,
    )


@dataclasses.dataclass
class GiftItem:
    at: str
    company_id: int
    ticker: str
    shares: str
    price: str
    giver: str
    receiver: str
    direction: str  # for the player: "Received", "Given", "Moved" (between their own accounts)


def gift_item(g) -> GiftItem:
    """From ``share_transfers.GiftRow``."""
    return GiftItem(
        at=when(g.at),
        company_id=g.company_id,
        ticker=g.ticker,
        shares=f"{g.shares:,}",
        price=format_price(g.price_micros),
        giver=g.from_name,
        receiver=g.to_name,
        direction={"in": "Received", "out": "Given", "within": "Moved"}.get(g.direction, ""),
    )


def trades_with_gifts(trades, gifts, *, limit: int = 20) -> list[TradeRow]:
    """A stock's latest trades and gifts of its shares, newest first: a gift reads as side "transfer", no money,
    "giver -> receiver" as the account."""
    rows = [(t.at, trade_row(t)) for t in trades]
    rows += [
        (
            g.at,
            TradeRow(
                at=g.at.strftime("%m-%d %H:%M:%S"),
                side="transfer",
                shares=f"{g.shares:,}",
                price=format_price(g.price_micros),
                total="no money",
                account=f"{g.from_name} -> {g.to_name}",
            ),
        )
        for g in gifts
    ]
    rows.sort(key=lambda r: r[0], reverse=True)
    return [r for _, r in rows[:limit]]


# --------------------------------------------------------------------------- chart axes


@dataclasses.dataclass
class ChartAxes:
    """A chart's axes, worked out on the server so that every label differs from its neighbours: round tick values
    (``*_ticks``), what each says (``*_labels``, keyed by the tick's value as text: the chart's tick formatter
    looks them up) and the range shown (``*_domain``). x is time in epoch milliseconds; y is money."""

    x_ticks: list[int] = dataclasses.field(default_factory=list)
    x_labels: dict[str, str] = dataclasses.field(default_factory=dict)
    x_domain: list[int] = dataclasses.field(default_factory=lambda: [0, 1])
    y_ticks: list[int] = dataclasses.field(default_factory=list)
    y_labels: dict[str, str] = dataclasses.field(default_factory=dict)
    y_domain: list[int] = dataclasses.field(default_factory=lambda: [0, 1])


# Time between two x ticks, in seconds: the first that gives at most a handful of ticks over the span.
TIME_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800)
TIME_STEPS += (604800, 1209600, 2592000)
EPOCH = datetime(1970, 1, 1)


def epoch_ms(at: datetime) -> int:
    """A naive UTC datetime as epoch milliseconds (what the charts' x values are)."""
    return int((at - EPOCH).total_seconds() * 1000)


def time_ticks(lo_ms: int, hi_ms: int, *, count: int = 6) -> tuple[list[int], dict[str, str], list[int]]:
    """x ticks over [lo, hi] (epoch ms) at a round step (UTC), at most ``count`` of them, labelled as precisely as
    the step needs: seconds under a minute, the date once the span passes a day. Returns (ticks, labels, domain).
    A span of a moment (one point) gets a minute around it."""
    if hi_ms - lo_ms < 2000:
        lo_ms, hi_ms = lo_ms - 30_000, hi_ms + 30_000
    span = (hi_ms - lo_ms) / 1000
    step = next((x for x in TIME_STEPS if span / x <= count - 1), TIME_STEPS[-1])
    first = -(-lo_ms // (step * 1000)) * step * 1000
    ticks = list(range(first, hi_ms + 1, step * 1000))
    if step < 60:
        fmt = "%H:%M:%S"
    elif step >= 86400:
        fmt = "%m-%d"
    elif span >= 86400:
        fmt = "%m-%d %H:%M"
    else:
        fmt = "%H:%M"
    labels = {str(v): datetime.fromtimestamp(v / 1000, UTC).strftime(fmt) for v in ticks}
    return ticks, labels, [lo_ms, hi_ms]


def value_ticks(
    lo: int, hi: int, label: Callable[[int, int], str], *, count: int = 5, floor: int | None = 0
) -> tuple[list[int], dict[str, str], list[int]]:
    """y ticks: round values (1, 2 or 5 x a power of ten) from at or below ``lo`` to at or above ``hi``, about
    ``count`` of them, with room around the line (a flat line gets a band of 2% around it); never below ``floor``
    when the values are not. ``label(value, step)`` says a tick. Returns (ticks, labels, domain)."""
    lo, hi = min(lo, hi), max(lo, hi)
    if hi == lo:
        half = max(abs(lo) // 100, 1)
        lo, hi = lo - half, hi + half
    pad = (hi - lo) // 10
    low = lo - pad if floor is None or lo - pad >= floor or lo < floor else floor
    high = hi + pad
    step, k = 1, 0
    while True:
        step = next((m * 10**k for m in (1, 2, 5) if m * 10**k * (count - 1) >= high - low), 0)
        if step:
            break
        k += 1
    first, last = (low // step) * step, -(-high // step) * step
    ticks = list(range(first, last + 1, step))
    return ticks, {str(v): label(v, step) for v in ticks}, [first, last]


def price_label(micros: int, step: int) -> str:
    """A share price tick ($0.5110): at least two decimals, and as many as the step needs (up to the micro)."""
    decimals = next(d for d in range(2, 7) if step % 10 ** (6 - d) == 0)
    return format_micros(micros, decimals)


def cents_label(cents: int, step: int) -> str:
    """A money tick: whole dollars when the step is ($10,000), else cents ($10,000.50)."""
    return format_cents(cents, whole=step % 100 == 0)


def chart_axes(points: list[tuple[int, int]], label: Callable[[int, int], str], *, x_count: int = 6) -> ChartAxes:
    """The axes of a line over ``points`` (epoch ms, value)."""
    if not points:
        return ChartAxes()
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x_ticks, x_labels, x_domain = time_ticks(min(xs), max(xs), count=x_count)
    y_ticks, y_labels, y_domain = value_ticks(min(ys), max(ys), label)
    return ChartAxes(x_ticks, x_labels, x_domain, y_ticks, y_labels, y_domain)


def line_points(points, text: Callable[[int], str], key: str) -> list[dict]:
    """(naive UTC time, value) points as a line chart's data: x in epoch ms, the value under ``key``, and what the
    tooltip says (``at``, ``<key>_text``)."""
    return [
        {"ts": epoch_ms(at), key: v, "at": at.strftime("%Y-%m-%d %H:%M:%S UTC"), f"{key}_text": text(v)}
        for at, v in points
    ]


BAR_LABELS = {"runs": "%H:%M", "hours": "%H:00", "days": "%m-%d"}


def bar_rows(bars, scale: str) -> list[dict]:
    """The company chart's bars (services.companies.Bar) as chart data: a label per bar at the chart's scale, the
    cents, and what the tooltip says."""
    return [
        {
            "label": b.at.strftime(BAR_LABELS[scale]),
            "at": b.at.strftime("%Y-%m-%d %H:%M UTC"),
            "revenue": b.revenue,
            "costs": b.costs,
            "revenue_text": format_cents(b.revenue),
            "costs_text": format_cents(b.costs),
        }
        for b in bars
    ]


def money_axis(values: list[int]) -> ChartAxes:
    """The y axis of bars of money from $0 (the x axis is the bars' own labels)."""
    y_ticks, y_labels, y_domain = value_ticks(0, max([0, *values]) or 100, cents_label)
    return ChartAxes(y_ticks=y_ticks, y_labels=y_labels, y_domain=y_domain)


# --------------------------------------------------------------------------- loans and purchases

LOAN_STATUS_LABELS = {"open": "Open", "repaid": "Repaid", "defaulted": "Defaulted"}


def at_text(value: datetime | None) -> str:
    """A moment shown to a player, in UTC (loans' charges and due dates)."""
    return f"{value:%Y-%m-%d %H:%M} UTC" if value else ""


def loan_terms_text(rate_bps: int, term_days: int) -> str:
    return (
        f"{format_rate(rate_bps)} a day on what you owe, compounded, charged as each day starts (the first when you "
        f"borrow); due {term_days} day{'s' if term_days != 1 else ''} after you borrow."
    )


def loan_quote_text(q) -> str:
    """What taking a loan means, before the player confirms (a ``loans.Quote``)."""
    return (
        f"You receive {format_cents(q.amount)} in your personal account now, and owe "
        f"{format_cents(q.owed_now)} with the first day's interest. If you repay nothing, "
        f"you will owe {format_cents(q.owed_at_due)} on {at_text(q.due_at)}, when the loan is due."
    )


def next_interest_text(loan) -> str:
    """The next daily charge of an open loan (a ``loans.LoanView``): '$52.50 on 2026-12-01 20:34 UTC'."""
    if loan is None or loan.next_charge_at is None:
        return ""
    return f"{format_cents(loan.next_interest)} on {at_text(loan.next_charge_at)}"


@dataclasses.dataclass
class LoanItem:
    id: int
    status: str
    principal: str
    interest: str
    repaid: str
    collected: str
    written_off: str
    taken: str
    closed: str


def loan_item(v) -> LoanItem:
    return LoanItem(
        id=v.id,
        status=LOAN_STATUS_LABELS.get(v.status, v.status),
        principal=format_cents(v.principal),
        interest=format_cents(v.interest),
        repaid=format_cents(v.repaid),
        collected=format_cents(v.collected),
        written_off=format_cents(v.written_off),
        taken=at_text(v.taken_at),
        closed=at_text(v.closed_at),
    )


def purchase_preview(units: int, name: str, price_cents: int, account_name: str, balance: int) -> str:
    total = units * price_cents
    return (
        f"{units:,} x {name} at {format_cents(price_cents)} = {format_cents(total)} from {account_name}; "
        f"it will have {format_cents(balance - total)}."
    )


@dataclasses.dataclass
class CollectionRowItem:
    key: str
    account: str
    product: str
    company: str
    ticker: str
    units: str
    paid: str
    last: str


def collection_item(r) -> CollectionRowItem:
    return CollectionRowItem(
        key=f"{r.account_id}-{r.product_id}",
        account=r.account_name,
        product=r.product_name,
        company=r.company_name,
        ticker=r.ticker,
        units=f"{r.units:,}",
        paid=format_cents(r.paid),
        last=when(r.last_at),
    )
