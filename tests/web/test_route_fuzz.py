"""Fuzz pass: every route's path parameters and every JSON endpoint, discovered from
``app.url_map`` (a new route is covered without a line here), with extreme integers, deep
nesting, long strings and control characters. Never a 500; an id outside the one id
converter's range is a 404 (docs/security.md, "Hostile input").

Every path parameter gets any text, whatever its converter would accept (the converter
only decides which answers are expected: an id out of range must be a 404), so routes need
no registration; each request is made as a role the route admits (admin
where allowed, to reach the deepest code), with a valid CSRF token or API key. The path
pass runs on SQLite and, when configured, PostgreSQL (which refuses NUL in text).
"""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support import build_org, open_survey
from support.api import make_key
from support.app import make_app
from support.routes import arguments_of, client_for, expectation, fill_rule, methods
from surveys import db as dbmod
from surveys.models import MAX_ID
from surveys.web.converters import IdConverter

EXAMPLES = 30

EXTREME_INTEGERS = [0, -1, 1, MAX_ID, MAX_ID + 1, 2**32, 2**63 - 1, 2**63, 2**64, 10**30,
                    -(2**63)]
integer_text = st.one_of(
    st.sampled_from(EXTREME_INTEGERS),
    st.integers(min_value=-(2**80), max_value=2**80),
).map(str) | st.sampled_from(["9" * 5000, "00", "01", "1e9", "0x1f", "+1", "\uff11", " 1"])
any_text = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=200)
controls = st.text(alphabet=st.characters(max_codepoint=0x9F, categories=("Cc",)),
                   min_size=1, max_size=20)
long_text = st.text(min_size=1, max_size=4).map(lambda s: s * 3000)
known = st.sampled_from(["payments", "platform", "2026-Q3", "2026-11", "style.css", "..",
                         "%00", "a/b", "", "\x00", "\r\n", "s" * 43])
path_value = st.one_of(integer_text, any_text, controls, long_text, known)
query = st.dictionaries(st.sampled_from(["grain", "period", "page", "action", "next", "q"]),
                        st.one_of(integer_text, any_text, controls), max_size=3)


def _rules_with_arguments(app):
    return sorted((r for r in app.url_map.iter_rules() if r.arguments),
                  key=lambda r: (r.rule, r.endpoint))


def _in_range_id(value: str) -> bool:
    return re.fullmatch(r"[1-9][0-9]{0,9}", value) is not None and int(value) <= MAX_ID


def _fuzz_paths(app) -> list[str]:
    failures: list[str] = []
    key = make_key(app, name="fuzz").secret
    checked = 0
    # Participant and API routes first: the admin revoke route may revoke the fuzz key.
    rules = sorted(_rules_with_arguments(app),
                   key=lambda r: (r.rule.startswith("/admin/"), r.rule))
    for rule in rules:
        client, token = client_for(app, expectation(app, rule))
        headers = {"Authorization": f"Bearer {key}", "X-CSRFToken": token}
        for method in methods(rule):
            _path_check(client, rule, method, token, headers, failures)()
            checked += 1
    assert checked >= 15, f"only {checked} routes with path parameters"
    return failures


def _path_check(client, rule, method, token, headers, failures):
    id_args = arguments_of(rule, IdConverter)

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(values=st.fixed_dictionaries({a: path_value for a in rule.arguments}), args=query)
    def check(values, args):
        url = fill_rule(rule, values)
        response = client.open(url, method=method, query_string=args,
                               data={"csrf_token": token}, headers=headers)
        where = f"{method} {url[:200]!r} -> {response.status_code}"
        if response.status_code >= 500:
            failures.append(where)
        elif any(not _in_range_id(values[a]) for a in id_args) and \
                response.status_code != 404:
            failures.append(f"{where}: an id out of range must be a 404")
        response.close()

    return check


def _path_app(url: str):
    app = make_app(url, RATELIMIT_ENABLED=False)
    with dbmod.session_scope(app) as db:
        build_org(db, size=6)
        open_survey(db, app.extensions["aftercare.settings"],
                    app.extensions["aftercare.token_box"], team="platform")
    return app


def test_path_parameters_of_every_route_on_sqlite(tmp_path):
    app = _path_app(f"sqlite:///{tmp_path / 'fuzz.db'}")
    try:
        failures = _fuzz_paths(app)
    finally:
        dbmod.get_engine(app).dispose()
    assert not failures, "\n".join(sorted(set(failures))[:20])


@pytest.mark.postgres
def test_path_parameters_of_every_route_on_postgres(postgres_url):
    app = _path_app(postgres_url)
    try:
        failures = _fuzz_paths(app)
    finally:
        dbmod.get_engine(app).dispose()
    assert not failures, "\n".join(sorted(set(failures))[:20])


# --- every JSON endpoint ---------------------------------------------------------------------

json_scalar = st.one_of(
    st.none(), st.booleans(), st.sampled_from(EXTREME_INTEGERS), st.integers(),
    st.floats(allow_nan=False, allow_infinity=False), any_text, controls,
    long_text.map(lambda s: s[:5000]))
json_value = st.recursive(json_scalar, lambda children: st.lists(children, max_size=4)
                          | st.dictionaries(any_text, children, max_size=4), max_leaves=12)
incident_like = st.fixed_dictionaries({}, optional={
    name: json_value | st.sampled_from(["payments", "availability", "sev2",
                                        "2026-11-19T12:00:00Z", "24h"])
    for name in ("external_id", "team", "title", "kind", "severity", "closed_at",
                 "open_delay", "duration")
} | {"participants": st.lists(json_value | st.just("a@example.org"), max_size=6),
     "text": json_value, "names": st.lists(json_value, max_size=6)})
raw_body = st.one_of(
    st.integers(min_value=1, max_value=200_000).map(lambda d: "[" * d + "]" * d),
    st.integers(min_value=1, max_value=200_000).map(lambda d: '{"a":' * d + "1" + "}" * d),
    st.sampled_from(["1" + "0" * 5000, "1e400", "-1e400", "NaN", "Infinity", '"\\ud800"',
                     '{"title": "\\u0000"}', "", "{", "\xff\xfe", '{"a": 1, "a": 2}']),
    json_value.map(json.dumps),
    incident_like.map(json.dumps),
)


def _json_endpoints(app):
    """Every API route that takes a body: the POST rules under /api/."""
    return sorted((r for r in app.url_map.iter_rules()
                   if r.rule.startswith("/api/") and "POST" in (r.methods or ())),
                  key=lambda r: r.rule)


def test_every_json_endpoint_refuses_bad_bodies_with_a_4xx(app, org):
    key = make_key(app).secret
    failures: list[str] = []
    endpoints = _json_endpoints(app)
    assert {"/api/v1/incidents", "/api/v1/review-lint"} <= {r.rule for r in endpoints}
    client = app.test_client()
    for rule in endpoints:
        url = fill_rule(rule, dict.fromkeys(rule.arguments, "1"))
        _json_check(client, url, key, failures)()
    assert not failures, "\n".join(sorted(set(failures))[:20])


def _json_check(client, url, key, failures):
    @settings(max_examples=EXAMPLES * 2, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(body=raw_body)
    def check(body):
        response = client.post(url, data=body.encode("utf-8", "surrogatepass"),
                               content_type="application/json",
                               headers={"Authorization": f"Bearer {key}"})
        if response.status_code >= 500:
            failures.append(f"POST {url} {body[:120]!r} -> {response.status_code}")
        elif response.status_code >= 400:
            error = response.get_json(silent=True) or {}
            if set(error.get("error", {})) != {"code", "message", "fields"}:
                failures.append(f"POST {url} {body[:120]!r}: not the JSON error shape")
        response.close()

    return check
