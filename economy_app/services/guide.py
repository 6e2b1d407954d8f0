"""The dashboard's "How to play": the loop of the game as steps, each ticked off from what the player has done.

Every step is derived from the player's own data in one read (nothing is stored per step): a company founded,
a product listed, a sale to the public, a company gone public, a trade. Only the player's choice to hide the
guide is stored (``users.guide_hidden_at``). The guide also tells the dashboard whether this is the player's
first session (the one they signed up with), so a new player is welcomed, not welcomed back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, bindparam, exists, func, select, update
from sqlmodel import Session

from economy_app.db import DriverRead
from economy_app.models import AuthSession, Company, Product, StockTrade, User, utcnow
from economy_app.services import live
from economy_app.services._tx import unit
from economy_app.services.errors import UserNotFound

users_t = User.__table__
companies_t = Company.__table__
products_t = Product.__table__
trades_t = StockTrade.__table__
sessions_t = AuthSession.__table__

STEPS = ("company", "product", "sale", "public", "trade")
# A sign-up creates the player and their session in one transaction: a session this close to the player's
# creation is the one they signed up with.
SIGNUP_SESSION = timedelta(minutes=1)


@dataclass(frozen=True)
class Guide:
    done: dict[str, bool]  # each of STEPS: whether the player has done it
    hidden: bool  # the player hid the guide
    first_session: bool  # the player is still in the session they signed up with
    first_company_id: int | None  # where "list a product" happens

    @property
    def all_done(self) -> bool:
        return all(self.done.values())

    @property
    def shown(self) -> bool:
        """Shown until the player hides it or has done every step."""
        return not self.hidden and not self.all_done


def guide(s: Session, user_id: int, *, now: datetime | None = None) -> Guide:
    """The player's progress through the loop of the game (one query), and whether this is their first session."""
    with unit(s, write=False):
        row = _PROGRESS.first_in(s, {"user_id": user_id, "now": now or utcnow()})
    if row is None:
        raise UserNotFound("Player not found.")
    first_session = (
        row.sessions == 1 and row.first_login is not None and abs(row.first_login - row.created_at) <= SIGNUP_SESSION
    )
    return Guide(
        done={
            "company": row.first_company is not None,
            "product": bool(row.product),
            "sale": bool(row.sale),
            "public": bool(row.public),
            "trade": bool(row.trade),
        },
        hidden=row.guide_hidden_at is not None,
        first_session=first_session,
        first_company_id=row.first_company,
    )


# Read on every dashboard load and refresh: built once (building them cost more than running them); the progress
# statement compiled once and sent straight to the driver (db.DriverRead).
_OWNED = companies_t.c.owner_id == bindparam("user_id")
_MINE = select(companies_t.c.id).where(_OWNED)
_LIVE_SESSION = and_(sessions_t.c.user_id == bindparam("user_id"), sessions_t.c.expires_at > bindparam("now"))
_PROGRESS = DriverRead(
    select(
        users_t.c.guide_hidden_at,
        users_t.c.created_at,
        select(func.min(companies_t.c.id)).where(_OWNED).scalar_subquery().label("first_company"),
        exists(select(products_t.c.id).where(products_t.c.company_id.in_(_MINE))).label("product"),
        exists(select(products_t.c.id).where(products_t.c.company_id.in_(_MINE), products_t.c.public_units > 0)).label(
            "sale"
        ),
        exists(select(companies_t.c.id).where(_OWNED, companies_t.c.is_public.is_(True))).label("public"),
        exists(select(trades_t.c.id).where(trades_t.c.actor_id == bindparam("user_id"))).label("trade"),
        # The first session: one live session, opened at sign-up.
        select(func.count()).where(_LIVE_SESSION).scalar_subquery().label("sessions"),
        select(func.min(sessions_t.c.created_at)).where(_LIVE_SESSION).scalar_subquery().label("first_login"),
    ).where(users_t.c.id == bindparam("user_id"))
)


def set_hidden(s: Session, user_id: int, hidden: bool, *, now: datetime | None = None) -> None:
    """Hide the guide (``hidden``) or show it again, for this player only (their other tabs follow)."""
    with unit(s, write=True):
        changed = s.execute(
            update(users_t)
            .where(users_t.c.id == user_id)
            .values(guide_hidden_at=(now or utcnow()) if hidden else None)
            .returning(users_t.c.id)
        ).first()
        if changed is None:
            raise UserNotFound("Player not found.")
        live.touch(s, live.user(user_id))
