"""Moderation (issue 20, item 11): an admin freezes a player's accounts or one company's account, with a reason,
audited in the same transaction. Every posting *from* a frozen account is refused by the posting package itself
(post and post_many), and so is every path built on it: transfers, buying and selling shares, a company's
listings, founding a company; money still comes in. The marketplace run leaves frozen companies out. Unfreezing
restores everything. On SQLite and PostgreSQL (the races are in tests/integration/test_moderation_races.py)."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from economy_app.models import AdminAudit, LedgerEntry, utcnow
from economy_app.services import (
    accounts,
    companies,
    ledger,
    marketplace_run,
    moderation,
    operations,
    products,
    stock_trading,
    users,
)
from economy_app.services._tx import unit
from economy_app.services.errors import (
    AccountFrozen,
    InvalidInput,
    NotAdmin,
    UserNotFound,
)
from tests.support.db import check_invariants, fingerprint

REASON = "Looking into a chain of transfers"
REFUSED = f"This account is frozen by an admin: {REASON}."


@pytest.fixture
def admin_id(session):
    return users.create_user(session, "root", "correct horse", role="admin").id


@pytest.fixture
def world(session, make_player, make_company):
    """alice (personal account + Acme, with a product on sale), bob, and carol's public company Bolt, whose
    shares alice holds."""
    alice, alice_personal = make_player("alice")
    bob, bob_personal = make_player("bob")
    carol, _ = make_player("carol")
    acme, acme_account = make_company(alice, "ACME", "Acme")
    bolt, bolt_account = make_company(carol, "BOLT", "Bolt")
    with unit(session, write=True):
        mint = accounts.system_account_id(session)
        ledger.post(session, from_account_id=mint, to_account_id=bolt_account, amount=6_000_000, type="adjustment")
        ledger.post(session, from_account_id=mint, to_account_id=acme_account, amount=50_000, type="adjustment")
    assert companies.check_and_update_public_status(session, bolt)
    stock_trading.buy(session, actor_id=alice, account_id=alice_personal, company_id=bolt, shares=100)
    product = products.create_product(
        session,
        actor_id=alice,
        company_id=acme,
        name="Anvil",
        price_cents=1_999,
        rng=random.Random(1),
        now=utcnow() - timedelta(hours=1),
    )
    return dict(
        alice=alice,
        alice_personal=alice_personal,
        bob=bob,
        bob_personal=bob_personal,
        acme=acme,
        acme_account=acme_account,
        bolt=bolt,
        product=product.id,
        mint=mint,
    )


def _audits(session) -> list[dict]:
    return operations.audit_log(session)


def test_a_frozen_player_sends_nothing_by_any_path(session, engine, world, admin_id):
    w = world
    frozen = operations.freeze(session, actor_id=admin_id, kind="player", target_id=w["alice"], reason=REASON)
    assert sorted(frozen) == ["Acme", "alice"]  # the personal account and the company's
    [audit] = _audits(session)[:1]
    assert (audit["admin_name"], audit["action"], audit["target"], audit["ok"]) == (
        "root",
        "freeze player",
        "player alice",
        True,
    )
    assert REASON in audit["result"] and "2 accounts frozen" in audit["result"]
    before = fingerprint(engine, exclude=frozenset({"products"}))

    attempts = {
        "transfer": lambda: accounts.transfer(
            session,
            actor_id=w["alice"],
            from_account_id=w["alice_personal"],
            to_account_id=w["bob_personal"],
            amount=100,
        ),
        "company transfer": lambda: accounts.transfer(
            session,
            actor_id=w["alice"],
            from_account_id=w["acme_account"],
            to_account_id=w["bob_personal"],
            amount=100,
        ),
        "buy": lambda: stock_trading.buy(
            session, actor_id=w["alice"], account_id=w["alice_personal"], company_id=w["bolt"], shares=1
        ),
        "sell": lambda: stock_trading.sell(
            session, actor_id=w["alice"], account_id=w["alice_personal"], company_id=w["bolt"], shares=1
        ),
        "list": lambda: products.create_product(
            session, actor_id=w["alice"], company_id=w["acme"], name="Rocket", price_cents=500
        ),
        "found": lambda: companies.create_company(session, owner_id=w["alice"], name="Shell", ticker="SHEL"),
        "post": lambda: _in_unit(
            session,
            lambda: ledger.post(
                session,
                from_account_id=w["alice_personal"],
                to_account_id=w["bob_personal"],
                amount=1,
                type="transfer",
            ),
        ),
        "post_many": lambda: _in_unit(
            session,
            lambda: ledger.post_many(
                session,
                [
                    ledger.Posting(w["mint"], w["bob_personal"], 500, "adjustment"),
                    ledger.Posting(w["acme_account"], w["mint"], 100, "marketplace_batch", batch_count=1),
                ],
            ),
        ),
    }
    for name, attempt in attempts.items():
        with pytest.raises(AccountFrozen) as refused:
            attempt()
        assert str(refused.value) == REFUSED, name
    products.set_active(session, actor_id=w["alice"], product_id=w["product"], active=False)  # withdrawing: allowed
    with pytest.raises(AccountFrozen, match="frozen by an admin"):
        products.set_active(session, actor_id=w["alice"], product_id=w["product"], active=True)
    # Nothing moved, nothing was written (but the withdrawal).
    assert fingerprint(engine, exclude=frozenset({"products"})) == before

    # Money still comes in, and a frozen player still reads everything.
    accounts.transfer(
        session, actor_id=w["bob"], from_account_id=w["bob_personal"], to_account_id=w["alice_personal"], amount=250
    )
    d = accounts.dashboard(session, w["alice"])
    assert {v.name: v.frozen_reason for v in d.accounts} == {"alice": REASON, "Acme": REASON}
    assert companies.company_dashboard(session, w["alice"], w["acme"]).frozen_reason == REASON
    check_invariants(engine)

    # Unfreezing restores every path.
    assert sorted(
        operations.freeze(
            session, actor_id=admin_id, kind="player", target_id=w["alice"], reason="Cleared", frozen=False
        )
    ) == ["Acme", "alice"]
    assert _audits(session)[0]["action"] == "unfreeze player"
    accounts.transfer(
        session, actor_id=w["alice"], from_account_id=w["alice_personal"], to_account_id=w["bob_personal"], amount=100
    )
    stock_trading.sell(session, actor_id=w["alice"], account_id=w["alice_personal"], company_id=w["bolt"], shares=1)
    products.set_active(session, actor_id=w["alice"], product_id=w["product"], active=True)
    companies.create_company(session, owner_id=w["alice"], name="Shell", ticker="SHEL")
    assert {v.frozen_reason for v in accounts.list_accounts(session, w["alice"])} == {None}
    check_invariants(engine)


def _in_unit(session, fn):
    with unit(session, write=True):
        return fn()


def test_freezing_one_company_leaves_its_owner_and_the_market_running(session, engine, world, admin_id):
    w = world
    operations.freeze(session, actor_id=admin_id, kind="company", target_id=w["acme"], reason=REASON)
    assert _audits(session)[0]["target"] == "company Acme (ACME)"
    # The owner's own account still sends; the company's does not.
    accounts.transfer(
        session, actor_id=w["alice"], from_account_id=w["alice_personal"], to_account_id=w["bob_personal"], amount=100
    )
    with pytest.raises(AccountFrozen, match=REASON):
        accounts.transfer(
            session, actor_id=w["alice"], from_account_id=w["acme_account"], to_account_id=w["bob_personal"], amount=1
        )
    # The marketplace run does not fail: the frozen company's products are left out of the plan, and only
    # the other sellers are paid.
    bolt_product = products.create_product(
        session,
        actor_id=users.get_user_by_username(session, "carol").id,
        company_id=w["bolt"],
        name="Bike",
        price_cents=2_500,
        rng=random.Random(2),
        now=utcnow() - timedelta(hours=1),
    )
    result = marketplace_run.run_batch(session, rng=random.Random(5))
    assert result.products_on_sale == 1 and result.ledger_rows == 2
    paid = session.execute(
        select(LedgerEntry.to_account_id).where(LedgerEntry.type == "marketplace_batch", LedgerEntry.amount > 0)
    ).scalars()
    assert w["acme_account"] not in set(paid)
    assert products.get_product(session, bolt_product.id).units_sold > 0
    assert products.get_product(session, w["product"]).units_sold == 0
    check_invariants(engine)

    operations.freeze(
        session, actor_id=admin_id, kind="company", target_id=w["acme"], reason="Done looking", frozen=False
    )
    result = marketplace_run.run_batch(session, rng=random.Random(5))
    assert result.products_on_sale == 2


@pytest.mark.parametrize("reason", ["", "  ", "ab", "x" * 201, None, 42])
def test_a_freeze_needs_a_reason(session, engine, world, admin_id, reason):
    before = fingerprint(engine, exclude=frozenset({"admin_audit", "live_events"}))
    with pytest.raises(InvalidInput, match="reason of 3 to 200 characters"):
        operations.freeze(session, actor_id=admin_id, kind="player", target_id=world["alice"], reason=reason)
    assert fingerprint(engine, exclude=frozenset({"admin_audit", "live_events"})) == before
    [refusal] = _audits(session)[:1]
    assert (refusal["action"], refusal["ok"]) == ("freeze player", False)  # the refusal is audited


def test_only_admins_freeze_and_nothing_twice(session, engine, world, admin_id):
    w = world
    before = fingerprint(engine)
    with pytest.raises(NotAdmin):
        operations.freeze(session, actor_id=w["bob"], kind="player", target_id=w["alice"], reason=REASON)
    assert fingerprint(engine) == before  # refused: nothing ran, nothing logged
    with pytest.raises(UserNotFound):
        operations.freeze(session, actor_id=admin_id, kind="player", target_id=999_999, reason=REASON)
    with pytest.raises(InvalidInput):
        operations.freeze(session, actor_id=admin_id, kind="account", target_id=w["alice"], reason=REASON)
    with pytest.raises(InvalidInput, match="not frozen"):
        operations.freeze(session, actor_id=admin_id, kind="player", target_id=w["alice"], reason=REASON, frozen=False)
    operations.freeze(session, actor_id=admin_id, kind="company", target_id=w["acme"], reason=REASON)
    # A player freeze after a company freeze freezes what is left, and keeps the company's own reason.
    assert operations.freeze(session, actor_id=admin_id, kind="player", target_id=w["alice"], reason="More") == [
        "alice"
    ]
    with pytest.raises(InvalidInput, match="already frozen"):
        operations.freeze(session, actor_id=admin_id, kind="player", target_id=w["alice"], reason=REASON)
    owner = moderation.owner(session, w["alice"])
    assert owner.frozen and {a.name: a.freeze.reason for a in owner.accounts} == {"alice": "More", "Acme": REASON}
    assert {a.freeze.by for a in owner.accounts} == {"root"}


def test_the_lookup_shows_the_owner_the_freeze_and_the_last_entries(session, world, admin_id):
    w = world
    operations.freeze(session, actor_id=admin_id, kind="company", target_id=w["acme"], reason=REASON)
    found = operations.account_lookup(session, actor_id=admin_id, query="alice")
    assert [(f.facts.name, f.facts.owner, f.facts.company) for f in found] == [
        ("alice", "alice", ""),
        ("Acme", "alice", "Acme (ACME)"),
    ]
    personal, company = found
    assert personal.facts.freeze is None
    assert (company.facts.freeze.reason, company.facts.freeze.by) == (REASON, "root")
    assert [r.type for r in personal.recent] == ["stock_purchase", "initial_deposit"]
    assert len(operations.account_lookup(session, actor_id=admin_id, query="a")) >= 2
    assert operations.account_lookup(session, actor_id=admin_id, query="nobody-by-this-name") == []
    d = operations.dashboard(session, actor_id=admin_id, query="acme")
    assert [f.facts.company for f in d.found] == ["Acme (ACME)"]

    page = operations.admin_account(session, actor_id=admin_id, account_id=w["acme_account"])
    assert page.owner.username == "alice" and [c.ticker for c in page.companies] == ["ACME"]
    assert [a.name for a in page.owner.accounts] == ["alice", "Acme"]
    assert page.account.facts.freeze.reason == REASON and not page.has_more
    page = operations.admin_account(session, actor_id=admin_id, account_id=w["alice_personal"], limit=1)
    assert [r.type for r in page.history] == ["stock_purchase"] and page.has_more
    older = operations.admin_account(
        session, actor_id=admin_id, account_id=w["alice_personal"], before=ledger.cursor(page.history[-1])
    )
    assert [r.type for r in older.history] == ["initial_deposit"] and not older.has_more
    with pytest.raises(NotAdmin):
        operations.admin_account(session, actor_id=w["bob"], account_id=w["acme_account"])
    with pytest.raises(NotAdmin):
        operations.account_lookup(session, actor_id=w["bob"], query="alice")


def test_the_audit_log_names_accounts_and_jobs(session, engine, world, admin_id):
    w = world
    operations.repair_account(session, actor_id=admin_id, account_id=w["alice_personal"], action="recalculate")
    operations.pause_job(session, actor_id=admin_id, name="marketplace", paused=True)
    # A row written before targets carried names: "account N".
    operations.record(
        session, admin_id=admin_id, admin_name="root", action="sync", target=f"account {w['acme_account']}"
    )
    audit = operations.dashboard(session, actor_id=admin_id).audit
    assert [a.target for a in audit[:3]] == [
        f"Acme (ACME), alice's company (#{w['acme_account']})",
        "Marketplace run",
        f"alice's personal account (#{w['alice_personal']})",
    ]
    stored = session.execute(select(AdminAudit.target).order_by(AdminAudit.id.desc())).scalars().all()
    assert stored[2] == f"alice's personal account (#{w['alice_personal']})"  # written with the name


def test_an_account_without_a_balance_row_is_frozen_too(session, engine, world, admin_id):
    """A drifted account (its balances row missing) has no balance row to lock: it is frozen all the same."""
    from economy_app.models import Balance

    with engine.begin() as conn:
        conn.execute(Balance.__table__.delete().where(Balance.__table__.c.account_id == world["acme_account"]))
    assert sorted(
        operations.freeze(session, actor_id=admin_id, kind="player", target_id=world["alice"], reason=REASON)
    ) == ["Acme", "alice"]
    frozen = session.execute(
        select(func.count()).select_from(moderation.accounts_t).where(moderation.accounts_t.c.frozen_at.is_not(None))
    ).scalar_one()
    assert frozen == 2
