"""Marketplace demand: operator settings, the hold for new listings, momentum, BIGINT batch counts.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('marketplace_settings',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('budget_min_cents', sa.BigInteger(), nullable=True),
    sa.Column('budget_max_cents', sa.BigInteger(), nullable=True),
    sa.Column('interval_seconds', sa.Integer(), nullable=True),
    sa.Column('company_cap_percent', sa.Integer(), nullable=True),
    sa.Column('listing_limit', sa.Integer(), nullable=True),
    sa.Column('hold_seconds', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=True),
    sa.Column('updated_by', sa.String(length=40), nullable=True),
    sa.Column('typical_price_cents', sa.BigInteger(), nullable=True),
    sa.Column('typical_price_at', sa.DateTime(), nullable=True),
    sa.CheckConstraint('id = 1', name='ck_marketplace_settings_one_row'),
    sa.PrimaryKeyConstraint('id')
    )
    # Products already on sale count as listed when they were created: no hold for them.
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.add_column(sa.Column('listed_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('momentum', sa.Float(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('momentum_at', sa.DateTime(), nullable=True))
    op.execute("UPDATE products SET listed_at = created_at")
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.alter_column('listed_at', existing_type=sa.DateTime(), nullable=False)
    # A batch's unit count can pass 2^31 (a $50M budget of 1-cent goods). SQLite's INTEGER is 64-bit already.
    if op.get_bind().dialect.name == 'postgresql':
        for table in ('ledger', 'ledger_archive'):
            op.alter_column(table, 'batch_count', existing_type=sa.Integer(), type_=sa.BigInteger(),
                            existing_nullable=True)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        for table in ('ledger', 'ledger_archive'):
            op.alter_column(table, 'batch_count', existing_type=sa.BigInteger(), type_=sa.Integer(),
                            existing_nullable=True)
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.drop_column('momentum_at')
        batch_op.drop_column('momentum')
        batch_op.drop_column('listed_at')
    op.drop_table('marketplace_settings')
