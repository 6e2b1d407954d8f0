"""Moderation: a freeze records its scope, "player" (with every account of its owner) or "company" (the
company's own), so that unfreezing a player never lifts a company's own freeze.

Revision ID: 0016
Revises: 0012
Create Date: 2026-12-01

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0016'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN (nullable, no default): SQLite does not rebuild the table.
    op.add_column('accounts', sa.Column('frozen_scope', sa.String(length=10), nullable=True))
    # The freezes already there: a personal account's is its player's. A company's is its player's when it is the
    # very freeze its owner's personal account carries (a player freeze writes one time and reason on every
    # account it freezes), else the company's own.
    op.execute(
        "UPDATE accounts SET frozen_scope = 'player' WHERE frozen_at IS NOT NULL AND kind <> 'company'"
    )
    op.execute(
        "UPDATE accounts SET frozen_scope = CASE WHEN EXISTS ("
        " SELECT 1 FROM accounts AS p WHERE p.owner_id = accounts.owner_id AND p.kind = 'personal'"
        " AND p.frozen_at = accounts.frozen_at AND p.frozen_reason = accounts.frozen_reason"
        ") THEN 'player' ELSE 'company' END"
        " WHERE frozen_at IS NOT NULL AND kind = 'company'"
    )


def downgrade() -> None:
    op.drop_column('accounts', 'frozen_scope')
