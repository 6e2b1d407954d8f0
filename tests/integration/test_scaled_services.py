"""What the scaled mode stands on: `economy services up/down` and fork-safe engines."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import socket
import tempfile
from pathlib import Path

import pytest
from sqlalchemy import text

from economy_app import cli, db, localservices


def _require(binary_ok: bool, what: str) -> None:
    if not binary_ok:
        message = f"{what} is not installed (make test installs it)"
        if os.environ.get("ECONOMY_REQUIRE_POSTGRES") == "1":
            pytest.fail(message)
        pytest.skip(message)


def _redis_ping(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"PING\r\n")
        return sock.recv(64)


@pytest.fixture
def data_dir():
    """A data directory the postgres system user can reach (pytest's tmp_path sits under a private one)."""
    path = Path(tempfile.mkdtemp(prefix="economy-services-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_services_up_starts_what_is_missing_and_down_stops_it(data_dir, monkeypatch, capsys):
    _require(localservices.find_pg_bindir() is not None, "PostgreSQL")
    _require(os.access("/usr/bin/redis-server", os.X_OK), "Redis")
    pg_port, redis_port = localservices.free_port(), localservices.free_port()
    monkeypatch.setenv("ECONOMY_DATA_DIR", str(data_dir))
    args = ["services", "up", "--pg-port", str(pg_port), "--redis-port", str(redis_port)]
    try:
        assert cli.main(args) == 0
        printed = dict(line.split("=", 1) for line in capsys.readouterr().out.split())
        assert printed == {
            "DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:{pg_port}/economy",
            "REFLEX_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        }
        assert (data_dir / "postgres" / "PG_VERSION").exists()
        engine = db.make_engine(printed["DATABASE_URL"])
        with engine.connect() as conn:
            conn.execute(text("CREATE TABLE marker (id int)"))
            conn.commit()
        engine.dispose()
        assert _redis_ping(redis_port) == b"+PONG\r\n"

        # A second `up` finds both running: nothing restarted, the database and its data kept.
        assert cli.main(args) == 0
        engine = db.make_engine(printed["DATABASE_URL"])
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM marker")).scalar_one() == 0
        engine.dispose()
    finally:
        cli.main(["services", "down", "--pg-port", str(pg_port), "--redis-port", str(redis_port)])
    assert not localservices.port_open(pg_port)
    assert not localservices.port_open(redis_port)


def _child_engine_is_new(url: str, parent_engine_id: int, out) -> None:
    engine = db.get_engine(url)
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    out.send(id(engine) != parent_engine_id and engine.pool.checkedout() == 0)


def test_a_forked_worker_opens_its_own_connections(tmp_path):
    """Granian forks its workers from a supervisor that imported the app: a worker must never use
    a pooled connection the parent opened."""
    url = f"sqlite:///{tmp_path / 'fork.db'}"
    parent = db.get_engine(url)
    with parent.connect() as conn:
        conn.execute(text("SELECT 1"))  # a pooled connection now exists in the parent
    ctx = multiprocessing.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_child_engine_is_new, args=(url, id(parent), send))
    child.start()
    child.join(30)
    assert child.exitcode == 0
    assert receive.recv() is True
    assert db.get_engine(url) is parent  # the parent keeps its engine
    parent.dispose()
