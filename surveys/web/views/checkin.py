"""The confidential check-in request from the thank-you page: ``POST /s/checkin``.

Works without the ballot (it is already spent): the submit put a one-time nonce and the
survey id in the participant's signed session; this view hands them to the service, which
stores the request apart from every answer. Nothing is sent now; the support contact gets
the survey's requests in one batch when it closes.
"""

from __future__ import annotations

from flask import Blueprint, render_template, request, session

from surveys.db import get_session
from surveys.errors import Conflict, InvalidInput, SurveyNotOpen
from surveys.runtime import settings
from surveys.services import checkin as service

bp = Blueprint("checkin", __name__)


def contact_box() -> service.ContactBox:
    from flask import current_app

    box = current_app.extensions.get("aftercare.contact_box")
    if box is None:
        box = current_app.extensions["aftercare.contact_box"] = service.ContactBox(
            current_app.config["SECRET_KEY"])
    return box


def _pending() -> tuple[int, str] | None:
    value = session.get(service.SESSION_KEY)
    if not isinstance(value, dict):
        return None
    survey_id, nonce = value.get("survey"), value.get("nonce")
    if isinstance(survey_id, int) and isinstance(nonce, str) and 20 <= len(nonce) <= 64:
        return survey_id, nonce
    return None


def _page(status: int = 200, **context):
    return render_template("participant/thanks.html", **context), status


@bp.post("/s/checkin")
def ask():
    pending = _pending()
    config = settings()
    if pending is None or not config.support_contact:
        return _page(404, checkin_unavailable=True)
    if request.form.get("choice") == "no":
        session.pop(service.SESSION_KEY, None)
        return _page(declined=True)
    survey_id, nonce = pending
    try:
        service.request_checkin(get_session(), contact_box(), config, survey_id, nonce,
                                request.form.get("contact", ""))
    except InvalidInput as exc:
        return _page(400, errors=exc.fields, contact_value=request.form.get("contact", "")[:300])
    except SurveyNotOpen:
        session.pop(service.SESSION_KEY, None)
        return _page(409, survey_closed=True)
    except Conflict:
        session.pop(service.SESSION_KEY, None)
        return _page(409, already_asked=True)
    session.pop(service.SESSION_KEY, None)
    return _page(requested=True)
