"""Loans: borrowing from the bank (the mint), daily interest, repayment, and what a default does.

A loan is an account of its own, of kind ``loan``, owned by the borrower. Borrowing moves the money from it to
the borrower's personal account (``loan_disbursement``), so the loan account holds the debt as a negative
balance and the sum of every balance stays zero. It may go that far below zero and no further: its floor
(``accounts.floor``, checked by ``ledger.post`` on the locked rows like every account's) is minus the
principal plus the interest charged so far, lowered in the same transaction as each interest posting.

The rules (the README's "Loans"; the numbers are settings in ``config.py``):

- At most one open loan per player (a unique index over the open ones backs it), of at most
  ``loan_max_debt_cents`` ($500,000.00). Taking one carries the form's idempotency key and locks the player's
  row first, so any number of clicks from any number of tabs give exactly one loan.
- Interest: ``loan_interest_bps`` (5%) a day, compounded daily, charged as each day of the loan starts (a
  started day is a day, so no loan is free): when it is taken, then every 24 hours, the seventh 24 hours before
  the due date; each is 5% of what is owed at that moment, rounded up to the cent, from the loan account to the
  mint (``loan_interest``). The loans job charges each day that has started; taking no action never escapes
  it, and a repayment charges the days that started before it first (so paying late never dodges a charge).
- Repay any amount up to the debt, at any time, from the personal account (``loan_repayment``). At zero the
  loan closes and its floor goes back to 0.
- Due ``loan_term_days`` (7) after it was taken. The loans job defaults a loan still owing then, in one
  transaction: it collects (``loan_default``, into the loan account) the borrower's personal cash and the cash
  of their private companies, then their holdings in those accounts, sold back to the companies as far as each
  can pay (``stock_trading.sell_to_raise``; the stake in their own public company too, the owner's shares
  last). A public company's cash is its business's and its shareholders' (services/shareholders.py): the
  owner's part of it comes out through the stake, as for every shareholder. Only then is the rest written off
  against the mint with its own entry (``loan_writeoff``), so the loan account ends at zero and the ledger
  explains every cent. The borrower may not borrow again for ``loan_cooldown_days`` (7).
- While a player owes money, nothing they control may pay another player (``refuse_if_owing``: transfers,
  purchases from other players' companies), nor put money into a public company, even their own (transfers,
  purchases, share purchases): a default collects what they hold, so what they held must stay theirs until
  then, and a public company's cash is not theirs to collect (money put into one would go to its shareholders,
  paid for by the write-off; shares bought in a friend's company whose cash he then takes out could not be sold
  back).

Locks, in the order every writer takes them (no deadlock between any two): companies' rows (by id), then the
player's row (``_tx.lock_user``), then the loan's row, then products' rows (a purchase, a marketplace run), then
balance rows in account-id order. Every function
here that posts more than once locks all its balance rows first (``ledger.lock_balances``), so a marketplace
run (the mint and companies, in one statement) never waits on it in a cycle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import bindparam, case, func, insert, select, update
from sqlmodel import Session

from economy_app import config
from economy_app.db import DriverRead
from economy_app.models import Account, Balance, Company, Holding, LedgerEntry, Loan, User, utcnow
from economy_app.money import format_cents, format_rate
from economy_app.services import ledger, live, moderation, stock_trading
from economy_app.services._tx import lock_user, unit
from economy_app.services.errors import (
    AccountNotFound,
    DebtOutstanding,
    DuplicateRequest,
    InsufficientFunds,
    InvalidAmount,
    InvalidInput,
    LoanRefused,
)

loans_t = Loan.__table__
accounts_t = Account.__table__
balances_t = Balance.__table__
companies_t = Company.__table__
holdings_t = Holding.__table__
users_t = User.__table__
ledger_t = LedgerEntry.__table__

DAY = timedelta(days=1)
MIN_LOAN_CENTS = 100  # $1.00
PAY_OTHERS_REFUSED = "Repay your loan before sending money to other players."
BUY_FROM_OTHERS_REFUSED = "Repay your loan before buying from other players' companies."
BUY_SHARES_REFUSED = "Repay your loan before buying shares: the money would go to a public company's shareholders."
# A default collects nothing from a public company (its cash is its business's and its shareholders'): money a
# debtor put into one would go to its shareholders, out of the bank's write-off.
PAY_PUBLIC_REFUSED = "Repay your loan before putting money into a public company: its cash belongs to its shareholders."


# --------------------------------------------------------------------------- the arithmetic


def interest_for(debt: int, bps: int) -> int:
    """One day's interest on ``debt`` cents at ``bps`` hundredths of a percent: rounded up to the cent."""
    return -(-max(0, debt) * bps // 10_000)


def owed_after(debt: int, bps: int, days: int) -> int:
    """What ``debt`` grows to after ``days`` daily charges, nothing repaid (each charge rounded up)."""
    for _ in range(max(0, days)):
        debt += interest_for(debt, bps)
    return debt


def _when(at: datetime) -> str:
    return f"{at:%Y-%m-%d %H:%M} UTC"


@dataclass(frozen=True)
class Quote:
    """What taking ``amount`` now would mean, shown before the player confirms."""

    amount: int  # what the player receives, in their personal account, now
    owed_at_due: int  # what they would owe on the due date if they repaid nothing
    owed_now: int  # what they owe at once: the amount and the first day's interest
    due_at: datetime
    first_charge_at: datetime  # now: the first day's interest is charged when the loan is taken
    interest_bps: int
    term_days: int


def quote(amount: int, *, now: datetime | None = None) -> Quote:
    """The terms of borrowing ``amount`` now (nothing is checked against the player: see ``take``)."""
    now = now or utcnow()
    bps, days = config.loan_interest_bps(), config.loan_term_days()
    return Quote(amount, owed_after(amount, bps, days), owed_after(amount, bps, 1), now + days * DAY, now, bps, days)


# --------------------------------------------------------------------------- what a player sees


@dataclass(frozen=True)
class LoanView:
    id: int
    account_id: int
    status: str  # open | repaid | defaulted
    principal: int
    interest: int  # charged so far
    repaid: int
    collected: int  # taken by a default
    written_off: int
    debt: int  # what is owed now (0 once closed)
    taken_at: datetime
    due_at: datetime
    closed_at: datetime | None
    interest_bps: int
    next_charge_at: datetime | None  # the next daily charge (None after the last one, or once closed)
    next_interest: int  # what that charge would be on today's debt
    owed_at_due: int  # what is owed on the due date if nothing more is repaid

    @property
    def open(self) -> bool:
        return self.status == "open"


@dataclass(frozen=True)
class Credit:
    """Everything the loans page shows: the open loan, what may be borrowed now, past loans."""

    loan: LoanView | None
    can_borrow: int  # the most that may be borrowed now: 0 with a loan open or during a cool-down
    barred_until: datetime | None  # after a default: when borrowing is allowed again
    max_debt: int
    min_loan: int
    interest_bps: int
    term_days: int
    personal_balance: int
    past: list[LoanView] = field(default_factory=list)


_VIEW = (
    select(loans_t, func.coalesce(balances_t.c.balance, 0).label("balance"))
    .select_from(loans_t)
    .outerjoin(balances_t, balances_t.c.account_id == loans_t.c.account_id)
)


def _view(r) -> LoanView:
    debt = max(0, -int(r.balance)) if r.status == "open" else 0
    charges_left = max(0, (r.due_at - r.taken_at) // DAY - r.charges)  # one a day, the last on the due date
    return LoanView(
        id=r.id,
        account_id=r.account_id,
        status=r.status,
        principal=r.principal_cents,
        interest=r.interest_cents,
        repaid=r.repaid_cents,
        collected=r.collected_cents,
        written_off=r.written_off_cents,
        debt=debt,
        taken_at=r.taken_at,
        due_at=r.due_at,
        closed_at=r.closed_at,
        interest_bps=r.interest_bps,
        next_charge_at=r.next_charge_at if r.status == "open" else None,
        next_interest=interest_for(debt, r.interest_bps) if r.next_charge_at and r.status == "open" else 0,
        owed_at_due=owed_after(debt, r.interest_bps, charges_left) if r.status == "open" else 0,
    )


def current(s: Session, user_id: int) -> LoanView | None:
    """The player's open loan, or None."""
    with unit(s, write=False):
        row = _CURRENT.first_in(s, {"user_id": user_id})
    return _view(row) if row else None


# Read on every dashboard load and refresh: compiled once, sent straight to the driver (db.DriverRead).
_CURRENT = DriverRead(_VIEW.where(loans_t.c.user_id == bindparam("user_id"), loans_t.c.status == "open"))


def barred_until(s: Session, user_id: int, now: datetime | None = None) -> datetime | None:
    """After a default: until when the player may not borrow (None when they may)."""
    now = now or utcnow()
    with unit(s, write=False):
        last = s.execute(
            select(func.max(loans_t.c.closed_at)).where(loans_t.c.user_id == user_id, loans_t.c.status == "defaulted")
        ).scalar()
    until = last + timedelta(days=config.loan_cooldown_days()) if last else None
    return until if until and until > now else None


def credit(s: Session, user_id: int, *, now: datetime | None = None, past: int = 10) -> Credit:
    """The loans page: the open loan, what may be borrowed now and on which terms, the last ``past`` loans."""
    now = now or utcnow()
    with unit(s, write=False):
        rows = s.execute(_VIEW.where(loans_t.c.user_id == user_id).order_by(loans_t.c.id.desc()).limit(past + 1)).all()
        barred = barred_until(s, user_id, now)
        personal = _personal_account(s, user_id)
        balance = s.execute(select(balances_t.c.balance).where(balances_t.c.account_id == personal)).scalar() or 0
    views = [_view(r) for r in rows]
    loan = next((v for v in views if v.open), None)
    cap = config.loan_max_debt_cents()
    return Credit(
        loan=loan,
        can_borrow=0 if loan or barred or cap < MIN_LOAN_CENTS else cap,
        barred_until=barred,
        max_debt=cap,
        min_loan=MIN_LOAN_CENTS,
        interest_bps=config.loan_interest_bps(),
        term_days=config.loan_term_days(),
        personal_balance=int(balance),
        past=[v for v in views if not v.open][:past],
    )


def owes(s: Session, user_id: int) -> bool:
    """Whether the player has a loan open."""
    with unit(s, write=False):
        return _OPEN_LOAN.first_in(s, {"user_id": user_id}) is not None


def is_public_company_account(s: Session, account_id: int) -> bool:
    """Whether the account is a public company's."""
    return _PUBLIC_COMPANY_ACCOUNT.first_in(s, {"account": account_id}) is not None


# Read by every payment to another player or to a public company: compiled once, straight to the driver.
_OPEN_LOAN = DriverRead(
    select(loans_t.c.id).where(loans_t.c.user_id == bindparam("user_id"), loans_t.c.status == "open")
)
_PUBLIC_COMPANY_ACCOUNT = DriverRead(
    select(companies_t.c.id).where(companies_t.c.account_id == bindparam("account"), companies_t.c.is_public.is_(True))
)


def refuse_if_owing(s: Session, user_id: int, message: str = PAY_OTHERS_REFUSED) -> None:
    """Refuse to move money from anything the player controls to another player while they owe the bank. In a
    write unit it takes the player's lock first, the one taking a loan takes: a payment made at the same
    moment as a loan is either wholly before it or refused."""
    with unit(s, write=True):
        lock_user(s, user_id)
        if owes(s, user_id):
            raise DebtOutstanding(message)


# --------------------------------------------------------------------------- helpers


def _mint(s: Session) -> int:
    mint = s.execute(select(accounts_t.c.id).where(accounts_t.c.kind == "system")).scalar()
    if mint is None:  # a player with a personal account implies the mint: nothing to lend from otherwise
        raise AccountNotFound("The system account does not exist yet.")
    return mint


def _personal_account(s: Session, user_id: int) -> int:
    account = s.execute(
        select(accounts_t.c.id).where(accounts_t.c.owner_id == user_id, accounts_t.c.kind == "personal")
    ).scalar()
    if account is None:
        raise AccountNotFound("You have no personal account.")
    return account


def _balance(s: Session, account_id: int) -> int:
    return int(s.execute(select(balances_t.c.balance).where(balances_t.c.account_id == account_id)).scalar_one())


def _open_loan(s: Session, user_id: int):
    """The player's open loan row, locked (PostgreSQL ``FOR UPDATE``): the job and a repayment never charge
    the same day twice."""
    q = select(loans_t).where(loans_t.c.user_id == user_id, loans_t.c.status == "open")
    if s.get_bind().dialect.name == "postgresql":
        q = q.with_for_update(of=loans_t)
    return s.execute(q).first()


def _next_charge(taken_at: datetime, due_at: datetime, charges: int) -> datetime | None:
    """When the loan's next day starts (a day's interest is charged as it starts): the first when it is taken,
    then every 24 hours; none from the due date on."""
    at = taken_at + charges * DAY
    return at if at < due_at else None


def _charge_due(s: Session, loan, mint: int, now: datetime) -> int:
    """Post every daily charge of ``loan`` (a locked row) that fell due by ``now``, each on the debt at that
    point, the floor lowered by the charge first. Returns the interest charged."""
    charges, interest, charged = loan.charges, loan.interest_cents, 0
    next_at = loan.next_charge_at
    while next_at is not None and next_at <= now:
        debt = -_balance(s, loan.account_id)
        amount = interest_for(debt, loan.interest_bps)
        charges += 1
        if amount > 0:
            interest += amount
            charged += amount
            ledger.set_floor(s, loan.account_id, -(loan.principal_cents + interest))
            ledger.post(
                s,
                from_account_id=loan.account_id,
                to_account_id=mint,
                amount=amount,
                type="loan_interest",
                description=f"Interest, day {charges}: {format_rate(loan.interest_bps)} of {format_cents(debt)}",
                now=now,
            )
        next_at = _next_charge(loan.taken_at, loan.due_at, charges)
    if charges != loan.charges:
        s.execute(
            update(loans_t)
            .where(loans_t.c.id == loan.id)
            .values(charges=charges, interest_cents=interest, next_charge_at=next_at)
        )
    return charged


def _close(s: Session, loan_id: int, account_id: int, status: str, now: datetime, **values) -> None:
    """The loan account is at zero: the loan closes and its floor goes back to 0."""
    ledger.set_floor(s, account_id, 0)
    s.execute(
        update(loans_t)
        .where(loans_t.c.id == loan_id)
        .values(status=status, closed_at=now, next_charge_at=None, **values)
    )


def _loan_view(s: Session, loan_id: int) -> LoanView:
    return _view(s.execute(_VIEW.where(loans_t.c.id == loan_id)).one())


# --------------------------------------------------------------------------- taking and repaying


def take(s: Session, *, user_id: int, amount: int, idempotency_key: str, now: datetime | None = None) -> LoanView:
    """Borrow ``amount`` cents: a loan account opens with its floor at ``-amount`` and the money goes to the
    player's personal account, in one transaction. ``idempotency_key`` (the form's, minted per form) replays:
    the same key answers with the loan it took, and any number of requests at once give one loan."""
    ledger.check_amount(amount)
    if not isinstance(idempotency_key, str) or not 0 < len(idempotency_key) <= 100:
        raise InvalidInput("Idempotency key must be 1 to 100 characters.")
    with unit(s, write=True):
        lock_user(s, user_id)  # one loan request of this player at a time: the checks below, then the insert
        now = now or utcnow()
        prior = s.execute(select(loans_t).where(loans_t.c.request_key == idempotency_key)).first()
        if prior is not None:
            if prior.user_id != user_id or prior.principal_cents != amount:
                raise DuplicateRequest("This request was already made with different details.")
            return _loan_view(s, prior.id)
        if amount < MIN_LOAN_CENTS:
            raise InvalidAmount(f"Borrow at least {format_cents(MIN_LOAN_CENTS)}.")
        if owes(s, user_id):
            raise LoanRefused("You already have a loan: repay it before you borrow again.")
        barred = barred_until(s, user_id, now)
        if barred is not None:
            raise LoanRefused(f"You defaulted on a loan: you can borrow again from {_when(barred)}.")
        cap = config.loan_max_debt_cents()
        if amount > cap:
            raise LoanRefused(f"You can borrow at most {format_cents(cap)}.")
        personal = _personal_account(s, user_id)
        moderation.refuse_if_frozen(s, personal)  # a frozen player's money goes nowhere; nor does the bank's
        account = ledger.open_account(s, name=f"Loan of {format_cents(amount)}", kind="loan", owner_id=user_id, now=now)
        ledger.set_floor(s, account, -amount)
        terms = quote(amount, now=now)
        loan_id = s.execute(
            insert(loans_t)
            .values(
                user_id=user_id,
                account_id=account,
                principal_cents=amount,
                interest_bps=terms.interest_bps,
                interest_cents=0,
                charges=0,
                next_charge_at=_next_charge(now, terms.due_at, 0),
                status="open",
                taken_at=now,
                due_at=terms.due_at,
                request_key=idempotency_key,
            )
            .returning(loans_t.c.id)
        ).scalar_one()
        mint = _mint(s)
        ledger.lock_balances(s, [mint, personal, account])
        ledger.post(
            s,
            from_account_id=account,
            to_account_id=personal,
            amount=amount,
            type="loan_disbursement",
            description=f"Loan: {format_rate(terms.interest_bps)} a day, due {_when(terms.due_at)}",
            now=now,
        )
        _charge_due(s, s.execute(select(loans_t).where(loans_t.c.id == loan_id)).one(), mint, now)  # the first day
        live.touch(s, live.user(user_id))
        return _loan_view(s, loan_id)


def repay(
    s: Session, *, user_id: int, amount: int, idempotency_key: str | None = None, now: datetime | None = None
) -> LoanView:
    """Repay ``amount`` cents of the open loan from the personal account (any amount up to the debt). The
    daily charges that fell due before now are posted first; at zero the loan closes. A replayed
    ``idempotency_key`` (a double click) answers like the first and moves nothing."""
    ledger.check_amount(amount)
    with unit(s, write=True):
        lock_user(s, user_id)
        now = now or utcnow()
        if ledger.key_seen(s, idempotency_key):  # a double click: the first click's answer, nothing moves
            return _replayed_repayment(s, user_id, amount, idempotency_key)
        loan = _open_loan(s, user_id)
        if loan is None:
            raise LoanRefused("You have no loan to repay.")
        personal, mint = _personal_account(s, user_id), _mint(s)
        ledger.lock_balances(s, [mint, personal, loan.account_id])
        _charge_due(s, loan, mint, now)
        debt = -_balance(s, loan.account_id)
        if amount > debt:
            raise LoanRefused(f"You owe {format_cents(debt)}: repay at most that.")
        try:
            ledger.post(
                s,
                from_account_id=personal,
                to_account_id=loan.account_id,
                amount=amount,
                type="loan_repayment",
                description="Loan repayment",
                idempotency_key=idempotency_key,
                now=now,
            )
        except InsufficientFunds:
            raise InsufficientFunds(
                f"Your personal account holds {format_cents(_balance(s, personal))}: repay at most that."
            ) from None
        repaid = loan.repaid_cents + amount
        if amount == debt:
            _close(s, loan.id, loan.account_id, "repaid", now, repaid_cents=repaid)
        else:
            s.execute(update(loans_t).where(loans_t.c.id == loan.id).values(repaid_cents=repaid))
        live.touch(s, live.user(user_id))
        return _loan_view(s, loan.id)


def _replayed_repayment(s: Session, user_id: int, amount: int, idempotency_key: str) -> LoanView:
    entry = s.execute(
        select(ledger_t.c.from_account_id, ledger_t.c.to_account_id, ledger_t.c.amount, ledger_t.c.type).where(
            ledger_t.c.idempotency_key == idempotency_key
        )
    ).first()
    loan = (
        s.execute(select(loans_t.c.id).where(loans_t.c.account_id == entry.to_account_id)).scalar()
        if entry is not None
        else None
    )
    if (
        entry is None  # archived since: nothing to compare it with
        or loan is None
        or (entry.from_account_id, entry.amount, entry.type)
        != (_personal_account(s, user_id), amount, "loan_repayment")
    ):
        raise DuplicateRequest("This request was already made with different details.")
    return _loan_view(s, loan)


# --------------------------------------------------------------------------- the loans job


@dataclass
class RunResult:
    loans_charged: int = 0
    interest: int = 0
    defaults: int = 0
    collected: int = 0
    shares_sold: int = 0
    written_off: int = 0
    postponed: int = 0  # loans left as they are while an admin's freeze holds (see ``run_due``)

    def summary(self) -> str:
        text = f"{self.loans_charged} loans charged {format_cents(self.interest)} of interest"
        if self.defaults:
            text += (
                f"; {self.defaults} defaulted: {format_cents(self.collected)} collected "
                f"({self.shares_sold:,} shares sold back), {format_cents(self.written_off)} written off"
            )
        if self.postponed:
            text += f"; {self.postponed} waiting for an admin's freeze to end"
        return text


def run_due(s: Session, *, now: datetime | None = None) -> RunResult:
    """The loans job (slot-claimed in ``services/schedule.py``; one transaction): every daily charge that fell
    due, then every loan past its due date defaults (see the module's docstring).

    An admin's freeze (services/moderation.py: every posting from a frozen account is refused) pauses what it
    touches, and nothing else: a loan whose own account is frozen (its borrower's freeze covers it) is neither
    charged nor settled until the freeze ends, and then charged every day it missed; a default waits while any
    account it would collect from is frozen (written off meanwhile, that cash would be the borrower's again on
    unfreezing); a frozen company buys back no shares (its holders' shares stay, as if it could not pay). The
    freezes are read after the balance rows are locked: a freeze locks them too, so none lands in between."""
    now = now or utcnow()
    result = RunResult()
    with unit(s, write=True):
        due = s.execute(
            select(loans_t.c.id, loans_t.c.user_id, loans_t.c.due_at)
            .where(loans_t.c.status == "open", (loans_t.c.next_charge_at <= now) | (loans_t.c.due_at <= now))
            .order_by(loans_t.c.id)
        ).all()
        if not due:
            return result
        defaulting = sorted({r.user_id for r in due if r.due_at <= now})
        postgres = s.get_bind().dialect.name == "postgresql"
        # The locks, in everyone's order: company rows, players, loans, balance rows (see the module docstring).
        # The companies whose shares the defaulting players hold are read before their players are locked: one
        # bought in between is locked when it is sold back.
        if postgres:
            companies = _held_companies(s, _holdings(s, _account_ids(_owned_accounts(s, defaulting))))
            if companies:
                s.execute(
                    select(companies_t.c.id)
                    .where(companies_t.c.id.in_(companies))
                    .order_by(companies_t.c.id)
                    .with_for_update()
                ).all()
        for user_id in sorted({r.user_id for r in due}):
            lock_user(s, user_id)
        owned = _owned_accounts(s, defaulting)  # read again under the players' locks: now it holds still
        held = _holdings(s, _account_ids(owned))
        q = select(loans_t).where(loans_t.c.id.in_([r.id for r in due]), loans_t.c.status == "open")
        loans = s.execute((q.with_for_update(of=loans_t) if postgres else q).order_by(loans_t.c.id)).all()
        mint = _mint(s)
        issuers = dict(
            s.execute(
                select(companies_t.c.id, companies_t.c.account_id).where(companies_t.c.id.in_(_held_companies(s, held)))
            ).all()
        )
        involved = [mint, *(loan.account_id for loan in loans), *_account_ids(owned), *issuers.values()]
        ledger.lock_balances(s, involved)
        frozen = _frozen(s, involved)
        for loan in loans:
            mine = owned.get(loan.user_id, [])
            reachable = [a for a in mine if not (a.kind == "company" and a.is_public)]
            if loan.account_id in frozen or (loan.due_at <= now and any(a.id in frozen for a in reachable)):
                if loan.account_id not in frozen:  # the days that started are charged; the default waits
                    result.interest += _charge_due(s, loan, mint, now)
                result.postponed += 1
                continue
            charged = _charge_due(s, loan, mint, now)
            if charged:
                result.loans_charged += 1
                result.interest += charged
            if loan.due_at <= now:
                payable = [h for h in held if issuers.get(h.company_id) not in frozen]
                _default(s, loan, mine, payable, now, result)
            live.touch(s, live.user(loan.user_id))
        return result


def _frozen(s: Session, account_ids: list[int]) -> set[int]:
    """The accounts among these an admin froze."""
    if not account_ids:
        return set()
    rows = s.execute(
        select(accounts_t.c.id).where(
            accounts_t.c.id.in_(sorted(set(account_ids))), accounts_t.c.frozen_at.is_not(None)
        )
    )
    return set(rows.scalars())


def _owned_accounts(s: Session, user_ids: list[int]) -> dict[int, list]:
    """{player: their personal and company accounts (personal first), each with its company's curve when the
    company is public}."""
    if not user_ids:
        return {}
    rows = s.execute(
        select(
            accounts_t.c.id,
            accounts_t.c.owner_id,
            accounts_t.c.kind,
            companies_t.c.is_public,
            companies_t.c.base_price_micros,
            companies_t.c.share_price_micros,
            companies_t.c.total_shares,
            companies_t.c.treasury_shares,
        )
        .select_from(accounts_t)
        .outerjoin(companies_t, companies_t.c.account_id == accounts_t.c.id)
        .where(accounts_t.c.owner_id.in_(user_ids), accounts_t.c.kind.in_(("personal", "company")))
        .order_by(accounts_t.c.owner_id, case((accounts_t.c.kind == "personal", 0), else_=1), accounts_t.c.id)
    ).all()
    out: dict[int, list] = {}
    for r in rows:
        out.setdefault(r.owner_id, []).append(r)
    return out


def _account_ids(owned: dict[int, list]) -> list[int]:
    return [a.id for accounts_ in owned.values() for a in accounts_]


def _held_companies(s: Session, held: list) -> list[int]:
    return sorted({h.company_id for h in held})


def _holdings(s: Session, account_ids: list[int]) -> list:
    if not account_ids:
        return []
    return s.execute(
        select(holdings_t.c.account_id, holdings_t.c.company_id)
        .where(holdings_t.c.account_id.in_(account_ids), holdings_t.c.shares > 0)
        .order_by(holdings_t.c.account_id, holdings_t.c.company_id)
    ).all()


def _collectible(s: Session, account) -> bool:
    """The borrower's personal account and private companies: what a default collects from. A public company's
    cash belongs to the business and its shareholders (services/shareholders.py); its owner's part of it comes out
    the way it does for every shareholder, by the stake sold back, the owner's shares last. Read under the
    balance rows' locks (a company gone public since the accounts were read counts as public)."""
    if account.kind != "company":
        return True
    return not s.execute(select(companies_t.c.is_public).where(companies_t.c.account_id == account.id)).scalar()


def _default(s: Session, loan, accounts_: list, held: list, now: datetime, result: RunResult) -> None:
    """A loan past its due date, still owing: collect, in order, the borrower's personal cash and their private
    companies' cash, then their shares held in those accounts, sold back as far as each company can pay (their
    own public company's stake too, its other shareholders first), then write the rest off against the mint.
    The loan account ends at zero."""
    remaining = -_balance(s, loan.account_id)
    collected = 0
    accounts_ = [a for a in accounts_ if _collectible(s, a)]

    def collect(account) -> None:
        nonlocal remaining, collected
        take = min(remaining, _balance(s, account.id))
        if take > 0:
            ledger.post(
                s,
                from_account_id=account.id,
                to_account_id=loan.account_id,
                amount=take,
                type="loan_default",
                description=f"Loan past due on {_when(loan.due_at)}: collected",
                now=now,
            )
            remaining -= take
            collected += take

    for account in accounts_:
        if remaining > 0:
            collect(account)
    by_id = {a.id: a for a in accounts_}
    for h in held:
        account = by_id.get(h.account_id)
        if remaining <= 0 or account is None:
            continue
        sale = stock_trading.sell_to_raise(
            s, actor_id=loan.user_id, account_id=account.id, company_id=h.company_id, needed=remaining, now=now
        )
        if sale is not None:
            result.shares_sold += sale.shares
            collect(account)
    written_off = remaining
    if written_off > 0:
        ledger.post(
            s,
            from_account_id=_mint(s),
            to_account_id=loan.account_id,
            amount=written_off,
            type="loan_writeoff",
            description=f"Loan past due on {_when(loan.due_at)}: written off",
            now=now,
        )
    _close(
        s,
        loan.id,
        loan.account_id,
        "defaulted",
        now,
        collected_cents=collected,
        written_off_cents=written_off,
    )
    result.defaults += 1
    result.collected += collected
    result.written_off += written_off
