"""Reserved names (issue 12, item 9): nobody signs up, shows themselves or founds a company as the system or its
staff, whatever the case, the Unicode forms or the look-alike letters."""

from __future__ import annotations

import pytest

from economy_app.services import accounts, auth, companies, users
from economy_app.services.errors import InvalidInput
from economy_app.services.names import is_reserved, skeleton
from tests.support.db import fingerprint

POSING = [
    "Economy (system)", "economy (SYSTEM)", "ECONOMY SYSTEM", "Economy-System", "Ｅｃｏｎｏｍｙ (ｓｙｓｔｅｍ)",
    "Ecоnоmy (Sуstem)",  # Cyrillic о and у
    "Εconomy (system)",  # a Greek capital epsilon
    "Économy (sýstem)", "3c0n0my 5y5tem", "System", "the system", "Admin", "ADMIN", "admin_bob", "bob-admin",
    "Administrator", "adm1n", "Moderator", "sysadmin", "Security check", "Official economy team", "Mint",
    "Treasury", "Support",
]
FINE = ["Acme Rockets", "Badminton Club", "Solar Systems", "Bolt Bikes", "Green Economics", "alice", "mod_squad",
        "Mintage Coins"]


@pytest.mark.parametrize("name", POSING)
def test_posing_names_are_reserved(name):
    assert is_reserved(name), skeleton(name)


@pytest.mark.parametrize("name", FINE)
def test_ordinary_names_are_not(name):
    assert not is_reserved(name), skeleton(name)


def test_the_systems_own_account_name_is_reserved():
    assert is_reserved(accounts.SYSTEM_ACCOUNT_NAME)


def test_no_company_poses_as_the_system(session, engine, make_player):
    """The issue's repro: a company named "Economy (system)" paid a victim a cent with a "security check"."""
    owner, _ = make_player("mallory")
    before = fingerprint(engine)
    for name in ("Economy (system)", "Ｅｃｏｎｏｍｙ (ｓｙｓｔｅｍ)", "Admin"):
        with pytest.raises(InvalidInput) as info:
            companies.create_company(session, owner_id=owner, name=name, ticker="EVIL")
        assert "reserved" in str(info.value)
    assert fingerprint(engine) == before
    view = companies.create_company(session, owner_id=owner, name="Honest Co", ticker="HON")
    with pytest.raises(InvalidInput):
        companies.update_company(session, actor_id=owner, company_id=view.id, name="Economy (System)")
    assert fingerprint(engine) != before and companies.get_company(session, view.id).name == "Honest Co"


def test_no_player_poses_as_the_system_or_staff(session, engine):
    before = fingerprint(engine)
    for username, display_name in (("admin", None), ("Admin_2", None), ("system", None), ("mallory", "Economy (system)"),
                                   ("mallory", "Ａｄｍｉｎ"), ("mallory", "Security check")):
        with pytest.raises(InvalidInput) as info:
            auth.signup(session, username, "correct horse", display_name=display_name)
        assert "reserved" in str(info.value)
    assert fingerprint(engine) == before
    # Operators still name their admins as they like (`economy seed` makes one called "admin").
    assert users.create_user(session, "admin", "correct horse", role="admin").username == "admin"

