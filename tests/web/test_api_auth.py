"""API keys: bearer auth, scopes, revocation, signed requests and replay; CLI and admin page."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import pytest
from sqlalchemy import func, select

from api_support import Api, error_of, incident, make_key
from support import NOW, Manager
from surveys.models import ApiKey, Incident, SeenSignature
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
    good = signed.headers(b'{"other": 1}')
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
    headers = signed.headers(raw)
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


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")
def test_the_shell_signing_recipe_in_the_docs_is_accepted(app, client):
    created = make_key(app, signing=True)
    body = json.dumps(incident())
    stamp = str(int(NOW.timestamp()))
    script = ('printf \'%s.%s\' "$TS" "$BODY" | openssl dgst -sha256 -hmac "$SECRET" -hex '
              "| sed 's/^.* //'")
    digest = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True,
                            env={"TS": stamp, "BODY": body, "SECRET": created.signing_secret,
                                 "PATH": os.environ["PATH"]}).stdout.strip()
    response = client.post("/api/v1/incidents", data=body, content_type="application/json",
                           headers={"Authorization": f"Bearer {created.secret}",
                                    "X-Aftercare-Timestamp": stamp,
                                    "X-Aftercare-Signature": f"sha256={digest}"})
    assert response.status_code == 201


def test_two_different_gets_signed_in_the_same_second_are_both_accepted(signed):
    # The signature covers timestamp and body only, so both carry the same signature; the
    # replay check tells requests apart by method and path as well.
    assert signed.get("/api/v1/surveys/1").status_code == 404
    assert signed.get("/api/v1/surveys/2").status_code == 404
    assert signed.get("/api/v1/teams/payments/periods").status_code == 200
    assert error_of(signed.get("/api/v1/surveys/1"), 401)["code"] == "bad_signature"
