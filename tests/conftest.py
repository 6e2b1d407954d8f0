"""Fixtures: every service test runs on SQLite and on PostgreSQL (``db_url`` is parametrized).

SQLite: a copy of a migrated template file per test. PostgreSQL: one throwaway
cluster per session (tests/support/pgserver.py), migrated once and emptied
before each test. Without PostgreSQL installed its cases skip, unless
ECONOMY_REQUIRE_POSTGRES=1 (as `make test` sets), which turns that into a failure.
"""

from __future__ import annotations

import os
import shutil

import pytest
from sqlmodel import Session

os.environ.setdefault("ECONOMY_PASSWORD_PROFILE", "cheapest")
os.environ.setdefault("REFLEX_TELEMETRY_ENABLED", "false")

from economy_app import migrate  # noqa: E402
from economy_app.db import make_engine  # noqa: E402
from tests.support.db import wipe  # noqa: E402

BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    path = tmp_path_factory.mktemp("template") / "template.db"
    migrate.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_server():
    from tests.support.pgserver import PostgresServer, find_bindir

    if find_bindir() is None:
        message = "PostgreSQL is not installed (make test installs it: apt-get install postgresql)"
        if os.environ.get("ECONOMY_REQUIRE_POSTGRES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_template_url(postgres_server):
    url = postgres_server.create_database("economy_test")
    migrate.upgrade(url)
    return url


def new_sqlite_url(template, directory) -> str:
    path = directory / "economy.db"
    shutil.copyfile(template, path)
    return f"sqlite:///{path}"


@pytest.fixture(params=BACKENDS)
def db_url(request, tmp_path):
    if request.param == "sqlite":
        return new_sqlite_url(request.getfixturevalue("sqlite_template"), tmp_path)
    url = request.getfixturevalue("postgres_template_url")
    engine = make_engine(url)
    wipe(engine)
    engine.dispose()
    return url


@pytest.fixture
def engine(db_url):
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine):
    with Session(engine, expire_on_commit=False) as s:
        yield s
