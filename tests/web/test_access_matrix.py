"""Every rule of ``app.url_map``, as each role and as an anonymous visitor, against objects of
a team the manager does not manage: refused (401, 403, 404 or a login redirect) wherever the
role may not go, reachable where it may, never a 500. A route without an expectation fails.
Another team's incident or team is a 404 indistinguishable from one that does not exist.
Every answer but a static file is ``Cache-Control: no-store`` (one place: surveys.web).

How to give a new route its expectation: tests/support/routes.py (module docstring).
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from support import open_survey
from support.routes import (
    ROLES,
    Objects,
    csrf_token,
    expectation,
    methods,
    role_email,
    sign_in,
    team_scoped,
    url_for_rule,
)
from surveys.models import MAX_ID, AuditEvent

OTHER_TEAM_TITLE = "Platform-only cache stampede 7f3c"


@pytest.fixture
def objects(org, db, settings, box) -> Objects:
    survey, _ = open_survey(db, settings, box, team="platform", title=OTHER_TEAM_TITLE)
    return Objects(survey.incident_id, survey.id, "platform")


def _rules(app):
    return sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint))


def test_every_route_has_an_expectation(app):
    missing = [f"{r.endpoint} {r.rule}" for r in _rules(app) if expectation(app, r) is None]
    assert not missing, (
        "routes without an access expectation (see tests/support/routes.py): " + ", ".join(missing))


def test_every_route_argument_has_a_value(app):
    objects = Objects(1, 1, "platform")
    for rule in _rules(app):
        url_for_rule(rule, objects)  # raises KeyError naming the argument to add


def _request(app, db, role: str, method: str, url: str):
    client = app.test_client()
    if role != "anonymous":
        sign_in(client, db, role_email(role))
    if method == "GET":
        response = client.get(url)
    else:
        token = csrf_token(client)
        response = client.open(url, method=method, data={"csrf_token": token},
                               headers={"X-CSRFToken": token})
    response.get_data()
    response.close()
    return response


def _refused(response) -> bool:
    if response.status_code in (401, 403, 404):
        return True
    return response.status_code in (302, 303) and "/login" in response.headers.get(
        "Location", "")


@pytest.mark.parametrize("role", ROLES)
def test_access_matrix(app, db, objects, role):
    problems = []
    for rule in _rules(app):
        expected = expectation(app, rule)
        if expected is None:
            continue  # reported by test_every_route_has_an_expectation
        url = url_for_rule(rule, objects)
        for method in methods(rule):
            response = _request(app, db, role, method, url)
            where = f"{role} {method} {url} ({rule.endpoint}) -> {response.status_code}"
            if response.status_code >= 500:
                problems.append(f"{where}: server error")
            if rule.endpoint != "static" and response.headers.get("Cache-Control") != "no-store":
                problems.append(f"{where}: Cache-Control "
                                f"{response.headers.get('Cache-Control')!r}, not no-store")
            elif expected.kind == "api_key":
                if response.status_code != 401:
                    problems.append(f"{where}: an API route without a key must answer 401")
            elif expected.kind == "roles" and role not in expected.roles:
                if not _refused(response):
                    problems.append(f"{where}: role {role} may not reach this")
                elif role != "anonymous" and response.status_code in (302, 303):
                    problems.append(f"{where}: signed in, expected 403/404, not a redirect")
            elif expected.kind == "roles" and role == "manager" and team_scoped(rule):
                if response.status_code != 404:
                    problems.append(f"{where}: another team's object must be a 404")
            elif expected.kind in ("roles", "public"):
                if response.status_code in (401, 403):
                    problems.append(f"{where}: allowed for {role}, but refused")
            if (role == "manager" and response.status_code == 200
                    and OTHER_TEAM_TITLE in response.get_data(as_text=True)):
                problems.append(f"{where}: shows another team's incident")
    assert not problems, "\n".join(problems)


def test_cookies_never_authenticate_the_api(app, db, objects):
    """Signed-in sessions of every role still get 401 from every /api/ route."""
    api_rules = [r for r in _rules(app) if expectation(app, r).kind == "api_key"]
    assert api_rules, "no API routes found"
    for role in ROLES:
        for rule in api_rules:
            for method in methods(rule):
                response = _request(app, db, role, method, url_for_rule(rule, objects))
                assert response.status_code == 401, (role, method, rule.rule)


_CSRF = re.compile(r'(name="csrf_token" value=")[^"]+"')


def _page(response) -> str:
    """The body with the one thing that differs between any two requests blanked: the CSRF
    token (signed with a timestamp)."""
    return _CSRF.sub(r'\1"', response.get_data(as_text=True))


def test_another_teams_objects_look_exactly_like_missing_ones(app, db, objects):
    """A manager probing ids and slugs learns nothing: for every team-scoped route (walked
    from the url_map), another team's object and one that does not exist give the same
    status and the same page, while the audit log keeps the refusal for what it was."""
    missing = Objects(MAX_ID, MAX_ID, "no-such-team")
    compared = 0
    for rule in _rules(app):
        expected = expectation(app, rule)
        if expected.kind != "roles" or "manager" not in expected.roles or not team_scoped(rule):
            continue
        for method in methods(rule):
            seen = []
            for probe in (objects, missing):
                response = _request(app, db, "manager", method, url_for_rule(rule, probe))
                seen.append((response.status_code, response.mimetype, _page(response)))
            assert seen[0] == seen[1], f"{method} {rule.rule}: another team's object differs"
            assert seen[0][0] == 404, f"{method} {rule.rule}"
            compared += 1
    assert compared >= 6
    db.rollback()
    details = set(db.scalars(select(AuditEvent.detail).where(
        AuditEvent.actor == "manager@example.org", AuditEvent.allowed.is_(False))))
    assert "refused: another team's" in details
