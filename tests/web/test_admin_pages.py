"""Admins manage accounts and API keys from pages, with the rules and audit entries of the
command line (issue 14, point 5)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from support import PASSWORD, Manager
from surveys.models import ApiKey, AuditEvent, User
from surveys.services import apikeys

pytestmark = pytest.mark.usefixtures("org")


def _actions(db, action: str) -> list[AuditEvent]:
    db.rollback()
    return list(db.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_admin_adds_an_account_with_role_and_teams(client, db):
    admin = Manager(client)
    admin.login("admin@example.org")
    page = client.get("/admin/accounts")
    assert page.status_code == 200 and "Add an account" in page.text
    bad = admin.post("/admin/accounts", {"email": "not-an-email", "role": "manager",
                                         "password": "short"})
    assert bad.status_code == 400
    # every problem at once, named by its field (the CLI's rules: admin.add_user)
    assert "Email: not a valid address" in bad.text
    assert "First password: use at least 12 characters" in bad.text
    assert "Teams: a manager needs at least one team" in bad.text
    good = admin.post("/admin/accounts", {"email": "Lead@Example.org", "name": "Lead",
                                          "role": "manager", "teams": ["payments"],
                                          "password": PASSWORD})
    assert good.status_code == 302
    db.rollback()
    user = db.scalar(select(User).where(User.email == "lead@example.org"))
    assert user.role == "manager" and [t.slug for t in user.teams] == ["payments"]
    events = _actions(db, "admin.user.add")
    assert [e.target for e in events] == [f"user:{user.id}"]
    again = admin.post("/admin/accounts", {"email": "lead@example.org", "role": "hr",
                                           "password": PASSWORD})
    assert again.status_code == 400 and "Email: already taken" in again.text


def test_admin_deactivates_an_account_and_its_sessions_end(app, client, db):
    manager = app.test_client()
    assert Manager(manager).login("manager@example.org").status_code == 302
    assert manager.get("/incidents").status_code == 200
    admin = Manager(client)
    admin.login("admin@example.org")
    target = db.scalar(select(User).where(User.email == "manager@example.org"))
    response = admin.post(f"/admin/accounts/{target.id}/active", {"active": "no"})
    assert response.status_code == 302
    db.rollback()
    assert db.get(User, target.id).active is False
    assert manager.get("/incidents").status_code in (302, 401)  # signed out at once
    assert Manager(app.test_client()).login("manager@example.org").status_code != 302
    assert [e.target for e in _actions(db, "admin.user.deactivate")] == [f"user:{target.id}"]
    admin.post(f"/admin/accounts/{target.id}/active", {"active": "yes"})
    db.rollback()
    assert db.get(User, target.id).active is True


def test_admin_cannot_deactivate_themselves(client, db):
    admin = Manager(client)
    admin.login("admin@example.org")
    me = db.scalar(select(User).where(User.email == "admin@example.org"))
    admin.post(f"/admin/accounts/{me.id}/active", {"active": "no"})
    db.rollback()
    assert db.get(User, me.id).active is True
    events = _actions(db, "admin.user.deactivate")
    assert len(events) == 1 and not events[0].allowed
    assert "cannot deactivate your own account" in client.get("/admin/accounts").text


def test_only_admins_manage_accounts(client, db):
    Manager(client).login("hr@example.org")
    assert client.get("/admin/accounts").status_code == 403


def test_admin_creates_an_api_key_shown_once(app, client, db):
    admin = Manager(client)
    admin.login("admin@example.org")
    created = admin.post("/admin/api", {"name": "Pager bridge", "scope": ["incidents:write"],
                                        "signing": "yes"})
    assert created.status_code == 200
    assert created.headers["Cache-Control"] == "no-store"
    secret = created.text.split('id="secret" readonly value="')[1].split('"')[0]
    assert secret.startswith(apikeys.KEY_PREFIX)
    assert 'id="signing-secret"' in created.text
    db.rollback()
    key = db.scalar(select(ApiKey).where(ApiKey.name == "Pager bridge"))
    assert key.scopes == "incidents:write" and key.key_hash == apikeys.hash_key(secret)
    assert secret not in client.get("/admin/api").text  # never shown again
    assert [e.target for e in _actions(db, "admin.apikey.create")] == [f"apikey:{key.id}"]
    bad = admin.post("/admin/api", {"name": "", "scope": ["everything"]})
    assert bad.status_code == 400
    assert "Name: give the key a name" in bad.text and "Scopes: unknown scope" in bad.text


def test_cli_deactivates_with_the_same_rule_and_audit_entry(runner, db):
    result = runner.invoke(args=["user", "deactivate", "manager@example.org"])
    assert result.exit_code == 0, result.output
    db.rollback()
    user = db.scalar(select(User).where(User.email == "manager@example.org"))
    assert user.active is False
    events = _actions(db, "admin.user.deactivate")
    assert [e.target for e in events] == [f"user:{user.id}"]
    assert runner.invoke(args=["user", "deactivate", "admin@example.org"]).exit_code != 0
