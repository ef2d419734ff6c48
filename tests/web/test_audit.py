"""The audit log: result views (allowed, refused by access, or held back by the release guard),
exports and admin changes are recorded; participants never are. HR reads it and exports CSV."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import func, inspect, select

from support import NOW, Manager, Participant, csrf_from, open_survey
from surveys.models import AuditEvent
from surveys.services import audit, lifecycle

pytestmark = pytest.mark.usefixtures("org")


def events(db, action: str | None = None) -> list[AuditEvent]:
    db.rollback()
    query = select(AuditEvent).order_by(AuditEvent.id)
    if action:
        query = query.where(AuditEvent.action == action)
    return list(db.scalars(query))


def test_result_views_record_the_guard_decision(client, db, settings, box):
    survey, tokens = open_survey(db, settings, box, people=6)
    manager = Manager(client)
    manager.login("manager@example.org")
    client.get(f"/incidents/{survey.incident_id}")  # open: the guard shows nothing yet
    for token in tokens:
        Participant(client.application.test_client()).answer(token)
    lifecycle.close_survey(db, survey.id, NOW)
    client.get(f"/incidents/{survey.incident_id}")  # closed with 6 >= k: released
    held, shown = events(db, "results.view")
    assert (held.allowed, shown.allowed) == (False, True)
    assert held.target == shown.target == f"incident:{survey.incident_id}"
    assert held.actor == "manager@example.org" and held.role == "manager"
    assert held.at == NOW and held.detail


def test_refused_access_is_recorded_as_refused(client, db, settings, box):
    survey, _ = open_survey(db, settings, box, team="platform")
    Manager(client).login("manager@example.org")
    other_team = client.get(f"/incidents/{survey.incident_id}")
    missing = client.get("/incidents/99999")
    assert other_team.status_code == missing.status_code == 404  # the same to the visitor
    refused = events(db, "results.view")
    assert [e.allowed for e in refused] == [False, False]
    assert refused[0].detail == "refused: another team's"  # not the same in the audit log
    assert refused[1].detail == "refused: not_found"


def test_participants_leave_no_audit_trace(client, db, settings, box):
    survey, tokens = open_survey(db, settings, box, people=6)
    before = len(events(db))
    for token in tokens:
        assert Participant(client).answer(token, comment="More time to prepare.").status_code \
            == 303
    client.get("/s/" + "x" * 43)
    client.get("/s")
    assert len(events(db)) == before
    for event in events(db):
        assert "/s" not in event.target and "ballot" not in event.detail


def test_audit_table_has_nothing_about_participants(app):
    from surveys import db as dbmod

    columns = {c["name"] for c in inspect(dbmod.get_engine(app)).get_columns("audit_event")}
    assert columns == {"id", "at", "user_id", "actor", "role", "action", "target", "allowed",
                       "detail"}


def test_admin_changes_and_sign_ins_are_recorded(client, db):
    admin = Manager(client)
    admin.login("admin@example.org")
    page = client.get("/admin/organisation")
    client.post("/admin/organisation", data={"action": "team", "slug": "search",
                                             "name": "Search", "csrf_token": csrf_from(page.text)})
    page = client.get("/admin/policies")
    client.post("/admin/policies", data={"policy": "blameless",
                                         "csrf_token": csrf_from(page.text)})
    admin.post("/logout")
    Manager(client).login("manager@example.org", "wrong password!!")
    Manager(client).login("nobody@example.org", "wrong password!!")
    actions = [(e.action, e.target, e.allowed) for e in events(db)]
    assert ("admin.team.add", "team:search", True) in actions
    assert any(a == "admin.policies.set" for a, _, _ in actions)
    assert [a for a, _, _ in actions].count("auth.login") == 1
    assert ("auth.logout", actions[0][1], True) in actions
    failed = events(db, "auth.login.failed")
    assert [e.actor for e in failed] == ["manager@example.org"]  # unknown text is not kept


def test_hr_reads_the_log_and_exports_csv(client, db):
    audit.record(db, actor=None, action="results.view", now=NOW, target="incident:1",
                 detail="=HYPERLINK(\"http://evil.example\")", actor_label="api-key:1")
    Manager(client).login("hr@example.org")
    page = client.get("/audit")
    assert page.status_code == 200 and "api-key:1" in page.text
    assert "results.view" in client.get("/audit?action=results.").text
    export = client.get("/audit.csv")
    assert export.status_code == 200 and export.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(export.get_data(as_text=True))))
    assert rows[0] == list(audit.CSV_HEADER)
    detail = next(r for r in rows[1:] if r[4] == "results.view")[7]
    assert detail.startswith("'=")
    assert events(db, "audit.export")[-1].actor == "hr@example.org"


def test_managers_cannot_read_the_log(client):
    Manager(client).login("manager@example.org")
    assert client.get("/audit").status_code == 403
    assert client.get("/audit.csv").status_code == 403


def test_audit_page_survives_odd_query_strings(client, db):
    Manager(client).login("hr@example.org")
    for query in ("page=-3", "page=abc", "page=99999999999", "action=%25", "action=_"):
        assert client.get(f"/audit?{query}").status_code == 200
    assert db.scalar(select(func.count()).select_from(AuditEvent)) >= 1
