"""AFTERCARE_RETENTION_DAYS: raw responses of long-closed surveys are deleted; the sealed
counts, the recorded release and every figure shown stay exactly as they were."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from support import ANSWERS, NOW, answer_and_close, open_survey
from surveys.models import ReleaseRecord, Response, SealedCount, Survey
from surveys.services import participant, results, retention
from surveys.tokens import hash_token

pytestmark = pytest.mark.usefixtures("org")


def answered_and_closed(db, settings, box, title, closed_at, people=6):
    return answer_and_close(db, settings, box, [ANSWERS] * people, close_at=closed_at,
                            people=people, title=title)


def shown(db, survey_id):
    survey = db.get(Survey, survey_id)
    found = results.survey_results(db, survey)
    return repr(found)


def count(db, model, survey_id):
    return db.scalar(select(func.count()).select_from(model).where(
        model.survey_id == survey_id))


def test_old_raw_responses_go_sealed_figures_stay(db, settings, box):
    old = answered_and_closed(db, settings, box, "Old outage", NOW - timedelta(days=200))
    recent = answered_and_closed(db, settings, box, "Recent outage", NOW - timedelta(days=20))
    before = {s.id: shown(db, s.id) for s in (old, recent)}
    sealed = {s.id: count(db, SealedCount, s.id) for s in (old, recent)}
    db.rollback()  # releases are recorded by a session of their own
    releases = db.scalar(select(func.count()).select_from(ReleaseRecord))
    assert count(db, Response, old.id) == 6 and releases >= 2

    assert retention.apply(db, None, NOW) == 0  # unset: nothing is deleted
    assert retention.apply(db, 90, NOW) == 6
    db.rollback()
    assert count(db, Response, old.id) == 0 and count(db, Response, recent.id) == 6
    assert {s.id: count(db, SealedCount, s.id) for s in (old, recent)} == sealed
    assert {s.id: shown(db, s.id) for s in (old, recent)} == before
    assert db.get(Survey, old.id).respondents == 6
    assert db.scalar(select(func.count()).select_from(ReleaseRecord)) == releases
    assert retention.apply(db, 90, NOW) == 0  # idempotent


def test_open_surveys_are_never_touched(db, settings, box):
    survey, tokens = open_survey(db, settings, box, people=5)
    participant.submit(db, hash_token(tokens[0]),
                       participant.parse_submission(ANSWERS, survey.practices))
    assert retention.apply(db, 1, NOW + timedelta(days=365)) == 0
    with pytest.raises(ValueError):
        retention.apply(db, 0, NOW)


def test_the_worker_applies_the_setting(tmp_path, box):
    from support import build_org
    from support.app import make_app
    from surveys import db as dbmod
    from surveys.mail import worker
    from surveys.mail.backends import FileBackend
    from surveys.mail.render import render_email

    app = make_app(f"sqlite:///{tmp_path / 'keep.db'}", AFTERCARE_RETENTION_DAYS="30")
    settings = app.extensions["aftercare.settings"]
    with dbmod.session_scope(app) as session:
        build_org(session)
        old = answered_and_closed(session, settings, box, "Old", NOW - timedelta(days=45))
    report = worker.one_pass(app, FileBackend(tmp_path / "mail", "a@example.org"),
                             render_email)
    assert report.deleted == 6
    with dbmod.session_scope(app) as session:
        assert count(session, Response, old.id) == 0
        assert count(session, SealedCount, old.id) > 0
    runner = app.test_cli_runner()
    assert "raw responses deleted" not in runner.invoke(args=["surveys", "tick"]).output
    dbmod.get_engine(app).dispose()
