"""A page's load in the navigation's own event (issue 18).

On every navigation the browser sends Reflex's ``on_load_internal``. Reflex answers it by queueing the page's
``on_load`` handler and then ``set_is_hydrated(True)`` as two more events: three events per page load, each with
the tab's state lock (in Redis: lock, load, store and unlock), its delta and its websocket message (``is_hydrated``
false, the page's data, ``is_hydrated`` true).

``install()`` runs the page's load inside ``on_load_internal`` itself when the page has exactly one ``on_load``
handler that is a coroutine (or an async generator) taking no arguments (every page of this app): one event, one
lock, one message, which carries the page's data and ``is_hydrated`` true together. The handler runs exactly as Reflex would run it
(same state instance, same session check, the events it returns routed the same way); a page whose load is
anything else (several handlers, a background or synchronous handler, arguments) keeps Reflex's own chain.

The hook is Reflex's ``_load_events_for_page``: ``on_load_internal`` returns what it returns, and Reflex's event
processor runs an async generator returned by a handler, emitting the delta after each item it yields.
"""

from __future__ import annotations

import inspect
import logging

import reflex.state as rx_state
from reflex_base.event import EventHandler
from reflex_base.registry import RegistrationContext

log = logging.getLogger(__name__)
_reflex_chain = getattr(rx_state, "_load_events_for_page", None)


def inline_handler(loads: list) -> EventHandler | None:
    """The page's one ``on_load`` handler, when it can run inside the navigation's event; else None."""
    if len(loads) != 1 or not isinstance(handler := loads[0], EventHandler) or handler.state is None:
        return None
    if handler.is_background or not (inspect.iscoroutinefunction(handler.fn) or inspect.isasyncgenfunction(handler.fn)):
        return None
    if len(inspect.signature(handler.fn).parameters) != 1:  # self only: nothing for the browser to pass
        return None
    return handler


async def _load_inline(state: rx_state.State, handler: EventHandler):
    page = await state.get_state(handler.state)
    try:
        if inspect.isasyncgenfunction(handler.fn):  # each update it yields is sent as it comes, as Reflex would
            async for update in handler.fn(page):
                yield update
            events = None
        else:
            events = await handler.fn(page)
    except Exception:
        # Reflex's chain told the tab it was hydrated after a load that raised: so does this, with the new page's
        # router data (this delta), before the error goes on to Reflex's handler.
        state.is_hydrated = True
        yield None
        raise
    # Sent with the page's data (the browser set its own copy false when it navigated): an assignment is sent
    # even when the value does not change.
    state.is_hydrated = True
    yield events


def _load_events_for_page(state: rx_state.State):
    handler = inline_handler(RegistrationContext.get().app.get_load_events(state.rx_router_url.path))
    if handler is None:
        return _reflex_chain(state)
    return _load_inline(state, handler)


def install() -> None:
    """Make every page load one event (idempotent). A Reflex without the hook keeps its own chain: slower, as
    correct (tests/e2e/test_page_load.py fails then, so an upgrade that drops it is seen)."""
    if _reflex_chain is None:
        log.warning("page loads: reflex.state._load_events_for_page is gone; each page load stays three events")
        return
    rx_state._load_events_for_page = _load_events_for_page
