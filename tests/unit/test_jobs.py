"""Slot claiming: one run per (job, slot), whoever asks."""

from __future__ import annotations

from datetime import datetime

from economy_app.services import jobs


def test_claim_slot_once(session):
    first = jobs.claim_slot(session, "marketplace", "2026-11-21T10:00:00")
    assert first is not None
    assert jobs.claim_slot(session, "marketplace", "2026-11-21T10:00:00") is None
    assert jobs.claim_slot(session, "prices", "2026-11-21T10:00:00") is not None
    jobs.finish_run(session, first, status="ok", summary="3 companies")
    runs = jobs.recent_runs(session, "marketplace")
    assert [(r["status"], r["summary"]) for r in runs] == [("ok", "3 companies")]
    assert runs[0]["finished_at"] is not None


def test_slot_for_windows():
    assert jobs.slot_for(datetime(2026, 11, 21, 10, 9, 59), 600) == "2026-11-21T10:00:00"
    assert jobs.slot_for(datetime(2026, 11, 21, 10, 10, 0), 600) == "2026-11-21T10:10:00"
