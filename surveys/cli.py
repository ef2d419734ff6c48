"""Command line: ``flask --app app <command>``. Each command calls one service."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import click
from flask import Flask, current_app, render_template
from flask.cli import AppGroup
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from analysis import language
from surveys import db as dbmod
from surveys import worker
from surveys.errors import DomainError
from surveys.mail import backend_from_url
from surveys.models import User
from surveys.outbox import Rendered
from surveys.services import admin, auth, lifecycle, retention
from surveys.web import now, settings, token_box

team_cli = AppGroup("team", help="Teams.")
person_cli = AppGroup("person", help="The roster of people who may be invited.")
user_cli = AppGroup("user", help="Accounts for managers, HR and admins.")
policy_cli = AppGroup("policy", help="The policy register.")
incident_cli = AppGroup("incident", help="Incidents and their surveys.")
surveys_cli = AppGroup("surveys", help="Survey lifecycle.")
outbox_cli = AppGroup("outbox", help="Sending queued email.")
db_cli = AppGroup("db", help="The database schema (Alembic migrations).")


def _fail(exc: DomainError) -> click.ClickException:
    details = "; ".join(f"{k}: {v}" for k, v in exc.fields.items())
    return click.ClickException(f"{exc.message} {details}".strip())


def _session():
    return dbmod.get_session()


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Create the database or bring it up to REVISION (default: the newest). Safe to run
    again; a database made by the old ``init-db`` is adopted as revision 0001."""
    before, after = dbmod.upgrade(dbmod.get_engine(current_app), revision)
    if before == after:
        click.echo(f"Database is at revision {after}; nothing to do.")
    else:
        click.echo(f"Database upgraded from {before or 'empty'} to revision {after}.")


@db_cli.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Go back to REVISION (``-1``: one step). Take a backup first: a downgrade drops
    what the newer revisions added."""
    reached = dbmod.downgrade(dbmod.get_engine(current_app), revision)
    click.echo(f"Database is at revision {reached or 'empty'}.")


@db_cli.command("current")
def db_current() -> None:
    """The database's revision and the newest one."""
    with dbmod.get_engine(current_app).connect() as connection:
        current = dbmod.current_revision(connection)
    head = dbmod.head_revision()
    state = "up to date" if current == head else "run `flask --app app db upgrade`"
    click.echo(f"database {current or 'empty'}, newest {head}: {state}")


@db_cli.command("check")
def db_check() -> None:
    """Fail when the models differ from what the migrations create."""
    differences = dbmod.differences()
    if differences:
        raise click.ClickException(
            "the models differ from the migrations; add a revision (`flask --app app db "
            "revision -m ...`):\n" + "\n".join(f"  {d}" for d in differences))
    click.echo(f"Models and migrations agree (revision {dbmod.head_revision()}).")


@db_cli.command("backup")
@click.argument("target", type=click.Path(dir_okay=False, writable=True))
def db_backup(target: str) -> None:
    """Copy the live SQLite database to TARGET (online: the app may keep running). For
    PostgreSQL use pg_dump; see docs/operations.md."""
    try:
        pages = dbmod.backup_sqlite(dbmod.get_engine(current_app), Path(target))
    except (ValueError, FileExistsError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Backed up {pages} pages to {target}. The secret key is not in it: keep "
               "AFTERCARE_SECRET_KEY (or instance/secret_key) apart, safely.")


@db_cli.command("revision")
@click.option("-m", "--message", required=True, help="What the revision does.")
@click.option("--empty", is_flag=True, help="Do not compare with the models; write by hand.")
def db_revision(message: str, empty: bool) -> None:
    """Write the next revision into migrations/versions, generated from the difference
    between the models and the newest revision. Read it and edit it before committing."""
    path = dbmod.new_revision(message, autogenerate=not empty)
    click.echo(f"Wrote {path}; check it, then run `flask --app app db upgrade`.")


@team_cli.command("add")
@click.argument("slug")
@click.argument("name")
@click.option("--parent", help="Slug of the parent team.")
def team_add(slug: str, name: str, parent: str | None) -> None:
    try:
        team = admin.add_team(_session(), slug, name, parent)
    except DomainError as exc:
        raise _fail(exc) from exc
    click.echo(f"Team {team.slug} added.")


@person_cli.command("add")
@click.argument("team")
@click.argument("email")
@click.option("--name", default="")
def person_add(team: str, email: str, name: str) -> None:
    try:
        person = admin.add_person(_session(), team, name, email)
    except DomainError as exc:
        raise _fail(exc) from exc
    click.echo(f"{person.email} is on the roster of {team}.")


@user_cli.command("add")
@click.argument("email")
@click.option("--name", default="")
@click.option("--role", type=click.Choice(["manager", "hr", "admin"]), required=True)
@click.option("--team", "teams", multiple=True, help="Team slug (managers); repeatable.")
@click.password_option()
def user_add(email: str, name: str, role: str, teams: tuple[str, ...], password: str) -> None:
    try:
        user = admin.add_user(_session(), email, name, password, role, teams)
    except DomainError as exc:
        raise _fail(exc) from exc
    click.echo(f"Account {user.email} ({user.role}) added.")


@user_cli.command("reset-2fa")
@click.argument("email")
def user_reset_2fa(email: str) -> None:
    """Clear an account's second factor and recovery codes (a lost phone); ends its sessions.

    HR and admin accounts are asked to set up a new one at their next sign-in.
    """
    session = _session()
    user = session.scalar(select(User).where(User.email == lifecycle.normalise_email(email)))
    if user is None:
        raise click.ClickException(f"No account {email}.")
    try:
        auth.clear_totp(session, user.id)
    except DomainError as exc:
        raise _fail(exc) from exc
    click.echo(f"Two-factor sign-in cleared for {user.email}.")


@policy_cli.command("set")
@click.argument("policies", nargs=-1)
def policy_set(policies: tuple[str, ...]) -> None:
    """Declare exactly POLICIES in force (ids from `flask policy list`)."""
    try:
        admin.set_policies(_session(), set(policies), now())
    except DomainError as exc:
        raise _fail(exc) from exc
    click.echo("In force: " + (", ".join(sorted(policies)) or "none"))


@policy_cli.command("list")
def policy_list() -> None:
    for policy, in_force in admin.policy_register(_session()):
        click.echo(f"[{'x' if in_force else ' '}] {policy.id:24} {policy.text}")


@incident_cli.command("add")
@click.argument("team")
@click.argument("title")
@click.option("--kind", default="availability", show_default=True)
@click.option("--severity", default="sev3", show_default=True)
@click.option("--closed-at", help="ISO date and time the incident closed (default: now).")
@click.option("--participant", "participants", multiple=True, required=True)
def incident_add(team, title, kind, severity, closed_at, participants) -> None:
    try:
        closed = datetime.fromisoformat(closed_at) if closed_at else now()
    except ValueError as exc:
        raise click.BadParameter("use ISO format, e.g. 2026-11-20T14:00", param_hint="--closed-at"
                                 ) from exc
    if closed.tzinfo is None:
        closed = closed.replace(tzinfo=UTC)
    data = lifecycle.NewIncident(team=team, title=title, kind=kind, severity=severity,
                                 closed_at=closed, participants=list(participants))
    try:
        survey = lifecycle.create_incident(_session(), data, settings(), token_box(), now())
    except DomainError as exc:
        raise _fail(exc) from exc
    click.echo(f"Incident {survey.incident_id} added; survey {survey.id} is {survey.status}, "
               f"opens {survey.opens_at:%Y-%m-%d %H:%M} UTC, closes "
               f"{survey.closes_at:%Y-%m-%d %H:%M} UTC.")


@surveys_cli.command("tick")
def surveys_tick() -> None:
    """Open what is due, queue reminders, close what has expired, decide ended periods; then
    delete raw responses past AFTERCARE_RETENTION_DAYS."""
    report = lifecycle.tick(_session(), token_box(), now(), settings())
    deleted = retention.apply(_session(), settings().retention_days, now())
    click.echo(f"opened {len(report.opened)}, reminders queued for {len(report.reminded)}, "
               f"closed {len(report.closed)}; periods decided: "
               f"{', '.join(report.decided.periods) or 'none'} "
               f"({report.decided.decisions} figures, {report.decided.released} released)"
               + (f"; raw responses deleted {deleted}" if deleted else ""))


@surveys_cli.command("close")
@click.argument("survey_id", type=int)
def surveys_close(survey_id: int) -> None:
    """Close a survey now and seal its answers."""
    try:
        survey = lifecycle.close_survey(_session(), survey_id, now())
    except DomainError as exc:
        raise _fail(exc) from exc
    click.echo(f"Survey {survey.id} is closed.")


def render_email(kind: str, survey, link: str) -> Rendered:
    context = {"kind": kind, "survey": survey, "incident": survey.incident, "link": link}
    subject = (f"A two-minute question about {survey.incident.title}"
               if kind == "invitation"
               else f"Reminder: a two-minute question about {survey.incident.title}")
    return Rendered(subject=subject,
                    text=render_template("email/survey.txt", **context),
                    html=render_template("email/survey.html", **context))


def render_slack(kind: str, survey, link: str) -> Rendered:
    """The Slack direct message: mrkdwn text with the link and the anonymity notice."""
    context = {"kind": kind, "survey": survey, "incident": survey.incident, "link": link}
    subject = (f"A two-minute question about {survey.incident.title}"
               if kind == "invitation"
               else f"Reminder: a two-minute question about {survey.incident.title}")
    return Rendered(subject=subject, text=render_template("slack/survey.txt", **context),
                    html="")


def flush_outbox(app: Flask) -> worker.PassReport:
    config = settings()
    backend = backend_from_url(config.mail_url, config.mail_from)
    report = worker.deliver(app, _session(), backend, render_email, worker.PassReport(),
                            slack=worker.slack_channel())
    click.echo(report.mail_line(), err=True)
    return report


@outbox_cli.command("flush")
def outbox_flush() -> None:
    """Send what is due, once. Exits 1 when any message could not be sent (it failed, waits
    for a retry, or the mail server was unreachable), so that cron reports it."""
    try:
        report = flush_outbox(current_app)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    if report.unsent:
        raise SystemExit(1)


@outbox_cli.command("run")
@click.option("--interval", default=10.0, show_default=True, help="Seconds between passes.")
def outbox_run(interval: float) -> None:
    """Keep sending; stop with Ctrl-C."""
    try:
        while True:
            try:
                flush_outbox(current_app)
            except ValueError as exc:  # a malformed AFTERCARE_MAIL
                raise click.ClickException(str(exc)) from exc
            except SQLAlchemyError as exc:  # the database restarting: try again next time
                click.echo(f"database unavailable ({type(exc).__name__}); trying again",
                           err=True)
                dbmod.discard_session()
            time.sleep(interval)
    except KeyboardInterrupt:
        click.echo("stopped")


@click.command("lint-review")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@click.option("--fail-on", type=click.Choice(list(language.SEVERITIES)), default="warning",
              show_default=True, help="Exit 1 when a finding is at least this severe.")
@click.option("--name", "names", multiple=True,
              help="A person's name to flag in the text; repeatable.")
def lint_review(file: str, fmt: str, fail_on: str, names: tuple[str, ...]) -> None:
    """Check a review draft (FILE, or - for stdin) for blame-loaded wording."""
    with click.open_file(file, "rb") as handle:
        raw = handle.read(MAX_LINT_BYTES + 1)
    if len(raw) > MAX_LINT_BYTES:
        raise click.ClickException(f"{file} is larger than {MAX_LINT_BYTES // 2**20} MB; "
                                   "check it in parts.")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise click.ClickException(f"{file} is not UTF-8 text.") from exc
    report = language.check(text, list(names))
    if fmt == "json":
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        _print_report(text, report)
    if any(language.severity_at_least(f.severity, fail_on) for f in report.findings):
        raise SystemExit(1)


MAX_LINT_BYTES = 8 * 2**20


def _print_report(text: str, report: language.Report) -> None:
    if report.notice:
        click.echo(report.notice)
    for finding in report.findings:
        line = text.count("\n", 0, finding.start) + 1
        column = finding.start - (text.rfind("\n", 0, finding.start) + 1) + 1
        click.echo(f"{line}:{column}: {finding.severity}: "
                   f"{language.CATEGORIES[finding.category]}: \"{finding.text}\"")
        click.echo(f"    {finding.explanation}")
        for suggestion in finding.suggestions:
            click.echo(f"    try: {suggestion}")
    counts = ", ".join(f"{language.CATEGORIES[c]} {n}" for c, n in report.summary.items() if n)
    click.echo(f"{len(report.findings)} finding(s)" + (f": {counts}" if counts else ""))
    click.echo(f"note: {report.limits[0]}")


def init_app(app: Flask) -> None:
    from surveys import cli_api, cli_channels
    from surveys.demo import demo_command

    app.cli.add_command(lint_review)
    app.cli.add_command(demo_command)
    for group in (db_cli, team_cli, person_cli, user_cli, policy_cli, incident_cli, surveys_cli,
                  outbox_cli):
        app.cli.add_command(group)
    cli_api.init_app(app)
    cli_channels.init_app(app)
