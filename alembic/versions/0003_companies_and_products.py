"""Companies (with their account and going-public fields) and products.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('companies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=50), nullable=False),
    sa.Column('ticker', sa.String(length=5), nullable=False),
    sa.Column('description', sa.String(length=500), server_default='', nullable=False),
    sa.Column('tags', sa.String(length=200), server_default='', nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('is_public', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('public_at', sa.DateTime(), nullable=True),
    sa.Column('total_shares', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('treasury_shares', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('share_price_micros', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('ipo_price_micros', sa.BigInteger(), server_default='0', nullable=False),
    sa.CheckConstraint('total_shares >= 0 AND treasury_shares >= 0 AND treasury_shares <= total_shares', name='ck_companies_shares'),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('account_id'),
    sa.UniqueConstraint('ticker')
    )
    with op.batch_alter_table('companies', schema=None) as batch_op:
        batch_op.create_index('ix_companies_owner', ['owner_id'], unique=False)
    op.create_index('ix_companies_name_lower', 'companies', [sa.text('lower(name)')], unique=False)

    op.create_table('products',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('description', sa.String(length=500), server_default='', nullable=False),
    sa.Column('price_cents', sa.BigInteger(), nullable=False),
    sa.Column('cost_percent', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('units_sold', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('revenue_cents', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('costs_cents', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint('cost_percent BETWEEN 1 AND 99', name='ck_products_cost_percent'),
    sa.CheckConstraint('price_cents > 0', name='ck_products_price_positive'),
    sa.ForeignKeyConstraint(['company_id'], ['companies.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.create_index('ix_products_active_price', ['active', 'price_cents'], unique=False)
        batch_op.create_index('ix_products_active_sold', ['active', 'units_sold'], unique=False)
        batch_op.create_index('ix_products_company', ['company_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.drop_index('ix_products_company')
        batch_op.drop_index('ix_products_active_sold')
        batch_op.drop_index('ix_products_active_price')

    op.drop_table('products')
    op.drop_index('ix_companies_name_lower', table_name='companies')
    with op.batch_alter_table('companies', schema=None) as batch_op:
        batch_op.drop_index('ix_companies_owner')

    op.drop_table('companies')
