"""The manager's incident results page: Wilson intervals, flags in plain words, learning."""

from __future__ import annotations

import re

import pytest

from support import Manager
from support.organisation import AUG, INVOLVEMENT, PAYMENTS_AUG, rows_from, run_survey, set_policies
from surveys.models import Incident


def _wilson(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson score interval by its closed form (Wilson 1927), independent of the app."""
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * ((p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5) / (1 + z * z / n)
    return 100 * (centre - half), 100 * (centre + half)


@pytest.fixture
def incident(db, org, settings, box):
    set_policies(db, {"neutral_author"})
    rows = rows_from(PAYMENTS_AUG, INVOLVEMENT)
    for i, row in enumerate(rows):  # 5 of 6 say the review was written by the most involved
        row["practice_author"] = "1" if i < 5 else "2"
    survey = run_survey(db, settings, box, team="payments", at=AUG, rows=rows)
    return survey.incident_id


def test_items_show_wilson_intervals(client, incident):
    Manager(client).login("manager@example.org")
    page = client.get(f"/incidents/{incident}").text
    low, high = _wilson(3, 6)  # blame_system: 3 of 6 favourable
    assert f"{low:.0f}–{high:.0f}%" in page
    assert "19–81%" in page  # the same, worked by hand: 18.8% to 81.2%
    # sharing_free had only 4 countable answers (two said "Doesn't apply"): not shown.
    assert "not enough people answered this one" in page


def test_manager_sees_gap_flag_in_plain_words(client, incident):
    Manager(client).login("manager@example.org")
    page = client.get(f"/incidents/{incident}").text
    assert "5 of 6 people who answered (83%)" in page
    assert "Ask someone outside the incident to write the next review." in page
    assert "How sure:" in page
    assert "Unlikely to be chance alone: it passes the 10% false-discovery check" in page
    assert "likely real" not in page.lower()
    low, high = _wilson(5, 6)
    assert f"{low:.0f}% to {high:.0f}%" in page


def test_hidden_cells_are_never_coloured(client, incident):
    Manager(client).login("manager@example.org")
    page = client.get(f"/incidents/{incident}").text
    for cell in re.findall(r"<td[^>]*>[^<]*not enough people[^<]*</td>", page):
        assert not re.search(r"heat-\d", cell)


def test_no_threshold_in_templates():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "templates"
    for folder in ("results", "hr"):
        for path in (root / folder).glob("*.html"):
            text = path.read_text()
            assert not re.search(r"(>=|<=|<|>)\s*(survey\.)?min_group", text), path
            assert not re.search(r"(>=|<=|<|>)\s*k\b", text), path


def test_manager_records_learning_outcomes(client, db, incident):
    manager = Manager(client)
    manager.login("manager@example.org")
    response = manager.post(f"/incidents/{incident}/learning",
                            {"system_changes": "2", "repeat": "yes"})
    assert response.status_code == 302
    db.expire_all()
    row = db.get(Incident, incident)
    assert (row.system_changes, row.repeat) == (2, True)
    bad = manager.post(f"/incidents/{incident}/learning",
                       {"system_changes": "lots", "repeat": "perhaps"})
    assert bad.status_code == 400
    assert "Enter a whole number" in bad.text


def test_other_teams_manager_cannot_record_learning(client, db, org, settings, box):
    survey = run_survey(db, settings, box, team="platform", at=AUG,
                        rows=rows_from(PAYMENTS_AUG, INVOLVEMENT))
    manager = Manager(client)
    manager.login("manager@example.org")
    response = manager.post(f"/incidents/{survey.incident_id}/learning",
                            {"system_changes": "1", "repeat": "no"})
    assert response.status_code == 404  # another team's incident reads as no incident
