"""One schema per JSON shape of the API, as pydantic models.

Each request model validates the body (types, limits, enums, the domain's own text rules) and
each response model serialises an answer; the OpenAPI document's ``components.schemas`` are
generated from the same classes (`component_schemas`), so a limit or an enum is written once.
Validation problems become the API's error format through `problems`: one sentence per field,
named the way clients send it (``participants[3]``).

Only the shape is checked here. Meaning (does the team exist, is the address on the roster,
has the incident closed) is the service's, which reports it in the same error format.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    WithJsonSchema,
)
from pydantic.json_schema import models_json_schema
from pydantic_core import PydanticCustomError

from analysis.exposure import INCIDENT_ROLES
from analysis.items import CONSTRUCT_BY_ID
from surveys.config import parse_duration
from surveys.errors import InvalidInput
from surveys.models import ACTION_STATUSES, INCIDENT_KINDS, SEVERITIES, SLUG_MAX, SurveyStatus
from surveys.services import actions, lifecycle, review
from surveys.services.lifecycle import MAX_PARTICIPANTS, MAX_TITLE, NOT_INVITED_REASONS

REF = "#/components/schemas/{model}"
DURATION_PATTERN = r"^[0-9]{1,6}[smhdw]?$"  # six digits at most: no timedelta overflow
_DURATION = re.compile(DURATION_PATTERN[1:-1])
MAX_FIELDS = 50  # problems named in one error; a body of 10,000 unknown keys gets the first
MAX_EXTERNAL_ID = 200
MAX_EMAIL = 254
MAX_SLUG = SLUG_MAX


# --- the domain's text rules, as validators -------------------------------------------------


def _problem(message: str) -> PydanticCustomError:
    return PydanticCustomError("aftercare", message)


def _one_line(value: str) -> str:
    if lifecycle.has_control_characters(value):
        raise _problem("must not contain control characters")
    return value


def _title(value: str) -> str:
    if (problem := lifecycle.title_problem(value)) is not None:
        raise _problem(problem)  # the rule of the web form and the command line
    return value


def _aware_datetime(value: object) -> object:
    """An aware UTC datetime from ISO 8601 text; anything else is refused in words."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise _problem("must be a date and time as text, e.g. 2026-11-20T14:00:00Z")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise _problem("must be an ISO 8601 date and time, e.g. 2026-11-20T14:00:00Z") from None
    if parsed.tzinfo is None:
        raise _problem("must include a time zone, e.g. 2026-11-20T14:00:00Z")
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise _problem("is out of range") from None


def _duration(value: object) -> object:
    if isinstance(value, timedelta):
        return value
    if not isinstance(value, str) or not _DURATION.fullmatch(value):
        raise _problem("must be a number with s, m, h, d or w, e.g. 24h, 90m or 7d")
    return parse_duration("duration", value)


def _iso_date(value: object) -> object:
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise _problem("must be a date such as 2026-12-18")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise _problem("must be a date such as 2026-12-18") from None


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


OneLine = Annotated[str, AfterValidator(_one_line)]
Title = Annotated[str, AfterValidator(_title),
                  WithJsonSchema({"type": "string", "minLength": 1, "maxLength": MAX_TITLE})]
AwareDateTime = Annotated[datetime, BeforeValidator(_aware_datetime),
                          WithJsonSchema({"type": "string", "format": "date-time"})]
Duration = Annotated[timedelta, BeforeValidator(_duration),
                     WithJsonSchema({"type": "string", "pattern": DURATION_PATTERN,
                                     "examples": ["0", "24h", "7d"]})]
Email = Annotated[str, AfterValidator(_one_line),
                  WithJsonSchema({"type": "string", "format": "email",
                                  "maxLength": MAX_EMAIL})]
Day = Annotated[date, BeforeValidator(_iso_date),
                WithJsonSchema({"type": "string", "format": "date"})]
Timestamp = Annotated[datetime, PlainSerializer(_iso, return_type=str),
                      WithJsonSchema({"type": "string", "format": "date-time"})]
NullableTimestamp = Annotated[datetime | None,
                              PlainSerializer(lambda v: None if v is None else _iso(v)),
                              WithJsonSchema({"type": ["string", "null"],
                                              "format": "date-time"})]


class Request(BaseModel):
    """A request body: strict types (no "42" for 42), no unknown field. Problems of a field
    in ``whole`` are named by the field, not by its items."""

    model_config = ConfigDict(extra="forbid", strict=True)
    whole: ClassVar[frozenset[str]] = frozenset()


class Response(BaseModel):
    """A response body: every field is always sent (null where there is nothing)."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    def body(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


# --- requests ---------------------------------------------------------------------------


class NewIncident(Request):
    external_id: OneLine = Field(description="The incident tool's id; makes the call "
                                             "idempotent.",
                                 json_schema_extra={"minLength": 1,
                                                    "maxLength": MAX_EXTERNAL_ID})
    team: OneLine = Field(description="Team slug", json_schema_extra={"maxLength": MAX_SLUG})
    title: Title
    kind: Literal[INCIDENT_KINDS]  # type: ignore[valid-type]
    severity: Literal[SEVERITIES]  # type: ignore[valid-type]
    closed_at: AwareDateTime = Field(description="When the incident closed (with zone)")
    participants: list[Email] = Field(
        max_length=MAX_PARTICIPANTS,
        json_schema_extra={"minItems": 1, "uniqueItems": True})
    open_delay: Duration | None = Field(None, description="Overrides AFTERCARE_OPEN_DELAY")
    duration: Duration | None = Field(None, description="Overrides AFTERCARE_SURVEY_DURATION "
                                                        "(at least 1h, at most 90d)")
    # Which addresses are participants and which roles exist is the service's rule
    # (`lifecycle.role_problems`), so every bad role is named at once: the schema takes any
    # value here and documents the roles.
    roles: Annotated[dict[str, Any], WithJsonSchema({
        "type": "object", "maxProperties": MAX_PARTICIPANTS,
        "additionalProperties": {"type": "string", "enum": list(INCIDENT_ROLES)}})] | None = \
        Field(None, max_length=MAX_PARTICIPANTS,
              description="Optional role of listed participants, by email; an address that is "
                          "not a participant, or an unknown role, is a 422 naming it "
                          "(roles.<email>). Incident metadata for exposure figures, never "
                          "linked to answers.")

    def command(self) -> lifecycle.NewIncident:
        return lifecycle.NewIncident(
            team=self.team, title=self.title, kind=self.kind, severity=self.severity,
            closed_at=self.closed_at, participants=list(self.participants),
            external_id=self.external_id, open_delay=self.open_delay, duration=self.duration,
            roles=self.roles)


class ReviewDraft(Request):
    whole = frozenset({"dismissed"})  # ids are opaque: one message for the list
    text: str = Field(max_length=review.MAX_DRAFT_CHARS,
                      description="The review draft, Markdown or plain text.")
    names: list[Annotated[str, Field(min_length=1, max_length=review.MAX_NAME_CHARS)]] = Field(
        default_factory=list, max_length=review.MAX_NAMES,
        description="People's names (roster, participants). With a roster, name detection "
                    "is exact; without one, names are guessed where they are the subject of "
                    "an error.")
    dismissed: list[Annotated[str, Field(min_length=1, max_length=80)]] = Field(
        default_factory=list, max_length=review.MAX_DISMISSED,
        description="Ids of findings dismissed for this draft (from an earlier response); "
                    "they are left out.")


class Query(Request):
    """Query arguments: like a body, but an argument nobody reads is ignored (a cache buster
    or a tracking parameter added by a proxy is not the client's mistake)."""

    model_config = ConfigDict(extra="ignore", strict=True)


class PeriodsQuery(Query):
    grain: Literal["month", "quarter"] = "month"


class NewAction(Request):
    team: str = Field(description="Team slug", json_schema_extra={"maxLength": MAX_SLUG})
    flag: str = Field(description="A key from GET /api/v1/actions?team=<slug> (flags): a "
                                  "flag of this team")
    # Length and wording are the service's rule (`actions.record_action`), shared with the form.
    text: Annotated[str, WithJsonSchema({"type": "string", "minLength": 1,
                                         "maxLength": actions.MAX_TEXT})] = Field(
        description="What will change, in system-focused words")
    owner: str = Field(description="role:<name> (" + ", ".join(actions.OWNER_ROLES)
                                   + ") or team:<slug>; never a person")
    due_on: Day = Field(description="Today or later")
    # "construct" is a name pydantic's BaseModel already uses: the field is aliased
    construct_id: Literal[tuple(CONSTRUCT_BY_ID)] | None = Field(  # type: ignore[valid-type]
        None, alias="construct", description="Default: the flag's")
    status: Literal[ACTION_STATUSES] = "open"  # type: ignore[valid-type]

    def command(self) -> actions.NewAction:
        return actions.NewAction(team=self.team, flag=self.flag, text=self.text,
                                 owner=self.owner, due_on=self.due_on,
                                 construct=self.construct_id, status=self.status)


class ActionsQuery(Query):
    team: str | None = Field(None, max_length=MAX_SLUG)
    status: Literal[ACTION_STATUSES] | None = None  # type: ignore[valid-type]


# --- responses --------------------------------------------------------------------------


class ErrorBody(BaseModel):
    code: str = Field(examples=["invalid_input"])
    message: str
    fields: dict[str, str] = Field(description="A problem per field, e.g. participants[3].")


class Error(Response):
    error: ErrorBody


class Survey(Response):
    id: int
    incident_id: int
    external_id: str | None
    team: str
    status: SurveyStatus
    opens_at: Timestamp
    closes_at: Timestamp
    remind_at: NullableTimestamp = Field(description="When the reminder goes out; null when "
                                                     "none will")
    closed_at: NullableTimestamp
    invited: int = Field(ge=0)
    min_group: int = Field(ge=3)
    minimum_reached: bool = Field(description="Never a running count")
    responses: int | None = Field(description="Only once closed")


class ParticipantOutcome(Response):
    email: str
    status: Literal["invited", "already_invited", "not_invited"]
    reason: Literal[NOT_INVITED_REASONS] | None  # type: ignore[valid-type]
    added_to_roster: bool = Field(description="The address was on no roster: this request "
                                              "added it to the team's (never silently)")


class IncidentResult(Response):
    created: bool
    incident_id: int
    survey_id: int
    survey: Survey
    participants: list[ParticipantOutcome]


class Flag(Response):
    kind: str
    state: Literal["flag", "watch"]
    subject: str
    what_was_seen: str
    how_sure: str
    next_step: str
    numbers: dict[str, float]
    about: str = Field(description="What the flag's family is about, e.g. a team's quarter")
    period: str = Field(description="The period ('' for one survey)")

    @classmethod
    def of(cls, flag: Any) -> Flag:
        return cls(**flag.to_dict())


class Withheld(Response):
    released: Literal[False] = False
    reason: Literal["not_open_yet", "still_open", "below_minimum", "no_responses",
                    "differencing", "audit_limit", "pending"]
    message: str
    min_group: int


class Interval(Response):
    mean: float
    n: int
    low: float
    high: float
    method: str


class Construct(Response):
    label: str
    pct: float | None
    mean: Interval | None
    items: list[str]


class Favourable(Response):
    shown: bool
    n: int | None
    pct: float | None
    low: float | None
    high: float | None


class Practice(Response):
    policy: str
    question: str
    shown: bool
    n: int | None
    contrary_pct: float | None
    low: float | None
    high: float | None


class Released(Response):
    released: Literal[True] = True
    n: int
    min_group: int
    constructs: dict[str, Construct]
    items: dict[str, Favourable]
    practices: dict[str, Practice]
    flags: list[Flag]


class PeriodItem(Response):
    shown: bool
    n: int | None
    pct: float | None


class PeriodConstruct(Response):
    label: str
    pct: float | None
    items: dict[str, PeriodItem]


class Period(Response):
    period: str = Field(pattern=r"^[0-9]{4}-(Q[1-4]|[0-9]{2})$")
    released: bool
    reason: str
    min_group: int = Field(description="The largest k of the pooled surveys")
    surveys: int
    respondents: int | None
    constructs: dict[str, PeriodConstruct]


class Trend(Response):
    method: Literal["mann_kendall", "change_since", "none"]
    periods: int
    tau: float | None
    p_value: float | None
    slope: float | None
    change: float | None


class ExposurePeriod(Response):
    period: str = Field(pattern=r"^[0-9]{4}-(Q[1-4]|[0-9]{2})$")
    released: bool
    reason: str = Field(description="The release decision's code, as for the periods "
                                    "(small_team: a team of fewer than k people)")
    involved_pct: float | None = Field(description="Share of the team listed on at least "
                                                   "one incident, percent")
    commander_pct: float | None = Field(description="Share who were incident commander")
    concentration_pct: float | None = Field(
        description="Share of involvements carried by the most involved fifth; null when "
                    "nobody was involved")


class Exposure(Response):
    periods: list[ExposurePeriod] = Field(description="Oldest first; decided when each "
                                                      "period ended, from incident roles, "
                                                      "never from answers; nobody named")
    flags: list[Flag] = Field(description="Decided with the latest period")


class Periods(Response):
    team: str
    grain: Literal["month", "quarter"]
    min_group: int
    periods: list[Period] = Field(description="Oldest first")
    trends: dict[str, Trend]
    flags_period: str | None = Field(description="The period the flags were decided with")
    flags: list[Flag]
    exposure: Exposure = Field(description="Shared incident exposure per period")


class LintFinding(Response):
    id: str = Field(description="Names the finding within its draft, for dismissing")
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    text: str
    category: str
    severity: Literal["info", "warning", "high"]
    explanation: str
    suggestions: list[str]


class ReviewReport(Response):
    findings: list[LintFinding]
    summary: dict[str, int]
    total: int = Field(ge=0)
    blame_total: int = Field(ge=0, description="Findings that point at a person (not framing "
                                               "advice or a rostered name on its own)")
    dismissed: int = Field(ge=0)
    notice: str | None
    limits: list[str] = Field(description="What the check can and cannot see")
    categories: dict[str, str]


class ActionFlag(Response):
    kind: str
    subject: str
    period: str | None


class ActionChange(Response):
    """The construct's percent favourable in the team's released period before the action was
    recorded and in the period in which it was recorded, once that has ended; null where not
    released (the words say why)."""

    before_period: str | None
    after_period: str | None
    before: float | None
    after: float | None
    points: float | None
    words: str


class Action(Response):
    id: int
    text: str
    construct_id: Literal[tuple(CONSTRUCT_BY_ID)] = Field(  # type: ignore[valid-type]
        alias="construct")
    owner: str = Field(description="The role's or team's name")
    due_on: date
    status: Literal[ACTION_STATUSES]  # type: ignore[valid-type]
    done_on: date | None
    flag: ActionFlag
    change: ActionChange


class FlagToAnswer(Response):
    key: str
    kind: str
    subject: str
    about: str
    period: str | None
    construct_id: str = Field(alias="construct")
    what_was_seen: str


class ActionList(Response):
    actions: list[Action] = Field(description="Oldest first")
    flags: list[FlagToAnswer] | None = Field(description="With ?team=: the team's flags to "
                                                         "answer; null without")


class ActionCreated(Response):
    action: Action
    language: list[LintFinding] = Field(
        description="The review language check on the text: wording that points at people, "
                    "with rewrites (advice; the action is recorded as written)")


REQUESTS: tuple[type[BaseModel], ...] = (NewIncident, ReviewDraft, NewAction)
RESPONSES: tuple[type[BaseModel], ...] = (Error, Survey, IncidentResult, Periods, ReviewReport,
                                          Withheld, Released, ActionList, ActionCreated)


def component_schemas() -> dict[str, Any]:
    """``components.schemas`` of the OpenAPI document, generated from the models above."""
    _, top = models_json_schema(
        [(model, "validation") for model in REQUESTS]
        + [(model, "serialization") for model in RESPONSES],
        ref_template=REF)
    schemas = dict(top.get("$defs", {}))
    schemas["Results"] = {"description": "Released results of one survey, or why not",
                          "oneOf": [{"$ref": REF.format(model="Withheld")},
                                    {"$ref": REF.format(model="Released")}]}
    return schemas


# --- validation problems in the API's words --------------------------------------------


def _words(error: dict[str, Any]) -> str:
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "aftercare":
        return error["msg"]
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "unknown field"
    if kind in ("string_type", "string_sub_type"):
        return "must be a string"
    if kind == "list_type":
        return "must be a list"
    if kind == "dict_type":
        return "must be an object"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected', '')}".replace("'", "")
    if kind in ("too_long", "string_too_long"):
        limit = ctx.get("max_length")
        unit = "characters" if kind == "string_too_long" else "items"
        got = f" (got {ctx['actual_length']})" if "actual_length" in ctx else ""
        return f"at most {limit} {unit}{got}"
    if kind in ("too_short", "string_too_short"):
        unit = "characters" if kind == "string_too_short" else "items"
        return f"at least {ctx.get('min_length')} {unit}"
    return error.get("msg", "is not valid")


def _name(loc: tuple[Any, ...]) -> str:
    """``("participants", 3)`` -> ``participants[3]``; unknown names are cut to 60."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif out:
            out += f".{part}"
        else:
            out = str(part)[:60]
    return out or "body"


def problems(model: type[Request], exc: ValidationError) -> dict[str, str]:
    """One sentence per field, the first problem of each, at most `MAX_FIELDS` fields."""
    out: dict[str, str] = {}
    for error in exc.errors(include_url=False):
        loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and p.startswith(
            "function-")))  # validators' own names are not the client's
        if loc and loc[0] in model.whole:
            loc = loc[:1]
        out.setdefault(_name(loc), _words(error))
        if len(out) == MAX_FIELDS:
            break
    return out


def parse(model: type[Request], data: dict[str, Any], message: str) -> Any:
    """``data`` as ``model``, or `InvalidInput` naming each field's problem."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput(message, problems(model, exc)) from None
