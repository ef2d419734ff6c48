"""The participant and manager flows in a real browser, at phone width, and axe checks."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from analysis import items
from support import PASSWORD
from support.browser import answer_every_question, assert_accessible
from surveys import db as dbmod
from surveys.models import StagedAnswer

pytestmark = pytest.mark.browser

PHONE = {"width": 360, "height": 740}
def test_participant_answers_on_a_phone_without_javascript(browser, live):
    url, tokens, app = live
    context = browser.new_context(viewport=PHONE, java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{url}/s/{tokens[0]}")
    assert page.url == f"{url}/s"  # the token left the address bar
    assert page.get_by_role("heading", level=1).inner_text().startswith("How did the review")
    page.get_by_role("button", name="Send my answers").click()
    expect(page.get_by_role("alert")).to_be_visible()  # incomplete: the error summary
    answer_every_question(page)
    page.get_by_label(items.COMMENT_PROMPT).fill("A facilitator from outside the team.")
    page.get_by_role("button", name="Send my answers").click()
    expect(page.get_by_role("heading", name="Thank you")).to_be_visible()
    page.goto(f"{url}/s/{tokens[0]}")
    expect(page.get_by_role("heading", name="This link has already been used")).to_be_visible()
    context.close()
    with dbmod.session_scope(app) as session:
        assert session.scalar(select(func.count()).select_from(StagedAnswer)) == 1


def test_participant_pages_pass_axe_and_fit_a_phone(browser, live):
    url, tokens, _ = live
    context = browser.new_context(viewport=PHONE, bypass_csp=True)
    page = context.new_page()
    page.goto(f"{url}/s/{tokens[1]}")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the form is {width}px wide on a {PHONE['width']}px phone"
    assert_accessible(page, "survey form")
    page.get_by_role("button", name="Send my answers").click()
    assert_accessible(page, "survey form with errors")
    answer_every_question(page)
    page.get_by_role("button", name="Send my answers").click()
    assert_accessible(page, "thank-you page")
    page.goto(f"{url}/s/{'x' * 43}")
    assert_accessible(page, "link not valid page")
    context.close()


def test_manager_signs_in_and_reads_pages_that_pass_axe(browser, live):
    url, _tokens, _ = live
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    page.goto(f"{url}/login")
    assert_accessible(page, "sign-in page")
    page.get_by_label("Email").fill("manager@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Incidents")).to_be_visible()
    assert_accessible(page, "incident list")
    page.get_by_role("link", name="Queue stalled").click()
    expect(page.get_by_text("Minimum reached")).to_be_visible()
    assert_accessible(page, "open incident page")
    context.close()
