"""Settings read from the environment (no module-level state beyond constants)."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Money is integer cents.
INITIAL_BALANCE_CENTS = 1_000_000  # $10,000.00 for every new player


def data_dir() -> Path:
    return Path(os.environ.get("ECONOMY_DATA_DIR", PROJECT_ROOT / "data"))


def database_url() -> str:
    """DATABASE_URL, or a SQLite file under data/ (the embedded default)."""
    url = os.environ.get("DATABASE_URL", "").strip()
    if url:
        # Accept the common short forms and use psycopg 3.
        if url.startswith("postgres://"):
            url = "postgresql+psycopg://" + url[len("postgres://"):]
        elif url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://"):]
        return url
    path = data_dir() / "economy.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def max_transfer_cents() -> int:
    """The largest single transfer a player may send (default $1,000,000.00)."""
    return int(os.environ.get("ECONOMY_MAX_TRANSFER_CENTS", 100_000_000))
