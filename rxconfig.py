"""Reflex configuration. The game's own database is DATABASE_URL (economy_app/config.py),
read by the service layer; Reflex itself keeps no database of ours."""

import reflex as rx

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
)
