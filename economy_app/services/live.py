"""Live updates, the database side: what a committed transaction changed, told to every app worker.

A service marks what it changes with ``touch(s, *topics)`` inside its unit of work. When the
outermost write unit commits, ``services._tx.unit`` calls ``publish(s)`` just before the commit,
in the same transaction:

- on PostgreSQL, ``pg_notify('economy_live', ...)``: PostgreSQL delivers it to every listening
  connection exactly when the transaction commits, and never if it rolls back;
- on SQLite, one row in the ``live_events`` outbox, which every app worker reads by id
  (SQLite commits one writer at a time, so ids become visible in order and a reader never skips one).

A unit that rolls back drops its marks (``discard``): nothing is told about a transaction that did
not commit. Topics carry ids only, never balances: a tab that hears one reads fresh values through
the services. The app side (``economy_app/state/live.py``) listens and pushes to the open tabs.

Topics:

==================  ===========================================================
``a<account id>``   money moved in or out of the account (postings, repairs)
``c<company id>``   the company changed (products, a marketplace run, its stock)
``u<user id>``      the player's session or companies changed (logout, founding)
``t<ledger id>``    money was received: a transfer, a dividend, a company's price (``RECEIVED_TYPES``;
                    the receiver's tabs show a toast)
``m``               the stock market moved (a trade or a price tick)
``sales``           companies for sale changed (a listing, an offer or its answer, a sale)
``g``               the whole economy's figures (home page, leaderboard)
``admin``           operators' views (runs, repairs, reconciliations, the audit log)
``job:<name>``      a scheduled job ran (countdowns roll over; a marketplace run's lists)
``*``               everything (bulk repairs): every open tab refreshes
``o:<tab>``         not a topic: which tab's request made the change (a hash of its token). That tab
                    refreshed itself in answer to its own click, so it is not asked to again.
==================  ===========================================================
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from contextvars import ContextVar
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, func, insert, select, text
from sqlmodel import Session

from economy_app.models import LiveEvent, utcnow

CHANNEL = "economy_live"
MARKET, ECONOMY, ADMIN, EVERYTHING = "m", "g", "admin", "*"
SALES = "sales"  # companies for sale: a listing, an offer, a sale
# The ledger entries whose receiver is told with a toast (a ``t<ledger id>`` topic each).
RECEIVED_TYPES = ("transfer", "dividend", "company_sale")
# PostgreSQL refuses a NOTIFY payload of 8,000 bytes or more: longer topic lists go in several.
_PG_PAYLOAD_LIMIT = 7_000
_INFO_KEY = "economy_live_topics"
# The tab whose event is being handled (set by the app's session check; None for jobs and the CLI).
ORIGIN: ContextVar[str | None] = ContextVar("economy_live_origin", default=None)
KEEP_EVENTS = timedelta(minutes=5)

events_t = LiveEvent.__table__
_AFTER = (
    select(events_t.c.id, events_t.c.topics)
    .where(events_t.c.id > bindparam("after"))
    .order_by(events_t.c.id)
    .limit(bindparam("limit"))
)
_NOTIFY = text("SELECT pg_notify(:channel, :payload)")


def account(account_id: int) -> str:
    return f"a{account_id}"


def company(company_id: int) -> str:
    return f"c{company_id}"


def user(user_id: int) -> str:
    return f"u{user_id}"


def received(ledger_id: int) -> str:
    return f"t{ledger_id}"


def job(name: str) -> str:
    return f"job:{name}"


def origin_of(client_token: str) -> str:
    """A tab's origin mark: a short hash of its token (the token itself never leaves the worker)."""
    return hashlib.sha256(client_token.encode()).hexdigest()[:16]


def split_origin(topics: set[str]) -> tuple[set[str], str | None]:
    """A message's topics, and the origin mark it carries (if any)."""
    origin = next((t[2:] for t in topics if t.startswith("o:")), None)
    return ({t for t in topics if not t.startswith("o:")} if origin else topics), origin


def touch(s: Session, *topics: str) -> None:
    """Mark topics as changed by the current unit of work (told to the app workers if it commits)."""
    s.info.setdefault(_INFO_KEY, set()).update(topics)


def touch_accounts(s: Session, account_ids: Iterable[int]) -> None:
    touch(s, *(account(a) for a in account_ids))


def discard(s: Session) -> None:
    """Forget the marks of a unit that rolled back."""
    s.info.pop(_INFO_KEY, None)


def _chunks(topics: list[str], limit: int) -> list[str]:
    out, current, size = [], [], 0
    for topic in topics:
        if current and size + len(topic) + 1 > limit:
            out.append(" ".join(current))
            current, size = [], 0
        current.append(topic)
        size += len(topic) + 1
    if current:
        out.append(" ".join(current))
    return out


def publish(s: Session, *, now: datetime | None = None) -> int:
    """Tell the marks of the unit about to commit, inside its transaction. Returns the messages written."""
    topics = s.info.pop(_INFO_KEY, None)
    if not topics:
        return 0
    ordered = sorted(topics)
    origin = ORIGIN.get()
    mark = f" o:{origin}" if origin else ""
    conn = s.connection()
    if conn.dialect.name == "postgresql":
        messages = _chunks(ordered, _PG_PAYLOAD_LIMIT - len(mark))
        for payload in messages:
            conn.execute(_NOTIFY, {"channel": CHANNEL, "payload": payload + mark})
        return len(messages)
    conn.execute(insert(events_t).values(topics=" ".join(ordered) + mark, created_at=now or utcnow()))
    return 1


def parse(payload: str) -> set[str]:
    return set(payload.split())


def latest_event_id(s: Session) -> int:
    """Where a new reader of the outbox starts: the newest event (older ones are not news)."""
    from economy_app.services._tx import unit

    with unit(s, write=False):
        return s.execute(select(func.coalesce(func.max(events_t.c.id), 0))).scalar_one()


def events_after(s: Session, after: int, *, limit: int = 1000) -> list[tuple[int, set[str]]]:
    """Outbox events newer than ``after`` (SQLite), oldest first: (id, topics)."""
    from economy_app.services._tx import unit

    with unit(s, write=False):
        rows = s.execute(_AFTER, {"after": after, "limit": limit}).all()
    return [(r.id, parse(r.topics)) for r in rows]


def prune(s: Session, *, now: datetime | None = None) -> int:
    """Delete outbox events older than a few minutes (every reader has long seen them)."""
    from economy_app.services._tx import unit

    cutoff = (now or utcnow()) - KEEP_EVENTS
    with unit(s, write=True):
        return s.execute(delete(events_t).where(events_t.c.created_at < cutoff)).rowcount or 0
