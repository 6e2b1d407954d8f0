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
