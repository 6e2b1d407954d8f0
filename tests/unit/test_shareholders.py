"""A public company answers to its shareholders (issue 19): no rug pulls, a capped outflow to third parties,
honest sell previews and valuations, the founder's stake, the IPO price that holds."""

from __future__ import annotations

import random
import threading
from datetime import timedelta

import pytest
from sqlalchemy import event, select
from sqlmodel import Session

from economy_app.models import Company, LedgerEntry, utcnow
from economy_app.services import (
    accounts,
    companies,
    ledger,
    marketplace_run,
    products,
    profiles,
    shareholders,
    stock_trading,
    stock_views,
)
from economy_app.services._tx import unit
from economy_app.services.errors import (
    CompanyNotFound,
    InsufficientFunds,
    OutflowLimit,
    PublicCashRefused,
    TradeRefused,
)
from tests.support.db import check_invariants, fingerprint
from tests.support.threads import done_or_waiting_on_a_lock, in_thread

DANA_CASH = 10_217_300  # $102,173.00, the issue's


def fund(session, account_id: int, cents: int) -> None:
    with unit(session, write=True):
        ledger.post(
            session,
            from_account_id=accounts.system_account_id(session),
            to_account_id=account_id,
            amount=cents,
            type="adjustment",
        )


@pytest.fixture
def dana(session, make_player, make_company):
    """The issue's two players: Dana's company went public and Carol bought 5,200 shares. Dana runs a second
    (private) company; Erin is a third party."""
    dana, dana_personal = make_player("dana")
    carol, carol_personal = make_player("carol")
    erin, erin_personal = make_player("erin")
    company, account = make_company(dana, "DANA", "Dana Drones")
    other, other_account = make_company(dana, "DTWO", "Dana Two")
    fund(session, account, DANA_CASH)
    assert companies.check_and_update_public_status(session, company)
    stock_trading.buy(
        session,
        actor_id=carol,
        account_id=carol_personal,
        company_id=company,
        shares=5_200,
        now=utcnow() - timedelta(minutes=1),
    )
    return dict(
        dana=dana,
        dana_personal=dana_personal,
        carol=carol,
        carol_personal=carol_personal,
        erin=erin,
        erin_personal=erin_personal,
        company=company,
        account=account,
        other=other,
        other_account=other_account,
    )


def test_the_rug_pull_is_refused(session, engine, dana):
    """The issue's repro: Dana sent the company's whole cash to her personal account, and Carol's sale was then
    refused. A public company's cash belongs to the business and its shareholders: no plain transfer to its
    owner, nor to any account the owner controls, whatever the amount; Carol sells at her preview's price."""
    d = dana
    cash = accounts.get_balance(session, d["account"])
    before = fingerprint(engine)
    for target in (d["dana_personal"], d["other_account"]):
        for amount in (cash, cash * 999 // 1000, 1):
            with pytest.raises(PublicCashRefused) as info:
                accounts.transfer(
                    session, actor_id=d["dana"], from_account_id=d["account"], to_account_id=target, amount=amount
                )
            assert str(info.value) == (
                "Dana Drones is public: its cash belongs to the business and its "
                "shareholders. Take money out by selling shares you hold."
            )
    assert fingerprint(engine) == before
    quote = stock_trading.quote(session, d["company"], "sell", 5_200)
    sold = stock_trading.sell(
        session, actor_id=d["carol"], account_id=d["carol_personal"], company_id=d["company"], shares=5_200
    )
    assert sold.total_cents == quote.total_cents > 0
    check_invariants(engine)


def test_the_owners_shares_come_last(session, engine, dana):
    """The rug pull through the stake: the founder's 200,000 shares are worth about twice the company's cash at the
    IPO price, so selling ~105,000 of them back took all of it, Carol's money too, and Carol's sale was refused. The
    owner's shares come last: a sale from any account the owner controls is paid only while the company keeps the
    cash to buy back every other holder's shares from the top of the curve; the preview and the refusal say how
    many the owner may sell now, and Carol sells all of hers afterwards, for exactly her preview."""
    d = dana
    carol_quote = stock_trading.quote(session, d["company"], "sell", 5_200)
    cash = accounts.get_balance(session, d["account"])
    row = session.execute(select(Company).where(Company.id == d["company"])).scalar_one()
    base, x, n = stock_trading.curve_of(row)
    can = stock_trading.max_owner_sale(base, x, n, cash, 200_000)
    assert 0 < can < stock_trading.max_buyback_shares(base, x, n, cash)  # what she could take before: all of it
    message = (
        "Your shares come last: Dana Drones keeps the cash to buy back every other shareholder's shares before "
        f"yours, so it can buy back at most {can:,} of your shares now."
    )
    before = fingerprint(engine)
    for attempt in (
        lambda: stock_trading.quote(session, d["company"], "sell", 105_000, account_id=d["dana_personal"]),
        lambda: stock_trading.sell(
            session,
            actor_id=d["dana"],
            account_id=d["dana_personal"],
            company_id=d["company"],
            shares=105_000,
        ),
        lambda: stock_trading.sell(
            session,
            actor_id=d["dana"],
            account_id=d["dana_personal"],
            company_id=d["company"],
            shares=can + 1,
        ),
    ):
        with pytest.raises(InsufficientFunds) as info:
            attempt()
        assert str(info.value) == message
    assert fingerprint(engine) == before
    [stake] = [p for p in stock_views.portfolio(session, d["dana"]) if p.company_id == d["company"]]
    assert (stake.buyback_shares, stake.payable_in_full) == (can, False)
    assert stock_views.stock_detail(session, d["company"]).payout.owner_can_sell == can
    assert shareholders.ipo_status(session, d["company"]).payout.owner_can_sell == can
    quoted = stock_trading.quote(session, d["company"], "sell", can, account_id=d["dana_personal"])
    sold = stock_trading.sell(
        session, actor_id=d["dana"], account_id=d["dana_personal"], company_id=d["company"], shares=can
    )
    assert sold.total_cents == quoted.total_cents > cash * 9 // 10  # she still takes out what was hers
    with pytest.raises(InsufficientFunds) as info:
        stock_trading.quote(session, d["company"], "sell", 1, account_id=d["dana_personal"])
    assert str(info.value) == (
        "Your shares come last: Dana Drones keeps the cash to buy back every other shareholder's shares before "
        "yours, so it can't buy back any of yours now."
    )
    # Carol's shares are all payable still (the founder's sale moved the curve down, as any sale before hers does).
    [pos] = stock_views.portfolio(session, d["carol"])
    assert pos.payable_in_full
    now_quote = stock_trading.quote(session, d["company"], "sell", 5_200, account_id=d["carol_personal"])
    assert carol_quote.total_cents * 98 // 100 < now_quote.total_cents <= carol_quote.total_cents
    carol = stock_trading.sell(
        session, actor_id=d["carol"], account_id=d["carol_personal"], company_id=d["company"], shares=5_200
    )
    assert carol.total_cents == now_quote.total_cents == pos.payable_cents
    check_invariants(engine)


def test_the_founders_stake_cannot_take_an_investors_money(session, engine, dana):
    """The attacker's finding 1 (HIGH): right after Carol bought, Dana sold her stake back as far as the stock page's
    own "can buy back" number let her, and took the company's whole cash and $5,313.26 of Carol's $5,314.09. Now,
    however she sells (the buyback number, the owner's own limit, piece by piece), Carol sells all of hers back
    afterwards, losing only what the owner's sales moved the curve down under her shares (the price impact of
    selling 10% of the shares: 8% x 10% of her price at most), and Dana takes no more than the company had before
    Carol paid plus that."""
    d = dana
    ipo_cash = accounts.get_balance(session, d["account"])
    with unit(session, write=True):  # what Carol paid for her 5,200 (in the fixture)
        paid = session.execute(
            select(LedgerEntry.amount).where(
                LedgerEntry.from_account_id == d["carol_personal"], LedgerEntry.type == "stock_purchase"
            )
        ).scalar_one()
    ipo_cash -= paid
    dana_before = accounts.get_balance(session, d["dana_personal"])
    t = utcnow() - timedelta(minutes=10)
    stake = 200_000
    for step in range(12):
        pay = stock_views.stock_detail(session, d["company"]).payout
        shares = min(stake, pay.buyback_shares if step % 2 == 0 else max(1, pay.owner_can_sell))
        if not shares:
            break
        try:
            stock_trading.sell(
                session,
                actor_id=d["dana"],
                account_id=d["dana_personal"],
                company_id=d["company"],
                shares=shares,
                now=t + timedelta(seconds=6 * step),
            )
            stake -= shares
        except InsufficientFunds:
            continue
    took = accounts.get_balance(session, d["dana_personal"]) - dana_before
    sold = stock_trading.sell(
        session, actor_id=d["carol"], account_id=d["carol_personal"], company_id=d["company"], shares=5_200
    )
    impact = paid - sold.total_cents
    sold_back = 200_000 - stake
    assert 100_000 < sold_back and 0 <= impact <= paid * 8 * sold_back // (100 * 1_000_000) + 1, (sold_back, impact)
    assert ipo_cash * 9 // 10 < took <= ipo_cash + impact, (took, ipo_cash, impact)
    check_invariants(engine)


def test_a_private_company_is_its_owners_business(session, engine, dana):
    """Before the IPO the owner moves the company's money as they like: no rule, no cap."""
    d = dana
    fund(session, d["other_account"], 1_000_000)
    accounts.transfer(
        session,
        actor_id=d["dana"],
        from_account_id=d["other_account"],
        to_account_id=d["dana_personal"],
        amount=1_000_000,
    )
    assert accounts.get_balance(session, d["other_account"]) == 0
    assert shareholders.outflow_room(session, d["other_account"]) is None
    assert shareholders.outflow_room(session, d["dana_personal"]) is None


def cap_refusal(room_cents: int) -> str:
    return (
        "Dana Drones is public: in any 24 hours at most 10% of its equity (its cash less what buying back its "
        f"other shareholders' shares would cost) may go out. ${room_cents // 100:,}.{room_cents % 100:02d} may "
        "still go out today."
    )


def test_payments_to_others_are_capped_at_a_tenth_of_the_equity_a_day(session, engine, dana):
    """Paying a third party stays possible: in any 24 hours at most 10% of the equity the company had before those
    payments (its cash less what buying back Carol's shares would cost), in one payment or several alike; the
    refusal says how much may still go out."""
    d = dana
    cash = accounts.get_balance(session, d["account"])
    owed = shareholders.outflow_room(session, d["account"]).owed_cents
    row = session.execute(select(Company.__table__).where(Company.id == d["company"])).one()
    assert owed == stock_trading.others_buyback_cents(*stock_trading.curve_of(row), 200_000)
    assert owed == stock_trading.buy_cost_cents(*stock_trading.curve_of(row)[:1], 200_000, 5_200, 1_000_000)
    allowed = (cash - owed) * 10 // 100
    with pytest.raises(OutflowLimit) as info:
        accounts.transfer(
            session,
            actor_id=d["dana"],
            from_account_id=d["account"],
            to_account_id=d["erin_personal"],
            amount=allowed + 1,
        )
    assert str(info.value) == cap_refusal(allowed)
    first = allowed * 6 // 10
    accounts.transfer(
        session, actor_id=d["dana"], from_account_id=d["account"], to_account_id=d["erin_personal"], amount=first
    )
    room = shareholders.outflow_room(session, d["account"])
    assert (room.sent_cents, room.room_cents) == (first, allowed - first)  # splitting it changes nothing
    accounts.transfer(
        session,
        actor_id=d["dana"],
        from_account_id=d["account"],
        to_account_id=d["carol_personal"],
        amount=allowed - first,
    )
    before = fingerprint(engine)
    with pytest.raises(OutflowLimit) as info:
        accounts.transfer(
            session, actor_id=d["dana"], from_account_id=d["account"], to_account_id=d["erin_personal"], amount=1
        )
    assert "Nothing more may go out now; more may go out from " in str(info.value)
    assert fingerprint(engine) == before
    assert accounts.get_balance(session, d["account"]) == cash - allowed
    # Money coming in (a sale to the public, a buyer's shares) raises what may go out.
    fund(session, d["account"], 1_000_000)
    assert shareholders.outflow_room(session, d["account"]).room_cents == 100_000
    check_invariants(engine)


def most_shares_for(session, company_id: int, budget_cents: int) -> int:
    """The most shares of the company that ``budget_cents`` buys from its treasury now."""
    c = session.execute(select(Company.__table__).where(Company.id == company_id)).one()
    base, x, n = stock_trading.curve_of(c)
    low, high = 0, c.treasury_shares
    while low < high:
        mid = (low + high + 1) // 2
        if stock_trading.buy_cost_cents(base, x, mid, n) <= budget_cents:
            low = mid
        else:
            high = mid - 1
    return low


def test_a_round_trip_through_the_stock_does_not_raise_the_outflow_cap(session, engine, dana):
    """The attacker's finding 2 (HIGH): Erin (a rich friend, or Dana's own money lent to her) bought shares for 4x
    the company's cash; the cap, 10% of the cash, grew with her money; the company paid her the whole room and she
    sold her shares back: 49% of the cash went to a third party in minutes. The cap's base is the equity (the cash
    less what buying back the other shareholders' shares would cost): money paid for shares is owed back to its
    buyer and never raises what may be paid away."""
    d = dana
    cash = accounts.get_balance(session, d["account"])
    owed = shareholders.outflow_room(session, d["account"]).owed_cents
    assert 0 < owed < cash // 10  # Carol's 5,200 shares
    fund(session, d["erin_personal"], 4 * cash)
    erin_start = accounts.get_balance(session, d["erin_personal"])
    t0 = utcnow() - timedelta(minutes=5)
    shares = most_shares_for(session, d["company"], 4 * cash)
    stock_trading.buy(
        session, actor_id=d["erin"], account_id=d["erin_personal"], company_id=d["company"], shares=shares, now=t0
    )
    room = shareholders.outflow_room(session, d["account"]).room_cents
    assert room <= (cash - owed) // 10
    accounts.transfer(
        session,
        actor_id=d["dana"],
        from_account_id=d["account"],
        to_account_id=d["erin_personal"],
        amount=room,
        description="consulting",
    )
    stock_trading.sell(
        session,
        actor_id=d["erin"],
        account_id=d["erin_personal"],
        company_id=d["company"],
        shares=shares,
        now=t0 + timedelta(seconds=10),
    )
    gained = accounts.get_balance(session, d["erin_personal"]) - erin_start
    left = accounts.get_balance(session, d["account"])
    assert cash - left <= cash // 10 and gained <= cash // 10, (cash, left, gained)
    check_invariants(engine)


def test_a_public_company_cannot_spend_its_cash_on_other_stock_past_the_cap(session, engine, dana, make_company):
    """The attacker's finding 3 (MEDIUM): from Dana Drones' account Dana bought Erin's stock with 90% of its cash in
    one trade, uncapped, and Erin sold her founder's stake against that money. A purchase from a public company's
    account counts against the same cap as a payment (the refusal says how much may still go out), and Erin's
    shares come last in her own company."""
    d = dana
    erin_co, erin_account = make_company(d["erin"], "ERIN", "Erin Fans")
    fund(session, erin_account, 5_000_100)
    assert companies.check_and_update_public_status(session, erin_co)
    cash = accounts.get_balance(session, d["account"])
    room = shareholders.outflow_room(session, d["account"]).room_cents
    t0 = utcnow()  # (after the IPO: what went out before it does not count)
    before = fingerprint(engine)
    with pytest.raises(OutflowLimit) as info:
        stock_trading.buy(
            session,
            actor_id=d["dana"],
            account_id=d["account"],
            company_id=erin_co,
            shares=most_shares_for(session, erin_co, cash * 9 // 10),
            now=t0,
        )
    assert str(info.value) == cap_refusal(room)
    assert fingerprint(engine) == before
    bought = stock_trading.buy(
        session,
        actor_id=d["dana"],
        account_id=d["account"],
        company_id=erin_co,
        shares=most_shares_for(session, erin_co, room),
        now=t0,
    )
    after = shareholders.outflow_room(session, d["account"])
    assert (after.sent_cents, after.room_cents) == (bought.total_cents, room - bought.total_cents)
    # A player's own purchases are no company's outflow: Carol's are not capped.
    fund(session, d["carol_personal"], 5_000_000)
    stock_trading.buy(
        session,
        actor_id=d["carol"],
        account_id=d["carol_personal"],
        company_id=erin_co,
        shares=most_shares_for(session, erin_co, 4_000_000),
        now=t0,
    )
    # Erin sells her stake as far as it goes: the others' shares (Dana Drones', Carol's) stay bought back in full.
    erin_before = accounts.get_balance(session, d["erin_personal"])
    for step in range(6):
        can = stock_views.stock_detail(session, erin_co).payout.owner_can_sell
        if not can:
            break
        stock_trading.sell(
            session,
            actor_id=d["erin"],
            account_id=d["erin_personal"],
            company_id=erin_co,
            shares=can,
            now=t0 + timedelta(seconds=6 * (step + 1)),
        )
    took = accounts.get_balance(session, d["erin_personal"]) - erin_before
    assert took <= 5_000_100 * 101 // 100  # her IPO cash, and at most the price impact of her sales on the others'
    assert cash - accounts.get_balance(session, d["account"]) <= cash // 10
    for who, account in ((d["dana"], d["account"]), (d["carol"], d["carol_personal"])):
        [pos] = [p for p in stock_views.portfolio(session, who, account_id=account) if p.company_id == erin_co]
        assert pos.payable_in_full, pos
    check_invariants(engine)


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_two_companies_buying_each_others_shares_at_once_never_deadlock(engine, session, dana, make_company):
    """A purchase from a company's account locks the buyer's row and the stock's, in id order: Dana Drones buying
    Erin's shares while Erin's company buys Dana Drones' (three of each at once: the trade limit's) all go
    through."""
    d = dana
    erin_co, erin_account = make_company(d["erin"], "ERIN", "Erin Fans")
    fund(session, erin_account, 6_000_000)
    assert companies.check_and_update_public_status(session, erin_co)
    start = threading.Barrier(6)

    def buy(n: int):
        actor, account, stock = (d["dana"], d["account"], erin_co) if n % 2 else (d["erin"], erin_account, d["company"])
        start.wait()
        with Session(engine) as s:
            stock_trading.buy(s, actor_id=actor, account_id=account, company_id=stock, shares=100)

    threads = [in_thread(buy, n) for n in range(6)]
    for th in threads:
        th.join(60)
        assert not th.is_alive() and th.errors == [], th.errors
    check_invariants(engine)


def test_the_cap_is_a_rolling_24_hours(session, engine, dana):
    d = dana
    cash = accounts.get_balance(session, d["account"])
    now = utcnow()
    with unit(session, write=True):  # a payment 25 hours ago (before the window) and one 23 hours ago
        company = session.get(Company, d["company"])
        company.public_at = now - timedelta(days=3)
        session.add(company)
        for hours, cents in ((25, 900_000), (23, 400_000)):
            ledger.post(
                session,
                from_account_id=d["account"],
                to_account_id=d["erin_personal"],
                amount=cents,
                type="transfer",
                now=now - timedelta(hours=hours),
            )
    left = accounts.get_balance(session, d["account"])
    room = shareholders.outflow_room(session, d["account"], now=now)
    owed = room.owed_cents  # Carol's shares
    assert room.sent_cents == 400_000
    assert room.room_cents == (left + 400_000 - owed) * 10 // 100 - 400_000
    assert left == cash - 1_300_000
    # In an hour the 23-hour-old payment leaves the window too.
    later = shareholders.outflow_room(session, d["account"], now=now + timedelta(hours=1, seconds=1))
    assert (later.sent_cents, later.room_cents) == (0, (left - owed) * 10 // 100)


def test_payments_before_the_ipo_do_not_count(session, engine, make_player, make_company):
    owner, personal = make_player("owner")
    _, friend = make_player("friend")
    company, account = make_company(owner, "PRE")
    fund(session, account, 7_000_000)
    accounts.transfer(session, actor_id=owner, from_account_id=account, to_account_id=friend, amount=1_000_000)
    assert companies.check_and_update_public_status(session, company)
    room = shareholders.outflow_room(session, account)
    assert (room.sent_cents, room.room_cents) == (0, 600_000)


def test_a_replayed_payment_answers_like_the_first(session, engine, dana):
    """A double click on Send (the same idempotency key) after the payment used up the day's room: the replay
    returns the same entry and moves nothing, rather than a refusal for money that did go out."""
    d = dana
    allowed = shareholders.outflow_room(session, d["account"]).room_cents
    kwargs = dict(
        actor_id=d["dana"],
        from_account_id=d["account"],
        to_account_id=d["erin_personal"],
        amount=allowed,
        idempotency_key="send:form-1",
    )
    first = accounts.transfer(session, **kwargs)
    before = fingerprint(engine)
    assert accounts.transfer(session, **kwargs).id == first.id
    assert fingerprint(engine) == before


def test_parallel_payments_cannot_beat_the_cap(engine, dana):
    """Eight payments of 4% of the cash sent at once: the cap is counted under the company's row lock, so exactly
    two go out (8% of the cash; a third would make 12%), and the others are refused with the cap's message."""
    d = dana
    with Session(engine) as s:
        cash = accounts.get_balance(s, d["account"])
    each = cash * 4 // 100
    start = threading.Barrier(8)
    results: list = []
    lock = threading.Lock()

    def pay(n: int):
        start.wait()
        with Session(engine) as s:
            try:
                accounts.transfer(
                    s,
                    actor_id=d["dana"],
                    from_account_id=d["account"],
                    to_account_id=d["erin_personal"],
                    amount=each,
                    idempotency_key=f"par-{n}",
                )
                outcome = "sent"
            except OutflowLimit:
                outcome = "capped"
        with lock:
            results.append(outcome)

    threads = [in_thread(pay, n) for n in range(8)]
    for t in threads:
        t.join(60)
        assert not t.is_alive() and t.errors == [], t.errors
    assert sorted(results) == ["capped"] * 6 + ["sent"] * 2
    with Session(engine) as s:
        assert accounts.get_balance(s, d["account"]) == cash - 2 * each
        sent = (
            s.execute(
                select(LedgerEntry.amount).where(
                    LedgerEntry.from_account_id == d["account"], LedgerEntry.type == "transfer"
                )
            )
            .scalars()
            .all()
        )
    assert sent == [each, each]
    check_invariants(engine)


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_marketplace_run_never_deadlocks_with_a_payment_out_of_a_company_going_public(
    engine, make_player, make_company, session
):
    """A payment out of a company locks the company's row, then its balance (the order trades use); a marketplace
    run holds the balances it posted to, then takes companies past $50,000 public. When a payment out of a
    selling company waits for the run, the run skips that company's IPO (it goes public at its next check)
    instead of waiting for the payment: neither waits for the other, nothing fails."""
    owner, personal = make_player("owner")
    company, account = make_company(owner, "RUN")
    fund(session, account, 4_999_000)
    products.create_product(
        session,
        actor_id=owner,
        company_id=company,
        name="Gold",
        price_cents=1_000_000,
        rng=random.Random(1),
        now=utcnow() - timedelta(hours=1),
    )
    paying: list[threading.Thread] = []

    def pay_out():
        with Session(engine) as s:
            accounts.transfer(s, actor_id=owner, from_account_id=account, to_account_id=personal, amount=100)

    def after_the_run_posted(conn, cursor, statement, parameters, context, executemany):
        if not paying and "FROM companies JOIN balances" in statement and "is_public" in statement:
            paying.append(in_thread(pay_out))  # locks the company's row, then waits for the run's balance lock
            assert done_or_waiting_on_a_lock(engine, paying[0])

    event.listen(engine, "after_cursor_execute", after_the_run_posted)
    try:
        with Session(engine) as s:
            result = marketplace_run.run_batch(
                s, rng=random.Random(1), budget=1_000_000, settings=marketplace_settings_with_cap(s, 100)
            )
    finally:
        event.remove(engine, "after_cursor_execute", after_the_run_posted)
    assert paying, "the run checked no company for going public"
    paying[0].join(30)
    assert not paying[0].is_alive() and paying[0].errors == [], paying[0].errors
    assert result.units == 1 and result.went_public == []  # skipped, not waited for
    assert companies.check_and_update_public_status(session, company)  # the next check takes it public
    check_invariants(engine)


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_company_does_not_go_public_on_cash_just_paid_out(engine, session, make_player, make_company):
    """The attacker's finding 4 (MEDIUM, PostgreSQL): a $59,000 payment out of a $60,000 private company held its row
    while it posted; "Check public status" waited for that row in a statement that also read the cash, and read
    it as it was before the wait: the company went public with $1,000, at 60x what its cash supports. The cash is
    read by a second statement once the row is held: it stays private."""
    owner, personal = make_player("dana")
    company, account = make_company(owner, "SNAP", "Snap Drones")
    fund(session, account, 6_000_000)
    went_public: list[bool] = []

    def check_public():
        with Session(engine) as s2:
            went_public.append(companies.go_public(s2, actor_id=owner, company_id=company))

    with Session(engine) as s1, unit(s1, write=True):
        accounts.transfer(s1, actor_id=owner, from_account_id=account, to_account_id=personal, amount=5_900_000)
        checker = in_thread(check_public)  # the click, while the payment commits
        assert done_or_waiting_on_a_lock(engine, checker)
    checker.join(30)
    assert not checker.is_alive() and checker.errors == [], checker.errors
    assert accounts.get_balance(session, account) == 100_000
    assert went_public == [False] and not companies.get_company(session, company).is_public
    check_invariants(engine)


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_price_tick_reads_the_cash_after_the_payment_it_waited_for(engine, session, dana, monkeypatch):
    """The same shape in the price tick: a tick that waited for a company's row while a payment out of it posted
    values the company on the cash after the payment, not before."""
    d = dana
    seen: list[int] = []
    equity = stock_trading.equity_cents
    monkeypatch.setattr(stock_trading, "equity_cents", lambda cash, *a, **k: seen.append(cash) or equity(cash, *a, **k))
    room = shareholders.outflow_room(session, d["account"]).room_cents

    def tick():
        with Session(engine) as s2:
            stock_trading.update_prices(s2, rng=random.Random(1))

    with Session(engine) as s1, unit(s1, write=True):
        accounts.transfer(
            s1, actor_id=d["dana"], from_account_id=d["account"], to_account_id=d["erin_personal"], amount=room
        )
        ticker = in_thread(tick)
        assert done_or_waiting_on_a_lock(engine, ticker)
    ticker.join(30)
    assert not ticker.is_alive() and ticker.errors == [], ticker.errors
    assert seen == [accounts.get_balance(session, d["account"])]
    check_invariants(engine)


def marketplace_settings_with_cap(s, cap: int):
    from dataclasses import replace

    from economy_app.services import marketplace_settings

    return replace(marketplace_settings.load(s), company_cap_percent=cap)


def drain(session, d, now) -> None:
    """The company's cash falls short of Carol's shares. Nothing its owner does can make it so any more (her shares
    come last; payments to others are 10% of the equity), so the test takes it there directly: she sells back all
    of her stake the company pays for, then an adjustment moves a tenth of what is left to the mint (as an
    operator's correction would)."""
    can = stock_views.stock_detail(session, d["company"]).payout.owner_can_sell
    stock_trading.sell(
        session, actor_id=d["dana"], account_id=d["dana_personal"], company_id=d["company"], shares=can, now=now
    )
    with unit(session, write=True):
        ledger.post(
            session,
            from_account_id=d["account"],
            to_account_id=accounts.system_account_id(session),
            amount=accounts.get_balance(session, d["account"]) // 10,
            type="adjustment",
        )


def test_sell_previews_and_valuations_say_what_the_company_can_pay(session, engine, dana):
    """Once the company's cash is short of Carol's shares, Carol's preview, her portfolio and her dashboard all say
    what the company can pay now, before any click."""
    d = dana
    drain(session, d, utcnow() - timedelta(seconds=30))
    detail = stock_views.stock_detail(session, d["company"])
    can = detail.payout.buyback_shares
    assert 0 < can < 5_200
    assert detail.payout.held_by_players == 5_200 + detail.payout.owner_held
    assert detail.payout.cash_per_share_micros == detail.cash_cents * 10_000 // 1_000_000
    with pytest.raises(InsufficientFunds) as info:
        stock_trading.quote(session, d["company"], "sell", 5_200)
    assert str(info.value) == f"Dana Drones can buy back at most {can:,} shares now."
    [pos] = stock_views.portfolio(session, d["carol"])
    assert (pos.buyback_shares, pos.payable_in_full) == (can, False)
    assert pos.payable_cents == stock_trading.quote(session, d["company"], "sell", can).total_cents
    dash = accounts.dashboard(session, d["carol"])
    assert dash.unpayable == pos.value_cents - pos.payable_cents > 0


def test_holdings_of_one_player_are_marked_against_what_the_company_can_pay_them_all(
    session, engine, dana, make_company
):
    """The attacker's finding 5 (LOW): Erin holds 3,000 shares personally and 3,000 in her company's account, and the
    company can buy back 4,500: each position alone fit, so both were marked payable and her dashboard said
    nothing. What the company can buy back is shared out over all of a player's shares in it."""
    d = dana
    _, erin_co_account = make_company(d["erin"], "ERCO", "Erin Capital")
    fund(session, erin_co_account, 1_000_000)
    t0 = utcnow() - timedelta(minutes=1)
    for account in (d["erin_personal"], erin_co_account):
        stock_trading.buy(
            session, actor_id=d["erin"], account_id=account, company_id=d["company"], shares=3_000, now=t0
        )
    row = session.execute(select(Company.__table__).where(Company.id == d["company"])).one()
    base, x, n = stock_trading.curve_of(row)
    with unit(session, write=True):  # the company's cash falls to what 4,500 shares sold from the top pay
        ledger.post(
            session,
            from_account_id=d["account"],
            to_account_id=accounts.system_account_id(session),
            amount=accounts.get_balance(session, d["account"]) - stock_trading.sell_proceeds_cents(base, x, 4_500, n),
            type="adjustment",
        )
    assert stock_views.stock_detail(session, d["company"]).payout.buyback_shares == 4_500
    positions = stock_views.portfolio(session, d["erin"])
    assert [(p.shares, p.buyback_shares, p.payable_in_full) for p in positions] == [
        (3_000, 3_000, True),
        (3_000, 1_500, False),
    ]
    assert [p.buyback_shares for p in stock_views.portfolio(session, d["erin"], account_id=erin_co_account)] == [1_500]
    assert accounts.dashboard(session, d["erin"]).unpayable == stock_views.unpayable_cents(positions) > 0
    check_invariants(engine)


def test_the_previews_say_what_the_click_would_refuse(session, engine, dana, make_company):
    """The attacker's minor findings: a sell preview quoted shares the chosen account does not hold, and a founder
    saw a buy preview that the click refused. With the trade box's account, the preview refuses up front what the
    trade would, in the same words (and a public company's purchase past its cap)."""
    d = dana
    for account in (d["dana_personal"], d["other_account"]):
        with pytest.raises(TradeRefused) as info:
            stock_trading.quote(session, d["company"], "buy", 100, account_id=account)
        assert str(info.value) == "Founders can't buy their own company's shares, from any of their accounts."
    with pytest.raises(TradeRefused) as info:
        stock_trading.quote(session, d["company"], "sell", 6_000, account_id=d["carol_personal"])
    assert str(info.value) == "You hold only 5,200 shares of DANA in this account."
    with pytest.raises(TradeRefused) as info:
        stock_trading.quote(session, d["company"], "sell", 1, account_id=d["erin_personal"])
    assert str(info.value) == "You hold only 0 shares of DANA in this account."
    erin_co, erin_account = make_company(d["erin"], "ERIN", "Erin Fans")
    fund(session, erin_account, 5_000_100)
    assert companies.check_and_update_public_status(session, erin_co)
    room = shareholders.outflow_room(session, d["account"]).room_cents
    past = most_shares_for(session, erin_co, room) + 1
    with pytest.raises(OutflowLimit) as info:
        stock_trading.quote(session, erin_co, "buy", past, account_id=d["account"])
    assert str(info.value) == cap_refusal(room)
    with pytest.raises(OutflowLimit):
        stock_trading.buy(session, actor_id=d["dana"], account_id=d["account"], company_id=erin_co, shares=past)
    assert stock_trading.quote(session, erin_co, "buy", past - 1, account_id=d["account"]).total_cents <= room
    assert stock_trading.quote(session, erin_co, "buy", past, account_id=d["carol_personal"]).total_cents > room


def test_the_ipo_price_holds_under_the_ticks(session, engine, dana):
    """The founder's stake is out from the IPO: counted as a debt of the company, it would put the fair value
    (10 x equity / shares) at zero and the ticks would pull every new listing down ~0.5% every 5 minutes
    (a quarter of its price left after a day). It is the owner's claim on that equity, so it is left out."""
    d = dana
    ipo = companies.get_company(session, d["company"]).share_price_micros
    t0 = utcnow() - timedelta(days=1)
    for i in range(288):  # a day of ticks
        stock_trading.update_prices(session, rng=random.Random(i), now=t0 + timedelta(minutes=5 * i))
    price = companies.get_company(session, d["company"]).share_price_micros
    assert abs(price - ipo) * 100 <= 5 * ipo, f"a day of ticks moved the IPO price {ipo} to {price}"


def test_a_buyers_money_does_not_lift_the_fair_value_above_the_curve(session, engine, dana):
    """Leaving the founder's stake out of the debt must not let a buyer's own money pull the price up: after a
    big buy, a day of ticks leaves the price no higher than the curve put it (noise aside)."""
    d = dana
    fund(session, d["erin_personal"], 60_000_000)
    t0 = utcnow() - timedelta(days=1)
    stock_trading.buy(
        session, actor_id=d["erin"], account_id=d["erin_personal"], company_id=d["company"], shares=500_000, now=t0
    )
    bought_at = companies.get_company(session, d["company"]).share_price_micros
    for i in range(288):
        stock_trading.update_prices(session, rng=random.Random(i), now=t0 + timedelta(minutes=5 * (i + 1)))
    assert companies.get_company(session, d["company"]).share_price_micros <= bought_at * 102 // 100


def test_a_company_profile_for_every_player(session, engine, dana):
    d = dana
    products.create_product(
        session,
        actor_id=d["dana"],
        company_id=d["company"],
        name="Quadcopter",
        price_cents=12_000,
        rng=random.Random(4),
        now=utcnow() - timedelta(hours=1),
    )
    run = marketplace_run.run_batch(session, rng=random.Random(2), budget=3_000_000)
    assert d["company"] in run.company_ids
    p = profiles.company_profile(session, d["company"], d["carol"])
    assert (p.company.name, p.company.ticker, p.company.owner_username, p.is_owner) == (
        "Dana Drones",
        "DANA",
        "dana",
        False,
    )
    assert [(x.name, x.price_cents, x.on_sale) for x in p.products] == [("Quadcopter", 12_000, True)]
    assert p.products[0].units_sold > 0
    [r] = p.runs
    assert r.revenue == p.revenue_30d and r.costs == p.costs_30d and r.units == p.products[0].units_sold
    assert p.ipo.is_public and p.ipo.founder_stake == 200_000 and p.ipo.treasury_shares == 800_000 - 5_200
    assert profiles.company_profile(session, d["company"], d["dana"]).is_owner
    private = profiles.company_profile(session, d["other"], d["carol"])
    assert not private.ipo.is_public and private.ipo.progress_permille == 0
    with pytest.raises(CompanyNotFound):
        profiles.company_profile(session, 999_999, d["carol"])


def test_new_listings_are_marked(session, engine, dana):
    rows, _ = stock_views.overview(session)
    assert [(r.ticker, r.new_listing) for r in rows] == [("DANA", True)]
    rows, _ = stock_views.overview(session, now=utcnow() + timedelta(days=8))
    assert [(r.ticker, r.new_listing) for r in rows] == [("DANA", False)]
