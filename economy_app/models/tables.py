"""Every table of the game:

- players and sessions: ``users``, ``auth_sessions``, ``rate_limits``;
- money (written only by ``services/ledger/``): ``accounts`` (its ``balance`` column is the cache),
  ``balances``, ``ledger``, ``balance_history``, and the archive's ``ledger_archive``, ``ledger_checkpoints``,
  ``ledger_archive_files``;
- the game: ``companies``, ``products``, ``product_sales``, ``holdings``, ``stock_trades``, ``stock_prices``,
  ``marketplace_settings``;
- operations: ``job_runs``, ``job_settings``, ``admin_audit``, ``reconciliation_reports``, ``live_events``.

Table and column names are part of the contract with operators (SQL, the CLI,
the admin page), so they are spelled out explicitly.

Times are naive UTC datetimes on both SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    func,
    text,
    true,
)
from sqlmodel import Field, SQLModel

ROLES = ("player", "admin")
ACCOUNT_KINDS = ("personal", "company", "system")
# The types the schema allows. Nothing posts product_purchase or product_cost (the marketplace posts one
# marketplace_batch pair per company), so the history page's filter does not offer them (display.TYPE_LABELS).
LEDGER_TYPES = (
    "initial_deposit",
    "transfer",
    "stock_purchase",
    "stock_sale",
    "product_purchase",
    "product_cost",
    "marketplace_batch",
    "adjustment",
)

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets BIGINT.
BigId = BigInteger().with_variant(Integer, "sqlite")

# Ids of rows that are archived, referenced by history or audited are never handed out twice. PostgreSQL's
# sequences never go back; SQLite needs AUTOINCREMENT, or it hands out max(id) + 1 again once the newest
# rows are gone (archived, purged). Migration 0006 rebuilt the existing tables this way.
NEVER_REUSE_IDS = {"sqlite_autoincrement": True}


def utcnow() -> datetime:
    """The current time as a naive UTC datetime (the storage convention)."""
    return datetime.now(UTC).replace(tzinfo=None)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class User(SQLModel, table=True):
    __tablename__ = "users"
    __table_args__ = (
        Index("ux_users_username_lower", func.lower(text("username")), unique=True),
        CheckConstraint(_in("role", ROLES), name="ck_users_role"),
    )

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(sa_column=Column(String(30), nullable=False))
    display_name: str = Field(sa_column=Column(String(60), nullable=False))
    password_hash: str = Field(sa_column=Column(String(255), nullable=False))
    role: str = Field(default="player", sa_column=Column(String(10), nullable=False, server_default="player"))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime, nullable=False))
    # When the player hid the dashboard's "How to play" (services/guide.py); None: it shows. The steps it ticks
    # off are derived from the player's data, never stored.
    guide_hidden_at: datetime | None = Field(default=None, sa_column=Column(DateTime, nullable=True))


class Account(SQLModel, table=True):
    __tablename__ = "accounts"
    __table_args__ = (
        CheckConstraint(_in("kind", ACCOUNT_KINDS), name="ck_accounts_kind"),
        # One personal account per player and one system account (the mint):
        # these make initialize_account and the mint's creation race-safe.
        Index(
            "ux_accounts_personal_owner",
            "owner_id",
            unique=True,
            sqlite_where=text("kind = 'personal'"),
            postgresql_where=text("kind = 'personal'"),
        ),
        Index(
            "ux_accounts_system",
            "kind",
            unique=True,
            sqlite_where=text("kind = 'system'"),
            postgresql_where=text("kind = 'system'"),
        ),
        Index("ix_accounts_owner_id", "owner_id"),
        Index("ix_accounts_company_id", "company_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=Column(String(100), nullable=False))
    kind: str = Field(sa_column=Column(String(10), nullable=False))
    owner_id: int | None = Field(default=None, sa_column=Column(Integer, ForeignKey("users.id"), nullable=True))
    company_id: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    balance: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, server_default="0"))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime, nullable=False))
    # Moderation: while ``frozen_at`` is set, every posting *from* this account is refused (services/ledger/
    # posting.py checks it on the locked rows); money may still come in. Set and cleared by an admin, audited.
    frozen_at: datetime | None = Field(default=None, sa_column=Column(DateTime, nullable=True))
    frozen_reason: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    frozen_by: str | None = Field(default=None, sa_column=Column(String(40), nullable=True))
    # Whose freeze it is: "player" (an admin froze the owner, with every account they hold) or "company" (the
    # company's account on its own). Unfreezing a player lifts only "player" freezes (services/moderation.py).
    frozen_scope: str | None = Field(default=None, sa_column=Column(String(10), nullable=True))


class Balance(SQLModel, table=True):
    """The primary copy of every balance. Read for every balance query."""

    __tablename__ = "balances"

    account_id: int = Field(sa_column=Column(Integer, ForeignKey("accounts.id"), primary_key=True))
    balance: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, server_default="0"))
    last_updated: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime, nullable=False))


class LedgerEntry(SQLModel, table=True):
    """The append-only audit trail. One row per movement of money."""

    __tablename__ = "ledger"
    __table_args__ = (
        CheckConstraint("amount > 0", name="ck_ledger_amount_positive"),
        CheckConstraint("from_account_id <> to_account_id", name="ck_ledger_distinct_accounts"),
        CheckConstraint(_in("type", LEDGER_TYPES), name="ck_ledger_type"),
        CheckConstraint("batch_count IS NULL OR batch_count > 0", name="ck_ledger_batch_count"),
        # Per-account history in time order, on both sides: pages and date
        # ranges are index ranges. ``amount`` rides along so the per-account
        # sums of recalculation and reconciliation read only the index
        # (1M entries: ~70 ms a side instead of ~1 s).
        Index("ix_ledger_from_account", "from_account_id", "created_at", "id", "amount"),
        Index("ix_ledger_to_account", "to_account_id", "created_at", "id", "amount"),
        Index("ix_ledger_type", "type", "id"),
        Index("ix_ledger_created_at", "created_at"),
        # An id is never handed out twice, even after every entry was archived (see NEVER_REUSE_IDS).
        NEVER_REUSE_IDS,
    )

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
    from_account_id: int = Field(sa_column=Column(Integer, ForeignKey("accounts.id"), nullable=False))
    to_account_id: int = Field(sa_column=Column(Integer, ForeignKey("accounts.id"), nullable=False))
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    type: str = Field(sa_column=Column(String(20), nullable=False))
    description: str | None = Field(default=None, sa_column=Column(String(500), nullable=True))
    # Units in a marketplace batch: a $50M run of 1-cent goods sells billions (BIGINT on PostgreSQL).
    batch_count: int | None = Field(default=None, sa_column=Column(BigId, nullable=True))
    product_id: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    idempotency_key: str | None = Field(default=None, sa_column=Column(String(100), nullable=True, unique=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime, nullable=False))


class BalanceHistory(SQLModel, table=True):
    """One row per account per posting: balance charts and point-in-time balances."""

    __tablename__ = "balance_history"
    __table_args__ = (
        Index("ix_balance_history_account_time", "account_id", "created_at", "id"),
        Index("ix_balance_history_ledger", "ledger_id"),
        NEVER_REUSE_IDS,
    )

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
    account_id: int = Field(sa_column=Column(Integer, ForeignKey("accounts.id"), nullable=False))
    ledger_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    change: int = Field(sa_column=Column(BigInteger, nullable=False))
    balance_after: int = Field(sa_column=Column(BigInteger, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime, nullable=False))


class JobRun(SQLModel, table=True):
    """A claimed run of a scheduled job. (job_name, slot) is unique: one run per slot."""

    __tablename__ = "job_runs"
    __table_args__ = (
        UniqueConstraint("job_name", "slot", name="uq_job_runs_job_slot"),
        Index("ix_job_runs_job_started", "job_name", "started_at"),
        NEVER_REUSE_IDS,
    )

    id: int | None = Field(default=None, primary_key=True)
    job_name: str = Field(sa_column=Column(String(50), nullable=False))
    slot: str = Field(sa_column=Column(String(40), nullable=False))
    started_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime, nullable=False))
    finished_at: datetime | None = Field(default=None, sa_column=Column(DateTime, nullable=True))
    status: str = Field(default="running", sa_column=Column(String(10), nullable=False))
    summary: str | None = Field(default=None, sa_column=Column(String(2000), nullable=True))


class AuthSession(SQLModel, table=True):
    """A logged-in browser session. The browser holds the token; only its SHA-256 is stored."""

    __tablename__ = "auth_sessions"
    __table_args__ = (Index("ix_auth_sessions_user", "user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(sa_column=Column(Integer, ForeignKey("users.id"), nullable=False))
    token_hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime, nullable=False))
    expires_at: datetime = Field(sa_column=Column(DateTime, nullable=False))


class RateLimit(SQLModel, table=True):
    """Abuse limits shared by every worker through the database: one counter per key (failed logins per
    username and client address, per client address; sign-ups per client address)."""

    __tablename__ = "rate_limits"

    key: str = Field(sa_column=Column(String(120), primary_key=True))
    count: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    first_at: datetime = Field(sa_column=Column(DateTime, nullable=False))  # the window's start
    last_at: datetime = Field(sa_column=Column(DateTime, nullable=False))
    blocked_until: datetime | None = Field(default=None, sa_column=Column(DateTime, nullable=True))


# Share prices need more precision than cents: millionths of a dollar.
MICROS_PER_CENT = 10_000


class Company(SQLModel, table=True):
    __tablename__ = "companies"
    __table_args__ = (
        Index("ix_companies_owner", "owner_id"),
        Index("ix_companies_name_lower", func.lower(text("name"))),
        CheckConstraint(
            "total_shares >= 0 AND treasury_shares >= 0 AND treasury_shares <= total_shares", name="ck_companies_shares"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    owner_id: int = Field(sa_column=Column(Integer, ForeignKey("users.id"), nullable=False))
    account_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("accounts.id"), nullable=True, unique=True)
    )
    name: str = Field(sa_column=Column(String(50), nullable=False))
    ticker: str = Field(sa_column=Column(String(5), nullable=False, unique=True))  # stored upper-case
    description: str = Field(default="", sa_column=Column(String(500), nullable=False, server_default=""))
    tags: str = Field(default="", sa_column=Column(String(200), nullable=False, server_default=""))  # comma-separated
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime, nullable=False))
    # Going public (services.companies.check_and_update_public_status); once public, always public.
    is_public: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, server_default=false()))
    public_at: datetime | None = Field(default=None, sa_column=Column(DateTime, nullable=True))
    total_shares: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, server_default="0"))
    treasury_shares: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, server_default="0"))
    share_price_micros: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, server_default="0"))
    ipo_price_micros: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, server_default="0"))
    # The price curve's base: the price is base x (1 + 8% x shares outside the treasury / total shares)
    # (services.stocks); set at the IPO, rescaled by the price tick, never changed by a trade.
    base_price_micros: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, server_default="0"))


class Product(SQLModel, table=True):
    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("price_cents > 0", name="ck_products_price_positive"),
        CheckConstraint("cost_percent BETWEEN 1 AND 99", name="ck_products_cost_percent"),
        Index("ix_products_company", "company_id"),
        Index("ix_products_active_price", "active", "price_cents"),
        Index("ix_products_active_sold", "active", "units_sold"),
    )

    id: int | None = Field(default=None, primary_key=True)
    company_id: int = Field(sa_column=Column(Integer, ForeignKey("companies.id"), nullable=False))
    name: str = Field(sa_column=Column(String(80), nullable=False))
    description: str = Field(default="", sa_column=Column(String(500), nullable=False, server_default=""))
    price_cents: int = Field(sa_column=Column(BigInteger, nullable=False))
    # Production cost as a whole percentage of the current price, fixed at creation.
    cost_percent: int = Field(sa_column=Column(Integer, nullable=False))
    active: bool = Field(default=True, sa_column=Column(Boolean, nullable=False, server_default=true()))
    units_sold: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, server_default="0"))
    revenue_cents: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, server_default="0"))
    costs_cents: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, server_default="0"))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime, nullable=False))
    # When the product (last) went on sale: the public sees it once the hold after this has passed.
    listed_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime, nullable=False))
    # Recent sales (services/marketplace.py): the product's decayed share of the public's spending, as of
    # momentum_at. A demand signal, not money.
    momentum: float = Field(default=0.0, sa_column=Column(Float, nullable=False, server_default="0"))
    momentum_at: datetime | None = Field(default=None, sa_column=Column(DateTime, nullable=True))


class ProductSale(SQLModel, table=True):
    """What one marketplace run sold of one product: the per-product lines behind a company's two
    ``marketplace_batch`` entries (``ledger_id``: the revenue entry, ``costs_ledger_id``: the costs entry).
    Written by the run in its own transaction; a record of the run, not money (the ledger holds the money).
    Kept as long as price history (services/schedule.py's clean-up)."""

    __tablename__ = "product_sales"
    __table_args__ = (
        Index("ix_product_sales_ledger", "ledger_id"),
        Index("ix_product_sales_costs_ledger", "costs_ledger_id"),
        Index("ix_product_sales_time", "created_at"),
        NEVER_REUSE_IDS,
    )

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
    ledger_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    costs_ledger_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    company_id: int = Field(sa_column=Column(Integer, nullable=False))
    product_id: int = Field(sa_column=Column(Integer, nullable=False))
    units: int = Field(sa_column=Column(BigInteger, nullable=False))
    price_cents: int = Field(sa_column=Column(BigInteger, nullable=False))
    revenue_cents: int = Field(sa_column=Column(BigInteger, nullable=False))
    costs_cents: int = Field(sa_column=Column(BigInteger, nullable=False))
    created_at: datetime = Field(sa_column=Column(DateTime, nullable=False))


class Holding(SQLModel, table=True):
    """Shares of a public company held by an account (a player's personal account or a company's)."""

    __tablename__ = "holdings"
    __table_args__ = (
        UniqueConstraint("company_id", "account_id", name="uq_holdings_company_account"),
        CheckConstraint("shares >= 0", name="ck_holdings_shares"),
        Index("ix_holdings_account", "account_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    company_id: int = Field(sa_column=Column(Integer, ForeignKey("companies.id"), nullable=False))
    account_id: int = Field(sa_column=Column(Integer, ForeignKey("accounts.id"), nullable=False))
    shares: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    avg_price_micros: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))  # weighted, what was paid
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime, nullable=False))


class StockTrade(SQLModel, table=True):
    __tablename__ = "stock_trades"
    __table_args__ = (
        CheckConstraint("side IN ('buy', 'sell')", name="ck_stock_trades_side"),
        CheckConstraint("shares > 0", name="ck_stock_trades_shares"),
        Index("ix_stock_trades_company_time", "company_id", "created_at"),
        Index("ix_stock_trades_actor_company_time", "actor_id", "company_id", "created_at"),
        NEVER_REUSE_IDS,
    )

    id: int | None = Field(default=None, primary_key=True)
    company_id: int = Field(sa_column=Column(Integer, ForeignKey("companies.id"), nullable=False))
    account_id: int = Field(sa_column=Column(Integer, ForeignKey("accounts.id"), nullable=False))
    actor_id: int = Field(sa_column=Column(Integer, ForeignKey("users.id"), nullable=False))
    side: str = Field(sa_column=Column(String(4), nullable=False))
    shares: int = Field(sa_column=Column(BigInteger, nullable=False))
    price_micros: int = Field(sa_column=Column(BigInteger, nullable=False))  # the price the trade executed at
    total_cents: int = Field(sa_column=Column(BigInteger, nullable=False))
    ledger_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime, nullable=False))


class StockPrice(SQLModel, table=True):
    """A company's share price after every trade and every scheduled tick (kept 90 days)."""

    __tablename__ = "stock_prices"
    __table_args__ = (
        Index("ix_stock_prices_company_time", "company_id", "created_at"),
        Index("ix_stock_prices_time", "created_at"),
        NEVER_REUSE_IDS,
    )

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
    company_id: int = Field(sa_column=Column(Integer, ForeignKey("companies.id"), nullable=False))
    price_micros: int = Field(sa_column=Column(BigInteger, nullable=False))
    source: str = Field(sa_column=Column(String(5), nullable=False))  # ipo | buy | sell | tick
    shares: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, server_default="0"))  # volume
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime, nullable=False))


class AdminAudit(SQLModel, table=True):
    """Every admin action: who, what, on what, when, with which result."""

    __tablename__ = "admin_audit"
    __table_args__ = (Index("ix_admin_audit_time", "created_at"), NEVER_REUSE_IDS)

    id: int | None = Field(default=None, primary_key=True)
    admin_id: int | None = Field(default=None, sa_column=Column(Integer, ForeignKey("users.id"), nullable=True))
    admin_name: str = Field(sa_column=Column(String(40), nullable=False))  # a username, or "cli" / "scheduler"
    action: str = Field(sa_column=Column(String(40), nullable=False))
    target: str = Field(default="", sa_column=Column(String(100), nullable=False, server_default=""))
    result: str = Field(default="", sa_column=Column(String(500), nullable=False, server_default=""))
    ok: bool = Field(default=True, sa_column=Column(Boolean, nullable=False, server_default=true()))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime, nullable=False))


class ReconciliationReport(SQLModel, table=True):
    __tablename__ = "reconciliation_reports"
    __table_args__ = (Index("ix_reconciliation_reports_time", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime, nullable=False))
    accounts_checked: int = Field(sa_column=Column(Integer, nullable=False))
    drifts_found: int = Field(sa_column=Column(Integer, nullable=False))
    repaired: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))
    duration_ms: int = Field(sa_column=Column(Integer, nullable=False))
    source: str = Field(sa_column=Column(String(20), nullable=False))  # scheduler | cli | admin
    details: str = Field(default="", sa_column=Column(String(4000), nullable=False, server_default=""))
    # The archive's checks (admin.check_archive): checkpoints against the archived entries, each archive
    # file's SHA-256 and entry count, ids in both tables.
    archive_problems: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))
    # The sum of every balances row and of every cached accounts.balance: both exactly 0 when no cent was
    # created or lost (the mint holds minus the money in circulation). NULL in reports made before 0010.
    balances_total: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    cache_total: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))


class JobSetting(SQLModel, table=True):
    """Operator switches per scheduled job, shared by every worker."""

    __tablename__ = "job_settings"

    job_name: str = Field(sa_column=Column(String(50), primary_key=True))
    paused: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, server_default=false()))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime, nullable=False))


class LedgerCheckpoint(SQLModel, table=True):
    """An account's balance as of an archival cutoff: recalculation is checkpoint + the entries after it."""

    __tablename__ = "ledger_checkpoints"

    account_id: int = Field(sa_column=Column(Integer, ForeignKey("accounts.id"), primary_key=True))
    balance: int = Field(sa_column=Column(BigInteger, nullable=False))
    entries: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, server_default="0"))
    as_of: datetime = Field(sa_column=Column(DateTime, nullable=False))


class ArchiveFile(SQLModel, table=True):
    """Every archive file, recorded when it is written: its SHA-256 and entry count prove it later.

    ``restored_entries`` counts the file's entries brought back to the ledger since; so for every file,
    the entries still in ``ledger_archive`` with its ``file_id`` + ``restored_entries`` = ``entries``."""

    __tablename__ = "ledger_archive_files"
    __table_args__ = (Index("ix_ledger_archive_files_sha256", "sha256"), NEVER_REUSE_IDS)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=Column(String(200), nullable=False, unique=True))  # the file's name
    path: str = Field(sa_column=Column(String(1000), nullable=False))  # where it was written
    sha256: str = Field(sa_column=Column(String(64), nullable=False))  # of the file's bytes (hex)
    entries: int = Field(sa_column=Column(BigInteger, nullable=False))
    first_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    last_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    before: datetime = Field(sa_column=Column(DateTime, nullable=False))  # the cutoff
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime, nullable=False))
    restored_entries: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, server_default="0"))
    restored_at: datetime | None = Field(default=None, sa_column=Column(DateTime, nullable=True))


class LedgerArchive(SQLModel, table=True):
    """Archived ledger entries, exactly as they were (same ids), each with the file it was written to."""

    __tablename__ = "ledger_archive"
    __table_args__ = (
        Index("ix_ledger_archive_time", "created_at"),
        # An archived idempotency key is still honoured: post() looks it up here (an index, not a scan).
        Index(
            "ux_ledger_archive_idempotency_key",
            "idempotency_key",
            unique=True,
            sqlite_where=text("idempotency_key IS NOT NULL"),
            postgresql_where=text("idempotency_key IS NOT NULL"),
        ),
        Index("ix_ledger_archive_file", "file_id"),
    )

    id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    from_account_id: int = Field(sa_column=Column(Integer, nullable=False))
    to_account_id: int = Field(sa_column=Column(Integer, nullable=False))
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    type: str = Field(sa_column=Column(String(20), nullable=False))
    description: str | None = Field(default=None, sa_column=Column(String(500), nullable=True))
    batch_count: int | None = Field(default=None, sa_column=Column(BigId, nullable=True))
    product_id: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    idempotency_key: str | None = Field(default=None, sa_column=Column(String(100), nullable=True))
    created_at: datetime = Field(sa_column=Column(DateTime, nullable=False))
    archived_at: datetime = Field(sa_column=Column(DateTime, nullable=False))
    # The ledger_archive_files row of the file it was written to; None for entries archived before files
    # were recorded (migration 0006). No foreign key, like the account ids here: the archive is a copy.
    file_id: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))


class LiveEvent(SQLModel, table=True):
    """The live-update outbox on SQLite: the topics one committed transaction changed (ids, never balances).
    Every app worker reads it by id and tells its open tabs; rows older than a few minutes are pruned.
    (PostgreSQL uses NOTIFY instead; see services/live.py.)"""

    __tablename__ = "live_events"
    __table_args__ = (Index("ix_live_events_time", "created_at"), {"sqlite_autoincrement": True})

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
    topics: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime, nullable=False))


class MarketplaceSettings(SQLModel, table=True):
    """The marketplace's operator settings, one row (id 1), shared by every worker.

    A NULL column means "not set by an admin": the environment default applies
    (services/marketplace_settings.py). The last two columns are written by each run."""

    __tablename__ = "marketplace_settings"
    __table_args__ = (CheckConstraint("id = 1", name="ck_marketplace_settings_one_row"),)

    id: int = Field(default=1, sa_column=Column(Integer, primary_key=True, autoincrement=False))
    budget_min_cents: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    budget_max_cents: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    interval_seconds: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    company_cap_percent: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    listing_limit: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    hold_seconds: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    updated_at: datetime | None = Field(default=None, sa_column=Column(DateTime, nullable=True))
    updated_by: str | None = Field(default=None, sa_column=Column(String(40), nullable=True))
    typical_price_cents: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    typical_price_at: datetime | None = Field(default=None, sa_column=Column(DateTime, nullable=True))
