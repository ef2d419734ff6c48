"""The delivery setting (admin page and command line), `flask slack check`, and `outbox
flush` sending through Slack from the settings, against the Slack Web API stand-in."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from support import Manager, csrf_from, open_survey
from support.app import make_app
from support.slack import TOKEN, Workspace, slack_api
from surveys import db as dbmod
from surveys.models import AuditEvent, OutboxMessage
from surveys.services import delivery

pytestmark = pytest.mark.usefixtures("org")


def slack_app(tmp_path, url, **extra):
    from support import build_org

    app = make_app(f"sqlite:///{tmp_path / 'slack.db'}", AFTERCARE_SLACK_TOKEN=TOKEN,
                   AFTERCARE_SLACK_API_URL=url, **extra)
    with dbmod.session_scope(app) as session:
        build_org(session)
    return app


def test_admin_chooses_delivery_on_a_page(app, client, db):
    Manager(client).login("admin@example.org")
    page = client.get("/admin/delivery")
    assert page.status_code == 200 and "Slack is not set up" in page.text
    refused = client.post("/admin/delivery", data={"delivery": "slack",
                                                   "csrf_token": csrf_from(page.text)})
    assert refused.status_code == 400 and "AFTERCARE_SLACK_TOKEN" in refused.text
    assert delivery.current(db) == "email"
    assert "choose how invitations go out" in client.get("/admin/organisation").text


def test_with_a_token_the_admin_can_pick_slack_or_both(tmp_path):
    app = slack_app(tmp_path, "http://127.0.0.1:9/api/")
    client = app.test_client()
    Manager(client).login("admin@example.org")
    page = client.get("/admin/delivery")
    response = client.post("/admin/delivery", data={"delivery": "both",
                                                    "csrf_token": csrf_from(page.text)})
    assert response.status_code == 303
    with dbmod.session_scope(app) as session:
        assert delivery.current(session) == "both"
        event = session.scalar(select(AuditEvent).where(
            AuditEvent.action == "admin.delivery.set"))
        assert event.detail == "both" and event.actor == "admin@example.org"
    bad = client.post("/admin/delivery", data={"delivery": "fax",
                                               "csrf_token": csrf_from(page.text)})
    assert bad.status_code == 400 and "choose email, slack or both" in bad.text
    dbmod.get_engine(app).dispose()


def test_managers_and_hr_cannot_change_delivery(client):
    Manager(client).login("manager@example.org")
    assert client.get("/admin/delivery").status_code == 403


def test_delivery_on_the_command_line(runner, db):
    assert runner.invoke(args=["delivery", "show"]).output.strip() == "email"
    refused = runner.invoke(args=["delivery", "set", "slack"])
    assert refused.exit_code == 1 and "AFTERCARE_SLACK_TOKEN" in refused.output
    assert runner.invoke(args=["delivery", "set", "sms"]).exit_code == 2


def test_slack_check_finds_people_and_reports_the_token(tmp_path):
    workspace = Workspace()
    workspace.add("payments0@example.org")
    with slack_api(workspace) as url:
        app = slack_app(tmp_path, url)
        runner = app.test_cli_runner()
        found = runner.invoke(args=["slack", "check", "payments0@example.org"])
        assert found.exit_code == 0, found.output
        assert "workspace Example" in found.output and "users:read.email" in found.output
        assert "Slack user U0000001" in found.output
        missing = runner.invoke(args=["slack", "check", "nobody@example.org"])
        assert missing.exit_code == 1 and "go by email" in missing.output
        workspace.token = "xoxb-another"
        refused = runner.invoke(args=["slack", "check", "payments0@example.org"])
        assert refused.exit_code == 1 and "invalid_auth" in refused.output
        assert workspace.posts == []  # a check sends nothing
        dbmod.get_engine(app).dispose()


def test_slack_check_without_a_token(runner):
    result = runner.invoke(args=["slack", "check", "a@example.org"])
    assert result.exit_code == 1 and "AFTERCARE_SLACK_TOKEN is not set" in result.output


def test_outbox_flush_sends_through_slack_from_the_settings(tmp_path):
    workspace = Workspace()
    workspace.add(*[f"payments{i}@example.org" for i in range(3)])
    with slack_api(workspace) as url:
        app = slack_app(tmp_path, url)
        with dbmod.session_scope(app) as session:
            delivery.set_channel(session, "slack", True, app.config["AFTERCARE_NOW"])
            open_survey(session, app.extensions["aftercare.settings"],
                        app.extensions["aftercare.token_box"], people=4)
        result = app.test_cli_runner().invoke(args=["outbox", "flush"])
        assert result.exit_code == 0, result.output
        assert len(workspace.posts) == 3
        with dbmod.session_scope(app) as session:
            assert sorted(session.execute(select(OutboxMessage.channel,
                                                 OutboxMessage.status)).all()) == [
                ("email", "sent"), ("slack", "sent"), ("slack", "sent"), ("slack", "sent")]
        dbmod.get_engine(app).dispose()


def test_sso_check_when_sso_is_off(runner):
    result = runner.invoke(args=["sso", "check"])
    assert result.exit_code == 1 and "not configured" in result.output
    assert runner.invoke(args=["sso", "check", "--offline"]).exit_code == 0
