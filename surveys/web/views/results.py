"""Managers' and HR's pages: incidents, survey state and released results."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_login import current_user

from surveys.db import get_session
from surveys.errors import Conflict, InvalidInput
from surveys.models import INCIDENT_KINDS, SEVERITIES, Team
from surveys.runtime import now, settings, token_box
from surveys.services import lifecycle, results
from surveys.services.access import RESULT_ROLES
from surveys.web.access import roles_required
from surveys.web.views.audit import audited, note_release, record

bp = Blueprint("results", __name__)


@bp.get("/incidents")
@roles_required(*RESULT_ROLES)
@audited("results.list")
def incidents():
    db = get_session()
    incidents = results.incidents_for(db, current_user)
    decisions = results.decisions_for(db, [i.survey for i in incidents if i.survey])
    return render_template("results/incidents.html", incidents=incidents, decisions=decisions)


@bp.get("/incidents/<id:incident_id>")
@roles_required(*RESULT_ROLES)
@audited("results.view", target="incident:{incident_id}")
def incident(incident_id: int):
    db = get_session()
    survey = results.survey_for_incident(db, current_user, incident_id)
    result = results.survey_results(db, survey, pool_grain=settings().pool_period)
    note_release(result.decision.allowed, result.decision.reason)
    return render_template("results/incident.html", incident=survey.incident, result=result)


@bp.post("/incidents/<id:incident_id>/learning")
@roles_required(*RESULT_ROLES)
@audited("incident.learning", target="incident:{incident_id}")
def learning(incident_id: int):
    db = get_session()
    try:
        results.record_learning(db, current_user, incident_id,
                                request.form.get("system_changes", "")[:10],
                                request.form.get("repeat", "")[:10])
    except InvalidInput as exc:
        survey = results.survey_for_incident(db, current_user, incident_id)
        return render_template("results/incident.html", incident=survey.incident,
                               result=results.survey_results(
                                   db, survey, pool_grain=settings().pool_period),
                               learning_errors=exc.fields, learning_values=request.form), 400
    flash("Learning outcomes saved.", "info")
    return redirect(url_for("results.incident", incident_id=incident_id))


@bp.get("/incidents/<id:incident_id>/close/confirm")
@roles_required(*RESULT_ROLES)
def close_confirm(incident_id: int):
    """The confirm step before closing early: what will happen, from what the incident page
    already shows (invited, the minimum, whether it was reached; never a running count)."""
    db = get_session()
    survey = results.survey_for_incident(db, current_user, incident_id)
    if not survey.is_open:
        flash("Only an open survey can be closed.", "info")
        return redirect(url_for("results.incident", incident_id=incident_id))
    result = results.survey_results(db, survey, pool_grain=settings().pool_period)
    return render_template("results/close.html", incident=survey.incident, result=result)


@bp.post("/incidents/<id:incident_id>/close")
@roles_required(*RESULT_ROLES)
@audited("survey.close", target="incident:{incident_id}")
def close(incident_id: int):
    db = get_session()
    survey = results.survey_for_incident(db, current_user, incident_id)
    if survey.is_closed:
        flash("This survey is already closed.", "info")
        return redirect(url_for("results.incident", incident_id=incident_id))
    if request.form.get("confirm") != "yes":
        g.audit_guard = (False, "not confirmed")
        return redirect(url_for("results.close_confirm", incident_id=incident_id))
    try:
        lifecycle.close_survey(db, survey.id, now())
    except Conflict as exc:
        flash(exc.message, "error")
    else:
        flash("The survey is closed and its answers are sealed.", "info")
    return redirect(url_for("results.incident", incident_id=incident_id))


def _team_choices(db):
    team_ids = results.visible_team_ids(db, current_user)
    return [db.get(Team, t) for t in team_ids]


@bp.route("/incidents/new", methods=["GET", "POST"])
@roles_required(*RESULT_ROLES)
def new_incident():
    """Add an incident. Every problem is found in one pass and named by its field; an
    address on no roster is added only when the manager ticks the box that says so."""
    db = get_session()
    teams = _team_choices(db)
    values = request.form if request.method == "POST" else {}
    errors: dict[str, str] = {}
    unknown: list[str] = []
    if request.method == "POST":
        slug = request.form.get("team", "")
        if slug and slug not in {t.slug for t in teams}:
            abort(403)
        closed_at = _parse_local_datetime(request.form.get("closed_at", ""), errors)
        participants = [p for p in request.form.get("participants", "").replace(",", "\n")
                        .splitlines() if p.strip()]
        roles = _parse_roles(request.form.get("roles", ""), errors)
        data = lifecycle.NewIncident(
            team=slug, title=request.form.get("title", "")[:500],
            kind=request.form.get("kind", ""), severity=request.form.get("severity", ""),
            closed_at=closed_at or now(), participants=participants, roles=roles,
        )
        try:
            lifecycle.validate_incident(db, data, now())
        except InvalidInput as exc:
            for name, message in _participant_errors(exc.fields, participants).items():
                errors.setdefault(name, message)
        unknown = lifecycle.unknown_emails(db, participants) if "participants" not in errors \
            else []
        db.rollback()
        if unknown and request.form.get("add_unknown") != "yes":
            errors["participants"] = (
                f"{len(unknown)} address{'es are' if len(unknown) > 1 else ' is'} on no "
                f"roster: {', '.join(unknown[:10])}{' …' if len(unknown) > 10 else ''}. "
                "Correct them, or tick the box below to add them to the team's roster.")
        if not errors:
            try:
                intake = lifecycle.intake_incident(db, data, settings(), token_box(), now())
                survey = intake.survey
            except InvalidInput as exc:
                db.rollback()
                errors = _participant_errors(exc.fields, participants)
            else:
                record("incident.add", target=f"incident:{survey.incident_id}")
                _flash_intake(intake)
                return redirect(url_for("results.incident", incident_id=survey.incident_id))
    status = 400 if errors else 200
    return render_template("results/new_incident.html", teams=teams, kinds=INCIDENT_KINDS,
                           severities=SEVERITIES, errors=errors, values=values,
                           unknown=unknown, min_group=settings().min_group), status


def _flash_intake(intake: lifecycle.IntakeResult) -> None:
    """Say what happened: how many were invited, when it opens, who was not invited and
    why, and what a survey below the minimum means."""
    survey = intake.survey
    invited = [p for p in intake.participants if p.status == "invited"]
    flash(f"Incident added. {len(invited)} "
          f"{'person' if len(invited) == 1 else 'people'} invited; its survey opens "
          f"{survey.opens_at:%d %b %Y %H:%M} UTC.", "info")
    added = [p.email for p in intake.participants if p.added_to_roster]
    if added:
        flash("Added to the team's roster, as you asked: " + ", ".join(added), "info")
    skipped = [p.email for p in intake.participants if p.status == "not_invited"]
    if skipped:
        flash("Not invited, to spare them survey fatigue or because they opted "
              "out: " + ", ".join(skipped), "info")
    if len(invited) < survey.min_group:
        flash(f"Fewer people were invited than the minimum of {survey.min_group}, so this "
              "incident's results can never be shown on their own. Its answers still count: "
              "they are pooled with the team's other incidents of the period, and shown once "
              "the pool has enough people.", "warning")


def _participant_errors(fields: dict[str, str], participants: list[str]) -> dict[str, str]:
    errors = {k: v for k, v in fields.items()
              if not k.startswith("participants[") and not k.startswith("roles.")}
    listed = [v for k, v in fields.items() if k.startswith("participants[")]
    if listed:
        errors["participants"] = "; ".join(listed[:5])
    roles = [v for k, v in fields.items() if k.startswith("roles.")]
    if roles:
        errors["roles"] = "; ".join(roles[:10])
    return errors


def _parse_roles(raw: str, errors: dict[str, str]) -> dict[str, str]:
    """Optional roles, one ``email: role`` per line (the service checks the meaning)."""
    roles, bad = lifecycle.parse_roles(raw.splitlines()[:lifecycle.MAX_PARTICIPANTS + 1])
    if bad:
        errors["roles"] = ("write one 'email: role' per line; not understood: "
                           + ", ".join(repr(b) for b in bad[:5]))
    return roles


def _parse_local_datetime(raw: str, errors: dict[str, str]) -> datetime | None:
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        errors["closed_at"] = "Enter the date and time the incident closed."
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    if value > now() + timedelta(minutes=5):
        errors["closed_at"] = "The incident cannot have closed in the future."
    return value
