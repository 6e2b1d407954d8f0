"""Loans (services/loans.py): borrowing, daily compound interest, repaying, the default, and the rules a debtor
lives by. Every refusal changes nothing; every step keeps the ledger's promises (check_invariants: the sum of
every balance is zero, the three copies agree, no account below its floor)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from economy_app.models import Account, Holding, LedgerEntry, Loan, utcnow
from economy_app.services import (
    accounts,
    companies,
    ledger,
    loans,
    operations,
    products,
    purchases,
    reconciliation,
    schedule,
    stock_trading,
    stock_views,
    users,
)
from economy_app.services._tx import unit
from economy_app.services.errors import (
    AccountFrozen,
    DebtOutstanding,
    DuplicateRequest,
    InsufficientFunds,
    InvalidAmount,
    InvalidInput,
    LoanRefused,
    NotAccountOwner,
)
from tests.support.db import check_invariants, fingerprint

T0 = utcnow().replace(microsecond=0) - timedelta(days=60)
DAY = timedelta(days=1)
START = 1_000_000  # every player's $10,000.00


def floor_of(session, account_id: int) -> int | None:
    return session.execute(select(Account.floor).where(Account.id == account_id)).scalar_one()


def loan_row(session, loan_id: int):
    session.expire_all()  # the row as it is now, not as this session first loaded it
    return session.execute(select(Loan).where(Loan.id == loan_id)).scalar_one()


def entries(session, type_: str) -> list[LedgerEntry]:
    return list(session.execute(select(LedgerEntry).where(LedgerEntry.type == type_)).scalars())


def fund(session, account_id: int, cents: int) -> None:
    """Money from the mint (an operator's adjustment), for setting a scene."""
    with unit(session, write=True):
        ledger.post(
            session,
            from_account_id=accounts.system_account_id(session),
            to_account_id=account_id,
            amount=cents,
            type="adjustment",
        )


def public_company(session, make_company, owner: int, ticker: str, cash: int) -> tuple[int, int]:
    company, account = make_company(owner, ticker)
    fund(session, account, cash)
    assert companies.check_and_update_public_status(session, company)
    return company, account


# --------------------------------------------------------------------------- the arithmetic


def test_interest_is_rounded_up_and_compounds_daily():
    assert loans.interest_for(100_000, 500) == 5_000
    assert loans.interest_for(101, 500) == 6  # 5.05 cents: rounded up
    assert loans.interest_for(0, 500) == 0
    assert loans.owed_after(100_000, 500, 7) == 140_713  # 1.05^7 = 1.4071, each day rounded up
    owed = 12_345
    for _ in range(7):
        owed += -(-owed * 5 // 100)
    assert loans.owed_after(12_345, 500, 7) == owed
    q = loans.quote(100_000, now=T0)
    assert (q.amount, q.owed_at_due, q.owed_now, q.due_at, q.first_charge_at) == (
        100_000,
        140_713,
        105_000,
        T0 + 7 * DAY,
        T0,
    )


# --------------------------------------------------------------------------- taking a loan


def test_a_loan_is_an_account_holding_the_debt_below_zero(session, engine, make_player):
    alice, personal = make_player()
    loan = loans.take(session, user_id=alice, amount=250_000, idempotency_key="k1", now=T0)
    # The first day's interest (5%) is charged as the loan is taken.
    assert (loan.principal, loan.debt, loan.status, loan.due_at) == (250_000, 262_500, "open", T0 + 7 * DAY)
    assert loan.next_charge_at == T0 + DAY and loan.next_interest == 13_125
    assert loan.owed_at_due == loans.owed_after(250_000, 500, 7)
    assert accounts.get_balance(session, loan.account_id) == -262_500
    assert accounts.get_balance(session, personal) == START + 250_000
    assert floor_of(session, loan.account_id) == -262_500
    (entry,) = entries(session, "loan_disbursement")
    assert (entry.from_account_id, entry.to_account_id, entry.amount) == (loan.account_id, personal, 250_000)
    kind, owner = session.execute(select(Account.kind, Account.owner_id).where(Account.id == loan.account_id)).one()
    assert (kind, owner) == ("loan", alice)
    check_invariants(engine)


@pytest.mark.parametrize(
    "amount, error",
    [(0, InvalidAmount), (-5, InvalidAmount), (1.5, InvalidAmount), ("100", InvalidAmount), (True, InvalidAmount)],
)
def test_bad_amounts_are_refused(session, engine, make_player, amount, error):
    alice, _ = make_player()
    before = fingerprint(engine)
    with pytest.raises(error):
        loans.take(session, user_id=alice, amount=amount, idempotency_key="k", now=T0)
    assert fingerprint(engine) == before


def test_the_limits_are_refused_and_change_nothing(session, engine, make_player, monkeypatch):
    alice, _ = make_player()
    before = fingerprint(engine)
    with pytest.raises(InvalidAmount, match="at least"):
        loans.take(session, user_id=alice, amount=99, idempotency_key="k1", now=T0)
    with pytest.raises(LoanRefused, match=r"at most \$500,000.00"):
        loans.take(session, user_id=alice, amount=50_000_001, idempotency_key="k2", now=T0)
    monkeypatch.setenv("ECONOMY_LOAN_MAX_DEBT_CENTS", "10000")
    with pytest.raises(LoanRefused, match=r"at most \$100.00"):
        loans.take(session, user_id=alice, amount=10_001, idempotency_key="k3", now=T0)
    with pytest.raises(InvalidInput):
        loans.take(session, user_id=alice, amount=5_000, idempotency_key="", now=T0)
    assert fingerprint(engine) == before
    loans.take(session, user_id=alice, amount=10_000, idempotency_key="k4", now=T0)
    before = fingerprint(engine)
    with pytest.raises(LoanRefused, match="already have a loan"):
        loans.take(session, user_id=alice, amount=100, idempotency_key="k5", now=T0)
    assert fingerprint(engine) == before


def test_the_same_request_gives_the_same_loan(session, engine, make_player):
    alice, _ = make_player()
    bob, _ = make_player()
    first = loans.take(session, user_id=alice, amount=30_000, idempotency_key="form-1", now=T0)
    before = fingerprint(engine)
    again = loans.take(session, user_id=alice, amount=30_000, idempotency_key="form-1", now=T0 + DAY)
    assert again.id == first.id
    with pytest.raises(DuplicateRequest):
        loans.take(session, user_id=alice, amount=30_001, idempotency_key="form-1", now=T0)
    with pytest.raises(DuplicateRequest):
        loans.take(session, user_id=bob, amount=30_000, idempotency_key="form-1", now=T0)
    assert fingerprint(engine) == before


def test_twenty_clicks_at_once_from_several_tabs_give_one_loan(engine):
    """20 requests at once: 5 tabs, each clicking 4 times (one key per tab's form). Exactly one loan, one
    disbursement; the other tabs are told a loan is already open; the same tab's clicks get that loan."""
    with Session(engine, expire_on_commit=False) as s:
        user_id = users.create_user(s, "eager", "correct horse").id
        personal = accounts.initialize_account(s, user_id).id
    start = threading.Barrier(20)
    results, errors = [], []
    lock = threading.Lock()

    def click(tab: int) -> None:
        start.wait()
        with Session(engine, expire_on_commit=False) as s:
            try:
                loan = loans.take(s, user_id=user_id, amount=400_000, idempotency_key=f"tab-{tab}")
            except LoanRefused as e:
                with lock:
                    errors.append(str(e))
                return
            with lock:
                results.append((tab, loan.id))

    threads = [threading.Thread(target=click, args=(i % 5,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({loan_id for _, loan_id in results}) == 1
    assert len({tab for tab, _ in results}) == 1  # only the winning tab's clicks get the loan
    assert len(results) == 4 and len(errors) == 16
    assert all("already have a loan" in e for e in errors)
    with Session(engine) as s:
        assert s.execute(select(func.count()).select_from(Loan)).scalar_one() == 1
        assert len(entries(s, "loan_disbursement")) == 1
        assert accounts.get_balance(s, personal) == START + 400_000
    check_invariants(engine)


# --------------------------------------------------------------------------- interest


def test_the_job_charges_each_day_once_on_the_debt_then(session, engine, make_player):
    alice, _ = make_player()
    loan = loans.take(session, user_id=alice, amount=100_000, idempotency_key="k", now=T0)
    assert loan.interest == 5_000  # the first day, as it started
    assert loans.run_due(session, now=T0 + DAY - timedelta(seconds=1)).interest == 0  # the second not yet
    result = loans.run_due(session, now=T0 + DAY)
    assert (result.loans_charged, result.interest) == (1, 5_250)
    assert loans.run_due(session, now=T0 + DAY + timedelta(minutes=30)).interest == 0  # charged once
    assert accounts.get_balance(session, loan.account_id) == -110_250
    assert floor_of(session, loan.account_id) == -110_250
    # Three days late: each charge on the debt after the one before (compounded).
    result = loans.run_due(session, now=T0 + 4 * DAY + timedelta(hours=1))
    assert result.interest == loans.owed_after(100_000, 500, 5) - 110_250
    row = loan_row(session, loan.id)
    assert (row.charges, row.next_charge_at) == (5, T0 + 5 * DAY)
    # The seventh day starts 24 hours before the due date; none starts on it.
    loans.run_due(session, now=T0 + 7 * DAY - timedelta(seconds=1))
    row = loan_row(session, loan.id)
    assert (row.charges, row.next_charge_at) == (7, None)
    assert row.interest_cents == loans.owed_after(100_000, 500, 7) - 100_000
    assert floor_of(session, loan.account_id) == -(100_000 + row.interest_cents)
    (interest_to_mint,) = {e.to_account_id for e in entries(session, "loan_interest")}
    assert interest_to_mint == accounts.system_account_id(session)
    check_invariants(engine)


def test_the_loans_job_is_slot_claimed(session, engine, make_player):
    alice, _ = make_player()
    loans.take(session, user_id=alice, amount=100_000, idempotency_key="k", now=T0)
    slot = (T0 + DAY).replace(minute=0, second=0) + timedelta(hours=1)  # an hourly slot after the second day starts
    first = schedule.run_job(session, schedule.LOANS, slot + timedelta(minutes=1))
    again = schedule.run_job(session, schedule.LOANS, slot + timedelta(minutes=59))
    assert first.ran and "charged $52.50" in first.summary  # the second day: 5% of $1,050.00
    assert not again.ran and again.summary == "slot already claimed"
    assert len(entries(session, "loan_interest")) == 2


def test_a_repayment_charges_the_days_that_started_first(session, engine, make_player):
    """Repaying early in a day never dodges that day's charge: the days that started are charged before it."""
    alice, _ = make_player()
    loans.take(session, user_id=alice, amount=100_000, idempotency_key="k", now=T0)
    after = loans.repay(session, user_id=alice, amount=100_000, now=T0 + 2 * DAY + timedelta(minutes=5))
    assert after.interest == 5_000 + 5_250 + 5_513 and after.debt == 15_763 and after.open
    assert loans.run_due(session, now=T0 + 2 * DAY + timedelta(minutes=6)).interest == 0


# --------------------------------------------------------------------------- repaying


def test_repay_part_then_all_closes_the_loan(session, engine, make_player):
    alice, personal = make_player()
    loan = loans.take(session, user_id=alice, amount=80_000, idempotency_key="k", now=T0)
    part = loans.repay(session, user_id=alice, amount=30_000, idempotency_key="r1", now=T0 + timedelta(hours=1))
    assert (part.debt, part.repaid, part.open) == (54_000, 30_000, True)  # $800.00 and its first day's $40.00
    assert floor_of(session, loan.account_id) == -84_000  # principal + interest so far: the floor holds
    closed = loans.repay(session, user_id=alice, amount=54_000, idempotency_key="r2", now=T0 + timedelta(hours=2))
    assert (closed.status, closed.debt, closed.repaid) == ("repaid", 0, 84_000)
    assert accounts.get_balance(session, loan.account_id) == 0
    assert floor_of(session, loan.account_id) == 0
    assert accounts.get_balance(session, personal) == START - 4_000
    assert loans.current(session, alice) is None
    assert loans.run_due(session, now=T0 + 30 * DAY).defaults == 0  # a closed loan is never charged again
    loans.take(session, user_id=alice, amount=1_000, idempotency_key="k2", now=T0 + 3 * DAY)  # borrow again
    check_invariants(engine)


def test_repay_refusals_change_nothing(session, engine, make_player):
    alice, personal = make_player()
    bob, bob_personal = make_player()
    with pytest.raises(LoanRefused, match="no loan"):
        loans.repay(session, user_id=alice, amount=100, now=T0)
    loans.take(session, user_id=alice, amount=80_000, idempotency_key="k", now=T0)
    before = fingerprint(engine)
    with pytest.raises(LoanRefused, match=r"You owe \$840.00"):
        loans.repay(session, user_id=alice, amount=84_001, now=T0)
    for bad in (0, -1, 2.5, "5", None):
        with pytest.raises(InvalidAmount):
            loans.repay(session, user_id=alice, amount=bad, now=T0)
    with pytest.raises(LoanRefused, match="no loan"):
        loans.repay(session, user_id=bob, amount=100, now=T0)  # bob can't repay alice's loan
    assert fingerprint(engine) == before


def test_repay_is_limited_by_the_personal_account(session, engine, make_player, make_company):
    alice, personal = make_player()
    _, company_account = make_company(alice)
    loan = loans.take(session, user_id=alice, amount=50_000, idempotency_key="k", now=T0)
    accounts.transfer(
        session, actor_id=alice, from_account_id=personal, to_account_id=company_account, amount=START + 40_000
    )
    before = fingerprint(engine)
    with pytest.raises(InsufficientFunds, match=r"holds \$100.00"):
        loans.repay(session, user_id=alice, amount=20_000, now=T0)
    assert fingerprint(engine) == before
    assert loans.repay(session, user_id=alice, amount=10_000, now=T0).debt == 42_500
    assert accounts.get_balance(session, loan.account_id) == -42_500


def test_a_double_clicked_repayment_repays_once(session, engine, make_player):
    alice, _ = make_player()
    loans.take(session, user_id=alice, amount=80_000, idempotency_key="k", now=T0)
    first = loans.repay(session, user_id=alice, amount=10_000, idempotency_key="r", now=T0)
    before = fingerprint(engine)
    again = loans.repay(session, user_id=alice, amount=10_000, idempotency_key="r", now=T0)
    assert again.debt == first.debt == 74_000
    with pytest.raises(DuplicateRequest):
        loans.repay(session, user_id=alice, amount=20_000, idempotency_key="r", now=T0)
    assert fingerprint(engine) == before


# --------------------------------------------------------------------------- while a player owes


def test_a_debtor_cannot_pay_other_players(session, engine, make_player, make_company):
    alice, personal = make_player()
    bob, bob_personal = make_player()
    _, alice_co = make_company(alice)
    _, bob_co = make_company(bob)
    fund(session, alice_co, 50_000)
    loans.take(session, user_id=alice, amount=100_000, idempotency_key="k", now=T0)
    before = fingerprint(engine)
    for src, dst in ((personal, bob_personal), (personal, bob_co), (alice_co, bob_personal), (alice_co, bob_co)):
        with pytest.raises(DebtOutstanding, match="Repay your loan before sending money to other players."):
            accounts.transfer(session, actor_id=alice, from_account_id=src, to_account_id=dst, amount=100)
    assert fingerprint(engine) == before
    # Between her own accounts, and from others to her, money moves as ever.
    accounts.transfer(session, actor_id=alice, from_account_id=personal, to_account_id=alice_co, amount=100)
    accounts.transfer(session, actor_id=alice, from_account_id=alice_co, to_account_id=personal, amount=100)
    accounts.transfer(session, actor_id=bob, from_account_id=bob_personal, to_account_id=personal, amount=100)
    loans.repay(session, user_id=alice, amount=105_000, now=T0)
    accounts.transfer(session, actor_id=alice, from_account_id=personal, to_account_id=bob_personal, amount=100)
    check_invariants(engine)


def test_a_transfer_made_before_the_loan_replays_after_it(session, engine, make_player):
    alice, personal = make_player()
    _, bob_personal = make_player()
    first = accounts.transfer(
        session, actor_id=alice, from_account_id=personal, to_account_id=bob_personal, amount=5, idempotency_key="t1"
    )
    loans.take(session, user_id=alice, amount=100_000, idempotency_key="k", now=T0)
    before = fingerprint(engine)
    again = accounts.transfer(
        session, actor_id=alice, from_account_id=personal, to_account_id=bob_personal, amount=5, idempotency_key="t1"
    )
    assert again.id == first.id and fingerprint(engine) == before


def test_loan_accounts_are_never_sent_from_traded_from_or_offered(session, engine, make_player, make_company):
    alice, personal = make_player("alice")
    bob, bob_personal = make_player("bob")
    loan = loans.take(session, user_id=alice, amount=100_000, idempotency_key="k", now=T0)
    loans.repay(session, user_id=alice, amount=40_000, now=T0)  # room above the floor: still not spendable
    company, _ = public_company(session, make_company, bob, "BOB", 6_000_000)
    before = fingerprint(engine)
    with pytest.raises(InvalidInput, match="from a loan account"):
        accounts.transfer(session, actor_id=alice, from_account_id=loan.account_id, to_account_id=personal, amount=1)
    with pytest.raises(InvalidInput, match="to a loan account"):
        accounts.transfer(session, actor_id=bob, from_account_id=bob_personal, to_account_id=loan.account_id, amount=1)
    with pytest.raises(NotAccountOwner):
        stock_trading.buy(session, actor_id=alice, account_id=loan.account_id, company_id=company, shares=1)
    assert fingerprint(engine) == before
    assert all(r.kind != "loan" for r in accounts.search_recipients(session, "alice"))
    assert all(r.kind != "loan" for r in accounts.search_recipients(session, "Loan"))


# --------------------------------------------------------------------------- net worth


def test_net_worth_and_the_leaderboard_subtract_the_debt(session, engine, make_player):
    alice, _ = make_player("alice")
    make_player("bob")
    assert accounts.dashboard(session, alice).net_worth == START
    loans.take(session, user_id=alice, amount=200_000, idempotency_key="k", now=T0)
    d = accounts.dashboard(session, alice)  # the first day's interest is owed at once
    assert (d.net_worth, d.debt, d.personal_balance) == (START - 10_000, 210_000, START + 200_000)
    assert d.loan is not None and d.loan.next_interest == 10_500 and d.loan.due_at == T0 + 7 * DAY
    loans.run_due(session, now=T0 + DAY)
    d = accounts.dashboard(session, alice)
    assert (d.net_worth, d.debt) == (START - 20_500, 220_500)
    ranks = {p.username: p for p in stock_views.leaderboard(session).players}
    assert ranks["alice"].net_worth == START - 20_500
    assert (ranks["alice"].cash, ranks["alice"].debt) == (START + 200_000, 220_500)
    assert [p.username for p in stock_views.leaderboard(session).players] == ["bob", "alice"]


# --------------------------------------------------------------------------- default


def test_a_default_collects_the_personal_account_and_writes_off_the_rest(session, engine, make_player):
    alice, personal = make_player()
    _, bob_personal = make_player()
    accounts.transfer(session, actor_id=alice, from_account_id=personal, to_account_id=bob_personal, amount=START)
    loan = loans.take(session, user_id=alice, amount=500_000, idempotency_key="k", now=T0)
    owed = loans.owed_after(500_000, 500, 7)
    result = loans.run_due(session, now=T0 + 7 * DAY)
    assert (result.defaults, result.collected, result.written_off) == (1, 500_000, owed - 500_000)
    assert accounts.get_balance(session, personal) == 0
    assert accounts.get_balance(session, loan.account_id) == 0 and floor_of(session, loan.account_id) == 0
    row = loan_row(session, loan.id)
    assert (row.status, row.collected_cents, row.written_off_cents) == ("defaulted", 500_000, owed - 500_000)
    (collected,) = entries(session, "loan_default")
    (written_off,) = entries(session, "loan_writeoff")
    assert (collected.from_account_id, collected.to_account_id) == (personal, loan.account_id)
    assert (written_off.from_account_id, written_off.to_account_id, written_off.amount) == (
        accounts.system_account_id(session),
        loan.account_id,
        owed - 500_000,
    )
    assert accounts.get_balance(session, bob_personal) == 2 * START  # nobody else touched
    check_invariants(engine)
    assert reconciliation.money_totals(session).zero


def test_a_default_bars_borrowing_for_the_cool_down(session, engine, make_player):
    alice, _ = make_player()
    loans.take(session, user_id=alice, amount=10_000, idempotency_key="k1", now=T0)
    loans.run_due(session, now=T0 + 7 * DAY + timedelta(minutes=5))
    before = fingerprint(engine)
    for at in (T0 + 7 * DAY + timedelta(minutes=6), T0 + 14 * DAY):
        with pytest.raises(LoanRefused, match="defaulted on a loan: you can borrow again from"):
            loans.take(session, user_id=alice, amount=10_000, idempotency_key="k2", now=at)
    assert fingerprint(engine) == before
    credit = loans.credit(session, alice, now=T0 + 8 * DAY)
    assert credit.can_borrow == 0 and credit.barred_until == T0 + 14 * DAY + timedelta(minutes=5)
    loans.take(session, user_id=alice, amount=10_000, idempotency_key="k3", now=T0 + 14 * DAY + timedelta(minutes=6))


def test_a_default_collects_company_cash_and_shares_before_writing_off(session, engine, make_player, make_company):
    """Personal cash, then a private company's cash, then holdings sold back to their companies as far as each can
    pay (her stake in her own public company too, after its other shareholders); then the write-off. Her public
    company's cash is its business's and its shareholders': nothing is collected from it but through the stake."""
    alice, personal = make_player("alice")
    bob, bob_personal = make_player("bob")
    carol, carol_personal = make_player("carol")
    _, private_account = make_company(alice, "PRIV")
    fund(session, private_account, 30_000)
    mine, mine_account = public_company(session, make_company, alice, "MINE", 6_000_000)
    stake = stock_trading.owner_held(session, mine)
    assert stake > 0  # the founder's stake at the IPO (issue 19)
    stock_trading.buy(session, actor_id=bob, account_id=bob_personal, company_id=mine, shares=5_000)
    theirs, _ = public_company(session, make_company, carol, "CARO", 5_100_000)
    stock_trading.buy(session, actor_id=alice, account_id=personal, company_id=theirs, shares=10_000)
    left = accounts.get_balance(session, personal)
    accounts.transfer(session, actor_id=alice, from_account_id=personal, to_account_id=bob_personal, amount=left)
    loan = loans.take(session, user_id=alice, amount=50_000_000, idempotency_key="k", now=T0)
    personal_cash = accounts.get_balance(session, personal)
    debt_at_due = loans.owed_after(50_000_000, 500, 7)
    result = loans.run_due(session, now=T0 + 7 * DAY)
    assert result.defaults == 1
    assert accounts.get_balance(session, personal) == 0
    assert accounts.get_balance(session, private_account) == 0
    assert not [e for e in entries(session, "loan_default") if e.from_account_id == mine_account]
    sales = {e.from_account_id: e.amount for e in entries(session, "stock_sale") if e.to_account_id == personal}
    held = dict(session.execute(select(Holding.company_id, Holding.shares).where(Holding.account_id == personal)).all())
    assert held[theirs] == 0  # all sold back to CARO, which could pay for them
    assert 0 < held[mine] < stake  # her stake, as far as MINE keeps what bob's shares are owed
    assert result.shares_sold == 10_000 + stake - held[mine]
    assert result.collected == personal_cash + 30_000 + sum(sales.values())
    assert result.written_off > 0
    assert result.collected + result.written_off == debt_at_due  # the ledger explains every cent of the debt
    stock_trading.sell(  # her other shareholder is whole: MINE buys back every one of his shares
        session, actor_id=bob, account_id=bob_personal, company_id=mine, shares=5_000, now=T0 + 8 * DAY
    )
    assert accounts.get_balance(session, carol_personal) == START  # carol's own money untouched
    assert accounts.get_balance(session, loan.account_id) == 0
    check_invariants(engine)


def _company(session, company_id: int):
    from economy_app.models import Company

    return session.execute(select(Company).where(Company.id == company_id)).scalar_one()


def test_a_holding_is_sold_only_as_far_as_the_debt_needs(session, engine, make_player, make_company):
    alice, personal = make_player("alice")
    carol, carol_personal = make_player("carol")
    company, _ = public_company(session, make_company, carol, "CARO", 5_100_000)
    stock_trading.buy(session, actor_id=alice, account_id=personal, company_id=company, shares=10_000)
    accounts.transfer(  # before any loan: her cash is hers to give
        session,
        actor_id=alice,
        from_account_id=personal,
        to_account_id=carol_personal,
        amount=accounts.get_balance(session, personal),
    )
    loans.take(session, user_id=alice, amount=10_000, idempotency_key="k", now=T0)
    result = loans.run_due(session, now=T0 + 7 * DAY)
    held = session.execute(
        select(Holding.shares).where(Holding.account_id == personal, Holding.company_id == company)
    ).scalar_one()
    assert result.written_off == 0 and result.collected == loans.owed_after(10_000, 500, 7)
    assert 0 < held < 10_000  # the shares the interest needed were sold, not all of them
    assert 0 <= accounts.get_balance(session, personal) < 100  # what the last share brought beyond the debt
    check_invariants(engine)


def test_shares_to_raise_never_asks_more_than_the_company_can_pay():
    base, total = 50_000, 1_000_000
    for outstanding, held, needed, cash in (
        (10_000, 10_000, 10**12, 10**12),
        (10_000, 10_000, 10**12, 1_000),
        (10_000, 5_000, 1, 10**12),
        (10_000, 5_000, 0, 10**12),
        (10_000, 5_000, 10_000, 0),
    ):
        k = stock_trading.shares_to_raise(base, outstanding, total, held, needed, cash)
        assert 0 <= k <= held
        assert stock_trading.sell_proceeds_cents(base, outstanding, k, total) <= cash
        if k < held and stock_trading.sell_proceeds_cents(base, outstanding, k + 1, total) <= cash:
            assert stock_trading.sell_proceeds_cents(base, outstanding, k, total) >= needed  # enough already
        if k > 0:
            assert stock_trading.sell_proceeds_cents(base, outstanding, k - 1, total) < needed  # the fewest


def test_a_repayment_and_the_job_at_once_charge_a_day_once(engine):
    """The job and a repayment racing over the same loan: each day's interest is charged exactly once."""
    with Session(engine, expire_on_commit=False) as s:
        user_id = users.create_user(s, "racer", "correct horse").id
        accounts.initialize_account(s, user_id)
        loans.take(s, user_id=user_id, amount=100_000, idempotency_key="k", now=T0)
    for day in range(1, 6):
        at = T0 + day * DAY + timedelta(minutes=1)
        start = threading.Barrier(2)
        errors = []

        def job():
            start.wait()
            with Session(engine, expire_on_commit=False) as s:
                loans.run_due(s, now=at)

        def repay():
            start.wait()
            with Session(engine, expire_on_commit=False) as s:
                try:
                    loans.repay(s, user_id=user_id, amount=1_000, now=at)
                except BaseException as e:
                    errors.append(e)

        threads = [threading.Thread(target=job), threading.Thread(target=repay)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
    with Session(engine) as s:
        charges = entries(s, "loan_interest")
        assert len(charges) == 6  # the first day's, as the loan was taken, and one as each of 5 days started
        assert loan_row(s, 1).charges == 6
    check_invariants(engine)


def test_buying_from_other_players_waits_for_the_loan(session, engine, make_player, make_company):
    alice, personal = make_player()
    bob, _ = make_player()
    bob_co, _ = make_company(bob)
    alice_co, _ = make_company(alice)
    theirs = products.create_product(session, actor_id=bob, company_id=bob_co, name="Kite", price_cents=500)
    own = products.create_product(session, actor_id=alice, company_id=alice_co, name="Lamp", price_cents=500)
    loans.take(session, user_id=alice, amount=10_000, idempotency_key="k", now=T0)
    before = fingerprint(engine)
    with pytest.raises(DebtOutstanding, match="buying from other players' companies"):
        purchases.buy(session, actor_id=alice, account_id=personal, product_id=theirs.id, units=1, price_cents=500)
    assert fingerprint(engine) == before
    purchases.buy(session, actor_id=alice, account_id=personal, product_id=own.id, units=1, price_cents=500)
    check_invariants(engine)


def test_a_debtor_puts_no_money_into_a_public_company_even_their_own(session, engine, make_player, make_company):
    """A default takes from a public company only what it holds beyond its debt to its shareholders. Her public
    company's cash spent below that debt, the loan paid into it would have paid her shareholders out of the
    write-off (tests/unit/test_loans_property.py found her net worth rising so): refused while she owes."""
    alice, personal = make_player("alice")
    mine, mine_account = public_company(session, make_company, alice, "MINE", 6_000_000)
    _, private_account = make_company(alice, "PRIV")
    lamp = products.create_product(session, actor_id=alice, company_id=mine, name="Lamp", price_cents=500)
    loans.take(session, user_id=alice, amount=100_000, idempotency_key="k", now=T0)
    before = fingerprint(engine)
    for src in (personal, private_account):
        with pytest.raises(DebtOutstanding, match="putting money into a public company"):
            accounts.transfer(session, actor_id=alice, from_account_id=src, to_account_id=mine_account, amount=100)
    with pytest.raises(DebtOutstanding, match="putting money into a public company"):
        purchases.buy(session, actor_id=alice, account_id=personal, product_id=lamp.id, units=1, price_cents=500)
    assert fingerprint(engine) == before
    # Into her private company money moves as ever; repaid, she may pay into her public one again.
    accounts.transfer(session, actor_id=alice, from_account_id=personal, to_account_id=private_account, amount=100)
    loans.repay(session, user_id=alice, amount=105_000, now=T0)
    accounts.transfer(session, actor_id=alice, from_account_id=personal, to_account_id=mine_account, amount=100)
    purchases.buy(session, actor_id=alice, account_id=personal, product_id=lamp.id, units=1, price_cents=500)
    check_invariants(engine)


# --------------------------------------------------------------------------- an admin's freeze (issue 20)

FROZEN_REASON = "Looking into a chain of loans"


@pytest.fixture
def admin_id(session):
    return users.create_user(session, "root", "correct horse", role="admin").id


def test_a_frozen_borrower_pauses_their_loan_and_no_one_elses(session, engine, make_player, admin_id):
    """Every posting from a frozen account is refused, and an admin's freeze of a player covers their loan account:
    the loans job (one transaction for every loan) must neither fail for everyone nor charge, collect or write off
    anything of theirs. Their loan waits; unfrozen, it is charged every day it missed and settled as any other."""
    alice, alice_personal = make_player("alice")
    bob, _ = make_player("bob")
    a = loans.take(session, user_id=alice, amount=100_000, idempotency_key="a", now=T0)
    loans.take(session, user_id=bob, amount=100_000, idempotency_key="b", now=T0)
    operations.freeze(session, actor_id=admin_id, kind="player", target_id=alice, reason=FROZEN_REASON)
    result = loans.run_due(session, now=T0 + 8 * DAY)
    assert (result.defaults, result.loans_charged, result.postponed) == (1, 1, 1)  # bob's loan, settled
    assert loans.current(session, bob) is None
    paused = loans.current(session, alice)
    assert paused is not None and (paused.debt, paused.interest) == (105_000, 5_000)  # its first day only
    assert accounts.get_balance(session, alice_personal) == START + 100_000
    check_invariants(engine)
    operations.freeze(session, actor_id=admin_id, kind="player", target_id=alice, reason="Cleared", frozen=False)
    result = loans.run_due(session, now=T0 + 9 * DAY)
    assert (result.defaults, result.interest) == (1, loans.owed_after(100_000, 500, 7) - 105_000)
    assert loans.current(session, alice) is None and loan_row(session, a.id).status == "defaulted"
    assert accounts.get_balance(session, alice_personal) == START + 100_000 - loans.owed_after(100_000, 500, 7)
    check_invariants(engine)


def test_a_default_waits_while_a_company_of_the_borrower_is_frozen(
    session, engine, make_player, make_company, admin_id
):
    """A frozen company sends nothing: writing the loan off while its cash is out of reach would hand that cash
    back to the borrower when it is unfrozen. The default waits (the interest is charged as ever)."""
    alice, personal = make_player("alice")
    _, bob_personal = make_player("bob")
    company, company_account = make_company(alice, "ACME")
    accounts.transfer(session, actor_id=alice, from_account_id=personal, to_account_id=company_account, amount=START)
    loans.take(session, user_id=alice, amount=2_000_000, idempotency_key="k", now=T0)
    accounts.transfer(session, actor_id=alice, from_account_id=personal, to_account_id=company_account, amount=10**6)
    operations.freeze(session, actor_id=admin_id, kind="company", target_id=company, reason=FROZEN_REASON)
    result = loans.run_due(session, now=T0 + 7 * DAY)
    assert (result.defaults, result.postponed, result.written_off) == (0, 1, 0)
    assert result.interest == loans.owed_after(2_000_000, 500, 7) - 2_100_000
    assert loans.current(session, alice) is not None
    check_invariants(engine)
    operations.freeze(session, actor_id=admin_id, kind="company", target_id=company, reason="Cleared", frozen=False)
    result = loans.run_due(session, now=T0 + 7 * DAY + timedelta(hours=1))
    owed = loans.owed_after(2_000_000, 500, 7)
    assert (result.defaults, result.collected, result.written_off) == (1, owed, 0)  # the company's cash paid
    assert accounts.get_balance(session, personal) == 0
    assert accounts.get_balance(session, company_account) == 3 * START - owed
    assert accounts.get_balance(session, bob_personal) == START
    check_invariants(engine)


def test_a_default_sells_nothing_back_to_a_frozen_company(session, engine, make_player, make_company, admin_id):
    """A frozen company pays nothing, a default's sale back included: the holding stays (as if the company could
    not pay) and the job goes on."""
    alice, personal = make_player("alice")
    carol, _ = make_player("carol")
    company, _ = public_company(session, make_company, carol, "CARO", 5_100_000)
    stock_trading.buy(session, actor_id=alice, account_id=personal, company_id=company, shares=10_000)
    loans.take(session, user_id=alice, amount=10_000, idempotency_key="k", now=T0)
    accounts_before = accounts.get_balance(session, personal)
    operations.freeze(session, actor_id=admin_id, kind="company", target_id=company, reason=FROZEN_REASON)
    with unit(session, write=True):  # her personal cash gone, so the default would need the shares
        ledger.post(
            session,
            from_account_id=personal,
            to_account_id=accounts.system_account_id(session),
            amount=accounts_before,
            type="adjustment",
        )
    result = loans.run_due(session, now=T0 + 7 * DAY)
    assert (result.defaults, result.shares_sold) == (1, 0)
    assert result.written_off == loans.owed_after(10_000, 500, 7)
    held = session.execute(
        select(Holding.shares).where(Holding.account_id == personal, Holding.company_id == company)
    ).scalar_one()
    assert held == 10_000
    check_invariants(engine)


def test_a_frozen_player_takes_no_loan(session, engine, make_player, admin_id):
    alice, _ = make_player("alice")
    operations.freeze(session, actor_id=admin_id, kind="player", target_id=alice, reason=FROZEN_REASON)
    before = fingerprint(engine)
    with pytest.raises(AccountFrozen, match=FROZEN_REASON):
        loans.take(session, user_id=alice, amount=10_000, idempotency_key="k", now=T0)
    assert fingerprint(engine) == before


def test_a_started_day_is_a_day_so_no_loan_is_free(session, engine, make_player):
    """Each day's interest is charged when the day starts, the first when the loan is taken: repaid within the
    hour, a loan has cost a day's interest (charged at the end of each day, $500,000 repaid and borrowed again
    every 23 hours was credit for nothing, forever). Seven days, seven charges: what is owed on the due date does
    not change."""
    alice, personal = make_player()
    loan = loans.take(session, user_id=alice, amount=100_000, idempotency_key="k", now=T0)
    assert (loan.debt, loan.interest, loan.next_charge_at, loan.next_interest) == (105_000, 5_000, T0 + DAY, 5_250)
    assert loan.owed_at_due == loans.owed_after(100_000, 500, 7) == 140_713
    (charge,) = entries(session, "loan_interest")
    assert (charge.from_account_id, charge.amount) == (loan.account_id, 5_000)
    assert floor_of(session, loan.account_id) == -105_000
    closed = loans.repay(session, user_id=alice, amount=105_000, now=T0 + timedelta(hours=1))
    assert closed.status == "repaid" and accounts.get_balance(session, personal) == START - 5_000
    check_invariants(engine)


def test_a_company_taken_public_with_the_loan_in_it_still_pays_it(session, engine, make_player, make_company):
    """The borrowed money moved into a private company (allowed: a default collects it), which then goes public:
    its cash is no longer collected as such, but the founder's stake is, sold back as far as its cash goes (no
    other shareholder to keep it for), so nothing stays shielded in the company: everything she had is collected
    and only what she never had (the interest beyond it) is written off."""
    alice, personal = make_player("alice")
    company, company_account = make_company(alice, "SHLD")
    loans.take(session, user_id=alice, amount=10_000_000, idempotency_key="k", now=T0)
    accounts.transfer(
        session, actor_id=alice, from_account_id=personal, to_account_id=company_account, amount=10_000_000
    )
    assert companies.check_and_update_public_status(session, company)  # $100,000.00: public, her stake issued
    before = accounts.dashboard(session, alice).net_worth
    result = loans.run_due(session, now=T0 + 7 * DAY)
    owed = loans.owed_after(10_000_000, 500, 7)
    assert result.defaults == 1 and result.shares_sold > 0
    assert accounts.get_balance(session, company_account) < 100  # less than a share's price left in it
    assert result.collected > START + 10_000_000 - 100  # her $10,000.00 and the loan, all of it
    assert result.written_off == owed - result.collected
    assert accounts.dashboard(session, alice).net_worth <= before
    check_invariants(engine)
