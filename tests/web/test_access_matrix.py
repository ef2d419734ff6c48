"""Every rule of ``app.url_map``, as each role and as an anonymous visitor, against objects of
a team the manager does not manage: refused (401, 403, 404 or a login redirect) wherever the
role may not go, reachable where it may, never a 500. A route without an expectation fails.

How to give a new route its expectation: tests/routewalk.py (module docstring).
"""

from __future__ import annotations

import pytest

from routewalk import (
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
from support import open_survey

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
        "routes without an access expectation (see tests/routewalk.py): " + ", ".join(missing))


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
            elif expected.kind == "api_key":
                if response.status_code != 401:
                    problems.append(f"{where}: an API route without a key must answer 401")
            elif expected.kind == "roles" and role not in expected.roles:
                if not _refused(response):
                    problems.append(f"{where}: role {role} may not reach this")
                elif role != "anonymous" and response.status_code in (302, 303):
                    problems.append(f"{where}: signed in, expected 403/404, not a redirect")
            elif expected.kind == "roles" and role == "manager" and team_scoped(rule):
                if response.status_code not in (403, 404):
                    problems.append(f"{where}: another team's object must be refused")
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
