"""Words for people (issue 14, point 6): the audit log, its CSV and the PDF use the plain
labels of ``analysis.words``; HR lands on the culture overview; a favicon."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest

from analysis import items, release, words
from support import NOW, Manager
from surveys.services import audit

pytestmark = pytest.mark.usefixtures("org")

ROOT = Path(__file__).resolve().parents[2]
RECORDED = re.compile(r'(?:audited|record)\(\s*"([a-z_.0-9]+)"|action="([a-z_.0-9]+)"')


def test_every_recorded_action_and_release_reason_has_words():
    codes = set()
    for path in (ROOT / "surveys").rglob("*.py"):
        for match in RECORDED.finditer(path.read_text()):
            codes.add(match[1] or match[2])
    assert codes, "no audit actions found"
    missing = sorted(c for c in codes if c not in words.ACTIONS)
    assert not missing, f"add words for {missing} to analysis/words.py"
    assert {r.value for r in release.Reason} <= set(words.DETAILS)
    assert set(words.CONSTRUCTS_SHORT) == {c.id for c in items.CONSTRUCTS}


def test_audit_log_speaks_in_words_and_keeps_timestamps_on_one_line(client, db):
    audit.record(db, actor=None, action="hr.export.pdf", now=NOW, target="2026-Q3",
                 detail="not_open_yet", actor_label="api-key:1")
    Manager(client).login("hr@example.org")
    page = client.get("/audit").text
    assert "Downloaded the quarterly report (PDF)" in page
    assert "nothing shown: the survey had not opened" in page
    assert re.search(r'<td class="when"><time datetime="2026-11-20T12:00:00Z">20 Nov 2026 12:00'
                     r"</time></td>", page)
    style = client.get("/static/style.css")
    assert "td.when" in style.text  # white-space: nowrap
    style.close()
    rows = list(csv.reader(io.StringIO(client.get("/audit.csv").text)))
    assert rows[0][-2:] == ["what_happened", "outcome_in_words"]
    pdf_row = next(r for r in rows[1:] if r[4] == "hr.export.pdf")
    assert pdf_row[-2:] == ["Downloaded the quarterly report (PDF)",
                            "allowed; nothing shown: the survey had not opened"]


def test_hr_lands_on_the_culture_overview_and_managers_on_incidents(app, client):
    response = Manager(client).login("hr@example.org")
    assert response.headers["Location"] == "/hr"
    manager = app.test_client()
    assert Manager(manager).login("manager@example.org").headers["Location"] == "/incidents"


def test_pages_carry_a_favicon(client):
    page = client.get("/login").text
    assert 'rel="icon" href="/static/favicon.svg"' in page
    icon = client.get("/static/favicon.svg")
    assert icon.status_code == 200 and b"<svg" in icon.data
    icon.close()
