"""Admin pages: the policy register and the organisation (teams, people, accounts)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from analysis import items
from surveys.db import get_session
from surveys.errors import Conflict, InvalidInput, NotFound
from surveys.models import Person, Team, User
from surveys.runtime import now
from surveys.services import admin as service
from surveys.web.access import roles_required
from surveys.web.views.audit import record

bp = Blueprint("admin", __name__, url_prefix="/admin")


admin_required = roles_required("admin")


@bp.route("/policies", methods=["GET", "POST"])
@admin_required
def policies():
    db = get_session()
    if request.method == "POST":
        chosen = set(request.form.getlist("policy"))
        try:
            service.set_policies(db, chosen, now(), current_user.id)
        except InvalidInput as exc:
            db.rollback()
            flash(f"{exc.message} {exc.fields.get('policies', '')}", "error")
            return render_template("admin/policies.html", register=service.policy_register(db),
                                   items=items), 400
        record("admin.policies.set", detail=" ".join(sorted(chosen)))
        flash("The policy register is saved. Surveys that open from now on ask the matching "
              "practice checks.", "info")
        return redirect(url_for("admin.policies"))
    return render_template("admin/policies.html", register=service.policy_register(db),
                           items=items)


@bp.route("/organisation", methods=["GET", "POST"])
@admin_required
def organisation():
    db = get_session()
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        try:
            if request.form.get("action") == "team":
                service.add_team(db, request.form.get("slug", "").strip(),
                                 request.form.get("name", ""),
                                 request.form.get("parent") or None)
                record("admin.team.add", target=f"team:{request.form.get('slug', '')}")
                flash("Team added.", "info")
            elif request.form.get("action") == "person":
                service.add_person(db, request.form.get("team", ""),
                                   request.form.get("name", ""), request.form.get("email", ""))
                record("admin.person.save", target=f"team:{request.form.get('team', '')}")
                flash("Person saved to the roster.", "info")
            else:
                abort(400)
            return redirect(url_for("admin.organisation"))
        except (InvalidInput, Conflict, NotFound) as exc:
            db.rollback()
            errors = exc.fields or {"form": exc.message}
            status = 400
    teams = list(db.scalars(select(Team).order_by(Team.name)))
    people = list(db.scalars(select(Person).order_by(Person.email).limit(500)))
    users = list(db.scalars(select(User).order_by(User.email)))
    return render_template("admin/organisation.html", teams=teams, people=people, users=users,
                           errors=errors, values=request.form), status
