"""Sign-up, login, logout and session lookup.

The browser holds a random token; the database holds its SHA-256 in
``auth_sessions`` with an expiry, so a session survives reloads and new tabs,
is shared by every app worker, and logging out (deleting the row) ends it
everywhere the token was used. Failed logins are counted per username in
``login_throttle``: after ``FREE_FAILURES`` the next attempt must wait, twice as
long after each further failure (capped), whatever worker it reaches.
"""

from __future__ import annotations

import hashlib
import math
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, select, update
from sqlmodel import Session

from economy_app.models import AuthSession, LoginThrottle, User, utcnow
from economy_app.services import accounts, live, users
from economy_app.services._tx import unit
from economy_app.services.ledger import insert_ignore
from economy_app.services.errors import LoginFailed, LoginThrottled

sessions_t = AuthSession.__table__
throttle_t = LoginThrottle.__table__
users_t = User.__table__

FREE_FAILURES = 5
MAX_WAIT_SECONDS = 300
GENERIC_FAILURE = "Invalid username or password."


def session_days() -> int:
    return int(os.environ.get("ECONOMY_SESSION_DAYS", 14))


@dataclass(frozen=True)
class SessionUser:
    id: int
    username: str
    display_name: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True)
class LoginResult:
    token: str
    user: SessionUser


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _session_user(user: User) -> SessionUser:
    return SessionUser(id=user.id, username=user.username, display_name=user.display_name, role=user.role)


def _start_session(s: Session, user: User, now: datetime) -> LoginResult:
    """A new session row; the player's account is initialized on this (first) login."""
    token = secrets.token_urlsafe(32)
    with unit(s, write=True):
        s.execute(sessions_t.insert().values(user_id=user.id, token_hash=_hash(token), created_at=now,
                                              expires_at=now + timedelta(days=session_days())))
        accounts.initialize_account(s, user.id)
    return LoginResult(token=token, user=_session_user(user))


def signup(s: Session, username: str, password: str, *, display_name: str | None = None,
           now: datetime | None = None) -> LoginResult:
    """Create a player and log them in (their account opens with $10,000)."""
    user = users.create_user(s, username, password, display_name=display_name)
    return _start_session(s, user, now or utcnow())


def _wait_seconds(failures: int) -> int:
    return min(2 ** (failures - FREE_FAILURES), MAX_WAIT_SECONDS) if failures >= FREE_FAILURES else 0


def login(s: Session, username: str, password: str, *, now: datetime | None = None) -> LoginResult:
    """A new session for the right password. Raises LoginFailed (one message for every failure)
    or LoginThrottled (after repeated failures for this username)."""
    now = now or utcnow()
    key = (username or "").strip().lower()[:30]
    with unit(s, write=False):
        blocked = s.execute(select(throttle_t.c.blocked_until).where(throttle_t.c.username_key == key)).scalar()
    if blocked is not None and blocked > now:
        wait = max(1, math.ceil((blocked - now).total_seconds()))
        raise LoginThrottled(f"Too many failed attempts. Try again in {wait} second{'s' if wait != 1 else ''}.")
    user = users.authenticate(s, username, password)  # slow hash: outside any write lock
    if user is None:
        with unit(s, write=True):
            insert_ignore(s, throttle_t, dict(username_key=key, failures=0, last_failure_at=now),
                          index_elements=["username_key"])
            failures = s.execute(
                update(throttle_t).where(throttle_t.c.username_key == key)
                .values(failures=throttle_t.c.failures + 1, last_failure_at=now)
                .returning(throttle_t.c.failures)
            ).scalar_one()
            wait = _wait_seconds(failures)
            if wait:
                s.execute(update(throttle_t).where(throttle_t.c.username_key == key)
                          .values(blocked_until=now + timedelta(seconds=wait)))
        raise LoginFailed(GENERIC_FAILURE)
    with unit(s, write=True):
        s.execute(throttle_t.delete().where(throttle_t.c.username_key == key))
    return _start_session(s, user, now)


def resolve(s: Session, token: str | None, *, now: datetime | None = None) -> SessionUser | None:
    """The user a token belongs to, or None (no token, unknown, expired or logged out). Reads only."""
    if not token or len(token) > 200:
        return None
    now = now or utcnow()
    with unit(s, write=False):
        row = s.execute(_RESOLVE, {"token_hash": _hash(token), "now": now}).first()
    return SessionUser(**dict(row._mapping)) if row else None


# Every private event resolves its token: the statement is built once.
_RESOLVE = (
    select(users_t.c.id, users_t.c.username, users_t.c.display_name, users_t.c.role)
    .join(sessions_t, sessions_t.c.user_id == users_t.c.id)
    .where(sessions_t.c.token_hash == bindparam("token_hash"), sessions_t.c.expires_at > bindparam("now"))
)


def logout(s: Session, token: str | None) -> None:
    """End the session everywhere its token is used. Unknown tokens are ignored."""
    if not token:
        return
    with unit(s, write=True):
        ended = s.execute(delete(sessions_t).where(sessions_t.c.token_hash == _hash(token))
                          .returning(sessions_t.c.user_id)).scalars().all()
        live.touch(s, *(live.user(u) for u in ended))


def purge_expired(s: Session, *, now: datetime | None = None) -> int:
    with unit(s, write=True):
        return len(s.execute(delete(sessions_t).where(sessions_t.c.expires_at <= (now or utcnow()))
                             .returning(sessions_t.c.id)).all())
