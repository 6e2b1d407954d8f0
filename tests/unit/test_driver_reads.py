"""The pages' reads sent straight to the database driver (``db.DriverRead``, issue 18): each answers exactly what the
same statement answers through SQLAlchemy, values converted the same way (a SQLite ``DateTime`` is a ``datetime``, a
``Boolean`` a ``bool``), on both databases; a statement whose conversion or parameters only SQLAlchemy can handle is
refused when it is compiled, never answered wrongly."""

from __future__ import annotations

import importlib
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Float, Numeric, bindparam, cast, select

from economy_app import db
from economy_app.models import Account, utcnow
from economy_app.services import accounts, auth, guide, loans, net_worth, ownership, shareholders, stock_trading
from economy_app.services._tx import unit
from tests.support import world

accounts_t = Account.__table__
history = importlib.import_module("economy_app.services.ledger.history")  # (the package's `history` is the function)
posting = importlib.import_module("economy_app.services.ledger.posting")


def _both_ways(session, read: db.DriverRead, params: dict, *, write: bool = False) -> tuple[list, list]:
    with unit(session, write=write, snapshot=not write):
        driver = read.all_in(session, params)
        through_sqlalchemy = [tuple(r) for r in session.execute(read.statement, params)]
    return [tuple(r) for r in driver], through_sqlalchemy


def _typed(rows: list) -> list:
    return [tuple((type(v), v) for v in r) for r in rows]


def test_every_read_sent_to_the_driver_answers_as_sqlalchemy_does(session, make_player, make_company):
    alice, a = make_player("alice")
    bob, b = make_player("bob")
    _, company_account = make_company(alice, "ACME")
    for amount in (100, 250, 7):
        accounts.transfer(session, actor_id=alice, from_account_id=a, to_account_id=b, amount=amount)
    accounts.transfer(session, actor_id=alice, from_account_id=a, to_account_id=company_account, amount=5_000)
    auth.login(session, "alice", "correct horse", client="127.0.0.1")
    session.commit()
    now = utcnow() + timedelta(seconds=1)
    cases = [
        (accounts._LIST_ACCOUNTS, {"user_id": alice}),
        (accounts._SYSTEM_ID, {}),
        (accounts._OWNED_IDS, {"user_id": alice}),
        (accounts._SEARCH, {"pattern": "a%", "typed": "alice", "limit": 20}),
        (accounts._SEARCH, {"pattern": "acme%", "typed": "acme", "limit": 20}),
        (history._history_read(2, False, False, False), {"lim": 50, "acc0": a, "acc1": company_account}),
        (
            history._history_read(1, True, True, True),
            {"lim": 2, "acc0": a, "before_at": now, "before_id0": 10**6, "since": datetime(2000, 1, 1), "until": now},
        ),
        (loans._CURRENT, {"user_id": alice}),
        (guide._PROGRESS, {"user_id": alice, "now": now}),
        (net_worth._HELD_BY_OWNER, {"owner": alice}),
        (net_worth._DEBTS_OF_OWNER, {"owner": alice}),
    ]
    answered = 0
    for read, params in cases:
        driver, expected = _both_ways(session, read, params)
        assert _typed(driver) == _typed(expected), read.statement
        answered += bool(expected)
    assert answered >= 8  # (the loan, the holdings and the debts have no rows here: their columns are checked below)
    rows = _both_ways(session, accounts._LIST_ACCOUNTS, {"user_id": alice})[0]
    assert [type(r[6]) for r in rows] == [datetime, datetime] and {type(r[7]) for r in rows} == {bool}
    assert accounts._LIST_ACCOUNTS.all_in(session, {"user_id": alice})[0].name == "alice"  # rows are named too


def test_every_read_of_a_transfer_sent_to_the_driver_answers_as_sqlalchemy_does(session, make_player, make_company):
    """The reads every transfer makes (whose accounts, the two balance rows it locks, a key seen before, the company
    and its shareholders' claim, an open loan, a public company), each against SQLAlchemy, locked where it locks."""
    alice, a = make_player("alice")
    bob, b = make_player("bob")
    company_id, company_account = make_company(alice, "ACME")
    world.go_public(session, company_id, company_account, 6_000_000)
    session.commit()
    accounts.transfer(session, actor_id=alice, from_account_id=a, to_account_id=b, amount=100, idempotency_key="k-1")
    loans.take(session, user_id=bob, amount=50_000, idempotency_key="loan-1")
    session.commit()
    dialect = session.get_bind().dialect.name
    unlocked = [
        (accounts._OWNERS_AND_KINDS, {"a": a, "b": company_account}),
        (accounts._OWNERS_AND_KINDS, {"a": a, "b": a}),
        (posting._BY_KEY, {"key": "k-1"}),
        (posting._BY_KEY, {"key": "never-used"}),
        (ownership._COMPANIES_OF_TWO, {"a": a, "b": company_account}),
        (shareholders._COMPANY_OF_ACCOUNT_READ[False], {"account": company_account}),
        (loans._OPEN_LOAN, {"user_id": bob}),
        (loans._OPEN_LOAN, {"user_id": alice}),
        (loans._PUBLIC_COMPANY_ACCOUNT, {"account": company_account}),
        (loans._PUBLIC_COMPANY_ACCOUNT, {"account": a}),
    ]
    locked = [
        (posting._LOCK_READ[dialect], {"src": company_account, "dst": a}),
        (shareholders._COMPANY_OF_ACCOUNT_READ[True], {"account": company_account}),
    ]
    answered = 0
    for cases, write in ((unlocked, False), (locked, True)):
        for read, params in cases:
            driver, expected = _both_ways(session, read, params, write=write)
            assert _typed(driver) == _typed(expected), read.statement
            answered += bool(expected)
    assert answered == 9  # (no key "never-used", no loan of alice's, a is no company's)
    key_row = posting._BY_KEY.first_in(session, {"key": "k-1"})
    assert key_row._asdict()["amount"] == 100 and isinstance(key_row._asdict()["created_at"], datetime)
    with unit(session, write=True):
        rows = posting._LOCK_READ[dialect].all_in(session, {"src": b, "dst": a})
    assert [r.account_id for r in rows] == sorted([a, b]) and all(r.balance > 0 for r in rows)


def test_the_dashboards_figures_are_the_same_through_the_driver(session, make_player, make_company):
    """The dashboard now reads the player's holdings by owner (one statement to the driver) where it read them by the
    list of their accounts: the same figure, as the leaderboard's own reading (every owner at once) says."""
    alice, a = make_player("alice")
    bob, b = make_player("bob")
    company_id, company_account = make_company(alice, "ACME")
    world.go_public(session, company_id, company_account, 6_000_000)
    session.commit()
    stock_trading.buy(session, actor_id=bob, company_id=company_id, shares=10, account_id=b)
    session.commit()
    held, owed = net_worth.held_and_owed(session)
    assert held.get(bob, 0) > 0 and owed.get(alice, 0) > 0
    assert net_worth.player_holdings_value(session, bob) == held[bob] == net_worth.holdings_value(session, [b])
    assert net_worth.owed_to_shareholders(session, alice) == owed[alice]
    d = accounts.dashboard(session, bob)
    assert d.holdings == held[bob] and d.net_worth == accounts.get_balance(session, b) + held[bob]


@pytest.mark.parametrize(
    "statement",
    [
        select(cast(accounts_t.c.balance, Numeric(12, 2))),
        select(cast(accounts_t.c.balance, Float)),
        select(accounts_t.c.id).where(accounts_t.c.id.in_(bindparam("ids", expanding=True))),
        select(accounts_t.c.id).where(accounts_t.c.kind.in_(["personal", "company"])),
    ],
)
def test_a_statement_only_sqlalchemy_can_run_is_refused(session, statement):
    with unit(session, write=False), pytest.raises(TypeError, match="DriverRead"):
        db.DriverRead(statement).all_in(session, {"ids": [1]})
