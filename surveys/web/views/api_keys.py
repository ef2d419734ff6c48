"""Pages around the API and the outbox: the admins' API keys and mail failures page, and the
participants' signed opt-out link (no login)."""

from __future__ import annotations

from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)

from surveys.db import get_session
from surveys.errors import InvalidInput, NotFound
from surveys.mail.outbox import failures_by_survey, read_optout_token
from surveys.models import API_SCOPES
from surveys.runtime import now
from surveys.services import apikeys, lifecycle
from surveys.web import csrf
from surveys.web.views.admin import admin_required
from surveys.web.views.audit import audited, record

bp = Blueprint("admin_api", __name__, url_prefix="/admin")
optout_bp = Blueprint("optout", __name__)


@bp.get("/api")
@admin_required
def keys():
    db = get_session()
    return render_template("admin_api/keys.html", keys=apikeys.list_keys(db),
                           failures=failures_by_survey(db), scopes=API_SCOPES, errors={},
                           values={})


@bp.post("/api")
@admin_required
def create():
    """Create a key as ``flask api-key create`` does; its secret is in this one response
    only (never in a flash message, which would keep it in the session cookie)."""
    db = get_session()
    scopes = [s[:40] for s in request.form.getlist("scope")[:10]]
    try:
        created = apikeys.create_key(db, request.form.get("name", "")[:200], scopes,
                                     request.form.get("signing") == "yes",
                                     current_app.extensions["aftercare.api_secret_box"], now())
    except InvalidInput as exc:
        db.rollback()
        return render_template("admin_api/keys.html", keys=apikeys.list_keys(db),
                               failures=failures_by_survey(db), scopes=API_SCOPES,
                               errors=exc.fields, values=request.form), 400
    record("admin.apikey.create", target=f"apikey:{created.key.id}")
    response = current_app.make_response(render_template(
        "admin_api/keys.html", keys=apikeys.list_keys(db), failures=failures_by_survey(db),
        scopes=API_SCOPES, errors={}, values={}, created=created))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/api/<id:key_id>/revoke")
@admin_required
@audited("admin.apikey.revoke", target="apikey:{key_id}")
def revoke(key_id: int):
    try:
        key = apikeys.revoke_key(get_session(), str(key_id), now())
    except NotFound:
        flash("No such API key.", "error")
    else:
        flash(f"The key {key.name} ({key.prefix}…) is revoked.", "info")
    return redirect(url_for("admin_api.keys"))


@optout_bp.get("/optout/<token>")
def optout_form(token: str):
    if read_optout_token(current_app.config["SECRET_KEY"], token) is None:
        return render_template("admin_api/optout.html", state="invalid"), 404
    return render_template("admin_api/optout.html", state="ask", token=token)


@optout_bp.post("/optout/<token>")
@csrf.exempt  # RFC 8058 one-click unsubscribe posts without a form; the signed link suffices
def optout(token: str):
    person_id = read_optout_token(current_app.config["SECRET_KEY"], token)
    if person_id is None or lifecycle.opt_out(get_session(), person_id) is None:
        return render_template("admin_api/optout.html", state="invalid"), 404
    return render_template("admin_api/optout.html", state="done")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.register_blueprint(optout_bp)
