"""Incident roles through the API and the form (bad roles named each), and the team page's
shared exposure section, read from the records decided at period end."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from support import NOW, Manager, decide_periods
from support.api import Api, conforms, error_of, incident, make_key
from support.exposure import concentrated_summer
from surveys.models import IncidentParticipant, Person

pytestmark = pytest.mark.usefixtures("org")


@pytest.fixture
def api(app, client):
    return Api(client, make_key(app))


def test_api_takes_roles(api, db):
    body = incident(roles={"payments0@example.org": "commander",
                           "Payments1@example.org": "author"})
    conforms("NewIncident", body)
    response = api.post("/api/v1/incidents", body)
    assert response.status_code == 201
    roles = dict(db.execute(select(Person.email, IncidentParticipant.role).join(
        IncidentParticipant, IncidentParticipant.person_id == Person.id)).all())
    assert roles["payments0@example.org"] == "commander"
    assert roles["payments1@example.org"] == "author"
    assert roles["payments2@example.org"] is None


def test_api_names_each_bad_role(api):
    response = api.post("/api/v1/incidents", incident(roles={
        "payments0@example.org": "boss", "nobody@example.org": "commander",
        "payments1@example.org": 7}))
    error = error_of(response, 422)
    assert set(error["fields"]) == {"roles.payments0@example.org",
                                    "roles.nobody@example.org", "roles.payments1@example.org"}
    assert "not a participant" in error["fields"]["roles.nobody@example.org"]
    error = error_of(api.post("/api/v1/incidents", incident(roles=["commander"])), 422)
    assert set(error["fields"]) == {"roles"}


def test_form_takes_roles_and_explains_bad_ones(client, db):
    manager = Manager(client)
    manager.login("manager@example.org")
    form = {"team": "payments", "title": "Queue", "kind": "data", "severity": "sev2",
            "closed_at": "2026-11-19T10:00", "participants": "a@example.org\nb@example.org",
            "add_unknown": "yes"}  # neither is on a roster yet: added on purpose
    bad = manager.post("/incidents/new", {**form, "roles": "a@example.org: chief\n"
                                                           "c@example.org: commander"})
    assert bad.status_code == 400
    assert "&#39;chief&#39; is not a role" in bad.text
    assert "c@example.org is not a participant" in bad.text
    unreadable = manager.post("/incidents/new", {**form, "roles": "a@example.org commander"})
    assert unreadable.status_code == 400 and "one &#39;email: role&#39; per line" in unreadable.text
    good = manager.post("/incidents/new", {**form, "roles": "A@example.org: Commander"})
    assert good.status_code == 302
    assert db.scalar(select(IncidentParticipant.role).join(Person).where(
        Person.email == "a@example.org")) == "commander"


def test_team_page_shows_exposure(client, db, settings, box):
    concentrated_summer(db, settings, box)
    decide_periods(db, settings, NOW)
    db.rollback()
    manager = Manager(client)
    manager.login("manager@example.org")
    page = client.get("/teams/payments?grain=month")
    assert page.status_code == 200
    assert "Shared incident exposure by month" in page.text
    assert 'data-exposure="2026-08"' in page.text
    assert "42%" in page.text and "71%" in page.text  # 5 of 12 involved; 6.4 of 9
    assert "Rotate the incident commander role" in page.text
    assert "payments0" not in page.text.lower()  # nobody is named
    platform = client.get("/teams/platform?grain=month")
    assert platform.status_code == 404  # not one of her teams: as if it did not exist


def test_periods_api_carries_exposure_as_decided(app, client, db, settings, box):
    api = Api(client, make_key(app, scopes=["results:read"]))
    concentrated_summer(db, settings, box)
    decide_periods(db, settings, NOW)
    db.rollback()
    response = api.get("/api/v1/teams/payments/periods?grain=month")
    assert response.status_code == 200
    conforms("Periods", response.get_json())
    exposure = response.get_json()["exposure"]
    august = next(p for p in exposure["periods"] if p["period"] == "2026-08")
    # 5 of Payments' 12 on an incident, 1 of them commander; the most involved fifth (2.4
    # people: two on three incidents each, 0.4 of one on one) carry 6.4 of 9 involvements
    assert august["released"] is True and august["reason"] == "released"
    assert august["involved_pct"] == pytest.approx(100 * 5 / 12)
    assert august["commander_pct"] == pytest.approx(100 * 1 / 12)
    assert august["concentration_pct"] == pytest.approx(100 * 6.4 / 9)
    assert [f["kind"] for f in exposure["flags"]] == ["exposure_concentration"]
    assert "payments0" not in response.get_data(as_text=True).lower()
    platform = api.get("/api/v1/teams/platform/periods?grain=month").get_json()["exposure"]
    assert all(not p["released"] and p["involved_pct"] is None for p in platform["periods"])
