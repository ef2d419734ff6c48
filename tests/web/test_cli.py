"""The command line, through Flask's CLI runner."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path

import click
import pytest
from sqlalchemy import func, select

from support import PASSWORD
from support.app import make_app
from surveys import db as dbmod
from surveys.models import Incident, OutboxMessage, PeriodDecision, Survey, Team, User
from surveys.tokens import hash_token


def test_organisation_from_the_command_line(runner, db):
    assert runner.invoke(args=["team", "add", "payments", "Payments"]).exit_code == 0
    duplicate = runner.invoke(args=["team", "add", "payments", "Again"])
    assert duplicate.exit_code != 0 and "already exists" in duplicate.output
    bad = runner.invoke(args=["team", "add", "Bad Slug", "X"])
    assert bad.exit_code != 0 and "slug" in bad.output
    assert runner.invoke(args=["person", "add", "payments", "a@example.org",
                               "--name", "Ada"]).exit_code == 0
    result = runner.invoke(args=["user", "add", "m@example.org", "--role", "manager",
                                 "--team", "payments"], input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    short = runner.invoke(args=["user", "add", "h@example.org", "--role", "hr"],
                          input="short\nshort\n")
    assert short.exit_code != 0 and "at least 12 characters" in short.output
    assert runner.invoke(args=["policy", "set", "blameless", "neutral_author"]).exit_code == 0
    listing = runner.invoke(args=["policy", "list"]).output
    assert "[x] blameless" in listing and "[ ] leaders_share" in listing
    assert runner.invoke(args=["policy", "set", "nonsense"]).exit_code != 0
    db.rollback()
    assert db.scalar(select(Team.slug)) == "payments"
    assert db.scalar(select(User.role)) == "manager"


def test_incident_tick_and_outbox_to_files(tmp_path, sqlite_url):
    outdir = tmp_path / "mail"
    app = make_app(sqlite_url, AFTERCARE_MAIL=f"file://{outdir}",
                   AFTERCARE_OPEN_DELAY="24h")
    runner = app.test_cli_runner()
    runner.invoke(args=["team", "add", "payments", "Payments"])
    result = runner.invoke(args=["incident", "add", "payments", "Queue stalled",
                                 "--closed-at", "2026-11-20T10:00", "--participant",
                                 "a@example.org", "--participant", "b@example.org"])
    assert result.exit_code == 0, result.output
    assert "scheduled" in result.output
    # nobody was on a roster: the command says who it added, never silently
    assert "Added to the roster of payments" in result.output
    assert "a@example.org, b@example.org" in result.output
    bad = runner.invoke(args=["incident", "add", "payments", "X", "--closed-at", "soon",
                              "--participant", "a@example.org"])
    assert bad.exit_code != 0
    app.config["AFTERCARE_NOW"] = datetime(2026, 11, 21, 11, tzinfo=UTC)
    assert "opened 1" in runner.invoke(args=["surveys", "tick"]).output
    assert runner.invoke(args=["outbox", "flush"]).exit_code == 0
    files = sorted(outdir.iterdir())
    assert len(files) == 2
    message = message_from_bytes(files[0].read_bytes(), policy=default_policy)
    body = message.get_body(("plain",)).get_content()
    link = next(line for line in body.splitlines() if "/s/" in line).strip()
    assert link.startswith("http://127.0.0.1:5000/s/")
    with dbmod.session_scope(app) as session:
        token_hashes = {hash_token(link.rsplit("/", 1)[1])}
        from surveys.models import Ballot

        assert token_hashes <= set(session.scalars(select(Ballot.token_hash)))
        assert session.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.status == "sent")) == 2
    # a second flush sends nothing twice
    runner.invoke(args=["outbox", "flush"])
    assert len(list(outdir.iterdir())) == 2
    survey_id = 1
    assert "closed" in runner.invoke(args=["surveys", "close", str(survey_id)]).output
    assert runner.invoke(args=["surveys", "close", "999"]).exit_code != 0
    dbmod.get_engine(app).dispose()


def test_console_backend_prints_the_link(runner, app, capfd):
    runner.invoke(args=["team", "add", "payments", "Payments"])
    runner.invoke(args=["incident", "add", "payments", "Queue", "--participant",
                        "a@example.org", "--closed-at", "2026-11-20T10:00"])
    result = runner.invoke(args=["outbox", "flush"])
    printed = result.output + capfd.readouterr().out
    assert "http://127.0.0.1:5000/s/" in printed


def test_bad_mail_setting_is_a_clear_error(tmp_path, sqlite_url):
    app = make_app(sqlite_url, AFTERCARE_MAIL="carrier-pigeon://loft")
    result = app.test_cli_runner().invoke(args=["outbox", "flush"])
    assert result.exit_code != 0 and "AFTERCARE_MAIL" in result.output
    dbmod.get_engine(app).dispose()


def test_demo_organisation(runner, db):
    result = runner.invoke(args=["demo", "--no-mail"])
    assert result.exit_code == 0, result.output
    assert "maria@example.org" in result.output
    assert db.scalar(select(func.count()).select_from(Team)) >= 7  # six and their parent
    surveys = list(db.scalars(select(Survey)))
    closed = [s for s in surveys if s.status == "closed"]
    assert len(closed) >= 40
    assert [s.status for s in surveys].count("open") == 1
    assert any(s.respondents < s.min_group for s in closed)  # pooled small incidents
    assert sum(s.respondents >= s.min_group for s in closed) >= 36
    assert len({i.kind for i in db.scalars(select(Incident))}) >= 3
    closed_at = [i.closed_at for i in db.scalars(select(Incident))]
    now = datetime.now(UTC)
    assert min(closed_at) >= now - timedelta(days=640)  # eighteen months of quarters
    assert max(closed_at) - min(closed_at) >= timedelta(days=480)
    # the release decisions are recorded, as the worker records them
    assert db.scalar(select(func.count()).select_from(PeriodDecision)) >= 12
    assert "Unanswered links to the open survey" in result.output
    db.rollback()  # hold no snapshot while the demo reloads: closes checkpoint the WAL
    again = runner.invoke(args=["demo"])
    assert again.exit_code != 0 and "--reset" in again.output
    assert runner.invoke(args=["demo", "--reset", "--no-mail"]).exit_code == 0


def test_secret_key_is_generated_once_into_instance(tmp_path, monkeypatch):
    from surveys.config import load_secret_key

    monkeypatch.delenv("AFTERCARE_SECRET_KEY", raising=False)
    first = load_secret_key(tmp_path)
    assert first == load_secret_key(tmp_path)
    assert (Path(tmp_path) / "secret_key").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("variable, value", [("AFTERCARE_MIN_GROUP", "2"),
                                             ("AFTERCARE_OPEN_DELAY", "tomorrow")])
def test_bad_configuration_stops_start_up_with_the_variable_named(sqlite_url, variable, value):
    from surveys.config import ConfigError

    with pytest.raises(ConfigError, match=variable):
        make_app(sqlite_url, **{variable: value})


def test_reset_two_factor(runner, db, org):
    from surveys.services import auth

    result = runner.invoke(args=["user", "reset-2fa", "hr@example.org"])
    assert result.exit_code == 0, result.output
    db.rollback()
    assert not auth.has_totp(db.scalar(select(User).where(User.email == "hr@example.org")))
    assert runner.invoke(args=["user", "reset-2fa", "nobody@example.org"]).exit_code != 0


def test_api_key_changes_from_the_command_line_are_audited(runner, db):
    from surveys.models import AuditEvent

    created = runner.invoke(args=["api-key", "create", "pager", "--scope", "results:read"])
    assert created.exit_code == 0, created.output
    key_id = created.output.split("API key ", 1)[1].split(" ", 1)[0]
    assert runner.invoke(args=["api-key", "revoke", key_id]).exit_code == 0
    db.rollback()
    actions = [(e.action, e.actor, e.target) for e in db.scalars(select(AuditEvent))]
    assert ("admin.apikey.create", "command line", f"apikey:{key_id}") in actions
    assert ("admin.apikey.revoke", "command line", f"apikey:{key_id}") in actions


def test_surveys_close_follows_the_one_closing_rule_and_tick_decides(runner, db, org,
                                                                    settings, box):
    """The command line closes by the same rule as the page and the API: a survey that has
    not opened cannot be closed; the tick decides ended periods and says so."""
    from support import open_survey
    from surveys.services import lifecycle

    data = lifecycle.NewIncident(team="payments", title="Later", kind="data", severity="sev3",
                                 closed_at=datetime(2026, 11, 20, 11, tzinfo=UTC),
                                 participants=["payments1@example.org"],
                                 open_delay=timedelta(days=2))
    scheduled = lifecycle.create_incident(db, data, settings, box,
                                          datetime(2026, 11, 20, 11, 30, tzinfo=UTC))
    refused = runner.invoke(args=["surveys", "close", str(scheduled.id)])
    assert refused.exit_code != 0 and "has not opened yet" in refused.output
    db.rollback()
    assert db.get(Survey, scheduled.id).status == "scheduled"
    survey, _tokens = open_survey(db, settings, box, team="platform")
    closed = runner.invoke(args=["surveys", "close", str(survey.id)])
    assert closed.exit_code == 0 and "is closed" in closed.output
    ticked = runner.invoke(args=["surveys", "tick"])
    assert ticked.exit_code == 0 and "periods decided: none" in ticked.output


def test_demo_tells_its_stories_and_prints_unanswered_links_again(runner, db, app):
    """The demo's stories can be seen, and ``demo-links`` prints three unanswered links
    again (a link someone has since used is left out)."""
    from surveys.services import overview, periods

    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    links = [line.strip() for line in result.output.splitlines()
             if line.strip().startswith("http") and "/s/" in line]
    assert len(links) == 3
    db.rollback()
    now = datetime.now(UTC)
    teams = {t.slug: t for t in db.scalars(select(Team))}
    payments = periods.team_periods(db, teams["payments"], "quarter", now, 5)
    shown = [p for p in payments.periods if p.released]
    assert shown[-1].pct("leadership") > shown[0].pct("leadership") + 20  # improving
    platform = periods.team_periods(db, teams["platform"], "quarter", now, 5)
    assert any(f.kind == "social_cost" or "social cost" in f.what_was_seen
               for f in platform.flags)
    data = periods.team_periods(db, teams["data"], "quarter", now, 5)
    assert any(f.kind == "policy_gap" and f.subject == "neutral_author" for f in data.flags)
    view = overview.overview(db, 5)
    assert all(row.shown for row in view.heatmap if row.team.slug != "engineering")
    assert sum(1 for _ in db.scalars(select(OutboxMessage).where(
        OutboxMessage.status == "failed"))) == 1  # the bounced invitation
    db.rollback()
    client = app.test_client()
    form = client.get(links[0].split("127.0.0.1:5000")[1], follow_redirects=True)
    assert form.status_code == 200 and "Send my answers" in form.text  # unanswered
    again = runner.invoke(args=["demo-links"])
    assert again.exit_code == 0 and again.output.count("/s/") == 3
    assert "maria@example.org" in again.output


def test_every_command_group_ends_a_domain_error_with_its_fields_named(app, runner):
    from surveys.cli.common import CommandGroup

    groups = [c for c in app.cli.commands.values() if isinstance(c, click.Group)]
    assert len(groups) >= 10 and all(isinstance(g, CommandGroup) for g in groups)
    result = runner.invoke(args=["person", "add", "no-such-team", "ada@example.org"])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert "team: no team with slug 'no-such-team'" in result.output


def test_incident_add_takes_roles_by_the_forms_rule(runner, db, org):
    from surveys.models import IncidentParticipant, Person

    args = ["incident", "add", "payments", "Queue stalled", "--participant", "ana@example.org",
            "--participant", "ben@example.org"]
    bad = runner.invoke(args=[*args, "--role", "ana@example.org commander"])
    assert bad.exit_code == 2 and "email: role" in bad.output
    unknown = runner.invoke(args=[*args, "--role", "ana@example.org: hero",
                                  "--role", "zoe@example.org: observer"])
    assert unknown.exit_code == 1
    assert "roles.ana@example.org: 'hero' is not a role" in unknown.output
    assert "roles.zoe@example.org: zoe@example.org is not a participant" in unknown.output
    assert db.scalar(select(func.count()).select_from(Incident)) == 0
    done = runner.invoke(args=[*args, "--role", "Ana@example.org: Commander"])
    assert done.exit_code == 0, done.output
    db.rollback()  # a fresh snapshot: the command wrote through its own session
    rows = db.execute(select(Person.email, IncidentParticipant.role)
                      .join(IncidentParticipant, IncidentParticipant.person_id == Person.id))
    roles = {email: role for email, role in rows}
    assert roles == {"ana@example.org": "commander", "ben@example.org": None}
