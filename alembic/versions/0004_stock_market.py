"""Stock market: holdings, trades and price history.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('holdings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('shares', sa.BigInteger(), nullable=False),
    sa.Column('avg_price_micros', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint('shares >= 0', name='ck_holdings_shares'),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ),
    sa.ForeignKeyConstraint(['company_id'], ['companies.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('company_id', 'account_id', name='uq_holdings_company_account')
    )
    with op.batch_alter_table('holdings', schema=None) as batch_op:
        batch_op.create_index('ix_holdings_account', ['account_id'], unique=False)

    op.create_table('stock_prices',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.Column('price_micros', sa.BigInteger(), nullable=False),
    sa.Column('source', sa.String(length=5), nullable=False),
    sa.Column('shares', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['companies.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('stock_prices', schema=None) as batch_op:
        batch_op.create_index('ix_stock_prices_company_time', ['company_id', 'created_at'], unique=False)
        batch_op.create_index('ix_stock_prices_time', ['created_at'], unique=False)

    op.create_table('stock_trades',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=False),
    sa.Column('side', sa.String(length=4), nullable=False),
    sa.Column('shares', sa.BigInteger(), nullable=False),
    sa.Column('price_micros', sa.BigInteger(), nullable=False),
    sa.Column('total_cents', sa.BigInteger(), nullable=False),
    sa.Column('ledger_id', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("side IN ('buy', 'sell')", name='ck_stock_trades_side'),
    sa.CheckConstraint('shares > 0', name='ck_stock_trades_shares'),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['company_id'], ['companies.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('stock_trades', schema=None) as batch_op:
        batch_op.create_index('ix_stock_trades_actor_company_time', ['actor_id', 'company_id', 'created_at'], unique=False)
        batch_op.create_index('ix_stock_trades_company_time', ['company_id', 'created_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('stock_trades', schema=None) as batch_op:
        batch_op.drop_index('ix_stock_trades_company_time')
        batch_op.drop_index('ix_stock_trades_actor_company_time')

    op.drop_table('stock_trades')
    with op.batch_alter_table('stock_prices', schema=None) as batch_op:
        batch_op.drop_index('ix_stock_prices_time')
        batch_op.drop_index('ix_stock_prices_company_time')

    op.drop_table('stock_prices')
    with op.batch_alter_table('holdings', schema=None) as batch_op:
        batch_op.drop_index('ix_holdings_account')

    op.drop_table('holdings')
