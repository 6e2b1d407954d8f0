"""The one posting function and transfers: every path, every refusal."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from economy_app.models import BalanceHistory, LedgerEntry
from economy_app.services import accounts, ledger
from economy_app.services._tx import unit
from economy_app.services.errors import (
    AccountNotFound,
    BalanceRecordMissing,
    DuplicateRequest,
    InsufficientFunds,
    InvalidAmount,
    InvalidInput,
    NotAccountOwner,
    SameAccount,
)
from tests.support.db import check_invariants, fingerprint


def test_transfer_moves_money_in_all_three_copies(session, engine, make_player):
    alice, a = make_player("alice")
    bob, b = make_player("bob")
    entry = accounts.transfer(
        session, actor_id=alice, from_account_id=a, to_account_id=b, amount=123_456, description="rent"
    )
    assert entry.id and entry.type == "transfer" and entry.amount == 123_456
    assert accounts.get_balance(session, a) == 1_000_000 - 123_456
    assert accounts.get_balance(session, b) == 1_000_000 + 123_456
    views = {v.id: v for v in accounts.list_accounts(session, alice)}
    assert views[a].balance == 1_000_000 - 123_456 and not views[a].balance_from_cache
    history = session.execute(
        select(BalanceHistory.account_id, BalanceHistory.change, BalanceHistory.balance_after)
        .where(BalanceHistory.ledger_id == entry.id)
        .order_by(BalanceHistory.change)
    ).all()
    assert [tuple(r) for r in history] == [(a, -123_456, 876_544), (b, 123_456, 1_123_456)]
    check_invariants(engine)


def test_transfer_of_whole_balance_then_nothing_more(session, engine, make_player):
    alice, a = make_player()
    _, b = make_player()
    accounts.transfer(session, actor_id=alice, from_account_id=a, to_account_id=b, amount=1_000_000)
    assert accounts.get_balance(session, a) == 0
    before = fingerprint(engine)
    with pytest.raises(InsufficientFunds):
        accounts.transfer(session, actor_id=alice, from_account_id=a, to_account_id=b, amount=1)
    assert fingerprint(engine) == before
    check_invariants(engine)


@pytest.mark.parametrize("amount", [0, -1, -500, 1.5, 10.0, "100", None, True, float("nan"), float("inf"), 2**63])
def test_bad_amounts_are_refused_and_change_nothing(session, engine, make_player, amount):
    alice, a = make_player()
    _, b = make_player()
    before = fingerprint(engine)
    with pytest.raises(InvalidAmount):
        accounts.transfer(session, actor_id=alice, from_account_id=a, to_account_id=b, amount=amount)
    assert fingerprint(engine) == before


def test_refusals_change_nothing(session, engine, make_player):
    alice, a = make_player()
    bob, b = make_player()
    system = accounts.find_system_account_id(session)
    before = fingerprint(engine)
    cases = [
        (InsufficientFunds, dict(actor_id=alice, from_account_id=a, to_account_id=b, amount=1_000_001)),
        (SameAccount, dict(actor_id=alice, from_account_id=a, to_account_id=a, amount=100)),
        (NotAccountOwner, dict(actor_id=bob, from_account_id=a, to_account_id=b, amount=100)),
        (NotAccountOwner, dict(actor_id=alice, from_account_id=system, to_account_id=a, amount=100)),
        (AccountNotFound, dict(actor_id=alice, from_account_id=9999, to_account_id=b, amount=100)),
        (AccountNotFound, dict(actor_id=alice, from_account_id=a, to_account_id=9999, amount=100)),
        (InvalidInput, dict(actor_id=alice, from_account_id=a, to_account_id=system, amount=100)),
        (InvalidInput, dict(actor_id=alice, from_account_id=a, to_account_id=b, amount=100, description="x" * 201)),
        (InvalidAmount, dict(actor_id=alice, from_account_id=a, to_account_id=b, amount=100_000_001)),
    ]
    for error, kwargs in cases:
        with pytest.raises(error) as info:
            accounts.transfer(session, **kwargs)
        assert str(info.value), f"{error.__name__} has no message"
        assert fingerprint(engine) == before, f"{error.__name__} changed the database"


def test_idempotency_key_replays_without_moving_money(session, engine, make_player):
    alice, a = make_player()
    _, b = make_player()
    first = accounts.transfer(
        session,
        actor_id=alice,
        from_account_id=a,
        to_account_id=b,
        amount=500,
        description="lunch",
        idempotency_key="form-1",
    )
    snapshot = fingerprint(engine)
    again = accounts.transfer(
        session,
        actor_id=alice,
        from_account_id=a,
        to_account_id=b,
        amount=500,
        description="lunch",
        idempotency_key="form-1",
    )
    assert again.id == first.id and again.amount == 500
    assert fingerprint(engine) == snapshot
    with pytest.raises(DuplicateRequest):
        accounts.transfer(
            session,
            actor_id=alice,
            from_account_id=a,
            to_account_id=b,
            amount=501,
            description="lunch",
            idempotency_key="form-1",
        )
    assert fingerprint(engine) == snapshot
    assert accounts.get_balance(session, a) == 1_000_000 - 500


def test_failed_transfer_rolls_back_a_half_done_posting(session, engine, make_player):
    """An error after the debit (a duplicate idempotency key at insert) leaves no trace."""
    alice, a = make_player()
    _, b = make_player()
    before = fingerprint(engine)
    with pytest.raises(RuntimeError):
        with unit(session, write=True):
            ledger.post(session, from_account_id=a, to_account_id=b, amount=700, type="transfer")
            raise RuntimeError("crash in the middle of a unit of work")
    assert fingerprint(engine) == before


def test_post_requires_a_write_unit(session, make_player):
    _, a = make_player()
    _, b = make_player()
    with pytest.raises(RuntimeError):
        ledger.post(session, from_account_id=a, to_account_id=b, amount=1, type="transfer")


def test_post_rejects_unknown_type_and_bad_batch_count(session, engine, make_player):
    _, a = make_player()
    _, b = make_player()
    before = fingerprint(engine)
    for kwargs in (
        dict(type="gift"),
        dict(type="marketplace_batch", batch_count=0),
        dict(type="marketplace_batch", batch_count=2.0),
    ):
        with pytest.raises(InvalidInput):
            with unit(session, write=True):
                ledger.post(session, from_account_id=a, to_account_id=b, amount=10, **kwargs)
    assert fingerprint(engine) == before


def test_system_account_is_exempt_from_funds_check_and_sum_is_zero(session, engine, make_player):
    _, a = make_player()
    system = accounts.find_system_account_id(session)
    with unit(session, write=True):  # the mint pays more than it holds (it holds minus the money in circulation)
        ledger.post(session, from_account_id=system, to_account_id=a, amount=5_000_000, type="adjustment")
    assert accounts.get_balance(session, system) == -6_000_000  # the welcome deposit ($10,000) and this $50,000
    check_invariants(engine)


def test_posting_to_an_account_without_balances_row_is_refused(session, engine, make_player):
    alice, a = make_player()
    _, b = make_player()
    from economy_app.models import Balance

    with engine.begin() as conn:
        conn.execute(Balance.__table__.delete().where(Balance.__table__.c.account_id == b))
    before = fingerprint(engine)
    with pytest.raises(BalanceRecordMissing):
        accounts.transfer(session, actor_id=alice, from_account_id=a, to_account_id=b, amount=10)
    assert fingerprint(engine) == before


def test_each_posting_adds_one_ledger_row_in_order(session, make_player):
    alice, a = make_player()
    _, b = make_player()
    for cents in (1, 2, 3):
        accounts.transfer(session, actor_id=alice, from_account_id=a, to_account_id=b, amount=cents)
    count = session.execute(select(func.count()).select_from(LedgerEntry)).scalar_one()
    assert count == 2 + 3  # two initial deposits, three transfers
    amounts = session.execute(select(LedgerEntry.amount).order_by(LedgerEntry.id)).scalars().all()
    assert amounts == [1_000_000, 1_000_000, 1, 2, 3]


# --------------------------------------------------------------------------- post_many: a batch of postings


class _Rollback(Exception):
    pass


def _written(s, since: int, now) -> dict:
    """What the ledger tables hold after ledger id ``since``: every account's balance, cache and last update,
    the new ledger rows and balance_history rows in id order (ledger ids as their position, so a run that
    was rolled back on PostgreSQL, whose sequence does not go back, compares equal)."""
    from economy_app.models import Account, Balance
    from economy_app.services import live

    L, H, B, A = LedgerEntry.__table__, BalanceHistory.__table__, Balance.__table__, Account.__table__
    entries = s.execute(select(L).where(L.c.id > since).order_by(L.c.id)).mappings().all()
    position = {e["id"]: i for i, e in enumerate(entries)}
    history = s.execute(
        select(H.c.account_id, H.c.ledger_id, H.c.change, H.c.balance_after, H.c.created_at)
        .where(H.c.ledger_id > since)
        .order_by(H.c.id)
    ).all()
    topics = {f"t#{position[int(t[1:])]}" if t.startswith("t") else t for t in s.info.get(live._INFO_KEY, set())}
    return dict(
        balances=s.execute(select(B.c.account_id, B.c.balance, B.c.last_updated == now).order_by(B.c.account_id)).all(),
        caches=s.execute(select(A.c.id, A.c.balance).order_by(A.c.id)).all(),
        entries=[{**{k: v for k, v in e.items() if k != "id"}} for e in entries],
        history=[(a, position[lid], change, after, at) for a, lid, change, after, at in history],
        topics=topics,
    )


def _run_and_roll_back(session, post_them, now):
    """Run ``post_them(s)`` in a write unit, note what it wrote (or the error it raised), then roll it all
    back: the outcome, and the database as it was."""
    since = session.execute(select(func.coalesce(func.max(LedgerEntry.id), 0))).scalar_one()
    session.commit()
    outcome = {}
    try:
        with unit(session, write=True):
            try:
                post_them(session)
            except (InsufficientFunds, InvalidAmount, InvalidInput, SameAccount) as e:
                outcome["error"] = type(e)
            else:
                outcome.update(_written(session, since, now))
            raise _Rollback
    except _Rollback:
        pass
    return outcome


@pytest.fixture
def three_players(session, engine, make_player):
    accounts_ = [make_player()[1] for _ in range(3)]
    with unit(session, write=True):
        mint = accounts.system_account_id(session)
    return mint, accounts_


def _entries_strategy(ids):
    from hypothesis import strategies as st

    pair = st.tuples(st.sampled_from(ids), st.sampled_from(ids)).filter(lambda p: p[0] != p[1])
    entry = st.builds(
        lambda p, amount, kind, units: ledger.Posting(
            from_account_id=p[0],
            to_account_id=p[1],
            amount=amount,
            type=kind,
            batch_count=units,
            description=f"{kind} of {amount}",
        ),
        pair,
        st.integers(min_value=1, max_value=700_000),
        st.sampled_from(["marketplace_batch", "transfer"]),
        st.one_of(st.none(), st.integers(min_value=1, max_value=5_000_000_000)),
    )
    return st.lists(entry, min_size=1, max_size=25)


def test_post_many_writes_exactly_what_single_posts_write(session, engine, three_players):
    """Any sequence of entries among the mint and three players (some overdrawing an account partway): one
    ``post_many`` writes exactly what that many ``post`` calls in one transaction write: the same balances,
    caches and last updates, the same ledger rows in the same order, the same balance_history rows with the
    same balance_after sequence, the same live topics; and where a post would be refused for want of money,
    the batch is refused and writes nothing."""
    from datetime import timedelta

    from hypothesis import HealthCheck, given, settings

    from economy_app.models import utcnow

    mint, players = three_players
    now = utcnow() + timedelta(minutes=1)
    before = fingerprint(engine)

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(_entries_strategy([mint, *players]))
    def check(entries):
        def one_by_one(s):
            for e in entries:
                ledger.post(
                    s,
                    from_account_id=e.from_account_id,
                    to_account_id=e.to_account_id,
                    amount=e.amount,
                    type=e.type,
                    description=e.description,
                    batch_count=e.batch_count,
                    now=now,
                )

        single = _run_and_roll_back(session, one_by_one, now)
        batched = _run_and_roll_back(session, lambda s: ledger.post_many(s, entries, now=now), now)
        assert batched == single
        assert fingerprint(engine) == before

    check()


def test_post_many_in_a_committed_unit_keeps_every_invariant(session, engine, three_players):
    """A batch committed: the three copies agree, the balances sum to zero, the last balance_after of each
    account is its balance, and the returned entries are the rows written, ids in the entries' order."""
    mint, (a, b, c) = three_players
    entries = [
        ledger.Posting(mint, a, 5_000, "marketplace_batch", batch_count=3),
        ledger.Posting(a, mint, 1_200, "marketplace_batch", batch_count=3),
        ledger.Posting(a, b, 1_003_800, "transfer"),  # all a has at that point
        ledger.Posting(b, c, 1, "transfer"),
        ledger.Posting(c, b, 1, "transfer"),
    ]  # c's entries net to zero
    with unit(session, write=True):
        posted = ledger.post_many(session, entries)
    assert len(posted) == 5 and posted == sorted(posted)
    rows = session.execute(select(LedgerEntry).order_by(LedgerEntry.id)).scalars().all()[-5:]
    assert [(r.id, r.from_account_id, r.to_account_id, r.amount) for r in rows] == [
        (i, e.from_account_id, e.to_account_id, e.amount) for i, e in zip(posted, entries, strict=True)
    ]
    assert accounts.get_balance(session, a) == 0 and accounts.get_balance(session, c) == 1_000_000
    check_invariants(engine)


@pytest.mark.parametrize(
    "bad, error",
    [
        (dict(amount=0), InvalidAmount),
        (dict(amount=1.5), InvalidAmount),
        (dict(amount=True), InvalidAmount),
        (dict(type="gift"), InvalidInput),
        (dict(to_account_id="from"), SameAccount),
        (dict(batch_count=0), InvalidInput),
        (dict(description="x" * 501), InvalidInput),
        (dict(to_account_id=999_999), AccountNotFound),
        (dict(amount=1_000_001), InsufficientFunds),  # a player's $10,000.00 and one cent
    ],
)
def test_post_many_refuses_what_post_refuses_and_writes_nothing(session, engine, three_players, bad, error):
    mint, (a, b, _) = three_players
    fields = dict(from_account_id=a, to_account_id=b, amount=100, type="transfer")
    fields.update(bad)
    if fields["to_account_id"] == "from":
        fields["to_account_id"] = a
    entries = [ledger.Posting(mint, b, 700, "marketplace_batch"), ledger.Posting(**fields)]
    before = fingerprint(engine)
    with pytest.raises(error):
        with unit(session, write=True):
            ledger.post_many(session, entries)
    assert fingerprint(engine) == before
    with pytest.raises(RuntimeError):
        ledger.post_many(session, entries[:1])  # outside a write unit
    with pytest.raises(InvalidInput), unit(session, write=True):
        ledger.post_many(session, [dict(from_account_id=mint, to_account_id=b, amount=1, type="transfer")])


def test_post_many_refuses_an_account_without_its_balances_row(session, engine, three_players):
    from economy_app.models import Balance

    mint, (a, _, _) = three_players
    with engine.begin() as conn:
        conn.execute(Balance.__table__.delete().where(Balance.__table__.c.account_id == a))
    before = fingerprint(engine)
    with pytest.raises(BalanceRecordMissing), unit(session, write=True):
        ledger.post_many(session, [ledger.Posting(mint, a, 1, "marketplace_batch")])
    assert fingerprint(engine) == before
