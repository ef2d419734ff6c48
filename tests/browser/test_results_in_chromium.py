"""Results, trends, the HR overview and the check-in offer in Chromium, with axe checks."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from support import NOW, build_org, decide_periods, open_survey, totp_code
from support.app import make_app
from support.browser import answer_every_question, assert_accessible, serve, sign_in
from support.organisation import AUG, INVOLVEMENT, PAYMENTS_AUG, rows_from, run_survey, uniform
from surveys import db as dbmod

pytestmark = pytest.mark.browser

PHONE = {"width": 360, "height": 740}


@pytest.fixture
def results_live(tmp_path):
    app = make_app(f"sqlite:///{tmp_path / 'live.db'}",
                   AFTERCARE_SUPPORT_CONTACT="care@example.org")
    with dbmod.session_scope(app) as session:
        build_org(session)
        settings = app.extensions["aftercare.settings"]
        box = app.extensions["aftercare.token_box"]
        survey = run_survey(session, settings, box, team="payments", at=AUG,
                            rows=rows_from(PAYMENTS_AUG, INVOLVEMENT))
        run_survey(session, settings, box, team="platform", at=AUG, rows=uniform(6))
        _open, tokens = open_survey(session, settings, box, title="Still open")
        decide_periods(session, settings, NOW)  # the tick after 2026 Q3 ended
        incident_id = survey.incident_id
    with serve(app) as url:
        yield url, incident_id, tokens


def test_manager_results_and_team_pages_pass_axe(browser, results_live):
    url, incident_id, _tokens = results_live
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    sign_in(page, url, "manager@example.org")
    page.goto(f"{url}/incidents/{incident_id}")
    expect(page.get_by_role("heading", name="Results from 6 of 7 people")).to_be_visible()
    assert_accessible(page, "incident results")
    page.goto(f"{url}/teams/payments?grain=month")
    expect(page.get_by_role("img").first).to_be_visible()
    assert_accessible(page, "team trends")
    context.close()


def test_hr_overview_passes_axe(browser, results_live):
    url, _incident_id, _tokens = results_live
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    sign_in(page, url, "hr@example.org", code=totp_code())
    page.goto(f"{url}/hr")
    expect(page.get_by_role("heading", name="Teams by construct, 2026 Q3")).to_be_visible()
    assert_accessible(page, "HR overview")
    page.goto(f"{url}/hr/policies")
    assert_accessible(page, "policy gaps")
    context.close()


def test_checkin_offer_on_a_phone_passes_axe(browser, results_live):
    url, _incident_id, tokens = results_live
    context = browser.new_context(viewport=PHONE, bypass_csp=True)
    page = context.new_page()
    page.goto(f"{url}/s/{tokens[0]}")
    answer_every_question(page)
    page.get_by_role("button", name="Send my answers").click()
    expect(page.get_by_role("heading", name="Would you like to talk to someone?")).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"]
    assert_accessible(page, "thank-you page with the check-in offer")
    page.get_by_label("How can care@example.org reach you? (email or phone)").fill(
        "me@example.org")
    page.get_by_role("button", name="Ask for a check-in").click()
    expect(page.get_by_role("heading", name="Your request is noted")).to_be_visible()
    context.close()
