"""The Reflex app: pages and their routes. Nothing else lives here."""

import reflex as rx

from economy_app.pages.home import HomeState, home_page

app = rx.App()
app.add_page(home_page, route="/", title="economy", on_load=HomeState.load)
