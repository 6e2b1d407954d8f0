"""Credit and customers: a floor on every account, loans, players' purchases and their collection.

- ``accounts.floor``: the lowest balance a posting may leave. 0 for every account there is; NULL for the mint
  alone (unlimited); a loan account's is minus what it may owe (services/loans.py). ``ck_accounts_floor``:
  at most 0, and NULL only for the mint.
- ``accounts.kind`` may be ``loan``; ``ledger.type`` may be ``loan_disbursement``, ``loan_interest``,
  ``loan_repayment``, ``loan_default`` or ``loan_writeoff``.
- ``loans`` (at most one open per player: a unique index over the open ones) and ``collection_items``.
- ``products.public_units``: the units the public bought (what "best-selling" ranks), so far every unit sold;
  its index replaces ``ix_products_active_sold``.

SQLite cannot change a table's CHECK constraints in place: ``accounts`` and ``ledger`` are rebuilt (a batch
copy keeps every row and id; ``ledger`` keeps AUTOINCREMENT). ``accounts`` is the parent of most tables, so its
rebuild runs with foreign keys off (SQLite's documented procedure for a table change), and
``PRAGMA foreign_key_check`` must find nothing before they are back on. The ledger's AUTOINCREMENT sequence
is carried over the rebuild (an archived entry's id is never handed out again).

Revision ID: 0013
Revises: 0016
Create Date: 2026-12-01

"""
import warnings
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0013'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS_BEFORE = ('personal', 'company', 'system')
KINDS = (*KINDS_BEFORE, 'loan')
TYPES_BEFORE = ('initial_deposit', 'transfer', 'stock_purchase', 'stock_sale', 'product_purchase', 'product_cost',
                'marketplace_batch', 'adjustment')
TYPES = (*TYPES_BEFORE, 'loan_disbursement', 'loan_interest', 'loan_repayment', 'loan_default', 'loan_writeoff')
OPEN = sa.text("status = 'open'")
# A floor is at most 0, and only the mint may have none (NULL: no floor at all).
FLOOR_CHECK = "(floor IS NOT NULL AND floor <= 0) OR (floor IS NULL AND kind = 'system')"


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _sqlite() -> bool:
    return op.get_bind().dialect.name == 'sqlite'


def _foreign_keys(on: bool) -> None:
    """SQLite: foreign keys off while a parent table is rebuilt, and checked before they are back on. The pragma
    is a no-op inside a transaction, so it goes to the driver's connection between transactions (the app's
    connections begin every transaction themselves: see db.py)."""
    if not _sqlite():
        return
    with op.get_context().autocommit_block():
        raw = op.get_bind().connection.dbapi_connection
        if raw.in_transaction:
            raw.commit()
        if on:
            problems = raw.execute('PRAGMA foreign_key_check').fetchall()
            if problems:
                raise RuntimeError(f'foreign keys broken by the rebuild: {problems[:5]}')
        raw.execute(f"PRAGMA foreign_keys = {'ON' if on else 'OFF'}")
        assert raw.execute('PRAGMA foreign_keys').fetchone()[0] == int(on)


def _checks(kinds: tuple[str, ...], types: tuple[str, ...], *, floor: bool) -> None:
    with warnings.catch_warnings():  # reflecting the tables they reference (users, companies) says this
        warnings.filterwarnings('ignore', message='Skipped unsupported reflection of expression-based index')
        with op.batch_alter_table('accounts') as batch_op:
            if floor:
                batch_op.add_column(sa.Column('floor', sa.BigInteger(), server_default='0', nullable=True))
            else:
                batch_op.drop_constraint('ck_accounts_floor', type_='check')
                batch_op.drop_column('floor')
            batch_op.drop_constraint('ck_accounts_kind', type_='check')
            batch_op.create_check_constraint('ck_accounts_kind', _in('kind', kinds))
            if floor:
                batch_op.create_check_constraint('ck_accounts_floor', FLOOR_CHECK)
        # The rebuilt table's AUTOINCREMENT starts from the highest id it copied: an archived entry's id above
        # it would be handed out again. Its sequence carries on from where it was.
        seq = _ledger_sequence()
        with op.batch_alter_table('ledger', table_kwargs={'sqlite_autoincrement': True}) as batch_op:
            batch_op.drop_constraint('ck_ledger_type', type_='check')
            batch_op.create_check_constraint('ck_ledger_type', _in('type', types))
        if seq is not None:
            op.execute("DELETE FROM sqlite_sequence WHERE name = 'ledger'")
            op.execute(sa.text("INSERT INTO sqlite_sequence (name, seq) SELECT 'ledger', "
                               "MAX(:seq, COALESCE((SELECT MAX(id) FROM ledger), 0))").bindparams(seq=seq))


def _ledger_sequence() -> int | None:
    """SQLite: where the ledger's AUTOINCREMENT stands (None on PostgreSQL, whose sequences are untouched)."""
    if not _sqlite():
        return None
    return op.get_bind().execute(sa.text("SELECT seq FROM sqlite_sequence WHERE name = 'ledger'")).scalar() or 0


def upgrade() -> None:
    _foreign_keys(False)
    _checks(KINDS, TYPES, floor=True)
    _foreign_keys(True)
    op.execute("UPDATE accounts SET floor = NULL WHERE kind = 'system'")  # the mint: no floor

    with op.batch_alter_table('products') as batch_op:
        batch_op.add_column(sa.Column('public_units', sa.BigInteger(), server_default='0', nullable=False))
        batch_op.drop_index('ix_products_active_sold')
    op.execute('UPDATE products SET public_units = units_sold')  # every unit so far was the public's
    op.create_index('ix_products_active_public_units', 'products', ['active', 'public_units'], unique=False)

    op.create_table('loans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('principal_cents', sa.BigInteger(), nullable=False),
    sa.Column('interest_bps', sa.Integer(), nullable=False),
    sa.Column('interest_cents', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('charges', sa.Integer(), server_default='0', nullable=False),
    sa.Column('next_charge_at', sa.DateTime(), nullable=True),
    sa.Column('status', sa.String(length=10), server_default='open', nullable=False),
    sa.Column('taken_at', sa.DateTime(), nullable=False),
    sa.Column('due_at', sa.DateTime(), nullable=False),
    sa.Column('closed_at', sa.DateTime(), nullable=True),
    sa.Column('repaid_cents', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('collected_cents', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('written_off_cents', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('request_key', sa.String(length=100), nullable=False),
    sa.CheckConstraint(_in('status', ('open', 'repaid', 'defaulted')), name='ck_loans_status'),
    sa.CheckConstraint('principal_cents > 0', name='ck_loans_principal'),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('account_id'),
    sa.UniqueConstraint('request_key'),
    sqlite_autoincrement=True,
    )
    op.create_index('ix_loans_user', 'loans', ['user_id', 'id'], unique=False)
    op.create_index('ix_loans_status_next', 'loans', ['status', 'next_charge_at'], unique=False)
    op.create_index('ux_loans_open_user', 'loans', ['user_id'], unique=True,
                    sqlite_where=OPEN, postgresql_where=OPEN)

    op.create_table('collection_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('units', sa.BigInteger(), nullable=False),
    sa.Column('paid_cents', sa.BigInteger(), nullable=False),
    sa.Column('first_at', sa.DateTime(), nullable=False),
    sa.Column('last_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint('units > 0', name='ck_collection_items_units'),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('account_id', 'product_id', name='uq_collection_items_account_product'),
    )


def downgrade() -> None:
    op.drop_table('collection_items')
    op.drop_index('ux_loans_open_user', table_name='loans', sqlite_where=OPEN, postgresql_where=OPEN)
    op.drop_index('ix_loans_status_next', table_name='loans')
    op.drop_index('ix_loans_user', table_name='loans')
    op.drop_table('loans')
    op.drop_index('ix_products_active_public_units', table_name='products')
    with op.batch_alter_table('products') as batch_op:
        batch_op.drop_column('public_units')
        batch_op.create_index('ix_products_active_sold', ['active', 'units_sold'], unique=False)
    # Loan accounts and their entries cannot be expressed before this revision.
    _foreign_keys(False)
    _checks(KINDS_BEFORE, TYPES_BEFORE, floor=False)
    _foreign_keys(True)
