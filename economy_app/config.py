"""Every setting read from the environment, in one place (the README's "Configuration" table lists them).

Each is a function, read when it is called (tests and the CLI change the environment at run time), and
every on/off setting goes through one parser, ``flag``. Nothing here imports the rest of the app.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Money is integer cents.
INITIAL_BALANCE_CENTS = 1_000_000  # $10,000.00 for every new player

_ON = ("on", "1", "true", "yes")
_OFF = ("off", "0", "false", "no")


def flag(variable: str, default: bool) -> bool:
    """An on/off setting: ``on``/``1``/``true``/``yes`` or ``off``/``0``/``false``/``no`` (any case); unset,
    empty or anything else is the default."""
    raw = os.environ.get(variable, "").strip().lower()
    if raw in _ON:
        return True
    if raw in _OFF:
        return False
    return default


def number(variable: str, default: int) -> int:
    """A whole-number setting; unset, empty or not a number is the default."""
    raw = os.environ.get(variable, "").strip()
    try:
        return int(raw) if raw else default
    except ValueError:
        return default


def _seconds(variable: str, default: int) -> int:
    return max(1, number(variable, default))


# --------------------------------------------------------------------------- storage


def data_dir() -> Path:
    return Path(os.environ.get("ECONOMY_DATA_DIR", PROJECT_ROOT / "data"))


def database_url() -> str:
    """DATABASE_URL, or a SQLite file under data/ (the embedded default)."""
    url = os.environ.get("DATABASE_URL", "").strip()
    if url:
        # Accept the common short forms and use psycopg 3.
        if url.startswith("postgres://"):
            url = "postgresql+psycopg://" + url[len("postgres://") :]
        elif url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://") :]
        return url
    path = data_dir() / "economy.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


# --------------------------------------------------------------------------- players


def max_transfer_cents() -> int:
    """The largest single transfer a player may send (ECONOMY_MAX_TRANSFER_CENTS, default $1,000,000.00)."""
    return number("ECONOMY_MAX_TRANSFER_CENTS", 100_000_000)


def max_companies() -> int:
    """Companies one player may found (ECONOMY_MAX_COMPANIES, default 5)."""
    return number("ECONOMY_MAX_COMPANIES", 5)


def session_days() -> int:
    """How long a login lasts (ECONOMY_SESSION_DAYS, default 14)."""
    return number("ECONOMY_SESSION_DAYS", 14)


def cheap_password_hashing() -> bool:
    """ECONOMY_PASSWORD_PROFILE=cheapest: the cheapest Argon2 parameters, for test suites only."""
    return os.environ.get("ECONOMY_PASSWORD_PROFILE") == "cheapest"


def login_address_failures() -> int:
    """Failed logins one client address may make, over every username, before it must wait
    (ECONOMY_LOGIN_ADDRESS_FAILURES, default 20)."""
    return number("ECONOMY_LOGIN_ADDRESS_FAILURES", 20)


def signups_per_address() -> int:
    """Sign-ups one client address may make per window; 0 turns the limit off (ECONOMY_SIGNUPS_PER_ADDRESS,
    default 3)."""
    return number("ECONOMY_SIGNUPS_PER_ADDRESS", 3)


def signup_window_hours() -> float:
    """The sign-up limit's window (ECONOMY_SIGNUP_WINDOW_HOURS, default 24)."""
    try:
        return float(os.environ.get("ECONOMY_SIGNUP_WINDOW_HOURS", "").strip() or 24)
    except ValueError:
        return 24.0


def max_purchase_units() -> int:
    """Units of a product a player may buy in one purchase (ECONOMY_MAX_PURCHASE_UNITS, default 1,000)."""
    return max(1, number("ECONOMY_MAX_PURCHASE_UNITS", 1_000))


# --------------------------------------------------------------------------- loans (services/loans.py)


def loan_max_debt_cents() -> int:
    """The most a player may owe when they borrow (ECONOMY_LOAN_MAX_DEBT_CENTS, default $500,000.00)."""
    return max(0, number("ECONOMY_LOAN_MAX_DEBT_CENTS", 50_000_000))


def loan_interest_bps() -> int:
    """A loan's interest a day, in hundredths of a percent of what is owed, compounded daily and charged as each
    day starts, the first when the loan is taken (ECONOMY_LOAN_INTEREST_BPS, default 500: 5% a day). A loan keeps
    the rate it was taken at."""
    return max(0, number("ECONOMY_LOAN_INTEREST_BPS", 500))


def loan_term_days() -> int:
    """Days from taking a loan to its due date (ECONOMY_LOAN_TERM_DAYS, default 7)."""
    return max(1, number("ECONOMY_LOAN_TERM_DAYS", 7))


def loan_cooldown_days() -> int:
    """Days a player who defaulted may not borrow (ECONOMY_LOAN_COOLDOWN_DAYS, default 7)."""
    return max(0, number("ECONOMY_LOAN_COOLDOWN_DAYS", 7))


def demo_enabled() -> bool:
    """Whether ``economy seed`` creates the demo world and its logins (ECONOMY_DEMO, default on)."""
    return flag("ECONOMY_DEMO", True)


# --------------------------------------------------------------------------- shareholders


def dividend_cooldown_seconds() -> int:
    """The least time between two dividends of one company (ECONOMY_DIVIDEND_COOLDOWN_SECONDS, default 3600;
    0: none)."""
    return max(0, number("ECONOMY_DIVIDEND_COOLDOWN_SECONDS", 3600))


# --------------------------------------------------------------------------- the marketplace (until an admin sets it)

# setting -> (environment variable, built-in default): the marketplace settings no admin has stored yet
MARKETPLACE_DEFAULTS = {
    "budget_min_cents": ("ECONOMY_MARKET_BUDGET_MIN_CENTS", 2_000_000),
    "budget_max_cents": ("ECONOMY_MARKET_BUDGET_MAX_CENTS", 3_999_999),
    "interval_seconds": ("ECONOMY_MARKETPLACE_INTERVAL_SECONDS", 600),
    "company_cap_percent": ("ECONOMY_MARKET_COMPANY_CAP_PERCENT", 20),
    "listing_limit": ("ECONOMY_MARKET_LISTING_LIMIT", 30),
    "hold_seconds": ("ECONOMY_MARKET_HOLD_SECONDS", 600),
}


def marketplace_defaults() -> dict[str, int]:
    """Each marketplace setting as the environment sets it (not yet clamped to its range)."""
    return {name: number(variable, default) for name, (variable, default) in MARKETPLACE_DEFAULTS.items()}


# --------------------------------------------------------------------------- the scheduler and operations


def scheduler_enabled() -> bool:
    """ECONOMY_SCHEDULER=off: no scheduled jobs in this process (default on)."""
    return flag("ECONOMY_SCHEDULER", True)


def price_interval_seconds() -> int:
    return _seconds("ECONOMY_PRICE_INTERVAL_SECONDS", 300)


def purge_interval_seconds() -> int:
    return _seconds("ECONOMY_PURGE_INTERVAL_SECONDS", 86_400)


def session_purge_interval_seconds() -> int:
    return _seconds("ECONOMY_SESSION_PURGE_INTERVAL_SECONDS", 86_400)


def loan_interval_seconds() -> int:
    """How often the loans job charges each loan's daily interest that fell due (as each day starts) and settles
    loans past their due date (ECONOMY_LOAN_INTERVAL_SECONDS, default 3600: a charge lands within the hour)."""
    return _seconds("ECONOMY_LOAN_INTERVAL_SECONDS", 3600)


def reconcile_interval_seconds() -> int:
    return _seconds("ECONOMY_RECONCILE_INTERVAL_SECONDS", 3600)


def auto_repair() -> bool:
    """AUTO_REPAIR=on: the reconciliation job recalculates drifted accounts from a proven ledger (default off)."""
    return flag("AUTO_REPAIR", False)


def log_level() -> str:
    """The app's own log lines in the server output (ECONOMY_LOG_LEVEL, default INFO)."""
    return (os.environ.get("ECONOMY_LOG_LEVEL", "").strip() or "INFO").upper()


def live_poll_seconds() -> float:
    """SQLite: how often each worker reads the live-update outbox (ECONOMY_LIVE_POLL_SECONDS, default 0.1)."""
    try:
        return float(os.environ.get("ECONOMY_LIVE_POLL_SECONDS", "").strip() or 0.1)
    except ValueError:
        return 0.1


def write_threads() -> int:
    """How many threads of a worker run the players' writes and password hashes (ECONOMY_WRITE_THREADS; default 2;
    0: asyncio's default pool, min(32, cores + 4) threads, which the scheduled jobs and the live updates' reads
    use). Python runs one thread at a time: more threads waiting on the database only hand the interpreter lock
    around more often. Measured at 200 players on 2 PostgreSQL + Redis workers (README, performance, fifth pass):
    with 2, 5.3-5.4 ms of worker CPU per event against 6.0-6.6 with the default pool, and a shorter transfer p95."""
    return max(0, number("ECONOMY_WRITE_THREADS", 2))


def read_threads() -> int:
    """How many threads of a worker run the session checks and the pages' reads (ECONOMY_READ_THREADS; default 1,
    at least 1). Python runs one thread at a time: on SQLite a second reader only adds switching (every SQLite step
    hands the interpreter lock over), +15% CPU per event measured; on PostgreSQL, where a read waits on the
    network, four readers cost 16% more CPU per event than one (two pairs at 200 players on 2 workers) and a
    received transfer showed 1-2 s late at p95 instead of 60 ms: the waits they overlap are short, the switching
    is not. Everything else a player does (writes, password hashes) runs on the write threads."""
    return max(1, number("ECONOMY_READ_THREADS", 1))
