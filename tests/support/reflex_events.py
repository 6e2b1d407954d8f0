"""Drive page loads through Reflex's real event processor, in process (no browser, no server): the same
``BaseStateEventProcessor`` the app's websocket feeds, with an in-memory state manager and a fake namespace
that records every message the tab would get."""

from __future__ import annotations

import asyncio
import uuid

from reflex.istate.manager.memory import StateManagerMemory
from reflex.istate.manager.token import BaseStateToken
from reflex.state import OnLoadInternalState, State
from reflex_base.constants import RouteVar
from reflex_base.event import Event
from reflex_base.event.processor.base_state_processor import BaseStateEventProcessor
from reflex_base.utils.format import format_event_handler

import economy_app.economy_app  # noqa: F401  (registers every page, installs state/page_load.py)
from economy_app.state.auth import AuthState

ON_LOAD = format_event_handler(OnLoadInternalState.on_load_internal)
HYDRATED = "is_hydrated_rx_state_"


class Tab:
    """Everything the server sends one tab: deltas and frontend events, in order."""

    def __init__(self):
        self.messages: list = []

    async def emit_update(self, update, token):
        self.messages.append(update)

    def hydrated(self) -> list[bool]:
        return [v[HYDRATED] for u in self.messages for v in (u.delta or {}).values() if HYDRATED in v]

    def text(self) -> str:
        return "\n".join(repr(u)[:600] for u in self.messages)


def router(token: str, path: str, query: str = "") -> dict:
    return {
        RouteVar.CLIENT_TOKEN: token,
        RouteVar.SESSION_ID: "sid-" + token,
        RouteVar.CLIENT_IP: "127.0.0.1",
        RouteVar.HEADERS: {"origin": "http://localhost:3000"},
        RouteVar.PATH: path,
        RouteVar.ORIGIN: path + (f"?{query}" if query else ""),
        RouteVar.QUERY: {},
    }


async def tab_with_session(manager, token: str, auth_token: str):
    async with manager.modify_state(BaseStateToken(ident=token, cls=State)) as root:
        auth = await root.get_state(AuthState)
        auth.auth_token = auth_token
        # A tab that has hydrated already (on the home page): its router data is known, so no rehydrate.
        root.router_data = root._update_router_vars(router(token, "/"), {})
        root.is_hydrated = True
        root._clean()


def ev(token: str, name: str, path: str, payload: dict | None = None, query: str = "") -> Event:
    return Event(name=name, payload=payload or {}, router_data=router(token, path, query))


async def run_events(auth_token: str, events_for, settle: float = 0.5, between: float = 0.0):
    """A new tab holding ``auth_token``; send it ``events_for(token)`` (a list of Events), in order, ``between``
    seconds apart; wait until the processor is idle. Returns (tab, manager, token)."""
    token = uuid.uuid4().hex
    manager = StateManagerMemory()
    tab = Tab()
    await tab_with_session(manager, token, auth_token)
    proc = BaseStateEventProcessor().configure(state_manager=manager, event_namespace=tab)
    async with proc:
        for i, e in enumerate(events_for(token)):
            if i and between:
                await asyncio.sleep(between)
            await proc.enqueue(token, e)
        for _ in range(200):
            await asyncio.sleep(settle / 10)
            if not proc._tasks and proc._queue.empty():
                break
        await asyncio.sleep(settle)
    return tab, manager, token
