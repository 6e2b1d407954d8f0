"""Reflex configuration. The game's own database is DATABASE_URL (economy_app/config.py),
read by the service layer; Reflex itself keeps no database of ours.

Reflex's per-tab UI state: in Redis when REFLEX_REDIS_URL is set (several workers share it), else in the one
worker's memory. Reflex's default without Redis, the disk manager, pickles every touched state to `.states`
and lists and stats that whole folder every two seconds (a tenth of a worker's CPU at 100 players), for
nothing: `reflex run` empties `.states` at every start, so no tab's state ever outlives the process.

"""

import os

import reflex as rx

if os.environ.get("REFLEX_REDIS_URL"):
    # Reflex's opportunistic lock: a worker keeps a tab's state in memory for up to 5 s after it locked it and serves
    # the tab's next events from it (a tab's socket lives on one worker, so they arrive there anyway), instead of
    # locking, loading and storing it in Redis for each; another worker that needs the tab asks through Redis and
    # gets it at once. Measured (README, performance): 7-22% less CPU per event and shorter tails; 5 s (Reflex's own
    # default, half the lock's 10 s expiry) rather than 3 s: a quarter to a third fewer Redis commands per event.
    # The price: a worker that dies loses its tabs' last 5 s of page state (never money, never a session: the
    # browser keeps its token). `REFLEX_OPLOCK_ENABLED=false` turns it off.
    os.environ.setdefault("REFLEX_OPLOCK_ENABLED", "true")
    os.environ.setdefault("REFLEX_OPLOCK_HOLD_TIME", "5s")

config = rx.Config(
    app_name="economy_app",
    show_built_with_reflex=False,
    telemetry_enabled=False,
    plugins=[
        rx.plugins.RadixThemesPlugin(
            theme=rx.theme(appearance="inherit", accent_color="jade", gray_color="sage", radius="medium"),
        ),
    ],
    disable_plugins=[rx.plugins.SitemapPlugin],
    **({} if os.environ.get("REFLEX_REDIS_URL") else {"state_manager_mode": rx.constants.StateManagerMode.MEMORY}),
)
