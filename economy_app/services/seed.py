"""A small demo world for an empty database (``make run`` seeds it once).

Its players log in with a password everybody knows, so it is for a local demo only: with ``ECONOMY_DEMO=off``
(as ``make run-scaled`` sets) ``economy seed`` creates nothing.
"""

from __future__ import annotations

import random
import secrets
from datetime import timedelta

from sqlalchemy import func, select
from sqlmodel import Session

from economy_app.models import User, utcnow
from economy_app.services import accounts, companies, products, users
from economy_app.services._tx import unit

DEMO_PASSWORD = "demo-password"
DEMO_PLAYERS = ("alice", "bob", "carol")
DEMO_TRANSFERS = (
    ("alice", "bob", 125_000, "Rent"),
    ("bob", "carol", 4_250, "Coffee beans"),
    ("carol", "alice", 99_999, "Consulting"),
)


def is_empty(s: Session) -> bool:
    with unit(s, write=False):
        return s.execute(select(func.count()).select_from(User.__table__)).scalar_one() == 0


def seed_demo_world(s: Session) -> list[tuple[str, str]] | None:
    """Create demo players with funded accounts and a few transfers. None if the database has users."""
    if not is_empty(s):
        return None
    created: dict[str, int] = {}
    for name in DEMO_PLAYERS:
        user = users.create_user(s, name, DEMO_PASSWORD, display_name=name.capitalize())
        created[name] = accounts.initialize_account(s, user.id).id
    owners = {name: users.get_user_by_username(s, name).id for name in DEMO_PLAYERS}
    for sender, recipient, cents, why in DEMO_TRANSFERS:
        accounts.transfer(
            s,
            actor_id=owners[sender],
            from_account_id=created[sender],
            to_account_id=created[recipient],
            amount=cents,
            description=why,
            idempotency_key=f"seed:{sender}:{recipient}",
        )
    # Two demo companies with products, so the first marketplace run has something to buy (listed a day
    # ago: past the hold for new listings).
    rng = random.Random(2026)
    listed = utcnow() - timedelta(days=1)
    for owner, name, ticker, goods in (
        ("alice", "Acme Rockets", "ACME", [("Model rocket", 4_999), ("Launch pad", 12_500)]),
        ("bob", "Bolt Bikes", "BOLT", [("City bike", 39_900), ("Bike lights", 1_995), ("Helmet", 5_450)]),
    ):
        company = companies.create_company(
            s,
            owner_id=owners[owner],
            name=name,
            ticker=ticker,
            description=f"A demo company run by {owner}.",
            tags="demo",
        )
        for product, price in goods:
            products.create_product(
                s, actor_id=owners[owner], company_id=company.id, name=product, price_cents=price, rng=rng, now=listed
            )
    # A demo admin with a random password, printed once by `economy seed`.
    admin_password = secrets.token_urlsafe(12)
    admin = users.create_user(s, "admin", admin_password, display_name="Admin", role="admin")  # an operator's choice
    accounts.initialize_account(s, admin.id)
    return [(name, DEMO_PASSWORD) for name in DEMO_PLAYERS] + [("admin", admin_password)]
