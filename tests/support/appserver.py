"""Start the app as `make run` / `make run-scaled` start it (prod build, one port) and stop it again.

Used by the end-to-end tests and by bench/load.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 600  # the first start compiles the frontend


class AppStartError(RuntimeError):
    pass


class RunningApp:
    """A `reflex run --env prod --single-port` process tree serving ``url``."""

    def __init__(
        self,
        *,
        port: int,
        log: Path,
        database_url: str,
        redis_url: str | None = None,
        workers: int = 1,
        extra_env: dict[str, str] | None = None,
        backend_only: bool = False,
    ):
        self.port, self.log, self.database_url, self.redis_url = port, log, database_url, redis_url
        self.workers = workers
        self.url = f"http://127.0.0.1:{port}"
        bindir = Path(sys.executable).parent
        env = dict(
            os.environ,
            DATABASE_URL=database_url,
            REFLEX_TELEMETRY_ENABLED="false",
            REFLEX_USE_SYSTEM_BUN="1",
            GRANIAN_WORKERS=str(workers),
            PATH=f"{ROOT / '.tools/node_modules/.bin'}:{bindir}:{os.environ['PATH']}",
        )
        env.pop("REFLEX_REDIS_URL", None)
        # Test and benchmark players all come from 127.0.0.1: lift the per-address abuse limits (tests that
        # check them set their own through extra_env).
        env.setdefault("ECONOMY_SIGNUPS_PER_ADDRESS", "100000")
        env.setdefault("ECONOMY_LOGIN_ADDRESS_FAILURES", "100000")
        if redis_url:
            env["REFLEX_REDIS_URL"] = redis_url
        env.update(extra_env or {})
        # Backend only: no frontend build, so a second process can serve beside one already running
        # from this checkout (as another app host would).
        ports = (
            ["--backend-only", "--backend-port", str(port)]
            if backend_only
            else ["--single-port", "--frontend-port", str(port), "--backend-port", str(port)]
        )
        self.backend_only = backend_only
        with open(log, "w") as out:
            self.proc = subprocess.Popen(
                [str(bindir / "reflex"), "run", "--env", "prod", *ports],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def output(self, tail: int | None = 4000) -> str:
        text = self.log.read_text(errors="replace")
        return text[-tail:] if tail else text

    def wait_ready(self, seconds: float = STARTUP_SECONDS) -> RunningApp:
        deadline = time.monotonic() + seconds
        while True:
            if self.proc.poll() is not None:
                raise AppStartError(f"the app exited while starting:\n{self.output()}")
            try:
                with (
                    urllib.request.urlopen(self.url + "/ping", timeout=2) as r,
                    urllib.request.urlopen(self.url + ("/ping" if self.backend_only else "/"), timeout=5) as page,
                ):
                    if r.status == 200 and page.status == 200 and len(self.worker_pids()) >= self.workers:
                        return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AppStartError(f"the app did not start in {seconds:.0f}s:\n{self.output()}")
            time.sleep(1)

    def worker_pids(self) -> list[int]:
        """The processes serving requests: the children of the server process (Granian's workers),
        or the server process itself when it has none."""

        def children(pid: int) -> list[int]:
            try:
                with open(f"/proc/{pid}/task/{pid}/children") as f:
                    return [int(p) for p in f.read().split()]
            except OSError:
                return []

        workers = children(self.proc.pid)
        return workers or [self.proc.pid]

    def rss_mib(self) -> dict[int, float]:
        """Resident memory of each worker, MiB."""
        out = {}
        for pid in self.worker_pids():
            try:
                with open(f"/proc/{pid}/status") as f:
                    for line in f:
                        if line.startswith("VmRSS:"):
                            out[pid] = int(line.split()[1]) / 1024
            except OSError:
                pass
        return out

    def stop(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=20)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
