"""Managers', HR's and admins' pages through the test client, with CSRF on."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from sqlalchemy import select

from support import ANSWERS, NOW, Manager, Participant, open_survey
from surveys.models import Incident, PolicyState, Survey
from surveys.services import lifecycle

pytestmark = pytest.mark.usefixtures("org")


@pytest.fixture
def incidents(db, settings, box, client):
    """A released payments incident, a small one, an open one, and one of another team."""
    settings = dataclasses.replace(settings, survey_limit=None)  # the same people, 3 surveys
    released, tokens = open_survey(db, settings, box, people=8, title="Released one")
    for token in tokens[:6]:
        Participant(client).answer(token, blame_person="4")
    small, tokens = open_survey(db, settings, box, people=8, title="Small one")
    for token in tokens[:3]:
        Participant(client).answer(token)
    open_one, tokens = open_survey(db, settings, box, people=8, title="Open one")
    for token in tokens[:6]:
        Participant(client).answer(token)
    other, _ = open_survey(db, settings, box, team="platform", people=8, title="Platform one")
    for survey in (released, small):
        lifecycle.close_survey(db, survey.id, NOW + timedelta(hours=2))
    ids = {"released": released.incident_id, "small": small.incident_id,
           "open": open_one.incident_id, "other": other.incident_id}
    db.rollback()  # hold no read snapshot: a close's WAL checkpoint would wait for it
    return ids


def test_pages_need_a_login(client, incidents):
    for path in ("/incidents", f"/incidents/{incidents['released']}", "/incidents/new",
                 "/admin/policies"):
        response = client.get(path)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login")


def test_login_failure_does_not_say_whether_the_account_exists(client):
    manager = Manager(client)
    unknown = manager.login("nobody@example.org", "whatever password")
    wrong = manager.login("manager@example.org", "wrong password!!")
    assert unknown.status_code == wrong.status_code == 400
    assert "do not match an account" in unknown.text
    assert unknown.text.replace("nobody@example.org", "X") == wrong.text.replace(
        "manager@example.org", "X")


def test_login_without_csrf_is_refused(client):
    response = client.post("/login", data={"email": "manager@example.org",
                                           "password": "correct horse battery"})
    assert response.status_code == 400


def test_manager_sees_own_teams_only(client, incidents):
    Manager(client).login("manager@example.org")
    listing = client.get("/incidents").text
    assert "Released one" in listing and "Platform one" not in listing
    assert client.get(f"/incidents/{incidents['other']}").status_code == 404
    assert client.get("/incidents/99999").status_code == 404


def test_hr_sees_every_team(client, incidents):
    Manager(client).login("hr@example.org")
    listing = client.get("/incidents").text
    assert "Released one" in listing and "Platform one" in listing
    assert client.get(f"/incidents/{incidents['other']}").status_code == 200


def test_released_results_show_percent_favourable_with_n(client, incidents):
    Manager(client).login("manager@example.org")
    page = client.get(f"/incidents/{incidents['released']}").text
    assert "Results from 6 of 8 people" in page
    # blame_person answered 4 (agree) by all six: reverse-keyed, so 0% favourable
    row = page.split("pointed at a person as the cause.")[1].split("</tr>")[0]
    assert "0%" in row and "6" in row


def test_small_incident_explains_kindly_and_shows_no_number(client, incidents):
    Manager(client).login("manager@example.org")
    page = client.get(f"/incidents/{incidents['small']}").text
    assert "Fewer than 5 people answered" in page
    assert "%" not in page.split("Why there are no results")[1]
    assert "3 of" not in page


def test_open_survey_shows_only_whether_the_minimum_is_reached(client, incidents):
    Manager(client).login("manager@example.org")
    page = client.get(f"/incidents/{incidents['open']}").text
    assert "Minimum reached: <strong>yes</strong>" in page
    assert "6 of" not in page and ">6<" not in page
    assert "still open" in page


def test_manager_closes_early_and_results_appear(client, db, incidents):
    manager = Manager(client)
    manager.login("manager@example.org")
    # closing early takes a confirm step that says what will happen; without it nothing closes
    unconfirmed = manager.post(f"/incidents/{incidents['open']}/close")
    assert unconfirmed.status_code == 302
    assert unconfirmed.headers["Location"].endswith(
        f"/incidents/{incidents['open']}/close/confirm")
    db.rollback()
    assert db.scalar(select(Survey.status).where(Survey.incident_id == incidents["open"])) \
        == "open"
    confirm = client.get(f"/incidents/{incidents['open']}/close/confirm").text
    assert "People who have not answered yet lose their chance" in confirm
    assert "Minimum reached: <strong>yes</strong>" in confirm
    response = manager.post(f"/incidents/{incidents['open']}/close", {"confirm": "yes"})
    assert response.status_code == 302
    db.rollback()
    survey = db.scalar(select(Survey).where(Survey.incident_id == incidents["open"]))
    assert survey.status == "closed" and survey.respondents == 6
    assert "Results from 6 of 8 people" in client.get(f"/incidents/{incidents['open']}").text


def test_manager_cannot_close_another_teams_survey(client, db, incidents):
    manager = Manager(client)
    manager.login("manager@example.org")
    assert manager.post(f"/incidents/{incidents['other']}/close",
                        {"confirm": "yes"}).status_code == 404
    assert client.get(f"/incidents/{incidents['other']}/close/confirm").status_code == 404
    db.rollback()
    assert db.scalar(select(Survey.status).where(Survey.incident_id == incidents["other"])) \
        == "open"


def test_manager_adds_an_incident_and_bad_input_is_explained(client, db):
    manager = Manager(client)
    manager.login("manager@example.org")
    bad = manager.post("/incidents/new", {"team": "payments", "title": "", "kind": "data",
                                          "severity": "sev2", "closed_at": "yesterday",
                                          "participants": "not-an-email"})
    assert bad.status_code == 400
    assert "Enter the date and time" in bad.text
    # every problem at once, each named by its field, in one style
    assert "Title: a title is required" in bad.text
    assert "Participants&#39; emails: &#39;not-an-email&#39; is not a valid email" in bad.text
    assert db.scalar(select(Incident.id)) is None
    bad = manager.post("/incidents/new", {"team": "payments", "title": "Queue", "kind": "data",
                                          "severity": "sev2", "closed_at": "2026-11-19T10:00",
                                          "participants": "a@example.org\nnot-an-email"})
    assert bad.status_code == 400 and "not a valid email address" in bad.text
    unknown = manager.post("/incidents/new", {
        "team": "payments", "title": "Queue", "kind": "data", "severity": "sev2",
        "closed_at": "2026-11-19T10:00", "participants": "a@example.org\nb@example.org"})
    assert unknown.status_code == 400  # never added to a roster silently: named instead
    assert "2 addresses are on no roster: a@example.org, b@example.org" in unknown.text
    assert db.scalar(select(Incident.id)) is None
    good = manager.post("/incidents/new", {"team": "payments", "title": "Queue", "kind": "data",
                                           "severity": "sev2", "closed_at": "2026-11-19T10:00",
                                           "participants": "a@example.org\nb@example.org",
                                           "add_unknown": "yes"})
    assert good.status_code == 302
    after = client.get(good.headers["Location"]).text
    assert "2 people invited" in after
    assert "can never be shown on their own" in after  # below the minimum: pooling explained
    assert manager.post("/incidents/new", {"team": "platform", "title": "X", "kind": "data",
                                           "severity": "sev2", "closed_at": "2026-11-19T10:00",
                                           "participants": "a@example.org"}).status_code == 403


def test_admin_declares_policies(client, db):
    manager = Manager(client)
    manager.login("admin@example.org")
    page = client.get("/admin/policies")
    assert page.status_code == 200 and "Policy register" in page.text
    response = manager.post("/admin/policies", {"policy": ["neutral_author", "blameless"]})
    assert response.status_code == 302
    db.rollback()
    assert set(db.scalars(select(PolicyState.policy_id).where(PolicyState.in_force))) == {
        "neutral_author", "blameless"}
    assert manager.post("/admin/policies", {"policy": ["made_up"]}).status_code == 400


def test_only_admins_reach_admin_pages(client):
    Manager(client).login("hr@example.org")
    assert client.get("/admin/policies").status_code == 403
    assert client.get("/admin/organisation").status_code == 403


def test_logout_ends_the_session(client):
    manager = Manager(client)
    manager.login("manager@example.org")
    assert client.get("/incidents").status_code == 200
    manager.post("/logout")
    assert client.get("/incidents").status_code == 302


def test_answers_form_defaults_match_the_item_bank():
    from analysis import items

    assert set(ANSWERS) == set(items.STATEMENT_IDS) | {"involvement"}
