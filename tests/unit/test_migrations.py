"""Migrations build exactly the models' schema, and go down and up again."""

from __future__ import annotations

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
    insert = text("INSERT INTO users (username, display_name, password_hash, role, created_at) "
                  "VALUES (:u, :u, 'x', 'player', CURRENT_TIMESTAMP)")
    with engine.begin() as conn:
        conn.execute(insert, {"u": "alice"})
    with pytest.raises(IntegrityError):
        with engine.begin() as conn:
            conn.execute(insert, {"u": "ALICE"})


def test_public_companies_get_their_price_curve(db_url, engine):
    """0007 gives every public company the curve base that puts today's price at today's float."""
    migrate.downgrade(db_url, "0005")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO users (id, username, display_name, password_hash, role, created_at) "
                          "VALUES (1, 'founder', 'founder', 'x', 'player', CURRENT_TIMESTAMP)"))
        for cid, public, treasury, price in ((1, True, 990_000, 600_480), (2, True, 1_000_000, 10_000),
                                             (3, False, 0, 0)):
            conn.execute(text(
                "INSERT INTO companies (id, owner_id, name, ticker, description, tags, created_at, is_public, "
                "total_shares, treasury_shares, share_price_micros, ipo_price_micros) VALUES (:id, 1, :name, :name, "
                "'', '', CURRENT_TIMESTAMP, :public, :total, :treasury, :price, :price)"),
                dict(id=cid, name=f"C{cid}", public=public, total=1_000_000 if public else 0, treasury=treasury,
                     price=price))
    migrate.upgrade(db_url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, base_price_micros, share_price_micros FROM companies ORDER BY id")).all()
    assert [tuple(r) for r in rows] == [(1, 600_000, 600_480), (2, 10_000, 10_000), (3, 0, 0)]
