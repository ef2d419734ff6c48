"""Actions from flags in the JSON API: ``GET /api/v1/actions`` (``actions:read``) lists them,
with a team's flags to answer when ``team`` is given; ``POST /api/v1/actions``
(``actions:write``) records one. Routes of the API blueprint, registered with it
(``surveys.api.init_app``); errors are the API's JSON errors."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import g, jsonify, request
from sqlalchemy import select

from surveys.api import _json_body, bp, requires
from surveys.db import get_session
from surveys.errors import InvalidInput, NotFound
from surveys.models import ACTION_STATUSES, Team
from surveys.runtime import now
from surveys.services import actions

ACTION_FIELDS = ("team", "flag", "text", "owner", "due_on", "construct", "status")
REQUIRED_ACTION_FIELDS = ("team", "flag", "text", "owner", "due_on")


def parse_action(data: dict[str, Any]) -> actions.NewAction:
    """Types and shapes only; the service checks meaning (team, flag, owner, dates)."""
    problems: dict[str, str] = {}
    for name in sorted(set(data) - set(ACTION_FIELDS)):
        problems[name[:60]] = "unknown field"
    for name in REQUIRED_ACTION_FIELDS:
        if data.get(name) is None:
            problems[name] = "is required"
    for name in ACTION_FIELDS:
        value = data.get(name)
        if value is not None and not isinstance(value, str):
            problems[name] = "must be a string"
    due_on = None
    if isinstance(data.get("due_on"), str):
        try:
            due_on = date.fromisoformat(data["due_on"])
        except ValueError:
            problems["due_on"] = "must be a date such as 2026-12-18"
    if problems:
        raise InvalidInput("The action could not be recorded.", problems)
    return actions.NewAction(team=data["team"], flag=data["flag"], text=data["text"],
                             owner=data["owner"], due_on=due_on,
                             construct=data.get("construct"),
                             status=data.get("status") or "open")


def _team_ids(slug: str | None) -> list[int] | None:
    if slug is None:
        return None
    team_id = get_session().scalar(select(Team.id).where(Team.slug == slug[:64]))
    if team_id is None:
        raise NotFound(f"No team {slug[:64]!r}.")
    return [team_id]


@bp.get("/actions")
@requires("actions:read")
def list_actions():
    slug = request.args.get("team")
    status = request.args.get("status")
    if status is not None and status not in ACTION_STATUSES:
        raise InvalidInput("Unknown status.",
                           {"status": f"must be one of {', '.join(ACTION_STATUSES)}"})
    db = get_session()
    team_ids = _team_ids(slug)
    body: dict[str, Any] = {"actions": [a.to_dict() for a in
                                        actions.list_actions(db, team_ids, now(), status)]}
    if team_ids is not None:
        body["flags"] = [{"key": f.key, "kind": f.flag.kind, "subject": f.flag.subject,
                          "about": f.flag.about, "period": f.period or None,
                          "construct": f.construct, "what_was_seen": f.flag.what_was_seen}
                         for f in actions.team_flags(db, team_ids[0])]
    return jsonify(body)


@bp.post("/actions")
@requires("actions:write")
def create_action():
    data = parse_action(_json_body())
    db = get_session()
    row = actions.record_action(db, None, data, now(), actor_label=f"api-key:{g.api_key.id}")
    (view,) = [v for v in actions.list_actions(db, [row.team_id], now()) if v.id == row.id]
    found = actions.language_findings(db, row.team_id, row.text)
    return jsonify({"action": view.to_dict(),
                    "language": [f.to_dict() for f in found]}), 201
