"""End-to-end fixtures: the app started as `make run` starts it (prod build, one port) on a
fresh database, and Debian's Chromium driven by Playwright (never a downloaded browser)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from economy_app import migrate
from tests.support.pgserver import free_port

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
STARTUP_SECONDS = 600  # the first start compiles the frontend


class AppServer:
    def __init__(self, url: str, database_url: str, log: Path):
        self.url, self.database_url, self.log = url, database_url, log


@pytest.fixture(scope="session")
def app_server(tmp_path_factory):
    if shutil.which("bun", path=str(ROOT / ".tools/node_modules/.bin")) is None:
        pytest.fail("bun is missing: run `make test` (it installs bun from the npm registry)")
    workdir = tmp_path_factory.mktemp("app")
    database_url = f"sqlite:///{workdir / 'economy.db'}"
    migrate.upgrade(database_url)
    port = free_port()
    # The scheduler stays off: tests trigger marketplace runs themselves, so none lands mid-test.
    env = dict(os.environ, DATABASE_URL=database_url, REFLEX_TELEMETRY_ENABLED="false", REFLEX_USE_SYSTEM_BUN="1",
               ECONOMY_SCHEDULER="off",
               PATH=f"{ROOT / '.tools/node_modules/.bin'}:{Path(sys.executable).parent}:{os.environ['PATH']}")
    log = workdir / "app.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "reflex"), "run", "--env", "prod", "--single-port",
             "--frontend-port", str(port), "--backend-port", str(port)],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_SECONDS
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the app exited while starting:\n{log.read_text()[-4000:]}")
            try:
                with urllib.request.urlopen(url + "/ping", timeout=2) as r:
                    if r.status == 200:
                        with urllib.request.urlopen(url + "/", timeout=5) as page:
                            if page.status == 200:
                                break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the app did not start in {STARTUP_SECONDS}s:\n{log.read_text()[-4000:]}")
            time.sleep(1)
        yield AppServer(url, database_url, log)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail("Debian's chromium is missing: run `make test` (apt-get install chromium)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield page
    context.close()


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
