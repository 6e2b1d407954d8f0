"""Operations: admin audit log, reconciliation reports, job switches, ledger checkpoints and archive.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('job_settings',
    sa.Column('job_name', sa.String(length=50), nullable=False),
    sa.Column('paused', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('job_name')
    )
    op.create_table('ledger_archive',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('from_account_id', sa.Integer(), nullable=False),
    sa.Column('to_account_id', sa.Integer(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('type', sa.String(length=20), nullable=False),
    sa.Column('description', sa.String(length=500), nullable=True),
    sa.Column('batch_count', sa.Integer(), nullable=True),
    sa.Column('product_id', sa.Integer(), nullable=True),
    sa.Column('idempotency_key', sa.String(length=100), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('archived_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('ledger_archive', schema=None) as batch_op:
        batch_op.create_index('ix_ledger_archive_time', ['created_at'], unique=False)

    op.create_table('reconciliation_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('accounts_checked', sa.Integer(), nullable=False),
    sa.Column('drifts_found', sa.Integer(), nullable=False),
    sa.Column('repaired', sa.Integer(), server_default='0', nullable=False),
    sa.Column('duration_ms', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('details', sa.String(length=4000), server_default='', nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('reconciliation_reports', schema=None) as batch_op:
        batch_op.create_index('ix_reconciliation_reports_time', ['created_at'], unique=False)

    op.create_table('admin_audit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('admin_id', sa.Integer(), nullable=True),
    sa.Column('admin_name', sa.String(length=40), nullable=False),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('target', sa.String(length=100), server_default='', nullable=False),
    sa.Column('result', sa.String(length=500), server_default='', nullable=False),
    sa.Column('ok', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['admin_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('admin_audit', schema=None) as batch_op:
        batch_op.create_index('ix_admin_audit_time', ['created_at'], unique=False)

    op.create_table('ledger_checkpoints',
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('balance', sa.BigInteger(), nullable=False),
    sa.Column('entries', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('as_of', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ),
    sa.PrimaryKeyConstraint('account_id')
    )


def downgrade() -> None:
    op.drop_table('ledger_checkpoints')
    with op.batch_alter_table('admin_audit', schema=None) as batch_op:
        batch_op.drop_index('ix_admin_audit_time')

    op.drop_table('admin_audit')
    with op.batch_alter_table('reconciliation_reports', schema=None) as batch_op:
        batch_op.drop_index('ix_reconciliation_reports_time')

    op.drop_table('reconciliation_reports')
    with op.batch_alter_table('ledger_archive', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_archive_time')

    op.drop_table('ledger_archive')
    op.drop_table('job_settings')
