"""Actions, exposure and the two-track review's pages in Chromium, with axe checks: the team
page with its exposure and actions, the action form with the language check's suggestions,
and HR's overview with the counts across teams."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from support import build_org, totp_code
from support.actions import flagged_payments
from support.app import make_app
from support.browser import assert_accessible, serve, sign_in
from surveys import db as dbmod

pytestmark = pytest.mark.browser


@pytest.fixture
def actions_live(tmp_path):
    app = make_app(f"sqlite:///{tmp_path / 'live.db'}")
    with dbmod.session_scope(app) as session:
        build_org(session)
        flagged_payments(session, app.extensions["aftercare.settings"],
                         app.extensions["aftercare.token_box"])
    with serve(app) as url:
        yield url


def test_team_page_action_form_and_overview_pass_axe(browser, actions_live):
    url = actions_live
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    sign_in(page, url, "manager@example.org")
    page.goto(f"{url}/teams/payments?grain=month")
    expect(page.get_by_role("heading", name="Shared incident exposure by month")).to_be_visible()
    assert_accessible(page, "team page with exposure and actions")
    page.get_by_role("link", name="Record an action for this flag").first.click()
    expect(page.get_by_role("heading", name="Record an action for Payments")).to_be_visible()
    assert_accessible(page, "action form")
    page.get_by_label("What will change").fill(
        "Remind the engineer who caused the outage to double-check configs.")
    page.get_by_label("Due on").fill("2026-12-18")
    page.get_by_role("button", name="Record the action").click()
    expect(page.get_by_role("heading", name="A second look at the wording")).to_be_visible()
    assert_accessible(page, "action form with suggestions")
    page.get_by_label("What will change").fill(
        "Rotate the incident commander role weekly across the team.")
    page.get_by_role("button", name="Record the action").click()
    expect(page.get_by_role("table", name="Actions aimed at social cost")).to_be_visible()
    assert_accessible(page, "team page with an action")
    context.close()
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    sign_in(page, url, "hr@example.org", code=totp_code())
    page.goto(f"{url}/hr")
    expect(page.get_by_role("heading", name="Actions from flags, across teams")).to_be_visible()
    assert_accessible(page, "HR overview with actions")
    context.close()
