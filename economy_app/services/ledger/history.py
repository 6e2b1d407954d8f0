"""The history read model: one account's (or several accounts') ledger, newest first, keyset-paged."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime

from sqlalchemy import DateTime, Integer, bindparam, case, select, tuple_, union_all
from sqlalchemy.orm import aliased
from sqlmodel import Session

from economy_app.db import DriverRead
from economy_app.models import Account, LedgerEntry
from economy_app.services._tx import unit

accounts_t = Account.__table__
ledger_t = LedgerEntry.__table__

MAX_HISTORY_PAGE = 500


@dataclass(frozen=True)
class HistoryRow:
    """One ledger entry seen from one account: ``signed_amount`` < 0 when money left it."""

    id: int
    created_at: datetime
    account_id: int
    type: str
    amount: int
    signed_amount: int
    counterpart_account_id: int
    counterpart_name: str
    description: str | None
    batch_count: int | None


Cursor = tuple[datetime, int, int]  # (created_at, ledger id, account id) of the last row shown


def history(
    s: Session,
    account_id: int | Sequence[int],
    *,
    before: int | Cursor | None = None,
    limit: int = 50,
    types: Iterable[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[HistoryRow]:
    """The ledger of one account (or several), newest first: ``limit`` rows after ``before``.

    Rows are in time order, (created_at, id) descending, then account ascending:
    a transfer between two of the listed accounts shows once per side. Keyset
    pagination: pass ``cursor(last_row)`` as ``before`` for the next page (for a
    single account a ledger id works too). Each side of each account is read
    through its own (account, created_at, id) index, newest first and bounded by
    ``limit``, so a page, or a date range (``since`` inclusive, ``until``
    exclusive, naive UTC), costs the same at any ledger size. Counterpart names
    come from the same query.
    """
    limit = max(1, min(int(limit), MAX_HISTORY_PAGE))
    account_ids = sorted({account_id} if isinstance(account_id, int) else set(account_id))
    if not account_ids:
        return []
    types = list(types) if types else None
    with unit(s, write=False):
        if isinstance(before, int):  # one account: every row older than that entry
            at = s.execute(select(ledger_t.c.created_at).where(ledger_t.c.id == before)).scalar()
            before = None if at is None else (at, before, max(account_ids) + 1)
        params: dict = {"lim": limit}
        for i, acc in enumerate(account_ids):
            params[f"acc{i}"] = acc
            if before is not None:
                # After (created_at, id, account) in (desc, desc, asc) order: for an account listed after
                # the cursor's, the cursor's own entry comes next too ((at, id) <= bound, i.e. < (at, id + 1)).
                params[f"before_id{i}"] = before[1] + (1 if acc > before[2] else 0)
        if before is not None:
            params["before_at"] = before[0]
        if since is not None:
            params["since"] = since
        if until is not None:
            params["until"] = until
        if types:
            params["types"] = types
        shape = (len(account_ids), before is not None, since is not None, until is not None)
        if types:  # (a list of types is expanded when the statement runs: through SQLAlchemy)
            return [HistoryRow(*r) for r in s.execute(_history_statement(*shape, True), params)]
        return [HistoryRow(*r) for r in _history_read(*shape).all_in(s, params)]


@functools.lru_cache(maxsize=256)
def _history_read(accounts: int, paged: bool, since: bool, until: bool) -> DriverRead:
    """The history query of one shape without a type filter (every page's, every dashboard's), compiled once and
    sent straight to the driver."""
    return DriverRead(_history_statement(accounts, paged, since, until, False))


@functools.lru_cache(maxsize=256)
def _history_statement(accounts: int, paged: bool, since: bool, until: bool, typed: bool):
    """The history query for one shape, built once: every value is a bound parameter (see ``history``).
    Each side of each account reads its own (account, created_at, id) index, newest first."""
    lim = bindparam("lim", type_=Integer)
    sides = []
    for i in range(accounts):
        acc = bindparam(f"acc{i}", type_=Integer)
        for own in (ledger_t.c.from_account_id, ledger_t.c.to_account_id):
            q = select(ledger_t.c.id, acc.label("account_id")).where(own == acc)
            if paged:
                q = q.where(
                    tuple_(ledger_t.c.created_at, ledger_t.c.id)
                    < tuple_(bindparam("before_at", type_=DateTime), bindparam(f"before_id{i}", type_=Integer))
                )
            if since:
                q = q.where(ledger_t.c.created_at >= bindparam("since", type_=DateTime))
            if until:
                q = q.where(ledger_t.c.created_at < bindparam("until", type_=DateTime))
            if typed:
                q = q.where(ledger_t.c.type.in_(bindparam("types", expanding=True)))
            q = q.order_by(ledger_t.c.created_at.desc(), ledger_t.c.id.desc()).limit(lim)
            sides.append(select(q.subquery()))
    picked = union_all(*sides).subquery("picked")
    other = aliased(accounts_t)
    outgoing = ledger_t.c.from_account_id == picked.c.account_id
    statement = (
        select(
            ledger_t.c.id,
            ledger_t.c.created_at,
            picked.c.account_id,
            ledger_t.c.type,
            ledger_t.c.amount,
            case((outgoing, -ledger_t.c.amount), else_=ledger_t.c.amount).label("signed_amount"),
            other.c.id.label("counterpart_account_id"),
            other.c.name.label("counterpart_name"),
            ledger_t.c.description,
            ledger_t.c.batch_count,
        )
        .join(picked, picked.c.id == ledger_t.c.id)
        .join(other, other.c.id == case((outgoing, ledger_t.c.to_account_id), else_=ledger_t.c.from_account_id))
        .order_by(ledger_t.c.created_at.desc(), ledger_t.c.id.desc(), picked.c.account_id)
        .limit(lim)
    )
    # Its columns are HistoryRow's fields in order: a row is made from the result's tuple as it is.
    if [c.name for c in statement.selected_columns] != [f.name for f in fields(HistoryRow)]:
        raise RuntimeError("the history statement's columns must be HistoryRow's fields, in order")
    return statement


def cursor(row: HistoryRow) -> Cursor:
    """The keyset cursor after ``row`` (pass it as ``before``)."""
    return (row.created_at, row.id, row.account_id)


def cursor_text(c: Cursor) -> str:
    """A cursor as plain text (for page state): '2026-11-21T10:05:09.123456|42|7'."""
    return f"{c[0].isoformat()}|{c[1]}|{c[2]}"


def parse_cursor(text: str) -> Cursor:
    """The inverse of ``cursor_text``; raises ValueError on anything else."""
    at, entry, account = text.split("|")
    return (datetime.fromisoformat(at), int(entry), int(account))
