"""Players and admins: creation and password checks (argon2id, never plain)."""

from __future__ import annotations

import re
from collections.abc import Callable

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from economy_app import config
from economy_app.models import ROLES, User, utcnow
from economy_app.services._tx import unit
from economy_app.services.errors import InvalidInput, UsernameTaken, UserNotFound
from economy_app.services.names import check_not_reserved

USERNAME_RE = re.compile(r"^[A-Za-z0-9_-]{3,30}$")
MIN_PASSWORD = 8
MAX_PASSWORD = 256


def _hasher() -> PasswordHasher:
    # ECONOMY_PASSWORD_PROFILE=cheapest is for test suites that create many users.
    if config.cheap_password_hashing():
        return PasswordHasher.from_parameters(profiles.CHEAPEST)
    return PasswordHasher.from_parameters(profiles.RFC_9106_LOW_MEMORY)


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def validate_username(username: str) -> str:
    username = (username or "").strip() if isinstance(username, str) else ""
    if not USERNAME_RE.match(username):
        raise InvalidInput("Username must be 3-30 characters: letters, digits, '_' or '-'.")
    return username


def validate_password(password: str) -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise InvalidInput(f"Password must be at least {MIN_PASSWORD} characters.")
    if len(password) > MAX_PASSWORD:
        raise InvalidInput(f"Password must be at most {MAX_PASSWORD} characters.")
    return password


def _by_username(s: Session, username: str) -> User | None:
    return s.execute(select(User).where(func.lower(User.username) == username.lower())).scalars().first()


def validate_display_name(display_name: str | None, username: str) -> str:
    if display_name is not None and not isinstance(display_name, str):
        raise InvalidInput("Display name must be text.")
    display_name = " ".join((display_name or "").split()) or username
    if len(display_name) > 60:
        raise InvalidInput("Display name is limited to 60 characters.")
    return display_name


def create_user(
    s: Session,
    username: str,
    password: str,
    *,
    display_name: str | None = None,
    role: str = "player",
    guard: Callable[[Session], None] | None = None,
) -> User:
    """A new user. Usernames are unique regardless of case. A player may not take a reserved name (the
    system's, or a staff-like one) as username or display name; operators create admins as they choose.
    ``guard`` runs in the write unit just before the insert (a limit to count and check atomically)."""
    username = validate_username(username)
    validate_password(password)
    if role not in ROLES:
        raise InvalidInput(f"Role must be one of {', '.join(ROLES)}.")
    display_name = validate_display_name(display_name, username)
    if role == "player":
        check_not_reserved(username, "username")
        check_not_reserved(display_name, "display name")
    password_hash = hash_password(password)  # slow on purpose: outside the write lock
    with unit(s, write=True):
        if guard is not None:
            guard(s)
        if _by_username(s, username) is not None:
            raise UsernameTaken("That username is taken.")
        user = User(
            username=username, display_name=display_name, password_hash=password_hash, role=role, created_at=utcnow()
        )
        s.add(user)
        try:
            s.flush()
        except IntegrityError:
            raise UsernameTaken("That username is taken.") from None
        return user


# A real hash to verify against when the user does not exist, so a missing
# username costs the same time as a wrong password.
_DUMMY_HASH: dict[str, str] = {}


def authenticate(s: Session, username: str, password: str) -> User | None:
    """The user if the password matches, else None (one answer for every failure)."""
    if not isinstance(username, str) or not isinstance(password, str) or len(password) > MAX_PASSWORD:
        return None
    hasher = _hasher()
    with unit(s, write=False):
        user = _by_username(s, username.strip())
    if user is None:
        key = str(hasher.time_cost)
        dummy = _DUMMY_HASH.setdefault(key, hasher.hash("not-a-real-password"))
        try:
            hasher.verify(dummy, password)
        except (VerificationError, InvalidHashError):
            pass
        return None
    try:
        hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    return user


def get_user(s: Session, user_id: int) -> User:
    with unit(s, write=False):
        user = s.get(User, user_id)
    if user is None:
        raise UserNotFound(f"User {user_id} does not exist.")
    return user


def get_user_by_username(s: Session, username: str) -> User | None:
    with unit(s, write=False):
        return _by_username(s, username)


def set_role(s: Session, username: str, role: str) -> User:
    """Grant or revoke a role (operators: ``economy make-admin``)."""
    if role not in ROLES:
        raise InvalidInput(f"Role must be one of {', '.join(ROLES)}.")
    with unit(s, write=True):
        user = _by_username(s, username)
        if user is None:
            raise UserNotFound(f"No user named {username!r}.")
        user.role = role
        s.add(user)
        s.flush()
        return user
