"""POST /api/v1/review-lint: the language check for tools, as described in OpenAPI."""

from __future__ import annotations

import pytest

from api_support import Api, conforms, error_of, make_key

DRAFT = ("Root cause: Sam should have checked the dashboard before deploying. "
         'At 14:10 Priya asked: "who deployed this?"')


@pytest.fixture
def api(app, client):
    return Api(client, make_key(app))


def test_findings_match_the_description(api):
    response = api.post("/api/v1/review-lint", {"text": DRAFT, "names": ["Sam", "Priya"]})
    assert response.status_code == 200
    conforms("ReviewReport", response.json)
    report = response.json
    categories = {f["category"] for f in report["findings"]}
    assert {"cause_framing", "counterfactual", "named_individual"} <= categories
    for finding in report["findings"]:
        assert DRAFT[finding["start"]:finding["end"]] == finding["text"]
    # the quoted question is what someone said, not the author's framing
    assert not any(f["text"] == "who deployed" for f in report["findings"])


def test_clean_and_empty_drafts_are_honest(api):
    clean = api.post("/api/v1/review-lint", {"text": "The queue filled because retries had "
                                                     "no backoff; we found several factors."})
    assert clean.status_code == 200 and clean.json["total"] == 0
    empty = api.post("/api/v1/review-lint", {"text": ""}).json
    assert empty["total"] == 0 and empty["notice"]


@pytest.mark.parametrize("body, field", [
    ({}, "text"),
    ({"text": 42}, "text"),
    ({"text": "x" * 500_001}, "text"),
    ({"text": "ok", "names": "Sam"}, "names"),
    ({"text": "ok", "names": ["Sam", ""]}, "names[1]"),
    ({"text": "ok", "extra": 1}, "extra"),
])
def test_bad_bodies_name_the_field(api, body, field):
    assert field in error_of(api.post("/api/v1/review-lint", body), 422)["fields"]


def test_not_json_too_large_and_no_key(api, client):
    error_of(api.post("/api/v1/review-lint", raw=b"text=hello",
                      content_type="application/x-www-form-urlencoded"), 415)
    error_of(api.post("/api/v1/review-lint", raw=b'{"text": "' + b"x" * (2 * 2**20) + b'"}'),
             413)
    error_of(api.post("/api/v1/review-lint", raw=b"{not json"), 400)
    error_of(Api(client).post("/api/v1/review-lint", {"text": "hello"}), 401)
