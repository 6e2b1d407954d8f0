"""End-to-end fixtures: the app started as `make run` starts it (prod build, one port) on a
fresh database, and Debian's Chromium driven by Playwright (never a downloaded browser)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from economy_app import migrate
from tests.support.appserver import ROOT, AppStartError, RunningApp
from tests.support.pgserver import free_port

ARTIFACTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def pytest_collection_modifyitems(config, items):
    """The scaled-mode tests (tests/e2e/test_scaled.py) run before the other end-to-end tests: starting
    an app rebuilds the frontend in .web and clears .states, so two apps of one checkout must not overlap.
    The scaled app is a module fixture, gone before the session's SQLite app starts."""

    def rank(item) -> int:
        path = str(item.path)
        if "/tests/e2e/" not in path:
            return 0
        return 1 if path.endswith("test_scaled.py") else 2

    items.sort(key=rank)  # stable: the order inside each group stays


def no_hold_for_new_listings(database_url: str) -> None:
    """The tests list products and trigger a marketplace run at once: the test database starts with the
    hold for new listings at 0 (a stored marketplace setting, so the app and every `economy marketplace
    run` the tests start obey it). tests/unit/test_marketplace.py covers the hold itself."""
    from sqlmodel import Session

    from economy_app.db import make_engine
    from economy_app.services import marketplace_settings

    engine = make_engine(database_url)
    with Session(engine) as s:
        marketplace_settings.save(s, {"hold_seconds": 0}, by="e2e set-up")
    engine.dispose()


@pytest.fixture(scope="session")
def app_server(tmp_path_factory):
    """The app on SQLite with one worker, as `make run` starts it."""
    if shutil.which("bun", path=str(ROOT / ".tools/node_modules/.bin")) is None:
        pytest.fail("bun is missing: run `make test` (it installs bun from the npm registry)")
    workdir = tmp_path_factory.mktemp("app")
    database_url = f"sqlite:///{workdir / 'economy.db'}"
    migrate.upgrade(database_url)
    no_hold_for_new_listings(database_url)
    # The scheduler stays off: tests trigger marketplace runs themselves, so none lands mid-test.
    app = RunningApp(
        port=free_port(), log=workdir / "app.log", database_url=database_url, extra_env={"ECONOMY_SCHEDULER": "off"}
    )
    try:
        app.wait_ready()
    except AppStartError as e:
        app.stop()
        pytest.fail(str(e))
    yield app
    app.stop()


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
