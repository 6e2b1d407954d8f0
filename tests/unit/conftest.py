from __future__ import annotations

import pytest

from economy_app.services import accounts, users


@pytest.fixture
def make_player(session):
    """Create a player with a funded personal account: returns (user_id, account_id)."""
    counter = {"n": 0}

    def make(name: str | None = None) -> tuple[int, int]:
        counter["n"] += 1
        user = users.create_user(session, name or f"player{counter['n']}", "correct horse")
        return user.id, accounts.initialize_account(session, user.id).id

    return make


@pytest.fixture
def make_company(session):
    """Found a company for a player: returns (company_id, account_id)."""
    from economy_app.services import companies

    counter = {"n": 0}

    def make(owner_id: int, ticker: str | None = None, name: str | None = None) -> tuple[int, int]:
        counter["n"] += 1
        ticker = ticker or "".join(chr(65 + (counter["n"] // 26**k) % 26) for k in range(3))
        view = companies.create_company(session, owner_id=owner_id, name=name or f"Company {ticker}", ticker=ticker)
        return view.id, view.account_id

    return make
