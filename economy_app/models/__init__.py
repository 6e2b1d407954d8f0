"""SQLModel tables. Money is integer cents (BIGINT) everywhere.

Importing this package registers every table on ``SQLModel.metadata``, which is
what Alembic's ``env.py`` reads. Nothing here creates tables: migrations do.
"""

from economy_app.models.tables import (
    ACCOUNT_KINDS,
    LEDGER_TYPES,
    ROLES,
    Account,
    AdminAudit,
    AuthSession,
    Balance,
    MICROS_PER_CENT,
    BalanceHistory,
    Company,
    Holding,
    JobRun,
    JobSetting,
    LedgerArchive,
    LedgerCheckpoint,
    LedgerEntry,
    LoginThrottle,
    MarketplaceSettings,
    Product,
    ReconciliationReport,
    StockPrice,
    StockTrade,
    User,
    utcnow,
)

__all__ = [
    "ACCOUNT_KINDS",
    "LEDGER_TYPES",
    "ROLES",
    "Account",
    "AdminAudit",
    "AuthSession",
    "Balance",
    "BalanceHistory",
    "Company",
    "Holding",
    "JobRun",
    "JobSetting",
    "LedgerArchive",
    "LedgerCheckpoint",
    "MICROS_PER_CENT",
    "LedgerEntry",
    "LoginThrottle",
    "MarketplaceSettings",
    "Product",
    "ReconciliationReport",
    "StockPrice",
    "StockTrade",
    "User",
    "utcnow",
]
