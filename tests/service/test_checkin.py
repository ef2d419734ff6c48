"""The confidential check-in: stored apart, sent in one batch after close, seen as existence."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from sqlalchemy import inspect, select

from support import (
    AFTER_Q4,
    ANSWERS,
    NOW,
    SECRET,
    Manager,
    Participant,
    build_org,
    decide_periods,
    open_survey,
)
from support.app import make_app
from surveys import db as dbmod
from surveys.errors import Conflict, InvalidInput, SurveyNotOpen
from surveys.mail.backends import MailBackend, Outcome, Status
from surveys.models import CheckinRequest
from surveys.services import checkin, lifecycle

SUPPORT = "care@example.org"


class Recorder(MailBackend):
    """A mail backend that keeps what it was given; ``fail`` makes the next batch fail."""

    def __init__(self) -> None:
        super().__init__("aftercare@example.org")
        self.batches: list[list] = []
        self.fail = False

    def send_batch(self, mails):
        self.batches.append(list(mails))
        status = Status.TEMPORARY if self.fail else Status.SENT
        return [Outcome(m.message_id, status) for m in mails]


@pytest.fixture
def app(sqlite_url):
    app = make_app(sqlite_url, AFTERCARE_SUPPORT_CONTACT=SUPPORT)
    yield app
    dbmod.get_engine(app).dispose()


@pytest.fixture
def contact_box():
    return checkin.ContactBox(SECRET)


def _csrf(client) -> str:
    from support import csrf_from

    return csrf_from(client.get("/s/thanks").text)


def _ask(client, contact="ana@example.org, +44 20 7946 0000", token=None):
    return client.post("/s/checkin", data={"csrf_token": token or _csrf(client),
                                           "contact": contact, "choice": "yes"})


def test_the_page_says_what_happens_before_they_choose(client, org, db, settings, box):
    survey, tokens = open_survey(db, settings, box)
    Participant(client).answer(tokens[0])
    page = client.get("/s/thanks").text
    assert "not anonymous" in page and SUPPORT in page
    assert "when the survey" in page and "closes" in page and "not now" in page
    assert "never who" in page and "stored apart from your answers" in page


def test_request_is_stored_apart_encrypted_and_once(client, org, db, settings, box,
                                                    contact_box, sqlite_url):
    survey, tokens = open_survey(db, settings, box)
    Participant(client).answer(tokens[0])
    token = _csrf(client)
    assert _ask(client, token=token).status_code == 200
    db.rollback()  # end the test session's read snapshot
    rows = list(db.scalars(select(CheckinRequest)))
    assert len(rows) == 1 and rows[0].survey_id == survey.id
    assert contact_box.open(rows[0].contact_cipher) == "ana@example.org, +44 20 7946 0000"
    columns = {c["name"] for c in inspect(db.get_bind()).get_columns("checkin_request")}
    assert columns == {"id", "survey_id", "nonce_hash", "contact_cipher", "delivered"}
    db_file = Path(sqlite_url.removeprefix("sqlite:///"))
    raw = b"".join(p.read_bytes() for p in db_file.parent.glob(db_file.name + "*"))
    assert b"ana@example.org" not in raw  # never in clear, not even in the WAL
    # the nonce was one-time: asking again from the same session is refused
    again = _ask(client, token=token)
    assert again.status_code == 404
    db.rollback()
    assert len(list(db.scalars(select(CheckinRequest)))) == 1


def test_only_someone_who_answered_can_ask(client, org, db, settings, box):
    open_survey(db, settings, box)
    from support import csrf_from

    token = csrf_from(client.get("/login").text)
    assert _ask(client, token=token).status_code == 404
    db.rollback()
    assert db.scalar(select(CheckinRequest.id)) is None


def test_a_replayed_nonce_is_refused(db, org, settings, box, contact_box):
    survey, _tokens = open_survey(db, settings, box)
    nonce = checkin.new_nonce()
    support = dataclasses.replace(settings, support_contact=SUPPORT)
    checkin.request_checkin(db, contact_box, support, survey.id, nonce, "me@example.org")
    with pytest.raises(Conflict):
        checkin.request_checkin(db, contact_box, support, survey.id, nonce, "me@example.org")
    with pytest.raises(InvalidInput) as bad:
        checkin.request_checkin(db, contact_box, support, survey.id, checkin.new_nonce(), " ")
    assert "contact" in bad.value.fields
    lifecycle.close_survey(db, survey.id, NOW)
    with pytest.raises(SurveyNotOpen):
        checkin.request_checkin(db, contact_box, support, survey.id, checkin.new_nonce(),
                                "late@example.org")


def test_delivered_only_after_close_in_one_batch(client, org, db, settings, box, contact_box):
    survey, tokens = open_survey(db, settings, box)
    for i, token in enumerate(tokens[:3]):
        Participant(client).answer(token)
        assert _ask(client, f"person{i}@example.org").status_code == 200
    db.rollback()
    backend = Recorder()
    report = checkin.send_due(db, backend, contact_box, settings, SECRET, NOW)
    assert report.batches == 0 and backend.batches == []  # still open: nothing goes out
    lifecycle.close_survey(db, survey.id, NOW)
    backend.fail = True
    checkin.send_due(db, backend, contact_box, settings, SECRET, NOW)
    assert db.scalar(select(CheckinRequest.contact_cipher).limit(1)) is not None  # kept
    backend.fail = False
    report = checkin.send_due(db, backend, contact_box, settings, SECRET, NOW)
    assert report.batches == 1 and report.requests == 3
    mail = backend.batches[-1]
    assert len(mail) == 1 and mail[0].to == SUPPORT
    assert all(f"person{i}@example.org" in mail[0].text for i in range(3))
    assert "Queue stalled" in mail[0].text
    rows = list(db.scalars(select(CheckinRequest)))
    assert all(r.delivered and r.contact_cipher is None for r in rows)
    assert checkin.send_due(db, backend, contact_box, settings, SECRET, NOW).batches == 0


def test_outbox_flush_delivers_checkins_of_closed_surveys(client, runner, org, db, settings,
                                                          box, tmp_path, app):
    app.config["AFTERCARE_MAIL"] = f"file://{tmp_path}"
    app.extensions["aftercare.settings"] = dataclasses.replace(
        settings, mail_url=f"file://{tmp_path}")
    survey, tokens = open_survey(db, settings, box)
    Participant(client).answer(tokens[0])
    _ask(client, "flush@example.org")
    lifecycle.close_survey(db, survey.id, NOW)
    result = runner.invoke(args=["outbox", "flush"])
    assert result.exit_code == 0, result.output
    sent = [p.read_text() for p in tmp_path.glob("*.eml")]
    assert any("flush@example.org" in body and SUPPORT in body for body in sent)


def test_manager_sees_only_that_a_request_exists_for_the_teams_ended_period(
        client, org, db, settings, box, app):
    survey, tokens = open_survey(db, settings, box, people=8)
    for i, token in enumerate(tokens[:6]):
        Participant(client).answer(token, **{k: v for k, v in ANSWERS.items()})
        if i < 2:
            _ask(client, f"secret{i}@example.org")
    lifecycle.close_survey(db, survey.id, NOW)
    decide_periods(db, settings)
    app.config["AFTERCARE_NOW"] = AFTER_Q4
    Manager(client).login("manager@example.org")
    # Never per incident: with a handful of participants that would point at someone.
    incident = client.get(f"/incidents/{survey.incident_id}").text
    assert "check-in" not in incident
    team = client.get("/teams/payments").text
    assert "Someone asked for a confidential check-in after an incident of Payments, " \
        "2026 Q4" in team
    for page in (incident, team):
        assert "secret0" not in page and "secret1" not in page
        assert "2 people" not in page and "2 requests" not in page


def test_no_notice_when_the_period_invited_fewer_than_k(client, org, db, settings, box, app):
    survey, tokens = open_survey(db, settings, box, people=4)
    Participant(client).answer(tokens[0])
    _ask(client, "alone@example.org")
    lifecycle.close_survey(db, survey.id, NOW)
    decide_periods(db, settings)
    app.config["AFTERCARE_NOW"] = AFTER_Q4
    Manager(client).login("manager@example.org")
    assert "check-in" not in client.get("/teams/payments").text


def test_no_support_contact_means_no_form(sqlite_url, tmp_path):
    app = make_app(f"sqlite:///{tmp_path / 'plain.db'}")
    client = app.test_client()
    with dbmod.session_scope(app) as db:
        build_org(db)
        settings = app.extensions["aftercare.settings"]
        from support import SECRET as secret
        from surveys.tokens import TokenBox

        _survey, tokens = open_survey(db, settings, TokenBox(secret))
    Participant(client).answer(tokens[0])
    assert "Would you like to talk" not in client.get("/s/thanks").text
    dbmod.get_engine(app).dispose()


def test_the_worker_delivers_checkins_too(client, org, db, settings, box, tmp_path, app):
    """The long-running worker sends by the same path as `outbox flush`."""
    from surveys.mail import worker
    from surveys.mail.backends import FileBackend
    from surveys.mail.render import render_email

    survey, tokens = open_survey(db, settings, box)
    Participant(client).answer(tokens[0])
    _ask(client, "worker@example.org")
    lifecycle.close_survey(db, survey.id, NOW)
    db.rollback()
    worker.one_pass(app, FileBackend(tmp_path, "aftercare@example.org"), render_email)
    sent = [p.read_text() for p in tmp_path.glob("*.eml")]
    assert any("worker@example.org" in body and SUPPORT in body for body in sent)
