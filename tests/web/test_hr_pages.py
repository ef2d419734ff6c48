"""HR pages: the overview heatmap, team trends, the policy gap view and the exports."""

from __future__ import annotations

import csv
import dataclasses
import html
import io
import re
import shutil
import subprocess

import pytest

from support import NOW, Manager, decide_periods
from support.organisation import AUG, INVOLVEMENT, PAYMENTS_AUG, rows_from, run_survey, uniform
from surveys.services import admin


@pytest.fixture
def organisation(db, org, settings, box):
    admin.add_team(db, "ops", "=HYPERLINK(\"http://x\")")  # a hostile team name
    admin.add_team(db, "small", "Small team")
    run_survey(db, settings, box, team="payments", at=AUG,
               rows=rows_from(PAYMENTS_AUG, INVOLVEMENT))
    run_survey(db, settings, box, team="platform", at=AUG, rows=uniform(6), kind="security")
    run_survey(db, settings, box, team="ops", at=AUG, rows=uniform(5), kind="data")
    run_survey(db, settings, box, team="small", at=AUG, rows=uniform(2))
    decide_periods(db, settings, NOW)  # the tick once Q3 has ended
    return org


def _hr(client):
    Manager(client).login("hr@example.org")


def test_overview_heatmap_guards_cells(client, organisation):
    _hr(client)
    page = client.get("/hr")
    assert page.status_code == 200
    html = page.text
    assert "2026 Q3" in html
    # Small team has 2 people: its row says "not enough people" and carries no colour class.
    # With 2 hidden, the organisation total minus the shown teams would isolate them, so the
    # smallest shown team (ops, 5) is held back too.
    rows = dict(re.findall(r'<tr[^>]*><th scope="row"><a href="/teams/([a-z]+)">.*?</a></th>'
                           r'(.*?)</tr>', html, re.S))
    assert "not enough people" in rows["small"]
    assert "held back to protect a smaller group" in rows["ops"]
    assert not re.search(r"heat-\d", rows["small"]) and not re.search(r"heat-\d", rows["ops"])
    assert re.search(r'class="heat heat-\d">67%</td>', rows["payments"])  # blame, 200/3
    for cell in re.findall(r"<td[^>]*>[^<]*not enough people[^<]*</td>", html):
        assert not re.search(r"heat-\d", cell)


def test_overview_is_for_hr_only(client, organisation):
    Manager(client).login("manager@example.org")
    assert client.get("/hr").status_code == 403
    assert client.get("/hr/export.csv").status_code == 403
    assert client.get("/hr/report.pdf").status_code == 403


def test_chart_has_text_alternative_and_table(client, organisation):
    _hr(client)
    html = client.get("/hr").text
    assert re.search(r'<img src="/hr/charts/org-trend.svg[^"]*" alt="Organisation, percent '
                     r'favourable by quarter', html)
    assert "The numbers in the chart" in html or "the numbers in the chart" in html
    svg = client.get("/hr/charts/org-trend.svg")
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    assert svg.data.lstrip().startswith(b"<?xml") and b"<svg" in svg.data
    assert client.get("/hr/charts/org-trend.svg").data == svg.data  # the same every time


def test_csv_export_is_neutralised_and_released_only(client, organisation):
    _hr(client)
    response = client.get("/hr/export.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["scope", "name", "period", "construct", "respondents",
                       "percent_favourable"]
    names = {r[1] for r in rows[1:]}
    assert "Payments" in names and "Small team" not in names
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r"))
                   for row in rows for cell in row)
    assert ["team", "Payments", "2026-Q3", "Perceived blame", "6", "66.7"] in rows


def test_csv_neutralises_a_shown_hostile_name(client, db, org, settings, box):
    admin.add_team(db, "ops", "@SUM(1+1)")
    run_survey(db, settings, box, team="ops", at=AUG, rows=uniform(5))
    run_survey(db, settings, box, team="payments", at=AUG, rows=uniform(5))
    decide_periods(db, settings, NOW)
    _hr(client)
    rows = list(csv.reader(io.StringIO(client.get("/hr/export.csv").text)))
    assert any(r[1] == "'@SUM(1+1)" for r in rows)


def _pdf_text(data: bytes) -> str:
    if shutil.which("pdftotext"):
        done = subprocess.run(["pdftotext", "-layout", "-", "-"], input=data,
                              capture_output=True, check=True)
        return done.stdout.decode()
    from pypdf import PdfReader

    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def test_quarterly_pdf_is_one_page_with_the_figures(client, organisation):
    _hr(client)
    response = client.get("/hr/report.pdf?period=2026-Q3")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF") and len(response.data) > 5000
    from pypdf import PdfReader

    assert len(PdfReader(io.BytesIO(response.data)).pages) == 1
    text = _pdf_text(response.data)
    assert "quarterly report: 2026 Q3" in text
    assert "Payments" in text and "Learning outcomes" in text
    small = next(line for line in text.splitlines() if "Small team" in line)
    assert "not enough people" in small and "%" not in small  # never a figure below k


def test_quarterly_pdf_prints_each_flag_in_its_own_words(db, organisation):
    """The PDF takes every word of a flag from the Flag (issue 17): label, what was seen,
    how sure (with what the check passed) and the next step."""
    from analysis import flags
    from analysis.items import NO, POLICY_BY_ID, YES
    from surveys.services import overview, reports

    view = overview.overview(db, 5, "2026-Q3")
    policy = POLICY_BY_ID["neutral_author"]
    shown = [*flags.policy_gap_flags([policy], {policy.check: {YES: 7, NO: 3}}),
             *flags.policy_gap_flags([policy], {policy.check: {YES: 4, NO: 6}})]
    assert [f.state for f in shown] == ["flag", "watch"]
    text = " ".join(_pdf_text(reports.quarterly_report(
        dataclasses.replace(view, flags=tuple(shown)))).split())
    assert "Flags (1 flagged, 1 to watch)" in text
    for flag in shown:
        assert " ".join(flag.text().split()) in text


def test_bad_period_and_grain_are_4xx(client, organisation):
    _hr(client)
    assert client.get("/hr?period=2026-13").status_code == 400
    assert client.get("/hr?period=2031-Q1").status_code == 404
    assert client.get("/hr/export.csv?period=nonsense").status_code == 400
    assert client.get("/teams/payments?grain=week").status_code == 400
    assert client.get("/teams/nosuchteam").status_code == 404


def test_team_page_for_its_manager_only(client, organisation):
    Manager(client).login("manager@example.org")
    page = client.get("/teams/payments?grain=month")
    assert page.status_code == 200
    assert "Aug 2026" in page.text and "67%" in page.text
    assert "fewer than 5 periods" in page.text or "not enough shown periods" in page.text
    assert client.get("/teams/platform").status_code == 404  # like a team that does not exist
    chart = client.get("/teams/payments/trend.svg?grain=month")
    assert chart.status_code == 200 and chart.mimetype == "image/svg+xml"


def _gap_of_five_in_six(db, settings, box, policies):
    """Five of six say the review was written by the person most involved, in Q3."""
    from support.organisation import set_policies

    set_policies(db, policies)
    rows = uniform(6)
    for i, row in enumerate(rows):
        row["practice_author"] = "1" if i < 5 else "2"
    run_survey(db, settings, box, team="payments", at=AUG, rows=rows)
    decide_periods(db, settings, NOW)


def test_policy_gap_view(client, db, org, settings, box):

    _gap_of_five_in_six(db, settings, box, {"neutral_author", "blameless"})
    _hr(client)
    page = client.get("/hr/policies").text
    assert "83%" in page and "Ask someone outside the incident to write the next review." in page
    # The register shows the flag's own label and words, not a label of its own ("Gap").
    assert ("<strong>Flag</strong>: Unlikely to be chance alone: it passes the 10% "
            "false-discovery check") in page
    assert "Not in force: not asked." in page


def test_flags_export_uses_the_words_of_the_pages(client, db, org, settings, box):

    _gap_of_five_in_six(db, settings, box, {"neutral_author"})
    _hr(client)
    page = " ".join(html.unescape(client.get("/hr?period=2026-Q3").text).split())
    exported = list(csv.reader(io.StringIO(client.get("/hr/flags.csv?period=2026-Q3").text)))
    assert exported[0] == ["about", "period", "state", "what_was_seen", "how_sure",
                           "next_step"]
    assert len(exported) > 1
    for about, period, _state, seen, sure, step in exported[1:]:
        assert period == "2026-Q3" and about.endswith("2026 Q3")
        for words in (seen, sure, step):
            assert " ".join(words.split()) in page
