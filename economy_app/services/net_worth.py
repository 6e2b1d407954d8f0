"""Net worth: what a player's shares are worth to them and what their companies owe their shareholders.

A holding is worth its pro-rata part of what buying back every share outside the treasury would cost the company
(``stock_trading.holding_value_cents``), and a founder's net worth counts their companies' cash less that
debt to shareholders (``stock_trading.outstanding_value_cents``): every cent paid for shares sits in a
company's cash once, so net worth never counts it twice. Read by the dashboard (``accounts.dashboard``) and
the leaderboard (``stock_views.leaderboard``).
"""

from __future__ import annotations

from sqlalchemy import bindparam, func, select
from sqlmodel import Session

from economy_app.db import DriverRead
from economy_app.models import Account, Company, Holding
from economy_app.services import stock_trading
from economy_app.services._tx import unit

companies_t = Company.__table__
holdings_t = Holding.__table__
accounts_t = Account.__table__

_CURVE = (
    companies_t.c.base_price_micros,
    companies_t.c.share_price_micros,
    companies_t.c.total_shares,
    companies_t.c.treasury_shares,
)


def held_and_owed(
    s: Session, *, owners: list[int] | None = None, accounts: list[int] | None = None
) -> tuple[dict[int, int], dict[int, int]]:
    """({owner: value of their holdings}, {owner: what their companies owe shareholders}), in cents, for the
    given owners (or every owner); with ``accounts``, only the holdings of those accounts."""
    params: dict[str, list[int]] = {}
    if owners is not None:
        params["owners"] = list(owners)
    if accounts is not None:
        params["accounts"] = list(accounts)
    with unit(s, write=False):
        held = _held(s, _HELD[(owners is not None, accounts is not None)], params)
        owed = _owed(s, _DEBTS[owners is not None], params) if accounts is None else {}
    return held, owed


def _held(s: Session, q, params: dict) -> dict[int, int]:
    return _held_of(s.execute(q, params))


def _held_of(rows) -> dict[int, int]:
    held: dict[int, int] = {}
    for r in rows:
        base, x, n = stock_trading.curve_of(r)
        held[r.owner_id] = held.get(r.owner_id, 0) + stock_trading.holding_value_cents(base, int(r.shares), x, n)
    return held


def _owed(s: Session, q, params: dict) -> dict[int, int]:
    return _owed_of(s.execute(q, params))


def _owed_of(rows) -> dict[int, int]:
    owed: dict[int, int] = {}
    for r in rows:
        base, x, n = stock_trading.curve_of(r)
        owed[r.owner_id] = owed.get(r.owner_id, 0) + stock_trading.outstanding_value_cents(base, x, n)
    return owed


# Read on every dashboard load and refresh: built once (building them cost more than running them), with the
# owner and account filters as expanding parameters. Keys: (by owners, by accounts) and by owners.
_HELD_ALL = (
    select(accounts_t.c.owner_id, holdings_t.c.company_id, func.sum(holdings_t.c.shares).label("shares"), *_CURVE)
    .join(accounts_t, accounts_t.c.id == holdings_t.c.account_id)
    .join(companies_t, companies_t.c.id == holdings_t.c.company_id)
    .where(holdings_t.c.shares > 0, accounts_t.c.owner_id.is_not(None))
    .group_by(accounts_t.c.owner_id, holdings_t.c.company_id, *_CURVE)
)
_BY_OWNERS = accounts_t.c.owner_id.in_(bindparam("owners", expanding=True))
_BY_ACCOUNTS = holdings_t.c.account_id.in_(bindparam("accounts", expanding=True))
_HELD = {
    (False, False): _HELD_ALL,
    (True, False): _HELD_ALL.where(_BY_OWNERS),
    (False, True): _HELD_ALL.where(_BY_ACCOUNTS),
    (True, True): _HELD_ALL.where(_BY_OWNERS, _BY_ACCOUNTS),
}
_DEBTS_ALL = select(companies_t.c.owner_id, *_CURVE).where(
    companies_t.c.is_public.is_(True), companies_t.c.treasury_shares < companies_t.c.total_shares
)
_DEBTS = {False: _DEBTS_ALL, True: _DEBTS_ALL.where(companies_t.c.owner_id.in_(bindparam("owners", expanding=True)))}


# One player's, for the dashboard (every load and refresh): compiled once, sent straight to the driver.
_HELD_BY_OWNER = DriverRead(_HELD_ALL.where(accounts_t.c.owner_id == bindparam("owner")))
_DEBTS_OF_OWNER = DriverRead(_DEBTS_ALL.where(companies_t.c.owner_id == bindparam("owner")))


def player_holdings_value(s: Session, user_id: int) -> int:
    """``holdings_value`` of every account the player owns."""
    with unit(s, write=False):
        return _held_of(_HELD_BY_OWNER.all_in(s, {"owner": user_id})).get(user_id, 0)


def holdings_value(s: Session, account_ids: list[int]) -> int:
    """What everything these accounts hold is worth to its holders, in cents (see the module's docstring)."""
    if not account_ids:
        return 0
    return sum(held_and_owed(s, accounts=list(account_ids))[0].values())


def owed_to_shareholders(s: Session, user_id: int) -> int:
    """What buying back every outstanding share of the player's companies would cost them, in cents."""
    with unit(s, write=False):  # the debts alone (the holdings half of ``held_and_owed`` is not wanted here)
        return _owed_of(_DEBTS_OF_OWNER.all_in(s, {"owner": user_id})).get(user_id, 0)
