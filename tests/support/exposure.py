"""Incidents with participants' roles, closed through the real services, for the exposure
and actions tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from surveys.services import lifecycle

JUL = datetime(2026, 7, 6, 9, 0, tzinfo=UTC)
AUG = datetime(2026, 8, 3, 9, 0, tzinfo=UTC)


def incident(db, settings, box, team, at, people, roles=None, title="Incident",
             kind="availability"):
    """An incident closing at ``at`` whose survey opens at once and closes a day later."""
    data = lifecycle.NewIncident(team=team, title=title, kind=kind, severity="sev3",
                                 closed_at=at, participants=people, roles=roles,
                                 open_delay=timedelta(0), duration=timedelta(days=1))
    result = lifecycle.intake_incident(db, data, settings, box, at)
    lifecycle.close_survey(db, result.survey.id, result.survey.closes_at)
    return result


def p(i: int) -> str:
    return f"payments{i}@example.org"


def three_incidents(db, settings, box, at, others):
    """p0 (commander each time) and p1 on three incidents, each with one other person."""
    for day, other in enumerate(others):
        incident(db, settings, box, "payments", at + timedelta(days=day),
                 [p(0), p(1), p(other)], roles={p(0): "commander", p(1): "responder"},
                 title=f"Incident {at:%m}-{day}")


def concentrated_summer(db, settings, box):
    """July and August with most involvements carried by two of Payments' twelve."""
    three_incidents(db, settings, box, JUL, (2, 3, 4))
    three_incidents(db, settings, box, AUG, (5, 6, 7))
