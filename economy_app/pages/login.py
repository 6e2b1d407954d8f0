"""Log in and sign up."""

from __future__ import annotations

import reflex as rx

from economy_app import config, routes
from economy_app.components.forms import field_label
from economy_app.components.layout import public_page
from economy_app.event_args import form_text
from economy_app.money import format_cents
from economy_app.services import auth as auth_service
from economy_app.services.errors import EconomyError
from economy_app.state.auth import AuthState, run

WELCOME = f"Welcome! Your account opened with {format_cents(config.INITIAL_BALANCE_CENTS)}."


class LoginState(AuthState):
    error: str = ""
    busy: bool = False

    @rx.event
    async def check(self):
        """A visitor who is already logged in goes straight to the dashboard."""
        # A fresh form: a spinner left by a login whose worker died mid-hash (its state kept in Redis) goes.
        self.error, self.busy = "", False
        if self.auth_token and await self._current_user() is not None:
            return rx.redirect(routes.DASHBOARD, replace=True)

    async def _enter(self, fn, *args, welcome: str | None = None, **kwargs):
        """Log in through ``fn`` (login or sign-up): busy while it runs, the error on the form, or the
        session remembered and the dashboard.

        The handlers that call this run in the background: the tab's state is locked only to read and set
        it (``async with self``), never while the password is hashed (~0.1 s of CPU by design, seconds when
        many log in at once). Held through the hash, the tab's lock in Redis could expire first, and the
        session this login made was then never stored in the tab."""
        async with self:
            if self.busy:
                return
            self.busy, logouts = True, self._logouts
        try:
            result = await run(fn, *args, **kwargs)
        except EconomyError as e:
            async with self:
                self.error, self.busy = str(e), False
            yield rx.toast.error(str(e))
            return
        except BaseException:
            async with self:
                self.busy = False
            raise
        async with self:
            self.error, self.busy = "", False
            kept = self._logouts == logouts
            if kept:
                self._remember(result)
        if not kept:  # the player logged out meanwhile (the tab's last word): the new session ends at once
            await run(auth_service.logout, result.token)
            return
        # A failed attempt's toast must not follow the player to the dashboard beside "Welcome!".
        yield [
            rx.toast.dismiss(),
            rx.redirect(routes.DASHBOARD, replace=True),
            *([rx.toast.success(welcome)] if welcome else []),
        ]

    @rx.event(background=True)
    async def login(self, form: dict):
        username, password = form_text(form, "username"), form_text(form, "password")
        if username is None or password is None:
            async with self:
                self.error = auth_service.GENERIC_FAILURE
            return
        async for event in self._enter(auth_service.login, username, password, client=self._client_address()):
            yield event

    @rx.event(background=True)
    async def signup(self, form: dict):
        username, display_name = form_text(form, "username"), form_text(form, "display_name")
        password, confirm = form_text(form, "password"), form_text(form, "confirm")
        if None in (username, display_name, password, confirm):
            async with self:
                self.error = "Fill in the form: username, password and its confirmation."
            return
        if password != confirm:
            async with self:
                self.error = "The two passwords differ."
            return
        async for event in self._enter(
            auth_service.signup,
            username,
            password,
            display_name=display_name.strip() or None,
            client=self._client_address(),
            welcome=WELCOME,
        ):
            yield event


def _field(
    label: str, name: str, *, type_: str = "text", placeholder: str = "", hint: str = "", **props
) -> rx.Component:
    return rx.vstack(
        field_label(label, name),
        rx.input(name=name, id=name, type=type_, placeholder=placeholder, size="3", width="100%", **props),
        rx.text(hint, size="1", color_scheme="gray") if hint else rx.fragment(),
        spacing="1",
        width="100%",
    )


def _error() -> rx.Component:
    return rx.cond(
        LoginState.error != "",
        rx.callout(LoginState.error, icon="triangle-alert", color_scheme="red", width="100%", id="form-error"),
    )


def _card(title: str, subtitle: str, form: rx.Component, footer: rx.Component) -> rx.Component:
    return public_page(
        rx.center(
            rx.card(
                rx.vstack(
                    rx.heading(title, size="6"),
                    rx.text(subtitle, color_scheme="gray", size="2"),
                    _error(),
                    form,
                    footer,
                    spacing="4",
                    width="100%",
                ),
                size="4",
                width="100%",
                max_width="26em",
            ),
            padding_top=["1em", "3em"],
        ),
    )


def login_page() -> rx.Component:
    return _card(
        "Log in",
        "Welcome back to the economy.",
        rx.form(
            rx.vstack(
                _field("Username", "username", auto_complete="username", required=True, auto_focus=True),
                _field("Password", "password", type_="password", auto_complete="current-password", required=True),
                rx.button("Log in", type="submit", size="3", width="100%", loading=LoginState.busy, id="login-submit"),
                spacing="3",
                width="100%",
            ),
            on_submit=LoginState.login,
            width="100%",
        ),
        rx.text("New here? ", rx.link("Create an account", href=routes.SIGNUP), size="2"),
    )


def signup_page() -> rx.Component:
    return _card(
        "Create your account",
        f"Every new player starts with {format_cents(config.INITIAL_BALANCE_CENTS)}.",
        rx.form(
            rx.vstack(
                _field(
                    "Username",
                    "username",
                    auto_complete="username",
                    required=True,
                    auto_focus=True,
                    hint="3-30 letters, digits, _ or -",
                    max_length=30,
                ),
                _field("Display name (optional)", "display_name", max_length=60),
                _field(
                    "Password",
                    "password",
                    type_="password",
                    auto_complete="new-password",
                    required=True,
                    hint="At least 8 characters",
                ),
                _field("Confirm password", "confirm", type_="password", auto_complete="new-password", required=True),
                rx.button(
                    "Sign up", type="submit", size="3", width="100%", loading=LoginState.busy, id="signup-submit"
                ),
                spacing="3",
                width="100%",
            ),
            on_submit=LoginState.signup,
            width="100%",
        ),
        rx.text("Already playing? ", rx.link("Log in", href=routes.LOGIN), size="2"),
    )
