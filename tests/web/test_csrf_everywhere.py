"""Every state-changing route (walked from ``app.url_map``) refuses a request whose CSRF token
is missing or wrong, signed in or not. API routes use bearer keys, not cookies, so CSRF does
not apply to them (test_access_matrix checks that cookies never authenticate the API)."""

from __future__ import annotations

import pytest

from support import open_survey
from support.routes import CSRF_EXEMPT, Objects, csrf_token, role_email, sign_in, url_for_rule

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
EXPIRED = "This form expired or was sent from somewhere else"


@pytest.fixture
def objects(org, db, settings, box) -> Objects:
    survey, _ = open_survey(db, settings, box, team="platform")
    return Objects(survey.incident_id, survey.id, "platform")


def _unsafe_rules(app):
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.rule.startswith("/api/") or rule.endpoint in CSRF_EXEMPT:
            continue
        for method in sorted((rule.methods or set()) & UNSAFE):
            yield rule, method


def test_there_are_forms_to_check(app):
    endpoints = {rule.endpoint for rule, _ in _unsafe_rules(app)}
    assert {"auth.login", "auth.logout", "participant.submit", "results.close",
            "admin.organisation"} <= endpoints


@pytest.mark.parametrize("who", ["anonymous", "admin", "manager"])
def test_missing_or_wrong_csrf_token_is_refused_everywhere(app, db, objects, who):
    problems = []
    for rule, method in _unsafe_rules(app):
        url = url_for_rule(rule, objects)
        for label, data, headers in (
            ("missing", {}, {}),
            ("wrong", {"csrf_token": "IjAwMDAi.ZZZZZZ.forged"}, {}),
            ("wrong header", {}, {"X-CSRFToken": "forged"}),
        ):
            client = app.test_client()
            if who != "anonymous":
                sign_in(client, db, role_email(who))
            else:
                csrf_token(client)  # the session has a real token; the request does not
            response = client.open(url, method=method, data=data, headers=headers)
            if response.status_code != 400 or EXPIRED not in response.get_data(as_text=True):
                problems.append(f"{who} {method} {url} with {label} token -> "
                                f"{response.status_code}")
    assert not problems, "\n".join(problems)


def test_only_the_listed_routes_are_exempt(app):
    from surveys.web import csrf

    exempt_blueprints = {getattr(b, "name", b) for b in csrf._exempt_blueprints}
    exempt = set()
    for endpoint, view in app.view_functions.items():
        name = f"{view.__module__}.{view.__name__}"
        blueprint = endpoint.rpartition(".")[0]
        if name in csrf._exempt_views or blueprint in exempt_blueprints:
            exempt.add(endpoint)
    assert set(CSRF_EXEMPT) & set(app.view_functions) <= exempt
    rules = {r.endpoint: r for r in app.url_map.iter_rules()}
    unlisted = {e for e in exempt if not rules[e].rule.startswith("/api/")} - set(CSRF_EXEMPT)
    assert not unlisted, f"CSRF-exempt without a reason in tests/support/routes.py: {unlisted}"


@pytest.mark.usefixtures("org")
def test_a_token_from_another_session_is_refused(app, db):
    thief, victim = app.test_client(), app.test_client()
    stolen = csrf_token(thief)
    sign_in(victim, db, role_email("admin"))
    csrf_token(victim)
    response = victim.post("/admin/organisation", data={
        "csrf_token": stolen, "action": "team", "slug": "evil", "name": "Evil"})
    assert response.status_code == 400
