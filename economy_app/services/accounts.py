"""Accounts: the mint, a player's personal account, balances and transfers."""

from __future__ import annotations

import csv
import dataclasses
import functools
import io
import logging
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, case, func, literal_column, select
from sqlmodel import Session

from economy_app import config
from economy_app.db import DriverRead, again_if_disconnected, like_prefix
from economy_app.models import LEDGER_TYPES, Account, Balance, BalanceHistory, Company, LedgerEntry, User
from economy_app.money import format_decimal
from economy_app.services import guide as guides
from economy_app.services import ledger, live, loans, net_worth, ownership, shareholders
from economy_app.services._tx import unit
from economy_app.services.errors import (
    AccountNotFound,
    DebtOutstanding,
    EconomyError,
    InvalidAmount,
    InvalidInput,
    NotAccountOwner,
    UserNotFound,
)

log = logging.getLogger(__name__)

accounts_t = Account.__table__
balances_t = Balance.__table__

SYSTEM_ACCOUNT_NAME = "Economy (system)"
MAX_TRANSFER_DESCRIPTION = 200
# The accounts money is spent from and sent to: never the mint, never a loan account (a loan is repaid on
# the loans page, and only the loan service moves money out of one).
SPENDING_KINDS = ("personal", "company")

# Prebuilt hot-path statements (see ledger.py).
_BALANCE = select(balances_t.c.balance).where(balances_t.c.account_id == bindparam("id"))
_CACHED_BALANCE = select(accounts_t.c.balance).where(accounts_t.c.id == bindparam("id"))
# Whom a transfer's two accounts belong to, and their kinds: one statement for both.
_OWNERS_AND_KINDS = DriverRead(
    select(accounts_t.c.id, accounts_t.c.owner_id, accounts_t.c.kind).where(
        accounts_t.c.id.in_([bindparam("a"), bindparam("b")])
    )
)


@dataclass(frozen=True)
class AccountView:
    id: int
    name: str
    kind: str
    owner_id: int | None
    company_id: int | None
    balance: int
    last_updated: datetime | None
    balance_from_cache: bool  # True when the balances row is missing (drift)
    frozen_reason: str | None = None  # an admin froze it (services/moderation.py): it sends nothing


def system_account_id(s: Session) -> int:
    """The mint's account id, creating the account on first use."""
    with unit(s, write=True):
        found = s.execute(select(accounts_t.c.id).where(accounts_t.c.kind == "system")).scalar()
        if found is not None:
            return found
        ledger.open_account(s, name=SYSTEM_ACCOUNT_NAME, kind="system")
        return s.execute(select(accounts_t.c.id).where(accounts_t.c.kind == "system")).scalar_one()


def find_system_account_id(s: Session) -> int | None:
    """The mint's account id, or None before it exists (reads only)."""
    with unit(s, write=False):
        row = _SYSTEM_ID.first_in(s, {})
    return row[0] if row else None


# Read by every dashboard and history page: compiled once, sent straight to the driver.
_SYSTEM_ID = DriverRead(select(accounts_t.c.id).where(accounts_t.c.kind == "system"))


def _personal(s: Session, user_id: int) -> Account | None:
    return s.execute(select(Account).where(Account.owner_id == user_id, Account.kind == "personal")).scalars().first()


def initialize_account(s: Session, user_id: int) -> Account:
    """The player's personal account, funded with $10,000 by the mint on first call.

    Idempotent: a second call returns the same account and moves nothing.
    """
    with unit(s, write=True):
        existing = _personal(s, user_id)
        if existing is not None:
            return existing
        user = s.get(User, user_id)
        if user is None:
            raise UserNotFound(f"User {user_id} does not exist.")
        mint = system_account_id(s)
        account_id = ledger.open_account(s, name=user.username, kind="personal", owner_id=user_id)
        if account_id is not None:
            ledger.post(
                s,
                from_account_id=mint,
                to_account_id=account_id,
                amount=config.INITIAL_BALANCE_CENTS,
                type="initial_deposit",
                description="Welcome to the economy",
                idempotency_key=f"initial_deposit:user:{user_id}",
            )
        s.expire_all()
        account = _personal(s, user_id)
        assert account is not None
        return account


def get_balance(s: Session, account_id: int) -> int:
    """The balance in cents from the ``balances`` table. Never reads the ledger.

    If the balances row is missing (drift an operator must repair) the cached
    ``accounts.balance`` is returned and a warning is logged.
    """
    with unit(s, write=False):
        conn = s.connection()
        value = conn.execute(_BALANCE, {"id": account_id}).scalar()
        if value is not None:
            return value
        cached = conn.execute(_CACHED_BALANCE, {"id": account_id}).scalar()
    if cached is None:
        raise AccountNotFound(f"Account {account_id} does not exist.")
    log.warning("balances row missing for account %s: served the cached accounts.balance", account_id)
    return cached


def list_accounts(s: Session, user_id: int) -> list[AccountView]:
    """The player's accounts with their balances, in one query (personal first)."""
    with unit(s, write=False):
        return [AccountView(*r) for r in _LIST_ACCOUNTS.all_in(s, {"user_id": user_id})]


# Read on every page that shows a balance: compiled once, sent straight to the driver (db.DriverRead).
_LIST_ACCOUNTS = DriverRead(
    select(
        accounts_t.c.id,
        accounts_t.c.name,
        accounts_t.c.kind,
        accounts_t.c.owner_id,
        accounts_t.c.company_id,
        func.coalesce(balances_t.c.balance, accounts_t.c.balance).label("balance"),
        balances_t.c.last_updated,
        balances_t.c.account_id.is_(None).label("balance_from_cache"),
        case((accounts_t.c.frozen_at.is_not(None), func.coalesce(accounts_t.c.frozen_reason, "")), else_=None).label(
            "frozen_reason"
        ),
    )
    .select_from(accounts_t)
    .outerjoin(balances_t, balances_t.c.account_id == accounts_t.c.id)
    .where(accounts_t.c.owner_id == bindparam("user_id"))
    .order_by(case((accounts_t.c.kind == "personal", 0), else_=1), accounts_t.c.id)
)
# Its columns are AccountView's fields in order: a view is made from the result's tuple as it is.
if [c.name for c in _LIST_ACCOUNTS.statement.selected_columns] != [f.name for f in dataclasses.fields(AccountView)]:
    raise RuntimeError("_LIST_ACCOUNTS' columns must be AccountView's fields, in order")


def transfer(
    s: Session,
    *,
    actor_id: int,
    from_account_id: int,
    to_account_id: int,
    amount: int,
    description: str | None = None,
    idempotency_key: str | None = None,
) -> LedgerEntry:
    """Send money from an account the actor owns. Replaying ``idempotency_key`` sends once. While the actor owes
    the bank, nothing they own may pay another player or put money into a public company (``loans.refuse_if_owing``)."""
    ledger.check_amount(amount)
    if amount > config.max_transfer_cents():
        raise InvalidAmount("Amount is above the maximum for one transfer.")
    if description is not None:
        description = description.strip() or None
        if description is not None and len(description) > MAX_TRANSFER_DESCRIPTION:
            raise InvalidInput(f"Description is limited to {MAX_TRANSFER_DESCRIPTION} characters.")
    with unit(s, write=True):
        # The companies whose accounts these are, locked before reading whom they belong to (ownership.py).
        locked = ownership.lock_companies_of_accounts(s, [from_account_id, to_account_id])
        found = {r.id: r for r in _OWNERS_AND_KINDS.all_in(s, {"a": from_account_id, "b": to_account_id})}
        source = found.get(from_account_id)
        if source is None:
            raise AccountNotFound(f"Account {from_account_id} does not exist.")
        if source.kind == "system" or source.owner_id != actor_id:
            raise NotAccountOwner("You can only send money from your own accounts.")
        if source.kind not in SPENDING_KINDS:
            raise InvalidInput("Money can't be sent from a loan account: repay the loan on the Loans page.")
        target = found.get(to_account_id)
        if target is None:
            raise AccountNotFound(f"Account {to_account_id} does not exist.")
        if target.kind == "system":
            raise InvalidInput("Money can't be sent to the system account.")
        if target.kind not in SPENDING_KINDS:
            raise InvalidInput("Money can't be sent to a loan account: a loan is repaid by its borrower.")
        # A public company's cash belongs to the business and its shareholders (the one rule, in one place). Only a
        # company's account can be one: a personal source, with no company row locked above, is not asked.
        if any(c.account_id == from_account_id for c in locked.values()):
            shareholders.check_outflow(s, from_account_id, to_account_id, amount, idempotency_key=idempotency_key)
        try:
            if target.owner_id != actor_id:
                loans.refuse_if_owing(s, actor_id)
            elif loans.is_public_company_account(s, to_account_id):
                loans.refuse_if_owing(s, actor_id, loans.PAY_PUBLIC_REFUSED)
        except DebtOutstanding:
            # A replay answers as before (the key is looked up only when the debt would refuse: post() looks again).
            if not ledger.key_seen(s, idempotency_key):
                raise
        return ledger.post(
            s,
            from_account_id=from_account_id,
            to_account_id=to_account_id,
            amount=amount,
            type="transfer",
            description=description,
            idempotency_key=idempotency_key,
        )


@dataclass(frozen=True)
class Sent:
    """What the send page shows after a click: the refusal (None: the money went) and the balances as they are."""

    error: EconomyError | None
    accounts: list[AccountView]


def send(
    s: Session,
    user_id: int,
    *,
    from_account_id: int,
    to_account_id: int,
    amount: int,
    description: str | None,
    idempotency_key: str,
) -> Sent:
    """The send page's click: ``transfer`` and then the player's accounts, in one call (one trip from the page to
    the service threads). A refusal is returned, not raised, with the balances that explain it. The accounts are
    read again on a new connection if the one the transfer used died after its commit: the money went, and the
    page says so."""
    try:
        transfer(
            s,
            actor_id=user_id,
            from_account_id=from_account_id,
            to_account_id=to_account_id,
            amount=amount,
            description=description,
            idempotency_key=idempotency_key,
        )
        error = None
    except EconomyError as e:
        error = e
    return Sent(error, again_if_disconnected(functools.partial(list_accounts, s, user_id)))


@dataclass(frozen=True)
class Received:
    ledger_id: int
    user_id: int  # the owner of the receiving account
    account_id: int
    amount: int
    sender: str  # the sending account's name (a player's username, or a company's name)
    type: str = "transfer"  # one of live.RECEIVED_TYPES
    description: str = ""


def transfers_received(s: Session, ledger_ids: list[int]) -> list[Received]:
    """Who received each of these entries (transfers, dividends, companies' prices: ``live.RECEIVED_TYPES``), how
    much and from whom (for the receivers' live toasts)."""
    if not ledger_ids:
        return []
    ledger_t = LedgerEntry.__table__
    sender = accounts_t.alias("sender")
    q = (
        select(
            ledger_t.c.id.label("ledger_id"),
            accounts_t.c.owner_id,
            accounts_t.c.id,
            ledger_t.c.amount,
            sender.c.name,
            ledger_t.c.type,
            ledger_t.c.description,
        )
        .select_from(ledger_t)
        .join(accounts_t, accounts_t.c.id == ledger_t.c.to_account_id)
        .join(sender, sender.c.id == ledger_t.c.from_account_id)
        .where(
            ledger_t.c.id.in_(ledger_ids),
            ledger_t.c.type.in_(live.RECEIVED_TYPES),
            accounts_t.c.owner_id.is_not(None),
        )
        .order_by(ledger_t.c.id)
    )
    with unit(s, write=False):
        return [
            Received(
                ledger_id=r.ledger_id,
                user_id=r.owner_id,
                account_id=r.id,
                amount=r.amount,
                sender=r.name,
                type=r.type,
                description=r.description or "",
            )
            for r in s.execute(q)
        ]


# --------------------------------------------------------------------------- player views

SEARCH_LIMIT = 20
CSV_MAX_ROWS = 50_000
# Entry types in words (the history page, its filter and the CSV): only types something posts.
TYPE_NAMES = {
    "initial_deposit": "Welcome deposit",
    "transfer": "Transfer",
    "stock_purchase": "Stock purchase",
    "stock_sale": "Stock sale",
    "marketplace_batch": "Marketplace batch",
    "product_purchase": "Purchase",
    "product_cost": "Production costs",
    "adjustment": "Adjustment",
    "loan_disbursement": "Loan",
    "loan_interest": "Loan interest",
    "loan_repayment": "Loan repayment",
    "loan_default": "Loan collected",
    "loan_writeoff": "Loan written off",
    "dividend": "Dividend",
    "company_sale": "Company sale",
}
CSV_COLUMNS = [
    "Entry",
    "Date (UTC)",
    "Account",
    "Type",
    "Counterpart",
    "Description",
    "Amount",
    "Balance after",
    "Units",
]


@dataclass(frozen=True)
class Recipient:
    account_id: int
    name: str
    kind: str
    owner_username: str | None
    owner_display_name: str | None
    ticker: str | None = None


def exact_names(r: Recipient) -> set[str]:
    """What a person may type in full to mean this recipient (lower-case): a player's username; a company's name
    or ticker."""
    if r.kind == "personal":
        return {(r.owner_username or r.name).lower()}
    return {r.name.lower(), *([r.ticker.lower()] if r.ticker else [])}


def search_recipients(s: Session, query: str, *, limit: int = SEARCH_LIMIT) -> list[Recipient]:
    """Accounts money can be sent to: a player's username, a company's name or its ticker starting
    with ``query``. Bounded to ``limit`` (at most 20) rows; the mint is never offered. The exact matches (what
    ``exact_names`` holds equal to ``query``, case aside) come first, before the limit: a name typed in full is
    always offered, however many names it prefixes, so the page's pick of the one exact match is never made
    among look-alikes alone."""
    query = (query or "").strip()
    if not query:
        return []
    limit = max(1, min(limit, SEARCH_LIMIT))
    params = {"pattern": like_prefix(query), "typed": query.lower(), "limit": limit}
    with unit(s, write=False):
        return [
            Recipient(
                account_id=r.id,
                name=r.name,
                kind=r.kind,
                owner_username=r.username,
                owner_display_name=r.display_name,
                ticker=r.ticker,
            )
            for r in _SEARCH.all_in(s, params)
        ]


def _search_statement():
    users_t = User.__table__
    companies_t = Company.__table__
    pattern = bindparam("pattern")
    typed = bindparam("typed")
    # What was typed in full (a username, a company's name or ticker) comes first.
    exact = ((accounts_t.c.kind == "personal") & (func.lower(users_t.c.username) == typed)) | (
        (accounts_t.c.kind == "company")
        & ((func.lower(accounts_t.c.name) == typed) | (func.lower(companies_t.c.ticker) == typed))
    )
    return (
        select(
            accounts_t.c.id,
            accounts_t.c.name,
            accounts_t.c.kind,
            users_t.c.username,
            users_t.c.display_name,
            companies_t.c.ticker,
        )
        .select_from(accounts_t)
        .outerjoin(users_t, users_t.c.id == accounts_t.c.owner_id)
        .outerjoin(companies_t, companies_t.c.account_id == accounts_t.c.id)
        .where(accounts_t.c.kind.in_([literal_column(f"'{kind}'") for kind in SPENDING_KINDS]))  # (no expanding IN)
        .where(
            (func.lower(users_t.c.username).like(pattern, escape="\\") & (accounts_t.c.kind == "personal"))
            | func.lower(accounts_t.c.name).like(pattern, escape="\\")
            | func.lower(companies_t.c.ticker).like(pattern, escape="\\")
        )
        .order_by(case((exact, 0), else_=1), func.lower(accounts_t.c.name), accounts_t.c.id)
        .limit(bindparam("limit"))
    )


_SEARCH = DriverRead(_search_statement())  # every recipient search (each keystroke's): compiled once


def owned_account_ids(s: Session, user_id: int) -> list[int]:
    with unit(s, write=False):
        return [r[0] for r in _OWNED_IDS.all_in(s, {"user_id": user_id})]


# Every history page reads one of these: built once.
_OWNED_IDS = DriverRead(
    select(accounts_t.c.id).where(accounts_t.c.owner_id == bindparam("user_id")).order_by(accounts_t.c.id)
)
_OWNER_OF = select(accounts_t.c.owner_id).where(accounts_t.c.id == bindparam("account_id"))


def require_owned(s: Session, user_id: int, account_id: int) -> None:
    """Refuse another player's account with the same message as a missing one (no existence leak)."""
    with unit(s, write=False):
        owner = s.execute(_OWNER_OF, {"account_id": account_id}).first()
    if owner is None or owner.owner_id != user_id:
        raise AccountNotFound("Account not found.")


@dataclass(frozen=True)
class BalancePoint:
    at: datetime
    balance: int


def balance_series(s: Session, user_id: int, account_id: int, *, points: int = 200) -> list[BalancePoint]:
    """The account's balance after each of its last ``points`` postings, oldest first (from balance_history)."""
    require_owned(s, user_id, account_id)
    history_t = BalanceHistory.__table__
    with unit(s, write=False):
        rows = s.execute(
            select(history_t.c.created_at, history_t.c.balance_after)
            .where(history_t.c.account_id == account_id)
            .order_by(history_t.c.created_at.desc(), history_t.c.id.desc())
            .limit(max(1, min(points, 1000)))
        ).all()
    return [BalancePoint(at=r.created_at, balance=r.balance_after) for r in reversed(rows)]


@dataclass(frozen=True)
class Dashboard:
    accounts: list[AccountView]
    # cash in every account of the player + holdings - what their companies owe shareholders - their debt
    net_worth: int
    holdings: int
    owed: int  # what buying back the outstanding shares of the player's companies would cost them
    personal_balance: int
    personal_account_id: int | None
    recent: list[ledger.HistoryRow]
    system_account_id: int | None  # the mint's account: its rows in ``recent`` are the system's
    debt: int = 0  # what the player owes the bank (their loan accounts hold it as negative balances)
    loan: loans.LoanView | None = None  # the open loan: next interest, due date
    unpayable: int = 0  # of ``holdings``, what their companies could not pay for now (stock_views.unpayable_cents)
    guide: guides.Guide | None = None  # "How to play": the steps the player has done


def dashboard(s: Session, user_id: int, *, recent: int = 10) -> Dashboard:
    """Everything the dashboard shows, for the logged-in player only: one read transaction (one snapshot, one
    BEGIN and COMMIT instead of one per part)."""
    with unit(s, write=False, snapshot=True):
        views = list_accounts(s, user_id)
        personal = next((v for v in views if v.kind == "personal"), None)
        rows = ledger.history(s, [v.id for v in views], limit=recent) if views else []
        held = net_worth.player_holdings_value(s, user_id)  # (what the accounts listed above hold)
        owed = net_worth.owed_to_shareholders(s, user_id)
        from economy_app.services import stock_views  # (stock_views reads accounts: import here, not at the top)

        return Dashboard(
            accounts=views,
            net_worth=sum(v.balance for v in views) + held - owed,  # a loan account's balance is minus the debt
            holdings=held,
            owed=owed,
            personal_balance=personal.balance if personal else 0,
            personal_account_id=personal.id if personal else None,
            recent=rows,
            system_account_id=find_system_account_id(s),
            debt=-sum(v.balance for v in views if v.kind == "loan"),
            loan=loans.current(s, user_id),
            unpayable=stock_views.unpayable_cents(stock_views.portfolio(s, user_id)) if held else 0,
            guide=guides.guide(s, user_id),
        )


def player_history(
    s: Session,
    user_id: int,
    account_id: int | None = None,
    *,
    before: ledger.Cursor | None = None,
    limit: int = 50,
    types: list[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[ledger.HistoryRow]:
    """A page of the player's history: one of their accounts, or all of them (``account_id=None``)."""
    if account_id is None:
        ids = owned_account_ids(s, user_id)
    else:
        require_owned(s, user_id, account_id)
        ids = [account_id]
    _check_types(types)
    return ledger.history(s, ids, before=before, limit=limit, types=types, since=since, until=until)


def _check_types(types: list[str] | None) -> None:
    if types and (unknown := set(types) - set(LEDGER_TYPES)):
        raise InvalidInput(f"Unknown entry type: {', '.join(sorted(unknown))}.")


@dataclass(frozen=True)
class HistoryPage:
    """The history page as it opens: the player's accounts (for its filter), the mint's account id (its rows get
    the system badge) and the first rows. ``rows`` is None when the account asked for is not the player's."""

    accounts: list[AccountView]
    system_account_id: int | None
    rows: list[ledger.HistoryRow] | None


def history_page(
    s: Session,
    user_id: int,
    account_id: int | None = None,
    *,
    limit: int = 50,
    types: list[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> HistoryPage:
    """``player_history``'s first page with what the page shows around it, in one read transaction: the
    player's own accounts are listed anyway, so they are the ownership check (no statement of its own)."""
    _check_types(types)
    with unit(s, write=False, snapshot=True):
        views = list_accounts(s, user_id)
        mint = find_system_account_id(s)
        ids = [v.id for v in views]
        if account_id is not None and account_id not in ids:
            return HistoryPage(views, mint, None)
        wanted = ids if account_id is None else [account_id]
        rows = ledger.history(s, wanted, limit=limit, types=types, since=since, until=until) if wanted else []
        return HistoryPage(views, mint, rows)


def history_csv(
    s: Session,
    user_id: int,
    account_id: int | None = None,
    *,
    types: list[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    max_rows: int = CSV_MAX_ROWS,
) -> tuple[str, int, bool]:
    """The filtered history as CSV text: (csv, rows, truncated), in words people read (the account's name, the
    type's name) with the account's balance after each entry (from ``balance_history``: one indexed read per
    page). Amounts and balances are exact decimal strings; every other text cell a spreadsheet would run as a
    formula is neutralised (``csv_cell``)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    names = {v.id: v.name for v in list_accounts(s, user_id)}
    history_t = BalanceHistory.__table__
    count, before, truncated = 0, None, False
    while True:
        page = player_history(s, user_id, account_id, before=before, limit=500, types=types, since=since, until=until)
        with unit(s, write=False):
            after = {
                (r.ledger_id, r.account_id): r.balance_after
                for r in s.execute(
                    select(history_t.c.ledger_id, history_t.c.account_id, history_t.c.balance_after).where(
                        history_t.c.ledger_id.in_({r.id for r in page} or {-1})
                    )
                )
            }
        for r in page:
            if count == max_rows:
                truncated = True
                break
            balance = after.get((r.id, r.account_id))
            writer.writerow(
                [
                    r.id,
                    r.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                    csv_cell(names.get(r.account_id, f"#{r.account_id}")),
                    TYPE_NAMES.get(r.type, r.type),
                    csv_cell(r.counterpart_name),
                    csv_cell(r.description or ""),
                    format_decimal(r.signed_amount),
                    format_decimal(balance) if balance is not None else "",
                    r.batch_count or "",
                ]
            )
            count += 1
        if truncated or len(page) < 500:
            break
        before = ledger.cursor(page[-1])
    return out.getvalue(), count, truncated


# Where a spreadsheet starts a cell (the text's start, or after a ';' or a tab: a spreadsheet whose list separator
# is ';', as in many locales, or a tab-separated read splits the unquoted text there), then blanks, then a
# character that starts a formula (=, +, -, @, or a tab or carriage return that some strip first).
_FORMULA_START = re.compile(r"(?:^|(?<=[;\t]))( *)(?=[=+\-@\t\r])")


def csv_cell(text: str) -> str:
    """A text cell no spreadsheet runs as a formula: wherever a cell may start (the start of the text, or after
    a ';' or a tab) and, after any blanks, a formula character follows, an apostrophe goes before it (OWASP's CSV
    injection advice, for every list separator). Player-chosen names and descriptions go through here."""
    return _FORMULA_START.sub(r"\1'", text)
