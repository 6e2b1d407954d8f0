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
    stock_views,
    users,
)
from economy_app.services._tx import unit
from economy_app.services.errors import (
    AccountFrozen,
    InvalidInput,
    NotAdmin,
    TradingHalted,
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
    assert sorted(frozen.changed) == ["Acme", "alice"]  # the personal account and the company's
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
        ).changed
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
    assert operations.freeze(
        session, actor_id=admin_id, kind="player", target_id=w["alice"], reason="More"
    ).changed == ["alice"]
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
        operations.freeze(session, actor_id=admin_id, kind="player", target_id=world["alice"], reason=REASON).changed
    ) == ["Acme", "alice"]
    frozen = session.execute(
        select(func.count()).select_from(moderation.accounts_t).where(moderation.accounts_t.c.frozen_at.is_not(None))
    ).scalar_one()
    assert frozen == 2


HALTED_BUY = "Bolt's shares can't be bought right now: trading is halted."


def test_a_frozen_companys_stock_is_halted_both_ways(session, engine, world, admin_id):
    """A frozen company neither pays nor is paid for its shares (the attack on issue 20, finding 1): money may
    come in, but a buyer who paid into a frozen company could not sell back. The buy is refused, every list says
    so, and trading resumes with the unfreeze."""
    w = world
    operations.freeze(session, actor_id=admin_id, kind="company", target_id=w["bolt"], reason=REASON)
    before = fingerprint(engine)
    with pytest.raises(TradingHalted) as refused:
        stock_trading.buy(session, actor_id=w["bob"], account_id=w["bob_personal"], company_id=w["bolt"], shares=50)
    assert str(refused.value) == HALTED_BUY
    with pytest.raises(TradingHalted, match="trading is halted"):  # the trade box's preview says why
        stock_trading.quote(session, w["bolt"], "buy", 50)
    assert fingerprint(engine) == before  # bob paid nothing into a company he could not sell back to

    # The stock list, the stock's page and the company's card in the directory say so.
    rows, _ = stock_views.overview(session)
    assert {r.ticker: r.halted for r in rows} == {"BOLT": True}
    assert stock_views.stock_detail(session, w["bolt"]).halted
    assert {v.ticker: v.frozen for v in companies.directory(session)[0]} == {"ACME": False, "BOLT": True}

    operations.freeze(session, actor_id=admin_id, kind="company", target_id=w["bolt"], reason="Cleared", frozen=False)
    stock_trading.buy(session, actor_id=w["bob"], account_id=w["bob_personal"], company_id=w["bolt"], shares=50)
    assert not stock_views.stock_detail(session, w["bolt"]).halted
    assert [r.halted for r in stock_views.overview(session)[0]] == [False]
    check_invariants(engine)


def test_a_frozen_company_does_not_go_public(session, engine, world, admin_id):
    """Money still comes in, but a frozen company past $50,000 stays private (its stock would open halted):
    the run's check skips it and the owner's button says why. Unfrozen, it goes public."""
    w = world
    operations.freeze(session, actor_id=admin_id, kind="company", target_id=w["acme"], reason=REASON)
    with unit(session, write=True):
        ledger.post(
            session, from_account_id=w["mint"], to_account_id=w["acme_account"], amount=5_000_000, type="adjustment"
        )
    assert not companies.check_and_update_public_status(session, w["acme"])
    with pytest.raises(AccountFrozen) as refused:
        companies.go_public(session, actor_id=w["alice"], company_id=w["acme"])
    assert str(refused.value) == REFUSED  # the owner reads the reason: it is their company
    assert not companies.get_company(session, w["acme"]).is_public
    operations.freeze(session, actor_id=admin_id, kind="company", target_id=w["acme"], reason="Cleared", frozen=False)
    assert companies.go_public(session, actor_id=w["alice"], company_id=w["acme"])


def test_a_shareholder_of_a_frozen_company_is_not_told_the_admins_reason(session, engine, world, admin_id):
    """The freeze's reason is for the frozen account's owner and the admins (the attack on issue 20, finding 2): an
    admin's note naming a third player reached every shareholder who tried to sell, and told them "This account is
    frozen" of an account that is not theirs. A shareholder reads a neutral message."""
    w = world
    note = "Suspected wash trading with dave, ticket 4411"
    operations.freeze(session, actor_id=admin_id, kind="company", target_id=w["bolt"], reason=note)
    before = fingerprint(engine)
    for refused_by in (
        lambda: stock_trading.sell(
            session, actor_id=w["alice"], account_id=w["alice_personal"], company_id=w["bolt"], shares=1
        ),
        lambda: stock_trading.quote(session, w["bolt"], "sell", 1),
    ):
        with pytest.raises(TradingHalted) as refused:
            refused_by()
        assert str(refused.value) == "Bolt can't buy back shares right now: trading is halted."
    assert fingerprint(engine) == before


def _send_from(session, w, account: str, amount: int = 100):
    return accounts.transfer(
        session, actor_id=w["alice"], from_account_id=w[account], to_account_id=w["bob_personal"], amount=amount
    )


def test_unfreezing_a_player_keeps_a_company_frozen_on_its_own(session, engine, world, admin_id):
    """Two freezes, one unfreeze (the attack on issue 20, finding 3): an admin freezes Acme for what the company
    does, then alice for something else; clearing alice lifted Acme's own freeze too. A freeze now records its
    scope: "Unfreeze player" lifts the player's freeze only, and says which company freeze stays, and why."""
    w = world
    operations.freeze(session, actor_id=admin_id, kind="company", target_id=w["acme"], reason="Acme launders money")
    operations.freeze(session, actor_id=admin_id, kind="player", target_id=w["alice"], reason="Spam in names")

    done = operations.freeze(
        session, actor_id=admin_id, kind="player", target_id=w["alice"], reason="Spam cleared", frozen=False
    )
    assert done.changed == ["alice"]  # only the freeze this action put on
    stays = "Acme stays frozen on its own (Acme launders money): Unfreeze company lifts it."
    assert done.notes == [stays]
    audit = _audits(session)[0]
    assert (audit["action"], audit["ok"]) == ("unfreeze player", True)
    assert audit["result"] == f"1 account unfrozen (alice): Spam cleared. {stays}"
    _send_from(session, w, "alice_personal")
    with pytest.raises(AccountFrozen, match="Acme launders money"):
        _send_from(session, w, "acme_account")
    # Nothing left for "Unfreeze player" to lift: refused, and it says what stays.
    with pytest.raises(InvalidInput, match="Acme stays frozen on its own"):
        operations.freeze(session, actor_id=admin_id, kind="player", target_id=w["alice"], reason="Again", frozen=False)

    done = operations.freeze(
        session, actor_id=admin_id, kind="company", target_id=w["acme"], reason="Cleared", frozen=False
    )
    assert (done.changed, done.notes) == (["Acme"], [])
    _send_from(session, w, "acme_account")
    check_invariants(engine)


def test_a_company_freeze_over_a_player_freeze_outlives_it(session, engine, world, admin_id):
    """The other order: alice is frozen (Acme with her), then Acme on its own. Acme's freeze becomes the company's;
    "Unfreeze player" leaves it, "Unfreeze company" lifts it."""
    w = world
    operations.freeze(session, actor_id=admin_id, kind="player", target_id=w["alice"], reason="Spam in names")
    done = operations.freeze(
        session, actor_id=admin_id, kind="company", target_id=w["acme"], reason="Acme launders money"
    )
    assert (done.changed, done.notes) == (["Acme"], ["Acme was frozen with its owner; it now has a freeze of its own."])
    with pytest.raises(InvalidInput, match="already frozen"):
        operations.freeze(session, actor_id=admin_id, kind="company", target_id=w["acme"], reason="Twice")
    owner = moderation.owner(session, w["alice"])
    assert {a.name: (a.freeze.scope, a.freeze.reason) for a in owner.accounts} == {
        "alice": ("player", "Spam in names"),
        "Acme": ("company", "Acme launders money"),
    }
    assert operations.freeze(
        session, actor_id=admin_id, kind="player", target_id=w["alice"], reason="Cleared", frozen=False
    ).changed == ["alice"]
    with pytest.raises(AccountFrozen, match="Acme launders money"):
        _send_from(session, w, "acme_account")


def test_unfreezing_a_company_leaves_its_owners_freeze_on_it(session, engine, world, admin_id):
    """A player freeze covers every account the player holds: "Unfreeze company" lifts the company's own freeze
    only. While its owner is frozen the company stays frozen with them; a company frozen only with its owner is not
    unfrozen on its own."""
    w = world
    operations.freeze(session, actor_id=admin_id, kind="player", target_id=w["alice"], reason="Spam in names")
    with pytest.raises(InvalidInput) as refused:
        operations.freeze(
            session, actor_id=admin_id, kind="company", target_id=w["acme"], reason="Not yet", frozen=False
        )
    assert str(refused.value) == "Acme is frozen with its owner (Spam in names): Unfreeze player lifts it."
    assert _audits(session)[0]["ok"] is False  # the refusal is audited

    operations.freeze(session, actor_id=admin_id, kind="company", target_id=w["acme"], reason="Acme launders money")
    done = operations.freeze(
        session, actor_id=admin_id, kind="company", target_id=w["acme"], reason="Laundering cleared", frozen=False
    )
    assert done.changed == []  # still frozen: with its owner again
    assert done.notes == ["Acme stays frozen with its owner (Spam in names): Unfreeze player lifts it."]
    assert _audits(session)[0]["result"].startswith("No account unfrozen: Laundering cleared. Acme stays frozen")
    with pytest.raises(AccountFrozen, match="Spam in names"):
        _send_from(session, w, "acme_account")
    assert sorted(
        operations.freeze(
            session, actor_id=admin_id, kind="player", target_id=w["alice"], reason="Cleared", frozen=False
        ).changed
    ) == ["Acme", "alice"]
    _send_from(session, w, "acme_account")
    check_invariants(engine)


@pytest.mark.parametrize("kind", ["player", "company"])
def test_a_frozen_company_cannot_rewrite_what_other_players_read(session, engine, world, admin_id, kind):
    """A freeze stops an abuse while it is looked at (the attack on issue 20, finding 5), and the abuse is often in
    words: a frozen player renamed their company (its account too, which send money's search and every history row
    show) and renamed and repriced its products. Editing the company or a product is refused with the freeze's
    message; withdrawing a product is still allowed."""
    w = world
    operations.freeze(
        session, actor_id=admin_id, kind=kind, target_id=w[f"{'alice' if kind == 'player' else 'acme'}"], reason=REASON
    )
    before = fingerprint(engine)
    for edit in (
        lambda: companies.update_company(
            session, actor_id=w["alice"], company_id=w["acme"], name="FREE MONEY dm alice"
        ),
        lambda: companies.update_company(session, actor_id=w["alice"], company_id=w["acme"], description="Spam"),
        lambda: products.update_product(session, actor_id=w["alice"], product_id=w["product"], name="FREE MONEY"),
        lambda: products.update_product(session, actor_id=w["alice"], product_id=w["product"], price_cents=1),
    ):
        with pytest.raises(AccountFrozen) as refused:
            edit()
        assert str(refused.value) == REFUSED
    assert fingerprint(engine) == before
    assert companies.get_company(session, w["acme"]).name == "Acme"
    products.set_active(session, actor_id=w["alice"], product_id=w["product"], active=False)  # withdrawing: allowed
