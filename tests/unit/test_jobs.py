"""Slot claiming: one run per (job, slot), whoever asks."""

from __future__ import annotations

from datetime import datetime

from economy_app.services import schedule


def test_claim_slot_once(session):
    first = schedule.claim_slot(session, "marketplace", "2026-11-21T10:00:00")
    assert first is not None
    assert schedule.claim_slot(session, "marketplace", "2026-11-21T10:00:00") is None
    assert schedule.claim_slot(session, "prices", "2026-11-21T10:00:00") is not None
    schedule.finish_run(session, first, status="ok", summary="3 companies")
    runs = schedule.recent_runs(session, "marketplace")
    assert [(r["status"], r["summary"]) for r in runs] == [("ok", "3 companies")]
    assert runs[0]["finished_at"] is not None


def test_slot_for_windows():
    assert schedule.slot_for(datetime(2026, 11, 21, 10, 9, 59), 600) == "2026-11-21T10:00:00"
    assert schedule.slot_for(datetime(2026, 11, 21, 10, 10, 0), 600) == "2026-11-21T10:10:00"


def test_next_run_is_the_start_of_the_next_slot_for_windows():
    """next_run_at and slot_for share one arithmetic (schedule.slot_start): the next run starts the next slot."""
    at = datetime(2026, 11, 21, 10, 9, 59)
    assert schedule.next_run_at(600, at) == datetime(2026, 11, 21, 10, 10)
    assert schedule.slot_for(schedule.next_run_at(600, at), 600) == "2026-11-21T10:10:00"


def test_expired_sessions_are_purged_by_a_scheduled_job(session):
    """Expired sessions no longer pile up: the daily "Expired sessions clean-up" job deletes them (and only
    them), one run per slot like every job."""
    from datetime import timedelta

    from sqlalchemy import func, select

    from economy_app import config
    from economy_app.models import AuthSession, utcnow
    from economy_app.services import auth

    old = auth.signup(session, "alice", "correct horse")
    later = utcnow() + timedelta(days=config.session_days(), seconds=1)
    fresh = auth.login(session, "alice", "correct horse", now=later - timedelta(days=1))
    tick = schedule.run_job(session, schedule.SESSION_PURGE, later)
    assert tick.ran and tick.summary == "1 expired sessions deleted"
    assert auth.resolve(session, fresh.token, now=later) is not None and auth.resolve(session, old.token) is None
    assert session.execute(select(func.count()).select_from(AuthSession)).scalar_one() == 1
    assert not schedule.run_job(session, schedule.SESSION_PURGE, later).ran  # the slot is taken
