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
