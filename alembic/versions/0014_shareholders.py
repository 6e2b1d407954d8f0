"""Shareholders: dividends, share transfers, companies for sale.

- ``ledger.type`` may be ``dividend`` or ``company_sale``. The types the database allows now are read from its
  own ``ck_ledger_type`` (whatever revisions before this one added) and these two are added to them, so this
  revision stays right whichever other revision that changes the check ran before it.
- ``dividends`` and ``dividend_payments`` (one row per holder paid, with its ledger entry's id).
- ``share_transfers`` (shares given, no money).
- ``company_listings`` (at most one open per company: a unique index over the open ones) and
  ``company_offers`` (each step of a negotiation).

SQLite cannot change a CHECK constraint in place: ``ledger`` is rebuilt (a batch copy keeps every row and id,
and AUTOINCREMENT), and its AUTOINCREMENT sequence is carried over the rebuild (an archived entry's id is never
handed out again).

Revision ID: 0014
Revises: 0016
Create Date: 2026-12-01

"""

import re
import warnings
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEW_TYPES = ("dividend", "company_sale")
OPEN = sa.text("status = 'open'")
LISTING_STATUSES = ("open", "sold", "withdrawn", "expired")
OFFER_STATUSES = ("open", "accepted", "rejected", "countered", "withdrawn", "cancelled")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def _ledger_types() -> tuple[str, ...]:
    """The entry types ``ck_ledger_type`` allows now, in its order."""
    bind = op.get_bind()
    if _sqlite():
        sql = bind.execute(sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'ledger'")).scalar()
        check = re.search(r"ck_ledger_type\s+CHECK\s*\((.*?)\)\s*(?:,|\)\s*$)", sql, re.S | re.I)
        text = check.group(1) if check else ""
    else:
        text = (
            bind.execute(
                sa.text(
                    "SELECT pg_get_constraintdef(c.oid) FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid "
                    "WHERE t.relname = 'ledger' AND c.conname = 'ck_ledger_type'"
                )
            ).scalar()
            or ""
        )
    types = tuple(dict.fromkeys(re.findall(r"'([a-z_]+)'", text)))
    if "transfer" not in types:
        raise RuntimeError(f"could not read the ledger types from ck_ledger_type: {text!r}")
    return types


def _ledger_sequence() -> int | None:
    """SQLite: where the ledger's AUTOINCREMENT stands (None on PostgreSQL, whose sequences are untouched)."""
    if not _sqlite():
        return None
    return op.get_bind().execute(sa.text("SELECT seq FROM sqlite_sequence WHERE name = 'ledger'")).scalar() or 0


def _set_ledger_types(types: tuple[str, ...]) -> None:
    seq = _ledger_sequence()
    with warnings.catch_warnings():  # reflecting the tables it references says this
        warnings.filterwarnings("ignore", message="Skipped unsupported reflection of expression-based index")
        with op.batch_alter_table("ledger", table_kwargs={"sqlite_autoincrement": True}) as batch_op:
            batch_op.drop_constraint("ck_ledger_type", type_="check")
            batch_op.create_check_constraint("ck_ledger_type", _in("type", types))
    if seq is not None:
        op.execute("DELETE FROM sqlite_sequence WHERE name = 'ledger'")
        op.execute(
            sa.text(
                "INSERT INTO sqlite_sequence (name, seq) SELECT 'ledger', "
                "MAX(:seq, COALESCE((SELECT MAX(id) FROM ledger), 0))"
            ).bindparams(seq=seq)
        )


def upgrade() -> None:
    types = _ledger_types()
    _set_ledger_types(types + tuple(t for t in NEW_TYPES if t not in types))

    op.create_table(
        "dividends",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("declared_by", sa.Integer(), nullable=False),
        sa.Column("declared_cents", sa.BigInteger(), nullable=False),
        sa.Column("paid_cents", sa.BigInteger(), nullable=False),
        sa.Column("per_share_micros", sa.BigInteger(), nullable=False),
        sa.Column("shares", sa.BigInteger(), nullable=False),
        sa.Column("holders_paid", sa.Integer(), nullable=False),
        sa.Column("price_before_micros", sa.BigInteger(), nullable=False),
        sa.Column("price_after_micros", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "declared_cents > 0 AND paid_cents >= 0 AND paid_cents <= declared_cents", name="ck_dividends"
        ),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
        ),
        sa.ForeignKeyConstraint(
            ["declared_by"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_dividends_company_time", "dividends", ["company_id", "created_at"], unique=False)

    op.create_table(
        "dividend_payments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dividend_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("shares", sa.BigInteger(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("ledger_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
        ),
        sa.ForeignKeyConstraint(
            ["dividend_id"],
            ["dividends.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dividend_id", "account_id", name="uq_dividend_payments_dividend_account"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_dividend_payments_account", "dividend_payments", ["account_id", "id"], unique=False)

    op.create_table(
        "share_transfers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("from_account_id", sa.Integer(), nullable=False),
        sa.Column("to_account_id", sa.Integer(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=False),
        sa.Column("shares", sa.BigInteger(), nullable=False),
        sa.Column("price_micros", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("shares > 0", name="ck_share_transfers_shares"),
        sa.CheckConstraint("from_account_id <> to_account_id", name="ck_share_transfers_accounts"),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["users.id"],
        ),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
        ),
        sa.ForeignKeyConstraint(
            ["from_account_id"],
            ["accounts.id"],
        ),
        sa.ForeignKeyConstraint(
            ["to_account_id"],
            ["accounts.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_share_transfers_company_time", "share_transfers", ["company_id", "created_at"], unique=False)
    op.create_index(
        "ix_share_transfers_actor_company_time",
        "share_transfers",
        ["actor_id", "company_id", "created_at"],
        unique=False,
    )
    op.create_index("ix_share_transfers_from", "share_transfers", ["from_account_id", "id"], unique=False)
    op.create_index("ix_share_transfers_to", "share_transfers", ["to_account_id", "id"], unique=False)

    op.create_table(
        "company_listings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("seller_id", sa.Integer(), nullable=False),
        sa.Column("buyer_id", sa.Integer(), nullable=True),
        sa.Column("price_cents", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=10), server_default="open", nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("sold_to_id", sa.Integer(), nullable=True),
        sa.Column("sold_cents", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(_in("status", LISTING_STATUSES), name="ck_company_listings_status"),
        sa.CheckConstraint("price_cents > 0", name="ck_company_listings_price"),
        sa.ForeignKeyConstraint(
            ["buyer_id"],
            ["users.id"],
        ),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
        ),
        sa.ForeignKeyConstraint(
            ["seller_id"],
            ["users.id"],
        ),
        sa.ForeignKeyConstraint(
            ["sold_to_id"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ux_company_listings_open",
        "company_listings",
        ["company_id"],
        unique=True,
        sqlite_where=OPEN,
        postgresql_where=OPEN,
    )
    op.create_index("ix_company_listings_status_price", "company_listings", ["status", "price_cents"], unique=False)
    op.create_index("ix_company_listings_company", "company_listings", ["company_id", "id"], unique=False)

    op.create_table(
        "company_offers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("listing_id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("buyer_id", sa.Integer(), nullable=False),
        sa.Column("proposer_id", sa.Integer(), nullable=False),
        sa.Column("price_cents", sa.BigInteger(), nullable=False),
        sa.Column("pay_account_id", sa.Integer(), nullable=True),
        sa.Column("cash_cents", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=10), server_default="open", nullable=False),
        sa.Column("reply_to_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint(_in("status", OFFER_STATUSES), name="ck_company_offers_status"),
        sa.CheckConstraint("price_cents > 0", name="ck_company_offers_price"),
        sa.ForeignKeyConstraint(
            ["buyer_id"],
            ["users.id"],
        ),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
        ),
        sa.ForeignKeyConstraint(
            ["listing_id"],
            ["company_listings.id"],
        ),
        sa.ForeignKeyConstraint(
            ["pay_account_id"],
            ["accounts.id"],
        ),
        sa.ForeignKeyConstraint(
            ["proposer_id"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_company_offers_listing_buyer", "company_offers", ["listing_id", "buyer_id", "id"], unique=False)
    op.create_index("ix_company_offers_buyer", "company_offers", ["buyer_id", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_company_offers_buyer", table_name="company_offers")
    op.drop_index("ix_company_offers_listing_buyer", table_name="company_offers")
    op.drop_table("company_offers")
    op.drop_index("ix_company_listings_company", table_name="company_listings")
    op.drop_index("ix_company_listings_status_price", table_name="company_listings")
    op.drop_index("ux_company_listings_open", table_name="company_listings", sqlite_where=OPEN, postgresql_where=OPEN)
    op.drop_table("company_listings")
    for index in (
        "ix_share_transfers_to",
        "ix_share_transfers_from",
        "ix_share_transfers_actor_company_time",
        "ix_share_transfers_company_time",
    ):
        op.drop_index(index, table_name="share_transfers")
    op.drop_table("share_transfers")
    op.drop_index("ix_dividend_payments_account", table_name="dividend_payments")
    op.drop_table("dividend_payments")
    op.drop_index("ix_dividends_company_time", table_name="dividends")
    op.drop_table("dividends")
    # Dividend and company-sale entries cannot be expressed before this revision.
    _set_ledger_types(tuple(t for t in _ledger_types() if t not in NEW_TYPES))
