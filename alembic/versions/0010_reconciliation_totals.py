"""Reconciliation reports: the sum of every balance and of every cached balance (both must be 0).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('reconciliation_reports') as batch_op:
        batch_op.add_column(sa.Column('balances_total', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('cache_total', sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('reconciliation_reports') as batch_op:
        batch_op.drop_column('cache_total')
        batch_op.drop_column('balances_total')
