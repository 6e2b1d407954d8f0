"""House rules that check themselves, by reading the code (an AST walk, no import):

- ``services/``, ``models/`` and ``jobs/`` never import reflex (the service layer runs without a browser);
- ``pages/`` never import ``db`` (a page calls services, never the database);
- only the ledger package (``services/ledger/``) writes the money tables: ``balances``, ``accounts.balance``,
  ``ledger``, ``balance_history``, and the archive's ``ledger_archive`` and ``ledger_checkpoints``.

Each checker is also run on a small snippet that breaks its rule, so a checker that stopped seeing anything
fails here too.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[2] / "economy_app"

MONEY_MODELS = {"Balance", "LedgerEntry", "BalanceHistory", "LedgerArchive", "LedgerCheckpoint"}
MONEY_TABLES = {"balances", "ledger", "balance_history", "ledger_archive", "ledger_checkpoints"}
_RAW_WRITE = re.compile(r"\b(?:UPDATE|INSERT\s+INTO|DELETE\s+FROM)\s+(\w+)(?:\s+SET\s+(\w+))?", re.IGNORECASE)


def _modules(*parts: str) -> list[Path]:
    return sorted(p for part in parts for p in (APP / part).rglob("*.py"))


def _imports(tree: ast.AST) -> list[str]:
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
            names += [f"{node.module}.{a.name}" for a in node.names]
    return names


def reflex_imports(source: str) -> list[str]:
    return [n for n in _imports(ast.parse(source)) if n == "reflex" or n.startswith(("reflex.", "reflex_"))]


def db_imports(source: str) -> list[str]:
    return [
        n
        for n in _imports(ast.parse(source))
        if n in ("economy_app.db", "economy_app.db.get_session") or n.startswith("economy_app.db.")
    ]


def _table_names(tree: ast.AST) -> dict[str, str]:
    """Names bound to a table in this module: ``x = Model.__table__`` -> {x: Model}, ``Model.__table__`` itself."""
    tables = {}
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Attribute)
            and node.value.attr == "__table__"
            and isinstance(node.value.value, ast.Name)
        ):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    tables[target.id] = node.value.value.id
    return tables


def _model_of(node: ast.AST, tables: dict[str, str]) -> str | None:
    if isinstance(node, ast.Name):
        return tables.get(node.id) or (node.id if node.id in MONEY_MODELS | {"Account"} else None)
    if isinstance(node, ast.Attribute) and node.attr == "__table__" and isinstance(node.value, ast.Name):
        return node.value.id
    return None


def money_writes(source: str) -> list[str]:
    """Every statement in ``source`` that writes a money table (see the module's docstring)."""
    tree = ast.parse(source)
    tables = _table_names(tree)
    found = []

    def written(call: ast.Call) -> tuple[str | None, ast.Call]:
        """The model a write statement starts from: insert(T), update(T), delete(T), T.insert() ...,
        dialect_insert(s, T), insert_ignore(s, T, ...)."""
        f = call.func
        if isinstance(f, ast.Name) and f.id in ("insert", "update", "delete") and call.args:
            return _model_of(call.args[0], tables), call
        if isinstance(f, ast.Attribute) and f.attr in ("insert", "update", "delete"):
            return _model_of(f.value, tables), call
        if (
            isinstance(f, (ast.Name, ast.Attribute))
            and getattr(f, "id", getattr(f, "attr", "")) in ("dialect_insert", "insert_ignore")
            and len(call.args) >= 2
        ):
            return _model_of(call.args[1], tables), call
        return None, call

    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            model, _ = written(node)
            if model in MONEY_MODELS:
                found.append(f"line {node.lineno}: writes {model}")
            # accounts may be written (names), but never its balance column: .values(balance=...) on a
            # statement that starts from the accounts table
            if (
                isinstance(node.func, ast.Attribute)
                and node.func.attr == "values"
                and any(k.arg == "balance" for k in node.keywords)
            ):
                inner = node.func.value
                while (
                    isinstance(inner, ast.Call) and isinstance(inner.func, ast.Attribute) and written(inner)[0] is None
                ):
                    inner = inner.func.value
                if isinstance(inner, ast.Call) and written(inner)[0] == "Account":
                    found.append(f"line {node.lineno}: writes accounts.balance")
            # ORM rows of a money table
            if isinstance(node.func, ast.Name) and node.func.id in MONEY_MODELS:
                found.append(f"line {node.lineno}: builds a {node.func.id} row")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            for m in _RAW_WRITE.finditer(node.value):
                table, column = m.group(1).lower(), (m.group(2) or "").lower()
                if table in MONEY_TABLES or (table == "accounts" and column == "balance"):
                    found.append(f"line {node.lineno}: SQL writes {table}{'.' + column if column else ''}")
    return found


@pytest.mark.parametrize("path", _modules("services", "models", "jobs"), ids=lambda p: str(p.relative_to(APP)))
def test_services_models_and_jobs_never_import_reflex(path):
    assert reflex_imports(path.read_text()) == []


@pytest.mark.parametrize("path", _modules("pages"), ids=lambda p: str(p.relative_to(APP)))
def test_pages_never_import_db(path):
    assert db_imports(path.read_text()) == []


def test_only_the_ledger_package_writes_the_money_tables():
    ledger = APP / "services" / "ledger"
    writers = {
        str(p.relative_to(APP)): w
        for p in sorted(APP.rglob("*.py"))
        if ledger not in p.parents and (w := money_writes(p.read_text()))
    }
    assert writers == {}
    # and the ledger package does write them (the checker sees what it looks for)
    assert money_writes((ledger / "posting.py").read_text())
    assert money_writes((ledger / "repair.py").read_text())
    assert money_writes((ledger / "archive.py").read_text())


def test_the_checkers_see_a_broken_rule():
    assert reflex_imports("import reflex as rx\n") == ["reflex"]
    assert reflex_imports("from reflex.state import State\n")
    assert db_imports("from economy_app.db import get_session\n")
    assert db_imports("from economy_app import db\n")
    assert money_writes("b = Balance.__table__\ns.execute(update(b).values(balance=1))\n")
    assert money_writes("s.execute(LedgerEntry.__table__.insert().values(amount=1))\n")
    assert money_writes("a = Account.__table__\ns.execute(update(a).where(a.c.id == 1).values(balance=0))\n")
    assert money_writes("s.add(BalanceHistory(account_id=1))\n")
    assert money_writes("s.execute(text('UPDATE balances SET balance = 0'))\n")
    assert money_writes("s.execute(text('update accounts set balance = 0'))\n")
    assert money_writes("insert_ignore(s, Balance.__table__, {}, index_elements=['account_id'])\n")
    # names and other tables stay writable
    assert money_writes("a = Account.__table__\ns.execute(update(a).values(name='x'))\n") == []
    assert money_writes("s.execute(text('UPDATE accounts SET name = :n'))\n") == []
