"""Walk every rule of ``app.url_map``: who may reach it, and with which arguments.

Used by tests/web/test_access_matrix.py, test_csrf_everywhere.py, test_payloads.py,
test_form_fuzz.py and test_route_fuzz.py. HOW TO ADD A ROUTE (docs/security.md, "Access
matrix"):

* Protect the view with ``surveys.web.access.roles_required(...)`` (metadata is read from it),
  ``surveys.web.public`` or, for API views, put them under ``/api/`` (every ``/api/`` route is
  expected to answer 401 without an API key; ``surveys.web.api_key_access`` marks others).
* Or add one line to ``EXPLICIT`` (endpoint) or ``BLUEPRINT_DEFAULTS`` (whole blueprint).
* Ids and team slugs in a URL use the ``<id:...>`` and ``<slug:...>`` converters
  (``surveys.web``); test_payloads.py fails on any other converter for them.
* If its URL has a new argument name, add it to ``ARG_VALUES`` (and to ``TEAM_SCOPED`` when
  the argument names an object that belongs to a team: a manager of another team must then
  get the same 404 as for an object that does not exist).

The fuzz pass (``fill_rule``) needs nothing: it fills each argument from the rule itself.

A route that none of these classify fails ``test_every_route_has_an_expectation``.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from urllib.parse import quote

from flask import Flask
from werkzeug.routing import Rule

from surveys.services.access import ALL_ROLES
from surveys.web.access import Access, access_of

ROLES = ("anonymous", *ALL_ROLES)
IGNORED_METHODS = {"HEAD", "OPTIONS"}

# Endpoints that carry no decorator metadata and are not covered by a blueprint default.
EXPLICIT: dict[str, Access] = {
    "static": Access("public"),
    "api.openapi": Access("public"),  # the OpenAPI description holds nothing about anyone
    "review.check": Access("roles", ALL_ROLES),  # the language check, any account
}

# Whole blueprints, for views written before the decorators existed.
BLUEPRINT_DEFAULTS: dict[str, Access] = {
    "participant": Access("public"),
    "checkin": Access("public"),  # a participant's confidential check-in request
    "optout": Access("public"),  # the opt-out link in invitation emails
}

# State-changing routes outside /api/ that take no CSRF token, each with its reason.
CSRF_EXEMPT: dict[str, str] = {
    "optout.optout": "RFC 8058 one-click unsubscribe: mail clients POST without a form; "
                     "the single-purpose signed link is the authority",
}

# Path arguments whose value names an object of a team.
TEAM_SCOPED = {"incident_id", "survey_id", "team", "slug", "team_slug"}


@dataclass(frozen=True)
class Objects:
    """Objects of the team the manager does not manage (platform), plus harmless values."""

    incident_id: int
    survey_id: int
    team_slug: str


def arg_values(objects: Objects) -> dict[str, object]:
    return {
        "incident_id": objects.incident_id,
        "survey_id": objects.survey_id,
        "team": objects.team_slug,
        "slug": objects.team_slug,
        "team_slug": objects.team_slug,
        "token": secrets.token_urlsafe(32),
        "filename": "style.css",
        "key_id": 1,
        "action_id": 1,
        "user_id": 1,
        "period": "2026-11",
        "grain": "month",
    }


ARG_VALUES = tuple(arg_values(Objects(1, 1, "x")))


def expectation(app: Flask, rule: Rule) -> Access | None:
    if rule.endpoint in EXPLICIT:
        return EXPLICIT[rule.endpoint]
    if rule.rule.startswith("/api/"):
        return Access("api_key")  # an exception (say, a public OpenAPI file) goes in EXPLICIT
    found = access_of(app.view_functions[rule.endpoint])
    if found is not None:
        return found
    blueprint = rule.endpoint.rpartition(".")[0]
    return BLUEPRINT_DEFAULTS.get(blueprint)


def methods(rule: Rule) -> list[str]:
    return sorted((rule.methods or set()) - IGNORED_METHODS)


def url_for_rule(rule: Rule, objects: Objects) -> str:
    values = arg_values(objects)
    missing = [a for a in rule.arguments if a not in values]
    if missing:
        raise KeyError(f"{rule.rule}: add {missing} to tests/support/routes.py arg_values")
    return rule.build({a: values[a] for a in rule.arguments}, append_unknown=False)[1]


_ARGUMENT = re.compile(r"<(?:[a-zA-Z_]\w*(?:\([^)]*\))?:)?(?P<name>[a-zA-Z_]\w*)>")


def fill_rule(rule: Rule, values: dict[str, str]) -> str:
    """The rule's path with each argument replaced by ``values[name]`` as sent, percent-
    encoded into one path segment, whatever the converter would accept (for the fuzz)."""
    return _ARGUMENT.sub(lambda m: quote(values[m["name"]], safe=""), rule.rule)


def arguments_of(rule: Rule, kind: type) -> set[str]:
    """The rule's arguments whose converter is a ``kind`` (e.g. ``surveys.web.IdConverter``)."""
    return {name for name, converter in rule._converters.items()
            if isinstance(converter, kind)}


def team_scoped(rule: Rule) -> bool:
    return bool(set(rule.arguments) & TEAM_SCOPED)


def deepest_role(access: Access) -> str | None:
    """The role that reaches furthest into a route: admin where it is allowed (every team,
    the organisation), else the first role the route admits; None for public and API
    routes (anonymous)."""
    if access.kind != "roles":
        return None
    return "admin" if "admin" in access.roles else access.roles[0]


def client_for(app: Flask, access: Access):
    """A test client signed in as ``deepest_role(access)`` (anonymous when None), and a valid
    CSRF token for its session (for the fuzz tests)."""
    from surveys import db as dbmod

    client = app.test_client()
    if (role := deepest_role(access)) is not None:
        with dbmod.session_scope(app) as db:
            sign_in(client, db, role_email(role))
    return client, csrf_token(client)


def sign_in(client, db, email: str) -> None:
    """Put a signed-in session for ``email`` into the client's cookie (authorization tests;
    authentication itself is tested through the pages in test_auth.py)."""
    from sqlalchemy import select

    from support import NOW
    from surveys.models import User

    db.rollback()
    user = db.scalar(select(User).where(User.email == email))
    with client.session_transaction() as session:
        session.clear()
        session["_user_id"] = str(user.id)
        session["_fresh"] = True
        session["sv"] = user.session_version
        session["seen"] = session["since"] = NOW.timestamp()


def csrf_token(client) -> str:
    """A valid CSRF token for the client's session."""
    from support import csrf_from

    return csrf_from(client.get("/login").text if not _signed_in(client)
                     else client.get("/account").text)


def _signed_in(client) -> bool:
    with client.session_transaction() as session:
        return "_user_id" in session


def role_email(role: str) -> str:
    return f"{role}@example.org"
