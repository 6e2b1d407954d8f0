"""Abuse limits shared by every worker: one counter row per key in ``rate_limits``.

Each check runs inside the caller's write unit and locks its row first (PostgreSQL ``SELECT ... FOR
UPDATE``; on SQLite the write unit already holds the write lock), so concurrent requests, from any
worker, are counted one after another and none slips past a limit.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlmodel import Session

from economy_app.db import insert_ignore
from economy_app.models import RateLimit

limits_t = RateLimit.__table__

UNKNOWN_CLIENT = "unknown"
# One IPv6 subscriber is delegated a whole prefix, not one address nor one /64 (one LAN): a /56 by most
# providers (RFC 6177, RIPE-690), a /48 by some. So an IPv6 address counts by its /56, and its /48 counts
# too, at SITE_FACTOR times the limit: a /48 holds 256 /56s, which would otherwise be 256 limits.
IPV6_PREFIX, IPV6_SITE_PREFIX, SITE_FACTOR = 56, 48, 4


def client_key(address: str | None) -> str:
    """A client address as a limit key: an IPv4 address as it is (an IPv4-mapped IPv6 address too), an IPv6
    address by its /56 (what one subscriber gets: counting single addresses, or /64s, would count nothing),
    anything else 'unknown'."""
    try:
        ip = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return UNKNOWN_CLIENT
    if ip.version == 6 and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/{IPV6_PREFIX}", strict=False))
    return str(ip)


def client_keys(address: str | None) -> list[tuple[str, int]]:
    """Every key a client's actions count on, each with the multiple of the limit it allows: its
    ``client_key`` (x1) and, for IPv6, its /48 (x SITE_FACTOR)."""
    key = client_key(address)
    if "/" not in key:
        return [(key, 1)]
    site = ipaddress.ip_network(key).supernet(new_prefix=IPV6_SITE_PREFIX)
    return [(key, 1), (str(site), SITE_FACTOR)]


@dataclass(frozen=True)
class Counter:
    key: str
    count: int
    first_at: datetime
    last_at: datetime
    blocked_until: datetime | None


def lock(s: Session, key: str, now: datetime) -> Counter:
    """The counter for ``key`` (created at 0), locked for the rest of the caller's write unit."""
    insert_ignore(s, limits_t, dict(key=key, count=0, first_at=now, last_at=now), index_elements=["key"])
    q = select(limits_t).where(limits_t.c.key == key)
    if s.get_bind().dialect.name == "postgresql":
        q = q.with_for_update()
    r = s.execute(q).one()
    return Counter(r.key, r.count, r.first_at, r.last_at, r.blocked_until)


def store(
    s: Session, key: str, *, count: int, first_at: datetime, last_at: datetime, blocked_until: datetime | None
) -> None:
    s.execute(
        update(limits_t)
        .where(limits_t.c.key == key)
        .values(count=count, first_at=first_at, last_at=last_at, blocked_until=blocked_until)
    )


def forget(s: Session, key: str) -> None:
    s.execute(delete(limits_t).where(limits_t.c.key == key))


def wait_text(until: datetime, now: datetime) -> str:
    wait = max(1, math.ceil((until - now).total_seconds()))
    if wait >= 120:
        minutes = math.ceil(wait / 60)
        return f"{minutes} minutes"
    return f"{wait} second{'s' if wait != 1 else ''}"


def within(counter: Counter, now: datetime, window: timedelta) -> bool:
    """Whether the counter's window (from its first count) is still open."""
    return counter.count > 0 and now - counter.first_at < window


def backoff_seconds(count: int, free: int, cap: int) -> int:
    """0 while ``count`` < ``free``; then 1 s, 2 s, 4 s ... up to ``cap``."""
    return min(2 ** min(count - free, 30), cap) if count >= free else 0


def later(now: datetime, seconds: int) -> datetime | None:
    return now + timedelta(seconds=seconds) if seconds else None
