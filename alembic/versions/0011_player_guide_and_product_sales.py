"""The dashboard's "How to play" (hidden per player), and what each marketplace run sold of each product.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD/DROP COLUMN (SQLite has both): a batch rebuild of users would drop its expression index
    # (ux_users_username_lower), which reflection cannot see.
    op.add_column('users', sa.Column('guide_hidden_at', sa.DateTime(), nullable=True))
    op.create_table('product_sales',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('ledger_id', sa.BigInteger(), nullable=False),
    sa.Column('costs_ledger_id', sa.BigInteger(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('units', sa.BigInteger(), nullable=False),
    sa.Column('price_cents', sa.BigInteger(), nullable=False),
    sa.Column('revenue_cents', sa.BigInteger(), nullable=False),
    sa.Column('costs_cents', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sqlite_autoincrement=True,
    )
    op.create_index('ix_product_sales_ledger', 'product_sales', ['ledger_id'], unique=False)
    op.create_index('ix_product_sales_costs_ledger', 'product_sales', ['costs_ledger_id'], unique=False)
    op.create_index('ix_product_sales_time', 'product_sales', ['created_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_product_sales_time', table_name='product_sales')
    op.drop_index('ix_product_sales_costs_ledger', table_name='product_sales')
    op.drop_index('ix_product_sales_ledger', table_name='product_sales')
    op.drop_table('product_sales')
    op.drop_column('users', 'guide_hidden_at')
