"""Page shells: the public one (brand bar) and the player's (sidebar on wide screens, top bar on narrow)."""

from __future__ import annotations

import reflex as rx

from economy_app import routes
from economy_app.state.auth import AuthState

PLAYER_NAV = [
    ("Dashboard", routes.DASHBOARD, "layout-dashboard"),
    ("Accounts", routes.ACCOUNTS, "wallet"),
    ("Send money", routes.SEND, "send"),
    ("History", routes.HISTORY, "scroll-text"),
    ("Companies", routes.COMPANIES, "building-2"),
    ("For sale", routes.FOR_SALE, "handshake"),
    ("Marketplace", routes.MARKETPLACE, "store"),
    ("Stocks", routes.STOCKS, "chart-candlestick"),
    ("Portfolio", routes.PORTFOLIO, "briefcase"),
    ("Loans", routes.LOANS, "landmark"),
    ("Leaderboard", routes.LEADERBOARD, "trophy"),
]


def brand() -> rx.Component:
    return rx.link(
        rx.hstack(
            rx.icon("landmark", size=22), rx.heading("economy", size="5", weight="bold"), align="center", spacing="2"
        ),
        href=routes.HOME,
        underline="none",
        color="inherit",
    )


def theme_button(**props) -> rx.Component:
    """The sun/moon toggle, named for screen readers (an icon alone has no name)."""
    return rx.color_mode.button(size="2", aria_label="Switch between light and dark mode", **props)


def _active(href: str):
    return rx.State.router.url.path == href


def _nav_item(label: str, href: str, icon: str) -> rx.Component:
    return rx.link(
        rx.hstack(
            rx.icon(icon, size=18),
            rx.text(label, size="3"),
            align="center",
            spacing="3",
            padding_x="0.75em",
            padding_y="0.5em",
            border_radius="var(--radius-3)",
            width="100%",
            background_color=rx.cond(_active(href), "var(--accent-a4)", "transparent"),
            _hover={"background_color": "var(--gray-a3)"},
        ),
        href=href,
        underline="none",
        color="inherit",
        width="100%",
        id=f"nav-{href.strip('/') or 'home'}",
    )


def _admin_item() -> rx.Component:
    """Shown to admins only (the page itself checks the role on the server)."""
    return rx.cond(AuthState.is_admin, _nav_item("Admin", routes.ADMIN, "shield"))


def _user_box() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.avatar(fallback=AuthState.username[:2].upper(), size="2", radius="full"),
            rx.vstack(
                rx.text(AuthState.display_name, size="2", weight="medium"),
                rx.text("@", AuthState.username, size="1", color_scheme="gray"),
                spacing="0",
            ),
            align="center",
        ),
        rx.hstack(
            theme_button(variant="soft"),
            rx.button(
                rx.icon("log-out", size=14),
                "Log out",
                on_click=AuthState.logout,
                variant="soft",
                color_scheme="gray",
                size="2",
                id="logout",
            ),
            spacing="2",
        ),
        spacing="3",
        width="100%",
    )


def _sidebar() -> rx.Component:
    return rx.vstack(
        brand(),
        rx.vstack(
            *[_nav_item(*item) for item in PLAYER_NAV], _admin_item(), spacing="1", width="100%", margin_top="1.5em"
        ),
        rx.spacer(),
        _user_box(),
        width="15em",
        height="100vh",
        position="sticky",
        top="0",
        padding="1.25em",
        border_right="1px solid var(--gray-a5)",
        flex_shrink="0",
        display=["none", "none", "none", "flex"],
    )


def _top_bar() -> rx.Component:
    return rx.hstack(
        brand(),
        rx.spacer(),
        theme_button(variant="ghost"),
        rx.menu.root(
            rx.menu.trigger(
                rx.icon_button(rx.icon("menu", size=20), variant="soft", size="2", id="menu", aria_label="Menu")
            ),
            rx.menu.content(
                *[
                    rx.menu.item(rx.hstack(rx.icon(icon, size=16), rx.text(label)), on_click=rx.redirect(href))
                    for label, href, icon in PLAYER_NAV
                ],
                rx.cond(
                    AuthState.is_admin,
                    rx.menu.item(
                        rx.hstack(rx.icon("shield", size=16), rx.text("Admin")), on_click=rx.redirect(routes.ADMIN)
                    ),
                ),
                rx.menu.separator(),
                rx.menu.item(rx.hstack(rx.icon("log-out", size=16), rx.text("Log out")), on_click=AuthState.logout),
            ),
        ),
        align="center",
        padding="0.75em 1em",
        border_bottom="1px solid var(--gray-a5)",
        position="sticky",
        top="0",
        z_index="10",
        background_color="var(--color-background)",
        width="100%",
        display=["flex", "flex", "flex", "none"],
    )


def player_page(*children: rx.Component, title: str, actions: rx.Component | None = None) -> rx.Component:
    """The shell of every logged-in page. Renders nothing private until the page's load handler ran."""
    header = rx.flex(
        rx.heading(title, size="7"),
        rx.spacer(),
        actions or rx.fragment(),
        align="center",
        wrap="wrap",
        gap="0.75em",
        margin_bottom="1.25em",
        width="100%",
    )
    body = rx.box(header, *children, width="100%", max_width="68em", padding=["1em", "1.5em", "2em"], margin_x="auto")
    # The page body is rendered once; only the navigation switches with the width.
    return rx.flex(
        _sidebar(),
        rx.box(_top_bar(), body, width="100%", min_width="0"),
        direction="row",
        align="start",
        min_height="100vh",
        width="100%",
    )


def public_page(*children: rx.Component, title: str | None = None, width: str = "72em") -> rx.Component:
    return rx.box(
        rx.flex(
            brand(),
            rx.spacer(),
            rx.hstack(
                rx.link("Log in", href=routes.LOGIN, size="3", weight="medium", id="nav-login"),
                rx.link(rx.button("Sign up", size="2"), href=routes.SIGNUP, id="nav-signup"),
                theme_button(variant="ghost"),
                align="center",
                spacing="4",
            ),
            align="center",
            padding_x=["1em", "2em"],
            padding_y="0.75em",
            border_bottom="1px solid var(--gray-a5)",
        ),
        rx.box(
            rx.heading(title, size="7", margin_bottom="0.75em") if title else rx.fragment(),
            *children,
            max_width=width,
            margin_x="auto",
            padding=["1em", "2em"],
        ),
        min_height="100vh",
    )
