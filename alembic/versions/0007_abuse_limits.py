"""Abuse limits and the price curve: ``rate_limits`` (failed logins per username and client address and
per client address, sign-ups per client address) replaces ``login_throttle``; ``companies.base_price_micros``
holds the base of each public company's price curve.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# services.stocks: price = base x (100 N + 8 x) / (100 N) with x shares outside the treasury, base >= $0.01.
_BASE_FROM_PRICE = """
UPDATE companies SET base_price_micros = CASE
    WHEN share_price_micros * 100 * total_shares / (100 * total_shares + 8 * (total_shares - treasury_shares)) < 10000
    THEN 10000
    ELSE share_price_micros * 100 * total_shares / (100 * total_shares + 8 * (total_shares - treasury_shares))
END
WHERE is_public AND total_shares > 0
"""
_PRICE_FROM_BASE = """
UPDATE companies SET share_price_micros =
    base_price_micros * (100 * total_shares + 8 * (total_shares - treasury_shares)) / (100 * total_shares)
WHERE is_public AND total_shares > 0
"""


def upgrade() -> None:
    op.create_table('rate_limits',
    sa.Column('key', sa.String(length=120), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('first_at', sa.DateTime(), nullable=False),
    sa.Column('last_at', sa.DateTime(), nullable=False),
    sa.Column('blocked_until', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('key')
    )
    op.drop_table('login_throttle')  # failure counters only: nothing to carry over
    # A plain ADD COLUMN (SQLite's batch mode would rebuild the table and lose its lower(name) index).
    op.add_column('companies', sa.Column('base_price_micros', sa.BigInteger(), server_default='0', nullable=False))
    # Public companies: the base that gives today's price at today's float, and the price on that curve.
    op.execute(_BASE_FROM_PRICE)
    op.execute(_PRICE_FROM_BASE)


def downgrade() -> None:
    op.drop_column('companies', 'base_price_micros')
    op.create_table('login_throttle',
    sa.Column('username_key', sa.String(length=30), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('last_failure_at', sa.DateTime(), nullable=False),
    sa.Column('blocked_until', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('username_key')
    )
    op.drop_table('rate_limits')
