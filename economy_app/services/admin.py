"""Operator tools: recalculate balances from the ledger, sync them from the cache, reconcile.

Every whole-economy operation is set-based (a few statements whatever the
number of accounts); the writes themselves are the ledger module's repair
primitives, so the money tables keep exactly one writer.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlmodel import Session

from economy_app.models import Account, Balance
from economy_app.services import ledger
from economy_app.services._tx import unit
from economy_app.services.errors import AccountNotFound

accounts_t = Account.__table__
balances_t = Balance.__table__


@dataclass(frozen=True)
class AccountCopies:
    """The three copies of one balance, side by side. ``balances_value`` is None when the row is missing."""

    account_id: int
    name: str
    kind: str
    balances_value: int | None
    cached_value: int
    ledger_value: int

    @property
    def drifted(self) -> bool:
        return not (self.balances_value == self.cached_value == self.ledger_value)


# A drift is the same shape: an account whose copies disagree.
Drift = AccountCopies


@dataclass(frozen=True)
class RepairResult:
    before: AccountCopies
    after: AccountCopies

    @property
    def changed(self) -> bool:
        return (self.before.balances_value, self.before.cached_value) != (
            self.after.balances_value, self.after.cached_value)


@dataclass(frozen=True)
class BulkResult:
    accounts: int
    changed: int
    duration_ms: int


def account_copies(s: Session, account_id: int) -> AccountCopies:
    """The balances value, the cached value and the ledger-derived value of one account."""
    with unit(s, write=False):
        row = s.execute(
            select(accounts_t.c.id, accounts_t.c.name, accounts_t.c.kind, accounts_t.c.balance,
                   balances_t.c.balance.label("primary"))
            .select_from(accounts_t)
            .outerjoin(balances_t, balances_t.c.account_id == accounts_t.c.id)
            .where(accounts_t.c.id == account_id)
        ).first()
        if row is None:
            raise AccountNotFound(f"Account {account_id} does not exist.")
        return AccountCopies(
            account_id=row.id, name=row.name, kind=row.kind, balances_value=row.primary,
            cached_value=row.balance, ledger_value=ledger.ledger_value(s, account_id),
        )


def recalculate_balance(s: Session, account_id: int) -> RepairResult:
    """Set the account's balance (both copies) to what the ledger says."""
    with unit(s, write=True):
        before = account_copies(s, account_id)
        ledger.set_balances_from_ledger(s, [account_id])
        return RepairResult(before=before, after=account_copies(s, account_id))


def sync_balance_from_account(s: Session, account_id: int) -> RepairResult:
    """Set ``balances`` to the cached ``accounts.balance`` (creating a missing row)."""
    with unit(s, write=True):
        before = account_copies(s, account_id)
        ledger.set_balances_from_cache(s, [account_id])
        return RepairResult(before=before, after=account_copies(s, account_id))


def _ms_since(started) -> int:  # started: a perf_counter() reading
    return round((time.perf_counter() - started) * 1000)


def _count_accounts(s: Session) -> int:
    return s.execute(select(func.count()).select_from(accounts_t)).scalar_one()


def recalculate_all_balances(s: Session) -> BulkResult:
    """Every account's balance from the ledger, set-based (one grouped query, no per-account loop)."""
    started = time.perf_counter()
    with unit(s, write=True):
        changed = ledger.set_balances_from_ledger(s, None)
        total = _count_accounts(s)
    return BulkResult(accounts=total, changed=changed, duration_ms=_ms_since(started))


def sync_all_balances(s: Session) -> BulkResult:
    """Every ``balances`` row from the cached ``accounts.balance``, set-based."""
    started = time.perf_counter()
    with unit(s, write=True):
        changed = ledger.set_balances_from_cache(s, None)
        total = _count_accounts(s)
    return BulkResult(accounts=total, changed=changed, duration_ms=_ms_since(started))


def reconcile(s: Session) -> list[Drift]:
    """Every account whose three copies disagree, in one set-based query. Changes nothing."""
    net = ledger.ledger_net().subquery("net")
    q = (
        select(accounts_t.c.id, accounts_t.c.name, accounts_t.c.kind, accounts_t.c.balance,
               balances_t.c.balance.label("primary"), net.c.net)
        .select_from(accounts_t)
        .join(net, net.c.account_id == accounts_t.c.id)
        .outerjoin(balances_t, balances_t.c.account_id == accounts_t.c.id)
        .where(or_(balances_t.c.balance.is_(None), balances_t.c.balance != net.c.net,
                   accounts_t.c.balance != net.c.net))
        .order_by(accounts_t.c.id)
    )
    with unit(s, write=False):
        return [
            Drift(account_id=r.id, name=r.name, kind=r.kind, balances_value=r.primary, cached_value=r.balance,
                  ledger_value=int(r.net))
            for r in s.execute(q)
        ]
