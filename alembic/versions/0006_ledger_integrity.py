"""Ledger integrity: ids never reused, archive files recorded, archived idempotency keys indexed.

- SQLite: ``ledger``, ``balance_history``, ``stock_prices``, ``stock_trades``, ``admin_audit`` and ``job_runs``
  are rebuilt with AUTOINCREMENT (a batch copy keeps every row), so an id is never handed out twice, even
  after the newest rows were archived or purged. ``sqlite_sequence`` for ``ledger`` starts at least at the
  highest id of ``ledger`` *and* of ``ledger_archive``. (PostgreSQL's sequences already never go back.)
- ``ledger_archive_files``: each archive file's name, SHA-256 and entry count, written with the archive.
- ``ledger_archive.file_id`` (the file an entry was written to; NULL for entries archived before this),
  and a unique index on ``ledger_archive.idempotency_key`` where it is not null (post() looks keys up there).
- ``reconciliation_reports.archive_problems``.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22

"""
import warnings
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEVER_REUSED = ('ledger', 'balance_history', 'stock_prices', 'stock_trades', 'admin_audit', 'job_runs')
KEY_WHERE = sa.text('idempotency_key IS NOT NULL')


def _sqlite() -> bool:
    return op.get_bind().dialect.name == 'sqlite'


def _rebuild(autoincrement: bool) -> None:
    """Rebuild each table (reflected: columns, checks, keys and indexes kept) with or without AUTOINCREMENT.
    The batch copy inserts every row with its id, which moves sqlite_sequence up to the highest one."""
    with warnings.catch_warnings():  # reflecting the tables they reference (users, companies) says this
        warnings.filterwarnings('ignore', message='Skipped unsupported reflection of expression-based index')
        for table in NEVER_REUSED:
            with op.batch_alter_table(table, recreate='always',
                                      table_kwargs={'sqlite_autoincrement': autoincrement}):
                pass


def upgrade() -> None:
    if _sqlite():
        _rebuild(True)
        # An archived id is taken too: start the ledger's sequence above the archive's highest id as well.
        op.execute("DELETE FROM sqlite_sequence WHERE name = 'ledger'")
        op.execute("INSERT INTO sqlite_sequence (name, seq) SELECT 'ledger', "
                   "MAX(COALESCE((SELECT MAX(id) FROM ledger), 0), COALESCE((SELECT MAX(id) FROM ledger_archive), 0))")
    else:
        # Sequences never go back, but make sure the ledger's is not behind an archived id either.
        op.execute("SELECT setval(pg_get_serial_sequence('ledger', 'id'), top) FROM ("
                   "SELECT GREATEST((SELECT MAX(id) FROM ledger), (SELECT MAX(id) FROM ledger_archive)) AS top) t "
                   "WHERE top > COALESCE(pg_sequence_last_value(pg_get_serial_sequence('ledger', 'id')::regclass), 0)")

    op.create_table('ledger_archive_files',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('path', sa.String(length=1000), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('entries', sa.BigInteger(), nullable=False),
    sa.Column('first_id', sa.BigInteger(), nullable=True),
    sa.Column('last_id', sa.BigInteger(), nullable=True),
    sa.Column('before', sa.DateTime(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('restored_entries', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('restored_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name'),
    sqlite_autoincrement=True,
    )
    with op.batch_alter_table('ledger_archive_files', schema=None) as batch_op:
        batch_op.create_index('ix_ledger_archive_files_sha256', ['sha256'], unique=False)

    op.add_column('ledger_archive', sa.Column('file_id', sa.Integer(), nullable=True))
    op.create_index('ix_ledger_archive_file', 'ledger_archive', ['file_id'], unique=False)
    op.create_index('ux_ledger_archive_idempotency_key', 'ledger_archive', ['idempotency_key'], unique=True,
                    sqlite_where=KEY_WHERE, postgresql_where=KEY_WHERE)
    op.add_column('reconciliation_reports',
                  sa.Column('archive_problems', sa.Integer(), server_default='0', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('reconciliation_reports', schema=None) as batch_op:
        batch_op.drop_column('archive_problems')
    op.drop_index('ux_ledger_archive_idempotency_key', table_name='ledger_archive',
                  sqlite_where=KEY_WHERE, postgresql_where=KEY_WHERE)
    op.drop_index('ix_ledger_archive_file', table_name='ledger_archive')
    with op.batch_alter_table('ledger_archive', schema=None) as batch_op:
        batch_op.drop_column('file_id')
    with op.batch_alter_table('ledger_archive_files', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_archive_files_sha256')
    op.drop_table('ledger_archive_files')
    if _sqlite():
        _rebuild(False)
