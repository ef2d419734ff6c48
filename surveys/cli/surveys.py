"""``incident add`` and ``surveys tick|close``: incidents and the survey lifecycle."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from analysis.exposure import INCIDENT_ROLES
from surveys.cli.common import CommandGroup, session
from surveys.runtime import now, settings, token_box
from surveys.services import lifecycle, retention

incident_cli = CommandGroup("incident", help="Incidents and their surveys.")
surveys_cli = CommandGroup("surveys", help="Survey lifecycle.")


@incident_cli.command("add")
@click.argument("team")
@click.argument("title")
@click.option("--kind", default="availability", show_default=True)
@click.option("--severity", default="sev3", show_default=True)
@click.option("--closed-at", help="ISO date and time the incident closed (default: now).")
@click.option("--participant", "participants", multiple=True, required=True)
@click.option("--role", "roles", multiple=True, metavar="'EMAIL: ROLE'",
              help="A participant's role in the incident, for the team's exposure figures "
                   f"({', '.join(INCIDENT_ROLES)}); repeatable.")
def incident_add(team, title, kind, severity, closed_at, participants, roles) -> None:
    try:
        closed = datetime.fromisoformat(closed_at) if closed_at else now()
    except ValueError as exc:
        raise click.BadParameter("use ISO format, e.g. 2026-11-20T14:00", param_hint="--closed-at"
                                 ) from exc
    if closed.tzinfo is None:
        closed = closed.replace(tzinfo=UTC)
    given, bad = lifecycle.parse_roles(roles)
    if bad:
        raise click.BadParameter("write 'email: role'; not understood: "
                                 + ", ".join(repr(b) for b in bad[:5]), param_hint="--role")
    data = lifecycle.NewIncident(team=team, title=title, kind=kind, severity=severity,
                                 closed_at=closed, participants=list(participants),
                                 roles=given or None)
    intake = lifecycle.intake_incident(session(), data, settings(), token_box(), now())
    survey = intake.survey
    click.echo(f"Incident {survey.incident_id} added; survey {survey.id} is {survey.status}, "
               f"opens {survey.opens_at:%Y-%m-%d %H:%M} UTC, closes "
               f"{survey.closes_at:%Y-%m-%d %H:%M} UTC.")
    added = [p.email for p in intake.participants if p.added_to_roster]
    if added:  # never silently: say who is now on the team's roster
        click.echo(f"Added to the roster of {team} (on no roster before): {', '.join(added)}")


@surveys_cli.command("tick")
def surveys_tick() -> None:
    """Open what is due, queue reminders, close what has expired, decide ended periods; then
    delete raw responses past AFTERCARE_RETENTION_DAYS."""
    report = lifecycle.tick(session(), token_box(), now(), settings())
    deleted = retention.apply(session(), settings().retention_days, now())
    click.echo(f"opened {len(report.opened)}, reminders queued for {len(report.reminded)}, "
               f"closed {len(report.closed)}; periods decided: "
               f"{', '.join(report.decided.periods) or 'none'} "
               f"({report.decided.decisions} figures, {report.decided.released} released)"
               + (f"; action reminders queued {report.actions_due}" if report.actions_due
                  else "")
               + (f"; raw responses deleted {deleted}" if deleted else ""))


@surveys_cli.command("close")
@click.argument("survey_id", type=int)
def surveys_close(survey_id: int) -> None:
    """Close a survey now and seal its answers."""
    survey = lifecycle.close_survey(session(), survey_id, now())
    click.echo(f"Survey {survey.id} is closed.")
