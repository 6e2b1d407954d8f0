"""Posting: the only code that moves money, and opening the accounts it moves between.

``post()`` moves money. In the caller's write unit (one transaction) it:

1. validates the amount (an ``int`` > 0), the type and that the accounts differ;
2. replays an idempotency key seen before (same body: the original entry,
   nothing moves; different body: ``DuplicateRequest``);
3. locks both balance rows in account-id order (PostgreSQL ``FOR UPDATE``; on
   SQLite the unit already holds the write lock from ``BEGIN IMMEDIATE``);
4. debits the source with a conditional update (``balance - amount >= floor``, the
   account's floor: 0 for most, minus what a loan may owe, none for the mint), and
   credits the destination;
5. moves both ``accounts.balance`` caches by the same amounts;
6. inserts the ledger row and one ``balance_history`` row per side.

``post_many()`` is the only other writer: a batch of entries (the marketplace
run's two per selling company) written exactly as that many ``post()`` calls
would write them, by the same rules, in a few set-based statements (one update of
the mint's row, not one per entry).

All statements are SQLAlchemy Core: the hot path builds no ORM objects but the
one it returns.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import DateTime, bindparam, case, func, insert, select, text, union_all, update
from sqlmodel import Session

from economy_app.db import DriverRead, driver_datetime, ids_in, insert_ignore
from economy_app.models import LEDGER_TYPES, Account, Balance, BalanceHistory, LedgerArchive, LedgerEntry, utcnow
from economy_app.services import live
from economy_app.services._tx import in_write_unit
from economy_app.services.errors import (
    AccountFrozen,
    AccountNotFound,
    BalanceRecordMissing,
    DuplicateRequest,
    InsufficientFunds,
    InvalidAmount,
    InvalidInput,
    SameAccount,
)

accounts_t = Account.__table__
balances_t = Balance.__table__
ledger_t = LedgerEntry.__table__
history_t = BalanceHistory.__table__
archive_t = LedgerArchive.__table__

MAX_AMOUNT = 2**62  # far above any real amount, far below BIGINT overflow
MAX_DESCRIPTION = 500


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
    return LedgerEntry.model_construct(**row._asdict())


# A frozen account (an admin's freeze: services/moderation.py) sends nothing. Its state is read on the rows the
# posting locks, and the accounts row is locked with the balance row (FOR NO KEY UPDATE: the lock an UPDATE of
# a non-key column takes, so foreign-key checks never wait on it). A freeze updates that accounts row, so it
# waits for a posting holding the lock, and a posting that waited for a freeze re-reads the row as committed
# (READ COMMITTED re-checks a locked row that changed): no posting from the account commits after the freeze.
FROZEN_COLUMNS = (accounts_t.c.frozen_at, accounts_t.c.frozen_reason)
LOCK_BOTH = {"of": [balances_t, accounts_t], "key_share": True}


# The hot path's statements, built once: executing a prebuilt Core statement on
# the session's connection skips statement construction and the ORM layer.
_b = bindparam
_LOCK = (
    select(balances_t.c.account_id, balances_t.c.balance, accounts_t.c.floor, *FROZEN_COLUMNS)
    .join(accounts_t, accounts_t.c.id == balances_t.c.account_id)
    .where(balances_t.c.account_id.in_([_b("src"), _b("dst")]))
    .order_by(balances_t.c.account_id)
)
# The reads of every posting, compiled once and sent straight to the driver (db.DriverRead).
_LOCK_READ = {"sqlite": DriverRead(_LOCK), "postgresql": DriverRead(_LOCK.with_for_update(**LOCK_BOTH))}
_ACCOUNT_EXISTS = select(accounts_t.c.id).where(accounts_t.c.id == _b("id"))
LEDGER_COLUMNS = tuple(c.name for c in ledger_t.columns)
# A key seen before, live or archived: one statement (one snapshot, so an entry moving between the two
# tables at that moment is seen in one of them), two index lookups (ux_ledger_archive_idempotency_key).
_BY_KEY = DriverRead(
    union_all(
        select(ledger_t).where(ledger_t.c.idempotency_key == _b("key")),
        select(*[archive_t.c[c] for c in LEDGER_COLUMNS]).where(archive_t.c.idempotency_key == _b("key")),
    ).limit(1)
)
_KEY_LOCK_PG = select(func.pg_advisory_xact_lock(func.hashtextextended(_b("key"), 0)))
_MINT_DEBIT = (
    update(balances_t)
    .where(balances_t.c.account_id == _b("src"))
    .values(balance=balances_t.c.balance - _b("amount"), last_updated=_b("now"))
    .returning(balances_t.c.balance)
)
# "lowest", not "floor": a parameter named like a column becomes a SET of that column in an UPDATE of its table
# (the caches' update runs with the same parameters).
_DEBIT = _MINT_DEBIT.where(balances_t.c.balance - _b("amount") >= _b("lowest"))
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
_ENTRY_COLUMNS = (
    "from_account_id",
    "to_account_id",
    "amount",
    "type",
    "description",
    "batch_count",
    "product_id",
    "idempotency_key",
    "created_at",
)
_INSERT_ENTRY = insert(ledger_t).values({c: _b(c) for c in _ENTRY_COLUMNS}).returning(ledger_t.c.id)
_INSERT_HISTORY = insert(history_t).values(
    {c: _b(c) for c in ("account_id", "ledger_id", "change", "balance_after", "created_at")}
)


def _check_entry(from_account_id, to_account_id, amount, type, description, batch_count) -> None:
    """One entry's own rules (``post`` and ``post_many`` alike): the amount, the type, two different
    accounts, the batch count, the description's length."""
    check_amount(amount)
    if type not in LEDGER_TYPES:
        raise InvalidInput(f"Unknown ledger entry type {type!r}.")
    if from_account_id == to_account_id:
        raise SameAccount("You can't send money to the same account.")
    if batch_count is not None and (
        isinstance(batch_count, bool) or not isinstance(batch_count, int) or batch_count <= 0
    ):
        raise InvalidInput("Batch count must be a positive whole number.")
    if description is not None and len(description) > MAX_DESCRIPTION:
        raise InvalidInput(f"Description is limited to {MAX_DESCRIPTION} characters.")


def _touch_posted(s: Session, from_account_id: int, to_account_id: int, type: str, entry_id: int) -> None:
    """What a posting tells the app's live pages (see ``services/live.py``)."""
    live.touch(
        s,
        live.account(from_account_id),
        live.account(to_account_id),
        live.ECONOMY,
        *((live.received(entry_id),) if type in live.RECEIVED_TYPES else ()),
    )


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
        prior = _BY_KEY.first_in(s, {"key": idempotency_key})
        if prior is not None:
            same = (prior.from_account_id, prior.to_account_id, prior.amount, prior.type, prior.description) == (
                from_account_id,
                to_account_id,
                amount,
                type,
                description,
            )
            if not same:
                raise DuplicateRequest("This request was already made with different details.")
            return _entry(prior)

    # Lock the two balance rows in account-id order (a fixed order: no deadlocks).
    ids = {"src": from_account_id, "dst": to_account_id}
    rows = {r.account_id: r for r in _LOCK_READ["postgresql" if postgres else "sqlite"].all_in(s, ids)}
    for account_id in (from_account_id, to_account_id):
        if account_id not in rows:
            if conn.execute(_ACCOUNT_EXISTS, {"id": account_id}).first() is None:
                raise AccountNotFound(f"Account {account_id} does not exist.")
            raise BalanceRecordMissing(
                f"Account {account_id} has no balance record; an operator must sync it before it can be used."
            )
    if rows[from_account_id].frozen_at is not None:
        raise AccountFrozen(rows[from_account_id].frozen_reason or "", [from_account_id])
    floor = rows[from_account_id].floor  # None: no floor (the mint)
    if floor is not None and rows[from_account_id].balance - amount < floor:
        raise InsufficientFunds("Insufficient funds.")

    moved = {**ids, "amount": amount, "now": now, "lowest": floor}
    from_after = conn.execute(_MINT_DEBIT if floor is None else _DEBIT, moved).scalar()
    if from_after is None:  # the conditional update found too little money above the floor
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
    conn.execute(
        _INSERT_HISTORY,
        [
            dict(
                account_id=from_account_id, ledger_id=entry_id, change=-amount, balance_after=from_after, created_at=now
            ),
            dict(account_id=to_account_id, ledger_id=entry_id, change=amount, balance_after=to_after, created_at=now),
        ],
    )
    _touch_posted(s, from_account_id, to_account_id, type, entry_id)
    # Every value was validated above: build the returned row without re-validation.
    return LedgerEntry.model_construct(id=entry_id, **values)


def key_seen(s: Session, idempotency_key: str | None) -> bool:
    """True when an entry with this idempotency key was posted (live or archived): ``post`` would replay it.
    A rule checked before ``post`` lets a replay through to it, so a double click answers like the first."""
    if not idempotency_key:
        return False
    return _BY_KEY.first_in(s, {"key": idempotency_key}) is not None


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
        "RETURNING balances.account_id, balances.balance"
    ),
    "sqlite": text(
        "UPDATE balances SET balance = balances.balance + v.delta, last_updated = :now "
        "FROM (SELECT json_extract(value, '$[0]') AS id, json_extract(value, '$[1]') AS delta, "
        "json_extract(value, '$[2]') AS low FROM json_each(:changes)) AS v "
        "WHERE balances.account_id = v.id AND (v.low IS NULL OR balances.balance + v.low >= 0) "
        "RETURNING balances.account_id, balances.balance"
    ),
}
_MANY_CACHES = {
    "postgresql": text(
        "UPDATE accounts SET balance = accounts.balance + v.delta "
        "FROM unnest(CAST(:ids AS BIGINT[]), CAST(:deltas AS BIGINT[])) AS v(id, delta) WHERE accounts.id = v.id"
    ),
    "sqlite": text(
        "UPDATE accounts SET balance = accounts.balance + v.delta "
        "FROM (SELECT json_extract(value, '$[0]') AS id, json_extract(value, '$[1]') AS delta "
        "FROM json_each(:changes)) AS v WHERE accounts.id = v.id"
    ),
}
_MANY_BALANCES = {
    k: q.bindparams(bindparam("now", type_=DateTime))  # the app's own datetime format on SQLite
    for k, q in _MANY_BALANCES.items()
}
_LOCK_MANY = (
    select(balances_t.c.account_id, balances_t.c.balance, accounts_t.c.floor, *FROZEN_COLUMNS)
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
_MANY_ENTRIES_SQLITE = (
    "INSERT INTO ledger (from_account_id, to_account_id, amount, type, description, batch_count, "
    "product_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_MANY_HISTORY_SQLITE = (
    "INSERT INTO balance_history (account_id, ledger_id, change, balance_after, created_at) VALUES (?, ?, ?, ?, ?)"
)
_TOP_ENTRY = select(func.coalesce(func.max(ledger_t.c.id), 0))
_ENTRIES_AFTER = (
    select(ledger_t.c.id, ledger_t.c.from_account_id, ledger_t.c.to_account_id, ledger_t.c.amount)
    .where(ledger_t.c.id > _b("top"))
    .order_by(ledger_t.c.id)
)


def post_many(s: Session, entries: Sequence[Posting], *, now: datetime | None = None) -> list[int]:
    """Post ``entries`` in order, exactly as that many ``post()`` calls in one transaction would, in a few
    set-based statements whatever their number. Runs inside the caller's write unit.

    The same rules as ``post``: every entry is validated first; the balance rows of every account involved
    are locked in account-id order (PostgreSQL ``FOR UPDATE``; SQLite's write unit holds the write lock);
    the entries are then played in order against the locked balances, so an entry that would take an
    account below its floor at its point in the sequence refuses the whole batch with ``InsufficientFunds``,
    and **nothing is written** by a refused batch. Then, per account, one net change: one UPDATE of
    ``balances`` for every account at once (conditional: no account below its floor at any point of the
    sequence, the mint having none, checked through RETURNING against the values played), one of the
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
    lock = _LOCK_MANY.where(ids_in(s, balances_t.c.account_id, ids))
    rows = {r.account_id: r for r in conn.execute(lock.with_for_update(**LOCK_BOTH) if postgres else lock)}
    for account_id in ids:
        if account_id not in rows:
            if conn.execute(_ACCOUNT_EXISTS, {"id": account_id}).first() is None:
                raise AccountNotFound(f"Account {account_id} does not exist.")
            raise BalanceRecordMissing(
                f"Account {account_id} has no balance record; an operator must sync it before it can be used."
            )

    frozen = {e.from_account_id for e in entries if rows[e.from_account_id].frozen_at is not None}
    if frozen:  # the whole batch is refused (the marketplace run leaves frozen companies out and plans again)
        raise AccountFrozen(rows[min(frozen)].frozen_reason or "", frozen)

    # Play the entries in order against the locked balances: each side's balance after each entry, and
    # each account's lowest point relative to its start (the conditional update's bound).
    balance = {a: r.balance for a, r in rows.items()}
    floor = {a: r.floor for a, r in rows.items()}  # None: no floor (the mint)
    low = dict.fromkeys(ids, 0)
    afters: list[tuple[int, int]] = []
    for e in entries:
        if floor[e.from_account_id] is not None and balance[e.from_account_id] - e.amount < floor[e.from_account_id]:
            raise InsufficientFunds("Insufficient funds.")
        balance[e.from_account_id] -= e.amount
        balance[e.to_account_id] += e.amount
        low[e.from_account_id] = min(
            low[e.from_account_id], balance[e.from_account_id] - rows[e.from_account_id].balance
        )
        afters.append((balance[e.from_account_id], balance[e.to_account_id]))

    # Every account involved is written (its last_updated too, as post() does), even one whose entries net
    # to zero.
    deltas = [balance[a] - rows[a].balance for a in ids]
    # The bound checked on the locked row: its start + its lowest point - its floor >= 0.
    lows = [None if floor[a] is None else low[a] - floor[a] for a in ids]
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
        [e.from_account_id for e in entries],
        [e.to_account_id for e in entries],
        [e.amount for e in entries],
        [e.type for e in entries],
        [e.description for e in entries],
        [e.batch_count for e in entries],
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
        conn.exec_driver_sql(
            _MANY_HISTORY_SQLITE, list(zip(accounts_, ledger_ids, changes, after, [at] * len(after), strict=True))
        )

    # What as many post() calls would tell the live pages: every account, the economy, each transfer received.
    live.touch(
        s,
        *(live.account(a) for a in ids),
        live.ECONOMY,
        *(live.received(i) for i, e in zip(entry_ids, entries, strict=True) if e.type in live.RECEIVED_TYPES),
    )
    return entry_ids


def open_account(
    s: Session,
    *,
    name: str,
    kind: str,
    owner_id: int | None = None,
    company_id: int | None = None,
    now: datetime | None = None,
) -> int | None:
    """Open an account with a zero balance: the ``accounts`` row and its ``balances`` row. Its floor is 0,
    but the mint's: the system account has none (it issues every cent in circulation).

    Returns the new account id, or None when a uniqueness rule already holds an
    account of this kind (one personal account per player, one system account):
    the caller then reads the existing one.
    """
    if not in_write_unit(s):
        raise RuntimeError("open_account() must run inside a write unit")
    now = now or utcnow()
    values = dict(name=name, kind=kind, owner_id=owner_id, company_id=company_id, balance=0, created_at=now)
    values["floor"] = None if kind == "system" else 0
    if kind == "personal":
        account_id = insert_ignore(
            s, accounts_t, values, index_elements=["owner_id"], index_where=text("kind = 'personal'")
        )
    elif kind == "system":
        account_id = insert_ignore(s, accounts_t, values, index_elements=["kind"], index_where=text("kind = 'system'"))
    else:
        account_id = s.execute(insert(accounts_t).values(**values).returning(accounts_t.c.id)).scalar_one()
    if account_id is not None:
        s.execute(insert(balances_t).values(account_id=account_id, balance=0, last_updated=now))
    return account_id


_FLOOR_LOCK = select(balances_t.c.balance, accounts_t.c.floor).join(
    accounts_t, accounts_t.c.id == balances_t.c.account_id
)


def set_floor(s: Session, account_id: int, floor: int) -> None:
    """Set an account's floor, the lowest balance a posting may leave it (a loan's: minus what it may owe;
    0 again when it is closed). Under the balance row's lock (PostgreSQL ``FOR UPDATE``; SQLite's write unit
    holds the write lock), so a posting on the account runs wholly before or after it. Refused for the mint
    (no floor), for a floor above 0, and for one above the account's balance: no floor change ever leaves
    an account below its floor."""
    if not in_write_unit(s):
        raise RuntimeError("set_floor() must run inside a write unit")
    if isinstance(floor, bool) or not isinstance(floor, int) or floor > 0 or floor < -MAX_AMOUNT:
        raise InvalidInput("A floor is a whole number of cents, at most 0.")
    q = _FLOOR_LOCK.where(balances_t.c.account_id == account_id)
    row = s.execute(q.with_for_update(**LOCK_BOTH) if s.get_bind().dialect.name == "postgresql" else q).first()
    if row is None:
        raise AccountNotFound(f"Account {account_id} does not exist.")
    if row.floor is None:
        raise InvalidInput("The system account has no floor.")
    if row.balance < floor:
        raise InvalidInput(f"Account {account_id} holds {row.balance} cents: its floor can't be above that.")
    s.execute(update(accounts_t).where(accounts_t.c.id == account_id).values(floor=floor))
