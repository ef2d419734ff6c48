"""JSON API, version 1 (``/api/v1``): incident intake for incident tools, survey state,
released results and team periods. See docs/api.md and ``GET /api/v1/openapi.json``.

Views parse JSON, call one service, and map domain errors to JSON errors
``{"error": {"code", "message", "fields"}}``. Every error under ``/api/`` is JSON, including
404, 405, 413 and 415. The blueprint is exempt from CSRF (there is no cookie session: each
request carries its API key), and only this blueprint is.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, Flask, current_app, g, jsonify, request
from sqlalchemy import func, select
from werkzeug.exceptions import HTTPException

from analysis import items, release
from surveys.api import schemas
from surveys.db import get_session
from surveys.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from surveys.models import Invitation, Person, Survey
from surveys.runtime import now, settings, token_box
from surveys.services import apikeys, exposure, lifecycle, periods, review
from surveys.services import audit as audit_service
from surveys.services import results as results_service
from surveys.web import csrf

bp = Blueprint("api", __name__, url_prefix="/api/v1")

MAX_BODY = 1024 * 1024  # 1 MiB: far above 500 participants, far below a 10 MB attack
_STATUS = {InvalidInput: 422, NotFound: 404, Forbidden: 403, apikeys.Unauthorized: 401,
           Conflict: 409}


def error_response(status: int, code: str, message: str, fields: dict[str, str] | None = None):
    body = schemas.Error(error=schemas.ErrorBody(code=code, message=message,
                                                 fields=fields or {}))
    response = jsonify(body.body())
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


@bp.post("/incidents")
@requires("incidents:write")
def create_incident():
    data = schemas.parse(schemas.NewIncident, _json_body(), "The incident could not be created.")
    db = get_session()
    result = lifecycle.intake_incident(db, data.command(), settings(), token_box(), now())
    body = schemas.IncidentResult(
        created=result.created, incident_id=result.incident.id, survey_id=result.survey.id,
        survey=survey_json(db, result.survey),
        participants=[schemas.ParticipantOutcome(email=p.email, status=p.status,
                                                 reason=p.reason,
                                                 added_to_roster=p.added_to_roster)
                      for p in result.participants])
    return jsonify(body.body()), 201 if result.created else 200


# --- surveys ------------------------------------------------------------------------------


def survey_json(db, survey: Survey) -> schemas.Survey:
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
    return schemas.Survey(
        id=survey.id, incident_id=survey.incident_id, external_id=survey.incident.external_id,
        team=survey.team.slug, status=survey.status, opens_at=survey.opens_at,
        closes_at=survey.closes_at,
        remind_at=survey.remind_at if survey.remind_at < survey.closes_at else None,
        closed_at=survey.closed_at, invited=invited, min_group=k, minimum_reached=reached,
        responses=survey.respondents if survey.is_closed else None)


def _survey(db, survey_id: int) -> Survey:
    survey = db.get(Survey, survey_id)  # the <id:...> converter keeps ids in range
    if survey is None:
        raise NotFound(f"No survey {survey_id}.")
    return survey


@bp.get("/surveys/<id:survey_id>")
@requires(None)
def get_survey(survey_id: int):
    db = get_session()
    return jsonify(survey_json(db, _survey(db, survey_id)).body())


@bp.post("/surveys/<id:survey_id>/close")
@requires("incidents:write")
def close_survey(survey_id: int):
    db = get_session()
    _survey(db, survey_id)
    db.rollback()
    survey = lifecycle.close_survey(db, survey_id, now())
    _audit("api.survey.close", f"survey:{survey_id}")
    return jsonify(survey_json(db, survey).body())


@bp.get("/surveys/<id:survey_id>/results")
@requires("results:read")
def survey_results(survey_id: int):
    db = get_session()
    result = results_service.survey_results(db, _survey(db, survey_id),
                                            pool_grain=settings().pool_period)
    body = results_json(result).body()
    _audit("api.results.survey", f"survey:{survey_id}", result.decision.allowed,
           result.decision.reason.value)
    return jsonify(body)


def _audit(action: str, target: str, allowed: bool = True, detail: str = "") -> None:
    """Who (which key) looked at or changed what, and what the guard decided; never answers."""
    audit_service.record(get_session(), actor=None, actor_label=f"api-key:{g.api_key.id}",
                         action=action, now=now(), target=target, allowed=allowed,
                         detail=detail)


def _interval(obj: object, name: str) -> float | None:
    """A bound the results service may not have (an item with too few answers)."""
    value = getattr(obj, name, None)
    return float(value) if isinstance(value, int | float) else None


def results_json(result: Any) -> schemas.Withheld | schemas.Released:
    """Adapter from ``results.SurveyResults`` (already through the release guard)."""
    decision = result.decision
    if not decision.allowed:
        return schemas.Withheld(reason=decision.reason.value, message=decision.message,
                                min_group=decision.k)
    constructs, item_map = {}, {}
    for construct in result.constructs:
        mean = getattr(construct, "mean", None)
        constructs[construct.id] = schemas.Construct(
            label=construct.label, pct=construct.pct,
            mean=None if mean is None else schemas.Interval(
                mean=mean.mean, n=mean.n, low=mean.low, high=mean.high, method=str(mean.method)),
            items=[item.id for item in construct.items])
        for item in construct.items:
            shown = item.shown
            item_map[item.id] = schemas.Favourable(
                shown=shown, n=item.n if shown else None, pct=item.pct if shown else None,
                low=_interval(item, "low") if shown else None,
                high=_interval(item, "high") if shown else None)
    practices = {
        p.policy_id: schemas.Practice(
            policy=p.policy, question=p.question, shown=p.shown, n=p.n if p.shown else None,
            contrary_pct=p.contrary_pct if p.shown else None,
            low=_interval(p, "low") if p.shown else None,
            high=_interval(p, "high") if p.shown else None)
        for p in result.practices
    }
    return schemas.Released(n=result.respondents, min_group=decision.k, constructs=constructs,
                            items=item_map, practices=practices,
                            flags=[schemas.Flag.of(f) for f in result.flags])


# --- teams --------------------------------------------------------------------------------


@bp.get("/teams/<slug:slug>/periods")
@requires("results:read")
def team_periods(slug: str):
    query = schemas.parse(schemas.PeriodsQuery, request.args.to_dict(),
                          "The periods could not be listed.")
    data = periods.team_periods_for_slug(get_session(), slug, query.grain, now(),
                                         settings().min_group)
    body = schemas.Periods(
        team=data.team.slug, grain=data.grain, min_group=data.min_group,
        periods=[
            schemas.Period(
                period=p.period, released=p.released, reason=p.reason, min_group=p.k,
                surveys=p.surveys, respondents=p.n,
                constructs={c.id: schemas.PeriodConstruct(
                    label=c.label, pct=c.pct,
                    items={i.id: schemas.PeriodItem(shown=i.shown, n=i.n, pct=i.pct)
                           for i in c.items})
                    for c in p.constructs})
            for p in data.periods],
        trends={c.id: schemas.Trend(**s.to_dict())
                for c, s in zip(items.CONSTRUCTS, data.series, strict=True)},
        flags_period=data.flags_period,
        flags=[schemas.Flag.of(f) for f in data.flags],
        exposure=_exposure(data.team.id, query.grain))
    _audit("api.results.periods", f"team:{slug}:{query.grain}")
    return jsonify(body.body())


def _exposure(team_id: int, grain: str) -> schemas.Exposure:
    view = exposure.team_exposure(get_session(), team_id, grain)
    return schemas.Exposure(
        periods=[schemas.ExposurePeriod(
            period=r.period, released=r.shown, reason=r.reason,
            involved_pct=r.pct("involved"), commander_pct=r.pct("commander"),
            concentration_pct=r.pct("concentration")) for r in view.rows],
        flags=[schemas.Flag.of(f) for f in view.flags])


# --- review language check ---------------------------------------------------------------


@bp.post("/review-lint")
@requires(None)
def review_lint():
    draft = schemas.parse(schemas.ReviewDraft, _json_body(), "The draft could not be checked.")
    budget = current_app.config.get("REVIEW_CHECK_BUDGET", review.CHECK_BUDGET_SECONDS)
    try:
        report = review.check_draft(draft.text, draft.names, draft.dismissed, budget=budget)
    except review.CheckTooSlow as exc:
        return error_response(503, exc.code, exc.message)
    return jsonify(schemas.ReviewReport(**report.to_dict()).body())


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
