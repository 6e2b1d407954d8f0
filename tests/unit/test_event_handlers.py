"""Every public method of a Reflex state is an event handler the browser can call (issue 12, item 10).

This lists the event handlers of every state of the game and fails on any that is not meant to be one: a helper
must start with ``_``. A new handler is added here on purpose, with the checks its arguments need.
"""

from __future__ import annotations

import reflex as rx

import economy_app.economy_app  # noqa: F401  (registers every page and its state)

# Reflex's own handler on every state: set a var by name. It only reaches the ``set_<name>`` handlers below.
# ``live_refresh``: what a live update asks the tab to run (state/live.py); it reads like ``load`` and changes
# nothing but the page's own figures.
REFLEX_BUILTIN = {"setvar"}

EXPECTED = {
    "AuthState": {"logout"},
    "LoginState": {"check", "login", "signup"},
    "DashboardState": {"load", "live_refresh", "hide_guide", "show_guide"},
    "AccountsState": {"load", "live_refresh", "show_chart"},
    "SendState": {
        "load",
        "live_refresh",
        "set_source",
        "search",
        "pick",
        "clear_recipient",
        "set_amount",
        "set_description",
        "confirm",
    },
    "HistoryState": {
        "load",
        "live_refresh",
        "apply",
        "set_account",
        "set_type",
        "set_since",
        "set_until",
        "clear_filters",
        "older",
        "newer",
        "export_csv",
    },
    "CompaniesState": {"load", "live_refresh", "create"},
    "DirectoryState": {"load", "live_refresh", "search", "set_sort", "go"},
    "CompanyState": {
        "load",
        "live_refresh",
        "set_scale",
        "save_company",
        "add_product",
        "open_edit",
        "close_edit",
        "save_product",
        "set_active",
        "check_public",
    },
    "CompanyProfileState": {"load", "live_refresh"},
    "MarketplaceState": {"load", "live_refresh", "search", "clear_company", "set_sort", "go"},
    "StocksState": {"load", "live_refresh", "set_sort", "go"},
    "StockState": {"load", "live_refresh", "set_range", "set_shares", "set_side", "set_account", "trade"},
    "PortfolioState": {"load", "live_refresh"},
    "RunState": {"load"},
    "LeaderboardState": {"load", "live_refresh"},
    "AdminState": {"load", "live_refresh", "search", "recalculate", "sync", "start_bulk", "run_now", "pause", "resume"},
    "MarketSettingsState": {"load", "save"},
    "AdminAccountState": {"load", "live_refresh", "set_reason", "freeze", "unfreeze", "older", "newer"},
    "HomeState": {"load", "live_refresh"},
    "ScheduleState": {"refresh"},
}


def game_states() -> dict[str, type[rx.State]]:
    found, todo = {}, [rx.State]
    while todo:
        cls = todo.pop()
        todo.extend(cls.get_substates())
        if cls.__module__.startswith("economy_app."):
            found[cls.__name__] = cls
    return found


def test_every_state_is_listed():
    assert set(game_states()) == set(EXPECTED)


def test_no_helper_is_an_event_handler():
    for name, cls in game_states().items():
        handlers = set(cls.event_handlers) - REFLEX_BUILTIN
        assert handlers == EXPECTED[name], (
            f"{name}: not meant to be event handlers: {sorted(handlers - EXPECTED[name])}; "
            f"missing: {sorted(EXPECTED[name] - handlers)}"
        )


def test_the_session_helpers_are_private():
    """The issue's list: these were callable from the browser."""
    handlers = set(game_states()["AuthState"].event_handlers)
    assert not handlers & {"remember", "current_user", "to_login", "clear_private_data"}
