"""Small worlds for the shareholders' tests (issue 16): money from the mint, a public company, net worths."""

from __future__ import annotations

from economy_app.services import accounts, companies, ledger
from economy_app.services._tx import unit


def fund(session, account_id: int, cents: int) -> None:
    """Money from the mint (an ``adjustment``), as a good run of sales would bring."""
    with unit(session, write=True):
        ledger.post(
            session,
            from_account_id=accounts.system_account_id(session),
            to_account_id=account_id,
            amount=cents,
            type="adjustment",
        )


def go_public(session, company_id: int, account_id: int, cash_cents: int) -> None:
    fund(session, account_id, cash_cents)
    assert companies.check_and_update_public_status(session, company_id)


def net_worth(session, user_id: int) -> int:
    return accounts.dashboard(session, user_id).net_worth
