"""A throwaway PostgreSQL cluster on a loopback port, from Debian's server binaries.

Started once per test session in a temporary directory, fsync off (a test
cluster, never real data). The cluster code is the app's own
(``economy_app.localservices``), the same that ``make run-scaled`` uses.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from economy_app.localservices import PostgresCluster, find_pg_bindir, free_port

find_bindir = find_pg_bindir
__all__ = ["PostgresServer", "find_bindir", "free_port"]


class PostgresServer(PostgresCluster):
    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="economy-pg-"))
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        super().__init__(self.root / "data", free_port(), durable=False)

    def start(self) -> PostgresServer:
        self.init()
        super().start()
        return self

    def create_database(self, name: str, *, replace: bool = True) -> str:
        return super().create_database(name, replace=replace)

    def stop(self) -> None:
        super().stop(mode="immediate")
        shutil.rmtree(self.root, ignore_errors=True)
