"""Sign-up, login, sessions, logout and the failed-login throttle."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import event, select
from sqlmodel import Session

from economy_app import config
from economy_app.models import RateLimit, utcnow
from economy_app.services import accounts, auth, users
from economy_app.services.errors import (
    EconomyError,
    InvalidInput,
    LoginFailed,
    LoginThrottled,
    SignupLimited,
    UsernameTaken,
)
from tests.support.db import check_invariants, fingerprint
from tests.support.threads import in_thread, until_waiting_on_a_lock


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
    for username, password, error in (
        ("ALICE", "correct horse", UsernameTaken),
        ("x", "correct horse", InvalidInput),
        ("bob", "short", InvalidInput),
    ):
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
    later = utcnow() + timedelta(days=config.session_days(), seconds=1)
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


# --------------------------------------------------------------------------- abuse limits (issue 12)

ATTACKER, VICTIM_HOME = "203.0.113.66", "198.51.100.20"


def test_parallel_attempts_are_counted_before_the_slow_hash(engine, session, monkeypatch):
    """30 wrong passwords sent at once (30 tabs) against the real argon2 settings: each attempt is counted in
    one locked write before its hash, so only the first 5 are ever checked; the others are refused unhashed."""
    monkeypatch.delenv("ECONOMY_PASSWORD_PROFILE", raising=False)  # the production hash, ~0.1 s each
    assert users._hasher().memory_cost == 65536
    auth.signup(session, "victim", "correct horse")
    now = utcnow()  # the same instant for all: they arrive together
    barrier = threading.Barrier(30)

    def attempt(i: int) -> str:
        with Session(engine) as s:
            barrier.wait()
            try:
                auth.login(s, "victim", f"wrong guess {i}", now=now)
            except LoginFailed:
                return "failed"
            except LoginThrottled:
                return "throttled"
            return "logged in"

    with ThreadPoolExecutor(30) as pool:
        outcomes = Counter(pool.map(attempt, range(30)))
    assert outcomes == {"failed": auth.FREE_FAILURES, "throttled": 30 - auth.FREE_FAILURES}
    with pytest.raises(LoginThrottled):  # even the right password waits now
        auth.login(session, "victim", "correct horse", now=now)


def test_a_victim_is_not_locked_out_from_elsewhere(session, engine):
    """Failing a victim's username from one address throttles that address for that username, not the victim
    logging in from home; and one address failing many usernames is throttled on its own."""
    auth.signup(session, "victim", "correct horse")
    now = utcnow()
    for _ in range(auth.FREE_FAILURES):
        with pytest.raises(LoginFailed):
            auth.login(session, "victim", "let me in", client=ATTACKER, now=now)
    with pytest.raises(LoginThrottled):
        auth.login(session, "victim", "let me in", client=ATTACKER, now=now)
    assert auth.login(session, "victim", "correct horse", client=VICTIM_HOME, now=now).user.username == "victim"
    # The attacker spreads over usernames: the address as a whole is throttled after its allowance.
    spray = utcnow() + timedelta(hours=2)  # the pair's count above is forgotten by then
    for i in range(config.login_address_failures()):
        with pytest.raises(LoginFailed):
            auth.login(session, f"guess{i}", "let me in", client=ATTACKER, now=spray)
    with pytest.raises(LoginThrottled) as info:
        auth.login(session, "victim", "correct horse", client=ATTACKER, now=spray)
    assert "Try again in 1 second" in str(info.value)
    assert auth.login(session, "victim", "correct horse", client=VICTIM_HOME, now=spray).user.username == "victim"


def test_successful_logins_never_throttle_a_shared_address(session):
    """Players behind one address (an office, a school): each success takes its own attempt back."""
    auth.signup(session, "alice", "correct horse")
    now = utcnow()
    for _ in range(3 * config.login_address_failures()):
        auth.login(session, "alice", "correct horse", client=ATTACKER, now=now)


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_two_logins_of_one_player_from_one_address_at_once_never_deadlock(engine, session):
    """Attack finding 12 (PostgreSQL): ``_attempt`` locks the address's counter, then the (username, address)
    pair's; the success unit deleted the pair's row first and only then locked the address's. A second login
    holding the address's row and waiting for the pair's, against a first one holding the pair's and waiting
    for the address's: PostgreSQL killed one with DeadlockDetected, a server error in that tab."""
    auth.signup(session, "alice", "correct horse")
    role = threading.local()
    first_succeeds, second_holds_the_address = threading.Event(), threading.Event()
    outcomes: list[str] = []

    def choreography(conn, cursor, statement, parameters, context, executemany):
        who, text = getattr(role, "name", None), statement.lstrip()
        if who == "first" and text.startswith("DELETE FROM rate_limits") and not first_succeeds.is_set():
            first_succeeds.set()  # the password matched: the success unit is about to forget the pair's count...
            # ...once the second login holds the address's row (or waits for the first to let it go)
            until_waiting_on_a_lock(engine, second_holds_the_address.is_set)
        if who == "second" and text.startswith("INSERT INTO rate_limits") and "login:user:" in str(parameters):
            second_holds_the_address.set()

    def login(name: str):
        role.name = name
        with Session(engine) as s:
            try:
                auth.login(s, "alice", "correct horse", client=ATTACKER)
                outcomes.append("logged in")
            except EconomyError as e:
                outcomes.append(str(e))

    event.listen(engine, "before_cursor_execute", choreography)
    try:
        first = in_thread(login, "first")
        assert first_succeeds.wait(20)
        second = in_thread(login, "second")
        first.join(30)
        second.join(30)
    finally:
        event.remove(engine, "before_cursor_execute", choreography)
    crashed = [repr(e) for t in (first, second) for e in t.errors]
    assert crashed == [], f"a login crashed: {crashed}"
    assert outcomes == ["logged in", "logged in"]
    with Session(engine) as s:  # both successes took their attempts back: the address counts nothing
        rows = s.execute(select(RateLimit.key, RateLimit.count).where(RateLimit.key.like("login:%"))).all()
    assert {key: count for key, count in rows if count} == {}


def test_impossible_usernames_fail_without_counting(session, engine):
    auth.signup(session, "alice", "correct horse")
    before = fingerprint(engine)
    for username, password in (
        ("", "x"),
        ("a" * 10_000, "correct horse"),
        ("alice", ""),
        ("alice", "x" * 10_000),
        ("١٢٣", "correct horse"),
        (None, "x"),
        ("alice", 12345678),
    ):
        with pytest.raises(LoginFailed):
            auth.login(session, username, password, client=ATTACKER)
    assert fingerprint(engine) == before


def test_signups_are_limited_per_client_address(session, engine, monkeypatch):
    """The issue's farm: scripted sign-ups, each funded by the mint. Three per address a day, then a clear no."""
    monkeypatch.setenv("ECONOMY_SIGNUPS_PER_ADDRESS", "3")
    now = utcnow()
    for i in range(3):
        auth.signup(session, f"farm{i}", "correct horse", client=ATTACKER, now=now)
    before = fingerprint(engine)
    with pytest.raises(SignupLimited) as info:
        auth.signup(session, "farm3", "correct horse", client=ATTACKER, now=now)
    assert "at most 3 sign-ups per address every 24 hours" in str(info.value)
    assert fingerprint(engine) == before
    auth.signup(session, "neighbour", "correct horse", client=VICTIM_HOME, now=now)  # another address
    # One IPv6 subscriber (a /56) is one address; IPv4 mapped into IPv6 is the IPv4 address.
    for i in range(3):
        auth.signup(session, f"six{i}", "correct horse", client=f"2001:db8:1:2::{i + 1}", now=now)
    with pytest.raises(SignupLimited):
        auth.signup(session, "six3", "correct horse", client="2001:db8:1:2:ffff::9", now=now)
    with pytest.raises(SignupLimited):
        auth.signup(session, "mapped", "correct horse", client=f"::ffff:{ATTACKER}", now=now)
    # A refused sign-up (a taken name) does not use up the address's allowance; a day later it starts again.
    with pytest.raises(UsernameTaken):
        auth.signup(session, "farm0", "correct horse", client="192.0.2.1", now=now)
    for i in range(3):
        auth.signup(session, f"other{i}", "correct horse", client="192.0.2.1", now=now)
    auth.signup(session, "farm3", "correct horse", client=ATTACKER, now=now + timedelta(hours=24, seconds=1))
    check_invariants(engine)


def test_one_subscribers_prefix_gets_the_sign_ups_of_one_address(session, engine, monkeypatch):
    """Attack finding 7: sign-ups counted an IPv6 address by its /64, one LAN; a subscriber is delegated a /56
    (256 /64s) or a /48 (65,536), each /64 good for 3 sign-ups a day at $10,000 each from the mint: $7.68M a
    day from one home line. Now a /56 is one address, and a /48 allows 4 times that."""
    monkeypatch.setenv("ECONOMY_SIGNUPS_PER_ADDRESS", "3")
    now = utcnow()
    created, refused = 0, []
    for lan in range(1, 9):  # 8 of the 256 LANs of one subscriber's 2001:db8:0:1200::/56
        try:
            auth.signup(session, f"farm{lan}", "correct horse", client=f"2001:db8:0:12{lan:02x}::1", now=now)
            created += 1
        except SignupLimited as e:
            refused.append(str(e))
    assert created == 3, f"{created} players signed up from one /56 ({created * 10_000:,} dollars from the mint)"
    assert set(refused) == {
        "Too many new players from your network: at most 3 sign-ups per address every 24 hours. Try again later."
    }
    # The other /56s of the same /48 get theirs, until the /48 as a whole has had 4 x 3.
    before = None
    for subscriber in range(0x13, 0x20):
        for i in range(3):
            try:
                auth.signup(
                    session,
                    f"site{subscriber:x}{i}",
                    "correct horse",
                    client=f"2001:db8:0:{subscriber:x}00::{i + 1}",
                    now=now,
                )
                created += 1
            except SignupLimited as e:
                assert str(e) == (
                    "Too many new players from your network: at most 12 sign-ups per network every 24 "
                    "hours. Try again later."
                )
                before = before or fingerprint(engine)
    assert created == 12 and before == fingerprint(engine)
    # Another /48 is another subscriber; IPv4 is counted as it was.
    auth.signup(session, "elsewhere", "correct horse", client="2001:db8:1::1", now=now)
    auth.signup(session, "ipv4", "correct horse", client="192.0.2.7", now=now)
    check_invariants(engine)


def test_the_login_throttle_counts_an_ipv6_subscriber_by_its_prefix(session):
    """The login throttle had the same shape: 20 failures per /64 an hour, 5 million guesses an hour from a /48."""
    auth.signup(session, "victim", "correct horse")
    now = utcnow()
    for lan in range(config.login_address_failures()):  # one failure from each of 20 LANs of one /56
        with pytest.raises(LoginFailed):
            auth.login(session, f"guess{lan}", "let me in", client=f"2001:db8:0:12{lan:02x}::1", now=now)
    with pytest.raises(LoginThrottled):  # the 21st LAN of the same /56 waits
        auth.login(session, "guess", "let me in", client="2001:db8:0:12ff::1", now=now)
    # Another /56 of the same /48 has its own 20; the /48 as a whole stops at 4 x 20.
    failures = 0
    for subscriber in range(0x13, 0x20):
        for i in range(config.login_address_failures()):
            try:
                auth.login(
                    session, f"spray{subscriber:x}{i}", "let me in", client=f"2001:db8:0:{subscriber:x}00::1", now=now
                )
            except LoginFailed:
                failures += 1
            except LoginThrottled:
                break
    assert failures == 3 * config.login_address_failures()
    # The victim, from elsewhere, is not held up.
    assert auth.login(session, "victim", "correct horse", client="2001:db8:1::1", now=now).user.username == "victim"


def test_parallel_signups_from_one_address_stop_at_the_limit(engine, monkeypatch):
    monkeypatch.setenv("ECONOMY_SIGNUPS_PER_ADDRESS", "3")
    barrier = threading.Barrier(10)

    def attempt(i: int) -> str:
        with Session(engine) as s:
            barrier.wait()
            try:
                auth.signup(s, f"bot{i}", "correct horse", client=ATTACKER)
            except SignupLimited:
                return "refused"
            return "created"

    with ThreadPoolExecutor(10) as pool:
        outcomes = Counter(pool.map(attempt, range(10)))
    assert outcomes == {"created": 3, "refused": 7}
    check_invariants(engine)
