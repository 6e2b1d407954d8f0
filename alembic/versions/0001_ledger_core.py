"""Ledger core: users, accounts, balances, ledger, balance_history, job_runs.

Revision ID: 0001
Revises: 
Create Date: 2026-11-21

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('job_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job_name', sa.String(length=50), nullable=False),
    sa.Column('slot', sa.String(length=40), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('summary', sa.String(length=2000), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('job_name', 'slot', name='uq_job_runs_job_slot')
    )
    with op.batch_alter_table('job_runs', schema=None) as batch_op:
        batch_op.create_index('ix_job_runs_job_started', ['job_name', 'started_at'], unique=False)

    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=30), nullable=False),
    sa.Column('display_name', sa.String(length=60), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('role', sa.String(length=10), server_default='player', nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("role IN ('player', 'admin')", name='ck_users_role'),
    sa.PrimaryKeyConstraint('id')
    )
    # Usernames are unique whatever their case.
    op.create_index('ux_users_username_lower', 'users', [sa.text('lower(username)')], unique=True)
    op.create_table('accounts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('company_id', sa.Integer(), nullable=True),
    sa.Column('balance', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("kind IN ('personal', 'company', 'system')", name='ck_accounts_kind'),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.create_index('ix_accounts_company_id', ['company_id'], unique=False)
        batch_op.create_index('ix_accounts_owner_id', ['owner_id'], unique=False)
        batch_op.create_index('ux_accounts_personal_owner', ['owner_id'], unique=True, sqlite_where=sa.text("kind = 'personal'"), postgresql_where=sa.text("kind = 'personal'"))
        batch_op.create_index('ux_accounts_system', ['kind'], unique=True, sqlite_where=sa.text("kind = 'system'"), postgresql_where=sa.text("kind = 'system'"))

    op.create_table('balance_history',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('ledger_id', sa.BigInteger(), nullable=False),
    sa.Column('change', sa.BigInteger(), nullable=False),
    sa.Column('balance_after', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('balance_history', schema=None) as batch_op:
        batch_op.create_index('ix_balance_history_account_time', ['account_id', 'created_at', 'id'], unique=False)
        batch_op.create_index('ix_balance_history_ledger', ['ledger_id'], unique=False)

    op.create_table('balances',
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('balance', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('last_updated', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ),
    sa.PrimaryKeyConstraint('account_id')
    )
    op.create_table('ledger',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('from_account_id', sa.Integer(), nullable=False),
    sa.Column('to_account_id', sa.Integer(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('type', sa.String(length=20), nullable=False),
    sa.Column('description', sa.String(length=500), nullable=True),
    sa.Column('batch_count', sa.Integer(), nullable=True),
    sa.Column('product_id', sa.Integer(), nullable=True),
    sa.Column('idempotency_key', sa.String(length=100), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("type IN ('initial_deposit', 'transfer', 'stock_purchase', 'stock_sale', 'product_purchase', 'product_cost', 'marketplace_batch', 'adjustment')", name='ck_ledger_type'),
    sa.CheckConstraint('amount > 0', name='ck_ledger_amount_positive'),
    sa.CheckConstraint('batch_count IS NULL OR batch_count > 0', name='ck_ledger_batch_count'),
    sa.CheckConstraint('from_account_id <> to_account_id', name='ck_ledger_distinct_accounts'),
    sa.ForeignKeyConstraint(['from_account_id'], ['accounts.id'], ),
    sa.ForeignKeyConstraint(['to_account_id'], ['accounts.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('idempotency_key')
    )
    with op.batch_alter_table('ledger', schema=None) as batch_op:
        batch_op.create_index('ix_ledger_created_at', ['created_at'], unique=False)
        batch_op.create_index('ix_ledger_from_account', ['from_account_id', 'created_at', 'id', 'amount'], unique=False)
        batch_op.create_index('ix_ledger_to_account', ['to_account_id', 'created_at', 'id', 'amount'], unique=False)
        batch_op.create_index('ix_ledger_type', ['type', 'id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('ledger', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_type')
        batch_op.drop_index('ix_ledger_to_account')
        batch_op.drop_index('ix_ledger_from_account')
        batch_op.drop_index('ix_ledger_created_at')

    op.drop_table('ledger')
    op.drop_table('balances')
    with op.batch_alter_table('balance_history', schema=None) as batch_op:
        batch_op.drop_index('ix_balance_history_ledger')
        batch_op.drop_index('ix_balance_history_account_time')

    op.drop_table('balance_history')
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_index('ux_accounts_system', sqlite_where=sa.text("kind = 'system'"), postgresql_where=sa.text("kind = 'system'"))
        batch_op.drop_index('ux_accounts_personal_owner', sqlite_where=sa.text("kind = 'personal'"), postgresql_where=sa.text("kind = 'personal'"))
        batch_op.drop_index('ix_accounts_owner_id')
        batch_op.drop_index('ix_accounts_company_id')

    op.drop_table('accounts')
    op.drop_index('ux_users_username_lower', table_name='users')
    op.drop_table('users')
    with op.batch_alter_table('job_runs', schema=None) as batch_op:
        batch_op.drop_index('ix_job_runs_job_started')

    op.drop_table('job_runs')
