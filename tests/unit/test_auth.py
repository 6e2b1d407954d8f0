"""Sign-up, login, sessions, logout and the failed-login throttle."""

from __future__ import annotations

from datetime import timedelta

import pytest

from economy_app.models import utcnow
from economy_app.services import accounts, auth
from economy_app.services.errors import InvalidInput, LoginFailed, LoginThrottled, UsernameTaken
from tests.support.db import check_invariants, fingerprint


def test_signup_logs_in_and_funds_the_account(session, engine):
    result = auth.signup(session, "alice", "correct horse")
    assert result.user.username == "alice" and len(result.token) >= 40
    assert auth.resolve(session, result.token) == result.user
    views = accounts.list_accounts(session, result.user.id)
    assert [(v.kind, v.balance) for v in views] == [("personal", 1_000_000)]
    check_invariants(engine)


def test_signup_refusals_change_nothing(session, engine):
    auth.signup(session, "alice", "correct horse")
    before = fingerprint(engine)
    for username, password, error in (("ALICE", "correct horse", UsernameTaken), ("x", "correct horse", InvalidInput),
                                      ("bob", "short", InvalidInput)):
        with pytest.raises(error):
            auth.signup(session, username, password)
        assert fingerprint(engine) == before


def test_login_sessions_survive_and_logout_ends_them(session):
    auth.signup(session, "alice", "correct horse")
    first = auth.login(session, "Alice", "correct horse")
    second = auth.login(session, "alice", "correct horse")  # another browser
    assert first.token != second.token
    assert auth.resolve(session, first.token).username == "alice"
    auth.logout(session, first.token)
    assert auth.resolve(session, first.token) is None  # everywhere that token was used
    assert auth.resolve(session, second.token) is not None  # the other browser stays in
    assert auth.resolve(session, None) is None and auth.resolve(session, "forged") is None


def test_sessions_expire(session):
    result = auth.signup(session, "alice", "correct horse")
    later = utcnow() + timedelta(days=auth.session_days(), seconds=1)
    assert auth.resolve(session, result.token, now=later) is None
    assert auth.purge_expired(session, now=later) == 1


def test_failed_logins_share_one_message(session):
    auth.signup(session, "alice", "correct horse")
    messages = set()
    for username, password in (("alice", "wrong password"), ("nobody", "correct horse")):
        with pytest.raises(LoginFailed) as info:
            auth.login(session, username, password)
        messages.add(str(info.value))
    assert messages == {"Invalid username or password."}


def test_repeated_failures_are_slowed_down(session):
    auth.signup(session, "alice", "correct horse")
    now = utcnow()
    for _ in range(auth.FREE_FAILURES - 1):
        with pytest.raises(LoginFailed):
            auth.login(session, "alice", "nope nope", now=now)
    with pytest.raises(LoginFailed):  # the fifth failure starts the wait
        auth.login(session, "alice", "nope nope", now=now)
    with pytest.raises(LoginThrottled) as info:  # even the right password must wait
        auth.login(session, "ALICE", "correct horse", now=now)
    assert "Try again in 1 second" in str(info.value)
    later = now + timedelta(seconds=2)
    with pytest.raises(LoginFailed):  # sixth failure: now two seconds
        auth.login(session, "alice", "nope nope", now=later)
    with pytest.raises(LoginThrottled) as info:
        auth.login(session, "alice", "correct horse", now=later + timedelta(milliseconds=500))
    assert "2 seconds" in str(info.value)
    ok = auth.login(session, "alice", "correct horse", now=later + timedelta(seconds=3))
    assert ok.user.username == "alice"
    with pytest.raises(LoginFailed):  # success cleared the count: back to free failures
        auth.login(session, "alice", "nope nope", now=later + timedelta(seconds=3))
