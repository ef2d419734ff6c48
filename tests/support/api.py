"""Helpers for the JSON API tests: keys, signed requests, payloads and schema checks."""

from __future__ import annotations

import json
import time
from datetime import timedelta

from openapi_schema_validator import OAS31Validator

from support import NOW
from surveys import db as dbmod
from surveys.api.openapi import build_document
from surveys.services import apikeys

DOCUMENT = build_document()


def make_key(app, scopes=(), signing: bool = False, name: str = "incident tool"):
    with dbmod.session_scope(app) as session:
        return apikeys.create_key(session, name, list(scopes), signing,
                                  app.extensions["aftercare.api_secret_box"], NOW)


def incident(**overrides) -> dict:
    body = {
        "external_id": "INC-1042",
        "team": "payments",
        "title": "Checkout latency after the cache change",
        "kind": "availability",
        "severity": "sev2",
        "closed_at": (NOW - timedelta(hours=2)).isoformat().replace("+00:00", "Z"),
        "participants": [f"payments{i}@example.org" for i in range(6)],
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def conforms(schema_name: str, data) -> None:
    """Raise if ``data`` does not match ``#/components/schemas/<schema_name>``."""
    schema = {"$ref": f"#/components/schemas/{schema_name}",
              "components": DOCUMENT["components"]}
    OAS31Validator(schema).validate(data)


def error_of(response, status: int) -> dict:
    assert response.status_code == status, (response.status_code, response.get_data(True))
    assert response.mimetype == "application/json"
    conforms("Error", response.json)
    return response.json["error"]


class Api:
    """A client of the API: sends the key, and signs when the key has a signing secret."""

    def __init__(self, client, created=None, clock=None) -> None:
        self.client = client
        self.created = created
        self.clock = clock or (lambda: int(NOW.timestamp()))

    def headers(self, method: str, target: str, body: bytes, extra=None,
                sign: bool = True) -> dict:
        """Headers for ``method`` on ``target`` (the path with its query, as in the URL)."""
        headers = {}
        if self.created is not None:
            headers["Authorization"] = f"Bearer {self.created.secret}"
            if self.created.signing_secret and sign:
                stamp = str(self.clock())
                headers["X-Aftercare-Timestamp"] = stamp
                headers["X-Aftercare-Signature"] = apikeys.sign(
                    self.created.signing_secret, stamp, method, target, body)
        headers.update(extra or {})
        return headers

    def post(self, path: str, body=None, raw: bytes | None = None, headers=None,
             content_type: str = "application/json", sign: bool = True):
        data = raw if raw is not None else (
            json.dumps(body).encode() if body is not None else b"")
        return self.client.post(path, data=data, content_type=content_type,
                                headers=self.headers("POST", path, data, headers, sign))

    def get(self, path: str, headers=None, sign: bool = True):
        return self.client.get(path, headers=self.headers("GET", path, b"", headers, sign))


def wall_clock() -> int:
    return int(time.time())
