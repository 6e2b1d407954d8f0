"""Sign-up, login, logout and session lookup.

The browser holds a random token; the database holds its SHA-256 in
``auth_sessions`` with an expiry, so a session survives reloads and new tabs,
is shared by every app worker, and logging out (deleting the row) ends it
everywhere the token was used.

Abuse limits live in ``rate_limits`` (services/limits.py), so every worker sees them:

- Login attempts are counted per (username, client address) and per client address
  overall, as OWASP recommends: someone failing a victim's username from their own
  address never locks out the victim logging in from elsewhere. Each attempt is
  counted in one locked write *before* the slow password hash, so attempts sent at
  once are counted one after another: after ``FREE_FAILURES`` for a (username,
  address) pair, or ``config.login_address_failures()`` for an address, the next attempt must
  wait, twice as long after each further failure (up to 5 minutes). A success clears
  the pair's count and takes its own attempt back from the address's. A quiet hour
  forgets a count.
- Sign-ups are counted per client address: at most ``config.signups_per_address()`` in
  ``signup_window()``, checked and counted in the same write as the new user.

An IPv6 client counts by its /56 (one subscriber's prefix) and by its /48, which allows
``limits.SITE_FACTOR`` times as much (``limits.client_keys``).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, select
from sqlmodel import Session

from economy_app import config
from economy_app.db import DriverRead
from economy_app.models import AuthSession, User, utcnow
from economy_app.services import accounts, limits, live, users
from economy_app.services._tx import unit
from economy_app.services.errors import LoginFailed, LoginThrottled, SignupLimited

sessions_t = AuthSession.__table__
users_t = User.__table__

FREE_FAILURES = 5  # per (username, client address)
MAX_WAIT_SECONDS = 300
FORGET_AFTER = timedelta(hours=1)  # a login count with no attempt for this long starts again
GENERIC_FAILURE = "Invalid username or password."


def signup_window() -> timedelta:
    return timedelta(hours=config.signup_window_hours())


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
        s.execute(
            sessions_t.insert().values(
                user_id=user.id,
                token_hash=_hash(token),
                created_at=now,
                expires_at=now + timedelta(days=config.session_days()),
            )
        )
        accounts.initialize_account(s, user.id)
    return LoginResult(token=token, user=_session_user(user))


def _signup_refusal(limit: int, window: timedelta, factor: int = 1) -> SignupLimited:
    hours = window.total_seconds() / 3600
    period = f"{hours:g} hours" if hours != 1 else "hour"
    where = "address" if factor == 1 else "network"
    return SignupLimited(
        f"Too many new players from your network: at most {limit * factor} sign-up"
        f"{'s' if limit * factor != 1 else ''} per {where} every {period}. Try again later."
    )


def signup(
    s: Session,
    username: str,
    password: str,
    *,
    display_name: str | None = None,
    client: str | None = None,
    now: datetime | None = None,
) -> LoginResult:
    """Create a player and log them in (their account opens with $10,000). At most
    ``config.signups_per_address()`` sign-ups per client address in ``signup_window()`` (an IPv6 address: per /56,
    and ``limits.SITE_FACTOR`` times that per /48)."""
    now = now or utcnow()
    limit, window = config.signups_per_address(), signup_window()
    keys = sorted((f"signup:{key}", factor) for key, factor in limits.client_keys(client))

    def count_signup(s: Session) -> None:  # in the user's own write unit, before the insert
        counters = [(limits.lock(s, key, now), factor) for key, factor in keys]  # in key order
        for counter, factor in counters:
            if limits.within(counter, now, window) and counter.count >= limit * factor:
                raise _signup_refusal(limit, window, factor)
        for counter, _ in counters:
            if limits.within(counter, now, window):
                limits.store(
                    s, counter.key, count=counter.count + 1, first_at=counter.first_at, last_at=now, blocked_until=None
                )
            else:
                limits.store(s, counter.key, count=1, first_at=now, last_at=now, blocked_until=None)

    if limit > 0:
        with unit(s, write=False):  # refuse early, before the slow hash, when the address is already at its limit
            rows = {
                r.key: r
                for r in s.execute(select(limits.limits_t).where(limits.limits_t.c.key.in_([key for key, _ in keys])))
            }
        for key, factor in keys:
            row = rows.get(key)
            if row is not None and row.count >= limit * factor and now - row.first_at < window:
                raise _signup_refusal(limit, window, factor)
    user = users.create_user(
        s, username, password, display_name=display_name, guard=count_signup if limit > 0 else None
    )
    return _start_session(s, user, now)


def _lock_in_order(s: Session, keys: list[str], now: datetime) -> dict[str, limits.Counter]:
    """Lock the login counters of ``keys`` in key order: every unit that touches more than one of them (an
    attempt, a success) takes them in this one order, so two logins at once never deadlock."""
    return {key: limits.lock(s, key, now) for key in sorted(keys)}


def _attempt(s: Session, keys: list[tuple[str, int]], now: datetime) -> None:
    """Count one login attempt on every key, in one write, or refuse it (LoginThrottled) if any key must wait."""
    with unit(s, write=True):
        locked = _lock_in_order(s, [key for key, _ in keys], now)
        counters = [(locked[key], free) for key, free in sorted(keys)]
        waits = [c.blocked_until for c, _ in counters if c.blocked_until is not None and c.blocked_until > now]
        if waits:
            raise LoginThrottled(f"Too many failed attempts. Try again in {limits.wait_text(max(waits), now)}.")
        for c, free in counters:
            count = (c.count if now - c.last_at < FORGET_AFTER else 0) + 1
            wait = limits.backoff_seconds(count, free, MAX_WAIT_SECONDS)
            limits.store(
                s,
                c.key,
                count=count,
                first_at=c.first_at if count > 1 else now,
                last_at=now,
                blocked_until=limits.later(now, wait),
            )


def login(
    s: Session, username: str, password: str, *, client: str | None = None, now: datetime | None = None
) -> LoginResult:
    """A new session for the right password. Raises LoginFailed (one message for every failure) or
    LoginThrottled (after repeated failures for this username from this address, or from this address)."""
    now = now or utcnow()
    if not isinstance(username, str) or not isinstance(password, str):
        raise LoginFailed(GENERIC_FAILURE)
    name = username.strip()
    if not users.USERNAME_RE.match(name) or not password or len(password) > users.MAX_PASSWORD:
        raise LoginFailed(GENERIC_FAILURE)  # no account can match: nothing to count, nothing to hash
    keys = limits.client_keys(client)  # the address (IPv6: its /56) first, then an IPv6 address's /48
    pair = f"login:user:{name.lower()}|{keys[0][0]}"
    overall = [(f"login:addr:{key}", config.login_address_failures() * factor) for key, factor in keys]
    _attempt(s, [(pair, FREE_FAILURES), *overall], now)
    user = users.authenticate(s, name, password)  # slow hash: outside any write lock, the attempt counted
    if user is None:
        raise LoginFailed(GENERIC_FAILURE)
    with unit(s, write=True):
        locked = _lock_in_order(s, [pair, *(key for key, _ in overall)], now)  # the attempt's order, first
        limits.forget(s, pair)
        for key, free in overall:
            c = locked[key]
            count = max(0, c.count - 1)
            limits.store(
                s,
                key,
                count=count,
                first_at=c.first_at,
                last_at=c.last_at,
                blocked_until=c.blocked_until if count >= free else None,
            )
    return _start_session(s, user, now)


def resolve(s: Session, token: str | None, *, now: datetime | None = None) -> SessionUser | None:
    """The user a token belongs to, or None (no token, unknown, expired or logged out). Reads only."""
    if not _plausible(token):
        return None
    with unit(s, write=False):
        return _session_user_of(_RESOLVE.first_in(s, {"token_hash": _hash(token), "now": now or utcnow()}))


def check_token(token: str | None, *, now: datetime | None = None) -> SessionUser | None:
    """``resolve`` for a check that reads nothing else (a click's session check): one statement on a pooled
    connection of its own, with no ``Session`` around it (``db.DriverRead``)."""
    if not _plausible(token):
        return None
    return _session_user_of(_RESOLVE.first({"token_hash": _hash(token), "now": now or utcnow()}))


def _plausible(token) -> bool:
    """A token this server could have made (``secrets.token_urlsafe``: ASCII): anything else, e.g. a lone surrogate a
    browser's localStorage can hold, is no session, without hashing it."""
    return isinstance(token, str) and 0 < len(token) <= 200 and token.isascii()


def _session_user_of(row) -> SessionUser | None:
    return SessionUser(id=row[0], username=row[1], display_name=row[2], role=row[3]) if row else None


# Every event resolves its token: the statement is compiled once and sent straight to the driver.
_RESOLVE = DriverRead(
    select(users_t.c.id, users_t.c.username, users_t.c.display_name, users_t.c.role)
    .join(sessions_t, sessions_t.c.user_id == users_t.c.id)
    .where(sessions_t.c.token_hash == bindparam("token_hash"), sessions_t.c.expires_at > bindparam("now"))
)


def logout(s: Session, token: str | None) -> None:
    """End the session everywhere its token is used. Unknown tokens are ignored."""
    if not _plausible(token):
        return
    with unit(s, write=True):
        ended = (
            s.execute(delete(sessions_t).where(sessions_t.c.token_hash == _hash(token)).returning(sessions_t.c.user_id))
            .scalars()
            .all()
        )
        live.touch(s, *(live.user(u) for u in ended))


def purge_expired(s: Session, *, now: datetime | None = None) -> int:
    """Delete the sessions that expired (the scheduled "Expired sessions clean-up", daily): a session is
    refused once expired anyway; this keeps ``auth_sessions`` from growing without end."""
    with unit(s, write=True):
        return len(
            s.execute(
                delete(sessions_t).where(sessions_t.c.expires_at <= (now or utcnow())).returning(sessions_t.c.id)
            ).all()
        )
