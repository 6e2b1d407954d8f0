"""A player's purchase and a marketplace run at once, on PostgreSQL (found on branch atk-17): they take the same
row locks, and took them in opposite orders.

purchases.buy locks the balance rows (buyer, company, mint: ``ledger.lock_balances``) and updates the product's
row after posting; marketplace_run.run_batch updates the sold products' rows (``_add_product_totals``) and then
locks the balance rows (the mint's and the companies', in ``ledger.post_many``). On PostgreSQL a purchase of a
product the run is selling, at the same moment, is a deadlock: PostgreSQL aborts one of the two, either the
player's purchase (a server error, not a message) or the whole marketplace run. The house rule: "row locks in
a fixed order". The test holds each side at its first lock until the other has taken its own (with a timeout,
so a fixed lock order, where the second side simply waits, passes)."""

from __future__ import annotations

import random
import threading
from datetime import timedelta

import pytest
from sqlmodel import Session

from economy_app.models import utcnow
from economy_app.services import accounts, ledger, marketplace_run, products, purchases, users
from economy_app.services import companies as companies_service
from tests.support.db import check_invariants


def test_a_purchase_during_a_marketplace_run_never_deadlocks(engine, monkeypatch):
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite's write unit serialises whole transactions: no row-lock order to get wrong")
    listed = utcnow() - timedelta(hours=1)
    with Session(engine, expire_on_commit=False) as s:
        bob = users.create_user(s, "bob", "correct horse").id
        accounts.initialize_account(s, bob)
        company = companies_service.create_company(s, owner_id=bob, name="Bob Kites", ticker="BOB")
        kite = products.create_product(
            s, actor_id=bob, company_id=company.id, name="Kite", price_cents=1_999, rng=random.Random(0), now=listed
        )
        alice = users.create_user(s, "alice", "correct horse").id
        alice_personal = accounts.initialize_account(s, alice).id

    purchase_locked, run_locked = threading.Event(), threading.Event()
    real_lock_balances, real_totals = ledger.lock_balances, marketplace_run._add_product_totals

    def lock_balances(s, ids):  # the purchase: balance rows first ...
        real_lock_balances(s, ids)
        if threading.current_thread().name == "purchase":
            purchase_locked.set()
            run_locked.wait(5)  # ... while the run takes the product's row

    def add_product_totals(s, *args, **kwargs):  # the run: the products' rows first ...
        purchase_locked.wait(5)
        real_totals(s, *args, **kwargs)
        run_locked.set()  # ... then post_many waits for the mint's balance row

    monkeypatch.setattr(ledger, "lock_balances", lock_balances)
    monkeypatch.setattr(marketplace_run, "_add_product_totals", add_product_totals)

    errors: dict[str, BaseException] = {}

    def buy():
        with Session(engine, expire_on_commit=False) as s:
            try:
                purchases.buy(
                    s, actor_id=alice, account_id=alice_personal, product_id=kite.id, units=3, price_cents=1_999
                )
            except BaseException as e:  # noqa: BLE001 - reported by the test
                errors["purchase"] = e

    def run():
        with Session(engine, expire_on_commit=False) as s:
            try:
                sold = marketplace_run.run_batch(s, rng=random.Random(1), budget=100_000)
                assert sold.units > 0
            except BaseException as e:  # noqa: BLE001 - reported by the test
                errors["run"] = e

    threads = [threading.Thread(target=buy, name="purchase"), threading.Thread(target=run, name="run")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not any(t.is_alive() for t in threads)
    assert errors == {}, {k: f"{type(v).__name__}: {str(v).splitlines()[0]}" for k, v in errors.items()}
    check_invariants(engine)
