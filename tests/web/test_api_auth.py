"""API keys: bearer auth, scopes, revocation, signed requests and replay; CLI and admin page.

Signed requests are attacked as someone who saw one signed request would: its headers are
sent again to other paths, queries and methods (docs/api.md, "Signed requests")."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from support import NOW, Manager
from support.api import Api, error_of, incident, make_key
from surveys.models import ApiKey, Incident, SeenSignature, Survey
from surveys.services import apikeys

pytestmark = pytest.mark.usefixtures("org")


def test_no_key_wrong_key_and_malformed_header_are_401(client, app):
    make_key(app)
    for headers in ({}, {"Authorization": "Bearer ack_" + "x" * 43},
                    {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer"}):
        response = client.get("/api/v1/surveys/1", headers=headers)
        assert error_of(response, 401)["code"] == "unauthorized"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_key_is_stored_hashed_only(app, db):
    created = make_key(app)
    stored = db.scalar(select(ApiKey))
    assert stored.key_hash == apikeys.hash_key(created.secret)
    assert created.secret not in (stored.prefix + stored.key_hash + stored.name)
    assert created.secret.startswith(stored.prefix)


def test_revoked_key_is_refused(app, client, db):
    created = make_key(app)
    api = Api(client, created)
    assert api.post("/api/v1/incidents", incident()).status_code == 201
    apikeys.revoke_key(db, str(created.key.id), NOW)
    assert error_of(api.get("/api/v1/surveys/1"), 401)["code"] == "unauthorized"


@pytest.mark.parametrize("scope, path, method, allowed", [
    ("results:read", "/api/v1/incidents", "post", False),
    ("results:read", "/api/v1/surveys/1/close", "post", False),
    ("results:read", "/api/v1/surveys/1/results", "get", True),
    ("results:read", "/api/v1/teams/payments/periods", "get", True),
    ("results:read", "/api/v1/surveys/1", "get", True),
    ("incidents:write", "/api/v1/surveys/1/results", "get", False),
    ("incidents:write", "/api/v1/teams/payments/periods", "get", False),
    ("incidents:write", "/api/v1/surveys/1", "get", True),
])
def test_scopes(app, client, scope, path, method, allowed):
    Api(client, make_key(app, name="setup")).post("/api/v1/incidents", incident())
    api = Api(client, make_key(app, [scope]))
    response = api.post(path, incident()) if method == "post" else api.get(path)
    if allowed:
        assert response.status_code == 200
    else:
        assert error_of(response, 403)["code"] == "forbidden"


# --- signed requests ----------------------------------------------------------------------


@pytest.fixture
def signed(app, client):
    return Api(client, make_key(app, signing=True))


def test_a_correctly_signed_request_is_accepted(signed):
    assert signed.post("/api/v1/incidents", incident()).status_code == 201
    assert signed.get("/api/v1/surveys/1").status_code == 200


def test_missing_signature_is_refused(signed, db):
    response = signed.post("/api/v1/incidents", incident(), sign=False)
    assert error_of(response, 401)["code"] == "bad_signature"
    assert db.scalar(select(func.count()).select_from(Incident)) == 0


def test_wrong_signature_is_refused(signed, db):
    response = signed.post("/api/v1/incidents", incident(), headers={
        "X-Aftercare-Signature": "sha256=" + "0" * 64})
    assert error_of(response, 401)["code"] == "bad_signature"
    assert db.scalar(select(func.count()).select_from(Incident)) == 0


def test_signature_over_another_body_is_refused(signed):
    good = signed.headers("POST", "/api/v1/incidents", b'{"other": 1}')
    response = signed.client.post("/api/v1/incidents", json=incident(), headers=good)
    assert error_of(response, 401)["code"] == "bad_signature"


@pytest.mark.parametrize("stamp, header", [
    ("12345x", None), ("", None), ("1" * 13, None), (None, "sha1=abc"), (None, "sha256=xyz"),
])
def test_malformed_signature_headers_are_refused(signed, stamp, header):
    extra = {}
    if stamp is not None:
        extra["X-Aftercare-Timestamp"] = stamp
    if header is not None:
        extra["X-Aftercare-Signature"] = header
    response = signed.post("/api/v1/incidents", incident(), headers=extra)
    assert error_of(response, 401)["code"] == "bad_signature"


@pytest.mark.parametrize("offset, accepted", [(-301, False), (-299, True), (299, True),
                                              (301, False)])
def test_the_window_is_five_minutes(app, client, offset, accepted):
    api = Api(client, make_key(app, signing=True),
              clock=lambda: int(NOW.timestamp()) + offset)
    response = api.post("/api/v1/incidents", incident())
    if accepted:
        assert response.status_code == 201
    else:
        assert "5 minutes" in error_of(response, 401)["message"]


def test_a_replayed_signature_is_refused(signed, db):
    body = incident()
    raw = json.dumps(body).encode()
    headers = signed.headers("POST", "/api/v1/incidents", raw)
    first = signed.client.post("/api/v1/incidents", data=raw, headers=headers,
                               content_type="application/json")
    assert first.status_code == 201
    replay = signed.client.post("/api/v1/incidents", data=raw, headers=headers,
                                content_type="application/json")
    error = error_of(replay, 401)
    assert error["code"] == "bad_signature" and "replayed" in error["message"]
    # a fresh signature of the same body one second later is a legitimate retry
    later = Api(signed.client, signed.created, clock=lambda: int(NOW.timestamp()) + 1)
    assert later.post("/api/v1/incidents", body).status_code == 200


def test_seen_signatures_expire_from_the_store(app, client, db, signed):
    signed.post("/api/v1/incidents", incident())
    assert db.scalar(select(func.count()).select_from(SeenSignature)) == 1
    stored = db.scalar(select(SeenSignature))
    assert stored.expires_at <= NOW + apikeys.SIGNATURE_WINDOW
    first = stored.signature_hash
    app.config["AFTERCARE_NOW"] = NOW + apikeys.SIGNATURE_WINDOW * 2
    late = Api(client, signed.created,
               clock=lambda: int((NOW + apikeys.SIGNATURE_WINDOW * 2).timestamp()))
    late.get("/api/v1/surveys/1")
    db.rollback()
    hashes = list(db.scalars(select(SeenSignature.signature_hash)))
    assert first not in hashes and len(hashes) == 1


# --- command line and admin page ------------------------------------------------------------


def test_cli_creates_lists_and_revokes_keys(runner, client):
    created = runner.invoke(args=["api-key", "create", "PagerDuty", "--scope",
                                  "incidents:write", "--signing-secret"])
    assert created.exit_code == 0, created.output
    key = re.search(r"key:\s+(ack_\S+)", created.output).group(1)
    signing = re.search(r"signing secret:\s+(acs_\S+)", created.output).group(1)
    listed = runner.invoke(args=["api-key", "list"])
    assert "PagerDuty" in listed.output and "signed" in listed.output
    assert key not in listed.output and signing not in listed.output
    assert key[:12] in listed.output
    api = Api(client, apikeys.CreatedKey(None, key, signing))
    assert api.post("/api/v1/incidents", incident()).status_code == 201
    revoked = runner.invoke(args=["api-key", "revoke", key[:12]])
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    assert api.get("/api/v1/surveys/1").status_code == 401
    assert "revoked" in runner.invoke(args=["api-key", "list"]).output


def test_cli_refuses_a_bad_name_and_an_unknown_key(runner):
    assert runner.invoke(args=["api-key", "create", " "]).exit_code != 0
    assert runner.invoke(args=["api-key", "create", "x", "--scope", "all"]).exit_code != 0
    missing = runner.invoke(args=["api-key", "revoke", "ack_nothing"])
    assert missing.exit_code != 0 and "No API key" in missing.output
    for ident in (str(2**64), "9" * 5000, "\uff11"):  # no overflow, no full-width id
        huge = runner.invoke(args=["api-key", "revoke", ident])
        assert huge.exit_code != 0 and "No API key" in huge.output, huge.output


def test_admin_page_lists_keys_without_secrets_and_can_revoke(app, client, db):
    created = make_key(app, signing=True, name="Opsgenie")
    manager = Manager(client)
    manager.login("manager@example.org")
    assert client.get("/admin/api").status_code == 403
    client.post("/logout", data={})
    client.get("/")
    admin_client = app.test_client()
    Manager(admin_client).login("admin@example.org")
    page = admin_client.get("/admin/api")
    assert page.status_code == 200
    assert "Opsgenie" in page.text and created.key.prefix in page.text
    assert created.secret not in page.text and created.signing_secret not in page.text
    from support import csrf_from

    revoke = admin_client.post(f"/admin/api/{created.key.id}/revoke",
                               data={"csrf_token": csrf_from(page.text)})
    assert revoke.status_code == 302
    db.rollback()
    assert db.get(ApiKey, created.key.id).revoked_at is not None


# --- a signature is good for one request: method, path, query, body --------------------------


def _survey_ids(app, n: int = 2) -> list[int]:
    api = Api(app.test_client(), make_key(app, name="setup"))
    return [api.post("/api/v1/incidents", incident(external_id=f"INC-{i}")).json["survey_id"]
            for i in range(n)]


def test_signed_headers_replayed_on_other_paths_queries_and_methods_are_refused(app, client,
                                                                                db):
    first, other = _survey_ids(app)
    created = make_key(app, signing=True)
    api = Api(client, created)
    captured = api.headers("GET", f"/api/v1/surveys/{first}", b"")
    attempts = [
        ("GET", f"/api/v1/surveys/{first}?x=1"),
        ("GET", f"/api/v1/surveys/{first}?x=2"),
        ("GET", f"/api/v1/surveys/0{first}"),
        ("GET", f"/api/v1/surveys/{other}"),
        ("GET", f"/api/v1/surveys/{other}/results"),
        ("POST", f"/api/v1/surveys/{other}/close"),
        ("POST", f"/api/v1/surveys/{first}/close"),
    ]
    for method, target in attempts:
        response = client.open(target, method=method, headers=captured)
        if target.endswith(f"/0{first}"):  # one spelling per id: not even a route
            assert error_of(response, 404)["code"] == "not_found"
            continue
        assert error_of(response, 401)["code"] == "bad_signature", (method, target)
    db.rollback()
    assert {s.status for s in db.scalars(select(Survey))} == {"open"}  # nothing closed
    assert client.get(f"/api/v1/surveys/{first}", headers=captured).status_code == 200
    replay = client.get(f"/api/v1/surveys/{first}", headers=captured)
    assert "replayed" in error_of(replay, 401)["message"]


def test_a_signature_for_one_method_is_refused_for_another(app, client):
    survey_id = _survey_ids(app, 1)[0]
    api = Api(client, make_key(app, signing=True))
    as_get = api.headers("GET", f"/api/v1/surveys/{survey_id}/close", b"")
    response = client.post(f"/api/v1/surveys/{survey_id}/close", headers=as_get)
    assert error_of(response, 401)["code"] == "bad_signature"


def test_the_query_string_is_signed_as_sent(app, signed):
    assert signed.get("/api/v1/teams/payments/periods?grain=quarter").status_code == 200
    headers = signed.headers("GET", "/api/v1/teams/payments/periods?grain=month", b"")
    quarter = signed.client.get("/api/v1/teams/payments/periods?grain=quarter",
                                headers=headers)
    assert error_of(quarter, 401)["code"] == "bad_signature"


def test_the_retired_scheme_is_refused_and_says_why(app, client, db):
    created = make_key(app, signing=True)
    raw = json.dumps(incident()).encode()
    stamp = str(int(NOW.timestamp()))
    old = "sha256=" + hmac.new(created.signing_secret.encode(), stamp.encode() + b"." + raw,
                               hashlib.sha256).hexdigest()
    response = client.post("/api/v1/incidents", data=raw, content_type="application/json",
                           headers={"Authorization": f"Bearer {created.secret}",
                                    "X-Aftercare-Timestamp": stamp,
                                    "X-Aftercare-Signature": old})
    error = error_of(response, 401)
    assert error["code"] == "bad_signature"
    assert "only the timestamp and the body" in error["message"]
    assert db.scalar(select(func.count()).select_from(Incident)) == 0


def test_two_different_gets_signed_in_the_same_second_are_both_accepted(signed):
    assert signed.get("/api/v1/surveys/1").status_code == 404
    assert signed.get("/api/v1/surveys/2").status_code == 404
    assert signed.get("/api/v1/teams/payments/periods").status_code == 200
    assert error_of(signed.get("/api/v1/surveys/1"), 401)["code"] == "bad_signature"


@pytest.mark.parametrize("path, query, target", [
    ("/api/v1/surveys/7", b"", "/api/v1/surveys/7"),
    ("/api/v1/teams/payments/periods", b"grain=quarter",
     "/api/v1/teams/payments/periods?grain=quarter"),
    ("/api/v1/teams/a?b/periods", b"", "/api/v1/teams/a%3Fb/periods"),  # no path fakes a query
    ("/api/v1/teams/a b/periods", b"x=%20", "/api/v1/teams/a%20b/periods?x=%20"),
    ("/api/v1/surveys/1\n", b"", "/api/v1/surveys/1%0A"),  # no white space in the target
    ("/a", b"x=\xe9", "/a?x=%E9"),
])
def test_signing_target(path, query, target):
    assert apikeys.signing_target(path, query) == target


# --- the documented recipes, run as written against a live server -----------------------------


DOCS = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def _documented_blocks(language: str) -> list[str]:
    section = DOCS.read_text().split("## Signed requests", 1)[1].split("\n## ", 1)[0]
    return re.findall(rf"```{language}\n(.*?)```", section, re.S)


def _yesterday() -> str:
    """A closing time in the past of the wall clock the live server runs on."""
    return (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def live(app):
    from support.browser import serve

    app.config["AFTERCARE_NOW"] = None  # a live server on the wall clock, as a client's
    with serve(app) as url:
        yield url


@pytest.mark.skipif(shutil.which("openssl") is None or shutil.which("curl") is None,
                    reason="needs openssl and curl")
def test_the_documented_shell_recipe_is_accepted(app, live, db):
    created = make_key(app, signing=True)
    script = _documented_blocks("sh")[0].replace(
        "SECRET=acs_...\n", "").replace("2026-11-20T10:00:00Z", _yesterday())
    script = "set -e\n" + script.replace("curl -sS", "curl -sS -o /dev/null -w '%{http_code}\\n'")
    run = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60,
                         env={"AFTERCARE": live, "KEY": created.secret,
                              "SECRET": created.signing_secret, "PATH": os.environ["PATH"]})
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["201", "200"], run.stdout  # the POST, then the GET
    db.rollback()
    assert db.scalar(select(Incident.external_id)) == "INC-1042"


def test_the_documented_python_client_is_accepted(app, live):
    import urllib.error

    created = make_key(app, signing=True)
    namespace: dict = {}
    exec(compile(_documented_blocks("python")[0], str(DOCS), "exec"), namespace)  # noqa: S102
    call = namespace["call"]
    body = incident(closed_at=_yesterday())
    status, created_incident = call(live, created.secret, created.signing_secret, "POST",
                                    "/api/v1/incidents", body)
    assert status == 201
    survey = f"/api/v1/surveys/{created_incident['survey_id']}"
    assert call(live, created.secret, created.signing_secret, "GET", survey)[0] == 200
    assert call(live, created.secret, created.signing_secret, "GET",
                "/api/v1/teams/payments/periods?grain=quarter")[0] == 200
    # and the same client's headers do not open another door
    headers = namespace["signed_headers"](created.secret, created.signing_secret, "GET", survey)
    request = namespace["urllib"].request.Request(live + survey + "/results", headers=headers)
    with pytest.raises(urllib.error.HTTPError) as refused:
        namespace["urllib"].request.urlopen(request, timeout=10)
    refused.value.close()
    assert refused.value.code == 401
