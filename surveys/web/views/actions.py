"""Actions from flags: the form to record one from a team's or an incident's flag, and the
status change on the team page. The service (``surveys.services.actions``) validates, writes
and audits in one transaction; the language check's suggestions are shown before saving."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from analysis import items
from surveys.db import get_session
from surveys.errors import InvalidInput, NotFound
from surveys.models import ACTION_STATUSES
from surveys.runtime import now
from surveys.services import actions
from surveys.services.access import RESULT_ROLES, find_team
from surveys.web.access import roles_required
from surveys.web.views.audit import audited

bp = Blueprint("actions", __name__)


def _date(raw: str, errors: dict[str, str]) -> date | None:
    if not raw.strip():
        return None
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        errors["due_on"] = "Enter the date as YYYY-MM-DD, e.g. 2026-12-18."
        return None


@bp.route("/teams/<slug:slug>/actions/new", methods=["GET", "POST"])
@roles_required(*RESULT_ROLES)
@audited("action.form", target="team:{slug}")
def new(slug: str):
    db = get_session()
    team = find_team(db, slug, current_user)
    flags = actions.team_flags(db, team.id)
    key = request.values.get("flag", "")
    chosen = next((f for f in flags if f.key == key), None)
    values = request.form if request.method == "POST" else {}
    errors: dict[str, str] = {}
    findings = ()
    if request.method == "POST":
        due_on = _date(request.form.get("due_on", ""), errors)
        text = request.form.get("text", "")[:actions.MAX_TEXT * 2]
        data = actions.NewAction(
            team=team.slug, flag=key, text=text, owner=request.form.get("owner", ""),
            due_on=due_on, construct=request.form.get("construct") or None,
            status=request.form.get("status", "open"))
        if not errors:
            try:
                actions.validate(db, data, now().date())
            except InvalidInput as exc:
                errors = dict(exc.fields)
            finally:
                db.rollback()
        if not errors and request.form.get("keep") != "yes":
            findings = actions.language_findings(db, team.id, text)
        if not errors and not findings:
            try:
                actions.record_action(db, current_user, data, now())
            except InvalidInput as exc:
                errors = dict(exc.fields)
            else:
                flash("Action recorded.", "info")
                return redirect(url_for("hr.team", slug=team.slug) + "#actions")
    status = 400 if errors else 200
    return render_template(
        "actions/new.html", team=team, flags=flags, chosen=chosen, key=key, values=values,
        errors=errors, findings=findings, owners=actions.owner_choices(db),
        constructs=items.CONSTRUCTS, statuses=actions.STATUS_LABELS,
        today=now().date().isoformat()), status


@bp.post("/teams/<slug:slug>/actions/<id:action_id>/status")
@roles_required(*RESULT_ROLES)
@audited("action.status.form", target="action:{action_id}")
def status(slug: str, action_id: int):
    db = get_session()
    team = find_team(db, slug, current_user)
    chosen = request.form.get("status", "")
    row = actions.get_action(db, current_user, action_id)
    if row.team_id != team.id:
        raise NotFound("No such action.")
    db.rollback()
    if chosen not in ACTION_STATUSES:
        flash("Choose one of the statuses offered.", "error")
    else:
        actions.set_status(db, current_user, action_id, chosen, now())
        flash(f"Status changed to {actions.STATUS_LABELS[chosen].lower()}.", "info")
    return redirect(url_for("hr.team", slug=team.slug) + "#actions")
