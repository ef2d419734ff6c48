"""JSON API, version 1 (``/api/v1``): incident intake for incident tools, survey state,
released results and team periods. See docs/api.md and ``GET /api/v1/openapi.json``.

Views parse JSON, call one service, and map domain errors to JSON errors
``{"error": {"code", "message", "fields"}}``. Every error under ``/api/`` is JSON, including
404, 405, 413 and 415. The blueprint is exempt from CSRF (there is no cookie session: each
request carries its API key), and only this blueprint is.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from typing import Any

from flask import Blueprint, Flask, current_app, g, jsonify, request
from sqlalchemy import func, select
from werkzeug.exceptions import HTTPException

from analysis import items, release
from surveys.config import parse_duration
from surveys.db import get_session
from surveys.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from surveys.models import INCIDENT_KINDS, SEVERITIES, Invitation, Person, Survey
from surveys.runtime import now, settings, token_box
from surveys.services import apikeys, lifecycle, periods, review
from surveys.services import audit as audit_service
from surveys.services import results as results_service
from surveys.web import csrf

bp = Blueprint("api", __name__, url_prefix="/api/v1")

MAX_BODY = 1024 * 1024  # 1 MiB: far above 500 participants, far below a 10 MB attack
INCIDENT_FIELDS = ("external_id", "team", "title", "kind", "severity", "closed_at",
                   "participants", "open_delay", "duration", "roles")
REQUIRED_FIELDS = ("external_id", "team", "title", "kind", "severity", "closed_at",
                   "participants")

# Read from app.config, else the environment (create_app copies only its own keys).

_DURATION = re.compile(r"[0-9]{1,6}[smhdw]?")  # six digits at most: no timedelta overflow


_STATUS = {InvalidInput: 422, NotFound: 404, Forbidden: 403, apikeys.Unauthorized: 401,
           Conflict: 409}


def error_response(status: int, code: str, message: str, fields: dict[str, str] | None = None):
    response = jsonify({"error": {"code": code, "message": message, "fields": fields or {}}})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="aftercare"'
    return response


def http_error_code(error: HTTPException) -> str:
    return (error.name or "error").lower().replace(" ", "_")


@bp.errorhandler(DomainError)
def _domain_error(exc: DomainError):
    get_session().rollback()
    status = next((s for cls, s in _STATUS.items() if isinstance(exc, cls)), 400)
    return error_response(status, exc.code, exc.message, exc.fields)


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    return error_response(exc.code or 500, http_error_code(exc), exc.description or exc.name)


def _api_error_for_app(exc: HTTPException):
    """404 and 405 are raised before a blueprint is chosen: answer them here for /api/."""
    if request.path.startswith("/api/"):
        return error_response(exc.code or 500, http_error_code(exc),
                              exc.description or exc.name)
    return None


def secret_box() -> apikeys.SecretBox:
    return current_app.extensions["aftercare.api_secret_box"]


def requires(scope: str | None) -> Callable:
    """Authenticate the request's API key (and signature); ``None`` accepts any scope."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any):
            length = request.content_length
            if length is not None and length > MAX_BODY:
                return error_response(413, "request_entity_too_large",
                                      f"The body is larger than {MAX_BODY} bytes.")
            body = request.get_data(cache=True)
            g.api_key = apikeys.authenticate(
                get_session(), request.headers.get("Authorization"), scope,
                request.headers.get(apikeys.TIMESTAMP_HEADER),
                request.headers.get(apikeys.SIGNATURE_HEADER), body, secret_box(), now(),
                method=request.method,
                target=apikeys.signing_target(request.script_root + request.path,
                                              request.query_string))
            return view(*args, **kwargs)

        return wrapper

    return decorator


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


# --- incidents ----------------------------------------------------------------------------


def _json_body() -> dict[str, Any]:
    mimetype = request.mimetype or ""
    if mimetype != "application/json" and not mimetype.endswith("+json"):
        raise _Unsupported()
    try:
        data = json.loads(request.get_data(cache=True) or b"")
    except (ValueError, UnicodeDecodeError) as exc:
        raise _Malformed(str(exc)[:120]) from exc
    except RecursionError as exc:  # [[[[... deeper than the parser's recursion limit
        raise _Malformed("it is nested too deeply") from exc
    if not isinstance(data, dict):
        raise InvalidInput("The body must be a JSON object.", {"body": "must be a JSON object"})
    return data


class _Unsupported(Exception):
    pass


class _Malformed(Exception):
    pass


@bp.errorhandler(_Unsupported)
def _unsupported(_exc):
    return error_response(415, "unsupported_media_type",
                          "Send the body as JSON with 'Content-Type: application/json'.")


@bp.errorhandler(_Malformed)
def _malformed(exc):
    return error_response(400, "malformed_json", f"The body is not valid JSON: {exc}")


def _parse_datetime(value: object) -> datetime | str:
    """An aware datetime, or a problem in words."""
    if not isinstance(value, str):
        return "must be a date and time as text, e.g. 2026-11-20T14:00:00Z"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return "must be an ISO 8601 date and time, e.g. 2026-11-20T14:00:00Z"
    if parsed.tzinfo is None:
        return "must include a time zone, e.g. 2026-11-20T14:00:00Z"
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        return "is out of range"


def parse_incident(data: dict[str, Any]) -> lifecycle.NewIncident:
    """Types and shapes only; the service checks meaning (team, emails, dates)."""
    problems: dict[str, str] = {}
    for name in sorted(set(data) - set(INCIDENT_FIELDS)):
        problems[name[:60]] = "unknown field"
    for name in REQUIRED_FIELDS:
        if data.get(name) is None:
            problems[name] = "is required"
    for name in ("external_id", "team", "title", "kind", "severity"):
        value = data.get(name)
        if value is not None and not isinstance(value, str):
            problems[name] = "must be a string"
        elif name == "title" and isinstance(value, str):
            if (problem := lifecycle.title_problem(value)) is not None:
                problems[name] = problem  # the rule of the web form and the command line
        elif isinstance(value, str) and lifecycle.has_control_characters(value):
            problems[name] = "must not contain control characters"
    if isinstance(data.get("kind"), str) and data["kind"] not in INCIDENT_KINDS:
        problems["kind"] = f"must be one of {', '.join(INCIDENT_KINDS)}"
    if isinstance(data.get("severity"), str) and data["severity"] not in SEVERITIES:
        problems["severity"] = f"must be one of {', '.join(SEVERITIES)}"
    closed_at = None
    if data.get("closed_at") is not None:
        parsed = _parse_datetime(data["closed_at"])
        if isinstance(parsed, str):
            problems["closed_at"] = parsed
        else:
            closed_at = parsed
    participants = data.get("participants")
    if participants is not None:
        if not isinstance(participants, list):
            problems["participants"] = "must be a list of email addresses"
        elif len(participants) > lifecycle.MAX_PARTICIPANTS:
            problems["participants"] = (f"at most {lifecycle.MAX_PARTICIPANTS} participants "
                                        f"per incident (got {len(participants)})")
        else:
            for i, email in enumerate(participants):
                if isinstance(email, str) and lifecycle.has_control_characters(email):
                    problems[f"participants[{i}]"] = "must not contain control characters"
    roles = data.get("roles")
    if roles is not None:
        if not isinstance(roles, dict):
            problems["roles"] = 'must be an object such as {"ana@example.org": "commander"}'
        elif len(roles) > lifecycle.MAX_PARTICIPANTS:
            problems["roles"] = f"at most {lifecycle.MAX_PARTICIPANTS} roles per incident"
        else:
            for email, role in roles.items():
                if not isinstance(role, str) or lifecycle.has_control_characters(email):
                    problems[f"roles.{email[:80]}"] = "must be a role name as text"
            if problems and isinstance(participants, list):  # name every bad role at once
                listed, _ = lifecycle.validate_emails(participants)
                text_roles = {e: r for e, r in roles.items() if isinstance(r, str)}
                problems.update(lifecycle.role_problems(text_roles, listed))
    delays = {}
    for name in ("open_delay", "duration"):
        value = data.get(name)
        if value is None:
            continue
        if not isinstance(value, str) or not _DURATION.fullmatch(value):
            problems[name] = "must be a number with s, m, h, d or w, e.g. 24h, 90m or 7d"
            continue
        delays[name] = parse_duration(name, value)
    if problems:
        raise InvalidInput("The incident could not be created.", problems)
    return lifecycle.NewIncident(
        team=data["team"], title=data["title"], kind=data["kind"], severity=data["severity"],
        closed_at=closed_at, participants=participants, external_id=data["external_id"],
        open_delay=delays.get("open_delay"), duration=delays.get("duration"),
        roles=roles,
    )


@bp.post("/incidents")
@requires("incidents:write")
def create_incident():
    data = parse_incident(_json_body())
    db = get_session()
    result = lifecycle.intake_incident(db, data, settings(), token_box(), now())
    body = {
        "created": result.created,
        "incident_id": result.incident.id,
        "survey_id": result.survey.id,
        "survey": survey_json(db, result.survey),
        "participants": [
            {"email": p.email, "status": p.status, "reason": p.reason}
            for p in result.participants
        ],
    }
    return jsonify(body), 201 if result.created else 200


# --- surveys ------------------------------------------------------------------------------


def survey_json(db, survey: Survey) -> dict[str, Any]:
    """State of a survey. While open, only whether the minimum is reached, never a count."""
    k = survey.min_group
    if survey.is_scheduled:
        invited = db.scalar(
            select(func.count()).select_from(Invitation).join(Person).where(
                Invitation.survey_id == survey.id, Person.opted_out.is_(False))) or 0
        reached = False
    elif survey.is_open:
        invited = survey.invited
        reached = release.minimum_reached(lifecycle.spent_ballots(db, survey.id), k)
    else:
        invited = survey.invited
        reached = release.minimum_reached(survey.respondents or 0, k)
    return {
        "id": survey.id,
        "incident_id": survey.incident_id,
        "external_id": survey.incident.external_id,
        "team": survey.team.slug,
        "status": survey.status,
        "opens_at": iso(survey.opens_at),
        "closes_at": iso(survey.closes_at),
        "remind_at": iso(survey.remind_at) if survey.remind_at < survey.closes_at else None,
        "closed_at": iso(survey.closed_at),
        "invited": invited,
        "min_group": k,
        "minimum_reached": reached,
        "responses": survey.respondents if survey.is_closed else None,
    }


def _survey(db, survey_id: int) -> Survey:
    survey = db.get(Survey, survey_id)  # the <id:...> converter keeps ids in range
    if survey is None:
        raise NotFound(f"No survey {survey_id}.")
    return survey


@bp.get("/surveys/<id:survey_id>")
@requires(None)
def get_survey(survey_id: int):
    db = get_session()
    return jsonify(survey_json(db, _survey(db, survey_id)))


@bp.post("/surveys/<id:survey_id>/close")
@requires("incidents:write")
def close_survey(survey_id: int):
    db = get_session()
    _survey(db, survey_id)
    db.rollback()
    survey = lifecycle.close_survey(db, survey_id, now())
    _audit("api.survey.close", f"survey:{survey_id}")
    return jsonify(survey_json(db, survey))


@bp.get("/surveys/<id:survey_id>/results")
@requires("results:read")
def survey_results(survey_id: int):
    db = get_session()
    result = results_service.survey_results(db, _survey(db, survey_id),
                                            pool_grain=settings().pool_period)
    body = results_json(result)
    _audit("api.results.survey", f"survey:{survey_id}", result.decision.allowed,
           result.decision.reason.value)
    return jsonify(body)


def _audit(action: str, target: str, allowed: bool = True, detail: str = "") -> None:
    """Who (which key) looked at or changed what, and what the guard decided; never answers."""
    audit_service.record(get_session(), actor=None, actor_label=f"api-key:{g.api_key.id}",
                         action=action, now=now(), target=target, allowed=allowed,
                         detail=detail)


def _opt(obj: object, name: str) -> Any:
    """Fields the results service may or may not have yet (intervals, means, flags)."""
    value = getattr(obj, name, None)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) \
        else value


def results_json(result: Any) -> dict[str, Any]:
    """Adapter from ``results.SurveyResults`` (already through the release guard) to JSON."""
    decision = result.decision
    if not decision.allowed:
        return {"released": False, "reason": decision.reason.value,
                "message": decision.message, "min_group": decision.k}
    constructs, item_map = {}, {}
    for construct in result.constructs:
        mean = getattr(construct, "mean", None)
        constructs[construct.id] = {
            "label": construct.label,
            "pct": construct.pct,
            "mean": None if mean is None else {
                "mean": float(mean.mean), "n": int(mean.n), "low": float(mean.low),
                "high": float(mean.high), "method": str(mean.method)},
            "items": [item.id for item in construct.items],
        }
        for item in construct.items:
            item_map[item.id] = {
                "shown": item.shown, "n": item.n if item.shown else None,
                "pct": item.pct if item.shown else None,
                "low": _opt(item, "low") if item.shown else None,
                "high": _opt(item, "high") if item.shown else None,
            }
    practices = {
        p.policy_id: {
            "policy": p.policy, "question": p.question, "shown": p.shown,
            "n": p.n if p.shown else None, "contrary_pct": p.contrary_pct if p.shown else None,
            "low": _opt(p, "low") if p.shown else None,
            "high": _opt(p, "high") if p.shown else None,
        }
        for p in result.practices
    }
    return {"released": True, "n": result.respondents, "min_group": decision.k,
            "constructs": constructs, "items": item_map, "practices": practices,
            "flags": [_flag_json(f) for f in result.flags]}


def _flag_json(flag: Any) -> dict[str, Any]:
    data = flag.to_dict()
    data["numbers"] = {k: float(v) for k, v in dict(data.get("numbers", {})).items()}
    return data


# --- teams --------------------------------------------------------------------------------


@bp.get("/teams/<slug:slug>/periods")
@requires("results:read")
def team_periods(slug: str):
    grain = request.args.get("grain", "month")
    data = periods.team_periods_for_slug(get_session(), slug, grain, now(),
                                         settings().min_group)
    body = {
        "team": data.team.slug,
        "grain": data.grain,
        "min_group": data.min_group,
        "periods": [
            {
                "period": p.period,
                "released": p.released,
                "reason": p.reason,
                "min_group": p.k,
                "surveys": p.surveys,
                "respondents": p.n,
                "constructs": {
                    c.id: {"label": c.label, "pct": c.pct,
                           "items": {i.id: {"shown": i.shown, "n": i.n, "pct": i.pct}
                                     for i in c.items}}
                    for c in p.constructs
                },
            }
            for p in data.periods
        ],
        "trends": {c.id: s.to_dict() for c, s in zip(items.CONSTRUCTS, data.series,
                                                       strict=True)},
        "flags_period": data.flags_period,
        "flags": [_flag_json(f) for f in data.flags],
    }
    _audit("api.results.periods", f"team:{slug}:{grain}")
    return jsonify(body)


# --- review language check ---------------------------------------------------------------


@bp.post("/review-lint")
@requires(None)
def review_lint():
    data = _json_body()
    problems: dict[str, str] = {}
    unknown = sorted(set(data) - {"text", "names", "dismissed"})
    if unknown:
        problems.update({key[:40]: "unknown field" for key in unknown[:5]})
    text = data.get("text")
    if not isinstance(text, str):
        problems["text"] = "required, the draft as a string"
    elif len(text) > review.MAX_DRAFT_CHARS:
        problems["text"] = (f"at most {review.MAX_DRAFT_CHARS} characters; send the draft in "
                            "parts")
    names = data.get("names", [])
    if not isinstance(names, list) or len(names) > review.MAX_NAMES:
        problems["names"] = f"a list of at most {review.MAX_NAMES} names"
    else:
        for i, name in enumerate(names):
            if not isinstance(name, str) or not 0 < len(name) <= review.MAX_NAME_CHARS:
                problems[f"names[{i}]"] = f"a name of 1 to {review.MAX_NAME_CHARS} characters"
                break
    dismissed = data.get("dismissed", [])
    if not isinstance(dismissed, list) or len(dismissed) > review.MAX_DISMISSED or not all(
            isinstance(d, str) and 0 < len(d) <= 80 for d in dismissed):
        problems["dismissed"] = (f"a list of at most {review.MAX_DISMISSED} finding ids "
                                 "from an earlier response")
    if problems:
        raise InvalidInput("The draft could not be checked.", problems)
    budget = current_app.config.get("REVIEW_CHECK_BUDGET", review.CHECK_BUDGET_SECONDS)
    try:
        report = review.check_draft(text, names, dismissed, budget=budget)
    except review.CheckTooSlow as exc:
        return error_response(503, exc.code, exc.message)
    return jsonify(report.to_dict())


@bp.get("/openapi.json")
def openapi():
    from surveys.api.openapi import build_document

    return jsonify(build_document(settings().base_url))


def init_app(app: Flask) -> None:
    """Register the blueprint, exempt it (only it) from CSRF, and JSON errors for /api/."""
    from surveys.api import actions  # noqa: F401  (its routes are on this blueprint)

    app.extensions["aftercare.api_secret_box"] = apikeys.SecretBox(app.config["SECRET_KEY"])
    app.register_blueprint(bp)
    csrf.exempt(bp)
    previous = app.error_handler_spec[None].get(None, {}).get(HTTPException)

    def _app_http_error(exc: HTTPException):
        handled = _api_error_for_app(exc)
        if handled is not None:
            return handled
        return previous(exc) if previous else exc

    app.register_error_handler(HTTPException, _app_http_error)
