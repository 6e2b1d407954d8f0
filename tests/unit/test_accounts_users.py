"""Users, personal accounts, the mint and balance reads."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import func, select

from economy_app.models import Account, Balance, LedgerEntry
from economy_app.services import accounts, users
from economy_app.services.errors import AccountNotFound, InvalidInput, UsernameTaken, UserNotFound
from tests.support.db import check_invariants, fingerprint


def test_create_user_hashes_password_and_authenticates(session):
    user = users.create_user(session, "Alice_1", "correct horse", display_name="Alice")
    assert user.id and user.role == "player" and user.display_name == "Alice"
    assert "correct horse" not in user.password_hash and user.password_hash.startswith("$argon2")
    assert users.authenticate(session, "alice_1", "correct horse").id == user.id  # any case
    assert users.authenticate(session, "Alice_1", "wrong password") is None
    assert users.authenticate(session, "nobody", "correct horse") is None


@pytest.mark.parametrize("username", ["ab", "a" * 31, "has space", "émile", "semi;colon", ""])
def test_bad_usernames_refused(session, engine, username):
    before = fingerprint(engine)
    with pytest.raises(InvalidInput):
        users.create_user(session, username, "correct horse")
    assert fingerprint(engine) == before


def test_short_password_refused(session, engine):
    before = fingerprint(engine)
    with pytest.raises(InvalidInput):
        users.create_user(session, "alice", "short")
    assert fingerprint(engine) == before


def test_usernames_unique_whatever_the_case(session, engine):
    users.create_user(session, "Alice", "correct horse")
    before = fingerprint(engine)
    with pytest.raises(UsernameTaken):
        users.create_user(session, "aLICE", "correct horse")
    assert fingerprint(engine) == before


def test_initialize_account_funds_once(session, engine):
    user = users.create_user(session, "alice", "correct horse")
    account = accounts.initialize_account(session, user.id)
    assert account.kind == "personal" and account.owner_id == user.id and account.name == "alice"
    assert accounts.get_balance(session, account.id) == 1_000_000
    snapshot = fingerprint(engine)
    again = accounts.initialize_account(session, user.id)
    assert again.id == account.id
    assert fingerprint(engine) == snapshot  # moved nothing
    deposits = session.execute(
        select(func.count()).select_from(LedgerEntry).where(LedgerEntry.type == "initial_deposit")
    ).scalar_one()
    assert deposits == 1
    check_invariants(engine)


def test_initialize_account_for_missing_user(session, engine):
    before = fingerprint(engine)
    with pytest.raises(UserNotFound):
        accounts.initialize_account(session, 424242)
    assert fingerprint(engine) == before


def test_system_account_created_on_first_use_and_unique(session):
    assert accounts.find_system_account_id(session) is None
    first = accounts.system_account_id(session)
    assert accounts.system_account_id(session) == first
    system = session.get(Account, first)
    assert system.kind == "system" and system.owner_id is None
    assert session.execute(select(func.count()).select_from(Account).where(Account.kind == "system")).scalar_one() == 1


def test_get_balance_reads_balances_and_falls_back_to_cache(session, engine, caplog):
    user = users.create_user(session, "alice", "correct horse")
    account = accounts.initialize_account(session, user.id)
    with engine.begin() as conn:  # the primary copy says something else: it wins
        conn.execute(Balance.__table__.update().where(Balance.__table__.c.account_id == account.id).values(balance=7))
    assert accounts.get_balance(session, account.id) == 7
    with engine.begin() as conn:  # the primary copy is gone: the cache answers, with a warning
        conn.execute(Balance.__table__.delete().where(Balance.__table__.c.account_id == account.id))
    with caplog.at_level(logging.WARNING):
        assert accounts.get_balance(session, account.id) == 1_000_000
    assert "balances row missing" in caplog.text
    assert [v.balance_from_cache for v in accounts.list_accounts(session, user.id)] == [True]
    with pytest.raises(AccountNotFound):
        accounts.get_balance(session, 9999)


def test_list_accounts_only_the_players_own(session):
    a = users.create_user(session, "alice", "correct horse")
    b = users.create_user(session, "bob", "correct horse")
    accounts.initialize_account(session, a.id)
    accounts.initialize_account(session, b.id)
    views = accounts.list_accounts(session, a.id)
    assert [v.name for v in views] == ["alice"] and views[0].balance == 1_000_000


def test_set_role(session):
    users.create_user(session, "alice", "correct horse")
    assert users.set_role(session, "ALICE", "admin").role == "admin"
    with pytest.raises(UserNotFound):
        users.set_role(session, "nobody", "admin")
    with pytest.raises(InvalidInput):
        users.set_role(session, "alice", "king")
