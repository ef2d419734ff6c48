"""The demo's story for roles and exposure, the two-track review and actions: loaded through
the real services, it shows each of them."""

from __future__ import annotations

from sqlalchemy import select

from surveys.models import Action, IncidentParticipant, ReleaseRecord, Team
from surveys.services import actions, overview
from surveys.services import exposure as exposure_service


def test_demo_tells_the_story(runner, db):
    result = runner.invoke(args=["demo", "--no-mail"])
    assert result.exit_code == 0, result.output
    assert db.scalar(select(IncidentParticipant.role).where(
        IncidentParticipant.role == "commander").limit(1)) == "commander"
    payments = db.scalar(select(Team).where(Team.slug == "payments"))
    months = exposure_service.team_exposure(db, payments.id, "month")
    assert [f.kind for f in months.flags] == ["exposure_concentration"]
    quarter = overview.overview(db, k=5)
    assert quarter.two_track is not None and quarter.two_track["clear"]
    rows = db.scalars(select(Action).order_by(Action.id)).all()
    assert {r.status for r in rows} >= {"open", "done"}
    assert all(r.owner.startswith(("role:", "team:")) for r in rows)
    done = next(r for r in rows if r.status == "done")
    assert done.done_on <= done.due_on
    (view,) = [v for v in actions.team_actions(db, payments.id, done.recorded_at.replace(
        year=done.recorded_at.year + 1)) if v.id == done.id]
    # both quarters ended and decided: a change in points, or "not enough people"
    assert view.change.points is not None or view.change.words == "not enough people"
    # every demo team has at least k people: no exposure record is held back
    assert db.scalar(select(ReleaseRecord.id).where(
        ReleaseRecord.subject.like("exposure:%"), ReleaseRecord.allowed.is_(False))) is None
