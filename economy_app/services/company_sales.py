"""Buying and selling whole companies: a listing at an asking price, offers and counter-offers, the sale.

**Listing.** The owner lists a company at an asking price, open to anyone or to one named player, for 1 to 30
days (7 by default). At most one open listing per company (a unique index over the open ones); the owner can
withdraw it. A listing past its expiry is dead: nothing can be done with it, and listing the company again
closes it as expired.

**Negotiating.** A buyer takes the asking price, or makes an offer; the owner accepts, rejects or counters it;
the buyer accepts, rejects or counters the counter; and so on. Each step is a ``company_offers`` row answering
the one before it in its thread (one thread per listing and buyer), recorded and shown to both sides. Only the
open step of a thread can be answered, and only by the other side; its proposer may withdraw it. A buyer with an
open step waits for the answer (or withdraws it) before offering again. A buyer's step names the account that
pays (their personal account or a company they own, never the company being bought) and records the company's
cash at that moment: an owner accepting it must find at least that much cash (a buyer's offer stands on the
cash they saw); a buyer accepting the asking price or a counter passes the cash their page showed.

**The sale**, in one transaction, when a buyer takes the asking price or either side accepts the other's step:

1. the founder rules for the new owner (``ownership.py``): shares of the company held by any account the buyer
   controls are sold back to its treasury at the current bid (``stock_trading.sell_back``, recorded as trades),
   if its cash can pay for them all, else the sale is refused ("Sell your N shares of X first"); and a company
   whose account holds shares of a company the buyer owns is refused (those shares must be sold first);
2. the price moves from the buyer's paying account to the seller's personal account (``company_sale``); out of
   a public company that is a payment to a third party like any other, so ``shareholders.check_outflow``
   caps it;
3. the company and its account (its cash, its holdings, its products) become the buyer's: a public company's
   cash stays with the business and its shareholders, only its ownership moves, and with it the seller's own
   shares in it (the founder's stake: the owner's shares come last, and would no longer in the seller's hands,
   so they go to the buyer's personal account, recorded as a share transfer); the buyer's company limit
   applies;
4. the listing closes as sold, the accepted step as accepted, every other open step on it as cancelled.

**Races.** Every step locks in ``ownership.py``'s order: the company's row (and a paying company's, in id
order), then the listing's row, then the offer's, then the buyer's and the seller's rows (the buyer's company
count, one purchase of theirs at a time), then every balance the sale will post to, at once. So two buyers accepting at once,
an owner withdrawing while a buyer accepts, an owner answering while the buyer withdraws, a transfer or a trade
out of the company's account while it is sold: one commits first and the other sees what it did, exactly one
outcome (conditional updates on the listing and offer rows say so too).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import case, func, insert, select, update
from sqlmodel import Session

from economy_app import config
from economy_app.db import like_prefix
from economy_app.models import (
    MICROS_PER_CENT,
    Account,
    Balance,
    Company,
    CompanyListing,
    CompanyOffer,
    Holding,
    User,
    utcnow,
)
from economy_app.money import format_cents
from economy_app.services import (
    ledger,
    live,
    loans,
    moderation,
    ownership,
    share_transfers,
    shareholders,
    stock_trading,
    users,
)
from economy_app.services._tx import lock_user, unit
from economy_app.services.errors import (
    AccountNotFound,
    CompanyLimit,
    CompanyNotFound,
    InsufficientFunds,
    InvalidAmount,
    InvalidInput,
    ListingNotFound,
    NotAccountOwner,
    NotCompanyOwner,
    SaleRefused,
    UserNotFound,
)

companies_t = Company.__table__
accounts_t = Account.__table__
balances_t = Balance.__table__
holdings_t = Holding.__table__
listings_t = CompanyListing.__table__
offers_t = CompanyOffer.__table__
users_t = User.__table__

DEFAULT_DAYS = 7
MAX_DAYS = 30
MAX_PRICE_CENTS = 100_000_000_000  # $1,000,000,000.00
SORTS = ("newest", "price", "price_desc", "cash", "revenue", "market_cap")
PAYING_KINDS = ("personal", "company")


# --------------------------------------------------------------------------- what the pages read


BUYER_OWES = "Repay your loan before buying a company."
SELLER_OWES = "The owner owes the bank: the company can't be sold until the loan is repaid."


@dataclass(frozen=True)
class ListingRow:
    id: int
    company_id: int
    name: str
    ticker: str
    seller_id: int
    seller: str
    buyer: str  # the one player it is offered to, or "" (anyone)
    price_cents: int
    cash_cents: int
    revenue_30d: int
    market_cap_cents: int  # 0 for a private company
    public: bool
    created_at: datetime
    expires_at: datetime
    status: str = "open"
    mine: bool = False  # the reader is its seller


@dataclass(frozen=True)
class Step:
    id: int
    by_buyer: bool
    proposer: str
    price_cents: int
    status: str
    at: datetime
    pay_account: str = ""  # the buyer's paying account's name (their steps)


@dataclass(frozen=True)
class Thread:
    """One buyer's negotiation over one listing, oldest step first."""

    listing_id: int
    company_id: int
    name: str
    ticker: str
    seller: str
    buyer_id: int
    buyer: str
    asking_cents: int
    listing_status: str  # open, sold, withdrawn, expired (an open listing past its expiry reads expired)
    expires_at: datetime
    steps: list[Step]
    open_step: Step | None  # the step the other side may answer
    turn: str  # "seller", "buyer" (whose answer is awaited), or "" (none open)
    pay_account_id: int | None  # the buyer's latest choice
    cash_cents: int = 0  # the company's cash now


@dataclass(frozen=True)
class OwnerSale:
    """The sale card of the owner's dashboard."""

    listing: ListingRow | None  # the open listing (even past its expiry, until listed again), or None
    threads: list[Thread]  # on that listing
    past: list[ListingRow]  # the latest closed listings


@dataclass(frozen=True)
class SoldBack:
    account: str
    shares: int
    cents: int


@dataclass(frozen=True)
class SaleResult:
    listing_id: int
    company_id: int
    name: str
    seller: str
    buyer: str
    price_cents: int
    sold_back: list[SoldBack] = field(default_factory=list)


# --------------------------------------------------------------------------- checks


def check_price(price_cents) -> int:
    if isinstance(price_cents, bool) or not isinstance(price_cents, int):
        raise InvalidAmount("Enter a price, like 25,000.00.")
    if price_cents < 1:
        raise InvalidAmount("The price must be more than $0.00.")
    if price_cents > MAX_PRICE_CENTS:
        raise InvalidAmount(f"The price can be at most {format_cents(MAX_PRICE_CENTS)}.")
    return price_cents


def check_days(days) -> int:
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise InvalidInput(f"A listing lasts 1 to {MAX_DAYS} days.")
    return days


def _alive(listing, now: datetime) -> bool:
    return listing.status == "open" and listing.expires_at > now


def _closed_reason(listing, now: datetime) -> str:
    if listing.status == "sold":
        return "This company was just sold."
    if listing.status == "withdrawn":
        return "The owner withdrew this offer."
    if listing.status == "expired" or listing.expires_at <= now:
        return f"This offer expired on {listing.expires_at:%Y-%m-%d %H:%M} UTC."
    return "This offer is no longer open."


def _listing(s: Session, listing_id: int, *, lock: bool):
    q = select(listings_t).where(listings_t.c.id == listing_id)
    if lock and s.get_bind().dialect.name == "postgresql":
        q = q.with_for_update()
    row = s.execute(q).first()
    if row is None:
        raise ListingNotFound("That offer was not found.")
    return row


def _offer(s: Session, offer_id: int, *, lock: bool):
    q = select(offers_t).where(offers_t.c.id == offer_id)
    if lock and s.get_bind().dialect.name == "postgresql":
        q = q.with_for_update()
    row = s.execute(q).first()
    if row is None:
        raise ListingNotFound("That offer was not found.")
    return row


def _visible_to(listing, user_id: int) -> bool:
    return listing.seller_id == user_id or listing.buyer_id is None or listing.buyer_id == user_id


def _username(s: Session, user_id: int) -> str:
    return s.execute(select(users_t.c.username).where(users_t.c.id == user_id)).scalar() or f"#{user_id}"


def _personal(s: Session, user_id: int) -> int:
    found = s.execute(
        select(accounts_t.c.id).where(accounts_t.c.owner_id == user_id, accounts_t.c.kind == "personal")
    ).scalar()
    if found is None:
        raise AccountNotFound("The seller has no personal account.")
    return found


def _cash(s: Session, account_id: int) -> int:
    return s.execute(select(balances_t.c.balance).where(balances_t.c.account_id == account_id)).scalar() or 0


def _pay_account(s: Session, buyer_id: int, account_id: int | None, company):
    """The buyer's paying account: theirs, personal or a company's, not the company being bought (read after the
    row of the company whose account it is was locked, when it matters: ``_complete``)."""
    if account_id is None:
        raise InvalidInput("Pick the account that pays.")
    row = ownership.read_accounts(s, [account_id]).get(account_id)
    if row is None or row.owner_id != buyer_id or row.kind not in PAYING_KINDS:
        raise NotAccountOwner("Pay from your own account: your personal account or a company you own.")
    if row.id == company.account_id:
        raise SaleRefused(f"{company.name} can't pay for itself: pay from your personal account or another company.")
    return row


def _company_limit(s: Session, buyer_id: int) -> None:
    owned = s.execute(select(func.count()).where(companies_t.c.owner_id == buyer_id)).scalar_one()
    if owned >= config.max_companies():
        raise CompanyLimit(f"You already run {owned} companies, the most one player may own.")


def _turn_check(actor_id: int, listing, offer) -> bool:
    """Whether ``actor_id`` may answer the open step ``offer`` (the other side of its proposer). Returns True when
    the actor answers as the buyer."""
    as_buyer = actor_id == offer.buyer_id
    as_seller = actor_id == listing.seller_id
    if not (as_buyer or as_seller):
        raise ListingNotFound("That offer was not found.")
    if offer.status != "open":
        raise SaleRefused("That offer was already answered.")
    if offer.proposer_id == actor_id:
        raise SaleRefused("This is your own offer: wait for the answer, or withdraw it.")
    return as_buyer


# --------------------------------------------------------------------------- listing


def list_company(
    s: Session,
    *,
    actor_id: int,
    company_id: int,
    price_cents: int,
    buyer_username: str | None = None,
    days: int = DEFAULT_DAYS,
    now: datetime | None = None,
) -> ListingRow:
    """Put the actor's company up for sale at ``price_cents``, for anyone or for one named player."""
    check_price(price_cents)
    check_days(days)
    buyer_username = (buyer_username or "").strip() if isinstance(buyer_username, str) else ""
    with unit(s, write=True):
        now = now or utcnow()
        c = ownership.lock_companies(s, [company_id]).get(company_id)
        if c is None:
            raise CompanyNotFound("Company not found.")
        if c.owner_id != actor_id:
            raise NotCompanyOwner("Only the company's owner can do that.")
        moderation.refuse_frozen_company(s, company_id)  # a company an admin froze is not sold meanwhile
        buyer_id = None
        if buyer_username:
            buyer = users.get_user_by_username(s, buyer_username)
            if buyer is None:
                raise UserNotFound(f"No player is called {buyer_username}.")
            if buyer.id == actor_id:
                raise SaleRefused("You can't sell a company to yourself.")
            buyer_id = buyer.id
        current = s.execute(
            select(listings_t).where(listings_t.c.company_id == company_id, listings_t.c.status == "open")
        ).first()
        if current is not None:
            if _alive(current, now):
                raise SaleRefused(f"{c.name} is already for sale: withdraw that offer first.")
            _close(s, current.id, "expired", now)
        listing_id = s.execute(
            insert(listings_t)
            .values(
                company_id=company_id,
                seller_id=actor_id,
                buyer_id=buyer_id,
                price_cents=price_cents,
                status="open",
                created_at=now,
                expires_at=now + timedelta(days=days),
            )
            .returning(listings_t.c.id)
        ).scalar_one()
        live.touch(s, live.SALES, live.company(company_id), *((live.user(buyer_id),) if buyer_id else ()))
        return _listing_rows(s, listings_t.c.id == listing_id, actor_id, now)[0]


def _close(s: Session, listing_id: int, status: str, now: datetime, **values) -> None:
    """Close an open listing, and cancel every open step on it (in the caller's unit, the listing locked)."""
    s.execute(
        update(listings_t)
        .where(listings_t.c.id == listing_id, listings_t.c.status == "open")
        .values(status=status, closed_at=now, **values)
    )
    s.execute(
        update(offers_t)
        .where(offers_t.c.listing_id == listing_id, offers_t.c.status == "open")
        .values(status="cancelled", closed_at=now)
    )


def withdraw(s: Session, *, actor_id: int, listing_id: int, now: datetime | None = None) -> None:
    """The owner takes their company off the market; every open offer on it is cancelled."""
    with unit(s, write=True):
        now = now or utcnow()
        pre = _listing(s, listing_id, lock=False)
        ownership.lock_companies(s, [pre.company_id])
        listing = _listing(s, listing_id, lock=True)
        if listing.seller_id != actor_id:
            raise ListingNotFound("That offer was not found.")
        if not _alive(listing, now):
            raise SaleRefused(_closed_reason(listing, now))
        _close(s, listing_id, "withdrawn", now)
        live.touch(s, live.SALES, live.company(listing.company_id), *_buyers_topics(s, listing_id))


def _buyers_topics(s: Session, listing_id: int) -> list[str]:
    ids = s.execute(select(offers_t.c.buyer_id).where(offers_t.c.listing_id == listing_id).distinct()).scalars()
    return [live.user(i) for i in ids]


# --------------------------------------------------------------------------- offers


def _open_step(s: Session, listing_id: int, buyer_id: int):
    return s.execute(
        select(offers_t).where(
            offers_t.c.listing_id == listing_id, offers_t.c.buyer_id == buyer_id, offers_t.c.status == "open"
        )
    ).first()


def _insert_step(s: Session, listing, *, buyer_id: int, proposer_id: int, price: int, pay, cash, reply_to, now) -> int:
    return s.execute(
        insert(offers_t)
        .values(
            listing_id=listing.id,
            company_id=listing.company_id,
            buyer_id=buyer_id,
            proposer_id=proposer_id,
            price_cents=price,
            pay_account_id=pay,
            cash_cents=cash,
            status="open",
            reply_to_id=reply_to,
            created_at=now,
        )
        .returning(offers_t.c.id)
    ).scalar_one()


def make_offer(
    s: Session,
    *,
    actor_id: int,
    listing_id: int,
    price_cents: int,
    pay_account_id: int | None,
    now: datetime | None = None,
) -> int:
    """A buyer's offer on a listing (a counter to its asking price). Returns the step's id."""
    check_price(price_cents)
    with unit(s, write=True):
        now = now or utcnow()
        pre = _listing(s, listing_id, lock=False)
        c = ownership.lock_companies(s, [pre.company_id])[pre.company_id]
        listing = _listing(s, listing_id, lock=True)
        if not _visible_to(listing, actor_id):
            raise ListingNotFound("That offer was not found.")
        if listing.seller_id == actor_id:
            raise SaleRefused("This is your company.")
        if not _alive(listing, now):
            raise SaleRefused(_closed_reason(listing, now))
        _pay_account(s, actor_id, pay_account_id, c)
        if (step := _open_step(s, listing_id, actor_id)) is not None:
            if step.proposer_id == actor_id:
                raise SaleRefused("You already have an offer waiting for an answer: withdraw it to make another.")
            raise SaleRefused(f"{_username(s, listing.seller_id)} countered your offer: answer the counter-offer.")
        _company_limit(s, actor_id)
        offer_id = _insert_step(
            s,
            listing,
            buyer_id=actor_id,
            proposer_id=actor_id,
            price=price_cents,
            pay=pay_account_id,
            cash=_cash(s, c.account_id),
            reply_to=None,
            now=now,
        )
        live.touch(s, live.SALES, live.company(c.id), live.user(listing.seller_id), live.user(actor_id))
        return offer_id


def counter(
    s: Session,
    *,
    actor_id: int,
    offer_id: int,
    price_cents: int,
    pay_account_id: int | None = None,
    now: datetime | None = None,
) -> int:
    """Answer the other side's open step with another price. Returns the new step's id."""
    check_price(price_cents)
    with unit(s, write=True):
        now = now or utcnow()
        pre = _offer(s, offer_id, lock=False)
        c = ownership.lock_companies(s, [pre.company_id])[pre.company_id]
        listing = _listing(s, pre.listing_id, lock=True)
        offer = _offer(s, offer_id, lock=True)
        as_buyer = _turn_check(actor_id, listing, offer)
        if not _alive(listing, now):
            raise SaleRefused(_closed_reason(listing, now))
        pay = offer.pay_account_id
        if as_buyer:
            pay = pay_account_id if pay_account_id is not None else pay
            _pay_account(s, actor_id, pay, c)
        s.execute(
            update(offers_t)
            .where(offers_t.c.id == offer_id, offers_t.c.status == "open")
            .values(status="countered", closed_at=now)
        )
        new_id = _insert_step(
            s,
            listing,
            buyer_id=offer.buyer_id,
            proposer_id=actor_id,
            price=price_cents,
            pay=pay,
            cash=_cash(s, c.account_id) if as_buyer else None,
            reply_to=offer_id,
            now=now,
        )
        live.touch(s, live.SALES, live.company(c.id), live.user(listing.seller_id), live.user(offer.buyer_id))
        return new_id


def reject(s: Session, *, actor_id: int, offer_id: int, now: datetime | None = None) -> None:
    """Turn down the other side's open step (the thread stays: the buyer may offer again)."""
    _end_step(s, actor_id=actor_id, offer_id=offer_id, status="rejected", now=now)


def withdraw_offer(s: Session, *, actor_id: int, offer_id: int, now: datetime | None = None) -> None:
    """Take back one's own open step."""
    _end_step(s, actor_id=actor_id, offer_id=offer_id, status="withdrawn", now=now)


def _end_step(s: Session, *, actor_id: int, offer_id: int, status: str, now: datetime | None) -> None:
    with unit(s, write=True):
        now = now or utcnow()
        pre = _offer(s, offer_id, lock=False)
        ownership.lock_companies(s, [pre.company_id])
        listing = _listing(s, pre.listing_id, lock=True)
        offer = _offer(s, offer_id, lock=True)
        if status == "withdrawn":
            if actor_id not in (offer.buyer_id, listing.seller_id):
                raise ListingNotFound("That offer was not found.")
            if offer.proposer_id != actor_id:
                raise SaleRefused("Only its maker can withdraw an offer: reject it instead.")
            if offer.status != "open":
                raise SaleRefused("That offer was already answered.")
        else:
            _turn_check(actor_id, listing, offer)
        if not _alive(listing, now):
            raise SaleRefused(_closed_reason(listing, now))
        s.execute(
            update(offers_t)
            .where(offers_t.c.id == offer_id, offers_t.c.status == "open")
            .values(status=status, closed_at=now)
        )
        live.touch(
            s, live.SALES, live.company(listing.company_id), live.user(listing.seller_id), live.user(offer.buyer_id)
        )


# --------------------------------------------------------------------------- the sale


def buy_now(
    s: Session,
    *,
    actor_id: int,
    listing_id: int,
    pay_account_id: int | None,
    expect_cash_cents: int | None = None,
    now: datetime | None = None,
) -> SaleResult:
    """The buyer takes the asking price. ``expect_cash_cents``: the company's cash the buyer's page showed (the
    sale is refused if it has fallen below it since)."""
    with unit(s, write=True):
        now = now or utcnow()
        pre = _listing(s, listing_id, lock=False)
        pay_company = ownership.companies_of_accounts(s, [pay_account_id])
        locked = ownership.lock_companies(s, [pre.company_id, *pay_company])
        listing = _listing(s, listing_id, lock=True)
        if not _visible_to(listing, actor_id):
            raise ListingNotFound("That offer was not found.")
        if listing.seller_id == actor_id:
            raise SaleRefused("This is your company.")
        if not _alive(listing, now):
            raise SaleRefused(_closed_reason(listing, now))
        _pay_account(s, actor_id, pay_account_id, locked[listing.company_id])  # (checked again, locked, below)
        step_id = _insert_step(
            s,
            listing,
            buyer_id=actor_id,
            proposer_id=actor_id,
            price=listing.price_cents,
            pay=pay_account_id,
            cash=None,
            reply_to=None,
            now=now,
        )
        return _complete(
            s,
            company=locked[listing.company_id],
            listing=listing,
            actor_id=actor_id,
            buyer_id=actor_id,
            price=listing.price_cents,
            pay_account_id=pay_account_id,
            min_cash=expect_cash_cents,
            step_id=step_id,
            now=now,
        )


def accept(
    s: Session,
    *,
    actor_id: int,
    offer_id: int,
    pay_account_id: int | None = None,
    expect_cash_cents: int | None = None,
    now: datetime | None = None,
) -> SaleResult:
    """Accept the other side's open step: the sale at its price. The owner accepting a buyer's step needs the
    company's cash to be at least what it was when the buyer made it; a buyer accepting the owner's counter may
    pick the paying account and pass the cash their page showed (``expect_cash_cents``)."""
    with unit(s, write=True):
        now = now or utcnow()
        pre = _offer(s, offer_id, lock=False)
        pay = pay_account_id if (pay_account_id is not None and actor_id == pre.buyer_id) else pre.pay_account_id
        locked = ownership.lock_companies(s, [pre.company_id, *ownership.companies_of_accounts(s, [pay])])
        listing = _listing(s, pre.listing_id, lock=True)
        offer = _offer(s, offer_id, lock=True)
        as_buyer = _turn_check(actor_id, listing, offer)
        if not _alive(listing, now):
            raise SaleRefused(_closed_reason(listing, now))
        return _complete(
            s,
            company=locked[listing.company_id],
            listing=listing,
            actor_id=actor_id,
            buyer_id=offer.buyer_id,
            price=offer.price_cents,
            pay_account_id=pay,
            min_cash=expect_cash_cents if as_buyer else offer.cash_cents,
            step_id=offer.id,
            now=now,
        )


def _complete(
    s: Session,
    *,
    company,
    listing,
    actor_id: int,
    buyer_id: int,
    price: int,
    pay_account_id: int | None,
    min_cash: int | None,
    step_id: int,
    now: datetime,
) -> SaleResult:
    """The sale itself (see the module's rules), the company, listing and offer rows locked by the caller."""
    c = company
    seller_id = listing.seller_id
    if c.owner_id != seller_id:  # (a listing closes when its company is sold: defensive)
        raise SaleRefused("This company changed hands: the offer is closed.")
    seller, buyer = _username(s, seller_id), _username(s, buyer_id)
    for user_id in sorted({buyer_id, seller_id}):
        lock_user(s, user_id)  # the buyer's companies counted, one purchase of theirs at a time; and the seller's
    # A debtor neither buys a company (the price would go to another player, out of the default's reach) nor
    # sells one (its cash, which a default collects from a private company, would leave with it): issue 17.
    loans.refuse_if_owing(s, buyer_id, BUYER_OWES)
    loans.refuse_if_owing(s, seller_id, SELLER_OWES)
    pay = _pay_account(s, buyer_id, pay_account_id, c)  # its company's row is locked: its owner is current
    _company_limit(s, buyer_id)
    holders = ownership.controlled_accounts(s, buyer_id)
    ownership.lock_money_rows(s, [c.account_id, pay.id, _personal(s, seller_id), *holders])
    # An admin's freeze (of the company, or of either player) stops the deal; read after the locks a freeze takes.
    moderation.refuse_frozen_company(s, c.id)
    moderation.refuse_frozen_player(s, buyer_id)
    moderation.refuse_frozen_player(s, seller_id)
    cash = _cash(s, c.account_id)
    if min_cash is not None and cash < min_cash:
        raise SaleRefused(
            f"{c.name}'s cash fell from {format_cents(min_cash)} to {format_cents(cash)} since that offer was made: "
            "make a new one on what it has now."
        )
    _founder_rules(s, c, buyer_id, buyer, actor_id)
    sold_back = _sell_back_holdings(s, c, buyer_id, buyer, actor_id, now)
    _hand_over_stake(s, c, seller_id, buyer_id, now)
    balance = _cash(s, pay.id)
    if balance < price:
        raise InsufficientFunds(
            f"{pay.name} has {format_cents(balance)}: not enough to pay {format_cents(price)} for {c.name}."
            if actor_id == buyer_id
            else f"{buyer} can't pay {format_cents(price)} for {c.name} now."
        )
    seller_account = _personal(s, seller_id)
    shareholders.check_outflow(s, pay.id, seller_account, price, now=now)
    ledger.post(
        s,
        from_account_id=pay.id,
        to_account_id=seller_account,
        amount=price,
        type="company_sale",
        description=f"Sale of {c.name} ({c.ticker}) by {seller} to {buyer}",
        now=now,
    )
    moved = s.execute(
        update(companies_t)
        .where(companies_t.c.id == c.id, companies_t.c.owner_id == seller_id)
        .values(owner_id=buyer_id)
        .returning(companies_t.c.id)
    ).first()
    if moved is None:
        raise SaleRefused("This company changed hands: the offer is closed.")
    s.execute(update(accounts_t).where(accounts_t.c.id == c.account_id).values(owner_id=buyer_id))
    s.execute(
        update(offers_t)
        .where(offers_t.c.id == step_id, offers_t.c.status == "open")
        .values(status="accepted", closed_at=now)
    )
    _close(s, listing.id, "sold", now, sold_to_id=buyer_id, sold_cents=price)
    live.touch(
        s,
        live.SALES,
        live.company(c.id),
        live.account(c.account_id),
        live.user(seller_id),
        live.user(buyer_id),
        live.ECONOMY,
        *((live.MARKET,) if c.is_public else ()),
        *_buyers_topics(s, listing.id),
    )
    return SaleResult(listing.id, c.id, c.name, seller, buyer, price, sold_back)


def _founder_rules(s: Session, c, buyer_id: int, buyer: str, actor_id: int) -> None:
    """Refuse a company whose account holds shares of a company the buyer owns: once the buyer owned it, they
    would hold their own company's shares through it."""
    held = s.execute(
        select(companies_t.c.name, holdings_t.c.shares)
        .join(companies_t, companies_t.c.id == holdings_t.c.company_id)
        .where(
            holdings_t.c.account_id == c.account_id,
            holdings_t.c.shares > 0,
            companies_t.c.owner_id == buyer_id,
        )
        .order_by(companies_t.c.id)
    ).first()
    if held is not None:
        whose = "you own" if actor_id == buyer_id else f"{buyer} owns"
        raise SaleRefused(
            f"{c.name} holds {held.shares:,} shares of {held.name}, a company {whose}: they must be sold "
            f"before {c.name} can change hands, since nobody may hold their own company's shares."
        )


def _sell_back_holdings(s: Session, c, buyer_id: int, buyer: str, actor_id: int, now: datetime) -> list[SoldBack]:
    """Shares of the company held by accounts the buyer controls, sold back to its treasury at the current bid
    if its cash pays for them all; else the sale is refused."""
    if not c.is_public:
        return []
    mine = ownership.controlled_accounts(s, buyer_id)
    rows = s.execute(
        select(holdings_t.c.account_id, accounts_t.c.name, holdings_t.c.shares)
        .join(accounts_t, accounts_t.c.id == holdings_t.c.account_id)
        .where(holdings_t.c.company_id == c.id, holdings_t.c.shares > 0, holdings_t.c.account_id.in_(mine))
        .order_by(holdings_t.c.account_id)
    ).all()
    if not rows:
        return []
    total = sum(r.shares for r in rows)
    base, x, n = stock_trading.curve_of(c)
    can = stock_trading.max_buyback_shares(base, x, n, _cash(s, c.account_id))
    if can < total:
        if actor_id == buyer_id:
            raise SaleRefused(
                f"Sell your {total:,} shares of {c.name} first: nobody may own a company and hold its shares, and "
                f"{c.name} can buy back only {can:,} of them now."
            )
        raise SaleRefused(
            f"{buyer} holds {total:,} shares of {c.name}, more than it can buy back now ({can:,}): they must sell "
            "them first, since nobody may own a company and hold its shares."
        )
    out = []
    for r in rows:
        trade = stock_trading.sell_back(s, actor_id=buyer_id, account_id=r.account_id, company_id=c.id, now=now)
        if trade is not None:
            out.append(SoldBack(r.name, trade.shares, trade.total_cents))
    return out


def _hand_over_stake(s: Session, c, seller_id: int, buyer_id: int, now: datetime) -> None:
    """The shares the seller holds in the company (the founder's stake) go to the buyer with it: the owner's shares
    come last, and the seller's would not once they no longer owned it (a sale to a friend for a cent, then every
    investor's money for the stake). Recorded as share transfers, at the price now."""
    if not c.is_public:
        return
    rows = s.execute(
        select(holdings_t.c.account_id, holdings_t.c.shares)
        .where(
            holdings_t.c.company_id == c.id,
            holdings_t.c.shares > 0,
            holdings_t.c.account_id.in_(ownership.controlled_accounts(s, seller_id)),
        )
        .order_by(holdings_t.c.account_id)
    ).all()
    if not rows:
        return
    to = _personal(s, buyer_id)
    price = s.execute(select(companies_t.c.share_price_micros).where(companies_t.c.id == c.id)).scalar_one()
    for r in rows:
        share_transfers.move(
            s,
            company_id=c.id,
            from_account_id=r.account_id,
            to_account_id=to,
            shares=r.shares,
            actor_id=seller_id,
            price_micros=price,
            now=now,
        )


# --------------------------------------------------------------------------- reading


def _listing_query(now: datetime):
    from economy_app.services.companies import _revenue_since  # the directory's revenue figure, the same SQL

    seller = users_t.alias("seller")
    named = users_t.alias("named")
    cash = func.coalesce(balances_t.c.balance, 0)
    cap = case(
        (companies_t.c.is_public.is_(True), companies_t.c.total_shares * companies_t.c.share_price_micros),
        else_=0,
    )
    return (
        (
            select(
                listings_t.c.id,
                listings_t.c.company_id,
                companies_t.c.name,
                companies_t.c.ticker,
                listings_t.c.seller_id,
                seller.c.username.label("seller"),
                func.coalesce(named.c.username, "").label("buyer"),
                listings_t.c.price_cents,
                cash.label("cash"),
                _revenue_since(now - timedelta(days=30)).label("revenue"),
                cap.label("cap"),
                companies_t.c.is_public,
                listings_t.c.created_at,
                listings_t.c.expires_at,
                listings_t.c.status,
            )
            .select_from(listings_t)
            .join(companies_t, companies_t.c.id == listings_t.c.company_id)
            .join(seller, seller.c.id == listings_t.c.seller_id)
            .outerjoin(named, named.c.id == listings_t.c.buyer_id)
            .outerjoin(balances_t, balances_t.c.account_id == companies_t.c.account_id)
        ),
        cash,
        cap,
    )


def _row(r, user_id: int, now: datetime) -> ListingRow:
    status = "expired" if r.status == "open" and r.expires_at <= now else r.status
    return ListingRow(
        id=r.id,
        company_id=r.company_id,
        name=r.name,
        ticker=r.ticker,
        seller_id=r.seller_id,
        seller=r.seller,
        buyer=r.buyer,
        price_cents=r.price_cents,
        cash_cents=int(r.cash),
        revenue_30d=int(r.revenue),
        market_cap_cents=int(r.cap) // MICROS_PER_CENT,
        public=bool(r.is_public),
        created_at=r.created_at,
        expires_at=r.expires_at,
        status=status,
        mine=r.seller_id == user_id,
    )


def _listing_rows(s: Session, where, user_id: int, now: datetime) -> list[ListingRow]:
    q, _, _ = _listing_query(now)
    return [_row(r, user_id, now) for r in s.execute(q.where(where).order_by(listings_t.c.id.desc()))]


def for_sale(
    s: Session,
    user_id: int,
    *,
    query: str = "",
    sort: str = "newest",
    page: int = 1,
    page_size: int = 20,
    now: datetime | None = None,
) -> tuple[list[ListingRow], int]:
    """Companies for sale now that the player may buy or sees as theirs, searched by name or ticker prefix,
    sorted, one page: (rows, total)."""
    if sort not in SORTS:
        raise InvalidInput(f"Sort by one of: {', '.join(SORTS)}.")
    now = now or utcnow()
    page, page_size = max(1, int(page)), max(1, min(int(page_size), 100))
    q, cash, cap = _listing_query(now)
    where = [
        listings_t.c.status == "open",
        listings_t.c.expires_at > now,
        (listings_t.c.buyer_id.is_(None)) | (listings_t.c.buyer_id == user_id) | (listings_t.c.seller_id == user_id),
    ]
    text = (query or "").strip().lower() if isinstance(query, str) else ""
    if text:
        pattern = like_prefix(text)
        where.append(
            func.lower(companies_t.c.name).like(pattern, escape="\\")
            | func.lower(companies_t.c.ticker).like(pattern, escape="\\")
        )
    order = {
        "newest": (listings_t.c.id.desc(),),
        "price": (listings_t.c.price_cents, listings_t.c.id),
        "price_desc": (listings_t.c.price_cents.desc(), listings_t.c.id),
        "cash": (cash.desc(), listings_t.c.id),
        "revenue": (q.selected_columns.revenue.desc(), listings_t.c.id),
        "market_cap": (cap.desc(), listings_t.c.id),
    }[sort]
    with unit(s, write=False):
        total = s.execute(
            select(func.count())
            .select_from(listings_t)
            .join(companies_t, companies_t.c.id == listings_t.c.company_id)
            .where(*where)
        ).scalar_one()
        rows = s.execute(q.where(*where).order_by(*order).offset((page - 1) * page_size).limit(page_size)).all()
    return [_row(r, user_id, now) for r in rows], total


def _threads(s: Session, where, now: datetime) -> list[Thread]:
    buyer_u = users_t.alias("buyer_u")
    proposer_u = users_t.alias("proposer_u")
    seller_u = users_t.alias("seller_u")
    pay_a = accounts_t.alias("pay_a")
    rows = s.execute(
        select(
            offers_t.c.id,
            offers_t.c.listing_id,
            offers_t.c.buyer_id,
            offers_t.c.proposer_id,
            offers_t.c.price_cents,
            offers_t.c.status,
            offers_t.c.created_at,
            offers_t.c.pay_account_id,
            func.coalesce(pay_a.c.name, "").label("pay_name"),
            buyer_u.c.username.label("buyer"),
            proposer_u.c.username.label("proposer"),
            seller_u.c.username.label("seller"),
            listings_t.c.company_id,
            listings_t.c.price_cents.label("asking"),
            listings_t.c.status.label("listing_status"),
            listings_t.c.expires_at,
            companies_t.c.name,
            companies_t.c.ticker,
            func.coalesce(balances_t.c.balance, 0).label("cash"),
        )
        .select_from(offers_t)
        .join(listings_t, listings_t.c.id == offers_t.c.listing_id)
        .join(companies_t, companies_t.c.id == listings_t.c.company_id)
        .outerjoin(balances_t, balances_t.c.account_id == companies_t.c.account_id)
        .join(buyer_u, buyer_u.c.id == offers_t.c.buyer_id)
        .join(proposer_u, proposer_u.c.id == offers_t.c.proposer_id)
        .join(seller_u, seller_u.c.id == listings_t.c.seller_id)
        .outerjoin(pay_a, pay_a.c.id == offers_t.c.pay_account_id)
        .where(where)
        .order_by(offers_t.c.listing_id.desc(), offers_t.c.buyer_id, offers_t.c.id)
    ).all()
    grouped: dict[tuple[int, int], list] = defaultdict(list)
    for r in rows:
        grouped[(r.listing_id, r.buyer_id)].append(r)
    out = []
    for (_, buyer_id), steps in grouped.items():
        first = steps[0]
        listing_status = first.listing_status
        if listing_status == "open" and first.expires_at <= now:
            listing_status = "expired"
        view = [
            Step(
                r.id,
                r.proposer_id == r.buyer_id,
                r.proposer,
                r.price_cents,
                "expired" if r.status == "open" and listing_status == "expired" else r.status,
                r.created_at,
                r.pay_name if r.proposer_id == r.buyer_id else "",
            )
            for r in steps
        ]
        open_step = view[-1] if view[-1].status == "open" else None
        out.append(
            Thread(
                listing_id=first.listing_id,
                company_id=first.company_id,
                name=first.name,
                ticker=first.ticker,
                seller=first.seller,
                buyer_id=buyer_id,
                buyer=first.buyer,
                asking_cents=first.asking,
                listing_status=listing_status,
                expires_at=first.expires_at,
                steps=view,
                open_step=open_step,
                turn="" if open_step is None else ("seller" if open_step.by_buyer else "buyer"),
                pay_account_id=next((r.pay_account_id for r in reversed(steps) if r.pay_account_id), None),
                cash_cents=int(first.cash),
            )
        )
    return out


def owner_view(s: Session, company_id: int, user_id: int, *, now: datetime | None = None) -> OwnerSale:
    """The owner's sale card (the caller checked ownership: ``companies.company_dashboard``): the open listing
    (shown as expired once past its expiry, until the company is listed again), its threads, and the latest
    closed listings."""
    now = now or utcnow()
    with unit(s, write=False):
        open_id = s.execute(
            select(listings_t.c.id).where(listings_t.c.company_id == company_id, listings_t.c.status == "open")
        ).scalar()
        rows = _listing_rows(s, listings_t.c.company_id == company_id, user_id, now)
        threads = _threads(s, offers_t.c.listing_id == open_id, now) if open_id is not None else []
    current = next((r for r in rows if r.id == open_id), None)
    return OwnerSale(listing=current, threads=threads, past=[r for r in rows if r.id != open_id][:5])


def buyer_view(s: Session, user_id: int, *, limit: int = 20, now: datetime | None = None) -> list[Thread]:
    """The player's negotiations as a buyer, the latest listings first (open ones and how closed ones ended)."""
    now = now or utcnow()
    with unit(s, write=False):
        listing_ids = list(
            s.execute(
                select(offers_t.c.listing_id)
                .where(offers_t.c.buyer_id == user_id)
                .group_by(offers_t.c.listing_id)
                .order_by(func.max(offers_t.c.id).desc())
                .limit(max(1, min(limit, 100)))
            ).scalars()
        )
        if not listing_ids:
            return []
        threads = _threads(s, offers_t.c.listing_id.in_(listing_ids) & (offers_t.c.buyer_id == user_id), now)
    order = {lid: i for i, lid in enumerate(listing_ids)}
    return sorted(threads, key=lambda t: order[t.listing_id])


def listing_for(s: Session, user_id: int, listing_id: int, *, now: datetime | None = None) -> ListingRow:
    """One listing as the player may see it (its seller, anyone for an open one, its named buyer)."""
    now = now or utcnow()
    with unit(s, write=False):
        listing = _listing(s, listing_id, lock=False)
        if not _visible_to(listing, user_id):
            raise ListingNotFound("That offer was not found.")
        return _listing_rows(s, listings_t.c.id == listing_id, user_id, now)[0]


@dataclass(frozen=True)
class MarketPage:
    """The "Companies for sale" page in one call: a page of listings, the player's offers, their accounts."""

    rows: list[ListingRow]
    total: int
    threads: list[Thread]
    accounts: list  # accounts.AccountView: the accounts the player may pay from


def market_page(
    s: Session, user_id: int, *, query: str = "", sort: str = "newest", page: int = 1, page_size: int = 20
) -> MarketPage:
    from economy_app.services.accounts import list_accounts  # (accounts reads ownership, as this module does)

    now = utcnow()
    with unit(s, write=False):
        rows, total = for_sale(s, user_id, query=query, sort=sort, page=page, page_size=page_size, now=now)
        return MarketPage(
            rows=rows,
            total=total,
            threads=buyer_view(s, user_id, now=now),
            accounts=[a for a in list_accounts(s, user_id) if a.kind in PAYING_KINDS],
        )
