"""Players as customers: buying units of a product on sale, and the collection that makes.

A purchase of N units is accounted for as the public's batches are, per purchase and in one transaction: the
price x N from the buyer's account to the company (``product_purchase``) and the production cost of those
units from the company to the mint (``product_cost``), both entries carrying the product and the units; the
product's totals grow by it (units sold, revenue, costs) and so does the buyer's collection.

Rules (the README's "Players as customers"):

- 1 to ``config.max_purchase_units()`` (1,000) whole units of an active product, from the player's personal
  account or a company they own; at the price the player was shown (a price changed since is refused, never
  charged); a company can't buy its own products.
- A founder buying from their own company moves money between their own pockets and pays the production
  cost to the mint: it can only lose them money, never gain them any.
- A player's units never count in the public's figures: not in the product's momentum (the demand model),
  not in its public units, which "best-selling" ranks. So nobody buys their way up the marketplace.
- Paid from a public company's account, a purchase answers to its shareholders like any payment out of it
  (``shareholders.check_outflow``): refused to a company its owner controls, and counted against the day's cap.
- While a player owes the bank, they may buy only from their own private companies (``loans.refuse_if_owing``):
  what they hold must stay theirs until the loan is settled, and a public company's cash is its shareholders'.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlmodel import Session

from economy_app import config
from economy_app.db import dialect_insert
from economy_app.models import Account, CollectionItem, Company, LedgerEntry, Product, utcnow
from economy_app.money import format_cents
from economy_app.services import ledger, live, loans, shareholders
from economy_app.services._tx import lock_user, unit
from economy_app.services.accounts import SPENDING_KINDS, system_account_id
from economy_app.services.errors import (
    AccountNotFound,
    DuplicateRequest,
    InsufficientFunds,
    InvalidInput,
    ProductNotFound,
    PurchaseRefused,
)
from economy_app.services.marketplace_run import production_cost

accounts_t = Account.__table__
products_t = Product.__table__
companies_t = Company.__table__
collection_t = CollectionItem.__table__
ledger_t = LedgerEntry.__table__


def check_units(units) -> int:
    most = config.max_purchase_units()
    if isinstance(units, bool) or not isinstance(units, int):
        raise InvalidInput("Units must be a whole number.")
    if not 1 <= units <= most:
        raise InvalidInput(f"Buy 1 to {most:,} units at a time.")
    return units


@dataclass(frozen=True)
class Purchase:
    ledger_id: int  # the product_purchase entry
    account_id: int
    product_id: int
    product_name: str
    units: int
    total: int  # what the buyer paid
    collection_units: int  # what the account now holds of the product


_PRODUCT = (
    select(
        products_t.c.id,
        products_t.c.name,
        products_t.c.price_cents,
        products_t.c.cost_percent,
        products_t.c.active,
        companies_t.c.id.label("company_id"),
        companies_t.c.account_id.label("company_account_id"),
        companies_t.c.owner_id,
        companies_t.c.is_public,
    )
    .select_from(products_t)
    .join(companies_t, companies_t.c.id == products_t.c.company_id)
)


def _held(s: Session, account_id: int, product_id: int) -> int:
    return (
        s.execute(
            select(collection_t.c.units).where(
                collection_t.c.account_id == account_id, collection_t.c.product_id == product_id
            )
        ).scalar()
        or 0
    )


def buy(
    s: Session,
    *,
    actor_id: int,
    account_id: int,
    product_id: int,
    units: int,
    price_cents: int,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> Purchase:
    """Buy ``units`` of a product at ``price_cents`` (the price the player saw) from ``account_id``. A replayed
    ``idempotency_key`` (a double click) answers like the first purchase and moves nothing."""
    check_units(units)
    if isinstance(price_cents, bool) or not isinstance(price_cents, int):
        raise InvalidInput("Price must be a whole number of cents.")
    with unit(s, write=True):
        lock_user(s, actor_id)  # one purchase of this player at a time: the replay check, then the entries
        now = now or utcnow()
        if ledger.key_seen(s, idempotency_key):
            return _replayed(s, actor_id, account_id, product_id, units, price_cents, idempotency_key)
        account = s.execute(
            select(accounts_t.c.owner_id, accounts_t.c.kind).where(accounts_t.c.id == account_id)
        ).first()
        if account is None or account.owner_id != actor_id or account.kind not in SPENDING_KINDS:
            raise AccountNotFound("Account not found.")  # another player's account reads like a missing one
        # The product's row is locked before any balance row (PostgreSQL ``FOR UPDATE``), as a marketplace run
        # locks its products before posting: one order, no deadlock; its price and status hold still meanwhile.
        q = _PRODUCT.where(products_t.c.id == product_id)
        p = s.execute(q.with_for_update(of=products_t) if s.get_bind().dialect.name == "postgresql" else q).first()
        if p is None:
            raise ProductNotFound("Product not found.")
        if not p.active:
            raise PurchaseRefused(f"{p.name} is not on sale.")
        if account_id == p.company_account_id:
            raise PurchaseRefused("A company can't buy its own products.")
        if p.price_cents != price_cents:
            raise PurchaseRefused(
                f"The price of {p.name} is now {format_cents(p.price_cents)}: check it and buy again."
            )
        if p.owner_id != actor_id:
            loans.refuse_if_owing(s, actor_id, loans.BUY_FROM_OTHERS_REFUSED)
        elif p.is_public:
            loans.refuse_if_owing(s, actor_id, loans.PAY_PUBLIC_REFUSED)
        total = p.price_cents * units
        # Paid from a public company's account, a purchase is money out of it (issue 19): never to a company its
        # owner controls, and to anyone else within the day's share of its equity.
        shareholders.check_outflow(s, account_id, p.company_account_id, total, idempotency_key=idempotency_key, now=now)
        cost = production_cost(total, p.cost_percent)
        mint = system_account_id(s)
        # Both entries' rows locked at once, in account-id order (a marketplace run locks the mint and the
        # companies in one statement too): never one held while waiting for the other.
        ledger.lock_balances(s, [account_id, p.company_account_id, mint])
        # A company an admin froze sends nothing (not its production costs either): its goods are not on sale.
        # Read under the balance rows' locks, which a freeze takes too. The admin's reason is for its owner only.
        if s.execute(select(accounts_t.c.frozen_at).where(accounts_t.c.id == p.company_account_id)).scalar():
            raise PurchaseRefused(f"{p.name} is not on sale.")
        what = f"{units:,} x {p.name}"
        try:
            entry = ledger.post(
                s,
                from_account_id=account_id,
                to_account_id=p.company_account_id,
                amount=total,
                type="product_purchase",
                description=f"Bought {what} at {format_cents(p.price_cents)}",
                batch_count=units,
                product_id=p.id,
                idempotency_key=idempotency_key,
                now=now,
            )
        except InsufficientFunds:
            raise InsufficientFunds(f"Not enough money in this account for {what} ({format_cents(total)}).") from None
        ledger.post(
            s,
            from_account_id=p.company_account_id,
            to_account_id=mint,
            amount=cost,
            type="product_cost",
            description=f"Production costs: {what}",
            batch_count=units,
            product_id=p.id,
            now=now,
        )
        s.execute(
            update(products_t)
            .where(products_t.c.id == p.id)
            .values(
                units_sold=products_t.c.units_sold + units,
                revenue_cents=products_t.c.revenue_cents + total,
                costs_cents=products_t.c.costs_cents + cost,
            )
        )
        new = dialect_insert(s, collection_t).values(
            account_id=account_id, product_id=p.id, units=units, paid_cents=total, first_at=now, last_at=now
        )
        s.execute(
            new.on_conflict_do_update(
                index_elements=["account_id", "product_id"],
                set_={
                    "units": collection_t.c.units + new.excluded.units,
                    "paid_cents": collection_t.c.paid_cents + new.excluded.paid_cents,
                    "last_at": new.excluded.last_at,
                },
            )
        )
        live.touch(s, live.company(p.company_id), live.user(actor_id))
        return Purchase(entry.id, account_id, p.id, p.name, units, total, _held(s, account_id, p.id))


def _replayed(s, actor_id, account_id, product_id, units, price_cents, key) -> Purchase:
    """The answer to a purchase made before with this key, if it was this very purchase."""
    entry = s.execute(select(ledger_t).where(ledger_t.c.idempotency_key == key)).first()
    owner = s.execute(select(accounts_t.c.owner_id).where(accounts_t.c.id == account_id)).scalar()
    if (
        entry is None  # archived since: nothing to compare it with
        or owner != actor_id
        or (entry.type, entry.from_account_id, entry.product_id, entry.batch_count, entry.amount)
        != ("product_purchase", account_id, product_id, units, price_cents * units)
    ):
        raise DuplicateRequest("This request was already made with different details.")
    name = s.execute(select(products_t.c.name).where(products_t.c.id == product_id)).scalar_one()
    return Purchase(entry.id, account_id, product_id, name, units, entry.amount, _held(s, account_id, product_id))


@dataclass(frozen=True)
class CollectionRow:
    account_id: int
    account_name: str
    product_id: int
    product_name: str
    company_name: str
    ticker: str
    units: int
    paid: int
    last_at: datetime


def collection(s: Session, user_id: int) -> list[CollectionRow]:
    """What the player's accounts bought: per account and product, the units and what they paid."""
    with unit(s, write=False):
        rows = s.execute(
            select(
                collection_t.c.account_id,
                accounts_t.c.name.label("account_name"),
                products_t.c.id.label("product_id"),
                products_t.c.name.label("product_name"),
                companies_t.c.name.label("company_name"),
                companies_t.c.ticker,
                collection_t.c.units,
                collection_t.c.paid_cents.label("paid"),
                collection_t.c.last_at,
            )
            .select_from(collection_t)
            .join(accounts_t, accounts_t.c.id == collection_t.c.account_id)
            .join(products_t, products_t.c.id == collection_t.c.product_id)
            .join(companies_t, companies_t.c.id == products_t.c.company_id)
            .where(accounts_t.c.owner_id == user_id)
            .order_by(collection_t.c.last_at.desc(), collection_t.c.id.desc())
        ).all()
    return [CollectionRow(**dict(r._mapping)) for r in rows]
