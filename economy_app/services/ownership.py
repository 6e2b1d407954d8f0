"""Who controls what, and the locks that keep it true while a company changes hands.

A player controls their personal account and the account of every company they own. Since companies can be
sold (``company_sales``), "the actor owns this account" is a fact that can change under a running request: a
transfer or a trade that read the seller as the owner, then waited for a lock the sale held, would spend the
buyer's money. So every request that spends from or gives out of an account, or checks whom an account
belongs to for a founder rule, reads that ownership only after taking a lock the sale takes too, in one fixed
order everywhere (PostgreSQL ``SELECT ... FOR UPDATE``; SQLite's write unit already holds the database's
write lock from ``BEGIN IMMEDIATE``):

1. ``companies`` rows, in id order: the traded company and the company whose account trades; the companies whose
   accounts send and receive money or shares; the company being sold and the one paying for it. Whom a company's
   account belongs to is read after this (a sale changes it only while holding the company's row);
2. a sale's ``company_listings`` row, then its ``company_offers`` row;
3. ``users`` rows, in id order (``_tx.lock_user``: count-then-insert limits; a sale's buyer and seller);
4. the money rows: ``balances`` with their ``accounts``, in account-id order (``ledger.post``/``post_many``; a sale
   that posts several times locks all of its at once first: ``lock_money_rows``).

The founder rule (issue 12, 19) in one sentence: nobody holds their own company's shares through any account
they control, but the stake the IPO gave them (``shareholders.issue_shares``); an owner's holding never grows
past it. ``owner_receives`` is the check every way shares can arrive uses (a buy checks it in
``stock_trading``; a gift and a company's sale check it here).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import bindparam, select
from sqlmodel import Session

from economy_app.db import DriverRead
from economy_app.models import Account, Balance, Company, Holding
from economy_app.services._tx import in_write_unit

companies_t = Company.__table__
accounts_t = Account.__table__
balances_t = Balance.__table__
holdings_t = Holding.__table__


def _locking(s: Session) -> bool:
    if not in_write_unit(s):
        raise RuntimeError("ownership locks are taken inside a write unit")
    return s.get_bind().dialect.name == "postgresql"


def lock_companies(s: Session, company_ids: Iterable[int | None]) -> dict:
    """Lock these companies' rows in id order and read them: {id: row}. Missing ids are left out."""
    ids = sorted({i for i in company_ids if i is not None})
    if not ids:
        return {}
    q = select(companies_t).where(companies_t.c.id.in_(ids)).order_by(companies_t.c.id)
    if _locking(s):
        q = q.with_for_update(of=companies_t)
    return {r.id: r for r in s.execute(q)}


def companies_of_accounts(s: Session, account_ids: Iterable[int | None]) -> list[int]:
    """The companies whose accounts these are (an unlocked read: lock them, then read what they own)."""
    ids = sorted({i for i in account_ids if i is not None})
    if not ids:
        return []
    if len(ids) <= 2:  # a transfer's, a trade's: compiled once, straight to the driver
        return [r[0] for r in _COMPANIES_OF_TWO.all_in(s, {"a": ids[0], "b": ids[-1]})]
    return list(s.execute(select(companies_t.c.id).where(companies_t.c.account_id.in_(ids))).scalars())


_COMPANIES_OF_TWO = DriverRead(
    select(companies_t.c.id).where(companies_t.c.account_id.in_([bindparam("a"), bindparam("b")]))
)


def lock_companies_of_accounts(s: Session, account_ids: Iterable[int | None]) -> dict:
    """Lock the rows of the companies whose accounts these are (step 1), before reading whom the accounts belong
    to: a sale of one of them that committed meanwhile is then seen, and one that starts later waits."""
    return lock_companies(s, companies_of_accounts(s, account_ids))


def read_accounts(s: Session, account_ids: Iterable[int | None]) -> dict:
    """Id, name, kind, owner and company of these accounts: {id: row}. Read whom an account belongs to only after
    locking the row of the company whose account it is (``lock_companies_of_accounts``)."""
    ids = sorted({i for i in account_ids if i is not None})
    if not ids:
        return {}
    q = select(
        accounts_t.c.id, accounts_t.c.name, accounts_t.c.kind, accounts_t.c.owner_id, accounts_t.c.company_id
    ).where(accounts_t.c.id.in_(ids))
    return {r.id: r for r in s.execute(q)}


def lock_money_rows(s: Session, account_ids: Iterable[int | None]) -> None:
    """Lock what postings to these accounts will lock, all at once and in their order (step 5: the balance rows
    with their accounts rows, by account id; PostgreSQL ``FOR NO KEY UPDATE``), for a unit that posts several
    times and changes an account's owner: each of its postings then finds its rows already held, so it never
    waits holding some of them for another transaction that holds others (a marketplace run, a freeze)."""
    ids = sorted({i for i in account_ids if i is not None})
    if ids and _locking(s):
        s.execute(
            select(balances_t.c.account_id)
            .join(accounts_t, accounts_t.c.id == balances_t.c.account_id)
            .where(balances_t.c.account_id.in_(ids))
            .order_by(balances_t.c.account_id)
            .with_for_update(of=[balances_t, accounts_t], key_share=True)
        ).all()


def controlled_accounts(s: Session, user_id: int) -> list[int]:
    """Every account the player controls: their personal account and their companies' accounts."""
    return list(
        s.execute(
            select(accounts_t.c.id)
            .where(accounts_t.c.owner_id == user_id, accounts_t.c.kind.in_(("personal", "company")))
            .order_by(accounts_t.c.id)
        ).scalars()
    )


def owner_receives(company, receiver) -> str | None:
    """Why shares of ``company`` (its row) may not go to ``receiver`` (an account row), or None when they may: a
    company never holds its own shares, and its owner never receives them in any account they control."""
    if receiver.id == company.account_id:
        return f"{company.name} can't hold its own shares."
    if receiver.owner_id is not None and receiver.owner_id == company.owner_id:
        return f"Nobody holds their own company's shares: {receiver.name} is controlled by {company.name}'s owner."
    return None
