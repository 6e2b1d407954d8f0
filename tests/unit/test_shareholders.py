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
                "shareholders. Take money out by paying a dividend, which every shareholder shares in, or by "
                "selling shares you hold."
            )
    assert fingerprint(engine) == before
    quote = stock_trading.quote(session, d["company"], "sell", 5_200)
    sold = stock_trading.sell(
        session, actor_id=d["carol"], account_id=d["carol_personal"], company_id=d["company"], shares=5_200
    )
    assert sold.total_cents == quote.total_cents > 0
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


def test_payments_to_others_are_capped_at_a_tenth_of_the_cash_a_day(session, engine, dana):
    """Paying a third party stays possible: in any 24 hours at most 10% of the cash the company had before those
    payments, in one payment or several alike; the refusal says how much may still go out."""
    d = dana
    cash = accounts.get_balance(session, d["account"])
    allowed = cash * 10 // 100
    with pytest.raises(OutflowLimit) as info:
        accounts.transfer(
            session,
            actor_id=d["dana"],
            from_account_id=d["account"],
            to_account_id=d["erin_personal"],
            amount=allowed + 1,
        )
    assert str(info.value) == (
        "Dana Drones is public: at most 10% of its cash may go out in any 24 hours. "
        f"${allowed // 100:,}.{allowed % 100:02d} may still go out today."
    )
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
    assert room.sent_cents == 400_000
    assert room.room_cents == (left + 400_000) * 10 // 100 - 400_000
    assert left == cash - 1_300_000
    # In an hour the 23-hour-old payment leaves the window too.
    later = shareholders.outflow_room(session, d["account"], now=now + timedelta(hours=1, seconds=1))
    assert (later.sent_cents, later.room_cents) == (0, left * 10 // 100)


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
    allowed = accounts.get_balance(session, d["account"]) // 10
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


def marketplace_settings_with_cap(s, cap: int):
    from dataclasses import replace

    from economy_app.services import marketplace_settings

    return replace(marketplace_settings.load(s), company_cap_percent=cap)


def test_sell_previews_and_valuations_say_what_the_company_can_pay(session, engine, dana):
    """After the founder sold back most of the cash's worth (the way an owner takes money out), Carol's preview,
    her portfolio and her dashboard all say what the company can pay now, before any click."""
    d = dana
    t0 = utcnow() - timedelta(seconds=30)
    for i, shares in enumerate((90_000, 12_000)):
        stock_trading.sell(
            session,
            actor_id=d["dana"],
            account_id=d["dana_personal"],
            company_id=d["company"],
            shares=shares,
            now=t0 + timedelta(seconds=6 * i),
        )
    detail = stock_views.stock_detail(session, d["company"])
    can = detail.payout.buyback_shares
    assert 0 < can < 5_200
    assert detail.payout.held_by_players == 200_000 + 5_200 - 102_000
    assert detail.payout.cash_per_share_micros == detail.cash_cents * 10_000 // 1_000_000
    with pytest.raises(InsufficientFunds) as info:
        stock_trading.quote(session, d["company"], "sell", 5_200)
    assert str(info.value) == f"Dana Drones can buy back at most {can:,} shares now."
    [pos] = stock_views.portfolio(session, d["carol"])
    assert (pos.buyback_shares, pos.payable_in_full) == (can, False)
    assert pos.payable_cents == stock_trading.quote(session, d["company"], "sell", can).total_cents
    dash = accounts.dashboard(session, d["carol"])
    assert dash.unpayable == pos.value_cents - pos.payable_cents > 0


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
