"""Hypothesis posts random form data (and, to the API, random JSON with a valid key) to every
state-changing route walked from ``app.url_map``, as a role allowed there, with a valid CSRF
token: never a 500."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from support import build_org, open_survey
from support.app import make_app
from support.routes import CSRF_EXEMPT, Objects, client_for, expectation, url_for_rule
from surveys import db as dbmod
from surveys.tokens import hash_token

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
FIELD = re.compile(r'name="([^"]+)"')
EXAMPLES = 25

text = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=120)
edge = st.sampled_from(["", " ", "0", "-1", "99999999999999999999", "1e309", "nan", "None",
                        "2026-02-30T25:61", "a" * 5000, "\x00", "payments", "platform",
                        "manager", "admin", "on", "yes", "no", "sev1", "security"])
value = st.one_of(text, edge)


def _fields(client, url: str) -> list[str]:
    page = client.get(url)
    names = FIELD.findall(page.get_data(as_text=True)) if page.mimetype == "text/html" else []
    page.close()
    return sorted({n for n in names if n != "csrf_token"})


json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(text, children, max_size=4),
    max_leaves=12,
)


def test_random_form_data_never_causes_a_500(tmp_path):
    app = make_app(f"sqlite:///{tmp_path / 'fuzz.db'}", RATELIMIT_ENABLED=False)
    settings_, box = app.extensions["aftercare.settings"], app.extensions["aftercare.token_box"]
    with dbmod.session_scope(app) as db:
        build_org(db, size=8)
        survey, tokens = open_survey(db, settings_, box, team="platform")
        objects = Objects(survey.incident_id, survey.id, "platform")
    failures: list[str] = []
    checked = 0
    # Participant and API routes first: later admin routes close surveys and revoke keys.
    def order(r):
        return (0 if r.rule.startswith("/s") else 1 if r.rule.startswith("/api/") else 2, r.rule)

    for rule in sorted(app.url_map.iter_rules(), key=order):
        for method in sorted((rule.methods or set()) & UNSAFE):
            access = expectation(app, rule)
            url = url_for_rule(rule, objects)
            client, token = client_for(app, access)
            if rule.endpoint == "participant.submit":
                with client.session_transaction() as session:
                    session["ballot"] = hash_token(tokens[0])
            if access.kind == "api_key":
                _fuzz_json(client, method, url, _api_key(app), failures)
            else:
                names = _fields(client, url) if "GET" in (rule.methods or ()) else []
                _fuzz_form(client, method, url, token, names, failures,
                           rule.endpoint in CSRF_EXEMPT)
            checked += 1
    assert checked >= 8
    assert not failures, "\n".join(sorted(set(failures))[:20])


def _api_key(app) -> str | None:
    try:
        from support.api import make_key
    except ImportError:  # no API in this build
        return None
    return make_key(app).secret


def _fuzz_form(client, method, url, token, names, failures, exempt):
    keys = st.sampled_from(names) | text if names else text

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(pairs=st.lists(st.tuples(keys, value), max_size=12))
    def check(pairs):
        data = [(k, v) for k, v in pairs if k != "csrf_token"]
        if not exempt:
            data.append(("csrf_token", token))
        response = client.open(url, method=method, data=MultiDict(data))
        if response.status_code >= 500:
            failures.append(f"{method} {url} {data!r:.300} -> {response.status_code}")
        response.close()

    check()


def _fuzz_json(client, method, url, key, failures):
    headers = {"Authorization": f"Bearer {key}"} if key else {}

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(body=json_value)
    def check(body):
        response = client.open(url, method=method, json=body, headers=headers)
        if response.status_code >= 500:
            failures.append(f"{method} {url} {body!r:.300} -> {response.status_code}")
        response.close()

    check()
