"""Giving shares: a holder moves shares of a public company, no money, to another player or to a company.

- From the giver's personal holding or from a company they own (the giving account must be theirs), to any
  player's personal account or any company's account but the giver's same account.
- The founder rules hold (``ownership.owner_receives``): a company never holds its own shares, and its owner
  never receives them in any account they control, so nobody ends up owning their own company's shares
  through a transfer (a gift to a company the giver owns is fine whenever its owner, the giver, does not
  own the company whose shares they are).
- A public company gives none of the shares it holds, to anyone: its holdings belong to the business and its
  shareholders like its cash (a gift to its owner, who sold them, took its assets past every rule on its cash);
  it may sell them, and the cash stays with the company.
- The owner's own shares (the founder's stake) are not given away: they come last (``stock_trading``'s owner
  rule: the owner sells back only what leaves the cash to buy back every other holder), and in anyone else's
  hands they would not, so a gift to a friend who sells them back would take the investors' money. They leave
  the owner by a sale back to the company, or with the company when it is sold (``company_sales``).
- Total shares are conserved: the giver's holding falls by what the receiver's rises; the treasury and the
  price curve (a function of the shares outside the treasury) do not move.
- The receiver's average cost becomes the weighted average of what they had and the gift at the price at the
  moment of transfer (what it would have cost them to buy then).
- A gift counts against the giver's trade limit for that company (``stock_trading.RATE_LIMIT_TRADES`` in
  ``RATE_LIMIT_SECONDS``), counted together with their trades: the limit holds for every way a player moves a
  company's shares.

Everything is read under the locks of ``ownership.py`` (the company's row, and the rows of the companies whose
accounts give and receive, in id order), so a sale of the giving or the receiving company that commits meanwhile
is seen, and one that starts later waits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, or_, select, update
from sqlmodel import Session

from economy_app.models import Account, Company, Holding, ShareTransfer
from economy_app.services import live, loans, moderation, ownership, stock_trading
from economy_app.services._tx import unit
from economy_app.services.errors import (
    AccountFrozen,
    AccountNotFound,
    CompanyNotFound,
    NotAccountOwner,
    NotPublic,
    ShareTransferRefused,
)

companies_t = Company.__table__
accounts_t = Account.__table__
holdings_t = Holding.__table__
gifts_t = ShareTransfer.__table__

RECEIVING_KINDS = ("personal", "company")


@dataclass(frozen=True)
class GiftResult:
    transfer_id: int
    company_id: int
    ticker: str
    shares: int
    price_micros: int
    receiver: str  # the receiving account's name
    giver_holding: int  # what the giving account holds after
    receiver_holding: int


@dataclass(frozen=True)
class GiftRow:
    """A share transfer as the trades history and the portfolio show it."""

    id: int
    at: datetime
    company_id: int
    name: str
    ticker: str
    shares: int
    price_micros: int
    from_name: str
    to_name: str
    direction: str = ""  # for one player: "in", "out" or "within" (between their own accounts)


GIVER_OWES = "Repay your loan before giving shares to other players."


def give(
    s: Session,
    *,
    actor_id: int,
    from_account_id: int,
    to_account_id: int,
    company_id: int,
    shares: int,
    now: datetime | None = None,
) -> GiftResult:
    """Give ``shares`` of the company from an account the actor owns to another account (see the module's rules)."""
    stock_trading.check_shares(shares)
    with unit(s, write=True):
        # The company's row and those of the companies whose accounts give and receive, in id order, before
        # reading whom the accounts belong to (ownership.py).
        around = ownership.companies_of_accounts(s, [from_account_id, to_account_id])
        locked = ownership.lock_companies(s, [company_id, *around])
        c = locked.get(company_id)
        if c is None:
            raise CompanyNotFound("Company not found.")
        if not c.is_public:
            raise NotPublic(f"{c.name} is not public yet.")
        accounts = ownership.read_accounts(s, [from_account_id, to_account_id])
        giver, receiver = accounts.get(from_account_id), accounts.get(to_account_id)
        if giver is None:
            raise AccountNotFound("Account not found.")
        if giver.owner_id != actor_id or giver.kind not in RECEIVING_KINDS:
            raise NotAccountOwner("You can only give shares from your own accounts.")
        if receiver is None or receiver.kind not in RECEIVING_KINDS:
            raise AccountNotFound("Pick a player or a company to give the shares to.")
        giving = next((r for r in locked.values() if r.account_id == from_account_id), None)
        if giving is not None and giving.is_public:
            raise ShareTransferRefused(
                f"{giving.name} is public: its holdings belong to the business and its shareholders; sell them and "
                "the cash stays with the company."
            )
        if receiver.id == giver.id:
            raise ShareTransferRefused("The shares are already in that account: pick another.")
        if giver.owner_id == c.owner_id:
            raise ShareTransferRefused(
                f"Your shares of {c.name} come last, since you own it: given away they would not, so they can't be. "
                "Sell them back, or sell the company with them."
            )
        if (why := ownership.owner_receives(c, receiver)) is not None:
            raise ShareTransferRefused(why)
        held = s.execute(
            select(holdings_t.c.shares).where(
                holdings_t.c.company_id == company_id, holdings_t.c.account_id == from_account_id
            )
        ).scalar()
        if shares > (held or 0):
            raise ShareTransferRefused(f"You hold only {held or 0:,} shares of {c.ticker} in this account.")
        now = stock_trading.rate_limit(s, actor_id, company_id, now)
        if receiver.owner_id != actor_id:  # a debtor's shares are the bank's to collect (loans.default)
            loans.refuse_if_owing(s, actor_id, GIVER_OWES)
        moderation.refuse_if_frozen(s, from_account_id)  # after the player's lock, which a freeze takes first
        try:  # a frozen company's stock is halted: its shares do not move
            moderation.refuse_if_frozen(s, c.account_id)
        except AccountFrozen:
            raise ShareTransferRefused(f"{c.name}'s shares can't be given right now: trading is halted.") from None
        price = c.share_price_micros
        transfer_id, received = move(
            s,
            company_id=company_id,
            from_account_id=from_account_id,
            to_account_id=to_account_id,
            shares=shares,
            actor_id=actor_id,
            price_micros=price,
            now=now,
        )
        live.touch(
            s,
            live.company(company_id),
            live.MARKET,
            live.ECONOMY,
            live.account(from_account_id),
            live.account(to_account_id),
            *((live.user(receiver.owner_id),) if receiver.owner_id is not None else ()),
        )
        return GiftResult(transfer_id, company_id, c.ticker, shares, price, receiver.name, held - shares, received)


def move(
    s: Session,
    *,
    company_id: int,
    from_account_id: int,
    to_account_id: int,
    shares: int,
    actor_id: int,
    price_micros: int,
    now: datetime,
) -> tuple[int, int]:
    """Move ``shares`` from one holding to another and record it (no checks: the caller's, in its unit, under its
    locks). The receiver's average cost takes the shares at ``price_micros``. Returns (transfer id, the receiver's
    holding after)."""
    s.execute(
        update(holdings_t)
        .where(holdings_t.c.company_id == company_id, holdings_t.c.account_id == from_account_id)
        .values(shares=holdings_t.c.shares - shares, updated_at=now)
    )
    had = s.execute(
        select(holdings_t.c.shares, holdings_t.c.avg_price_micros).where(
            holdings_t.c.company_id == company_id, holdings_t.c.account_id == to_account_id
        )
    ).first()
    if had is None:
        s.execute(
            insert(holdings_t).values(
                company_id=company_id,
                account_id=to_account_id,
                shares=shares,
                avg_price_micros=price_micros,
                updated_at=now,
            )
        )
        received = shares
    else:
        received = had.shares + shares
        avg = (had.shares * had.avg_price_micros + shares * price_micros) // received
        s.execute(
            update(holdings_t)
            .where(holdings_t.c.company_id == company_id, holdings_t.c.account_id == to_account_id)
            .values(shares=received, avg_price_micros=avg, updated_at=now)
        )
    transfer_id = s.execute(
        insert(gifts_t)
        .values(
            company_id=company_id,
            from_account_id=from_account_id,
            to_account_id=to_account_id,
            actor_id=actor_id,
            shares=shares,
            price_micros=price_micros,
            created_at=now,
        )
        .returning(gifts_t.c.id)
    ).scalar_one()
    live.touch(s, live.company(company_id), live.MARKET, live.account(from_account_id), live.account(to_account_id))
    return transfer_id, received


def _rows(q) -> select:
    giver = accounts_t.alias("giver")
    taker = accounts_t.alias("taker")
    return (
        select(
            gifts_t.c.id,
            gifts_t.c.created_at,
            gifts_t.c.company_id,
            companies_t.c.name,
            companies_t.c.ticker,
            gifts_t.c.shares,
            gifts_t.c.price_micros,
            gifts_t.c.from_account_id,
            gifts_t.c.to_account_id,
            giver.c.name.label("from_name"),
            taker.c.name.label("to_name"),
        )
        .join(companies_t, companies_t.c.id == gifts_t.c.company_id)
        .join(giver, giver.c.id == gifts_t.c.from_account_id)
        .join(taker, taker.c.id == gifts_t.c.to_account_id)
        .where(q)
        .order_by(gifts_t.c.created_at.desc(), gifts_t.c.id.desc())
    )


def latest(s: Session, company_id: int, *, limit: int = 20) -> list[GiftRow]:
    """A company's latest share transfers, newest first (its trades history shows them)."""
    with unit(s, write=False):
        rows = s.execute(_rows(gifts_t.c.company_id == company_id).limit(max(1, min(limit, 100)))).all()
    return [
        GiftRow(r.id, r.created_at, r.company_id, r.name, r.ticker, r.shares, r.price_micros, r.from_name, r.to_name)
        for r in rows
    ]


def of_player(s: Session, user_id: int, *, limit: int = 20) -> list[GiftRow]:
    """The share transfers in and out of the player's accounts, newest first (the portfolio: both sides see
    them)."""
    with unit(s, write=False):
        mine = set(ownership.controlled_accounts(s, user_id))
        if not mine:
            return []
        rows = s.execute(
            _rows(or_(gifts_t.c.from_account_id.in_(mine), gifts_t.c.to_account_id.in_(mine))).limit(
                max(1, min(limit, 100))
            )
        ).all()
    out = []
    for r in rows:
        giving, taking = r.from_account_id in mine, r.to_account_id in mine
        direction = "within" if giving and taking else "out" if giving else "in"
        out.append(
            GiftRow(
                r.id,
                r.created_at,
                r.company_id,
                r.name,
                r.ticker,
                r.shares,
                r.price_micros,
                r.from_name,
                r.to_name,
                direction,
            )
        )
    return out
