"""Economy-wide figures for the home page and operators (read from balances, never the ledger)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlmodel import Session

from economy_app.models import Account, Balance, LedgerEntry, User
from economy_app.services._tx import unit

accounts_t = Account.__table__
balances_t = Balance.__table__


@dataclass(frozen=True)
class Health:
    players: int
    accounts: int
    ledger_entries: int
    money_in_circulation: int  # cents held by every account but the mint
    balance_sum: int  # always 0: the mint's balance is minus the money in circulation


def economy_health(s: Session) -> Health:
    with unit(s, write=False):
        players = s.execute(select(func.count()).select_from(User.__table__)).scalar_one()
        accounts, circulating, total = s.execute(
            select(
                func.count(accounts_t.c.id),
                func.coalesce(func.sum(balances_t.c.balance).filter(accounts_t.c.kind != "system"), 0),
                func.coalesce(func.sum(balances_t.c.balance), 0),
            )
            .select_from(accounts_t)
            .outerjoin(balances_t, balances_t.c.account_id == accounts_t.c.id)
        ).one()
        entries = s.execute(select(func.count()).select_from(LedgerEntry.__table__)).scalar_one()
    return Health(
        players=players,
        accounts=accounts,
        ledger_entries=entries,
        money_in_circulation=int(circulating),
        balance_sum=int(total),
    )
