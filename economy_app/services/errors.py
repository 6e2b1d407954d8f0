"""Typed errors. ``str(err)`` is a clear message that can be shown to a player."""

from __future__ import annotations


class EconomyError(Exception):
    """Base class: a refused request. Nothing was changed."""

    code = "error"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidAmount(EconomyError):
    code = "invalid_amount"


class InsufficientFunds(EconomyError):
    code = "insufficient_funds"


class AccountNotFound(EconomyError):
    code = "account_not_found"


class NotAccountOwner(EconomyError):
    code = "not_account_owner"


class SameAccount(EconomyError):
    code = "same_account"


class DuplicateRequest(EconomyError):
    """An idempotency key was reused for a different request."""

    code = "duplicate_request"


class BalanceRecordMissing(EconomyError):
    """The primary balance copy of an account is missing: an operator must sync it."""

    code = "balance_record_missing"


class InvalidInput(EconomyError):
    code = "invalid_input"


class UsernameTaken(EconomyError):
    code = "username_taken"


class UserNotFound(EconomyError):
    code = "user_not_found"


class LoginFailed(EconomyError):
    """One message for every failed login: it never says whether the username exists."""

    code = "login_failed"


class LoginThrottled(EconomyError):
    code = "login_throttled"


class SignupLimited(EconomyError):
    """Too many sign-ups from one client address."""

    code = "signup_limited"


class CompanyNotFound(EconomyError):
    code = "company_not_found"


class NotCompanyOwner(EconomyError):
    code = "not_company_owner"


class TickerTaken(EconomyError):
    code = "ticker_taken"


class CompanyLimit(EconomyError):
    code = "company_limit"


class ProductNotFound(EconomyError):
    code = "product_not_found"


class InvalidShares(EconomyError):
    code = "invalid_shares"


class NotPublic(EconomyError):
    code = "not_public"


class TradeRefused(EconomyError):
    """A trade the rules do not allow (own shares, too many shares, too fast)."""

    code = "trade_refused"


class TradingHalted(TradeRefused):
    """A trade in the shares of a company whose account an admin froze: halted both ways (a frozen company neither
    pays nor is paid for its shares). It names no reason: the admin's note is for the owner and the admins."""

    code = "trading_halted"


class NotAdmin(EconomyError):
    code = "not_admin"


class AlreadyRunning(EconomyError):
    code = "already_running"


class RestoreRefused(EconomyError):
    """An archive file that cannot be restored as it is. Nothing was changed."""

    code = "restore_refused"


class RestoreConflict(RestoreRefused):
    """Entries of an archive file that differ from the entries holding their ids (or that are in neither the
    ledger nor the archive): restoring them would lose an entry or create money."""

    code = "restore_conflict"


class ArchiveFileMismatch(RestoreRefused):
    """An archive file whose SHA-256 differs from the one recorded when it was written."""

    code = "archive_file_mismatch"


class ListingLimit(EconomyError):
    """A company already lists as many active products as the marketplace allows."""

    code = "listing_limit"


class PublicCashRefused(EconomyError):
    """Money may not leave a public company's account for its owner or any account the owner controls."""

    code = "public_cash_refused"


class OutflowLimit(EconomyError):
    """A public company's payments to others past their cap for any 24 hours."""

    code = "outflow_limit"


class AccountFrozen(EconomyError):
    """A posting from an account an admin froze (``account_ids``: every frozen source of the request)."""

    code = "account_frozen"

    def __init__(self, reason: str, account_ids=()):
        super().__init__(frozen_message(reason))
        self.reason = reason
        self.account_ids = frozenset(account_ids)


def frozen_message(reason: str) -> str:
    """What a refused request from a frozen account says, wherever it is refused."""
    return f"This account is frozen by an admin: {reason.rstrip('.')}."
