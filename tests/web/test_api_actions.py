"""GET and POST /api/v1/actions: scopes, the contract, the team's flags, and 422s naming
the field (no text, a past due date, a flag of another team, an owner that is not a role or
a team)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from support.api import Api, conforms, error_of, make_key
from surveys.models import Action, AuditEvent

pytestmark = pytest.mark.usefixtures("org")



def body(flag, **changes):
    data = {"team": "payments", "flag": flag.key,
            "text": "Rotate the incident commander role weekly across the team.",
            "owner": "role:incident commander rota", "due_on": "2026-12-18"}
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


@pytest.mark.parametrize(("scope", "method", "allowed"), [
    ("actions:read", "get", True), ("actions:read", "post", False),
    ("actions:write", "post", True), ("actions:write", "get", False),
    ("results:read", "get", False), ("incidents:write", "post", False),
])
def test_scopes(app, client, flag, scope, method, allowed):
    api = Api(client, make_key(app, [scope]))
    response = (api.get("/api/v1/actions") if method == "get"
                else api.post("/api/v1/actions", body(flag)))
    if allowed:
        assert response.status_code in (200, 201)
    else:
        assert error_of(response, 403)["code"] == "forbidden"


def test_create_and_list(app, client, db, flag):
    api = Api(client, make_key(app))
    listed = api.get("/api/v1/actions?team=payments")
    assert listed.status_code == 200
    conforms("ActionList", listed.json)
    assert flag.key in [f["key"] for f in listed.json["flags"]]
    sent = body(flag, text="Remind the engineer who caused the outage to double-check "
                           "configs.", construct="blame")
    conforms("NewAction", sent)
    created = api.post("/api/v1/actions", sent)
    assert created.status_code == 201, created.json
    conforms("ActionCreated", created.json)
    action = created.json["action"]
    assert (action["status"], action["construct"], action["owner"]) == (
        "open", "blame", "Incident commander rota")
    assert action["flag"] == {"kind": "exposure_concentration", "subject": "exposure",
                              "period": "2026-08"}
    assert action["change"]["points"] is None  # 2026 Q4 has not ended
    assert created.json["language"], "the check points at a person as the subject"
    assert all(f["suggestions"] for f in created.json["language"])
    again = api.get("/api/v1/actions?status=open").json["actions"]
    assert [a["id"] for a in again] == [action["id"]]
    assert api.get("/api/v1/actions?team=platform").json == {"actions": [], "flags": []}
    db.rollback()
    assert db.scalar(select(AuditEvent.actor).where(
        AuditEvent.action == "action.record")).startswith("api-key:")


@pytest.mark.parametrize(("changes", "field"), [
    ({"text": ""}, "text"),
    ({"text": None}, "text"),
    ({"due_on": "2026-11-19"}, "due_on"),
    ({"due_on": "soon"}, "due_on"),
    ({"team": "platform"}, "flag"),
    ({"owner": "payments0@example.org"}, "owner"),
    ({"owner": "person:Ana"}, "owner"),
    ({"status": "finished"}, "status"),
    ({"colour": "red"}, "colour"),
    ({"text": 7}, "text"),
])
def test_bad_input_is_a_422_naming_the_field(app, client, db, flag, changes, field):
    api = Api(client, make_key(app))
    error = error_of(api.post("/api/v1/actions", body(flag, **changes)), 422)
    assert field in error["fields"], error
    db.rollback()
    assert db.scalar(select(func.count()).select_from(Action)) == 0


def test_unknown_team_and_status(app, client, flag):
    api = Api(client, make_key(app))
    assert error_of(api.get("/api/v1/actions?team=nowhere"), 404)
    assert "status" in error_of(api.get("/api/v1/actions?status=late"), 422)["fields"]
    assert "team" in error_of(api.post("/api/v1/actions", body(flag, team="nowhere")),
                              422)["fields"]


def test_openapi_lists_the_endpoints(client):
    document = client.get("/api/v1/openapi.json").json
    assert set(document["paths"]["/api/v1/actions"]) == {"get", "post"}
    assert "actions:read" in document["info"]["description"]
