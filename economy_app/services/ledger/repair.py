"""Repair primitives for the operator's tools: what the ledger says each balance is, and setting
``balances`` and ``accounts.balance`` from the ledger or from the cache. They write the money tables, so
they live in the ledger package (the tables' only writer); the tools that call them are
``services/reconciliation.py``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, literal, select, update
from sqlmodel import Session

from economy_app.db import dialect_insert
from economy_app.models import Account, Balance, LedgerCheckpoint, LedgerEntry, utcnow
from economy_app.services import live
from economy_app.services._tx import in_write_unit

accounts_t = Account.__table__
balances_t = Balance.__table__
ledger_t = LedgerEntry.__table__
checkpoints_t = LedgerCheckpoint.__table__


def ledger_net():
    """A derived table (account_id, net): every account's checkpoint (if its early entries were
    archived) plus its ledger inflows minus outflows.

    Two grouped scans (one per side), joined to every account so an account with
    no entries gets 0. Set-based: one statement for the whole economy.
    """
    inflow = (
        select(ledger_t.c.to_account_id.label("aid"), func.sum(ledger_t.c.amount).label("total"))
        .group_by(ledger_t.c.to_account_id)
        .subquery("inflow")
    )
    outflow = (
        select(ledger_t.c.from_account_id.label("aid"), func.sum(ledger_t.c.amount).label("total"))
        .group_by(ledger_t.c.from_account_id)
        .subquery("outflow")
    )
    return (
        select(
            accounts_t.c.id.label("account_id"),
            (
                func.coalesce(checkpoints_t.c.balance, 0)
                + func.coalesce(inflow.c.total, 0)
                - func.coalesce(outflow.c.total, 0)
            ).label("net"),
        )
        .select_from(accounts_t)
        .outerjoin(checkpoints_t, checkpoints_t.c.account_id == accounts_t.c.id)
        .outerjoin(inflow, inflow.c.aid == accounts_t.c.id)
        .outerjoin(outflow, outflow.c.aid == accounts_t.c.id)
    )


def _checkpoint_of(account_col):
    return func.coalesce(
        select(checkpoints_t.c.balance).where(checkpoints_t.c.account_id == account_col).scalar_subquery(), 0
    )


def ledger_value(s: Session, account_id: int) -> int:
    """One account's balance as the ledger says: its checkpoint plus two indexed sums."""
    inflow = select(func.coalesce(func.sum(ledger_t.c.amount), 0)).where(ledger_t.c.to_account_id == account_id)
    outflow = select(func.coalesce(func.sum(ledger_t.c.amount), 0)).where(ledger_t.c.from_account_id == account_id)
    return int(
        s.execute(
            select(_checkpoint_of(account_id) + inflow.scalar_subquery() - outflow.scalar_subquery())
        ).scalar_one()
    )


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


def _insert_missing_balance_rows(s: Session, now: datetime, account_ids: Sequence[int] | None) -> int:
    """Create absent balances rows (holding the cached value until they are set). Two repairs creating
    the same row at once: the second finds it there (ON CONFLICT DO NOTHING), never an IntegrityError."""
    missing = select(accounts_t.c.id, accounts_t.c.balance, literal(now)).where(
        ~select(balances_t.c.account_id).where(balances_t.c.account_id == accounts_t.c.id).exists()
    )
    if account_ids is not None:
        missing = missing.where(accounts_t.c.id.in_(account_ids))
    stmt = (
        dialect_insert(s, balances_t)
        .from_select(["account_id", "balance", "last_updated"], missing)
        .on_conflict_do_nothing(index_elements=["account_id"])
    )
    return len(s.execute(stmt.returning(balances_t.c.account_id)).all())


def set_balances_from_ledger(
    s: Session, account_ids: Sequence[int] | None = None, *, now: datetime | None = None
) -> int:
    """Set ``balances`` and ``accounts.balance`` to the ledger's value. Returns the accounts changed.

    ``account_ids=None`` means every account, in three set-based statements.
    """
    if not in_write_unit(s):
        raise RuntimeError("set_balances_from_ledger() must run inside a write unit")
    now = now or utcnow()
    lock_balances(s, account_ids)  # first: then compute from a snapshot that counts every committed posting
    changed: set[int] = set()
    missing = select(accounts_t.c.id).where(
        ~select(balances_t.c.account_id).where(balances_t.c.account_id == accounts_t.c.id).exists()
    )
    if account_ids is not None:
        missing = missing.where(accounts_t.c.id.in_(account_ids))
    changed.update(s.execute(missing).scalars())
    _insert_missing_balance_rows(s, now, account_ids)
    if account_ids is None:
        net = ledger_net().subquery("net")
    else:
        net = (
            select(
                accounts_t.c.id.label("account_id"),
                (
                    _checkpoint_of(accounts_t.c.id)
                    + select(func.coalesce(func.sum(ledger_t.c.amount), 0))
                    .where(ledger_t.c.to_account_id == accounts_t.c.id)
                    .scalar_subquery()
                    - select(func.coalesce(func.sum(ledger_t.c.amount), 0))
                    .where(ledger_t.c.from_account_id == accounts_t.c.id)
                    .scalar_subquery()
                ).label("net"),
            )
            .where(accounts_t.c.id.in_(account_ids))
            .subquery("net")
        )
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


def set_balances_from_cache(
    s: Session, account_ids: Sequence[int] | None = None, *, now: datetime | None = None
) -> int:
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
