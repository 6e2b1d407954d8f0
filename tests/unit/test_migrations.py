"""Migrations build exactly the models' schema, and go down and up again."""

from __future__ import annotations

from datetime import datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel

from economy_app import migrate
from economy_app.db import make_engine


def test_schema_matches_models(engine):
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diff == []


def test_downgrade_and_upgrade_again(db_url, engine):
    migrate.downgrade(db_url, "base")
    assert set(inspect(make_engine(db_url)).get_table_names()) <= {"alembic_version"}
    migrate.upgrade(db_url)
    tables = set(inspect(make_engine(db_url)).get_table_names())
    assert {"users", "accounts", "balances", "ledger", "balance_history", "job_runs"} <= tables


@pytest.mark.parametrize("index", ["ix_ledger_from_account", "ix_ledger_to_account", "ix_ledger_type"])
def test_history_indexes_exist(engine, index):
    assert index in {ix["name"] for ix in inspect(engine).get_indexes("ledger")}


def test_username_index_is_case_insensitive_even_for_raw_inserts(engine):
    """The database itself refuses 'Alice' beside 'alice' (a race between two sign-ups can't slip past)."""
    insert = text(
        "INSERT INTO users (username, display_name, password_hash, role, created_at) "
        "VALUES (:u, :u, 'x', 'player', CURRENT_TIMESTAMP)"
    )
    with engine.begin() as conn:
        conn.execute(insert, {"u": "alice"})
    with pytest.raises(IntegrityError):
        with engine.begin() as conn:
            conn.execute(insert, {"u": "ALICE"})


def test_0006_keeps_every_row_and_never_hands_out_an_archived_id(db_url, engine):
    """Upgrading a database that archived its newest entries: rows kept, and the next ledger id is above
    every id in the ledger *and* the archive (SQLite: AUTOINCREMENT with sqlite_sequence set; PostgreSQL:
    the sequence moved up if it was behind)."""
    from sqlalchemy import select

    from economy_app.models import LedgerEntry

    migrate.downgrade(db_url, "0005")
    now = "2026-01-01 00:00:00"
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO users (id, username, display_name, password_hash, role, created_at) "
                "VALUES (1, 'alice', 'alice', 'x', 'player', :now)"
            ),
            {"now": now},
        )
        for account in (1, 2):
            conn.execute(
                text(
                    "INSERT INTO accounts (id, name, kind, owner_id, balance, created_at) "
                    "VALUES (:id, :name, 'company', 1, 0, :now)"
                ),
                {"id": account, "name": f"a{account}", "now": now},
            )
        for entry in (1, 2, 3):
            conn.execute(
                text(
                    "INSERT INTO ledger (id, from_account_id, to_account_id, amount, type, created_at) "
                    "VALUES (:id, 1, 2, :amount, 'transfer', :now)"
                ),
                {"id": entry, "amount": entry, "now": now},
            )
        for entry in (4, 5, 6):  # the newest entries were archived
            conn.execute(
                text(
                    "INSERT INTO ledger_archive (id, from_account_id, to_account_id, amount, type, "
                    "idempotency_key, created_at, archived_at) VALUES (:id, 1, 2, 1, 'transfer', :key, "
                    ":now, :now)"
                ),
                {"id": entry, "key": f"k{entry}", "now": now},
            )
    engine.dispose()
    migrate.upgrade(db_url)
    with engine.begin() as conn:
        kept = conn.execute(text("SELECT id, amount FROM ledger ORDER BY id")).all()
        archived = conn.execute(text("SELECT id, file_id FROM ledger_archive ORDER BY id")).all()
        new_id = conn.execute(
            LedgerEntry.__table__.insert()
            .values(from_account_id=2, to_account_id=1, amount=9, type="transfer", created_at=datetime(2026, 1, 2))
            .returning(LedgerEntry.__table__.c.id)
        ).scalar_one()
        assert conn.execute(
            select(LedgerEntry.__table__.c.id).order_by(LedgerEntry.__table__.c.id)
        ).scalars().all() == [1, 2, 3, new_id]
    assert [tuple(r) for r in kept] == [(1, 1), (2, 2), (3, 3)]
    assert [tuple(r) for r in archived] == [(4, None), (5, None), (6, None)]
    assert new_id == 7
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            for table in (
                "ledger",
                "balance_history",
                "stock_prices",
                "stock_trades",
                "admin_audit",
                "job_runs",
                "ledger_archive_files",
            ):
                sql = conn.execute(text("SELECT sql FROM sqlite_master WHERE name = :t"), {"t": table}).scalar_one()
                assert "AUTOINCREMENT" in sql, table
            ledger_sql = conn.execute(text("SELECT sql FROM sqlite_master WHERE name = 'ledger'")).scalar_one()
            assert "ck_ledger_amount_positive" in ledger_sql and "UNIQUE (idempotency_key)" in ledger_sql
    with pytest.raises(IntegrityError):  # the checks came through the rebuild
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO ledger (from_account_id, to_account_id, amount, type, created_at) "
                    "VALUES (1, 2, 0, 'transfer', :now)"
                ),
                {"now": now},
            )


def test_public_companies_get_their_price_curve(db_url, engine):
    """0007 gives every public company the curve base that puts today's price at today's float."""
    migrate.downgrade(db_url, "0005")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO users (id, username, display_name, password_hash, role, created_at) "
                "VALUES (1, 'founder', 'founder', 'x', 'player', CURRENT_TIMESTAMP)"
            )
        )
        for cid, public, treasury, price in (
            (1, True, 990_000, 600_480),
            (2, True, 1_000_000, 10_000),
            (3, False, 0, 0),
        ):
            conn.execute(
                text(
                    "INSERT INTO companies (id, owner_id, name, ticker, description, tags, created_at, is_public, "
                    "total_shares, treasury_shares, share_price_micros, ipo_price_micros) VALUES (:id, 1, :name, :name, "
                    "'', '', CURRENT_TIMESTAMP, :public, :total, :treasury, :price, :price)"
                ),
                dict(
                    id=cid,
                    name=f"C{cid}",
                    public=public,
                    total=1_000_000 if public else 0,
                    treasury=treasury,
                    price=price,
                ),
            )
    migrate.upgrade(db_url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, base_price_micros, share_price_micros FROM companies ORDER BY id")).all()
    assert [tuple(r) for r in rows] == [(1, 600_000, 600_480), (2, 10_000, 10_000), (3, 0, 0)]


def test_0016_gives_the_freezes_already_there_their_scope(db_url, engine):
    """0016 records whose freeze each is: a personal account's is its player's; a company's is its player's when it
    is the freeze its owner's personal account carries (a player freeze writes the same time and reason on every
    account), else the company's own (so unfreezing the player keeps it)."""
    migrate.downgrade(db_url, "0012")
    at, later = "2026-12-01 10:00:00", "2026-12-01 11:00:00"
    with engine.begin() as conn:
        for uid, name in ((1, "alice"), (2, "bob"), (3, "carol")):
            conn.execute(
                text(
                    "INSERT INTO users (id, username, display_name, password_hash, role, created_at) "
                    "VALUES (:id, :name, :name, 'x', 'player', :at)"
                ),
                {"id": uid, "name": name, "at": at},
            )
        for aid, kind, owner, frozen_at, reason in (
            (1, "personal", 1, at, "Spam"),  # alice frozen, with her company
            (2, "company", 1, at, "Spam"),
            (3, "company", 1, later, "Laundering"),  # and another company frozen on its own
            (4, "personal", 2, None, None),  # bob: only his company frozen
            (5, "company", 2, at, "Spam"),
            (6, "personal", 3, None, None),  # carol: nothing frozen
        ):
            conn.execute(
                text(
                    "INSERT INTO accounts (id, name, kind, owner_id, balance, created_at, frozen_at, frozen_reason) "
                    "VALUES (:id, :name, :kind, :owner, 0, :at, :frozen_at, :reason)"
                ),
                dict(id=aid, name=f"a{aid}", kind=kind, owner=owner, at=at, frozen_at=frozen_at, reason=reason),
            )
    migrate.upgrade(db_url)
    with engine.connect() as conn:
        scopes = dict(conn.execute(text("SELECT id, frozen_scope FROM accounts WHERE id <= 6")).all())
    assert scopes == {1: "player", 2: "player", 3: "company", 4: None, 5: "company", 6: None}
