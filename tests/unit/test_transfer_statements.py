"""What one transfer between two players sends to the database, counted by SQLite itself (its trace callback sees
every statement, those sent straight to the driver too): each thing read once, nothing asked that the transfer does
not need. PostgreSQL runs the same service code (with its row locks), each statement a round trip there."""

from __future__ import annotations

import uuid

from sqlalchemy import event
from sqlmodel import Session

from economy_app.db import make_engine
from economy_app.services import accounts, users
from tests.conftest import new_sqlite_url


def test_a_transfer_reads_each_thing_once(sqlite_template, tmp_path):
    engine = make_engine(new_sqlite_url(sqlite_template, tmp_path))
    connections: set = set()
    event.listen(engine, "checkout", lambda dbapi, rec, proxy: connections.add(dbapi))
    with Session(engine, expire_on_commit=False) as s:
        alice, bob = (users.create_user(s, name, "correct horse").id for name in ("alice", "bob"))
        a, b = (accounts.initialize_account(s, user).id for user in (alice, bob))

    def send() -> None:
        with Session(engine, expire_on_commit=False) as s:
            accounts.transfer(
                s, actor_id=alice, from_account_id=a, to_account_id=b, amount=100, idempotency_key=str(uuid.uuid4())
            )

    send()
    seen: list[str] = []
    for raw in connections:
        raw.set_trace_callback(seen.append)
    send()
    for raw in connections:
        raw.set_trace_callback(None)
    engine.dispose()
    statements = [" ".join(q.split()) for q in seen]
    reads = [q for q in statements if q.startswith("SELECT")]
    # Whom both accounts belong to: one read.
    assert len([q for q in reads if q.startswith("SELECT accounts.id, accounts.owner_id, accounts.kind")]) == 1, reads
    # The key is looked up once, where the posting replays a request seen before (the loan rule asks only when it
    # would refuse); a personal account is no company's, so no company's row is read for the outflow rule.
    assert len([q for q in reads if "idempotency_key" in q]) == 1, reads
    assert not [q for q in reads if q.startswith("SELECT companies.id, companies.name")], reads
    assert len(statements) <= 14, "\n".join(statements)
