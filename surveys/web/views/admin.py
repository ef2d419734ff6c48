"""Admin pages: the policy register, the organisation (teams, people) and accounts.

Accounts use the same service functions and audit actions as ``flask user add`` and
``flask user deactivate`` (surveys/cli/organisation.py)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from analysis import items
from surveys.db import get_session
from surveys.errors import Conflict, InvalidInput, NotFound
from surveys.models import ROLES, Person, Team, User
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


ROLE_WORDS = {"manager": "Manager (sees their teams)", "hr": "HR (sees every team)",
              "admin": "Admin (runs Aftercare)"}


@bp.route("/accounts", methods=["GET", "POST"])
@admin_required
def accounts():
    """Create accounts (role, teams, a first password they change) and list them."""
    db = get_session()
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        teams = request.form.getlist("teams")
        try:
            user = service.add_user(db, request.form.get("email", "")[:254],
                                    request.form.get("name", "")[:120],
                                    request.form.get("password", "")[:1000],
                                    request.form.get("role", ""), teams[:200])
        except (InvalidInput, Conflict, NotFound) as exc:
            db.rollback()
            errors = _account_errors(exc)
            status = 400
        else:
            record("admin.user.add", target=f"user:{user.id}")
            flash(f"Account {user.email} ({user.role}) added. Give them the first password "
                  "by a separate channel; they can change it under Account.", "info")
            return redirect(url_for("admin.accounts"))
    values = {k: v for k, v in request.form.items() if k != "password"}
    return render_template("admin/accounts.html", users=service.accounts(db),
                           teams=list(db.scalars(select(Team).order_by(Team.name))),
                           roles=ROLES, role_words=ROLE_WORDS, errors=errors, values=values,
                           chosen=set(request.form.getlist("teams"))), status


def _account_errors(exc) -> dict[str, str]:
    fields = dict(exc.fields or {})
    if "team" in fields:
        fields["teams"] = fields.pop("team")
    return fields or {"email": exc.message}


@bp.post("/accounts/<id:user_id>/active")
@admin_required
def account_active(user_id: int):
    """Deactivate or reactivate an account (``active`` = "no" or "yes")."""
    wanted = request.form.get("active") == "yes"
    action = "admin.user.reactivate" if wanted else "admin.user.deactivate"
    try:
        user = service.set_active(get_session(), user_id, wanted, current_user.id)
    except NotFound:
        abort(404)
    except Conflict as exc:
        record(action, target=f"user:{user_id}", allowed=False, detail=exc.message)
        flash(exc.message, "error")
    else:
        record(action, target=f"user:{user.id}")
        flash(f"Account {user.email} is {'active again' if wanted else 'deactivated'}.",
              "info")
    return redirect(url_for("admin.accounts"))
