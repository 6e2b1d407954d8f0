"""The paged, sortable list behind the directory, the marketplace and the stock market pages."""

from __future__ import annotations

import math

import reflex as rx


class PagedList(rx.State, mixin=True):
    """A page of rows: ``page``/``total``/``pages`` and the sort/paging handlers. A page state mixes this
    in and defines ``page_size``, ``sorts`` (the allowed sort keys) and ``async _fetch()`` (which loads
    ``self.page`` and returns an event to send back, or None)."""

    sort: str = ""
    page: int = 1
    total: int = 0

    @rx.var
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.page_size))

    @rx.event
    async def set_sort(self, value: str):
        if value in self.sorts:
            self.sort, self.page = value, 1
        return await self._fetch()

    @rx.event
    async def go(self, delta: int):
        """One page back (-1) or on (1); any other value from the browser moves nowhere."""
        step = delta if isinstance(delta, int) and not isinstance(delta, bool) and abs(delta) == 1 else 0
        self.page = min(max(1, self.page + step), self.pages)
        return await self._fetch()


def pager(state) -> rx.Component:
    return rx.hstack(
        rx.button("Previous", on_click=state.go(-1), disabled=state.page <= 1, variant="soft"),
        rx.text("Page ", state.page, " of ", state.pages, size="2"),
        rx.button("Next", on_click=state.go(1), disabled=state.page >= state.pages, variant="soft"),
        align="center",
        justify="center",
        width="100%",
    )
