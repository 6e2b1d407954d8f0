"""The ledger: the only code that writes ``balances``, ``accounts.balance`` and ``ledger``.

``post()`` moves money. In the caller's write unit (one transaction) it:

1. validates the amount (an ``int`` > 0), the type and that the accounts differ;
2. replays an idempotency key seen before (same body: the original entry,
   nothing moves; different body: ``DuplicateRequest``);
3. locks both balance rows in account-id order (PostgreSQL ``FOR UPDATE``; on
   SQLite the unit already holds the write lock from ``BEGIN IMMEDIATE``);
4. debits the source with a conditional update (``balance >= amount``) unless it
   is the system account (the mint), and credits the destination;
5. moves both ``accounts.balance`` caches by the same amounts;
6. inserts the ledger row and one ``balance_history`` row per side.

``post_many()`` is the only other writer: a batch of entries (the marketplace
run's two per selling company) written exactly as that many ``post()`` calls
would write them, by the same rules, in a few set-based statements (one update of
the mint's row, not one per entry).

All statements are SQLAlchemy Core: the hot path builds no ORM objects but the
one it returns. The repair primitives used by the admin tools (set a balance
from the ledger, or from the cache) live here too, for the same reason.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    Integer,
    any_,
    bindparam,
    case,
    func,
    insert,
    literal,
    literal_column,
    select,
    text,
    tuple_,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import aliased
from sqlmodel import Session

from economy_app.models import (
    LEDGER_TYPES,
    Account,
    Balance,
    BalanceHistory,
    LedgerArchive,
    LedgerCheckpoint,
    LedgerEntry,
    utcnow,
)
from economy_app.db import driver_datetime
from economy_app.services import live
from economy_app.services._tx import in_write_unit, unit
from economy_app.services.errors import (
    AccountNotFound,
    AlreadyRunning,
    BalanceRecordMissing,
    DuplicateRequest,
    InsufficientFunds,
    InvalidAmount,
    InvalidInput,
    RestoreConflict,
    SameAccount,
)

accounts_t = Account.__table__
balances_t = Balance.__table__
ledger_t = LedgerEntry.__table__
history_t = BalanceHistory.__table__
checkpoints_t = LedgerCheckpoint.__table__
archive_t = LedgerArchive.__table__

MAX_AMOUNT = 2**62  # far above any real amount, far below BIGINT overflow
MAX_DESCRIPTION = 500
MAX_HISTORY_PAGE = 500


def check_amount(amount) -> int:
    """An amount in cents must be a plain ``int`` above zero (a bool, a fraction or a string is refused)."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise InvalidAmount("Amount must be a whole number of cents.")
    if amount <= 0:
        raise InvalidAmount("Amount must be greater than zero.")
    if amount > MAX_AMOUNT:
        raise InvalidAmount("Amount is too large.")
    return amount


def _entry(row) -> LedgerEntry:
    return LedgerEntry.model_construct(**dict(row._mapping))


# The hot path's statements, built once: executing a prebuilt Core statement on
# the session's connection skips statement construction and the ORM layer.
_b = bindparam
_LOCK = (
    select(balances_t.c.account_id, balances_t.c.balance, accounts_t.c.kind)
    .join(accounts_t, accounts_t.c.id == balances_t.c.account_id)
    .where(balances_t.c.account_id.in_([_b("src"), _b("dst")]))
    .order_by(balances_t.c.account_id)
)
_LOCK_PG = _LOCK.with_for_update(of=balances_t)
_ACCOUNT_EXISTS = select(accounts_t.c.id).where(accounts_t.c.id == _b("id"))
LEDGER_COLUMNS = tuple(c.name for c in ledger_t.columns)
# A key seen before, live or archived: one statement (one snapshot, so an entry moving between the two
# tables at that moment is seen in one of them), two index lookups (ux_ledger_archive_idempotency_key).
_BY_KEY = union_all(
    select(ledger_t).where(ledger_t.c.idempotency_key == _b("key")),
    select(*[archive_t.c[c] for c in LEDGER_COLUMNS]).where(archive_t.c.idempotency_key == _b("key")),
).limit(1)
_KEY_LOCK_PG = select(func.pg_advisory_xact_lock(func.hashtextextended(_b("key"), 0)))
_MINT_DEBIT = (
    update(balances_t)
    .where(balances_t.c.account_id == _b("src"))
    .values(balance=balances_t.c.balance - _b("amount"), last_updated=_b("now"))
    .returning(balances_t.c.balance)
)
_DEBIT = _MINT_DEBIT.where(balances_t.c.balance >= _b("amount"))
_CREDIT = (
    update(balances_t)
    .where(balances_t.c.account_id == _b("dst"))
    .values(balance=balances_t.c.balance + _b("amount"), last_updated=_b("now"))
    .returning(balances_t.c.balance)
)
_CACHES = (
    update(accounts_t)
    .where(accounts_t.c.id.in_([_b("src"), _b("dst")]))
    .values(balance=accounts_t.c.balance + case((accounts_t.c.id == _b("dst"), _b("amount")), else_=-_b("amount")))
)
_ENTRY_COLUMNS = ("from_account_id", "to_account_id", "amount", "type", "description", "batch_count", "product_id",
                  "idempotency_key", "created_at")
_INSERT_ENTRY = insert(ledger_t).values({c: _b(c) for c in _ENTRY_COLUMNS}).returning(ledger_t.c.id)
_INSERT_HISTORY = insert(history_t).values(
    {c: _b(c) for c in ("account_id", "ledger_id", "change", "balance_after", "created_at")})


def _check_entry(from_account_id, to_account_id, amount, type, description, batch_count) -> None:
    """One entry's own rules (``post`` and ``post_many`` alike): the amount, the type, two different
    accounts, the batch count, the description's length."""
    check_amount(amount)
    if type not in LEDGER_TYPES:
        raise InvalidInput(f"Unknown ledger entry type {type!r}.")
    if from_account_id == to_account_id:
        raise SameAccount("You can't send money to the same account.")
    if batch_count is not None and (isinstance(batch_count, bool) or not isinstance(batch_count, int) or batch_count <= 0):
        raise InvalidInput("Batch count must be a positive whole number.")
    if description is not None and len(description) > MAX_DESCRIPTION:
        raise InvalidInput(f"Description is limited to {MAX_DESCRIPTION} characters.")


def _touch_posted(s: Session, from_account_id: int, to_account_id: int, type: str, entry_id: int) -> None:
    """What a posting tells the app's live pages (see ``services/live.py``)."""
    live.touch(s, live.account(from_account_id), live.account(to_account_id), live.ECONOMY,
               *((live.received(entry_id),) if type == "transfer" else ()))


def post(
    s: Session,
    *,
    from_account_id: int,
    to_account_id: int,
    amount: int,
    type: str,
    description: str | None = None,
    batch_count: int | None = None,
    product_id: int | None = None,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> LedgerEntry:
    """Move ``amount`` cents from one account to another. Runs inside the caller's write unit."""
    if not in_write_unit(s):
        raise RuntimeError("ledger.post() must run inside a write unit (services._tx.unit(s, write=True))")
    _check_entry(from_account_id, to_account_id, amount, type, description, batch_count)
    if idempotency_key is not None and not (0 < len(idempotency_key) <= 100):
        raise InvalidInput("Idempotency key must be 1 to 100 characters.")
    now = now or utcnow()
    conn = s.connection()
    postgres = conn.dialect.name == "postgresql"

    if idempotency_key is not None:
        if postgres:
            # Serialise concurrent requests carrying the same key until commit.
            conn.execute(_KEY_LOCK_PG, {"key": idempotency_key})
        prior = conn.execute(_BY_KEY, {"key": idempotency_key}).first()
        if prior is not None:
            same = (prior.from_account_id, prior.to_account_id, prior.amount, prior.type, prior.description) == (
                from_account_id, to_account_id, amount, type, description)
            if not same:
                raise DuplicateRequest("This request was already made with different details.")
            return _entry(prior)

    # Lock the two balance rows in account-id order (a fixed order: no deadlocks).
    ids = {"src": from_account_id, "dst": to_account_id}
    rows = {r.account_id: r for r in conn.execute(_LOCK_PG if postgres else _LOCK, ids)}
    for account_id in (from_account_id, to_account_id):
        if account_id not in rows:
            if conn.execute(_ACCOUNT_EXISTS, {"id": account_id}).first() is None:
                raise AccountNotFound(f"Account {account_id} does not exist.")
            raise BalanceRecordMissing(
                f"Account {account_id} has no balance record; an operator must sync it before it can be used.")
    mint = rows[from_account_id].kind == "system"
    if not mint and rows[from_account_id].balance < amount:
        raise InsufficientFunds("Insufficient funds.")

    moved = {**ids, "amount": amount, "now": now}
    from_after = conn.execute(_MINT_DEBIT if mint else _DEBIT, moved).scalar()
    if from_after is None:  # the conditional update found too little money
        raise InsufficientFunds("Insufficient funds.")
    to_after = conn.execute(_CREDIT, moved).scalar_one()
    conn.execute(_CACHES, moved)
    values = dict(
        from_account_id=from_account_id,
        to_account_id=to_account_id,
        amount=amount,
        type=type,
        description=description,
        batch_count=batch_count,
        product_id=product_id,
        idempotency_key=idempotency_key,
        created_at=now,
    )
    entry_id = conn.execute(_INSERT_ENTRY, values).scalar_one()
    conn.execute(_INSERT_HISTORY, [
        dict(account_id=from_account_id, ledger_id=entry_id, change=-amount, balance_after=from_after, created_at=now),
        dict(account_id=to_account_id, ledger_id=entry_id, change=amount, balance_after=to_after, created_at=now),
    ])
    _touch_posted(s, from_account_id, to_account_id, type, entry_id)
    # Every value was validated above: build the returned row without re-validation.
    return LedgerEntry.model_construct(id=entry_id, **values)


def key_seen(s: Session, idempotency_key: str | None) -> bool:
    """True when an entry with this idempotency key was posted (live or archived): ``post`` would replay it.
    A rule checked before ``post`` lets a replay through to it, so a double click answers like the first."""
    if not idempotency_key:
        return False
    return s.connection().execute(_BY_KEY, {"key": idempotency_key}).first() is not None


@dataclass(frozen=True)
class Posting:
    """One entry for ``post_many``: ``post``'s arguments but the idempotency key and the time."""

    from_account_id: int
    to_account_id: int
    amount: int
    type: str
    description: str | None = None
    batch_count: int | None = None
    product_id: int | None = None


# post_many's set-based statements: every account's net change in one UPDATE each for ``balances`` and the
# caches, the changes passed as one bound value (arrays on PostgreSQL, a JSON array on SQLite), so a batch
# of any size is one statement and one round trip.
_MANY_BALANCES = {
    "postgresql": text(
        "UPDATE balances SET balance = balances.balance + v.delta, last_updated = :now "
        "FROM unnest(CAST(:ids AS BIGINT[]), CAST(:deltas AS BIGINT[]), CAST(:lows AS BIGINT[])) AS v(id, delta, low) "
        "WHERE balances.account_id = v.id AND (v.low IS NULL OR balances.balance + v.low >= 0) "
        "RETURNING balances.account_id, balances.balance"),
    "sqlite": text(
        "UPDATE balances SET balance = balances.balance + v.delta, last_updated = :now "
        "FROM (SELECT json_extract(value, '$[0]') AS id, json_extract(value, '$[1]') AS delta, "
        "json_extract(value, '$[2]') AS low FROM json_each(:changes)) AS v "
        "WHERE balances.account_id = v.id AND (v.low IS NULL OR balances.balance + v.low >= 0) "
        "RETURNING balances.account_id, balances.balance"),
}
_MANY_CACHES = {
    "postgresql": text(
        "UPDATE accounts SET balance = accounts.balance + v.delta "
        "FROM unnest(CAST(:ids AS BIGINT[]), CAST(:deltas AS BIGINT[])) AS v(id, delta) WHERE accounts.id = v.id"),
    "sqlite": text(
        "UPDATE accounts SET balance = accounts.balance + v.delta "
        "FROM (SELECT json_extract(value, '$[0]') AS id, json_extract(value, '$[1]') AS delta "
        "FROM json_each(:changes)) AS v WHERE accounts.id = v.id"),
}
_MANY_BALANCES = {k: q.bindparams(bindparam("now", type_=DateTime))  # the app's own datetime format on SQLite
                  for k, q in _MANY_BALANCES.items()}
_LOCK_MANY = (
    select(balances_t.c.account_id, balances_t.c.balance, accounts_t.c.kind)
    .join(accounts_t, accounts_t.c.id == balances_t.c.account_id)
    .order_by(balances_t.c.account_id)
)
# The ledger rows and the history rows. PostgreSQL: one INSERT ... SELECT FROM unnest(arrays) each, ORDER BY
# the entries' position, so the ids are handed out in that order (the ledger's are read back through
# RETURNING and checked). SQLite: the unit holds the write lock and AUTOINCREMENT numbers rows in insertion
# order: one executemany each (straight to the driver, values already in its types), and the new ledger ids
# read back in id order (SQLite returns a multi-row INSERT's rows in no promised order).
_MANY_ENTRIES_PG = text(
    "INSERT INTO ledger (from_account_id, to_account_id, amount, type, description, batch_count, product_id, "
    "created_at) SELECT v.f, v.t, v.a, v.ty, v.d, v.b, v.p, :now "
    "FROM unnest(CAST(:f AS INTEGER[]), CAST(:t AS INTEGER[]), CAST(:a AS BIGINT[]), CAST(:ty AS VARCHAR[]), "
    "CAST(:d AS VARCHAR[]), CAST(:b AS BIGINT[]), CAST(:p AS INTEGER[])) WITH ORDINALITY AS v(f, t, a, ty, d, b, p, n) "
    "ORDER BY v.n RETURNING ledger.id, ledger.from_account_id, ledger.to_account_id, ledger.amount",
).bindparams(bindparam("now", type_=DateTime))
_MANY_HISTORY_PG = text(
    "INSERT INTO balance_history (account_id, ledger_id, change, balance_after, created_at) "
    "SELECT v.acc, v.lid, v.ch, v.af, :now FROM unnest(CAST(:acc AS INTEGER[]), CAST(:lid AS BIGINT[]), "
    "CAST(:ch AS BIGINT[]), CAST(:af AS BIGINT[])) WITH ORDINALITY AS v(acc, lid, ch, af, n) ORDER BY v.n",
).bindparams(bindparam("now", type_=DateTime))
_MANY_ENTRIES_SQLITE = ("INSERT INTO ledger (from_account_id, to_account_id, amount, type, description, batch_count, "
                        "product_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
_MANY_HISTORY_SQLITE = ("INSERT INTO balance_history (account_id, ledger_id, change, balance_after, created_at) "
                        "VALUES (?, ?, ?, ?, ?)")
_TOP_ENTRY = select(func.coalesce(func.max(ledger_t.c.id), 0))
_ENTRIES_AFTER = (select(ledger_t.c.id, ledger_t.c.from_account_id, ledger_t.c.to_account_id, ledger_t.c.amount)
                  .where(ledger_t.c.id > _b("top")).order_by(ledger_t.c.id))


def post_many(s: Session, entries: Sequence[Posting], *, now: datetime | None = None) -> list[int]:
    """Post ``entries`` in order, exactly as that many ``post()`` calls in one transaction would, in a few
    set-based statements whatever their number. Runs inside the caller's write unit.

    The same rules as ``post``: every entry is validated first; the balance rows of every account involved
    are locked in account-id order (PostgreSQL ``FOR UPDATE``; SQLite's write unit holds the write lock);
    the entries are then played in order against the locked balances, so an entry that would take an
    account (other than the mint) below zero at its point in the sequence refuses the whole batch with
    ``InsufficientFunds``, and **nothing is written** by a refused batch. Then, per account, one net change:
    one UPDATE of ``balances`` for every account at once (conditional: no account below zero at any point
    of the sequence, the mint exempt, checked through RETURNING against the values played), one of the
    caches, the ledger rows (ids in the entries' order) and two ``balance_history`` rows per entry with the
    exact balance after each entry, in order. Live pages hear what ``post`` tells them, per entry. Returns
    the new entries' ids, in the entries' order.

    No idempotency keys: a batch is one caller's transaction (the marketplace run claims its slot)."""
    if not in_write_unit(s):
        raise RuntimeError("ledger.post_many() must run inside a write unit (services._tx.unit(s, write=True))")
    entries = list(entries)
    for e in entries:
        if not isinstance(e, Posting):
            raise InvalidInput("ledger.post_many() takes Posting entries.")
        _check_entry(e.from_account_id, e.to_account_id, e.amount, e.type, e.description, e.batch_count)
    if not entries:
        return []
    now = now or utcnow()
    conn = s.connection()
    dialect = conn.dialect.name
    postgres = dialect == "postgresql"

    ids = sorted({a for e in entries for a in (e.from_account_id, e.to_account_id)})
    lock = _LOCK_MANY.where(_ids_in(s, balances_t.c.account_id, ids))
    rows = {r.account_id: r for r in conn.execute(lock.with_for_update(of=balances_t) if postgres else lock)}
    for account_id in ids:
        if account_id not in rows:
            if conn.execute(_ACCOUNT_EXISTS, {"id": account_id}).first() is None:
                raise AccountNotFound(f"Account {account_id} does not exist.")
            raise BalanceRecordMissing(
                f"Account {account_id} has no balance record; an operator must sync it before it can be used.")

    # Play the entries in order against the locked balances: each side's balance after each entry, and
    # each account's lowest point relative to its start (the conditional update's bound).
    balance = {a: r.balance for a, r in rows.items()}
    mint = {a for a, r in rows.items() if r.kind == "system"}
    low = dict.fromkeys(ids, 0)
    afters: list[tuple[int, int]] = []
    for e in entries:
        if e.from_account_id not in mint and balance[e.from_account_id] < e.amount:
            raise InsufficientFunds("Insufficient funds.")
        balance[e.from_account_id] -= e.amount
        balance[e.to_account_id] += e.amount
        low[e.from_account_id] = min(low[e.from_account_id], balance[e.from_account_id] - rows[e.from_account_id].balance)
        afters.append((balance[e.from_account_id], balance[e.to_account_id]))

    # Every account involved is written (its last_updated too, as post() does), even one whose entries net
    # to zero.
    deltas = [balance[a] - rows[a].balance for a in ids]
    lows = [None if a in mint else low[a] for a in ids]
    if postgres:
        params = {"ids": ids, "deltas": deltas, "lows": lows}
        caches = {"ids": ids, "deltas": deltas}
    else:
        params = {"changes": json.dumps([list(t) for t in zip(ids, deltas, lows, strict=True)])}
        caches = {"changes": json.dumps([list(t) for t in zip(ids, deltas, strict=True)])}
    written = dict(conn.execute(_MANY_BALANCES[dialect], {**params, "now": now}).all())
    if len(written) != len(ids):  # a conditional update found too little money
        raise InsufficientFunds("Insufficient funds.")
    if any(written[a] != balance[a] for a in ids):  # cannot happen under the locks: never write it
        raise RuntimeError("ledger.post_many(): the balances moved under the batch's locks")
    conn.execute(_MANY_CACHES[dialect], caches)

    columns = (
        [e.from_account_id for e in entries], [e.to_account_id for e in entries], [e.amount for e in entries],
        [e.type for e in entries], [e.description for e in entries], [e.batch_count for e in entries],
        [e.product_id for e in entries],
    )
    if postgres:
        params = dict(zip(("f", "t", "a", "ty", "d", "b", "p"), columns, strict=True))
        written_entries = conn.execute(_MANY_ENTRIES_PG, {**params, "now": now}).all()
    else:
        top = conn.execute(_TOP_ENTRY).scalar_one()
        at = driver_datetime(conn, now)
        conn.exec_driver_sql(_MANY_ENTRIES_SQLITE, [(*row, at) for row in zip(*columns, strict=True)])
        written_entries = conn.execute(_ENTRIES_AFTER, {"top": top}).all()
    # The ids follow the entries' order: checked, never assumed (a mismatch rolls the caller's unit back).
    written_entries.sort(key=lambda r: r[0])
    if [tuple(r[1:]) for r in written_entries] != list(zip(columns[0], columns[1], columns[2], strict=True)):
        raise RuntimeError("ledger.post_many(): the ledger rows written do not follow the entries' order")
    entry_ids = [r[0] for r in written_entries]

    # Two balance_history rows per entry (the source's, then the destination's), in the entries' order, with
    # the balance after each entry as played above.
    accounts_, changes, after = [], [], []
    for e, (from_after, to_after) in zip(entries, afters, strict=True):
        accounts_ += (e.from_account_id, e.to_account_id)
        changes += (-e.amount, e.amount)
        after += (from_after, to_after)
    ledger_ids = [i for i in entry_ids for _ in (0, 1)]
    if postgres:
        conn.execute(_MANY_HISTORY_PG, {"acc": accounts_, "lid": ledger_ids, "ch": changes, "af": after, "now": now})
    else:
        conn.exec_driver_sql(_MANY_HISTORY_SQLITE,
                             list(zip(accounts_, ledger_ids, changes, after, [at] * len(after), strict=True)))

    # What as many post() calls would tell the live pages: every account, the economy, each transfer received.
    live.touch(s, *(live.account(a) for a in ids), live.ECONOMY,
               *(live.received(i) for i, e in zip(entry_ids, entries, strict=True) if e.type == "transfer"))
    return entry_ids


def insert_ignore(s: Session, table, values: dict, *, index_elements: list[str], index_where=None):
    """INSERT ... ON CONFLICT DO NOTHING on SQLite and PostgreSQL. Returns the new primary key or None."""
    stmt = _dialect_insert(s, table).values(**values).on_conflict_do_nothing(
        index_elements=index_elements, index_where=index_where)
    pk = list(table.primary_key.columns)[0]
    return s.execute(stmt.returning(pk)).scalar()


def open_account(
    s: Session,
    *,
    name: str,
    kind: str,
    owner_id: int | None = None,
    company_id: int | None = None,
    now: datetime | None = None,
) -> int | None:
    """Open an account with a zero balance: the ``accounts`` row and its ``balances`` row.

    Returns the new account id, or None when a uniqueness rule already holds an
    account of this kind (one personal account per player, one system account):
    the caller then reads the existing one.
    """
    if not in_write_unit(s):
        raise RuntimeError("open_account() must run inside a write unit")
    now = now or utcnow()
    values = dict(name=name, kind=kind, owner_id=owner_id, company_id=company_id, balance=0, created_at=now)
    if kind == "personal":
        account_id = insert_ignore(s, accounts_t, values, index_elements=["owner_id"],
                                   index_where=text("kind = 'personal'"))
    elif kind == "system":
        account_id = insert_ignore(s, accounts_t, values, index_elements=["kind"],
                                   index_where=text("kind = 'system'"))
    else:
        account_id = s.execute(insert(accounts_t).values(**values).returning(accounts_t.c.id)).scalar_one()
    if account_id is not None:
        s.execute(insert(balances_t).values(account_id=account_id, balance=0, last_updated=now))
    return account_id


# --------------------------------------------------------------------------- history


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
        q = _history_statement(len(account_ids), before is not None, since is not None, until is not None,
                               bool(types))
        return [HistoryRow(**dict(r._mapping)) for r in s.execute(q, params)]


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
                q = q.where(tuple_(ledger_t.c.created_at, ledger_t.c.id)
                            < tuple_(bindparam("before_at", type_=DateTime), bindparam(f"before_id{i}", type_=Integer)))
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
    return (
        select(
            ledger_t.c.id,
            ledger_t.c.created_at,
            picked.c.account_id,
            ledger_t.c.type,
            ledger_t.c.amount,
            ledger_t.c.description,
            ledger_t.c.batch_count,
            case((outgoing, -ledger_t.c.amount), else_=ledger_t.c.amount).label("signed_amount"),
            other.c.id.label("counterpart_account_id"),
            other.c.name.label("counterpart_name"),
        )
        .join(picked, picked.c.id == ledger_t.c.id)
        .join(other, other.c.id == case((outgoing, ledger_t.c.to_account_id), else_=ledger_t.c.from_account_id))
        .order_by(ledger_t.c.created_at.desc(), ledger_t.c.id.desc(), picked.c.account_id)
        .limit(lim)
    )


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


# --------------------------------------------------------------------------- repair primitives


def ledger_net():
    """A derived table (account_id, net): every account's checkpoint (if its early entries were
    archived) plus its ledger inflows minus outflows.

    Two grouped scans (one per side), joined to every account so an account with
    no entries gets 0. Set-based: one statement for the whole economy.
    """
    inflow = select(ledger_t.c.to_account_id.label("aid"), func.sum(ledger_t.c.amount).label("total")) \
        .group_by(ledger_t.c.to_account_id).subquery("inflow")
    outflow = select(ledger_t.c.from_account_id.label("aid"), func.sum(ledger_t.c.amount).label("total")) \
        .group_by(ledger_t.c.from_account_id).subquery("outflow")
    return (
        select(
            accounts_t.c.id.label("account_id"),
            (func.coalesce(checkpoints_t.c.balance, 0) + func.coalesce(inflow.c.total, 0)
             - func.coalesce(outflow.c.total, 0)).label("net"),
        )
        .select_from(accounts_t)
        .outerjoin(checkpoints_t, checkpoints_t.c.account_id == accounts_t.c.id)
        .outerjoin(inflow, inflow.c.aid == accounts_t.c.id)
        .outerjoin(outflow, outflow.c.aid == accounts_t.c.id)
    )


def _checkpoint_of(account_col):
    return func.coalesce(select(checkpoints_t.c.balance).where(checkpoints_t.c.account_id == account_col)
                         .scalar_subquery(), 0)


def ledger_value(s: Session, account_id: int) -> int:
    """One account's balance as the ledger says: its checkpoint plus two indexed sums."""
    inflow = select(func.coalesce(func.sum(ledger_t.c.amount), 0)).where(ledger_t.c.to_account_id == account_id)
    outflow = select(func.coalesce(func.sum(ledger_t.c.amount), 0)).where(ledger_t.c.from_account_id == account_id)
    return int(s.execute(select(_checkpoint_of(account_id) + inflow.scalar_subquery()
                                - outflow.scalar_subquery())).scalar_one())


_LOCK_BALANCES_PG = select(balances_t.c.account_id).order_by(balances_t.c.account_id).with_for_update()


def lock_balances(s: Session, account_ids: Sequence[int] | None = None) -> None:
    """Lock the balance rows a repair is about to write (``None``: every one), in account-id order, the
    order post() locks them in. A repair takes these locks *before* it computes anything: on PostgreSQL a
    posting still in flight then either commits first (and the next statement, with a fresh READ COMMITTED
    snapshot, counts it) or waits for the repair to commit. Without it, a repair computed from a snapshot
    taken before the posting committed and then overwrote the posting's balance. On SQLite the write unit
    already holds the database's write lock (BEGIN IMMEDIATE)."""
    if not in_write_unit(s):
        raise RuntimeError("lock_balances() must run inside a write unit")
    if s.get_bind().dialect.name != "postgresql":
        return
    q = _LOCK_BALANCES_PG
    if account_ids is not None:
        q = q.where(balances_t.c.account_id.in_(sorted(set(account_ids))))
    s.execute(q).all()


def _dialect_insert(s: Session, table):
    if s.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    return dialect_insert(table)


def _insert_missing_balance_rows(s: Session, now: datetime, account_ids: Sequence[int] | None) -> int:
    """Create absent balances rows (holding the cached value until they are set). Two repairs creating
    the same row at once: the second finds it there (ON CONFLICT DO NOTHING), never an IntegrityError."""
    missing = select(accounts_t.c.id, accounts_t.c.balance, literal(now)).where(
        ~select(balances_t.c.account_id).where(balances_t.c.account_id == accounts_t.c.id).exists())
    if account_ids is not None:
        missing = missing.where(accounts_t.c.id.in_(account_ids))
    stmt = _dialect_insert(s, balances_t).from_select(["account_id", "balance", "last_updated"], missing) \
        .on_conflict_do_nothing(index_elements=["account_id"])
    return len(s.execute(stmt.returning(balances_t.c.account_id)).all())


def set_balances_from_ledger(s: Session, account_ids: Sequence[int] | None = None, *, now: datetime | None = None) -> int:
    """Set ``balances`` and ``accounts.balance`` to the ledger's value. Returns the accounts changed.

    ``account_ids=None`` means every account, in three set-based statements.
    """
    if not in_write_unit(s):
        raise RuntimeError("set_balances_from_ledger() must run inside a write unit")
    now = now or utcnow()
    lock_balances(s, account_ids)  # first: then compute from a snapshot that counts every committed posting
    changed: set[int] = set()
    missing = select(accounts_t.c.id).where(
        ~select(balances_t.c.account_id).where(balances_t.c.account_id == accounts_t.c.id).exists())
    if account_ids is not None:
        missing = missing.where(accounts_t.c.id.in_(account_ids))
    changed.update(s.execute(missing).scalars())
    _insert_missing_balance_rows(s, now, account_ids)
    if account_ids is None:
        net = ledger_net().subquery("net")
    else:
        net = select(
            accounts_t.c.id.label("account_id"),
            (
                _checkpoint_of(accounts_t.c.id)
                + select(func.coalesce(func.sum(ledger_t.c.amount), 0))
                .where(ledger_t.c.to_account_id == accounts_t.c.id).scalar_subquery()
                - select(func.coalesce(func.sum(ledger_t.c.amount), 0))
                .where(ledger_t.c.from_account_id == accounts_t.c.id).scalar_subquery()
            ).label("net"),
        ).where(accounts_t.c.id.in_(account_ids)).subquery("net")
    changed.update(
        s.execute(
            update(balances_t)
            .where(balances_t.c.account_id == net.c.account_id, balances_t.c.balance != net.c.net)
            .values(balance=net.c.net, last_updated=now)
            .returning(balances_t.c.account_id)
        ).scalars()
    )
    changed.update(_copy_balances_to_cache(s, account_ids))
    live.touch_accounts(s, changed)
    return len(changed)


def _copy_balances_to_cache(s: Session, account_ids: Sequence[int] | None) -> list[int]:
    q = (
        update(accounts_t)
        .where(accounts_t.c.id == balances_t.c.account_id, accounts_t.c.balance != balances_t.c.balance)
        .values(balance=balances_t.c.balance)
        .returning(accounts_t.c.id)
    )
    if account_ids is not None:
        q = q.where(accounts_t.c.id.in_(account_ids))
    return list(s.execute(q).scalars())


def set_balances_from_cache(s: Session, account_ids: Sequence[int] | None = None, *, now: datetime | None = None) -> int:
    """Set ``balances`` to the cached ``accounts.balance``, creating missing rows. Returns the accounts changed."""
    if not in_write_unit(s):
        raise RuntimeError("set_balances_from_cache() must run inside a write unit")
    now = now or utcnow()
    lock_balances(s, account_ids)  # first, as for set_balances_from_ledger: the cache read is then current
    created = _insert_missing_balance_rows(s, now, account_ids)
    q = (
        update(balances_t)
        .where(balances_t.c.account_id == accounts_t.c.id, balances_t.c.balance != accounts_t.c.balance)
        .values(balance=accounts_t.c.balance, last_updated=now)
        .returning(balances_t.c.account_id)
    )
    if account_ids is not None:
        q = q.where(balances_t.c.account_id.in_(account_ids))
    changed = list(s.execute(q).scalars())
    live.touch_accounts(s, changed)
    return created + len(changed)


# --------------------------------------------------------------------------- archival


ARCHIVE_CHUNK = 5000  # ids per statement when moving entries between the ledger and the archive


def _chunks(items: Sequence, size: int = ARCHIVE_CHUNK):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _ids_in(s: Session, column, ids: Sequence[int]):
    """``column IN (ids)`` with the ids as one bound value (a JSON array on SQLite, an array on PostgreSQL):
    no statement with thousands of parameters to build for every chunk."""
    if s.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam("ids", list(ids), type_=ARRAY(BigInteger)))
    values = select(literal_column("value")).select_from(func.json_each(bindparam("ids", json.dumps(list(ids)))))
    return column.in_(values)


def _add_net(nets: dict[int, list[int]], row) -> None:
    """Add one entry to each side's (net, entries) in ``nets``."""
    for aid, delta in ((row["to_account_id"], row["amount"]), (row["from_account_id"], -row["amount"])):
        acc = nets.setdefault(aid, [0, 0])
        acc[0] += delta
        acc[1] += 1


_CHECKPOINT_UPSERT: dict[tuple[str, bool], object] = {}


def _checkpoint_upsert(s: Session, forward: bool):
    """INSERT a checkpoint, or add to the one there: ``balance = balance + :net, entries = entries + :n`` (and,
    archiving, the cutoff moved forward), built once per dialect."""
    key = (s.get_bind().dialect.name, forward)
    if key not in _CHECKPOINT_UPSERT:
        ins = _dialect_insert(s, checkpoints_t)
        set_ = dict(balance=checkpoints_t.c.balance + ins.excluded.balance,
                    entries=checkpoints_t.c.entries + ins.excluded.entries)
        if forward:
            set_["as_of"] = case((ins.excluded.as_of > checkpoints_t.c.as_of, ins.excluded.as_of),
                                 else_=checkpoints_t.c.as_of)
        _CHECKPOINT_UPSERT[key] = ins.on_conflict_do_update(index_elements=["account_id"], set_=set_)
    return _CHECKPOINT_UPSERT[key]


def _add_to_checkpoints(s: Session, nets: list, as_of: datetime, sign: int) -> None:
    """Add ``sign`` x each account's (net, entries) to its checkpoint, **relatively**: one upsert per account
    (``balance = balance + :net``), in account order, never a value read, computed and written back. On
    PostgreSQL a checkpoint another transaction changed meanwhile is then updated from its latest committed
    value (the upsert waits for that row's lock), so no update is ever lost, whoever else writes it. A
    checkpoint left with no entries (everything restored) is deleted."""
    if not nets:
        return
    rows = [dict(account_id=aid, balance=sign * int(net), entries=sign * int(n), as_of=as_of)
            for aid, net, n in sorted(nets)]
    s.execute(_checkpoint_upsert(s, sign > 0), rows)
    if sign < 0:
        for chunk in _chunks([r["account_id"] for r in rows]):
            s.execute(checkpoints_t.delete().where(_ids_in(s, checkpoints_t.c.account_id, chunk),
                                                   checkpoints_t.c.entries == 0))


# Archive and restore hold this for their whole transaction on PostgreSQL: (ADVISORY_SPACE, ARCHIVE_LOCK),
# in the two-int4 key space (apart from the idempotency keys' bigint locks).
ADVISORY_SPACE = 0x45434F4E  # "ECON"
ARCHIVE_LOCK = 1
_ARCHIVE_LOCK_PG = text("SELECT pg_try_advisory_xact_lock(:space, :key)")


def lock_archive(s: Session) -> None:
    """Archive and restore move entries between the ledger and the archive and write checkpoints: one of
    them at a time, whoever calls (the CLI, the admin page, a script), for the whole transaction, so none
    ever acts on what another is halfway through. PostgreSQL: a transaction-level advisory lock, released at
    commit or rollback (or with a dead connection, so a crash never leaves it behind); taken without waiting:
    a second run gets ``AlreadyRunning``. SQLite: the write unit already holds the database's write lock
    (``BEGIN IMMEDIATE``) until it ends."""
    if not in_write_unit(s):
        raise RuntimeError("lock_archive() must run inside a write unit")
    if s.get_bind().dialect.name == "postgresql" and not s.execute(
            _ARCHIVE_LOCK_PG, {"space": ADVISORY_SPACE, "key": ARCHIVE_LOCK}).scalar():
        raise AlreadyRunning("An archive or a restore is already running. Wait for it to finish.")


def archive_entries(s: Session, cutoff: datetime, write_row, *, file_id: int | None = None,
                    now: datetime | None = None) -> int:
    """Move every entry older than ``cutoff`` out of the ledger, inside the caller's write unit.

    The entries are selected **once** (one statement, one snapshot); everything after acts on exactly
    those ids: ``write_row(dict)`` receives each (in id order, for the export file), each account's
    checkpoint grows by the net of exactly those entries, and exactly those rows go to ``ledger_archive``
    (tagged with ``file_id``) and leave the ledger. An entry that commits meanwhile (PostgreSQL) is not in
    the set: it stays in the ledger for the next archive. Balances do not change, and recalculation stays
    exact: checkpoint + the entries after it. Returns the number of entries moved."""
    if not in_write_unit(s):
        raise RuntimeError("archive_entries() must run inside a write unit")
    lock_archive(s)
    now = now or utcnow()
    ids: list[int] = []
    nets: dict[int, list[int]] = {}
    rows = select(ledger_t).where(ledger_t.c.created_at < cutoff).order_by(ledger_t.c.id)
    for row in s.execute(rows.execution_options(yield_per=ARCHIVE_CHUNK)).mappings():
        write_row(dict(row))
        ids.append(row["id"])
        _add_net(nets, row)
    if not ids:
        return 0
    _add_to_checkpoints(s, [(aid, net, n) for aid, (net, n) in nets.items()], cutoff, +1)
    copy = select(*[ledger_t.c[c] for c in LEDGER_COLUMNS], literal(now, DateTime), literal(file_id, Integer))
    for chunk in _chunks(ids):
        moved = len(s.execute(insert(archive_t).from_select([*LEDGER_COLUMNS, "archived_at", "file_id"],
                                                            copy.where(_ids_in(s, ledger_t.c.id, chunk)))
                              .returning(archive_t.c.id)).all())
        deleted = s.execute(ledger_t.delete().where(_ids_in(s, ledger_t.c.id, chunk))).rowcount
        if not moved == deleted == len(chunk):  # only archival deletes ledger rows, and it runs alone
            raise RuntimeError(f"archive: {len(chunk)} entries selected, {moved} copied, {deleted} deleted")
    return len(ids)


@dataclass(frozen=True)
class Restored:
    restored: int  # entries moved back from the archive to the ledger
    already_in_ledger: int  # identical entries found in the ledger (restored before): skipped
    per_file: dict[int | None, int]  # restored entries per archive file id (None: archived before files)


def _same_entry(a, b) -> bool:
    return all(a[c] == b[c] for c in LEDGER_COLUMNS)


def _differences(file_row, db_row) -> str:
    return ", ".join(f"{c} {file_row[c]!r} here, {db_row[c]!r} there" for c in LEDGER_COLUMNS
                     if file_row[c] != db_row[c])


def restore_entries(s: Session, rows: Iterable[dict]) -> Restored:
    """Bring archived entries back into the ledger (same ids), inside the caller's write unit, comparing
    whole rows, never ids alone:

    - an entry identical to one in ``ledger_archive`` moves back to the ledger (and out of its account's
      checkpoint);
    - an entry identical to one in the ledger was restored before: skipped;
    - an entry whose id is taken by a *different* entry (in either table), an entry that is in neither
      table (restoring it would create money), or an id that appears twice: ``RestoreConflict`` naming
      them. The caller's unit then rolls back, so nothing changes.

    ``rows`` may be a generator (read in chunks, never all in memory)."""
    if not in_write_unit(s):
        raise RuntimeError("restore_entries() must run inside a write unit")
    lock_archive(s)
    problems: list[str] = []
    seen: set[int] = set()
    nets: dict[int, list[int]] = {}
    per_file: dict[int | None, int] = {}
    restored = skipped = 0
    batch: list[dict] = []

    def flush() -> None:
        nonlocal restored, skipped
        ids = [r["id"] for r in batch]
        in_ledger = {r["id"]: r for r in s.execute(select(ledger_t).where(_ids_in(s, ledger_t.c.id, ids))).mappings()}
        archived = {r["id"]: r for r in s.execute(
            select(archive_t).where(_ids_in(s, archive_t.c.id, ids))).mappings()}
        back = []
        for r in batch:
            entry_id = r["id"]
            if entry_id in seen:
                problems.append(f"entry {entry_id} appears twice in the file")
                continue
            seen.add(entry_id)
            here, there = in_ledger.get(entry_id), archived.get(entry_id)
            if here is not None and there is not None:
                differ = [name for name, row in (("the ledger's", here), ("the archive's", there))
                          if not _same_entry(r, row)]
                problems.append(f"entry {entry_id} is in both the ledger and the archive"
                                + (f" ({' and '.join(differ)} differs from this file's)" if differ else ""))
            elif here is not None:
                if _same_entry(r, here):
                    skipped += 1
                else:
                    problems.append(f"entry {entry_id}: the ledger holds a different entry with this id "
                                    f"({_differences(r, here)})")
            elif there is not None:
                if _same_entry(r, there):
                    back.append(entry_id)
                    _add_net(nets, there)
                    per_file[there["file_id"]] = per_file.get(there["file_id"], 0) + 1
                else:
                    problems.append(f"entry {entry_id}: the archive holds a different entry with this id "
                                    f"({_differences(r, there)})")
            else:
                problems.append(f"entry {entry_id} is in neither the ledger nor the archive "
                                "(restoring it would create money)")
        if back and not problems:  # after the first problem, only check: the unit will roll back anyway
            archived_rows = select(*[archive_t.c[c] for c in LEDGER_COLUMNS]).where(_ids_in(s, archive_t.c.id, back))
            s.execute(insert(ledger_t).from_select(list(LEDGER_COLUMNS), archived_rows))
            s.execute(archive_t.delete().where(_ids_in(s, archive_t.c.id, back)))
            restored += len(back)
        batch.clear()

    for row in rows:
        batch.append(row)
        if len(batch) >= ARCHIVE_CHUNK:
            flush()
    if batch:
        flush()
    if problems:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise RestoreConflict(f"Nothing was restored: {len(problems)} entr{'y' if len(problems) == 1 else 'ies'} "
                              f"of this file cannot be restored: {shown}.")
    _add_to_checkpoints(s, [(aid, net, n) for aid, (net, n) in nets.items()], utcnow(), -1)
    ledger_sequence_not_behind(s)
    return Restored(restored=restored, already_in_ledger=skipped, per_file=per_file)


_SEQUENCE_NOT_BEHIND_PG = text(
    "SELECT setval(pg_get_serial_sequence('ledger', 'id'), top) FROM ("
    "SELECT GREATEST((SELECT MAX(id) FROM ledger), (SELECT MAX(id) FROM ledger_archive)) AS top) t "
    "WHERE top > COALESCE(pg_sequence_last_value(pg_get_serial_sequence('ledger', 'id')::regclass), 0)")


def ledger_sequence_not_behind(s: Session) -> None:
    """After entries were inserted with explicit ids (a restore), the next id is still above every id in
    the ledger and the archive. SQLite's AUTOINCREMENT moves its sequence up by itself; a PostgreSQL
    sequence is moved with setval (never down)."""
    if s.get_bind().dialect.name == "postgresql":
        s.execute(_SEQUENCE_NOT_BEHIND_PG)


__all__ = [
    "HistoryRow",
    "LEDGER_COLUMNS",
    "Restored",
    "archive_entries",
    "check_amount",
    "cursor",
    "cursor_text",
    "history",
    "insert_ignore",
    "ledger_sequence_not_behind",
    "lock_archive",
    "lock_balances",
    "open_account",
    "parse_cursor",
    "restore_entries",
    "ledger_net",
    "ledger_value",
    "post",
    "post_many",
    "Posting",
    "set_balances_from_cache",
    "set_balances_from_ledger",
]
