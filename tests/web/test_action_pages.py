"""Actions through the pages, with CSRF on: the form from a flag, bad input explained per
field, the language check's suggestions before saving, the team page beside the construct,
status changes, HR's counts across teams, and another team's manager kept out."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from sqlalchemy import func, select

from support import Manager
from surveys.models import Action, AuditEvent

pytestmark = pytest.mark.usefixtures("org")



def form(ref, **changes):
    data = {"flag": ref.key, "text": "Rotate the incident commander role weekly.",
            "construct": "social", "owner": "role:incident commander rota",
            "due_on": "2026-12-18", "status": "open"}
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def count(db):
    db.rollback()
    return db.scalar(select(func.count()).select_from(Action))


def test_record_from_the_team_page(client, db, flag):
    manager = Manager(client)
    manager.login("manager@example.org")
    link = f"/teams/payments/actions/new?flag={quote(flag.key, safe=':')}"
    assert link not in client.get("/teams/payments").text  # by quarter: a month's flag
    team = client.get("/teams/payments?grain=month")
    assert "Flags to answer" in team.text and "No actions recorded yet." in team.text
    assert link in team.text
    page = client.get(link)
    assert page.status_code == 200 and "Rotate the incident commander role" in page.text
    saved = manager.post("/teams/payments/actions/new", form(flag))
    assert saved.status_code == 302 and saved.headers["Location"].endswith("#actions")
    assert count(db) == 1
    team = client.get("/teams/payments")
    assert "Actions aimed at social cost" in team.text
    assert "Rotate the incident commander role weekly." in team.text
    assert "Shown once 2026 Q4 has ended" in team.text  # recorded in 2026 Q4
    (action_id,) = db.scalars(select(Action.id)).all()
    changed = manager.post(f"/teams/payments/actions/{action_id}/status", {"status": "done"})
    assert changed.status_code == 302
    db.rollback()
    assert db.get(Action, action_id).status == "done"
    assert db.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action.in_(("action.record", "action.status")))) == 2


@pytest.mark.parametrize(("changes", "message"), [
    ({"text": ""}, "say what will change"),
    ({"due_on": "2026-11-19"}, "the due date is in the past"),
    ({"due_on": "next week"}, "Enter the date as YYYY-MM-DD"),
    ({"owner": "person:payments0@example.org"}, "never owned by a person"),
    ({"flag": "team:2:2026-Q3|policy_gap|blameless"}, "not a flag of this team"),
])
def test_bad_input_is_explained(client, db, flag, changes, message):
    manager = Manager(client)
    manager.login("manager@example.org")
    response = manager.post("/teams/payments/actions/new", form(flag, **changes))
    assert response.status_code == 400
    assert message in response.text
    assert count(db) == 0


def test_language_check_suggests_before_saving(client, db, flag):
    manager = Manager(client)
    manager.login("manager@example.org")
    blaming = form(flag, text="Remind the engineer who caused the outage to double-check "
                               "configs.")
    first = manager.post("/teams/payments/actions/new", blaming)
    assert first.status_code == 200
    assert "A second look at the wording" in first.text and "Try:" in first.text
    assert count(db) == 0
    kept = manager.post("/teams/payments/actions/new", {**blaming, "keep": "yes"})
    assert kept.status_code == 302 and count(db) == 1


def test_hr_sees_counts_across_teams_never_per_team(app, client, db, flag):
    manager = Manager(client)
    manager.login("manager@example.org")
    manager.post("/teams/payments/actions/new", form(flag))
    hr_client = app.test_client()
    Manager(hr_client).login("hr@example.org")
    page = hr_client.get("/hr")
    assert page.status_code == 200
    assert "Actions from flags, across teams" in page.text
    assert 'data-count="flags-with-action">1 of' in page.text
    section = page.text.split('id="actions-summary"')[1].split("</section>")[0]
    assert "Payments" not in section and "Platform" not in section


def test_another_teams_manager_is_kept_out(client, db, flag):
    from surveys.services import admin
    admin.add_user(db, "other@example.org", "Other", "correct horse battery", "manager",
                   ["platform"])
    other = Manager(client)
    other.login("other@example.org")
    assert client.get(f"/teams/payments/actions/new?flag={quote(flag.key)}").status_code == 404
    assert other.post("/teams/payments/actions/new", form(flag)).status_code == 404
    refused = other.post("/teams/platform/actions/new", form(flag))
    assert refused.status_code == 400 and "not a flag of this team" in refused.text
    assert count(db) == 0


def test_record_from_an_incidents_flag(client, db, settings, box):
    from support.organisation import AUG, run_survey, set_policies, uniform

    set_policies(db, {"neutral_author"})
    survey = run_survey(db, settings, box, team="payments", at=AUG,
                        rows=uniform(6, practice_author="1"))
    db.rollback()
    manager = Manager(client)
    manager.login("manager@example.org")
    page = client.get(f"/incidents/{survey.incident_id}")
    key = f"survey:{survey.id}|policy_gap|neutral_author"
    link = f"/teams/payments/actions/new?flag={quote(key, safe=':')}"
    assert link in page.text.replace("&amp;", "&")
    form_page = client.get(link)
    assert form_page.status_code == 200
    assert f'<option value="{key}" selected>' in form_page.text
    saved = manager.post("/teams/payments/actions/new",
                         {"flag": key, "text": "Ask someone outside the incident to write "
                                               "the next review.",
                          "construct": "blame", "owner": "role:review facilitators",
                          "due_on": "2026-12-01", "status": "open"})
    assert saved.status_code == 302
    db.rollback()
    assert db.scalar(select(Action.flag_record)) == f"survey:{survey.id}"
