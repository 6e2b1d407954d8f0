"""The marketplace's operator settings: stored in the database, so every worker obeys the same values.

One row (``marketplace_settings``, id 1). A column an admin never set is NULL and the environment
default applies (``ECONOMY_MARKET_*``, ``ECONOMY_MARKETPLACE_INTERVAL_SECONDS``), so a fresh game runs
as configured and an admin's change, once saved, wins in every worker at its next read. Admins change
them on the admin page through ``operations.update_marketplace_settings`` (role checked, audited, refusals too).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlmodel import Session

from economy_app import config
from economy_app.db import insert_ignore
from economy_app.models import MarketplaceSettings, utcnow
from economy_app.money import format_cents
from economy_app.services._tx import unit
from economy_app.services.errors import InvalidInput

settings_t = MarketplaceSettings.__table__

MAX_BUDGET_CENTS = 100_000_000_000  # $1,000,000,000.00 a run
MAX_INTERVAL_SECONDS = 86_400
MAX_HOLD_SECONDS = 86_400
MAX_LISTING_LIMIT = 1_000


@dataclass(frozen=True)
class MarketSettings:
    budget_min_cents: int
    budget_max_cents: int
    interval_seconds: int  # time between scheduled runs (slots aligned to multiples of it since the epoch)
    company_cap_percent: int  # the most one company may take of one run's budget
    listing_limit: int  # active products per company
    hold_seconds: int  # a new (or relisted) product waits this long before the public sees it

    def cap_cents(self, budget: int) -> int:
        return budget * self.company_cap_percent // 100

    def price_warning(self, price_cents: int) -> str:
        """Why a product at this price sells rarely or never ('' when it can sell in any run): no company takes
        more than its cap of a run's budget, so a single unit dearer than the cap of the largest budget never
        sells, and one dearer than the cap of the smallest sells only in the runs with the largest budgets."""
        most, least = self.cap_cents(self.budget_max_cents), self.cap_cents(self.budget_min_cents)
        spends = (
            f"the public spends at most {self.company_cap_percent}% of a run's budget on one company "
            f"({format_cents(least)} to {format_cents(most)} a run)"
        )
        if price_cents > most:
            return f"It will not sell at this price: {spends}, less than one unit."
        if price_cents > least:
            return f"It sells only in runs with the largest budgets: {spends}."
        return ""


@dataclass(frozen=True)
class SettingsView:
    """The settings in force, which of them an admin set, and the last run's typical price."""

    settings: MarketSettings
    set_by_admin: frozenset[str]
    updated_at: datetime | None
    updated_by: str | None
    typical_price_cents: int | None
    typical_price_at: datetime | None


FIELDS = tuple(f.name for f in fields(MarketSettings))
_last_interval: int | None = None  # this process's latest read (the scheduler's trigger and page labels)


def env_defaults() -> MarketSettings:
    """The settings no admin has stored yet, as the environment sets them (``config.marketplace_defaults``),
    each clamped to its range."""
    values = config.marketplace_defaults()
    values["interval_seconds"] = max(1, values["interval_seconds"])
    values["hold_seconds"] = max(0, values["hold_seconds"])
    values["listing_limit"] = max(1, values["listing_limit"])
    values["company_cap_percent"] = min(100, max(1, values["company_cap_percent"]))
    values["budget_min_cents"] = max(1, values["budget_min_cents"])
    values["budget_max_cents"] = max(values["budget_min_cents"], values["budget_max_cents"])
    return MarketSettings(**values)


def view(s: Session) -> SettingsView:
    global _last_interval
    with unit(s, write=False):
        row = s.execute(select(settings_t).where(settings_t.c.id == 1)).mappings().first()
    base = env_defaults()
    stored = {k: row[k] for k in FIELDS if row is not None and row[k] is not None}
    settings = replace(base, **stored)
    if settings.budget_max_cents < settings.budget_min_cents:  # an environment changed under a stored value
        settings = replace(settings, budget_max_cents=settings.budget_min_cents)
    _last_interval = settings.interval_seconds
    return SettingsView(
        settings=settings,
        set_by_admin=frozenset(stored),
        updated_at=row["updated_at"] if row else None,
        updated_by=row["updated_by"] if row else None,
        typical_price_cents=row["typical_price_cents"] if row else None,
        typical_price_at=row["typical_price_at"] if row else None,
    )


def load(s: Session) -> MarketSettings:
    """The settings in force now (one primary-key read)."""
    return view(s).settings


def interval_seconds(s: Session) -> int:
    return load(s).interval_seconds


def cached_interval() -> int:
    """The marketplace interval as this process last read it from the database (never a read itself:
    safe on the event loop); the environment default before the first read."""
    return _last_interval or env_defaults().interval_seconds


def public_from(listed_at: datetime, active: bool, hold_seconds: int, now: datetime) -> datetime | None:
    """When the public first sees a listing, if that is still to come (else None): the hold runs from
    ``listed_at`` (its listing, or its return to sale)."""
    visible = listed_at + timedelta(seconds=hold_seconds)
    return visible if active and visible > now else None


def validate(new: MarketSettings) -> MarketSettings:
    """Refuse settings that make no sense, with a message an admin can act on."""
    for name in FIELDS:
        value = getattr(new, name)
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidInput("Every marketplace setting is a whole number.")
    if not 1 <= new.budget_min_cents <= MAX_BUDGET_CENTS or not 1 <= new.budget_max_cents <= MAX_BUDGET_CENTS:
        raise InvalidInput(f"The budget must be between $0.01 and {format_cents(MAX_BUDGET_CENTS)} a run.")
    if new.budget_min_cents > new.budget_max_cents:
        raise InvalidInput("The lowest budget must not be above the highest.")
    if not 1 <= new.interval_seconds <= MAX_INTERVAL_SECONDS:
        raise InvalidInput(f"The interval must be 1 to {MAX_INTERVAL_SECONDS:,} seconds.")
    if not 1 <= new.company_cap_percent <= 100:
        raise InvalidInput("A company's cap must be 1 to 100 percent of a run's budget.")
    if not 1 <= new.listing_limit <= MAX_LISTING_LIMIT:
        raise InvalidInput(f"The listing limit must be 1 to {MAX_LISTING_LIMIT:,} products per company.")
    if not 0 <= new.hold_seconds <= MAX_HOLD_SECONDS:
        raise InvalidInput(f"The hold for new listings must be 0 to {MAX_HOLD_SECONDS:,} seconds.")
    return new


def describe_change(old: MarketSettings, new: MarketSettings) -> str:
    labels = {
        "budget_min_cents": ("lowest budget", format_cents),
        "budget_max_cents": ("highest budget", format_cents),
        "interval_seconds": ("interval", lambda v: f"{v:,} s"),
        "company_cap_percent": ("company cap", lambda v: f"{v}%"),
        "listing_limit": ("listing limit", lambda v: f"{v:,}"),
        "hold_seconds": ("hold", lambda v: f"{v:,} s"),
    }
    changes = [
        f"{label} {fmt(getattr(old, name))} -> {fmt(getattr(new, name))}"
        for name, (label, fmt) in labels.items()
        if getattr(old, name) != getattr(new, name)
    ]
    return "; ".join(changes) or "no change"


def save(s: Session, changes: dict, *, by: str, now: datetime | None = None) -> MarketSettings:
    """Store the given settings (checked together with the others in force); the rest keep their source.
    Operators' own tools and test set-ups call this; admins go through
    ``operations.update_marketplace_settings``, which checks the role and audits."""
    global _last_interval
    unknown = set(changes) - set(FIELDS)
    if unknown:
        raise InvalidInput(f"Unknown marketplace setting: {', '.join(sorted(unknown))}.")
    now = now or utcnow()
    with unit(s, write=True):
        new = validate(replace(load(s), **changes))
        insert_ignore(s, settings_t, {"id": 1}, index_elements=["id"])
        s.execute(
            update(settings_t)
            .where(settings_t.c.id == 1)
            .values(**{k: getattr(new, k) for k in changes}, updated_at=now, updated_by=by[:40])
        )
    _last_interval = new.interval_seconds
    return new


def record_typical_price(s: Session, cents: int, now: datetime) -> None:
    """The market's typical price as the latest run saw it (shown to players pricing their products)."""
    with unit(s, write=True):
        insert_ignore(s, settings_t, {"id": 1}, index_elements=["id"])
        s.execute(
            update(settings_t).where(settings_t.c.id == 1).values(typical_price_cents=cents, typical_price_at=now)
        )
