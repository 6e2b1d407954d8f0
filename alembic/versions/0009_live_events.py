"""Live updates: the SQLite outbox of committed changes (PostgreSQL uses NOTIFY).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('live_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('topics', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sqlite_autoincrement=True,
    )
    op.create_index('ix_live_events_time', 'live_events', ['created_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_live_events_time', table_name='live_events')
    op.drop_table('live_events')
