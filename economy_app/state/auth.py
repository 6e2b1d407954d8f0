"""The session, shared by every page: a token in the browser's localStorage, checked on the server.

Page states are flat substates of ``AuthState``. Every handler that shows
private data first calls ``_current_user()``, which resolves the token against
the database (one indexed read) on every call: logging out anywhere, or an
expired session, takes effect on the very next event, in every worker.

Reflex makes every public method of a state an event handler the browser can
call, so every method here that is not meant to be one starts with ``_``
(tests/unit/test_event_handlers.py lists them all).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import logging
import os
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Any, TypeVar

import reflex as rx

from economy_app import config, routes
from economy_app.db import again_if_disconnected, get_session
from economy_app.services import _tx
from economy_app.services import auth as auth_service
from economy_app.services import live as topics
from economy_app.services.auth import SessionUser
from economy_app.state import live, reads
from economy_app.state.reads import ReadThreads

log = logging.getLogger(__name__)
T = TypeVar("T")

# Page states holding private data: reset on logout so nothing lingers in a tab.
PRIVATE_STATES: list[type[rx.State]] = []


def private(cls):
    """Class decorator: register a page state whose data must be cleared on logout."""
    PRIVATE_STATES.append(cls)
    return cls


def _call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    with get_session() as s:
        return fn(s, *args, **kwargs)


_readers: tuple[int, ReadThreads] | None = None  # (the process it was made in, the pool)


def _read_pool() -> ReadThreads:
    """The worker's own few threads for the session check and the page's read (``config.read_threads``): reads
    never wait on a lock (SQLite in WAL mode, PostgreSQL's snapshots), so one thread serves them all on SQLite
    and no write (a transfer waiting for SQLite's write lock, a password hash) ever stands in their way. Made
    on first use in each process (Granian forks its workers). A click's read goes before a live refresh's
    (``state/reads.py``)."""
    global _readers
    if _readers is None or _readers[0] != os.getpid():
        _readers = (os.getpid(), ReadThreads(config.read_threads(), initializer=_read_only_thread))
    return _readers[1]


_writers: tuple[int, Executor | None] | None = None


def _write_pool() -> Executor | None:
    """The worker's threads for the players' writes and password hashes (``config.write_threads``; None: asyncio's
    default pool, which the scheduled jobs and the live updates use). Made on first use in each process."""
    global _writers
    if _writers is None or _writers[0] != os.getpid():
        n = config.write_threads()
        _writers = (os.getpid(), ThreadPoolExecutor(n, thread_name_prefix="writes") if n else None)
    return _writers[1]


def _read_only_thread() -> None:
    _tx.THREAD.read_only = True  # a write unit started here raises at once (services/_tx.py)


async def _in_thread(fn: Callable[..., T], *args: Any, pool: Executor | None = None) -> T:
    """``fn(*args)`` in a worker thread, off the event loop: ``pool``, or asyncio's default pool (the caller's
    context variables go with it, as with ``asyncio.to_thread``)."""
    call = functools.partial(contextvars.copy_context().run, fn, *args)
    return await asyncio.get_running_loop().run_in_executor(pool, call)


async def run(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call a service ``fn(session, *args, **kwargs)`` on the worker's write threads (``config.write_threads``), off
    the event loop."""
    return await _in_thread(functools.partial(_call, fn, *args, **kwargs), pool=_write_pool())


async def read(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``run`` for a service that only reads (a page's rows, a search): on the worker's read threads, where
    no write waits for a lock ahead of it. A write unit there raises. A read that found its pooled connection
    dead runs once more on a new one (``db.again_if_disconnected``)."""
    return await _in_thread(again_if_disconnected, functools.partial(_call, fn, *args, **kwargs), pool=_read_pool())


def _check_and_load(
    token: str, loads: Callable[[Any, SessionUser], Any] | None, snapshot: bool = True
) -> tuple[SessionUser | None, Any]:
    """The session check and, when it holds, the page's own read ``loads(session, user)``: one thread hop, one
    database session and one read transaction for both. ``loads`` only reads (it runs on the read threads).
    ``snapshot=False``: a read of one statement (a search), which needs no snapshot shared with the check: the
    check alone, straight to the driver, then the read in a session of its own."""
    if loads is None or not snapshot:
        user = auth_service.check_token(token)
        return user, (_call(loads, user) if loads is not None and user is not None else None)
    with get_session() as s:
        # One read transaction for both, reading one snapshot (the page's figures agree with each other).
        with _tx.unit(s, write=False, snapshot=True):
            user = auth_service.resolve(s, token)
            return user, (loads(s, user) if user is not None else None)


def _check_and_write(
    token: str, fn: Callable[..., T], args: tuple, kwargs: dict
) -> tuple[SessionUser | None, T | None]:
    """The session check and, when it holds, the click's write ``fn(session, user, *args, **kwargs)`` on the same
    write thread: one trip off the event loop instead of two. The check alone is tried again on a new connection
    when its pooled one was dead; the write is the service's own (it may not be safe to repeat)."""
    user = again_if_disconnected(functools.partial(auth_service.check_token, token))
    if user is None:
        return None, None
    return user, _call(fn, user, *args, **kwargs)


def _without_user(wrapper, handler, passed: int = 1):
    """Reflex reads an event handler's parameters and annotations to bind what the browser sends: the wrapper
    shows the handler's own, less ``user`` (and the loaded data) that the guard passes."""
    params = list(inspect.signature(handler).parameters.values())
    wrapper.__signature__ = inspect.Signature([params[0], *params[1 + passed :]])
    hidden = {p.name for p in params[1 : 1 + passed]}
    wrapper.__annotations__ = {k: v for k, v in handler.__annotations__.items() if k not in hidden}
    return wrapper


def logged_in(handler=None, *, loads: Callable[[Any, SessionUser], Any] | None = None):
    """The logged-in guard, for a page state's event handler ``handler(self, user, *args)``: the session is
    resolved on the server first (``_current_user``); without one the tab forgets everything private and goes
    to the login page, and the handler never runs. Put it under ``@rx.event``::

        @rx.event
        @logged_in
        async def load(self, user): ...

    ``loads``: the page's own read, ``loads(session, user)``, made in the same thread hop and database session as
    the session check (one of each per event instead of two); the handler gets its result:
    ``handler(self, user, data, *args)``.
    """
    if handler is None:
        return functools.partial(logged_in, loads=loads)
    passed = 1 if loads is None else 2

    async def check(self):
        user, data = await self._check_session(loads)
        return (user,) if loads is None else (user, data)

    if inspect.isasyncgenfunction(handler):

        @functools.wraps(handler)
        async def stream(self, *args, **kwargs):
            given = await check(self)
            if given[0] is None:
                yield await self._to_login()
                return
            async for update in handler(self, *given, *args, **kwargs):
                yield update

        return _without_user(stream, handler, passed)

    @functools.wraps(handler)
    async def guarded(self, *args, **kwargs):
        given = await check(self)
        if given[0] is None:
            return await self._to_login()
        return await handler(self, *given, *args, **kwargs)

    return _without_user(guarded, handler, passed)


def refresh_on_push(handler=None, *, loads: Callable[[Any, SessionUser], Any] | None = None):
    """``logged_in`` for a page state's ``live_refresh(self, user)``: a push answered after the tab moved to
    another page does nothing (it neither refreshes nor re-subscribes the page it left)."""
    if handler is None:
        return functools.partial(refresh_on_push, loads=loads)
    inner = logged_in(handler, loads=loads)

    @functools.wraps(inner)
    async def refresh(self):
        if self._left_page():
            return None
        with reads.refreshing():  # its reads let clicks go first (state/reads.py)
            return await inner(self)

    refresh.__signature__ = inner.__signature__
    return refresh


class AuthState(rx.State):
    auth_token: str = rx.LocalStorage("", name="economy_session", sync=True)
    # For display only: authorization always re-checks the token on the server.
    username: str = ""
    display_name: str = ""
    is_admin: bool = False
    _session_ended: bool = False  # this tab was logged in and its session is gone (a logout elsewhere)
    _logouts: int = 0  # this tab's logouts: a login in flight when the player logs out must not log the tab in

    def _client_address(self) -> str:
        """The websocket's remote address as Reflex resolved it (X-Forwarded-For only through the number of
        trusted proxies set in REFLEX_TRUSTED_PROXY_HOPS): never a value the browser sends."""
        return self.router.session.client_ip

    async def _current_user(self) -> SessionUser | None:
        return (await self._check_session())[0]

    async def _check_session(self, loads=None, *, snapshot: bool = True) -> tuple[SessionUser | None, Any]:
        """The tab's user (None: no session) and, when given, ``loads(session, user)`` read with it (``snapshot``:
        in one read transaction with the check, see ``_check_and_load``)."""
        # What this event's services change is marked as this tab's doing (live updates skip asking it again).
        topics.ORIGIN.set(topics.origin_of(self.router.session.client_token))
        if self.auth_token:
            check = functools.partial(_check_and_load, self.auth_token, loads, snapshot)
            user, data = await _in_thread(again_if_disconnected, check, pool=_read_pool())  # (reads: repeatable)
        else:
            user, data = None, None
        self._seen(user)
        return user, data

    async def _as_user(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> tuple[SessionUser | None, T | None]:
        """A click that writes: the session check and ``fn(session, user, *args, **kwargs)`` in one trip to the
        write threads (``_check_and_write``). (None, None) when the tab has no session: ``fn`` never ran."""
        topics.ORIGIN.set(topics.origin_of(self.router.session.client_token))
        if self.auth_token:
            user, result = await _in_thread(_check_and_write, self.auth_token, fn, args, kwargs, pool=_write_pool())
        else:
            user, result = None, None
        self._seen(user)
        return user, result

    def _seen(self, user: SessionUser | None) -> None:
        """What the session check found, shown in the header (no session: this tab hears no more pushes)."""
        if user is None:
            live.unsubscribe(self.router.session.client_token)
            self._session_ended = self._session_ended or bool(self.username)
            self._show_user("", "", False)
        else:
            self._show_user(user.username, user.display_name, user.is_admin)

    def _assign(self, **values: Any) -> None:
        """Set this state's vars to ``values``, only those that changed. Reflex sends every var assigned during an
        event in its delta, equal or not (a refresh that finds the same 50 rows would send all 50 again): the
        browser keeps the rest as they were."""
        for name, value in values.items():
            if getattr(self, name) != value:
                setattr(self, name, value)

    def _show_user(self, username: str, display_name: str, is_admin: bool) -> None:
        """The header's name and the admin link, assigned only when they change: every assignment dirties the
        var, so it would be sent again in every event's delta (and this state stored again)."""
        if (self.username, self.display_name, self.is_admin) != (username, display_name, is_admin):
            self.username, self.display_name, self.is_admin = username, display_name, is_admin

    async def _clear_private_data(self) -> None:
        for cls in PRIVATE_STATES:
            (await self.get_state(cls)).reset()

    async def _to_login(self):
        """Forget everything private in this tab and go to the login page (saying why, when this tab's
        session ended elsewhere)."""
        ended, self._session_ended = self._session_ended, False
        await self._clear_private_data()
        if ended:
            return [rx.redirect(routes.LOGIN, replace=True), rx.toast.info("You were logged out.")]
        return rx.redirect(routes.LOGIN, replace=True)

    def _left_page(self) -> bool:
        """True when this tab's open page is no longer this state's (a late answer to a live push)."""
        return not live.is_current(self.router.session.client_token, type(self))

    def _listen(self, user: SessionUser, *page_topics: str) -> None:
        """Subscribe this tab to live updates of what its page shows (and to the player's own topic:
        a logout anywhere ends this tab at once). The page state's ``live_refresh`` runs on each."""
        live.subscribe(self.router.session.client_token, type(self), user.id, {topics.user(user.id), *page_topics})

    def _remember(self, result: auth_service.LoginResult) -> None:
        self.auth_token = result.token
        self.username, self.display_name = result.user.username, result.user.display_name
        self.is_admin = result.user.is_admin

    @rx.event
    async def logout(self):
        self._logouts += 1
        await run(auth_service.logout, self.auth_token)
        live.unsubscribe(self.router.session.client_token)
        self.auth_token = ""
        self.username, self.display_name, self.is_admin = "", "", False
        await self._clear_private_data()
        return [rx.redirect(routes.LOGIN, replace=True), rx.toast.info("You are logged out.")]
