"""Moderation: freezing a player's accounts or one company's account while an admin looks into an abuse, and
what the admin sees of an account and its owner (the account lookup, an account's own admin page).

A frozen account sends nothing: every posting *from* it is refused with "This account is frozen by an admin:
<reason>." by the posting package itself (``services/ledger/posting.py``, ``post`` and ``post_many``, on the
rows they lock), so no path that moves money can slip past it. Money still comes in (a sale of shares it held
is refused, but a refund or the marketplace paying a company is not). Its company lists no product, its products
do not sell (the marketplace run leaves frozen companies out of its plan), and a frozen player founds no
company. Reading is never refused: a frozen player still logs in and sees everything.

Who may freeze (admins), and the audit row in the freeze's own transaction, are ``services/operations.py``
(``freeze``); the rules are here. A freeze locks what a posting locks, in the order a posting locks it (the
balance rows with their accounts rows, by account id), so a posting in flight commits before the freeze, and a
posting after it is refused; no deadlock with a posting, a repair or a marketplace run.

A freeze has a scope. "Freeze player" freezes every account the player holds that is not frozen yet ("player");
"Freeze company" gives the company's account a freeze of its own ("company"), over a player freeze if there is
one. "Unfreeze player" lifts the player's freezes only: a company frozen on its own stays frozen, and the result
says so (with its reason). "Unfreeze company" lifts the company's own freeze: while its owner is frozen the
company stays frozen with them (it takes the player's freeze back), and a company frozen only with its owner is
refused (lift the player). Every freeze and unfreeze of a player or of their companies first locks the player's
``users`` row, so they apply one at a time, each reading what the one before it left.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import select, update
from sqlmodel import Session

from economy_app.db import ids_in
from economy_app.models import Account, Balance, Company, User, utcnow
from economy_app.services import ledger, live
from economy_app.services._tx import lock_user, unit
from economy_app.services.errors import (
    AccountFrozen,
    AccountNotFound,
    CompanyNotFound,
    InvalidInput,
    UserNotFound,
)
from economy_app.services.ledger.posting import FROZEN_COLUMNS, LOCK_BOTH

accounts_t = Account.__table__
balances_t = Balance.__table__
companies_t = Company.__table__
users_t = User.__table__

REASON_MIN, REASON_MAX = 3, 200
RECENT_ENTRIES = 3  # the lookup's last few entries per account


PLAYER, COMPANY = "player", "company"  # a freeze's scope: with every account of the player, or a company's own
FREEZE_COLUMNS = (*FROZEN_COLUMNS, accounts_t.c.frozen_by, accounts_t.c.frozen_scope)


@dataclass(frozen=True)
class Freeze:
    """An account's freeze: when, why, by whom, and whose ("player": with every account of its owner; "company":
    the company's own)."""

    at: datetime
    reason: str
    by: str
    scope: str = PLAYER


def freeze_of(row) -> Freeze | None:
    """The freeze of a row carrying ``FREEZE_COLUMNS`` (None: not frozen)."""
    if row.frozen_at is None:
        return None
    scope = COMPANY if row.frozen_scope == COMPANY else PLAYER
    return Freeze(at=row.frozen_at, reason=row.frozen_reason or "", by=row.frozen_by or "", scope=scope)


def clean_reason(reason) -> str:
    """A reason is required: 3 to 200 characters of text, spaces around it trimmed."""
    text = reason.strip() if isinstance(reason, str) else ""
    text = re.sub(r"\s+", " ", text)
    if not REASON_MIN <= len(text) <= REASON_MAX:
        raise InvalidInput(f"Give a reason of {REASON_MIN} to {REASON_MAX} characters.")
    return text


# --------------------------------------------------------------------------- what a freeze applies to


@dataclass(frozen=True)
class Target:
    """What an admin freezes or unfreezes: every account of a player, or one company's account."""

    kind: str  # "player" or "company"
    id: int
    label: str  # for people and the audit log: "player alice", "company Acme Rockets (ACME)"
    owner_id: int
    account_ids: tuple[int, ...]


def target(s: Session, kind: str, target_id: int) -> Target:
    """The accounts a freeze of ``kind`` ("player" or "company") ``target_id`` applies to."""
    with unit(s, write=False):
        if kind == "player":
            user = s.execute(select(users_t.c.id, users_t.c.username).where(users_t.c.id == target_id)).first()
            if user is None:
                raise UserNotFound("Player not found.")
            ids = s.execute(
                select(accounts_t.c.id)
                .where(accounts_t.c.owner_id == user.id, accounts_t.c.kind != "system")
                .order_by(accounts_t.c.id)
            ).scalars()
            return Target("player", user.id, f"player {user.username}", user.id, tuple(ids))
        if kind == "company":
            c = s.execute(
                select(
                    companies_t.c.id,
                    companies_t.c.name,
                    companies_t.c.ticker,
                    companies_t.c.owner_id,
                    companies_t.c.account_id,
                ).where(companies_t.c.id == target_id)
            ).first()
            if c is None or c.account_id is None:
                raise CompanyNotFound("Company not found.")
            return Target("company", c.id, f"company {c.name} ({c.ticker})", c.owner_id, (c.account_id,))
    raise InvalidInput("Freeze a player or a company.")


def _lock(s: Session, account_ids) -> list:
    """Lock the accounts' balance rows with their accounts rows, by account id: exactly what a posting locks, in
    its order (PostgreSQL ``FOR NO KEY UPDATE``; SQLite's write unit holds the database's write lock). Then read
    the accounts as committed now (a statement after the locks: under READ COMMITTED, a fresh snapshot)."""
    ids = list(account_ids)
    if s.get_bind().dialect.name == "postgresql":
        s.execute(
            select(balances_t.c.account_id)
            .join(accounts_t, accounts_t.c.id == balances_t.c.account_id)
            .where(ids_in(s, balances_t.c.account_id, ids))
            .order_by(balances_t.c.account_id)
            .with_for_update(**LOCK_BOTH)
        ).all()
    return s.execute(
        select(accounts_t.c.id, accounts_t.c.name, accounts_t.c.company_id, *FREEZE_COLUMNS)
        .where(ids_in(s, accounts_t.c.id, ids))
        .order_by(accounts_t.c.id)
    ).all()


@dataclass(frozen=True)
class FreezeChange:
    """What a freeze or an unfreeze did: the accounts frozen or unfrozen by it (names), and, in words, what it
    left frozen by another freeze or made a company's own (for the admin's toast and the audit row)."""

    changed: list[str]
    notes: list[str]


def stays_note(name: str, f: Freeze) -> str:
    """Why an account stays frozen after an unfreeze: the freeze that stays, its reason, and what lifts it."""
    if f.scope == COMPANY:
        return f"{name} stays frozen on its own ({f.reason}): Unfreeze company lifts it."
    return f"{name} stays frozen with its owner ({f.reason}): Unfreeze player lifts it."


def _write(s: Session, rows, freeze: Freeze | None) -> None:
    values = (
        dict(frozen_at=freeze.at, frozen_reason=freeze.reason, frozen_by=freeze.by[:40], frozen_scope=freeze.scope)
        if freeze is not None
        else dict(frozen_at=None, frozen_reason=None, frozen_by=None, frozen_scope=None)
    )
    ids = [r.id for r in rows]
    s.execute(update(accounts_t).where(ids_in(s, accounts_t.c.id, ids)).values(**values))
    live.touch(s, *(live.account(i) for i in ids), live.ECONOMY)
    companies_changed = [r.company_id for r in rows if r.company_id is not None]
    if companies_changed:  # their stock halts or trades again: the stock pages and lists redraw
        live.touch(s, *(live.company(c) for c in companies_changed), live.MARKET)


def set_frozen(s: Session, t: Target, *, freeze: Freeze | None) -> FreezeChange:
    """Freeze (``freeze``) or unfreeze (None) the target's accounts, inside the caller's write unit, by the rules of
    scope in this module's docstring. The player (a company's owner) is locked first: their company foundings and
    every other freeze of theirs wait; then their accounts, as a posting locks them. Refused when nothing would
    change, saying why."""
    lock_user(s, t.owner_id)  # a founding by the player waits, then sees the freeze; so does any other freeze of theirs
    live.touch(s, live.user(t.owner_id))
    if t.kind == PLAYER:
        t = target(s, PLAYER, t.id)  # every account they hold now, under that lock
        return _set_player(s, t, _lock(s, t.account_ids), freeze)
    [row] = _lock(s, t.account_ids)
    return _set_company(s, t, row, freeze)


def _set_player(s: Session, t: Target, rows, freeze: Freeze | None) -> FreezeChange:
    if freeze is not None:  # every account not frozen yet; a company frozen on its own keeps its freeze
        change = [r for r in rows if r.frozen_at is None]
        if not change:
            raise InvalidInput(f"The {t.label} is already frozen.")
        _write(s, change, replace(freeze, scope=PLAYER))
        return FreezeChange([r.name for r in change], [])
    frozen = [(r, freeze_of(r)) for r in rows if r.frozen_at is not None]
    change = [r for r, f in frozen if f.scope == PLAYER]
    notes = [stays_note(r.name, f) for r, f in frozen if f.scope == COMPANY]
    if not change:
        raise InvalidInput(" ".join([f"The {t.label} is not frozen.", *notes]))
    _write(s, change, None)
    return FreezeChange([r.name for r in change], notes)


def _set_company(s: Session, t: Target, row, freeze: Freeze | None) -> FreezeChange:
    current = freeze_of(row)
    if freeze is not None:  # the company's own freeze, over its owner's if it has one
        if current is not None and current.scope == COMPANY:
            raise InvalidInput(f"The {t.label} is already frozen.")
        _write(s, [row], replace(freeze, scope=COMPANY))
        notes = [f"{row.name} was frozen with its owner; it now has a freeze of its own."] if current else []
        return FreezeChange([row.name], notes)
    if current is None:
        raise InvalidInput(f"The {t.label} is not frozen.")
    if current.scope == PLAYER:
        raise InvalidInput(f"{row.name} is frozen with its owner ({current.reason}): Unfreeze player lifts it.")
    owners = _player_freeze(s, t.owner_id)
    if owners is not None:  # the owner is frozen: the company stays frozen with them
        _write(s, [row], owners)
        return FreezeChange([], [stays_note(row.name, owners)])
    _write(s, [row], None)
    return FreezeChange([row.name], [])


def _player_freeze(s: Session, user_id: int) -> Freeze | None:
    """The player's own freeze (on their personal account), read under their ``users`` lock (every freeze of
    theirs takes it first, so none is in flight)."""
    row = s.execute(
        select(*FREEZE_COLUMNS).where(accounts_t.c.owner_id == user_id, accounts_t.c.kind == "personal")
    ).first()
    f = freeze_of(row) if row is not None else None
    return f if f is not None and f.scope == PLAYER else None


def new_freeze(reason, by: str, now: datetime | None = None) -> Freeze:
    return Freeze(at=now or utcnow(), reason=clean_reason(reason), by=by)


# --------------------------------------------------------------------------- checks outside the posting


def refuse_if_frozen(s: Session, account_id: int) -> None:
    """Refuse an action of a frozen account that moves no money of its own (a listing, a founding, selling the
    shares it holds). Call it inside the action's unit; for a sale, after ``ledger.post`` locked the account's
    rows, so a freeze committing meanwhile is seen."""
    row = s.execute(select(*FROZEN_COLUMNS).where(accounts_t.c.id == account_id)).first()
    if row is not None and row.frozen_at is not None:
        raise AccountFrozen(row.frozen_reason or "", [account_id])


def refuse_frozen_player(s: Session, user_id: int) -> None:
    """A player whose personal account is frozen founds nothing."""
    account = s.execute(
        select(accounts_t.c.id).where(accounts_t.c.owner_id == user_id, accounts_t.c.kind == "personal")
    ).scalar()
    if account is not None:
        refuse_if_frozen(s, account)


def refuse_frozen_company(s: Session, company_id: int) -> None:
    """A company whose account is frozen lists nothing."""
    account = s.execute(select(companies_t.c.account_id).where(companies_t.c.id == company_id)).scalar()
    if account is not None:
        refuse_if_frozen(s, account)


# --------------------------------------------------------------------------- what the admin sees


@dataclass(frozen=True)
class AccountFacts:
    """An account as the admin sees it: its owner and company, its freeze."""

    account_id: int
    name: str
    kind: str
    owner_id: int | None
    owner: str  # the owner's username ("" for the system)
    company_id: int | None
    company: str  # "Acme Rockets (ACME)" for a company's account
    freeze: Freeze | None


def _facts_query():
    return (
        select(
            accounts_t.c.id,
            accounts_t.c.name,
            accounts_t.c.kind,
            accounts_t.c.owner_id,
            users_t.c.username,
            companies_t.c.id.label("company_id"),
            companies_t.c.name.label("company_name"),
            companies_t.c.ticker,
            *FREEZE_COLUMNS,
        )
        .select_from(accounts_t)
        .outerjoin(users_t, users_t.c.id == accounts_t.c.owner_id)
        .outerjoin(companies_t, companies_t.c.account_id == accounts_t.c.id)
    )


def account_facts(s: Session, account_ids) -> dict[int, AccountFacts]:
    """Owner, company and freeze of each of ``account_ids`` (one query)."""
    ids = sorted(set(account_ids))
    if not ids:
        return {}
    with unit(s, write=False):
        rows = s.execute(_facts_query().where(ids_in(s, accounts_t.c.id, ids))).all()
    return {
        r.id: AccountFacts(
            account_id=r.id,
            name=r.name,
            kind=r.kind,
            owner_id=r.owner_id,
            owner=r.username or "",
            company_id=r.company_id,
            company=f"{r.company_name} ({r.ticker})" if r.company_id is not None else "",
            freeze=freeze_of(r),
        )
        for r in rows
    }


def account_label(facts: AccountFacts | None, account_id: int) -> str:
    """An account in words, for the audit log and toasts: "alice's personal account", "Acme Rockets (ACME),
    alice's company", "the system account"."""
    if facts is None:
        return f"account #{account_id} (gone)"
    if facts.kind == "system":
        return "the system account"
    if facts.kind == "company" and facts.company:
        return f"{facts.company}, {facts.owner}'s company" if facts.owner else facts.company
    return f"{facts.owner}'s personal account" if facts.owner else facts.name


def label_of(s: Session, account_id: int) -> str:
    return account_label(account_facts(s, [account_id]).get(account_id), account_id)


@dataclass(frozen=True)
class FoundAccount:
    """One account of the lookup: its three copies, owner and company, freeze, and last few entries."""

    copies: object  # reconciliation.AccountCopies
    facts: AccountFacts
    recent: list[ledger.HistoryRow]


def found_accounts(s: Session, copies: list, *, recent: int = RECENT_ENTRIES) -> list[FoundAccount]:
    """The lookup's matches (``reconciliation.find_accounts``) with who owns them, their freeze and their last
    ``recent`` entries (one indexed history read per account: at most the lookup's 20)."""
    facts = account_facts(s, [c.account_id for c in copies])
    return [
        FoundAccount(copies=c, facts=facts[c.account_id], recent=ledger.history(s, c.account_id, limit=recent))
        for c in copies
        if c.account_id in facts
    ]


@dataclass(frozen=True)
class OwnedAccount:
    id: int
    name: str
    kind: str
    balance: int | None  # the primary balance (None: its row is missing)
    company: str
    freeze: Freeze | None


@dataclass(frozen=True)
class Owner:
    """A player as the admin sees them: who, since when, and every account they hold (personal, companies)."""

    id: int
    username: str
    display_name: str
    role: str
    joined: datetime
    accounts: list[OwnedAccount]

    @property
    def frozen(self) -> bool:
        """Every account of the player is frozen (nothing left for "Freeze player" to freeze)."""
        return bool(self.accounts) and all(a.freeze is not None for a in self.accounts)

    @property
    def player_frozen(self) -> bool:
        """Some account carries the player's freeze (what "Unfreeze player" lifts)."""
        return any(a.freeze is not None and a.freeze.scope == PLAYER for a in self.accounts)


def owner(s: Session, user_id: int) -> Owner:
    with unit(s, write=False):
        user = s.execute(select(users_t).where(users_t.c.id == user_id)).first()
        if user is None:
            raise UserNotFound("Player not found.")
        rows = s.execute(
            select(
                accounts_t.c.id,
                accounts_t.c.name,
                accounts_t.c.kind,
                balances_t.c.balance,
                companies_t.c.name.label("company_name"),
                companies_t.c.ticker,
                *FREEZE_COLUMNS,
            )
            .select_from(accounts_t)
            .outerjoin(balances_t, balances_t.c.account_id == accounts_t.c.id)
            .outerjoin(companies_t, companies_t.c.account_id == accounts_t.c.id)
            .where(accounts_t.c.owner_id == user_id, accounts_t.c.kind != "system")
            .order_by((accounts_t.c.kind != "personal"), accounts_t.c.id)
        ).all()
    return Owner(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        joined=user.created_at,
        accounts=[
            OwnedAccount(
                id=r.id,
                name=r.name,
                kind=r.kind,
                balance=r.balance,
                company=f"{r.company_name} ({r.ticker})" if r.company_name is not None else "",
                freeze=freeze_of(r),
            )
            for r in rows
        ],
    )


def require_account(s: Session, account_id: int) -> AccountFacts:
    facts = account_facts(s, [account_id]).get(account_id)
    if facts is None:
        raise AccountNotFound("Account not found.")
    return facts
