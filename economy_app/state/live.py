"""Live updates, the app side: every worker hears what committed (``services/live.py``) and asks the open
tabs it serves to refresh what they show.

- A page state that shows live data subscribes its tab when it loads (``AuthState._listen``): the topics
  its page shows (the player's accounts, a company, the market...) and the player's own topic.
- The listener hears every committed change: PostgreSQL ``LISTEN`` (NOTIFY arrives at commit, on every
  worker), or on SQLite the ``live_events`` outbox read by id every ``POLL_SECONDS``.
- The dispatcher gathers a burst for ``GATHER_SECONDS`` (a marketplace run touching 1,000 companies is one
  wave, not 2,000), holds the global topics to one wave every few seconds (``SLOW``), and sends each
  subscribed tab whose socket this worker holds one update: the event ``<page state>.live_refresh``, plus a
  toast per transfer the player received. The tab sends that event back as a click would, so the refresh
  runs as an ordinary event: the session is checked again (a logout in another tab ends this one at once),
  and the page reads fresh values through the services. Nothing polls per tab; a tab hears only topics
  of the page it has open.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

import reflex as rx
from reflex.state import StateUpdate
from reflex_base.event import Event

from economy_app import config
from economy_app.db import get_session
from economy_app.display import received_text
from economy_app.services import accounts
from economy_app.services import live as topics_

log = logging.getLogger(__name__)

GATHER_SECONDS = 0.05
POLL_SECONDS = config.live_poll_seconds()
PRUNE_SECONDS = 60.0
# Global topics: at most one wave every so many seconds, whatever the number of changes.
SLOW = {topics_.MARKET: 1.0, topics_.ECONOMY: 3.0}


@dataclass(frozen=True)
class Subscription:
    state: type  # the page state whose live_refresh the tab runs
    user_id: int | None
    topics: frozenset[str]
    origin: str = ""  # the tab's origin mark (topics_.origin_of), hashed once, not once a wave


_subscriptions: dict[str, Subscription] = {}  # client token -> what its open page listens to


def subscribe(token: str, state: type, user_id: int | None, topics) -> None:
    if token:
        topics = frozenset(topics)
        old = _subscriptions.get(token)
        if old is None or (old.state, old.user_id, old.topics) != (state, user_id, topics):
            _subscriptions[token] = Subscription(state, user_id, topics, topics_.origin_of(token))


def unsubscribe(token: str) -> None:
    _subscriptions.pop(token, None)


def is_current(token: str, state: type) -> bool:
    """Whether the tab's open page is still ``state``'s. A push is answered by the tab a moment later; if the
    tab moved to another page meanwhile, the answer must neither refresh nor re-subscribe the page it left."""
    sub = _subscriptions.get(token)
    return sub is not None and sub.state is state


@dataclass(frozen=True)
class Wave:
    """What one wave tells the tabs: the messages heard (topics, origin tab) whose fast topics are due now,
    and the global topics whose turn has come."""

    messages: tuple[tuple[frozenset[str], str | None], ...]
    slow: frozenset[str]

    @property
    def topics(self) -> set[str]:
        return set(self.slow).union(*(m for m, _ in self.messages))

    def received(self) -> list[int]:
        """The transfers received in this wave (ledger ids), for the receivers' toasts."""
        return sorted(int(t[1:]) for t in self.topics if t.startswith("t") and t[1:].isdigit())

    def touches(self, sub: Subscription, origin: str) -> bool:
        """Whether a tab (subscribed as ``sub``, origin mark ``origin``) must refresh: a topic of its page
        changed by someone else's request (its own request refreshed it already), or a global topic."""
        if not sub.topics.isdisjoint(self.slow):
            return True
        return any(o != origin and (topics_.EVERYTHING in m or not sub.topics.isdisjoint(m)) for m, o in self.messages)

    def received_by_others(self, origin: str) -> set[int]:
        """The transfers of this wave not made by the tab with this origin mark (a player sending money to their
        own company gets no toast on the tab that sent it)."""
        return {int(t[1:]) for m, o in self.messages if o != origin for t in m if t.startswith("t") and t[1:].isdigit()}


class Dispatcher:
    """Gathers heard messages into waves and tells the subscribed tabs."""

    def __init__(self, app: rx.App):
        self.app = app
        self.fast: list[tuple[frozenset[str], str | None]] = []
        self.slow: set[str] = set()
        self.last: dict[str, float] = {}
        self.wake = asyncio.Event()

    def hear(self, topics: set[str]) -> None:
        """One committed transaction's message."""
        topics, origin = topics_.split_origin(topics)
        fast = frozenset(topics - SLOW.keys())
        if fast:
            self.fast.append((fast, origin))
        self.slow |= topics & SLOW.keys()
        self.wake.set()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self.wake.wait()
            await asyncio.sleep(GATHER_SECONDS)
            self.wake.clear()
            now = loop.time()
            slow = {t for t in self.slow if now >= self.last.get(t, 0.0) + SLOW[t]}
            self.slow -= slow
            for t in slow:
                self.last[t] = now
            if self.slow:  # global topics held back: wake when the first may go
                delay = min(self.last[t] + SLOW[t] for t in self.slow) - now
                loop.call_later(max(delay, 0.0), self.wake.set)
            wave = Wave(tuple(self.fast), frozenset(slow))
            self.fast = []
            if wave.messages or wave.slow:
                try:
                    await self.deliver(wave)
                except Exception:
                    log.exception("live update wave failed")

    def _local(self, token: str) -> bool:
        namespace = self.app.event_namespace
        if namespace is None:
            return False
        manager = namespace._token_manager
        record = manager.token_to_socket.get(token)
        return record is not None and record.instance_id == manager.instance_id

    def sweep(self) -> int:
        """Forget the tabs that closed (or moved to another worker): a wave only looks at the tabs it concerns."""
        gone = [token for token in list(_subscriptions) if not self._local(token)]
        for token in gone:
            _subscriptions.pop(token, None)
        return len(gone)

    async def sweep_every(self, seconds: float) -> None:
        while True:
            await asyncio.sleep(seconds)
            self.sweep()

    async def deliver(self, wave: Wave) -> None:
        received = {}
        if ids := wave.received():
            received = {r.ledger_id: r for r in await asyncio.to_thread(_received, ids)}
        receivers = {r.user_id for r in received.values()}
        # A tab whose topics the wave does not name, and whose player received nothing, has nothing to do.
        named = wave.topics
        everyone = topics_.EVERYTHING in named
        sends = []
        for token, sub in list(_subscriptions.items()):
            if not everyone and sub.user_id not in receivers and sub.topics.isdisjoint(named):
                continue
            if not self._local(token):
                # The tab closed, or its socket now lives on another worker (which subscribed it anew).
                if _subscriptions.get(token) is sub:
                    del _subscriptions[token]
                continue
            events = []
            if sub.user_id in receivers:
                events = [
                    rx.toast.success(received_text(r))
                    for i in sorted(wave.received_by_others(sub.origin))
                    if (r := received.get(i)) is not None and r.user_id == sub.user_id
                ]
            if events or wave.touches(sub, sub.origin):
                events.append(sub.state.live_refresh)
                sends.append(
                    self.app.event_namespace.emit_update(StateUpdate(events=Event.from_event_type(events)), token)
                )
        # Every tab's update at once: sent one after another, each waited for its turn on a loop busy with the
        # players' events, so the last tabs of a 200-tab wave heard it late; and one failing socket (a raise)
        # ended the wave for every tab after it.
        for failed in await asyncio.gather(*sends, return_exceptions=True):
            if isinstance(failed, Exception):
                log.warning("live update to one tab failed: %r", failed)


def _received(ledger_ids: list[int]):
    with get_session() as s:
        return accounts.transfers_received(s, ledger_ids)


async def _listen_postgres(url: str, dispatcher: Dispatcher) -> None:
    import psycopg

    plain = url.replace("postgresql+psycopg://", "postgresql://")
    first = True
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(plain, autocommit=True) as conn:
                await conn.execute(f"LISTEN {topics_.CHANNEL}")
                if not first:  # news sent while we were away is lost: every tab refreshes once
                    dispatcher.hear({topics_.EVERYTHING})
                first = False
                async for note in conn.notifies():
                    dispatcher.hear(topics_.parse(note.payload))
        except asyncio.CancelledError:
            raise
        except Exception as e:
            log.warning("live updates: listening connection lost (%s); reconnecting", e)
            await asyncio.sleep(1)


def _poll(after: int) -> list[tuple[int, set[str]]]:
    with get_session() as s:
        return topics_.events_after(s, after)


def _latest() -> int:
    with get_session() as s:
        return topics_.latest_event_id(s)


def _prune() -> None:
    with get_session() as s:
        topics_.prune(s)


async def _listen_outbox(dispatcher: Dispatcher) -> None:
    loop = asyncio.get_running_loop()
    after = await asyncio.to_thread(_latest)
    pruned = loop.time()
    while True:
        try:
            events = await asyncio.to_thread(_poll, after)
            for event_id, topics in events:
                after = event_id
                dispatcher.hear(topics)
            if loop.time() - pruned > PRUNE_SECONDS:
                pruned = loop.time()
                await asyncio.to_thread(_prune)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            log.warning("live updates: reading the outbox failed (%s)", e)
        await asyncio.sleep(POLL_SECONDS)


@contextlib.asynccontextmanager
async def live_lifespan(app: rx.App):
    """The app's lifespan task: hear committed changes and push them to the open tabs."""
    dispatcher = Dispatcher(app)
    url = config.database_url()
    listener = _listen_postgres(url, dispatcher) if url.startswith("postgresql") else _listen_outbox(dispatcher)
    tasks = [
        asyncio.create_task(listener, name="live-listener"),
        asyncio.create_task(dispatcher.run(), name="live-dispatcher"),
        asyncio.create_task(dispatcher.sweep_every(PRUNE_SECONDS), name="live-sweeper"),
    ]
    try:
        yield
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
