"""PostgreSQL and Redis on loopback, from Debian's packages, for the scaled mode on one machine.

``make run-scaled`` calls ``economy services up``: a project-local PostgreSQL
cluster (``data/postgres``) and a Redis server (``data/redis``) are started if
nothing answers on their ports yet, and the database is created if missing.
Both listen on 127.0.0.1 only; PostgreSQL trusts loopback connections (the
cluster is this machine's alone). The test suite starts its own throwaway
clusters with the same code (``tests/support/pgserver.py``).

No module state: every call looks at the ports and the data directories.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

DEFAULT_PG_PORT = 5433  # not 5432, so a system cluster can keep its port
DEFAULT_REDIS_PORT = 6380
DEFAULT_DATABASE = "economy"
LOOPBACK = "127.0.0.1"


def find_pg_bindir() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` (Debian's server binaries)."""

    def version(path: str) -> int:
        name = Path(path).parent.parent.name
        return int(name) if name.isdigit() else 0

    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=version)
    return Path(candidates[-1]).parent if candidates else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def port_open(port: int, host: str = LOOPBACK) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def wait_port(port: int, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not port_open(port):
        if time.monotonic() > deadline:
            raise TimeoutError(f"nothing answers on {LOOPBACK}:{port} after {seconds:.0f}s")
        time.sleep(0.2)


class ServiceError(RuntimeError):
    """A server did not start or stop; the message carries its own words."""


class PostgresCluster:
    """One PostgreSQL cluster in ``datadir`` listening on ``LOOPBACK:port``.

    ``durable=False`` turns fsync and friends off (test clusters only). As root
    the server runs as the ``postgres`` system user, which Debian's package
    creates (PostgreSQL refuses to run as root).
    """

    user = "postgres"

    def __init__(self, datadir: Path, port: int, *, durable: bool = True, max_connections: int = 200):
        bindir = find_pg_bindir()
        if bindir is None:
            raise FileNotFoundError("PostgreSQL server binaries not found (apt-get install postgresql)")
        self.bindir, self.datadir, self.port = bindir, Path(datadir).resolve(), port
        self.durable, self.max_connections = durable, max_connections
        self._as_postgres = os.geteuid() == 0

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        cmd = list(args)
        if self._as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            raise ServiceError(
                f"{Path(args[0]).name} failed ({done.returncode}): {(done.stderr or done.stdout).strip()[-2000:]}"
            )
        return done

    @property
    def log_file(self) -> Path:
        return self.datadir.parent / f"{self.datadir.name}.log"

    def initialised(self) -> bool:
        return (self.datadir / "PG_VERSION").exists()

    def init(self) -> None:
        self.datadir.mkdir(parents=True, exist_ok=True)
        if self._as_postgres:
            shutil.chown(self.datadir, "postgres", "postgres")
            self.datadir.chmod(0o700)
            if not self.log_file.exists():
                self.log_file.touch()
            shutil.chown(self.log_file, "postgres", "postgres")
            reachable = subprocess.run(["runuser", "-u", "postgres", "--", "test", "-w", str(self.datadir)])
            if reachable.returncode != 0:
                raise ServiceError(
                    f"the postgres system user cannot reach {self.datadir}: every directory "
                    "above it must be searchable by others (chmod o+x)"
                )
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.datadir),
            "-U",
            self.user,
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
            *([] if self.durable else ["--no-sync"]),
        )

    def start(self) -> None:
        opts = (
            f"-p {self.port} -k {self.datadir} -c listen_addresses={LOOPBACK} -c max_connections={self.max_connections}"
        )
        if not self.durable:
            opts += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.datadir),
            "-o",
            opts,
            "-l",
            str(self.log_file),
            "-w",
            "-t",
            "60",
            "start",
        )
        wait_port(self.port)

    def stop(self, mode: str = "fast") -> None:
        try:
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", mode, "-w", "stop")
        except ServiceError:
            pass

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{self.user}@{LOOPBACK}:{self.port}/{database}"

    def create_database(self, name: str, *, replace: bool = False) -> str:
        """Create database ``name`` (dropping it first when ``replace``); its URL."""
        import psycopg

        with psycopg.connect(
            f"host={LOOPBACK} port={self.port} user={self.user} dbname=postgres", autocommit=True
        ) as conn:
            if replace:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


class RedisServer:
    """A Redis server on ``LOOPBACK:port`` with its files in ``datadir`` (Debian's ``redis-server``).

    Redis holds Reflex's per-tab UI state only (the game's data is in PostgreSQL),
    so it runs without snapshots: a restart sends every tab through hydrate again.
    """

    def __init__(self, datadir: Path, port: int):
        self.datadir, self.port = Path(datadir).resolve(), port
        self.binary = shutil.which("redis-server") or "/usr/bin/redis-server"

    def url(self, db: int = 0) -> str:
        return f"redis://{LOOPBACK}:{self.port}/{db}"

    def start(self) -> None:
        if not os.access(self.binary, os.X_OK):
            raise FileNotFoundError("redis-server not found (apt-get install redis-server)")
        self.datadir.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                LOOPBACK,
                "--daemonize",
                "yes",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.datadir),
                "--pidfile",
                str(self.datadir / "redis.pid"),
                "--logfile",
                str(self.datadir / "redis.log"),
            ],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise ServiceError(f"redis-server failed ({done.returncode}): {(done.stderr or done.stdout).strip()}")
        wait_port(self.port)

    def stop(self) -> None:
        pidfile = self.datadir / "redis.pid"
        if not pidfile.exists():
            return
        try:
            pid = int(pidfile.read_text().strip())
            os.kill(pid, 15)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
                time.sleep(0.1)
        except (ValueError, ProcessLookupError):
            pass


def up(
    datadir: Path,
    *,
    pg_port: int = DEFAULT_PG_PORT,
    redis_port: int = DEFAULT_REDIS_PORT,
    database: str = DEFAULT_DATABASE,
) -> dict[str, str]:
    """Start whichever of PostgreSQL and Redis is not answering yet; create the database. Their URLs."""
    pg = PostgresCluster(datadir / "postgres", pg_port)
    if not port_open(pg_port):
        if not pg.initialised():
            pg.init()
        pg.start()
    database_url = pg.create_database(database)
    redis = RedisServer(datadir / "redis", redis_port)
    if not port_open(redis_port):
        redis.start()
    return {"DATABASE_URL": database_url, "REFLEX_REDIS_URL": redis.url()}


def down(datadir: Path, *, pg_port: int = DEFAULT_PG_PORT, redis_port: int = DEFAULT_REDIS_PORT) -> None:
    """Stop the PostgreSQL cluster and the Redis server that ``up`` started from ``datadir``."""
    pg = PostgresCluster(datadir / "postgres", pg_port)
    if pg.initialised():
        pg.stop()
    RedisServer(datadir / "redis", redis_port).stop()
