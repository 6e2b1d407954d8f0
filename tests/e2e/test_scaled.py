"""The scaled mode, as `make run-scaled` runs it: PostgreSQL + Redis + 2 workers, scheduler on.

The jobs run on short test intervals, so several slots pass while the players play.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections import defaultdict
from datetime import datetime

import pytest
from playwright.sync_api import expect
from reflex.state import OnLoadInternalState
from reflex_base.utils.format import format_event_handler
from sqlalchemy import select
from sqlmodel import Session

from economy_app import migrate
from economy_app.localservices import RedisServer, free_port
from economy_app.models import JobRun, LedgerEntry
from economy_app.services import seed
from tests.e2e.conftest import screenshot
from tests.e2e.helpers import PASSWORD, Truth, choose_recipient, crafted_events, sign_up, unique
from tests.support.appserver import AppStartError, RunningApp
from tests.support.db import check_invariants

pytestmark = pytest.mark.e2e

WORKERS = 2
MARKETPLACE_SECONDS = 2
PRICE_SECONDS = 3
LOG_LINE = re.compile(r"\[worker (\d+)\] economy_app\.jobs\.scheduler: (.*)$")


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    if not os.access("/usr/bin/redis-server", os.X_OK):
        message = "Redis is not installed (make test installs it: apt-get install redis-server)"
        if os.environ.get("ECONOMY_REQUIRE_POSTGRES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    server = RedisServer(tmp_path_factory.mktemp("redis"), free_port())
    server.start()
    yield server.url()
    server.stop()


@pytest.fixture(scope="module")
def scaled_app(postgres_server, redis_url, tmp_path_factory):
    database_url = postgres_server.create_database("economy_scaled")
    migrate.upgrade(database_url)
    truth = Truth(database_url)
    with Session(truth.engine) as s:
        assert seed.seed_demo_world(s), "the demo world (two companies with products) was not created"
    workdir = tmp_path_factory.mktemp("scaled")
    app = RunningApp(
        port=free_port(),
        log=workdir / "app.log",
        database_url=database_url,
        redis_url=redis_url,
        workers=WORKERS,
        extra_env={
            "ECONOMY_MARKETPLACE_INTERVAL_SECONDS": str(MARKETPLACE_SECONDS),
            "ECONOMY_PRICE_INTERVAL_SECONDS": str(PRICE_SECONDS),
        },
    )
    try:
        app.wait_ready()
    except AppStartError as e:
        app.stop()
        pytest.fail(str(e))
    app.truth = truth
    yield app
    app.stop()
    truth.engine.dispose()


def test_two_players_on_two_workers_send_each_other_money(scaled_app, browser):
    base, truth = scaled_app.url, scaled_app.truth
    assert len(scaled_app.worker_pids()) == WORKERS
    a_name, b_name = unique("ann"), unique("ben")
    a_ctx, b_ctx = browser.new_context(), browser.new_context()
    a, b = a_ctx.new_page(), b_ctx.new_page()
    for page in (a, b):
        page.set_default_timeout(20_000)
    sign_up(a, base, a_name)
    sign_up(b, base, b_name)

    send(a, base, b_name, "123.45")
    send(b, base, a_name, "23.45")

    # Each reload is a new websocket, served by whichever worker takes it: still logged in, same figures.
    for _ in range(3):
        for page, worth, latest, other in ((a, "$9,900.00", "+$23.45", b_name), (b, "$10,100.00", "-$23.45", a_name)):
            page.goto(base + "/dashboard")
            expect(page.locator("#net-worth")).to_have_text(worth)
            expect(page.locator(".history-row").first).to_contain_text(latest)
            expect(page.locator(".history-row").first).to_contain_text(other)
    for page in (a, b):
        page.goto(base + "/history")
        expect(page.locator(".history-row")).to_have_count(3)  # welcome deposit, sent, received
    screenshot(a, "scaled-history-2-workers")
    assert truth.balance(a_name) == 990_000 and truth.balance(b_name) == 1_010_000
    check_invariants(truth.engine)  # while the marketplace keeps running on its 2 s slots
    a_ctx.close()
    b_ctx.close()


def test_another_host_serves_a_logged_in_tabs_next_event(scaled_app, browser, tmp_path):
    """A second app process (as a second host would run it: same PostgreSQL, same Redis) serves the next
    event of a tab that logged in on the first one: the tab's state is in Redis and its session in the
    database, so nothing depends on which process serves it."""
    other = RunningApp(
        port=free_port(),
        log=tmp_path / "host-b.log",
        database_url=scaled_app.database_url,
        redis_url=scaled_app.redis_url,
        extra_env={"ECONOMY_SCHEDULER": "off"},
        backend_only=True,
    )
    try:
        other.wait_ready()
        context = browser.new_context()
        page = context.new_page()
        name = unique("cara")
        sign_up(page, scaled_app.url, name)
        expect(page.locator("#net-worth")).to_have_text("$10,000.00")
        # A page this tab has not opened yet (a page sends only what changed: the dashboard host A showed would
        # come back from host B equal, so empty): host B must find the tab's session token in Redis to show it.
        replies = crafted_events(
            other.url, page, [(format_event_handler(OnLoadInternalState.on_load_internal), {})], path="/send"
        )
        context.close()
    finally:
        other.stop()
    sources = [r for r in replies if "sources_rx_state_" in r]
    assert sources, f"host B answered nothing for the send page: {replies}"
    assert f'"name": "{name}"' in sources[0] and '"balance": "$10,000.00"' in sources[0]
    assert not any('"/login"' in r for r in replies), "host B sent the tab to the login page"


def test_a_login_that_outlasts_the_tabs_state_lock_still_logs_the_player_in(scaled_app, browser):
    """A login waits on the database for longer than Reflex's lock on the tab's state in Redis lives (10 s):
    here the sessions table (auth_sessions) is held by another transaction, as a queue of password hashes or a long write
    would hold it. The tab's state must not be locked while the login waits, or its lock expires first and
    Reflex refuses to save the tab's state (LockExpiredError): the session the login made was not stored in
    the tab on the server (a client without the browser's localStorage copy, as bench/load.py's, was sent
    back to the login page)."""
    base, truth = scaled_app.url, scaled_app.truth
    name = unique("lena")
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(20_000)
    sign_up(page, base, name)
    page.get_by_role("button", name="Log out", exact=True).click()
    page.wait_for_url("**/login")

    log_before = scaled_app.log.read_text(errors="replace").count("LockExpiredError")
    held, release = threading.Event(), threading.Event()

    def hold_sessions():
        with truth.engine.connect() as conn, conn.begin():
            conn.exec_driver_sql("LOCK TABLE auth_sessions IN EXCLUSIVE MODE")  # reads go on; a new session waits
            held.set()
            release.wait(30)

    holder = threading.Thread(target=hold_sessions)
    holder.start()
    try:
        assert held.wait(10)
        page.get_by_label("Username", exact=True).fill(name)
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Log in", exact=True).click()
        time.sleep(12)  # past the tab's 10 s state lock
    finally:
        release.set()
        holder.join()
    page.wait_for_url("**/dashboard", timeout=30_000)
    expect(page.locator("#net-worth")).to_have_text("$10,000.00")
    page.goto(base + "/history")  # a new page load: the session is stored in the tab and still good
    expect(page.locator(".history-row")).to_have_count(1)
    assert "/login" not in page.url
    # The tab's state was saved with the new session: the server refused no save of it (before, the login's
    # save came after its expired lock and was refused; the browser only got in through its localStorage copy).
    assert scaled_app.log.read_text(errors="replace").count("LockExpiredError") == log_before
    context.close()


def test_money_sent_through_another_host_shows_live_on_the_receivers_open_tab(scaled_app, browser, tmp_path):
    """Live updates across processes: the receiver's tab is served by the first app's workers, the sender's
    click by a second app process (another host: same PostgreSQL, same Redis). The commit's NOTIFY reaches
    the worker holding the receiver's socket, which updates the open dashboard without a reload."""
    from economy_app.pages.send import SendState

    other = RunningApp(
        port=free_port(),
        log=tmp_path / "host-b.log",
        database_url=scaled_app.database_url,
        redis_url=scaled_app.redis_url,
        extra_env={"ECONOMY_SCHEDULER": "off"},
        backend_only=True,
    )
    try:
        other.wait_ready()
        r_ctx, s_ctx = browser.new_context(), browser.new_context()
        receiver, sender = r_ctx.new_page(), s_ctx.new_page()
        r_name, s_name = unique("rhea"), unique("sol")
        sign_up(receiver, scaled_app.url, r_name)
        sign_up(sender, scaled_app.url, s_name)
        expect(receiver.locator("#net-worth")).to_have_text("$10,000.00")
        sender.goto(scaled_app.url + "/send")
        choose_recipient(sender, r_name)
        sender.get_by_label("Amount", exact=True).fill("1.00")
        expect(sender.locator("#send-preview")).to_be_visible()
        # The click, served by host B.
        replies = crafted_events(
            other.url, sender, [(format_event_handler(SendState.confirm), {"key": "live-b-1"})], path="/send"
        )
        assert any(f"Sent $1.00 to {r_name}." in r for r in replies), replies
        expect(receiver.locator("#net-worth")).to_have_text("$10,001.00", timeout=5_000)
        expect(receiver.get_by_text(f"You received $1.00 from {s_name}")).to_be_visible()
        r_ctx.close()
        s_ctx.close()
    finally:
        other.stop()
    assert scaled_app.truth.balance(r_name) == 1_000_100


def send(page, base: str, recipient: str, amount: str) -> None:
    page.goto(base + "/send")
    choose_recipient(page, recipient)
    page.get_by_label("Amount", exact=True).fill(amount)
    expect(page.locator("#send-preview")).to_be_visible()
    page.get_by_role("button", name="Confirm and send", exact=True).click()
    expect(page.get_by_text(f"Sent ${amount} to {recipient}.")).to_be_visible()


def _scheduler_lines(app: RunningApp) -> list[tuple[int, str]]:
    out = []
    for line in app.output(tail=None).splitlines():
        m = LOG_LINE.search(line)
        if m:
            out.append((int(m.group(1)), m.group(2)))
    return out


def test_two_workers_run_each_slot_once(scaled_app):
    workers = set(scaled_app.worker_pids())
    # Let at least five marketplace slots pass after both schedulers are up.
    deadline = time.monotonic() + 60
    while True:
        started = {pid for pid, msg in _scheduler_lines(scaled_app) if msg.startswith("scheduler started")}
        if started == workers or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert started == workers, f"schedulers started in {started}, workers are {workers}:\n{scaled_app.output()}"
    time.sleep(5 * MARKETPLACE_SECONDS + 1)
    lines = _scheduler_lines(scaled_app)

    # Every worker fired on every slot; for each slot exactly one of them ran it, the other found it claimed.
    ran, claimed = defaultdict(list), defaultdict(list)
    for pid, msg in lines:
        if m := re.match(r"marketplace run (\d+) \(slot (\S+)\)", msg):
            ran[m.group(2)].append(pid)
        elif m := re.match(r"marketplace slot (\S+): already claimed", msg):
            claimed[m.group(1)].append(pid)
    both = [slot for slot in sorted(set(ran) | set(claimed)) if len(ran[slot]) + len(claimed[slot]) >= WORKERS]
    assert len(both) >= 4, f"too few slots where both workers fired: {dict(ran)} {dict(claimed)}"
    for slot in both:
        assert len(ran[slot]) == 1, f"slot {slot} ran {len(ran[slot])} times"
        assert set(ran[slot]) | set(claimed[slot]) == workers, f"slot {slot}: {ran[slot]} ran, {claimed[slot]} claimed"
    assert all(len(pids) == 1 for pids in ran.values()), f"a slot ran twice: {dict(ran)}"

    # The database agrees: one ok job_runs row per slot, no gap between the first and last slot.
    engine = scaled_app.truth.engine
    with Session(engine) as s:
        runs = s.execute(
            select(JobRun.slot, JobRun.status, JobRun.started_at)
            .where(JobRun.job_name == "marketplace")
            .order_by(JobRun.slot)
        ).all()
        entries = s.execute(
            select(
                LedgerEntry.created_at, LedgerEntry.from_account_id, LedgerEntry.to_account_id, LedgerEntry.batch_count
            ).where(LedgerEntry.type == "marketplace_batch")
        ).all()
    slots = [r.slot for r in runs]
    assert len(slots) == len(set(slots)), f"a slot has two job_runs rows: {slots}"
    assert set(ran) <= set(slots)
    assert all(r.status == "ok" for r in runs), [tuple(r) for r in runs]
    times = [datetime.fromisoformat(slot) for slot in slots]
    gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]
    assert gaps and all(g == MARKETPLACE_SECONDS for g in gaps), f"slots missed or doubled: {slots}"

    # Ledger batches: each belongs to one run (its created_at is the run's time), two per selling company.
    run_times = {r.started_at for r in runs}
    per_run = defaultdict(list)
    for e in entries:
        assert e.created_at in run_times, f"a marketplace entry at {e.created_at} belongs to no run"
        per_run[e.created_at].append(e)
    assert per_run, "no marketplace run sold anything"
    for when, batch in per_run.items():
        companies = {e.to_account_id for e in batch} | {e.from_account_id for e in batch}
        assert len(batch) == 2 * (len(companies) - 1), f"run at {when}: {len(batch)} entries for {companies}"
        assert all(e.batch_count > 0 for e in batch)
    check_invariants(engine)
