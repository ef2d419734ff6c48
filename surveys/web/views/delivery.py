"""Admin page: how invitations and reminders go out (email, Slack, or both)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from surveys.db import get_session
from surveys.errors import InvalidInput
from surveys.runtime import now, settings
from surveys.services import delivery as service
from surveys.web.access import roles_required
from surveys.web.views.audit import record

bp = Blueprint("delivery", __name__, url_prefix="/admin")


@bp.route("/delivery", methods=["GET", "POST"])
@roles_required("admin")
def choose():
    db = get_session()
    errors: dict[str, str] = {}
    if request.method == "POST":
        choice = request.form.get("delivery", "")[:16]
        try:
            service.set_channel(db, choice, bool(settings().slack_token), now(), current_user.id)
        except InvalidInput as exc:
            errors = exc.fields
        else:
            record("admin.delivery.set", detail=choice)
            flash(f"Invitations and reminders queued from now on go by {choice}.", "info")
            return redirect(url_for("delivery.choose"), code=303)
    return render_template("delivery/choose.html", current=service.current(db),
                           choices=service.CHOICES, slack=bool(settings().slack_token),
                           errors=errors), 400 if errors else 200
