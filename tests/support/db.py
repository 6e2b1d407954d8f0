"""Database helpers for tests: wipe, fingerprint, invariant checks."""

from __future__ import annotations

import hashlib

from sqlalchemy import Engine, func, select, text
from sqlmodel import SQLModel

import economy_app.models  # noqa: F401
from economy_app.models import Account, Balance, BalanceHistory, LedgerArchive, LedgerCheckpoint, LedgerEntry

TABLES = sorted(SQLModel.metadata.tables)


def wipe(engine: Engine) -> None:
    """Empty every table (ids restart at 1)."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            names = ", ".join(f'"{t}"' for t in TABLES)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(SQLModel.metadata.sorted_tables):
                conn.execute(table.delete())
            if conn.execute(text("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'")).first():
                conn.execute(text("DELETE FROM sqlite_sequence"))  # AUTOINCREMENT tables remember their top id


def fingerprint(engine: Engine, *, exclude: frozenset[str] = frozenset()) -> str:
    """A hash of every row of every table (but ``exclude``), in primary-key order: equal hashes, equal data."""
    digest = hashlib.sha256()
    with engine.connect() as conn:
        for name in (t for t in TABLES if t not in exclude):
            table = SQLModel.metadata.tables[name]
            rows = conn.execute(select(table).order_by(*table.primary_key.columns)).all()
            digest.update(f"{name}:{len(rows)}:{[tuple(r) for r in rows]!r}".encode())
    return digest.hexdigest()


def check_invariants(engine: Engine) -> None:
    """The ledger's promises. Raises AssertionError naming the first one broken.

    Read in one snapshot (REPEATABLE READ on PostgreSQL; one read transaction on SQLite), so it
    holds while the app keeps posting."""
    a, b, l, h = (Account.__table__, Balance.__table__, LedgerEntry.__table__, BalanceHistory.__table__)  # noqa: E741
    options = {"isolation_level": "REPEATABLE READ"} if engine.dialect.name == "postgresql" else {}
    with engine.connect().execution_options(**options) as conn:
        total = conn.execute(select(func.coalesce(func.sum(b.c.balance), 0))).scalar_one()
        assert total == 0, f"sum of all balances is {total}, not 0"
        accounts = conn.execute(select(a.c.id, a.c.kind, a.c.balance)).all()
        primary = dict(conn.execute(select(b.c.account_id, b.c.balance)).all())
        inflow = dict(conn.execute(select(l.c.to_account_id, func.sum(l.c.amount)).group_by(l.c.to_account_id)).all())
        outflow = dict(
            conn.execute(select(l.c.from_account_id, func.sum(l.c.amount)).group_by(l.c.from_account_id)).all()
        )
        checkpoint = dict(conn.execute(select(LedgerCheckpoint.account_id, LedgerCheckpoint.balance)).all())
        last_after = {}
        for account_id, after in conn.execute(select(h.c.account_id, h.c.balance_after).order_by(h.c.id)):
            last_after[account_id] = after
        for account_id, kind, cached in accounts:
            derived = checkpoint.get(account_id, 0) + int(inflow.get(account_id, 0)) - int(outflow.get(account_id, 0))
            assert account_id in primary, f"account {account_id} has no balances row"
            assert primary[account_id] == cached == derived, (
                f"account {account_id}: balances {primary[account_id]}, cache {cached}, ledger {derived}"
            )
            assert last_after.get(account_id, 0) == derived, (
                f"account {account_id}: last balance_after {last_after.get(account_id)} != {derived}"
            )
            if kind != "system":
                assert cached >= 0, f"account {account_id} ({kind}) is negative: {cached}"
        entries = (
            conn.execute(select(func.count()).select_from(l)).scalar_one()
            + conn.execute(select(func.count()).select_from(LedgerArchive)).scalar_one()
        )
        rows = conn.execute(select(func.count()).select_from(h)).scalar_one()
        assert rows == 2 * entries, f"{rows} balance_history rows for {entries} ledger entries"
        # The archive: each checkpoint is exactly the net (and count) of the account's archived entries,
        # and no entry is both live and archived.
        arch = LedgerArchive.__table__
        archived: dict[int, list[int]] = {}
        for src, dst, amount in conn.execute(select(arch.c.from_account_id, arch.c.to_account_id, arch.c.amount)):
            for account_id, delta in ((src, -amount), (dst, amount)):
                acc = archived.setdefault(account_id, [0, 0])
                acc[0] += delta
                acc[1] += 1
        checkpoints = {
            r.account_id: [r.balance, r.entries]
            for r in conn.execute(
                select(LedgerCheckpoint.account_id, LedgerCheckpoint.balance, LedgerCheckpoint.entries)
            )
        }
        assert checkpoints == archived, f"checkpoints {checkpoints} != archived entries {archived}"
        both = conn.execute(select(func.count()).select_from(arch).join(l, l.c.id == arch.c.id)).scalar_one()
        assert both == 0, f"{both} entries are in both the ledger and the archive"


def take_public(s, company_id: int, account_id: int, cash_cents: int = 6_000_000) -> None:
    """Give a company ``cash_cents`` from the mint (past the $50,000 threshold by default) and take it public."""
    from economy_app.services import accounts, companies, ledger
    from economy_app.services._tx import unit

    with unit(s, write=True):
        ledger.post(
            s,
            from_account_id=accounts.system_account_id(s),
            to_account_id=account_id,
            amount=cash_cents,
            type="adjustment",
        )
    assert companies.check_and_update_public_status(s, company_id)
