"""Actions from flags in the JSON API: ``GET /api/v1/actions`` (``actions:read``) lists them,
with a team's flags to answer when ``team`` is given; ``POST /api/v1/actions``
(``actions:write``) records one. Routes of the API blueprint, registered with it
(``surveys.api.init_app``); errors are the API's JSON errors."""

from __future__ import annotations

from flask import g, jsonify, request

from surveys.api import _json_body, bp, requires, schemas
from surveys.db import get_session
from surveys.runtime import now
from surveys.services import actions
from surveys.services.access import find_team


def _team_ids(slug: str | None) -> list[int] | None:
    if slug is None:
        return None
    return [find_team(get_session(), slug).id]


@bp.get("/actions")
@requires("actions:read")
def list_actions():
    query = schemas.parse(schemas.ActionsQuery, request.args.to_dict(),
                          "The actions could not be listed.")
    db = get_session()
    team_ids = _team_ids(query.team)
    flags = None
    if team_ids is not None:
        flags = [schemas.FlagToAnswer(
            key=f.key, kind=f.flag.kind, subject=f.flag.subject, about=f.flag.about,
            period=f.period or None, construct=f.construct, what_was_seen=f.flag.what_was_seen)
            for f in actions.team_flags(db, team_ids[0])]
    body = schemas.ActionList(
        actions=[schemas.Action(**a.to_dict())
                 for a in actions.list_actions(db, team_ids, now(), query.status)],
        flags=flags)
    return jsonify(body.body())


@bp.post("/actions")
@requires("actions:write")
def create_action():
    data = schemas.parse(schemas.NewAction, _json_body(), "The action could not be recorded.")
    db = get_session()
    row = actions.record_action(db, None, data.command(), now(),
                                actor_label=f"api-key:{g.api_key.id}")
    (view,) = [v for v in actions.list_actions(db, [row.team_id], now()) if v.id == row.id]
    found = actions.language_findings(db, row.team_id, row.text)
    body = schemas.ActionCreated(action=schemas.Action(**view.to_dict()),
                                 language=[schemas.LintFinding(**f.to_dict()) for f in found])
    return jsonify(body.body()), 201
