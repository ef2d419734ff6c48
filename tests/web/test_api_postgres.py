"""The API and the outbox on PostgreSQL: the paths whose SQL differs (row locks, FOR UPDATE
SKIP LOCKED with outer joins, FILTER aggregates, text that PostgreSQL refuses)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from support import NOW, SECRET, build_org
from support.api import Api, conforms, error_of, incident, make_key
from support.app import make_app
from surveys import db as dbmod
from surveys.mail import outbox
from surveys.mail.backends import FileBackend
from surveys.mail.render import render_email

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_app(postgres_url):
    app = make_app(postgres_url)
    with dbmod.session_scope(app) as session:
        build_org(session)
    yield app
    dbmod.get_engine(app).dispose()


def test_intake_repeat_close_results_and_periods(pg_app):
    api = Api(pg_app.test_client(), make_key(pg_app))
    first = api.post("/api/v1/incidents", incident(open_delay="24h"))
    assert first.status_code == 201 and first.json["survey"]["status"] == "scheduled"
    people = [f"payments{i}@example.org" for i in range(7)] + ["new@example.org"]
    again = api.post("/api/v1/incidents", incident(open_delay="24h", participants=people))
    assert again.status_code == 200
    assert [p["status"] for p in again.json["participants"]].count("invited") == 2
    fatigue = [api.post("/api/v1/incidents", incident(external_id=f"F{i}",
                                                      participants=["payments0@example.org"]))
               for i in range(2)]
    assert fatigue[1].json["participants"][0]["reason"] == "recently_surveyed"
    survey_id = fatigue[0].json["survey_id"]
    closed = api.post(f"/api/v1/surveys/{survey_id}/close")
    assert closed.status_code == 200
    conforms("Survey", closed.json)
    assert api.get(f"/api/v1/surveys/{survey_id}/results").json["reason"] == "no_responses"
    conforms("Periods", api.get("/api/v1/teams/payments/periods?grain=quarter").json)
    for bad in ({"external_id": "A\x00"}, {"participants": ["a\x00@example.org"]}):
        error_of(api.post("/api/v1/incidents", incident(**bad)), 422)
    assert error_of(api.get(f"/api/v1/surveys/{2**40}"), 404)["code"] == "not_found"


def test_signed_requests_and_replay(pg_app):
    created = make_key(pg_app, signing=True)
    api = Api(pg_app.test_client(), created)
    headers = api.headers("GET", "/api/v1/surveys/1", b"")
    client = pg_app.test_client()
    assert client.get("/api/v1/surveys/1", headers=headers).status_code == 404
    other_path = client.get("/api/v1/surveys/2", headers=headers)  # signed for another path
    assert error_of(other_path, 401)["code"] == "bad_signature"
    replay = client.get("/api/v1/surveys/1", headers=headers)
    assert "replayed" in error_of(replay, 401)["message"]


def test_outbox_flush_and_failures_on_postgres(pg_app, tmp_path):
    api = Api(pg_app.test_client(), make_key(pg_app))
    api.post("/api/v1/incidents", incident())
    backend = FileBackend(tmp_path, "aftercare@example.org")
    box = pg_app.extensions["aftercare.token_box"]
    with pg_app.app_context(), dbmod.session_scope(pg_app) as session:
        report = outbox.flush(session, backend, box, render_email, "https://a.example.org",
                              SECRET, NOW + timedelta(minutes=1), limit=4)
        assert (report.sent, report.handled) == (4, 4)
        report = outbox.flush(session, backend, box, render_email, "https://a.example.org",
                              SECRET, NOW + timedelta(minutes=1))
        assert report.sent == 2
        assert outbox.failures_by_survey(session) == []
    assert len(list(tmp_path.glob("*.eml"))) == 6
