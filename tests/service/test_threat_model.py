"""Checks named in docs/threat-model.md that no other test file covers."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from support import NOW, answer, decide_periods, open_survey
from support.organisation import run_survey, uniform
from surveys.models import AuditEvent, OutboxMessage, ReleaseRecord
from surveys.services import periods


def _count(db, model) -> int:
    db.rollback()
    return db.scalar(select(func.count()).select_from(model))


def test_submitting_sends_nothing_and_audits_nothing(db, org, settings, box):
    """Notification emails: nothing is queued, logged or audited per submission."""
    survey, tokens = open_survey(db, settings, box, people=6)
    mail, events = _count(db, OutboxMessage), _count(db, AuditEvent)
    for token in tokens[:3]:
        answer(db, token)
    assert _count(db, OutboxMessage) == mail and _count(db, AuditEvent) == events


def test_release_records_hold_no_person_and_no_time():
    assert set(ReleaseRecord.__table__.columns.keys()) == {
        "id", "subject", "kind", "cells", "numbers", "allowed", "reason", "k"}


def test_a_period_that_can_still_grow_is_never_shown(db, org, settings, box):
    """Live counts across periods: the running month is neither decided nor shown until it
    has ended; then it is decided once by the tick and shown as decided."""
    run_survey(db, settings, box, team="payments", at=NOW - timedelta(days=12),
               rows=uniform(6))
    assert decide_periods(db, settings, NOW).periods == []  # November is still running
    current = {p.period: p for p in periods.team_periods_for_slug(
        db, "payments", "month", NOW, 5).periods}
    assert current["2026-11"].released is False
    assert current["2026-11"].reason == "period_not_over"
    later_now = NOW + timedelta(days=15)
    pending = {p.period: p for p in periods.team_periods_for_slug(
        db, "payments", "month", later_now, 5).periods}
    assert pending["2026-11"].reason == "pending"  # ended, not decided yet: still nothing
    assert "2026-11" in decide_periods(db, settings, later_now).periods
    later = {p.period: p for p in periods.team_periods_for_slug(
        db, "payments", "month", later_now, 5).periods}
    assert later["2026-11"].released is True and later["2026-11"].n == 6


def test_every_test_the_threat_model_names_exists():
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    text = (root / "docs" / "threat-model.md").read_text()
    missing, current = [], None
    for ref in re.findall(r"`((?:tests/[\w/]+\.py)?(?:::\w+)?)`", text):
        path, _, name = ref.partition("::")
        if path:
            current = root / path
            if not current.exists():
                missing.append(path)
                continue
        if name and (current is None or not re.search(
                rf"def {re.escape(name)}\b", current.read_text())):
            missing.append(f"{current}::{name}")
    assert not missing, missing
