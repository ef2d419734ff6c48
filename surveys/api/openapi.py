"""The OpenAPI 3.1 description of the JSON API, built in code.

Tests validate it with openapi-spec-validator, check every endpoint's real answers against
it, and run schemathesis over it. Keep it in step with ``surveys/api/__init__.py``.
"""

from __future__ import annotations

from typing import Any

from analysis.exposure import INCIDENT_ROLES
from analysis.items import CONSTRUCT_BY_ID
from surveys.models import (
    ACTION_STATUSES,
    API_SCOPES,
    INCIDENT_KINDS,
    MAX_ID,
    SEVERITIES,
    SurveyStatus,
)
from surveys.services import actions, review
from surveys.services.lifecycle import MAX_PARTICIPANTS, NOT_INVITED_REASONS

NULLABLE_NUMBER = {"type": ["number", "null"]}
NULLABLE_INT = {"type": ["integer", "null"]}
DATE_TIME = {"type": "string", "format": "date-time"}
NULLABLE_DATE_TIME = {"type": ["string", "null"], "format": "date-time"}
DURATION = {"type": "string", "pattern": r"^[0-9]{1,6}[smhdw]?$", "examples": ["0", "24h", "7d"]}


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

FAVOURABLE_ITEM = {
    "type": "object",
    "required": ["shown", "n", "pct"],
    "properties": {
        "shown": {"type": "boolean"},
        "n": NULLABLE_INT,
        "pct": NULLABLE_NUMBER,
        "low": NULLABLE_NUMBER,
        "high": NULLABLE_NUMBER,
    },
}

SCHEMAS: dict[str, Any] = {
    "ReviewDraft": {
        "type": "object",
        "required": ["text"],
        "additionalProperties": False,
        "properties": {
            "text": {"type": "string", "maxLength": review.MAX_DRAFT_CHARS,
                     "description": "The review draft, Markdown or plain text."},
            "names": {"type": "array", "maxItems": review.MAX_NAMES,
                      "items": {"type": "string", "minLength": 1,
                                "maxLength": review.MAX_NAME_CHARS},
                      "description": "People's names (roster, participants). With a roster, "
                                     "name detection is exact; without one, names are "
                                     "guessed where they are the subject of an error."},
            "dismissed": {"type": "array", "maxItems": review.MAX_DISMISSED,
                          "items": {"type": "string", "minLength": 1, "maxLength": 80},
                          "description": "Ids of findings dismissed for this draft (from an "
                                         "earlier response); they are left out."},
        },
    },
    "ReviewReport": {
        "type": "object",
        "required": ["findings", "summary", "total", "blame_total", "dismissed", "notice",
                     "limits", "categories"],
        "properties": {
            "findings": {"type": "array", "items": {
                "type": "object",
                "required": ["id", "start", "end", "text", "category", "severity",
                             "explanation", "suggestions"],
                "properties": {
                    "id": {"type": "string",
                           "description": "Names the finding within its draft, for dismissing"},
                    "start": {"type": "integer", "minimum": 0},
                    "end": {"type": "integer", "minimum": 0},
                    "text": {"type": "string"},
                    "category": {"type": "string"},
                    "severity": {"type": "string", "enum": ["info", "warning", "high"]},
                    "explanation": {"type": "string"},
                    "suggestions": {"type": "array", "items": {"type": "string"}},
                },
            }},
            "summary": {"type": "object", "additionalProperties": {"type": "integer"}},
            "total": {"type": "integer", "minimum": 0},
            "blame_total": {"type": "integer", "minimum": 0,
                            "description": "Findings that point at a person (not framing "
                                           "advice or a rostered name on its own)"},
            "dismissed": {"type": "integer", "minimum": 0},
            "notice": {"type": ["string", "null"]},
            "limits": {"type": "array", "items": {"type": "string"},
                       "description": "What the check can and cannot see"},
            "categories": {"type": "object", "additionalProperties": {"type": "string"}},
        },
    },
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {
            "type": "object",
            "required": ["code", "message", "fields"],
            "properties": {
                "code": {"type": "string", "examples": ["invalid_input"]},
                "message": {"type": "string"},
                "fields": {"type": "object", "additionalProperties": {"type": "string"},
                           "description": "A problem per field, e.g. participants[3]."},
            },
        }},
    },
    "NewIncident": {
        "type": "object",
        "additionalProperties": False,
        "required": ["external_id", "team", "title", "kind", "severity", "closed_at",
                     "participants"],
        "properties": {
            "external_id": {"type": "string", "minLength": 1, "maxLength": 200,
                            "description": "The incident tool's id; makes the call idempotent."},
            "team": {"type": "string", "description": "Team slug", "maxLength": 64},
            "title": {"type": "string", "minLength": 1, "maxLength": 200},
            "kind": {"type": "string", "enum": list(INCIDENT_KINDS)},
            "severity": {"type": "string", "enum": list(SEVERITIES)},
            "closed_at": {**DATE_TIME, "description": "When the incident closed (with zone)"},
            "participants": {"type": "array", "minItems": 1, "maxItems": MAX_PARTICIPANTS,
                             "uniqueItems": True,
                             "items": {"type": "string", "format": "email", "maxLength": 254}},
            "open_delay": {**DURATION, "description": "Overrides AFTERCARE_OPEN_DELAY"},
            "duration": {**DURATION, "description": "Overrides AFTERCARE_SURVEY_DURATION "
                                                    "(at least 1h, at most 90d)"},
            "roles": {"type": "object", "maxProperties": MAX_PARTICIPANTS,
                      "description": "Optional role of listed participants, by email; an "
                                     "address that is not a participant, or an unknown role, "
                                     "is a 422 naming it (roles.<email>). Incident metadata "
                                     "for exposure figures, never linked to answers.",
                      "additionalProperties": {"type": "string",
                                               "enum": list(INCIDENT_ROLES)}},
        },
    },
    "Survey": {
        "type": "object",
        "required": ["id", "incident_id", "external_id", "team", "status", "opens_at",
                     "closes_at", "remind_at", "closed_at", "invited", "min_group",
                     "minimum_reached", "responses"],
        "properties": {
            "id": {"type": "integer"},
            "incident_id": {"type": "integer"},
            "external_id": {"type": ["string", "null"]},
            "team": {"type": "string"},
            "status": {"type": "string", "enum": [s.value for s in SurveyStatus]},
            "opens_at": DATE_TIME,
            "closes_at": DATE_TIME,
            "remind_at": {**NULLABLE_DATE_TIME,
                          "description": "When the reminder goes out; null when none will"},
            "closed_at": NULLABLE_DATE_TIME,
            "invited": {"type": "integer", "minimum": 0},
            "min_group": {"type": "integer", "minimum": 3},
            "minimum_reached": {"type": "boolean", "description": "Never a running count"},
            "responses": {**NULLABLE_INT, "description": "Only once closed"},
        },
    },
    "ParticipantOutcome": {
        "type": "object",
        "required": ["email", "status", "reason"],
        "properties": {
            "email": {"type": "string"},
            "status": {"type": "string", "enum": ["invited", "already_invited", "not_invited"]},
            "reason": {"type": ["string", "null"], "enum": [*NOT_INVITED_REASONS, None]},
        },
    },
    "IncidentResult": {
        "type": "object",
        "required": ["created", "incident_id", "survey_id", "survey", "participants"],
        "properties": {
            "created": {"type": "boolean"},
            "incident_id": {"type": "integer"},
            "survey_id": {"type": "integer"},
            "survey": _ref("Survey"),
            "participants": {"type": "array", "items": _ref("ParticipantOutcome")},
        },
    },
    "Flag": {
        "type": "object",
        "required": ["kind", "state", "subject"],
        "properties": {
            "kind": {"type": "string"},
            "state": {"type": "string", "enum": ["flag", "watch"]},
            "subject": {"type": "string"},
            "what_was_seen": {"type": "string"},
            "how_sure": {"type": "string"},
            "next_step": {"type": "string"},
            "numbers": {"type": "object", "additionalProperties": {"type": "number"}},
            "about": {"type": "string",
                      "description": "What the flag's family is about, e.g. a team's quarter"},
            "period": {"type": "string", "description": "The period ('' for one survey)"},
        },
    },
    "Results": {
        "oneOf": [
            {
                "type": "object",
                "required": ["released", "reason", "message", "min_group"],
                "properties": {
                    "released": {"const": False},
                    "reason": {"type": "string", "enum": [
                        "not_open_yet", "still_open", "below_minimum", "no_responses",
                        "differencing", "audit_limit", "pending"]},
                    "message": {"type": "string"},
                    "min_group": {"type": "integer"},
                },
            },
            {
                "type": "object",
                "required": ["released", "n", "min_group", "constructs", "items",
                             "practices", "flags"],
                "properties": {
                    "released": {"const": True},
                    "n": {"type": "integer"},
                    "min_group": {"type": "integer"},
                    "constructs": {"type": "object", "additionalProperties": {
                        "type": "object",
                        "required": ["label", "pct", "items"],
                        "properties": {
                            "label": {"type": "string"},
                            "pct": NULLABLE_NUMBER,
                            "mean": {"type": ["object", "null"]},
                            "items": {"type": "array", "items": {"type": "string"}},
                        },
                    }},
                    "items": {"type": "object", "additionalProperties": FAVOURABLE_ITEM},
                    "practices": {"type": "object", "additionalProperties": {
                        "type": "object",
                        "required": ["policy", "question", "shown", "n", "contrary_pct"],
                        "properties": {
                            "policy": {"type": "string"},
                            "question": {"type": "string"},
                            "shown": {"type": "boolean"},
                            "n": NULLABLE_INT,
                            "contrary_pct": NULLABLE_NUMBER,
                            "low": NULLABLE_NUMBER,
                            "high": NULLABLE_NUMBER,
                        },
                    }},
                    "flags": {"type": "array", "items": _ref("Flag")},
                },
            },
        ],
    },
    "Periods": {
        "type": "object",
        "required": ["team", "grain", "min_group", "periods", "trends", "flags_period",
                     "flags"],
        "properties": {
            "team": {"type": "string"},
            "grain": {"type": "string", "enum": ["month", "quarter"]},
            "min_group": {"type": "integer"},
            "flags_period": {"type": ["string", "null"],
                             "description": "The period the flags were decided with"},
            "flags": {"type": "array", "items": _ref("Flag")},
            "periods": {"type": "array", "items": {
                "type": "object",
                "required": ["period", "released", "reason", "min_group", "surveys",
                             "respondents", "constructs"],
                "properties": {
                    "period": {"type": "string", "pattern": r"^[0-9]{4}-(Q[1-4]|[0-9]{2})$"},
                    "released": {"type": "boolean"},
                    "reason": {"type": "string"},
                    "min_group": {"type": "integer",
                                  "description": "The largest k of the pooled surveys"},
                    "surveys": {"type": "integer"},
                    "respondents": NULLABLE_INT,
                    "constructs": {"type": "object", "additionalProperties": {
                        "type": "object",
                        "required": ["label", "pct", "items"],
                        "properties": {
                            "label": {"type": "string"},
                            "pct": NULLABLE_NUMBER,
                            "items": {"type": "object",
                                      "additionalProperties": FAVOURABLE_ITEM},
                        },
                    }},
                },
            }},
            "trends": {"type": "object", "additionalProperties": {
                "type": "object",
                "required": ["method", "periods"],
                "properties": {
                    "method": {"type": "string",
                               "enum": ["mann_kendall", "change_since", "none"]},
                    "periods": {"type": "integer"},
                    "tau": NULLABLE_NUMBER,
                    "p_value": NULLABLE_NUMBER,
                    "slope": NULLABLE_NUMBER,
                    "change": NULLABLE_NUMBER,
                },
            }},
        },
    },
}


DATE = {"type": "string", "format": "date"}
NULLABLE_DATE = {"type": ["string", "null"], "format": "date"}

SCHEMAS.update({
    "NewAction": {
        "type": "object",
        "additionalProperties": False,
        "required": ["team", "flag", "text", "owner", "due_on"],
        "properties": {
            "team": {"type": "string", "maxLength": 64, "description": "Team slug"},
            "flag": {"type": "string", "description": "A key from GET /api/v1/actions?team="
                                                      "<slug> (flags): a flag of this team"},
            "text": {"type": "string", "minLength": 1, "maxLength": actions.MAX_TEXT,
                     "description": "What will change, in system-focused words"},
            "owner": {"type": "string", "description": "role:<name> (" + ", ".join(
                actions.OWNER_ROLES) + ") or team:<slug>; never a person"},
            "due_on": {**DATE, "description": "Today or later"},
            "construct": {"type": "string", "enum": list(CONSTRUCT_BY_ID),
                          "description": "Default: the flag's"},
            "status": {"type": "string", "enum": list(ACTION_STATUSES), "default": "open"},
        },
    },
    "Action": {
        "type": "object",
        "required": ["id", "text", "construct", "owner", "due_on", "status", "done_on", "flag",
                     "change"],
        "properties": {
            "id": {"type": "integer"},
            "text": {"type": "string"},
            "construct": {"type": "string", "enum": list(CONSTRUCT_BY_ID)},
            "owner": {"type": "string", "description": "The role's or team's name"},
            "due_on": DATE,
            "status": {"type": "string", "enum": list(ACTION_STATUSES)},
            "done_on": NULLABLE_DATE,
            "flag": {"type": "object", "required": ["kind", "subject", "period"],
                     "properties": {"kind": {"type": "string"},
                                    "subject": {"type": "string"},
                                    "period": {"type": ["string", "null"]}}},
            "change": {
                "type": "object",
                "description": "The construct's percent favourable in the team's released "
                               "quarter before the action was recorded and in the quarter in "
                               "which it was recorded, once that has ended; null where not "
                               "released (words say why)",
                "required": ["before_period", "after_period", "before", "after", "points",
                             "words"],
                "properties": {"before_period": {"type": ["string", "null"]},
                               "after_period": {"type": ["string", "null"]},
                               "before": NULLABLE_NUMBER, "after": NULLABLE_NUMBER,
                               "points": NULLABLE_NUMBER, "words": {"type": "string"}}},
        },
    },
    "ActionList": {
        "type": "object",
        "required": ["actions"],
        "properties": {
            "actions": {"type": "array", "items": _ref("Action")},
            "flags": {"type": "array", "description": "With ?team=: the team's flags to answer",
                      "items": {"type": "object",
                                "required": ["key", "kind", "subject", "about", "period",
                                             "construct", "what_was_seen"],
                                "properties": {
                                    "key": {"type": "string"}, "kind": {"type": "string"},
                                    "subject": {"type": "string"},
                                    "about": {"type": "string"},
                                    "period": {"type": ["string", "null"]},
                                    "construct": {"type": "string"},
                                    "what_was_seen": {"type": "string"}}}},
        },
    },
    "ActionCreated": {
        "type": "object",
        "required": ["action", "language"],
        "properties": {
            "action": _ref("Action"),
            "language": {**SCHEMAS["ReviewReport"]["properties"]["findings"],
                         "description": "The review language check on the text: wording "
                                        "that points at people, with rewrites (advice; the "
                                        "action is recorded as written)"},
        },
    },
})


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
            "schemas": SCHEMAS,
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
                    "400": _error("The body is not valid JSON"),
                    **AUTH_ERRORS,
                    "409": _error("The external_id belongs to another team's incident"),
                    "413": _error("The body is larger than 1 MiB"),
                    "415": _error("The body is not JSON"),
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
                     "schema": {"type": "string", "maxLength": 64}},
                    {"name": "grain", "in": "query", "required": False,
                     "schema": {"type": "string", "enum": ["month", "quarter"],
                                "default": "month"}},
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
                    "parameters": [
                        {"name": "team", "in": "query", "required": False,
                         "schema": {"type": "string", "maxLength": 64}},
                        {"name": "status", "in": "query", "required": False,
                         "schema": {"type": "string", "enum": list(ACTION_STATUSES)}},
                        *SIGNATURE_PARAMETERS,
                    ],
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
                        "400": _error("The body is not valid JSON"),
                        **AUTH_ERRORS,
                        "413": _error("The body is larger than 1 MiB"),
                        "415": _error("The body is not JSON"),
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
                    "400": _error("The body is not valid JSON"),
                    **AUTH_ERRORS,
                    "413": _error("The body is larger than 1 MiB"),
                    "415": _error("The body is not JSON"),
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
