"""Load test over the real websocket: prints a table. Not a test; nothing here asserts a time.

Simulated players speak Reflex's Socket.IO protocol at /_event, as the browser does: each has a
fresh token (one tab), hydrates the login page and logs in with LoginState.login (5 players a
second: the password hash is the costliest thing the server does). When all are in, they play at
the same time, which is the measured phase: each round is the dashboard's and the send page's
on_load (on_load_internal), a recipient search, pick, amount, confirm (the transfer), the history
page's on_load and, when there is one, the next page ("Older"). Each event is timed from emit to
the update that answers it (the page hydrated, the redirect after login, the toast after a
transfer, the new rows). Players think 0.5-1.5 s between actions.

Live updates are measured as a player sees them: every player's tab keeps the page it last loaded
open, and the server pushes a refresh to it when money moves in or out of its accounts. The
simulated tab sends each pushed event straight back, as the browser does, so the refresh's cost is in
the workers' CPU. "live: transfer" is the time from the sender's acknowledged transfer to the push
(with its "You received" toast) arriving on the receiver's socket (and, under the row, from the transfer's
ledger entry to that toast, which does not depend on when the sender's answer arrives); "live: run" is the time from a
marketplace run's commit (its job_runs.finished_at) to the first push on the socket of a player whose
company sold in that run (each player owns a company with one cheap product, and the marketplace runs
every 15 s during the measured phase). Under each row, the transfers' p95 near a marketplace run (from 0.5 s before
it starts to 1.5 s after it commits: its wave of refreshes) and elsewhere, and how many events took over 100 ms,
and how many of those were near a run.

Beside the workers' CPU per answered event, the table shows what PostgreSQL and Redis spent per event (their
processes' CPU over the measured phase) and how many commands Redis answered per event (listed by command under
the row).

Three set-ups, each on a fresh database, started as `make run` / `make run-scaled` start the app:
SQLite + 1 worker, PostgreSQL + Redis + 1 worker, PostgreSQL + Redis + 2 workers. For each,
10, 50 and 200 concurrent players. After every run the ledger invariants are checked (sum of
balances zero, the three copies agree) and every acknowledged transfer is in the ledger once.

Loopback only; every loop is bounded (--rounds per player, --seconds per run).

Usage: python bench/load.py [--players 10,50,200] [--setups sqlite,pg,pg2] [--rounds 4] [--seconds 90]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import socketio  # noqa: E402
from reflex.state import OnLoadInternalState, State  # noqa: E402
from reflex_base.utils.format import format_event_handler  # noqa: E402
from sqlalchemy import func, select  # noqa: E402
from sqlmodel import Session  # noqa: E402

from economy_app import migrate  # noqa: E402
from economy_app.db import make_engine  # noqa: E402
from economy_app.localservices import PostgresCluster, RedisServer, free_port  # noqa: E402
from economy_app.models import Account, Company, JobRun, LedgerEntry, User  # noqa: E402
from economy_app.money import format_cents  # noqa: E402
from economy_app.pages.history import HistoryState  # noqa: E402
from economy_app.pages.login import LoginState  # noqa: E402
from economy_app.pages.send import SendState  # noqa: E402
from economy_app.services import accounts, companies, products, users  # noqa: E402
from economy_app.state.auth import AuthState  # noqa: E402
from tests.support.appserver import RunningApp  # noqa: E402
from tests.support.db import check_invariants  # noqa: E402

NS = "/_event"
PASSWORD = "load-test password"
HISTORY_TRANSFERS_PER_PLAYER = 30  # each player starts with ~60 history rows, so "Older" has a page
MARKETPLACE_SECONDS = 15  # during the measured phase
RECEIVED = re.compile(r"You received (\$[0-9,.]+) from ([A-Za-z0-9_-]+)")
ROOT_STATE = State.get_full_name()
TOKEN_VAR = f"{AuthState.get_full_name()}.auth_token_rx_state_"
HYDRATE = format_event_handler(State.hydrate_and_load)
ON_LOAD = format_event_handler(OnLoadInternalState.on_load_internal)
LOGIN = format_event_handler(LoginState.login)
SEARCH, PICK = format_event_handler(SendState.search), format_event_handler(SendState.pick)
AMOUNT, CONFIRM = format_event_handler(SendState.set_amount), format_event_handler(SendState.confirm)
OLDER = format_event_handler(HistoryState.older)
SEND, HISTORY, LOGIN_S = SendState.get_full_name(), HistoryState.get_full_name(), LoginState.get_full_name()


# --- what answers an event ------------------------------------------------------------------------


def _delta(update: dict, state: str) -> dict:
    return (update.get("delta") or {}).get(state) or {}


def _events(update: dict) -> str:
    return json.dumps(update.get("events") or [])


def hydrated(update):
    if '"/login"' in _events(update):
        return "redirected to login"
    return True if _delta(update, ROOT_STATE).get("is_hydrated_rx_state_") is True else None


def logged_in(update):
    if _delta(update, LOGIN_S).get("error_rx_state_"):
        return _delta(update, LOGIN_S)["error_rx_state_"]
    return True if '"/dashboard"' in _events(update) else None


def sent(update):
    events = _events(update)
    if "Sent $" in events:
        return True
    if "live_refresh" in events:  # a live push (money received meanwhile), not the answer
        return None
    if "toast" in events:
        return events[:200]
    return None


def has(state: str, var: str):
    return lambda update: True if f"{var}_rx_state_" in _delta(update, state) else None


# --- one simulated player (one browser tab) ------------------------------------------------------


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    started: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))  # wall time of each, in order
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    samples: list[str] = field(default_factory=list)
    transfers_ok: int = 0
    # live updates: (receiver, sender, amount) -> wall times of acknowledgements, and of toasts received
    acked: dict[tuple, list[float]] = field(default_factory=lambda: defaultdict(list))
    toasted: dict[tuple, list[float]] = field(default_factory=lambda: defaultdict(list))
    pushes: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))  # player -> push times
    received_bytes: int = 0  # every update's JSON, as the server sent it (deltas, events, pushes)
    received_updates: int = 0  # every update (one websocket message each)

    def error(self, kind: str, what: str) -> None:
        self.errors[kind] += 1
        if len(self.samples) < 5:
            self.samples.append(f"{kind}: {what}")


class Player:
    def __init__(self, base: str, username: str, stats: Stats, rng: random.Random, timeout: float):
        self.base, self.username, self.stats, self.rng, self.timeout = base, username, stats, rng, timeout
        self.sio = socketio.AsyncClient(reconnection=False)
        self.sio.on("event", self._on_update, namespace=NS)
        self.path = "/login"
        self.state: dict[str, dict] = defaultdict(dict)
        self._waiting = None

    def _on_update(self, update) -> None:
        arrived = time.time()
        update = update if isinstance(update, dict) else json.loads(update)
        self.stats.received_updates += 1
        self.stats.received_bytes += len(json.dumps(update, separators=(",", ":"), ensure_ascii=False).encode())
        for name, values in (update.get("delta") or {}).items():
            self.state[name].update(values)
        for event in update.get("events") or []:
            name = event.get("name", "") if isinstance(event, dict) else ""
            if name.endswith(".live_refresh"):  # a live push: the browser sends it straight back
                self.stats.pushes[self.username].append(arrived)
                asyncio.get_running_loop().create_task(
                    self.sio.emit(
                        "event",
                        {
                            "name": name,
                            "payload": {},
                            "router_data": {"pathname": self.path, "query": {}, "asPath": self.path},
                        },
                        namespace=NS,
                    )
                )
        for amount, sender in RECEIVED.findall(_events(update)):
            self.stats.toasted[(self.username, sender, amount)].append(arrived)
        if self._waiting is not None and not self._waiting[1].done():
            verdict = self._waiting[0](update)
            if verdict is not None:
                self._waiting[1].set_result(verdict)

    async def call(self, kind: str, name: str, payload: dict, answered, path: str | None = None) -> bool:
        self.path = path or self.path
        future = asyncio.get_running_loop().create_future()
        self._waiting = (answered, future)
        t0 = time.perf_counter()
        try:
            await self.sio.emit(
                "event",
                {
                    "name": name,
                    "payload": payload,
                    "router_data": {"pathname": self.path, "query": {}, "asPath": self.path},
                },
                namespace=NS,
            )
            verdict = await asyncio.wait_for(future, self.timeout)
        except Exception as e:  # a timeout or a dropped socket: an error, never a hang
            self.stats.error(kind, f"{name.rsplit('.', 1)[-1]}: {type(e).__name__} {e}")
            return False
        finally:
            self._waiting = None
        if verdict is not True:
            self.stats.error(kind, f"{name.rsplit('.', 1)[-1]}: {verdict}")
            return False
        took = time.perf_counter() - t0
        self.stats.latencies[kind].append(took)
        self.stats.started[kind].append(time.time() - took)
        return True

    def var(self, state: str, name: str):
        return self.state[state].get(f"{name}_rx_state_")

    async def think(self) -> None:
        await asyncio.sleep(self.rng.uniform(0.5, 1.5))

    async def enter(self) -> bool:
        """Open the tab on the login page and log in."""
        await self.sio.connect(
            f"{self.base}?token={uuid.uuid4()}",
            socketio_path="/_event",
            namespaces=[NS],
            transports=["websocket"],
            wait_timeout=self.timeout,
        )
        if not await self.call("page", HYDRATE, {"vars": {TOKEN_VAR: ""}}, hydrated, "/login"):
            return False
        return await self.call("login", LOGIN, {"form": {"username": self.username, "password": PASSWORD}}, logged_in)

    async def play(self, others: list[str], rounds: int, deadline: float) -> None:
        await asyncio.sleep(self.rng.uniform(0, 1.5))  # players do not all click at the same instant
        for _ in range(rounds):
            if time.monotonic() > deadline:
                break
            await self.round(self.rng.choice(others))

    async def round(self, recipient: str) -> None:
        await self.call("page", ON_LOAD, {}, hydrated, "/dashboard")
        await self.think()
        if not await self.call("page", ON_LOAD, {}, hydrated, "/send"):
            return
        await self.think()
        if not await self.call("input", SEARCH, {"text": recipient}, has(SEND, "results")):
            return
        found = [r for r in self.var(SEND, "results") or [] if r["name"] == recipient]
        if not found:
            self.stats.error("input", f"search for {recipient} found {self.var(SEND, 'results')}")
            return
        await self.call("input", PICK, {"account_id": found[0]["id"], "name": recipient}, has(SEND, "recipient_name"))
        cents = self.rng.randint(1, 100)
        await self.call("input", AMOUNT, {"text": f"{cents // 100}.{cents % 100:02d}"}, has(SEND, "amount_text"))
        await self.think()
        if await self.call("transfer", CONFIRM, {"key": self.var(SEND, "form_key")}, sent):
            self.stats.transfers_ok += 1
            self.stats.acked[(recipient, self.username, f"${cents // 100}.{cents % 100:02d}")].append(time.time())
        await self.think()
        if await self.call("page", ON_LOAD, {}, hydrated, "/history") and self.var(HISTORY, "has_next"):
            await self.think()
            await self.call("history_page", OLDER, {}, has(HISTORY, "rows"))
        await self.think()


async def run_players(
    base: str,
    names: list[str],
    *,
    rounds: int,
    seconds: float,
    seed: int,
    timeout: float = 30.0,
    login_timeout: float = 300.0,
    logins_per_second: float = 5.0,
    on_play=lambda phase: None,
) -> tuple[Stats, Stats, float]:
    """All players log in (``logins_per_second``), then play their rounds at the same time. The second phase is
    the measured one: ``n`` concurrent players. Returns (login phase, play phase, play seconds)."""
    entering, playing = Stats(), Stats()
    # Logins get longer: on a machine shared with other work their password hashes queue up, and a login given up
    # on would still be hashed during the measured phase.
    players = [
        Player(base, name, entering, random.Random(seed * 10_000 + i), login_timeout) for i, name in enumerate(names)
    ]

    async def enter(i: int, player: Player) -> bool:
        await asyncio.sleep(i / logins_per_second)
        try:
            return await player.enter()
        except Exception as e:
            entering.error("connect", f"{player.username}: {type(e).__name__} {e}")
            return False

    try:
        entered = await asyncio.gather(*(enter(i, p) for i, p in enumerate(players)))
        ready = [p for p, ok in zip(players, entered, strict=True) if ok]
        for p in ready:
            p.stats, p.timeout = playing, timeout
        await asyncio.sleep(2)  # the last logins' work settles before the measured phase
        deadline = time.monotonic() + seconds
        on_play("start")
        t0 = time.perf_counter()
        await asyncio.gather(*(p.play([n for n in names if n != p.username], rounds, deadline) for p in ready))
        wall = time.perf_counter() - t0
        on_play("end")
    finally:
        await asyncio.gather(*(p.sio.disconnect() for p in players), return_exceptions=True)
    return entering, playing, wall


# --- set-ups --------------------------------------------------------------------------------------


def create_players(url: str, count: int) -> list[str]:
    """``count`` players with a funded account and ~60 history rows each (real transfers)."""
    engine = make_engine(url)
    names = [f"load{i:04d}" for i in range(count)]

    def make(name: str) -> int:
        with Session(engine) as s:
            user = users.create_user(s, name, PASSWORD)
            return accounts.initialize_account(s, user.id).id

    with ThreadPoolExecutor(4) as pool:  # the password hash is the slow part, and it releases the GIL
        ids = list(pool.map(make, names))
    owners = {}
    with Session(engine) as s:
        for i, name in enumerate(names):
            owners[name] = users.get_user_by_username(s, name).id
            company = companies.create_company(
                s,
                owner_id=owners[name],
                name=f"{name} Goods",
                ticker="".join(chr(65 + (i // 26**k) % 26) for k in range(4)),
            )
            products.create_product(
                s,
                actor_id=owners[name],
                company_id=company.id,
                name="Widget",
                price_cents=random.Random(i).randint(100, 500),
                rng=random.Random(i),
            )
        rng = random.Random(7)
        for i, name in enumerate(names):
            for k in range(HISTORY_TRANSFERS_PER_PLAYER):
                j = rng.randrange(count - 1)
                j += j >= i
                accounts.transfer(
                    s,
                    actor_id=owners[name],
                    from_account_id=ids[i],
                    to_account_id=ids[j],
                    amount=rng.randint(1, 500),
                    description="warm-up",
                    idempotency_key=f"load-seed:{i}:{k}",
                )
    engine.dispose()
    return names


def transfer_count(engine) -> int:
    with Session(engine) as s:
        return s.execute(
            select(func.count()).select_from(LedgerEntry).where(LedgerEntry.type == "transfer")
        ).scalar_one()


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] * 1000


@dataclass
class Row:
    setup: str
    players: int
    entering: Stats
    stats: Stats
    wall: float
    rss: dict[int, float]
    cpu: dict
    invariants: str
    live_transfer: list[float] = field(default_factory=list)
    live_run: list[float] = field(default_factory=list)
    live_entry: list[float] = field(default_factory=list)
    runs: list[tuple[float, float]] = field(default_factory=list)  # the marketplace runs: (start, end), wall time


def live_transfer_latencies(stats: Stats) -> list[float]:
    """Acknowledged transfer -> the receiver's toast, paired in order per (receiver, sender, amount).
    A push that overtook the sender's acknowledgement counts as 0."""
    out = []
    for key, acks in stats.acked.items():
        for ack, arrived in zip(sorted(acks), sorted(stats.toasted.get(key, ())), strict=False):
            out.append(max(0.0, arrived - ack))
    return out


def live_entry_latencies(engine, stats: Stats, since: float) -> list[float]:
    """A transfer's ledger entry (its ``created_at``, in the server's transaction) -> the receiver's toast, paired
    in order per (receiver, sender, amount), for transfers made from the send page after ``since``. Unlike
    "live: transfer" it does not move when the sender's answer comes sooner or later."""
    epoch = datetime(1970, 1, 1)
    sender, receiver = Account.__table__.alias("sender"), Account.__table__.alias("receiver")
    with Session(engine) as s:
        names = dict(s.execute(select(User.id, User.username)).all())
        entries = s.execute(
            select(LedgerEntry.created_at, LedgerEntry.amount, sender.c.owner_id, receiver.c.owner_id)
            .join(sender, sender.c.id == LedgerEntry.from_account_id)
            .join(receiver, receiver.c.id == LedgerEntry.to_account_id)
            .where(LedgerEntry.type == "transfer", LedgerEntry.idempotency_key.like("send:%"))
        ).all()
    posted = defaultdict(list)
    for at, amount, from_owner, to_owner in entries:
        when = (at - epoch).total_seconds()
        if when >= since:
            posted[(names[to_owner], names[from_owner], format_cents(amount))].append(when)
    out = []
    for key, times in posted.items():
        toasts = [t for t in sorted(stats.toasted.get(key, ())) if t >= since]
        for at, arrived in zip(sorted(times), toasts, strict=False):
            out.append(max(0.0, arrived - at))
    return out


_RUNS = select(JobRun.started_at, JobRun.finished_at).where(
    JobRun.job_name == "marketplace", JobRun.status == "ok", JobRun.finished_at.is_not(None)
)


def marketplace_runs(engine) -> list[tuple[float, float]]:
    """Every marketplace run that committed: (its start, its commit), wall time."""
    epoch = datetime(1970, 1, 1)
    with Session(engine) as s:
        runs = s.execute(_RUNS).all()
    return [((a - epoch).total_seconds(), (b - epoch).total_seconds()) for a, b in runs]


NEAR_BEFORE, NEAR_AFTER, SLOW_MS = 0.5, 1.5, 100


def near_a_run(r: Row, at: float) -> bool:
    """Within a marketplace run's reach: from NEAR_BEFORE s before it starts to NEAR_AFTER s after it commits (its
    live wave: the outbox poll, the gathering, every paid tab's refresh)."""
    return any(start - NEAR_BEFORE <= at <= end + NEAR_AFTER for start, end in r.runs)


def live_run_latencies(engine, stats: Stats, since: float) -> list[float]:
    """For each marketplace run committed during the phase (``since``: once every player has a page open)
    and each player whose company sold in it: the first push on that player's socket after the commit."""
    epoch = datetime(1970, 1, 1)
    with Session(engine) as s:
        runs = s.execute(_RUNS).all()
        sellers = s.execute(
            select(LedgerEntry.created_at, Company.owner_id)
            .join(Company, Company.account_id == LedgerEntry.to_account_id)
            .where(LedgerEntry.type == "marketplace_batch")
        ).all()
        names = dict(s.execute(select(User.id, User.username)).all())
    by_run = defaultdict(set)
    for at, owner in sellers:
        by_run[at].add(names[owner])
    out = []
    for started, finished in runs:
        committed = (finished - epoch).total_seconds()
        if committed < since:
            continue
        for player in by_run.get(started, ()):
            later = [t for t in stats.pushes.get(player, ()) if t >= committed - 0.001]
            if later and min(later) - committed < 10:
                out.append(max(0.0, min(later) - committed))
    return out


def cpu_seconds(pids) -> dict[int, float]:
    """User + system CPU seconds of each process so far."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            out[pid] = (int(fields[11]) + int(fields[12])) / tick
        except OSError:
            pass
    return out


async def sample_memory(app: RunningApp, peak: dict[int, float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        for pid, mib in app.rss_mib().items():
            peak[pid] = max(peak.get(pid, 0.0), mib)
        try:
            await asyncio.wait_for(stop.wait(), 1.0)
        except TimeoutError:
            pass


def services_cpu_seconds(postmaster_pidfile: Path | None, redis_pidfile: Path | None) -> float:
    """PostgreSQL's (the postmaster, its live server processes and those it has reaped) and Redis' CPU seconds so
    far: the rest of what an event costs the machine, beside the workers."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for pidfile in (postmaster_pidfile, redis_pidfile):
        if pidfile is None or not pidfile.exists():
            continue
        pid = int(pidfile.read_text().split()[0])
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += sum(int(v) for v in fields[11:15]) / tick  # its own and its reaped children's
            with open(f"/proc/{pid}/task/{pid}/children") as f:
                total += sum(cpu_seconds([int(c) for c in f.read().split()]).values())
        except OSError:
            pass
    return total


def redis_commands(redis_url: str | None) -> dict[str, int]:
    """Commands Redis has answered so far, by command (INFO commandstats)."""
    if redis_url is None:
        return {}
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        return {name.removeprefix("cmdstat_"): stat["calls"] for name, stat in client.info("commandstats").items()}
    finally:
        client.close()


async def measured_run(app: RunningApp, names: list[str], args, services: dict | None = None):
    services = services or {}
    peak: dict[int, float] = {}
    stop = asyncio.Event()
    sampler = asyncio.create_task(sample_memory(app, peak, stop))
    marks = {}

    spies = []

    def on_play(phase: str) -> None:
        marks[phase] = (cpu_seconds(app.worker_pids()), time.process_time(), time.time())
        marks[phase + " services"] = (
            services_cpu_seconds(services.get("postmaster"), services.get("redis")),
            redis_commands(services.get("redis_url")),
        )
        if phase == "start" and args.py_spy:  # sample each worker's stacks during the measured phase only
            for pid in app.worker_pids():
                out = Path(args.py_spy) / f"{len(names)}-{pid}.txt"
                spies.append(
                    subprocess.Popen(
                        [
                            str(Path(sys.executable).parent / "py-spy"),
                            "record",
                            "-p",
                            str(pid),
                            "-r",
                            "100",
                            "-f",
                            "raw",
                            "-o",
                            str(out),
                            "--nonblocking",
                            *(["--gil"] if os.environ.get("LOAD_PY_SPY_GIL") else []),
                            *(["--threads"] if os.environ.get("LOAD_PY_SPY_THREADS") else []),
                        ],
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                )
        if phase == "start" and args.perf:  # the kernel's count of each worker thread's switches and CPU
            for pid in app.worker_pids():
                out = Path(args.perf) / f"{len(names)}-{pid}.txt"
                spies.append(
                    subprocess.Popen(
                        ["perf", "stat", "--per-thread", "-e", "context-switches,task-clock", "-p", str(pid)]
                        + ["-o", str(out)],
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                )
        if phase == "end":
            for spy in spies:
                spy.send_signal(signal.SIGINT)
            for spy in spies:
                spy.wait(30)

    try:
        entering, playing, wall = await run_players(
            app.url,
            names,
            rounds=args.rounds,
            seconds=args.seconds,
            seed=len(names),
            on_play=on_play,
            logins_per_second=args.logins_per_second,
        )
    finally:
        stop.set()
        await sampler
    (w0, p0, started), (w1, p1, _) = marks["start"], marks["end"]
    (s0, r0), (s1, r1) = marks["start services"], marks["end services"]
    cpu = {
        "workers": [100 * (w1[pid] - w0.get(pid, 0.0)) / wall for pid in sorted(w1)],
        "players": 100 * (p1 - p0) / wall,
        "started": started,
        "services": 100 * (s1 - s0) / wall if services else None,
        "redis_commands": sum(r1.values()) - sum(r0.values()) if services.get("redis_url") else None,
        "redis_by_command": {k: v - r0.get(k, 0) for k, v in r1.items() if v > r0.get(k, 0)},
    }
    return entering, playing, wall, peak, cpu


def run_setup(setup: str, counts: list[int], args, workdir: Path) -> list[Row]:
    services = []
    env = {
        "ECONOMY_SCHEDULER": "on",
        "ECONOMY_MARKETPLACE_INTERVAL_SECONDS": str(MARKETPLACE_SECONDS),
        "ECONOMY_MARKET_HOLD_SECONDS": "0",
    }  # the players' products sell from the first run
    watched = {}
    if setup == "sqlite":
        url, redis_url, workers, label = f"sqlite:///{workdir / 'sqlite.db'}", None, 1, "SQLite, 1 worker"
    else:
        pg = PostgresCluster(workdir / f"{setup}-pg", free_port())  # durable: the settings run-scaled uses
        pg.init()
        pg.start()
        redis = RedisServer(workdir / f"{setup}-redis", free_port())
        redis.start()
        services = [pg, redis]
        url, redis_url = pg.create_database("economy"), redis.url()
        watched = {
            "postmaster": pg.datadir / "postmaster.pid",
            "redis": redis.datadir / "redis.pid",
            "redis_url": redis_url,
        }
        workers = 2 if setup == "pg2" else 1
        label = f"PostgreSQL + Redis, {workers} worker{'s' if workers > 1 else ''}"
    rows = []
    try:
        migrate.upgrade(url)
        t0 = time.perf_counter()
        names = create_players(url, max(counts))
        print(
            f"  {label}: {len(names)} players with history in {time.perf_counter() - t0:.0f}s",
            file=sys.stderr,
            flush=True,
        )
        app = RunningApp(
            port=free_port(),
            log=workdir / f"{setup}.log",
            database_url=url,
            redis_url=redis_url,
            workers=workers,
            extra_env=env,
        ).wait_ready()
        engine = make_engine(url)
        try:
            for n in counts:
                before = transfer_count(engine)
                entering, stats, wall, peak, cpu = asyncio.run(measured_run(app, names[:n], args, watched))
                landed = transfer_count(engine) - before
                try:
                    check_invariants(engine)
                    verdict = (
                        "ok"
                        if landed == stats.transfers_ok
                        else (f"{stats.transfers_ok} transfers acknowledged, {landed} in the ledger")
                    )
                except AssertionError as e:
                    verdict = f"BROKEN: {e}"
                rows.append(
                    Row(
                        label,
                        n,
                        entering,
                        stats,
                        wall,
                        peak,
                        cpu,
                        verdict,
                        live_transfer_latencies(stats),
                        live_run_latencies(engine, stats, cpu["started"] + 3),
                        live_entry_latencies(engine, stats, cpu["started"] + 3),
                        marketplace_runs(engine),
                    )
                )
                print_row(rows[-1])
        finally:
            engine.dispose()
            app.stop()
    finally:
        for service in services:
            service.stop()
    return rows


# --- the table ------------------------------------------------------------------------------------

HEADER = (
    "| set-up | players | transfer p50 / p95 / p99 ms (count) | page load p50 / p95 / p99 ms "
    "| input p50 / p95 ms | events/s | errors | login p50 / p95 ms | peak RSS per worker MiB "
    "| CPU % per worker | worker CPU ms per event | PostgreSQL + Redis CPU ms per event | Redis commands per event "
    "| KiB sent per event | updates sent per event | players' CPU % | live: transfer p50 / p95 / p99 ms (n) "
    "| live: run p50 / p95 / p99 ms (n) | invariants |"
)


def events_per_second(r: Row) -> float:
    return sum(len(v) for v in r.stats.latencies.values()) / r.wall


def cpu_ms_per_event(r: Row) -> float:
    """All workers' CPU over the measured phase, per answered event (pushed refreshes are not counted as
    events: their cost is in the workers' CPU)."""
    return sum(r.cpu["workers"]) * 10 / events_per_second(r)


def _per_event(r: Row, per_second: float | None, scale: float) -> str:
    """A rate (CPU % or commands a second) per answered event, or "-" where the set-up has no such service."""
    return "-" if per_second is None else f"{per_second * scale / events_per_second(r):.2f}"


def _pcts(values: list[float]) -> str:
    return f"{pct(values, 50):.0f} / {pct(values, 95):.0f} / {pct(values, 99):.0f} ({len(values)})"


def print_row(r: Row) -> None:
    lat = r.stats.latencies
    errors = sum(r.stats.errors.values()) + sum(r.entering.errors.values())
    t, p, i, login = lat["transfer"], lat["page"] + lat["history_page"], lat["input"], r.entering.latencies["login"]
    rss = " / ".join(f"{v:.0f}" for _, v in sorted(r.rss.items())) or "-"
    print(
        f"| {r.setup} | {r.players} | {pct(t, 50):.0f} / {pct(t, 95):.0f} / {pct(t, 99):.0f} ({len(t)}) "
        f"| {pct(p, 50):.0f} / {pct(p, 95):.0f} / {pct(p, 99):.0f} | {pct(i, 50):.0f} / {pct(i, 95):.0f} "
        f"| {events_per_second(r):.1f} | {errors} | {pct(login, 50):.0f} / {pct(login, 95):.0f} | {rss} "
        f"| {' / '.join(f'{c:.0f}' for c in r.cpu['workers'])} | {cpu_ms_per_event(r):.2f} "
        f"| {_per_event(r, r.cpu.get('services'), 10)} "
        f"| {_per_event(r, None if r.cpu['redis_commands'] is None else r.cpu['redis_commands'] / r.wall, 1)} "
        f"| {r.stats.received_bytes / 1024 / max(1, sum(len(v) for v in r.stats.latencies.values())):.2f} "
        f"| {r.stats.received_updates / max(1, sum(len(v) for v in r.stats.latencies.values())):.2f} "
        f"| {r.cpu['players']:.0f} "
        f"| {_pcts(r.live_transfer)} | {_pcts(r.live_run)} | {r.invariants} |",
        flush=True,
    )
    print(f"    live: transfer from its ledger entry to the receiver's toast p50 / p95 / p99 ms: {_pcts(r.live_entry)}")
    near = {True: defaultdict(list), False: defaultdict(list)}
    for kind, values in r.stats.latencies.items():
        for took, at in zip(values, r.stats.started[kind], strict=True):
            near[near_a_run(r, at)][kind].append(took)
    slow = {w: sum(1 for v in near[w].values() for x in v if x * 1000 > SLOW_MS) for w in (True, False)}
    print(
        f"    near a marketplace run ({NEAR_BEFORE} s before it to {NEAR_AFTER} s after it), transfer p95 ms (n): "
        f"{pct(near[True]['transfer'], 95):.0f} ({len(near[True]['transfer'])}), elsewhere "
        f"{pct(near[False]['transfer'], 95):.0f} ({len(near[False]['transfer'])}); events over {SLOW_MS} ms: "
        f"{slow[True] + slow[False]}, {slow[True]} of them near a run"
    )
    for sample in r.entering.samples + r.stats.samples:
        print(f"    error: {sample}")
    if r.cpu.get("redis_by_command"):
        events = sum(len(v) for v in r.stats.latencies.values())
        top = sorted(r.cpu["redis_by_command"].items(), key=lambda kv: -kv[1])[:8]
        print("    Redis commands per event: " + ", ".join(f"{k} {v / events:.2f}" for k, v in top))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--players", default="10,50,200")
    ap.add_argument("--setups", default="sqlite,pg,pg2")
    ap.add_argument("--rounds", type=int, default=4, help="rounds per player (8 events and 7 pauses each)")
    ap.add_argument("--seconds", type=float, default=90, help="a run ends after this, whatever the rounds")
    ap.add_argument(
        "--logins-per-second",
        type=float,
        default=5.0,
        help="the login pace (each costs ~100 ms of Argon2; on a busy machine a slower pace keeps a login's hash "
        "under Reflex's 10 s state lock)",
    )
    ap.add_argument("--py-spy", metavar="DIR", help="record each worker's stacks (py-spy, raw) into DIR")
    ap.add_argument(
        "--perf", metavar="DIR", help="count each worker thread's context switches and CPU (perf stat) into DIR"
    )
    args = ap.parse_args()
    counts = [int(n) for n in args.players.split(",")]
    os.environ.setdefault("REFLEX_TELEMETRY_ENABLED", "false")
    print(
        f"bench/load.py: {args.rounds} rounds per player, at most {args.seconds:.0f}s per run, "
        f"{os.cpu_count()} cores (the players run on the same machine)"
    )
    print(HEADER)
    print("|" + "---|" * (HEADER.count("|") - 1))
    rows = []
    with tempfile.TemporaryDirectory(prefix="economy-load-") as tmp:
        workdir = Path(tmp)
        workdir.chmod(0o755)  # the postgres system user reaches its data directory through it
        for setup in args.setups.split(","):
            rows += run_setup(setup, counts, args, workdir)
    print()
    print(
        "events/s by set-up at each player count:",
        "; ".join(
            f"{n}: " + ", ".join(f"{r.setup} {events_per_second(r):.1f}" for r in rows if r.players == n)
            for n in counts
        ),
    )


if __name__ == "__main__":
    main()
