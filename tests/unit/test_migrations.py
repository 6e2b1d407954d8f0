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
