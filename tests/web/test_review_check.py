"""The review language check from the command line and on its page."""

from __future__ import annotations

import json
import re

import pytest

from support import Manager, csrf_from

DRAFT = """## Timeline
14:02 Sam deployed the change without checking the dashboard.
14:10 Priya asked in chat: "who deployed this?"

## Root cause
The on-call engineer should have rolled back sooner. Human error.

## Action items
- Owner: Sam. Be more careful with config pushes.
"""


def test_cli_reports_findings_with_positions_and_fails_the_build(runner, tmp_path):
    draft = tmp_path / "review.md"
    draft.write_text(DRAFT)
    result = runner.invoke(args=["lint-review", str(draft), "--name", "Sam",
                                 "--name", "Priya"])
    assert result.exit_code == 1
    assert "Named individual" in result.output
    assert "2:7:" in result.output  # "Sam" on line 2, column 7
    assert "try:" in result.output
    assert "note: Names come from the roster given" in result.output
    unnamed = runner.invoke(args=["lint-review", str(draft)])
    assert "note: No roster was given, so names are guessed" in unnamed.output


def test_cli_json_and_thresholds(runner, tmp_path):
    draft = tmp_path / "review.md"
    draft.write_text(DRAFT)
    result = runner.invoke(args=["lint-review", str(draft), "--format", "json",
                                 "--fail-on", "high"])
    report = json.loads(result.output)
    assert {"findings", "summary", "notice"} <= set(report)
    high = [f for f in report["findings"] if f["severity"] == "high"]
    assert result.exit_code == (1 if high else 0)
    assert report["summary"]["cause_framing"] >= 1


def test_cli_clean_text_passes(runner, tmp_path):
    draft = tmp_path / "clean.md"
    draft.write_text("The deploy pipeline applied the configuration to every region at once. "
                     "We found no single root cause; several conditions combined.")
    result = runner.invoke(args=["lint-review", str(draft)])
    assert result.exit_code == 0, result.output
    assert "0 finding(s)" in result.output


@pytest.mark.parametrize("content, message", [
    (b"\xff\xfe\x00\x00binary", "not UTF-8 text"),
    (b"", "There is no text to check"),
])
def test_cli_bad_input_is_explained(runner, tmp_path, content, message):
    draft = tmp_path / "odd.bin"
    draft.write_bytes(content)
    result = runner.invoke(args=["lint-review", str(draft)])
    assert message in result.output
    assert result.exit_code in (0, 1)


def test_cli_missing_file(runner, tmp_path):
    result = runner.invoke(args=["lint-review", str(tmp_path / "nope.md")])
    assert result.exit_code == 2 and "does not exist" in result.output


@pytest.mark.usefixtures("org")
def test_page_highlights_findings_with_rewrites(client):
    manager = Manager(client)
    manager.login("manager@example.org")
    assert client.get("/review/check").status_code == 200
    response = manager.post("/review/check", {"draft": DRAFT + "\nPayments0 restarted it."})
    assert response.status_code == 200
    assert "<mark" in response.text and "Try:" in response.text
    assert "Named individual" in response.text  # roster name of the manager's team


@pytest.mark.usefixtures("org")
def test_page_escapes_the_draft(client):
    manager = Manager(client)
    manager.login("manager@example.org")
    response = manager.post("/review/check", {"draft": "<script>alert(1)</script> root cause"})
    assert "<script>alert(1)" not in response.text
    assert "&lt;script&gt;" in response.text


@pytest.mark.usefixtures("org")
@pytest.mark.parametrize("draft, status, message", [
    ("", 400, "Paste a review draft"),
    ("word " * 120_000, 413, "checks up to"),
])
def test_page_bad_input(client, draft, status, message):
    manager = Manager(client)
    manager.login("manager@example.org")
    response = manager.post("/review/check", {"draft": draft})
    assert response.status_code == status and message in response.text


@pytest.mark.usefixtures("org")
def test_page_five_megabytes_gets_a_clear_message(client):
    manager = Manager(client)
    manager.login("manager@example.org")
    response = manager.post("/review/check", {"draft": "x" * (5 * 2**20)})
    assert response.status_code == 413
    assert "too large" in response.text


def test_page_needs_a_login(client):
    assert client.get("/review/check").status_code == 302


@pytest.mark.usefixtures("org")
def test_page_says_what_the_check_can_and_cannot_see(client):
    manager = Manager(client)
    manager.login("manager@example.org")
    page = client.get("/review/check").text
    assert "What the check can and cannot see" in page
    assert "matched exactly" in page and "Quoted words" in page
    response = manager.post("/review/check", {
        "draft": "Root cause: John pushed a bad config. He should have tested it."})
    assert response.status_code == 200
    assert "Person as the subject of a failure" in response.text
    assert "points back to John" in response.text
    assert "Names come from the roster given" in response.text  # the team has a roster


@pytest.mark.usefixtures("org")
def test_a_finding_can_be_dismissed_for_the_draft_without_javascript(client):
    manager = Manager(client)
    manager.login("manager@example.org")
    draft = "The engineer forgot the cert. This one is on me."
    first = manager.post("/review/check", {"draft": draft})
    assert "2 things to look at" in first.text
    ids = re.findall(r'name="dismiss" value="([^"]+)"', first.text)
    assert len(ids) == 2 and 'form="check-form"' in first.text
    second = manager.post("/review/check", {"draft": draft, "dismiss": ids[0]})
    assert "1 thing to look at" in second.text
    assert "1 finding dismissed for this draft" in second.text
    assert f'name="dismissed" value="{ids[0]}"' in second.text  # carried in the form
    third = client.post("/review/check", data={"draft": draft, "dismissed": ids[0],
                                               "dismiss": ids[1],
                                               "csrf_token": csrf_from(second.text)})
    assert "No findings" in third.text and "2 findings dismissed" in third.text
    restored = client.post("/review/check", data={"draft": draft, "dismissed": ids,
                                                  "restore": "1",
                                                  "csrf_token": csrf_from(third.text)})
    assert "2 things to look at" in restored.text


@pytest.mark.usefixtures("org")
def test_dismissing_keeps_csrf(client):
    Manager(client).login("manager@example.org")
    response = client.post("/review/check", data={"draft": "The engineer forgot.",
                                                  "dismiss": "x"})
    assert response.status_code == 400


@pytest.mark.usefixtures("org")
def test_a_check_over_its_time_budget_says_so_on_the_page(app, client):
    app.config["REVIEW_CHECK_BUDGET"] = 0.0
    manager = Manager(client)
    manager.login("manager@example.org")
    response = manager.post("/review/check", {"draft": "The engineer forgot the cert."})
    assert response.status_code == 503
    assert "could not be checked within" in response.text and "in parts" in response.text
    assert "The engineer forgot the cert." in response.text  # the draft is not lost
