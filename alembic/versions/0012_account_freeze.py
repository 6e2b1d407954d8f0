"""Moderation: an admin may freeze an account (every posting from it is refused until it is unfrozen).

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-01

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN on both databases (nullable, no default): SQLite does not rebuild the table.
    op.add_column('accounts', sa.Column('frozen_at', sa.DateTime(), nullable=True))
    op.add_column('accounts', sa.Column('frozen_reason', sa.String(length=200), nullable=True))
    op.add_column('accounts', sa.Column('frozen_by', sa.String(length=40), nullable=True))


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35+): the accounts table, its indexes and the keys that point at it stay.
    op.drop_column('accounts', 'frozen_by')
    op.drop_column('accounts', 'frozen_reason')
    op.drop_column('accounts', 'frozen_at')
