"""The admin page's "Marketplace settings" section: the public's budget range, the interval between runs,
a company's cap, the listing limit and the hold for new listings. Stored in the database (every worker
obeys them); every change is role-checked and audited in the service (operations.update_marketplace_settings)."""

from __future__ import annotations

import reflex as rx

from economy_app.components.forms import field_label
from economy_app.display import duration_text, when
from economy_app.money import AmountError, format_cents, format_dollars_input, parse_dollars
from economy_app.services import marketplace_settings, operations
from economy_app.services.errors import EconomyError
from economy_app.state.auth import AuthState, private, run

INTEGER_FIELDS = {  # form field -> (setting, what to type)
    "interval": ("interval_seconds", "Interval: a whole number of seconds."),
    "cap": ("company_cap_percent", "Company cap: a whole percentage, 1 to 100."),
    "limit": ("listing_limit", "Listing limit: a whole number of products."),
    "hold": ("hold_seconds", "Hold: a whole number of seconds (0 for none)."),
}


def parse_settings_form(form: dict) -> dict:
    """The form's text as settings (cents and whole numbers); ValueError with the field's message."""
    values = {}
    for field, setting, label in (
        ("budget_min", "budget_min_cents", "Lowest budget"),
        ("budget_max", "budget_max_cents", "Highest budget"),
    ):
        try:
            values[setting] = parse_dollars(str(form.get(field, "")))
        except AmountError as e:
            raise ValueError(f"{label}: {e}") from None
    for field, (setting, message) in INTEGER_FIELDS.items():
        text = str(form.get(field, "")).strip().replace(",", "")
        if not (text.isascii() and text.isdigit()) or len(text) > 9:
            raise ValueError(message)
        values[setting] = int(text)
    return values


@private
class MarketSettingsState(AuthState):
    loaded: bool = False
    budget_min: str = ""
    budget_max: str = ""
    interval: str = ""
    cap: str = ""
    limit: str = ""
    hold: str = ""
    source: str = ""
    typical: str = ""
    interval_words: str = ""  # the settings in force, in words: "10 min"
    hold_words: str = ""
    version: int = 0  # re-keys the form's inputs after a load or a save

    async def _admin_user(self):
        user = await self._current_user()
        if user is None:
            return None
        try:
            await run(operations.require_admin, user.id)
        except EconomyError:
            return None
        return user

    async def _fill(self) -> None:
        v = await run(marketplace_settings.view)
        st = v.settings
        self.budget_min, self.budget_max = (
            format_dollars_input(st.budget_min_cents),
            format_dollars_input(st.budget_max_cents),
        )
        self.interval, self.cap = str(st.interval_seconds), str(st.company_cap_percent)
        self.limit, self.hold = str(st.listing_limit), str(st.hold_seconds)
        self.interval_words, self.hold_words = duration_text(st.interval_seconds), duration_text(st.hold_seconds)
        self.source = (
            f"Last changed by {v.updated_by} at {when(v.updated_at)} UTC; "
            f"{len(v.set_by_admin)} of 6 set on this page, the rest from the environment."
            if v.set_by_admin
            else "Environment defaults: no admin has changed them yet."
        )
        self.typical = (
            f"Typical price at the latest run: {format_cents(v.typical_price_cents)} ({when(v.typical_price_at)} UTC)."
            if v.typical_price_cents
            else "No run has priced the market yet."
        )
        self.version += 1
        self.loaded = True

    @rx.event
    async def load(self):
        if await self._admin_user() is None:
            return None
        await self._fill()
        return None

    @rx.event
    async def save(self, form: dict):
        user = await self._admin_user()
        if user is None:
            return rx.toast.error("Only admins can do that.")
        try:
            values = parse_settings_form(form)
        except ValueError as e:
            return rx.toast.error(str(e))
        try:
            await run(operations.update_marketplace_settings, actor_id=user.id, **values)
        except EconomyError as e:
            return rx.toast.error(str(e))
        await self._fill()
        return rx.toast.success("Marketplace settings saved: every worker uses them from its next run.")


def _field(label: str, name: str, value, hint: str) -> rx.Component:
    return rx.vstack(
        field_label(label, f"market-setting-{name}"),
        rx.input(
            name=name,
            default_value=value,
            key=MarketSettingsState.version.to_string() + name,
            id=f"market-setting-{name}",
            width="100%",
        ),
        rx.text(hint, size="1", color_scheme="gray"),
        spacing="1",
        width="100%",
    )


def marketplace_settings_card() -> rx.Component:
    s = MarketSettingsState
    return rx.card(
        rx.vstack(
            rx.heading("Marketplace settings", size="4"),
            rx.form(
                rx.vstack(
                    rx.grid(
                        _field("Lowest budget ($)", "budget_min", s.budget_min, "the public's budget per run, from"),
                        _field("Highest budget ($)", "budget_max", s.budget_max, "up to (drawn at random)"),
                        _field(
                            "Interval (seconds)",
                            "interval",
                            s.interval,
                            "between runs, on slot boundaries; now " + s.interval_words,
                        ),
                        _field("Company cap (%)", "cap", s.cap, "the most one company takes of a run's budget"),
                        _field("Listing limit", "limit", s.limit, "products on sale per company"),
                        _field(
                            "Hold (seconds)",
                            "hold",
                            s.hold,
                            "before the public sees a new listing; now " + s.hold_words,
                        ),
                        columns=rx.breakpoints(initial="2", lg="3"),
                        spacing="3",
                        width="100%",
                    ),
                    rx.button("Save marketplace settings", type="submit", id="market-settings-save"),
                    spacing="3",
                    width="100%",
                ),
                on_submit=MarketSettingsState.save,
                width="100%",
            ),
            rx.text(s.source, size="1", color_scheme="gray", id="market-settings-source"),
            rx.text(s.typical, size="1", color_scheme="gray"),
            width="100%",
        ),
        width="100%",
        on_mount=MarketSettingsState.load,
        id="market-settings",
    )
