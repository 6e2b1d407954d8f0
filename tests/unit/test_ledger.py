"""The one posting function and transfers: every path, every refusal."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from economy_app.models import BalanceHistory, LedgerEntry
from economy_app.services import accounts, ledger
from economy_app.services._tx import unit
from economy_app.services.errors import (
    AccountNotFound,
    BalanceRecordMissing,
    DuplicateRequest,
    InsufficientFunds,
    InvalidAmount,
    InvalidInput,
    NotAccountOwner,
    SameAccount,
)
from tests.support.db import check_invariants, fingerprint


def test_transfer_moves_money_in_all_three_copies(session, engine, make_player):
    alice, a = make_player("alice")
    bob, b = make_player("bob")
    entry = accounts.transfer(session, actor_id=alice, from_account_id=a, to_account_id=b, amount=123_456,
                              description="rent")
    assert entry.id and entry.type == "transfer" and entry.amount == 123_456
    assert accounts.get_balance(session, a) == 1_000_000 - 123_456
    assert accounts.get_balance(session, b) == 1_000_000 + 123_456
    views = {v.id: v for v in accounts.list_accounts(session, alice)}
    assert views[a].balance == 1_000_000 - 123_456 and not views[a].balance_from_cache
    history = session.execute(
        select(BalanceHistory.account_id, BalanceHistory.change, BalanceHistory.balance_after)
        .where(BalanceHistory.ledger_id == entry.id).order_by(BalanceHistory.change)).all()
    assert [tuple(r) for r in history] == [(a, -123_456, 876_544), (b, 123_456, 1_123_456)]
    check_invariants(engine)


def test_transfer_of_whole_balance_then_nothing_more(session, engine, make_player):
    alice, a = make_player()
    _, b = make_player()
    accounts.transfer(session, actor_id=alice, from_account_id=a, to_account_id=b, amount=1_000_000)
    assert accounts.get_balance(session, a) == 0
    before = fingerprint(engine)
    with pytest.raises(InsufficientFunds):
        accounts.transfer(session, actor_id=alice, from_account_id=a, to_account_id=b, amount=1)
    assert fingerprint(engine) == before
    check_invariants(engine)


@pytest.mark.parametrize("amount", [0, -1, -500, 1.5, 10.0, "100", None, True, float("nan"), float("inf"), 2**63])
def test_bad_amounts_are_refused_and_change_nothing(session, engine, make_player, amount):
    alice, a = make_player()
    _, b = make_player()
    before = fingerprint(engine)
    with pytest.raises(InvalidAmount):
        accounts.transfer(session, actor_id=alice, from_account_id=a, to_account_id=b, amount=amount)
    assert fingerprint(engine) == before


def test_refusals_change_nothing(session, engine, make_player):
    alice, a = make_player()
    bob, b = make_player()
    system = accounts.find_system_account_id(session)
    before = fingerprint(engine)
    cases = [
        (InsufficientFunds, dict(actor_id=alice, from_account_id=a, to_account_id=b, amount=1_000_001)),
        (SameAccount, dict(actor_id=alice, from_account_id=a, to_account_id=a, amount=100)),
        (NotAccountOwner, dict(actor_id=bob, from_account_id=a, to_account_id=b, amount=100)),
        (NotAccountOwner, dict(actor_id=alice, from_account_id=system, to_account_id=a, amount=100)),
        (AccountNotFound, dict(actor_id=alice, from_account_id=9999, to_account_id=b, amount=100)),
        (AccountNotFound, dict(actor_id=alice, from_account_id=a, to_account_id=9999, amount=100)),
        (InvalidInput, dict(actor_id=alice, from_account_id=a, to_account_id=system, amount=100)),
        (InvalidInput, dict(actor_id=alice, from_account_id=a, to_account_id=b, amount=100, description="x" * 201)),
        (InvalidAmount, dict(actor_id=alice, from_account_id=a, to_account_id=b, amount=100_000_001)),
    ]
    for error, kwargs in cases:
        with pytest.raises(error) as info:
            accounts.transfer(session, **kwargs)
        assert str(info.value), f"{error.__name__} has no message"
        assert fingerprint(engine) == before, f"{error.__name__} changed the database"


def test_idempotency_key_replays_without_moving_money(session, engine, make_player):
    alice, a = make_player()
    _, b = make_player()
    first = accounts.transfer(session, actor_id=alice, from_account_id=a, to_account_id=b, amount=500,
                              description="lunch", idempotency_key="form-1")
    snapshot = fingerprint(engine)
    again = accounts.transfer(session, actor_id=alice, from_account_id=a, to_account_id=b, amount=500,
                              description="lunch", idempotency_key="form-1")
    assert again.id == first.id and again.amount == 500
    assert fingerprint(engine) == snapshot
    with pytest.raises(DuplicateRequest):
        accounts.transfer(session, actor_id=alice, from_account_id=a, to_account_id=b, amount=501,
                          description="lunch", idempotency_key="form-1")
    assert fingerprint(engine) == snapshot
    assert accounts.get_balance(session, a) == 1_000_000 - 500


def test_failed_transfer_rolls_back_a_half_done_posting(session, engine, make_player):
    """An error after the debit (a duplicate idempotency key at insert) leaves no trace."""
    alice, a = make_player()
    _, b = make_player()
    before = fingerprint(engine)
    with pytest.raises(RuntimeError):
        with unit(session, write=True):
            ledger.post(session, from_account_id=a, to_account_id=b, amount=700, type="transfer")
            raise RuntimeError("crash in the middle of a unit of work")
    assert fingerprint(engine) == before


def test_post_requires_a_write_unit(session, make_player):
    _, a = make_player()
    _, b = make_player()
    with pytest.raises(RuntimeError):
        ledger.post(session, from_account_id=a, to_account_id=b, amount=1, type="transfer")


def test_post_rejects_unknown_type_and_bad_batch_count(session, engine, make_player):
    _, a = make_player()
    _, b = make_player()
    before = fingerprint(engine)
    for kwargs in (dict(type="gift"), dict(type="marketplace_batch", batch_count=0),
                   dict(type="marketplace_batch", batch_count=2.0)):
        with pytest.raises(InvalidInput):
            with unit(session, write=True):
                ledger.post(session, from_account_id=a, to_account_id=b, amount=10, **kwargs)
    assert fingerprint(engine) == before


def test_system_account_is_exempt_from_funds_check_and_sum_is_zero(session, engine, make_player):
    _, a = make_player()
    system = accounts.find_system_account_id(session)
    with unit(session, write=True):
        ledger.post(session, from_account_id=system, to_account_id=a, amount=5_000_000, type="adjustment")
    assert accounts.get_balance(session, system) == -6_000_000
    check_invariants(engine)


def test_posting_to_an_account_without_balances_row_is_refused(session, engine, make_player):
    alice, a = make_player()
    _, b = make_player()
    from economy_app.models import Balance
    with engine.begin() as conn:
        conn.execute(Balance.__table__.delete().where(Balance.__table__.c.account_id == b))
    before = fingerprint(engine)
    with pytest.raises(BalanceRecordMissing):
        accounts.transfer(session, actor_id=alice, from_account_id=a, to_account_id=b, amount=10)
    assert fingerprint(engine) == before


def test_ledger_rows_are_append_only_records(session, make_player):
    alice, a = make_player()
    _, b = make_player()
    for cents in (1, 2, 3):
        accounts.transfer(session, actor_id=alice, from_account_id=a, to_account_id=b, amount=cents)
    count = session.execute(select(func.count()).select_from(LedgerEntry)).scalar_one()
    assert count == 2 + 3  # two initial deposits, three transfers
    amounts = session.execute(select(LedgerEntry.amount).order_by(LedgerEntry.id)).scalars().all()
    assert amounts == [1_000_000, 1_000_000, 1, 2, 3]
