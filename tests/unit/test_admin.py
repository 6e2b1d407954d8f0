"""Recalculate, sync and reconcile: drift injected in SQL is found and repaired."""

from __future__ import annotations

from sqlalchemy import update

from economy_app.models import Account, Balance
from economy_app.services import accounts, reconciliation
from tests.support.db import check_invariants, fingerprint

A, B = Account.__table__, Balance.__table__


def _corrupt(engine, *, primary=None, cache=None, drop=None):
    with engine.begin() as conn:
        if primary:
            conn.execute(update(B).where(B.c.account_id == primary[0]).values(balance=primary[1]))
        if cache:
            conn.execute(update(A).where(A.c.id == cache[0]).values(balance=cache[1]))
        if drop:
            conn.execute(B.delete().where(B.c.account_id == drop))


def test_reconcile_clean_economy(session, make_player):
    for _ in range(3):
        make_player()
    assert reconciliation.reconcile(session) == []


def test_reconcile_reports_exactly_the_drifted_accounts_and_changes_nothing(session, engine, make_player):
    ids = [make_player()[1] for _ in range(5)]
    _corrupt(engine, primary=(ids[0], 1), cache=(ids[1], 2), drop=ids[2])
    before = fingerprint(engine)
    drifts = reconciliation.reconcile(session)
    assert fingerprint(engine) == before
    by_id = {d.account_id: d for d in drifts}
    assert set(by_id) == {ids[0], ids[1], ids[2]}
    assert (by_id[ids[0]].balances_value, by_id[ids[0]].cached_value, by_id[ids[0]].ledger_value) == (
        1,
        1_000_000,
        1_000_000,
    )
    assert (by_id[ids[1]].balances_value, by_id[ids[1]].cached_value) == (1_000_000, 2)
    assert by_id[ids[2]].balances_value is None and by_id[ids[2]].ledger_value == 1_000_000
    assert all(d.drifted for d in drifts)


def test_recalculate_one_account_from_the_ledger(session, engine, make_player):
    _, a = make_player()
    _corrupt(engine, primary=(a, 5), cache=(a, 6))
    result = reconciliation.recalculate_balance(session, a)
    assert (result.before.balances_value, result.before.cached_value) == (5, 6)
    assert (result.after.balances_value, result.after.cached_value, result.after.ledger_value) == (
        1_000_000,
        1_000_000,
        1_000_000,
    )
    assert result.changed and reconciliation.reconcile(session) == []
    check_invariants(engine)


def test_recalculate_recreates_a_missing_balances_row(session, engine, make_player):
    _, a = make_player()
    _corrupt(engine, drop=a)
    result = reconciliation.recalculate_balance(session, a)
    assert result.before.balances_value is None and result.after.balances_value == 1_000_000
    check_invariants(engine)


def test_sync_from_cache_copies_the_cache_and_creates_missing_rows(session, engine, make_player):
    _, a = make_player()
    _, b = make_player()
    _corrupt(engine, primary=(a, 42), drop=b)
    ra = reconciliation.sync_balance_from_account(session, a)
    rb = reconciliation.sync_balance_from_account(session, b)
    assert (ra.before.balances_value, ra.after.balances_value) == (42, 1_000_000)
    assert (rb.before.balances_value, rb.after.balances_value) == (None, 1_000_000)
    assert reconciliation.reconcile(session) == []


def test_recalculate_all_and_sync_all_are_set_based_repairs(session, engine, make_player):
    ids = [make_player()[1] for _ in range(6)]
    # The cache is right for ids[0] (only the primary drifted), wrong for ids[1].
    _corrupt(engine, primary=(ids[0], 1), cache=(ids[1], 2), drop=ids[2])
    synced = reconciliation.sync_all_balances(session)
    assert synced.changed == 3  # ids[0] fixed from the cache, ids[1] copied wrong, ids[2] recreated
    assert {d.account_id for d in reconciliation.reconcile(session)} == {ids[1]}
    result = reconciliation.recalculate_all_balances(session)
    assert result.changed == 1 and result.accounts == 7  # six players and the mint
    assert reconciliation.reconcile(session) == []
    check_invariants(engine)
    assert reconciliation.recalculate_all_balances(session).changed == 0


def test_recalculate_all_counts_the_mint(session, engine, make_player):
    make_player()
    system = accounts.find_system_account_id(session)
    _corrupt(engine, primary=(system, 0), cache=(system, 0))
    assert {d.account_id for d in reconciliation.reconcile(session)} == {system}
    reconciliation.recalculate_all_balances(session)
    assert accounts.get_balance(session, system) == -1_000_000
    check_invariants(engine)
