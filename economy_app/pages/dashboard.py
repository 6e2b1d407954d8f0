"""Dashboard: net worth, personal balance, the last 10 ledger entries, quick actions."""

from __future__ import annotations

import reflex as rx

from economy_app import routes
from economy_app.components.countdown import PAUSED_TEXT, marketplace_clock, notice
from economy_app.components.layout import player_page
from economy_app.components.money import money
from economy_app.components.tables import history_table
from economy_app.display import (
    GuideStepRow,
    HistoryItem,
    at_text,
    frozen_notices,
    guide_rows,
    history_item,
    next_interest_text,
)
from economy_app.money import format_cents
from economy_app.services import accounts, companies, marketplace_settings
from economy_app.services import guide as guides
from economy_app.services import live as topics
from economy_app.state.auth import AuthState, logged_in, private, read, refresh_on_push, run
from economy_app.state.schedule import every_text


def _dashboard(s, user) -> accounts.Dashboard:
    """The dashboard's one read, made with the session check (``logged_in(loads=...)``)."""
    return accounts.dashboard(s, user.id)


@private
class DashboardState(AuthState):
    loaded: bool = False
    net_worth: str = ""
    net_worth_cents: int = 0
    holdings: str = ""
    holdings_cents: int = 0
    owed: str = ""  # what the player's companies owe their shareholders
    owed_cents: int = 0
    unpayable: str = ""  # of the shares' value, what their companies could not pay for now ("" when they could)
    personal: str = ""
    personal_cents: int = 0
    debt: str = ""  # what the player owes the bank
    debt_cents: int = 0
    next_interest: str = ""
    due: str = ""
    account_count: int = 0
    recent: list[HistoryItem] = []
    frozen_notices: list[str] = []  # an admin froze some of the player's accounts (display.frozen_notices)
    first_session: bool = False  # the session the player signed up with: "Welcome", not "Welcome back"
    guide: list[GuideStepRow] = []
    guide_shown: bool = False
    guide_hidden: bool = False  # hidden by the player (a link shows it again)
    guide_done: int = 0

    @rx.event
    @logged_in(loads=_dashboard)
    async def load(self, user, d):
        self._show(user, d)

    @rx.event
    @refresh_on_push(loads=_dashboard)
    async def live_refresh(self, user, d):
        self._show(user, d)

    def _show(self, user, d: accounts.Dashboard):
        names = {v.id: v.name for v in d.accounts}
        g = d.guide
        guide = guide_rows(
            g,
            every=every_text(marketplace_settings.cached_interval()),
            threshold_cents=companies.PUBLIC_THRESHOLD_CENTS,
        )
        self._assign(
            net_worth=format_cents(d.net_worth),
            net_worth_cents=d.net_worth,
            holdings=format_cents(d.holdings),
            holdings_cents=d.holdings,
            owed=format_cents(d.owed),
            owed_cents=d.owed,
            unpayable=format_cents(d.unpayable) if d.unpayable else "",
            personal=format_cents(d.personal_balance),
            personal_cents=d.personal_balance,
            debt=format_cents(d.debt),
            debt_cents=d.debt,
            next_interest=next_interest_text(d.loan),
            due=at_text(d.loan.due_at if d.loan else None),
            account_count=len(d.accounts),
            recent=[history_item(r, names, d.system_account_id) for r in d.recent],
            frozen_notices=frozen_notices(d.accounts),
            first_session=g.first_session,
            guide=guide,
            guide_shown=g.shown,
            guide_hidden=g.hidden and not g.all_done,
            guide_done=sum(1 for step in guide if step.done),
            loaded=True,
        )
        self._listen(user, *(topics.account(v.id) for v in d.accounts))

    @rx.event
    @logged_in
    async def hide_guide(self, user):
        await run(guides.set_hidden, user.id, True)
        self._show(user, await read(_dashboard, user))

    @rx.event
    @logged_in
    async def show_guide(self, user):
        await run(guides.set_hidden, user.id, False)
        self._show(user, await read(_dashboard, user))


def stat(label: str, value: rx.Component, hint: rx.Component | str, test_id: str) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.text(label, size="2", color_scheme="gray", weight="medium"),
            rx.heading(value, size="7", id=test_id),
            rx.text(hint, size="1", color_scheme="gray"),
            spacing="1",
        ),
        size="2",
        width="100%",
    )


def _loan_card() -> rx.Component:
    """What the player owes the bank, the next interest charge and the due date (see the loans page)."""
    return rx.card(
        rx.flex(
            rx.vstack(
                rx.text("Owed to the bank", size="2", color_scheme="gray", weight="medium"),
                rx.heading(money(DashboardState.debt, -DashboardState.debt_cents), size="6", id="loan-debt"),
                spacing="1",
            ),
            rx.vstack(
                rx.text("Next interest", size="2", color_scheme="gray", weight="medium"),
                rx.text(
                    rx.cond(DashboardState.next_interest != "", DashboardState.next_interest, "none before it is due"),
                    size="3",
                    id="loan-next-interest",
                ),
                spacing="1",
            ),
            rx.vstack(
                rx.text("Due", size="2", color_scheme="gray", weight="medium"),
                rx.text(DashboardState.due, size="3", id="loan-due"),
                spacing="1",
            ),
            rx.link(rx.button("Repay", variant="soft"), href=routes.LOANS),
            gap="2em",
            wrap="wrap",
            align="center",
        ),
        width="100%",
        id="loan-card",
    )


def _action(label: str, href: str, icon: str) -> rx.Component:
    return rx.link(rx.button(rx.icon(icon, size=16), label, variant="soft", size="3"), href=href)


def _guide_step(step: GuideStepRow) -> rx.Component:
    return rx.hstack(
        rx.cond(
            step.done,
            rx.icon("circle-check", size=20, color="var(--grass-11)", flex_shrink="0", aria_label="Done"),
            rx.icon("circle", size=20, color="var(--gray-8)", flex_shrink="0", aria_label="To do"),
        ),
        rx.vstack(
            rx.text(
                step.title,
                weight="medium",
                size="2",
                text_decoration=rx.cond(step.done, "line-through", "none"),
                color=rx.cond(step.done, "var(--gray-11)", "inherit"),
            ),
            rx.cond(
                ~step.done,
                rx.text(step.text, " ", rx.link(step.link_text, href=step.link), size="1", color_scheme="gray"),
            ),
            spacing="0",
        ),
        align="start",
        spacing="2",
        class_name=rx.cond(step.done, "guide-step guide-done", "guide-step"),
    )


def _guide() -> rx.Component:
    """How to play: the loop of the game, ticked off from what the player has done (services/guide.py)."""
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.icon("map", size=18),
                rx.heading("How to play", size="4"),
                rx.badge(DashboardState.guide_done.to_string() + " of 5 done", variant="soft", size="1"),
                rx.spacer(),
                rx.icon_button(
                    rx.icon("x", size=16),
                    variant="ghost",
                    color_scheme="gray",
                    size="1",
                    on_click=DashboardState.hide_guide,
                    aria_label="Hide how to play",
                ),
                align="center",
                width="100%",
            ),
            rx.grid(
                rx.foreach(DashboardState.guide, _guide_step),
                columns=rx.breakpoints(initial="1", md="2"),
                spacing="3",
                width="100%",
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
        id="guide",
    )


def dashboard_page() -> rx.Component:
    return player_page(
        rx.cond(
            DashboardState.loaded,
            rx.vstack(
                rx.flex(
                    rx.text(
                        rx.cond(DashboardState.first_session, "Welcome, ", "Welcome back, "),
                        rx.text(DashboardState.display_name, as_="span", weight="bold"),
                        ".",
                        size="3",
                        color_scheme="gray",
                        id="greeting",
                    ),
                    rx.cond(
                        DashboardState.guide_hidden,
                        rx.button(
                            rx.icon("circle-help", size=14),
                            "How to play",
                            variant="ghost",
                            size="1",
                            on_click=DashboardState.show_guide,
                        ),
                    ),
                    gap="0.75em",
                    align="center",
                    wrap="wrap",
                ),
                rx.foreach(
                    DashboardState.frozen_notices,
                    lambda text: rx.callout(
                        text, icon="snowflake", color_scheme="blue", width="100%", class_name="frozen-notice"
                    ),
                ),
                rx.cond(DashboardState.guide_shown, _guide()),
                rx.grid(
                    stat(
                        "Net worth",
                        money(DashboardState.net_worth, DashboardState.net_worth_cents),
                        rx.fragment(
                            rx.cond(
                                DashboardState.holdings_cents > 0,
                                "cash in all your accounts + " + DashboardState.holdings + " in shares",
                                "cash across all your accounts",
                            ),
                            rx.cond(
                                DashboardState.owed_cents > 0,
                                " - " + DashboardState.owed + " your companies owe their shareholders",
                                "",
                            ),
                            rx.cond(DashboardState.debt_cents > 0, " - " + DashboardState.debt + " you owe", ""),
                        ),
                        "net-worth",
                    ),
                    stat(
                        "Personal balance",
                        money(DashboardState.personal, DashboardState.personal_cents),
                        "your personal account",
                        "personal-balance",
                    ),
                    stat("Accounts", rx.text(DashboardState.account_count), "that you own", "account-count"),
                    columns=rx.breakpoints(initial="1", sm="3"),
                    spacing="4",
                    width="100%",
                ),
                rx.cond(DashboardState.debt_cents > 0, _loan_card()),
                rx.cond(
                    DashboardState.unpayable != "",
                    rx.callout(
                        rx.fragment(
                            rx.text(
                                DashboardState.unpayable,
                                " of your shares' value is more than their companies could pay for them now. ",
                                as_="span",
                            ),
                            rx.link("See your portfolio.", href=routes.PORTFOLIO),
                        ),
                        icon="triangle-alert",
                        color_scheme="amber",
                        width="100%",
                        id="dashboard-unpayable",
                    ),
                ),
                notice(
                    "timer",
                    marketplace_clock(rx.text("Next marketplace run", size="2"), PAUSED_TEXT, id="countdown"),
                    rx.link("See what's on sale", href=routes.MARKETPLACE, size="2"),
                ),
                rx.flex(
                    _action("Send money", routes.SEND, "send"),
                    _action("History", routes.HISTORY, "scroll-text"),
                    _action("Accounts", routes.ACCOUNTS, "wallet"),
                    _action("Companies", routes.COMPANIES, "building-2"),
                    gap="0.75em",
                    wrap="wrap",
                ),
                rx.heading("Recent activity", size="4", margin_top="0.5em"),
                history_table(DashboardState.recent, show_account=DashboardState.account_count > 1),
                spacing="4",
                width="100%",
            ),
            rx.center(rx.spinner(size="3"), padding="4em"),
        ),
        title="Dashboard",
    )
