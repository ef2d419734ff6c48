"""POST /api/v1/incidents: contract, idempotency, late participants, fatigue, bad input."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from support import NOW
from support.api import Api, conforms, error_of, incident, make_key
from surveys.models import Ballot, Incident, Invitation, OutboxMessage, Person, Survey

pytestmark = pytest.mark.usefixtures("org")


@pytest.fixture
def api(app, client):
    return Api(client, make_key(app))


def count(db, model, *where) -> int:
    db.rollback()
    return db.scalar(select(func.count()).select_from(model).where(*where))


def test_create_returns_201_with_ids_survey_and_outcomes(api, db):
    response = api.post("/api/v1/incidents", incident())
    assert response.status_code == 201
    body = response.json
    conforms("IncidentResult", body)
    assert body["created"] is True
    assert body["survey"]["id"] == body["survey_id"]
    assert body["survey"]["incident_id"] == body["incident_id"]
    assert body["survey"]["status"] == "open"  # the test app opens at once (delay 0)
    assert body["survey"]["invited"] == 6 and body["survey"]["min_group"] == 5
    assert body["survey"]["minimum_reached"] is False and body["survey"]["responses"] is None
    assert [p["status"] for p in body["participants"]] == ["invited"] * 6
    assert not any(p["added_to_roster"] for p in body["participants"])  # all on the roster
    assert count(db, Ballot) == 6 and count(db, OutboxMessage) == 6


def test_an_address_on_no_roster_is_added_and_said_so(api, db):
    people = [f"payments{i}@example.org" for i in range(5)] + ["newcomer@example.org"]
    body = api.post("/api/v1/incidents", incident(participants=people)).json
    added = [p["email"] for p in body["participants"] if p["added_to_roster"]]
    assert added == ["newcomer@example.org"]
    again = api.post("/api/v1/incidents", incident(participants=people)).json
    assert not any(p["added_to_roster"] for p in again["participants"])  # said once


def test_repeat_returns_200_same_ids_and_invites_nobody_twice(api, db):
    first = api.post("/api/v1/incidents", incident(open_delay="24h")).json
    again = api.post("/api/v1/incidents", incident(open_delay="24h"))
    assert again.status_code == 200
    conforms("IncidentResult", again.json)
    assert again.json["created"] is False
    assert (again.json["incident_id"], again.json["survey_id"]) == (
        first["incident_id"], first["survey_id"])
    assert {p["status"] for p in again.json["participants"]} == {"already_invited"}
    assert count(db, Incident) == 1 and count(db, Invitation) == 6


def test_repeat_before_opening_invites_only_the_new_participants(api, db):
    api.post("/api/v1/incidents", incident(open_delay="24h"))
    people = [f"payments{i}@example.org" for i in range(8)]
    again = api.post("/api/v1/incidents", incident(open_delay="24h", participants=people)).json
    statuses = {p["email"]: p["status"] for p in again["participants"]}
    assert statuses["payments7@example.org"] == "invited"
    assert statuses["payments0@example.org"] == "already_invited"
    assert again["survey"]["status"] == "scheduled" and again["survey"]["invited"] == 8
    assert count(db, Invitation) == 8 and count(db, Ballot) == 0  # ballots come at open


def test_late_participants_of_an_open_survey_are_not_invited_and_told_why(api, db):
    api.post("/api/v1/incidents", incident())
    people = [f"payments{i}@example.org" for i in range(6)] + ["late@example.org"]
    again = api.post("/api/v1/incidents", incident(participants=people)).json
    late = [p for p in again["participants"] if p["email"] == "late@example.org"]
    assert late == [{"email": "late@example.org", "status": "not_invited",
                     "reason": "survey_open", "added_to_roster": True}]
    # no lone invitation, no lone ballot: the batch created at open is untouched
    assert count(db, Invitation) == 6 and count(db, Ballot) == 6
    assert again["survey"]["invited"] == 6


def test_repeat_after_close_invites_nobody(api, db):
    created = api.post("/api/v1/incidents", incident()).json
    api.post(f"/api/v1/surveys/{created['survey_id']}/close")
    again = api.post("/api/v1/incidents",
                     incident(participants=["new@example.org"])).json
    assert again["participants"] == [{"email": "new@example.org", "status": "not_invited",
                                      "reason": "survey_closed", "added_to_roster": True}]
    assert count(db, Invitation) == 6


def test_same_external_id_for_another_team_is_a_conflict(api, db):
    api.post("/api/v1/incidents", incident())
    error = error_of(api.post("/api/v1/incidents", incident(team="platform")), 409)
    assert "external_id" in error["fields"]
    assert count(db, Incident) == 1


def test_open_delay_and_duration_are_overridable_per_request(api, app):
    body = api.post("/api/v1/incidents", incident(open_delay="2h", duration="3d",
                                                  closed_at="2026-11-20T11:00:00Z")).json
    survey = body["survey"]
    assert survey["status"] == "scheduled"
    assert survey["opens_at"] == "2026-11-20T13:00:00Z"
    assert survey["closes_at"] == "2026-11-23T13:00:00Z"
    # half-time is Sunday 2026-11-22 01:00 UTC: the reminder moves to Monday, before close
    assert survey["remind_at"] == "2026-11-23T01:00:00Z"


def test_configured_delay_is_the_default(client, sqlite_url):
    from support.app import make_app

    # same database file as the org fixture's: the organisation is there already
    app = make_app(sqlite_url, AFTERCARE_OPEN_DELAY="24h", AFTERCARE_SURVEY_DURATION="5d")
    api = Api(app.test_client(), make_key(app))
    survey = api.post("/api/v1/incidents",
                      incident(closed_at="2026-11-20T10:00:00Z")).json["survey"]
    assert survey["opens_at"] == "2026-11-21T10:00:00Z"
    assert survey["closes_at"] == "2026-11-26T10:00:00Z"


def test_survey_fatigue_counts_invitations_in_the_window(api, db):
    for i in range(2):
        api.post("/api/v1/incidents", incident(external_id=f"INC-{i}",
                                               participants=["payments0@example.org",
                                                             f"payments{i + 1}@example.org"]))
    third = api.post("/api/v1/incidents", incident(
        external_id="INC-3", participants=["payments0@example.org", "payments5@example.org"]
    )).json
    outcome = {p["email"]: (p["status"], p["reason"]) for p in third["participants"]}
    assert outcome["payments0@example.org"] == ("not_invited", "recently_surveyed")
    assert outcome["payments5@example.org"] == ("invited", None)


def test_fatigue_window_and_limit_are_configurable(sqlite_url):
    from support.app import make_app

    app = make_app(sqlite_url, AFTERCARE_SURVEY_LIMIT="1", AFTERCARE_SURVEY_LIMIT_WINDOW="7d")
    api = Api(app.test_client(), make_key(app))
    person = ["payments0@example.org"]
    api.post("/api/v1/incidents", incident(external_id="A", participants=person))
    second = api.post("/api/v1/incidents", incident(external_id="B", participants=person)).json
    assert second["participants"][0]["reason"] == "recently_surveyed"
    later = api.post("/api/v1/incidents", incident(
        external_id="C", participants=person, open_delay="8d",
        closed_at="2026-11-20T11:00:00Z")).json
    assert later["participants"][0]["status"] == "invited"


def test_opted_out_people_are_not_invited(api, db):
    person = db.scalar(select(Person).where(Person.email == "payments0@example.org"))
    person.opted_out = True
    db.commit()
    body = api.post("/api/v1/incidents", incident()).json
    assert body["participants"][0] == {"email": "payments0@example.org",
                                       "status": "not_invited", "reason": "opted_out",
                                       "added_to_roster": False}
    assert body["survey"]["invited"] == 5


# --- bad input: a 4xx JSON error naming the problem, nothing stored --------------------------


def assert_nothing_stored(db) -> None:
    assert count(db, Incident) == 0 and count(db, Survey) == 0 and count(db, Invitation) == 0


@pytest.mark.parametrize("overrides, fields", [
    ({"team": "nope"}, {"team"}),
    ({"participants": ["not-an-email", "a@example.org", "A@example.org"]},
     {"participants[0]", "participants[2]"}),
    ({"participants": []}, {"participants"}),
    ({"participants": "a@example.org"}, {"participants"}),
    ({"participants": [1, None]}, {"participants[0]", "participants[1]"}),
    ({"title": 42, "kind": "outage", "severity": 1}, {"title", "kind", "severity"}),
    ({"closed_at": "yesterday"}, {"closed_at"}),
    ({"closed_at": "2026-11-20T10:00:00"}, {"closed_at"}),
    ({"closed_at": "2026-11-29T10:00:00Z"}, {"closed_at"}),
    ({"external_id": ""}, {"external_id"}),
    ({"external_id": None, "team": None}, {"external_id", "team"}),
    ({"open_delay": "soon", "duration": 3}, {"open_delay", "duration"}),
    ({"duration": "10m"}, {"duration"}),
    ({"surprise": True}, {"surprise"}),
])
def test_invalid_fields_are_named(api, db, overrides, fields):
    error = error_of(api.post("/api/v1/incidents", incident(**overrides)), 422)
    assert error["code"] == "invalid_input"
    assert set(error["fields"]) == fields
    assert_nothing_stored(db)


def test_ten_thousand_participants_are_refused(api, db):
    people = [f"person{i}@example.org" for i in range(10_000)]
    error = error_of(api.post("/api/v1/incidents", incident(participants=people)), 422)
    assert "participants" in error["fields"] and "500" in error["fields"]["participants"]
    assert_nothing_stored(db)
    assert count(db, Person) == 24  # the roster of build_org, nobody added


def test_a_10_mb_body_gets_413_json(api, db):
    body = b'{"title": "' + b"x" * (10 * 1024 * 1024) + b'"}'
    error = error_of(api.post("/api/v1/incidents", raw=body), 413)
    assert error["code"] == "request_entity_too_large"
    assert_nothing_stored(db)


@pytest.mark.parametrize("raw", [b"{", b"", b"\xff\xfe", b'{"a": 1,}', b"[1, 2"])
def test_malformed_json_gets_400(api, db, raw):
    assert error_of(api.post("/api/v1/incidents", raw=raw), 400)["code"] == "malformed_json"
    assert_nothing_stored(db)


@pytest.mark.parametrize("raw", [b"[]", b"42", b'"text"', b"null"])
def test_json_that_is_not_an_object_gets_422(api, raw):
    assert "body" in error_of(api.post("/api/v1/incidents", raw=raw), 422)["fields"]


def test_a_form_post_gets_415(api, db):
    response = api.post("/api/v1/incidents", raw=b"team=payments",
                        content_type="application/x-www-form-urlencoded")
    assert error_of(response, 415)["code"] == "unsupported_media_type"
    assert_nothing_stored(db)


def test_unknown_paths_and_methods_under_api_are_json(api, client):
    assert error_of(api.get("/api/v1/nothing-here"), 404)["code"] == "not_found"
    assert error_of(client.delete("/api/v1/incidents"), 405)["code"] == "method_not_allowed"
    assert error_of(client.get("/api/v1/incidents"), 405)["code"] == "method_not_allowed"
    assert error_of(api.get("/api/v1/surveys/99999"), 404)["code"] == "not_found"


def test_the_server_stays_up_after_bad_input(api):
    api.post("/api/v1/incidents", raw=b"{")
    api.post("/api/v1/incidents", raw=b"x" * (2 * 1024 * 1024))
    assert api.post("/api/v1/incidents", incident()).status_code == 201


def test_api_needs_no_csrf_token_but_other_forms_still_do(api, client):
    assert api.post("/api/v1/incidents", incident()).status_code == 201
    assert client.post("/login", data={"email": "x", "password": "y"}).status_code == 400


def test_repeat_payload_with_closed_at_in_offset_form(api):
    body = incident(closed_at=(NOW - timedelta(hours=3)).isoformat())
    assert api.post("/api/v1/incidents", body).status_code == 201


@pytest.mark.parametrize("overrides, field", [
    ({"external_id": "INC\x00-1"}, "external_id"),
    ({"title": "Line\nbreak"}, "title"),
    ({"participants": ["a\x00b@example.org"]}, "participants[0]"),
    ({"closed_at": "0001-01-01T00:00:00+23:59"}, "closed_at"),
    ({"open_delay": "9999999d"}, "open_delay"),
    ({"duration": "24h\n"}, "duration"),
])
def test_values_that_would_break_the_database_or_the_clock_are_refused(api, db, overrides,
                                                                      field):
    assert field in error_of(api.post("/api/v1/incidents", incident(**overrides)),
                             422)["fields"]
    assert_nothing_stored(db)


def test_ids_and_slugs_out_of_range_are_404(api):
    assert error_of(api.get(f"/api/v1/surveys/{2**70}"), 404)["code"] == "not_found"
    assert error_of(api.get("/api/v1/teams/Not%20A%20Slug/periods"), 404)["code"] == "not_found"
