"""Participant pages: the single-use link, the form, the thank-you page.

``GET /s/<token>`` keeps only the token's hash, in the session, and redirects to ``/s`` so the
token leaves the address bar (and every later Referer and log line) at once.

Guessing is limited where a guess shows: every lookup of ``/s`` that finds no ballot counts
one miss for the client address (``surveys.web.limits.count_link_miss``), and over the limit the
miss is answered 429. A lookup that finds its ballot is never counted nor refused, so people
with valid links behind one address are never locked out by someone else's misses.
"""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_wtf.csrf import generate_csrf

from analysis import items
from surveys.db import get_session
from surveys.errors import InvalidInput, SurveyNotOpen, TokenSpent, TokenUnknown
from surveys.models import SurveyStatus
from surveys.runtime import settings
from surveys.services import checkin
from surveys.services import participant as service
from surveys.tokens import hash_token, looks_like_hash, looks_like_token
from surveys.web.limits import count_link_miss

bp = Blueprint("participant", __name__)

SESSION_KEY = "ballot"
SURVEY_KEY = "survey"  # lets a form that outlived its survey say "closed", not "not valid"


@bp.get("/s/<token>")
def arrive(token: str):
    if not looks_like_token(token):
        return _not_valid()
    session[SESSION_KEY] = hash_token(token)
    session.pop(SURVEY_KEY, None)  # a new link never inherits the closed page of an old form
    return redirect(url_for("participant.form"), code=303)


def _not_valid():
    return render_template("participant/not_valid.html"), 404


def _miss():
    """No ballot for this request: count the miss (429 once over the limit), then "not valid"."""
    count_link_miss()
    return _not_valid()


def _closed_or_not_valid():
    """The ballot is gone: if this browser had the form open, its survey has since closed.
    Either way it is a miss, counted like any other."""
    count_link_miss()
    survey_id = session.get(SURVEY_KEY)
    if isinstance(survey_id, int) and \
            service.survey_status(get_session(), survey_id) == SurveyStatus.CLOSED:
        session.pop(SESSION_KEY, None)
        return render_template("participant/not_open.html", closed=True), 409
    return _not_valid()


def _current_hash() -> str | None:
    value = session.get(SESSION_KEY)
    return value if isinstance(value, str) and looks_like_hash(value) else None


def _render_form(survey, errors=None, values=None, status=200, csrf=None):
    practices = tuple(items.PRACTICE_BY_ID[p] for p in survey.practices
                      if p in items.PRACTICE_BY_ID)
    extra = {"csrf_token": csrf} if csrf is not None else {}
    return render_template(
        "participant/form.html", survey=survey, items=items, practices=practices,
        errors=errors or {}, values=values or {}, **extra,
    ), status


# The blank form of an open survey is the same page for every participant but for its CSRF
# field: it is rendered once per process and survey, with a placeholder there. Only for
# visitors without an account session or flashed messages (those pages differ per person).
_FORM_CACHE: dict[tuple, str] = {}
_FORM_CACHE_SIZE = 64
_CSRF_PLACEHOLDER = "csrf-placeholder-5f1c0e"


def _blank_form(ballot: service.BallotView):
    if "_user_id" in session or "_flashes" in session:
        return _render_form(service.survey_for_form(get_session(), ballot.survey_id))
    key = (ballot.survey_id, ballot.title, ballot.practices, ballot.min_group)
    page = _FORM_CACHE.get(key)
    if page is None:
        survey = service.survey_for_form(get_session(), ballot.survey_id)
        page = _render_form(survey, csrf=lambda: _CSRF_PLACEHOLDER)[0]
        if len(_FORM_CACHE) >= _FORM_CACHE_SIZE:
            _FORM_CACHE.clear()
        _FORM_CACHE[key] = page
    return page.replace(_CSRF_PLACEHOLDER, generate_csrf())


@bp.get("/s")
def form():
    token_hash = _current_hash()
    if token_hash is None:
        return _miss()
    try:
        ballot = service.find_ballot(get_session(), token_hash)
    except TokenUnknown:
        return _miss()
    if ballot.spent:
        return render_template("participant/already.html"), 409
    if ballot.status != SurveyStatus.OPEN:
        return render_template("participant/not_open.html",
                               closed=ballot.status == SurveyStatus.CLOSED), 409
    session[SURVEY_KEY] = ballot.survey_id
    return _blank_form(ballot)


@bp.post("/s")
def submit():
    token_hash = _current_hash()
    if token_hash is None:
        return _miss()
    db = get_session()
    hint = session.get(SURVEY_KEY)  # the survey the form showed: lets the submit be one statement
    try:
        survey_id = service.answer(db, token_hash, request.form,
                                   hint if isinstance(hint, int) else None)
    except InvalidInput as exc:
        survey = service.survey_for_form(db, service.find_ballot(db, token_hash).survey_id)
        return _render_form(survey, exc.fields, request.form, status=400)
    except TokenSpent:
        return render_template("participant/already.html"), 409
    except TokenUnknown:
        return _closed_or_not_valid()
    except SurveyNotOpen as exc:
        return render_template("participant/not_open.html",
                               closed=exc.status == SurveyStatus.CLOSED), 409
    session.pop(SESSION_KEY, None)
    session.pop(SURVEY_KEY, None)
    if settings().support_contact:  # one-time right to ask for a check-in; not stored
        session[checkin.SESSION_KEY] = {"survey": survey_id, "nonce": checkin.new_nonce()}
    return redirect(url_for("participant.thanks"), code=303)


@bp.get("/s/thanks")
def thanks():
    # The same page for every participant but one offered a check-in (or with an account
    # session or flashed messages): rendered once per process. Rendering it also made
    # Flask-Login mark the session and write the cookie again, for nothing.
    if ("_user_id" in session or "_flashes" in session
            or (current_app.config.get("AFTERCARE_SUPPORT_CONTACT")
                and session.get(checkin.SESSION_KEY))):
        return render_template("participant/thanks.html")
    cache = current_app.extensions.setdefault("aftercare.thanks_page", {})
    page = cache.get("page")
    if page is None:
        page = cache["page"] = render_template("participant/thanks.html")
    return page
