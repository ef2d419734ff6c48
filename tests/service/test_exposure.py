"""Incident roles and shared exposure: roles stored as incident metadata, bad roles named,
figures decided at period end from incident records only (hand-worked values), the team-size
rule, the flag for two periods running, and pages that only read the records."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import inspect, select

from support import NOW, decide_periods
from support.exposure import AUG, JUL, incident, p, three_incidents
from surveys.errors import InvalidInput
from surveys.models import IncidentParticipant, Person, ReleaseRecord, Team
from surveys.services import admin, lifecycle, releases
from surveys.services import exposure as exposure_service


def test_roles_are_stored_as_incident_metadata(db, org, settings, box):
    result = incident(db, settings, box, "payments", NOW - timedelta(days=2),
                      [p(0), p(1), p(2)], roles={"Payments0@Example.org": "commander"})
    rows = {db.get(Person, r.person_id).email: r.role for r in db.scalars(
        select(IncidentParticipant).where(
            IncidentParticipant.incident_id == result.incident.id))}
    assert rows == {p(0): "commander", p(1): None, p(2): None}
    columns = {c["name"] for c in inspect(db.get_bind()).get_columns("incident_participant")}
    assert columns == {"incident_id", "person_id", "role"}


def test_bad_roles_are_named_each(db, org, settings, box):
    data = lifecycle.NewIncident(
        team="payments", title="T", kind="availability", severity="sev3",
        closed_at=NOW - timedelta(hours=1), participants=[p(0), p(1)],
        roles={p(0): "hero", "stranger@example.org": "commander", p(1): "author"})
    with pytest.raises(InvalidInput) as caught:
        lifecycle.intake_incident(db, data, settings, box, NOW)
    assert set(caught.value.fields) == {f"roles.{p(0)}", "roles.stranger@example.org"}
    assert "'hero' is not a role" in caught.value.fields[f"roles.{p(0)}"]
    assert "not a participant" in caught.value.fields["roles.stranger@example.org"]


def test_exposure_decided_at_period_end(db, org, settings, box):
    three_incidents(db, settings, box, JUL, (2, 3, 4))
    three_incidents(db, settings, box, AUG, (5, 6, 7))
    admin.add_team(db, "tiny", "Tiny")
    for i in range(3):
        admin.add_person(db, "tiny", f"Tiny {i}", f"tiny{i}@example.org")
    incident(db, settings, box, "tiny", AUG, ["tiny0@example.org", "tiny1@example.org"],
             roles={"tiny0@example.org": "commander"})
    decide_periods(db, settings, NOW)
    payments = db.scalar(select(Team).where(Team.slug == "payments"))
    tiny = db.scalar(select(Team).where(Team.slug == "tiny"))

    months = exposure_service.team_exposure(db, payments.id, "month")
    assert [r.period for r in months.rows] == ["2026-07", "2026-08"]
    july = months.rows[0]
    # 12 people; involvements p0 3, p1 3, three others 1 each: 9. The top fifth is 2.4
    # people: (3 + 3 + 0.4) / 9.
    assert july.pct("involved") == pytest.approx(100 * 5 / 12)
    assert july.pct("commander") == pytest.approx(100 * 1 / 12)
    assert july.pct("concentration") == pytest.approx(100 * 6.4 / 9)
    # the same in August: most involvements carried by a fifth two months running
    (flag,) = months.flags
    assert flag.kind == "exposure_concentration" and flag.period == "2026-08"
    assert "Rotate the incident commander role" in flag.next_step
    assert months.series[0].method == "change_since"
    assert months.series[0].change.change == pytest.approx(0.0)

    quarters = exposure_service.team_exposure(db, payments.id, "quarter")
    (q3,) = quarters.rows
    # p0 6, p1 6, six others 1 each: (6 + 6 + 0.4) / 18; one quarter: no flag yet
    assert q3.pct("involved") == pytest.approx(100 * 8 / 12)
    assert q3.pct("concentration") == pytest.approx(100 * 12.4 / 18)
    assert quarters.flags == ()

    small = exposure_service.team_exposure(db, tiny.id, "month")
    (row,) = small.rows
    assert not row.shown and row.short == "not enough people" and row.figure is None
    record = db.scalar(select(ReleaseRecord).where(
        ReleaseRecord.subject == releases.exposure_subject(tiny.id, "2026-08")))
    assert record.numbers is None and record.reason == "small_team"


def test_reading_never_decides(db, org, settings, box):
    three_incidents(db, settings, box, JUL, (2, 3, 4))
    payments = db.scalar(select(Team).where(Team.slug == "payments"))
    assert exposure_service.team_exposure(db, payments.id, "month").rows == ()
    decide_periods(db, settings, NOW)
    before = db.scalar(select(ReleaseRecord.id).order_by(ReleaseRecord.id.desc()).limit(1))
    exposure_service.team_exposure(db, payments.id, "month")
    decide_periods(db, settings, NOW)
    after = db.scalar(select(ReleaseRecord.id).order_by(ReleaseRecord.id.desc()).limit(1))
    assert before == after


def test_roles_recorded_after_intake(db, org, settings, box):
    result = incident(db, settings, box, "payments", NOW - timedelta(days=2), [p(0), p(1)])
    lifecycle.record_roles(db, result.incident.id, {p(1): "commander"})
    assert db.scalar(select(IncidentParticipant.role).where(
        IncidentParticipant.incident_id == result.incident.id,
        IncidentParticipant.person_id == db.scalar(select(Person.id).where(
            Person.email == p(1))))) == "commander"
    with pytest.raises(InvalidInput) as caught:
        lifecycle.record_roles(db, result.incident.id, {p(2): "commander", p(0): "chef"})
    assert set(caught.value.fields) == {f"roles.{p(2)}", f"roles.{p(0)}"}
