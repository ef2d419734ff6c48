"""GET/POST on surveys, released results, team periods, and the OpenAPI description."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from openapi_spec_validator import validate
from sqlalchemy import select

from support import NOW, answer, answer_and_close, decide_periods, open_survey
from support.api import DOCUMENT, Api, conforms, error_of, incident, make_key
from surveys.api.openapi import build_document

pytestmark = pytest.mark.usefixtures("org")

STATEMENTS = ("blame_system", "blame_person", "blame_career", "social_treated",
              "social_hesitate", "social_support", "sharing_own", "sharing_free", "lead_shared")


@pytest.fixture
def api(app, client, db, settings):
    api = Api(client, make_key(app))
    api.db, api.settings = db, settings
    return api


def agreeing(value: str = "4") -> dict[str, str]:
    """Every statement answered ``value``, by someone directly involved."""
    return {**dict.fromkeys(STATEMENTS, value), "involvement": "direct"}


def submit(db, token, value="4"):
    answer(db, token, agreeing(value))


def closed_survey(db, settings, box, answers: int, closed: datetime, title="Incident",
                  value="4"):
    return answer_and_close(db, settings, box, [agreeing(value)] * answers, close_at=closed,
                            people=max(answers, 5), title=title,
                            now=closed - timedelta(days=1))


def test_openapi_document_is_valid_and_served(client):
    validate(DOCUMENT)
    served = client.get("/api/v1/openapi.json")
    assert served.status_code == 200
    validate(served.json)
    assert served.json["openapi"].startswith("3.1")
    assert set(served.json["paths"]) == {
        "/api/v1/incidents", "/api/v1/surveys/{id}", "/api/v1/surveys/{id}/close",
        "/api/v1/surveys/{id}/results", "/api/v1/teams/{slug}/periods", "/api/v1/review-lint",
        "/api/v1/actions", "/api/v1/openapi.json"}
    assert build_document("https://aftercare.example.org/")["servers"] == [
        {"url": "https://aftercare.example.org"}]


def test_every_route_of_the_blueprint_is_described(app):
    routes = {(rule.rule, method) for rule in app.url_map.iter_rules()
              if rule.endpoint.startswith("api.")
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    described = {(path.replace("{id}", "<id:survey_id>").replace("{slug}", "<slug:slug>"),
                  method.upper())
                 for path, ops in DOCUMENT["paths"].items() for method in ops}
    assert routes == described


def test_get_survey_while_open_shows_only_whether_the_minimum_is_reached(api, db, settings,
                                                                          box):
    survey, tokens = open_survey(db, settings, box, people=6)
    body = api.get(f"/api/v1/surveys/{survey.id}").json
    conforms("Survey", body)
    assert body["status"] == "open" and body["minimum_reached"] is False
    assert body["responses"] is None and body["invited"] == 6
    for token in tokens[:5]:
        submit(db, token)
    body = api.get(f"/api/v1/surveys/{survey.id}").json
    assert body["minimum_reached"] is True and body["responses"] is None
    assert "4" not in str(body["invited"])  # never a running count anywhere in the body
    assert set(body) == set(DOCUMENT["components"]["schemas"]["Survey"]["required"])


def test_close_seals_and_results_are_released_through_the_guard(api, db, settings, box):
    survey, tokens = open_survey(db, settings, box, people=7)
    for token in tokens[:5]:
        submit(db, token)
    results = api.get(f"/api/v1/surveys/{survey.id}/results").json
    conforms("Results", results)
    assert results == {"released": False, "reason": "still_open",
                       "message": results["message"], "min_group": 5}
    closed = api.post(f"/api/v1/surveys/{survey.id}/close")
    assert closed.status_code == 200
    conforms("Survey", closed.json)
    assert closed.json["status"] == "closed" and closed.json["responses"] == 5
    again = api.post(f"/api/v1/surveys/{survey.id}/close")
    assert again.status_code == 200 and again.json == closed.json
    results = api.get(f"/api/v1/surveys/{survey.id}/results").json
    conforms("Results", results)
    assert results["released"] is True and results["n"] == 5
    assert results["items"]["blame_system"]["shown"] is True
    assert results["items"]["blame_system"]["n"] == 5
    assert results["items"]["blame_system"]["pct"] == 100.0
    assert set(results["constructs"]) == {"blame", "social", "sharing", "leadership"}


def test_below_minimum_results_are_not_released(api, db, settings, box):
    survey, tokens = open_survey(db, settings, box, people=7)
    for token in tokens[:4]:
        submit(db, token)
    api.post(f"/api/v1/surveys/{survey.id}/close")
    results = api.get(f"/api/v1/surveys/{survey.id}/results").json
    assert results["released"] is False and results["reason"] == "below_minimum"
    assert "n" not in results and "items" not in results


def test_a_scheduled_survey_cannot_be_closed(api, db):
    created = api.post("/api/v1/incidents", incident(open_delay="24h")).json
    error = error_of(api.post(f"/api/v1/surveys/{created['survey_id']}/close"), 409)
    assert error["code"] == "conflict"
    results = api.get(f"/api/v1/surveys/{created['survey_id']}/results").json
    assert results["reason"] == "not_open_yet"


def test_unknown_survey_is_404_on_every_route(api):
    assert error_of(api.get("/api/v1/surveys/404"), 404)["code"] == "not_found"
    assert error_of(api.post("/api/v1/surveys/404/close"), 404)["code"] == "not_found"
    assert error_of(api.get("/api/v1/surveys/404/results"), 404)["code"] == "not_found"


# --- periods ------------------------------------------------------------------------------


def periods(api, grain="month", team="payments", decide=True):
    if decide:  # what the worker's tick does once the periods have ended
        decide_periods(api.db, api.settings, NOW)
    response = api.get(f"/api/v1/teams/{team}/periods?grain={grain}")
    assert response.status_code == 200, response.json
    conforms("Periods", response.json)
    return {p["period"]: p for p in response.json["periods"]}, response.json


def day(month: int, d: int = 10, year: int = 2026) -> datetime:
    return datetime(year, month, d, 12, tzinfo=UTC)


def test_period_of_one_released_survey(api, db, settings, box):
    closed_survey(db, settings, box, 5, day(10))
    shown, body = periods(api)
    assert shown["2026-10"]["released"] is True and shown["2026-10"]["respondents"] == 5
    item = shown["2026-10"]["constructs"]["blame"]["items"]["blame_system"]
    assert item == {"shown": True, "n": 5, "pct": 100.0}
    assert body["trends"]["blame"]["method"] == "none"


def test_small_surveys_are_pooled_into_a_released_period(api, db, settings, box):
    closed_survey(db, settings, box, 3, day(9, 3), title="A")
    closed_survey(db, settings, box, 3, day(9, 20), title="B")
    shown, _ = periods(api)
    assert shown["2026-09"]["released"] is True and shown["2026-09"]["respondents"] == 6
    assert shown["2026-09"]["surveys"] == 2


def test_a_period_that_would_reveal_a_small_survey_by_subtraction_is_withheld(api, db,
                                                                            settings, box):
    closed_survey(db, settings, box, 5, day(8, 3), title="released alone")
    closed_survey(db, settings, box, 2, day(8, 20), title="two people", value="1")
    shown, _ = periods(api)
    # 7 respondents, but 7 - 5 = 2 people's answers would be computable
    assert shown["2026-08"]["released"] is False
    assert shown["2026-08"]["reason"] == "differencing"
    assert shown["2026-08"]["respondents"] is None and shown["2026-08"]["constructs"] == {}


def test_a_quarter_that_would_reveal_a_small_month_is_withheld(api, db, settings, box):
    closed_survey(db, settings, box, 3, day(7, 3), title="A")
    closed_survey(db, settings, box, 3, day(7, 4), title="B")
    closed_survey(db, settings, box, 2, day(8, 4), title="C")
    months, _ = periods(api)
    assert months["2026-07"]["released"] is True and months["2026-08"]["released"] is False
    quarters, _ = periods(api, "quarter")
    assert quarters["2026-Q3"]["released"] is False  # 8 - 6 = 2 people
    assert quarters["2026-Q3"]["reason"] == "differencing"


def test_trend_needs_five_periods_else_change_since(api, db, settings, box):
    for month in (6, 7):
        closed_survey(db, settings, box, 5, day(month), title=f"m{month}")
    decide_periods(db, settings, day(8, 1))  # June and July have ended
    _, body = periods(api, decide=False)
    assert body["trends"]["blame"]["method"] == "change_since"
    assert body["trends"]["blame"]["periods"] == 2
    for month in (8, 9, 10):
        closed_survey(db, settings, box, 5, day(month), title=f"m{month}")
    _, body = periods(api)
    trend = body["trends"]["blame"]
    assert trend["method"] == "mann_kendall" and trend["periods"] == 5
    assert trend["tau"] is not None and trend["p_value"] is not None


def test_periods_bad_grain_and_unknown_team(api):
    assert "grain" in error_of(api.get("/api/v1/teams/payments/periods?grain=week"),
                               422)["fields"]
    assert error_of(api.get("/api/v1/teams/nope/periods"), 404)["code"] == "not_found"


def test_api_reads_and_changes_are_audited_by_key(api, app, db, settings, box):
    from surveys.models import AuditEvent

    survey, _ = open_survey(db, settings, box, people=6)
    db.rollback()
    api.post(f"/api/v1/surveys/{survey.id}/close")
    api.get(f"/api/v1/surveys/{survey.id}/results")
    api.get("/api/v1/teams/payments/periods")
    db.rollback()
    events = {(e.action, e.allowed): e for e in db.scalars(select(AuditEvent))}
    assert ("api.survey.close", True) in events
    refused = events[("api.results.survey", False)]  # nobody answered: nothing released
    assert refused.actor.startswith("api-key:") and refused.target == f"survey:{survey.id}"
    assert refused.detail == "no_responses"
    assert ("api.results.periods", True) in events
