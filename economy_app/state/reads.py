"""The worker's read threads: the session checks and the pages' reads, earliest deadline first.

A click's read is due at once; a live refresh's (a tab reloading what a push told it changed) is due
``REFRESH_SLACK`` later. A marketplace run that pays 200 companies sends 200 tabs a refresh at the same
moment: served first come, first served, a player who clicks then waits behind all of them (a few hundred
milliseconds on one SQLite worker). Served by deadline, the click goes first, and a refresh waits at most
``REFRESH_SLACK`` behind clicks (it is never starved: once its deadline passes, it goes before newer clicks).
"""

from __future__ import annotations

import contextlib
import contextvars
import itertools
import queue
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from typing import Any

REFRESH_SLACK = 0.25  # seconds a live refresh's read lets clicks go first

# Set while a live refresh runs (state.auth.refresh_on_push): its reads are due REFRESH_SLACK later.
REFRESH: contextvars.ContextVar[bool] = contextvars.ContextVar("economy_live_refresh", default=False)


@contextlib.contextmanager
def refreshing() -> Iterator[None]:
    """``with refreshing():`` around a live refresh: its reads let clicks go first."""
    token = REFRESH.set(True)
    try:
        yield
    finally:
        REFRESH.reset(token)


class ReadThreads(Executor):
    """``n`` threads serving submitted calls by deadline (``REFRESH`` in the submitter's context: later), then
    in order of submission. ``initializer`` runs first in each thread."""

    def __init__(self, n: int, *, name: str = "reads", initializer: Callable[[], None] | None = None):
        self._queue: queue.PriorityQueue = queue.PriorityQueue()
        self._order = itertools.count()
        self._initializer = initializer
        self._closed = False
        self._threads = [threading.Thread(target=self._serve, name=f"{name}_{i}", daemon=True) for i in range(n)]
        for t in self._threads:
            t.start()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        if self._closed:
            raise RuntimeError("the read threads are shut down")
        future: Future = Future()
        due = time.monotonic() + (REFRESH_SLACK if REFRESH.get() else 0.0)
        self._queue.put((due, next(self._order), future, fn, args, kwargs))
        return future

    def _serve(self) -> None:
        if self._initializer is not None:
            self._initializer()
        while True:
            _, _, future, fn, args, kwargs = self._queue.get()
            if future is None:  # shut down
                return
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args, **kwargs))
            except BaseException as e:  # the caller gets it, as from a ThreadPoolExecutor
                future.set_exception(e)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._closed = True
        for _ in self._threads:
            self._queue.put((float("inf"), next(self._order), None, None, (), {}))
        if wait:
            for t in self._threads:
                t.join()
