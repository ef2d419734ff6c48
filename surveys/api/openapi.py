"""The OpenAPI 3.1 description of the JSON API: the paths table here, every body's schema
generated from the models in `surveys.api.schemas` (the ones the views validate and
serialise with).

Tests validate it with openapi-spec-validator, check every endpoint's real answers against
it, and run schemathesis over it.
"""

from __future__ import annotations

from typing import Any

from surveys.api import schemas
from surveys.models import API_SCOPES, MAX_ID


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _error(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": _ref("Error")}}}


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


AUTH_ERRORS = {
    "401": _error("No valid API key, or (for a signing key) a missing, malformed, expired, "
                  "replayed or wrong signature"),
    "403": _error("The key lacks the scope this operation needs"),
}

BODY_ERRORS = {  # every operation that reads a JSON body (surveys.api._json_body, MAX_BODY)
    "400": _error("The body is not valid JSON"),
    "413": _error("The body is larger than 1 MiB"),
    "415": _error("The body is not JSON"),
}

SIGNATURE_PARAMETERS = [
    {"name": "X-Aftercare-Timestamp", "in": "header", "required": False,
     "description": "Unix seconds when the request was signed; required with a signing key, "
                    "within 5 minutes of the server's clock.",
     "schema": {"type": "string", "pattern": "^[0-9]{1,12}$"}},
    {"name": "X-Aftercare-Signature", "in": "header", "required": False,
     "description": 'sha256=<hex HMAC-SHA256(signing secret, timestamp "\\n" METHOD "\\n" '
                    'path?query "\\n" body)>; required with a signing key; good for one '
                    "request only (that method, path, query and body), accepted once.",
     "schema": {"type": "string", "pattern": "^sha256=[0-9a-fA-F]{64}$"}},
]

SURVEY_ID = {"name": "id", "in": "path", "required": True,
             "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID}}

def query_parameters(model: type[schemas.Query]) -> list[dict[str, Any]]:
    """The query parameters of an operation, from the model that parses them."""
    schema = model.model_json_schema()
    return [{"name": name, "in": "query", "required": name in schema.get("required", ()),
             "schema": prop} for name, prop in schema["properties"].items()]


def build_document(base_url: str = "http://127.0.0.1:5000") -> dict[str, Any]:
    """The whole description; ``servers`` points at ``AFTERCARE_BASE_URL``."""
    secured = [{"apiKey": []}]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Aftercare API",
            "version": "1.0.0",
            "description": (
                "Incident intake and survey state for incident tools; released results for "
                "reporting. Authorization: Bearer <api key>. Keys with a signing secret "
                "must also send X-Aftercare-Timestamp and X-Aftercare-Signature. Scopes: "
                + ", ".join(API_SCOPES) + ". See docs/api.md."
            ),
        },
        "servers": [{"url": base_url.rstrip("/")}],
        "components": {
            "schemas": schemas.component_schemas(),
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer",
                                           "description": "An API key from "
                                                          "`flask api-key create`"}},
        },
        "paths": {
            "/api/v1/incidents": {"post": {
                "operationId": "createIncident",
                "summary": "Create an incident and its survey (idempotent on external_id)",
                "security": secured,
                "parameters": SIGNATURE_PARAMETERS,
                "requestBody": {"required": True, "content": {
                    "application/json": {"schema": _ref("NewIncident")}}},
                "responses": {
                    "201": _json("Created", _ref("IncidentResult")),
                    "200": _json("Seen before: the same ids; only new participants invited",
                                 _ref("IncidentResult")),
                    **BODY_ERRORS,
                    **AUTH_ERRORS,
                    "409": _error("The external_id belongs to another team's incident"),
                    "422": _error("Invalid fields; each problem is named in fields"),
                },
            }},
            "/api/v1/surveys/{id}": {"get": {
                "operationId": "getSurvey",
                "summary": "A survey's state",
                "security": secured,
                "parameters": [SURVEY_ID, *SIGNATURE_PARAMETERS],
                "responses": {"200": _json("The survey", _ref("Survey")), **AUTH_ERRORS,
                              "404": _error("No such survey")},
            }},
            "/api/v1/surveys/{id}/close": {"post": {
                "operationId": "closeSurvey",
                "summary": "Close an open survey now and seal its answers",
                "security": secured,
                "parameters": [SURVEY_ID, *SIGNATURE_PARAMETERS],
                "responses": {"200": _json("The closed survey", _ref("Survey")),
                              **AUTH_ERRORS, "404": _error("No such survey"),
                              "409": _error("The survey has not opened yet")},
            }},
            "/api/v1/surveys/{id}/results": {"get": {
                "operationId": "getSurveyResults",
                "summary": "Released results of a survey, as far as the release guard allows",
                "security": secured,
                "parameters": [SURVEY_ID, *SIGNATURE_PARAMETERS],
                "responses": {"200": _json("Released results, or why not",
                                           _ref("Results")),
                              **AUTH_ERRORS, "404": _error("No such survey")},
            }},
            "/api/v1/teams/{slug}/periods": {"get": {
                "operationId": "getTeamPeriods",
                "summary": "A team's released aggregates per calendar period, with trends",
                "security": secured,
                "parameters": [
                    {"name": "slug", "in": "path", "required": True,
                     "schema": {"type": "string", "maxLength": schemas.MAX_SLUG}},
                    *query_parameters(schemas.PeriodsQuery),
                    *SIGNATURE_PARAMETERS,
                ],
                "responses": {"200": _json("Periods, oldest first", _ref("Periods")),
                              **AUTH_ERRORS, "404": _error("No such team"),
                              "422": _error("Unknown grain")},
            }},
            "/api/v1/actions": {
                "get": {
                    "operationId": "listActions",
                    "summary": "Actions recorded from flags (scope actions:read)",
                    "security": secured,
                    "parameters": [*query_parameters(schemas.ActionsQuery),
                                   *SIGNATURE_PARAMETERS],
                    "responses": {"200": _json("Actions, oldest first", _ref("ActionList")),
                                  **AUTH_ERRORS, "404": _error("No such team"),
                                  "422": _error("Unknown status")},
                },
                "post": {
                    "operationId": "createAction",
                    "summary": "Record an action for a team's flag (scope actions:write)",
                    "security": secured,
                    "parameters": SIGNATURE_PARAMETERS,
                    "requestBody": {"required": True, "content": {
                        "application/json": {"schema": _ref("NewAction")}}},
                    "responses": {
                        "201": _json("Recorded", _ref("ActionCreated")),
                        **BODY_ERRORS,
                        **AUTH_ERRORS,
                        "422": _error("Invalid fields (no text, a past due date, a flag of "
                                      "another team, an owner that is not a role or a "
                                      "team); each problem is named in fields"),
                    },
                },
            },
            "/api/v1/review-lint": {"post": {
                "operationId": "lintReview",
                "summary": "Find blame-loaded wording in a review draft (nothing is stored)",
                "security": secured,
                "parameters": SIGNATURE_PARAMETERS,
                "requestBody": {"required": True, "content": {
                    "application/json": {"schema": _ref("ReviewDraft")}}},
                "responses": {
                    "200": _json("Findings with spans, categories and rewrites",
                                 _ref("ReviewReport")),
                    **BODY_ERRORS,
                    **AUTH_ERRORS,
                    "422": _error("Invalid fields; each problem is named in fields"),
                    "503": _error("The check did not finish within its time budget; send "
                                  "the draft in parts"),
                },
            }},
            "/api/v1/openapi.json": {"get": {
                "operationId": "getOpenApi",
                "summary": "This description",
                "security": [],
                "responses": {"200": _json("OpenAPI 3.1 document", {"type": "object"})},
            }},
        },
    }
