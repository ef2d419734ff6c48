"""The review language check page in Chromium: check a draft, dismiss a finding, axe."""

from __future__ import annotations

import pytest

from support import PASSWORD
from support.browser import assert_accessible

pytestmark = pytest.mark.browser

DRAFT = ("Root cause: John pushed a bad config. He should have tested it.\n"
         "The alert should have fired at 80%.\n"
         "Was nobody watching the dashboard?")


def _check_page(browser, url: str, **context_options):
    """A new browser context, signed in as a manager, on the check page."""
    context = browser.new_context(**context_options)
    page = context.new_page()
    page.goto(f"{url}/login")
    page.get_by_label("Email").fill("manager@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"{url}/review/check")
    return context, page


def test_check_a_draft_and_dismiss_a_finding_without_javascript(browser, live):
    url, _tokens, _ = live
    context, page = _check_page(browser, url, java_script_enabled=False)
    assert page.get_by_role("heading", name="What the check can and cannot see").is_visible()
    page.get_by_label("Review draft (Markdown or plain text)").fill(DRAFT)
    page.get_by_role("button", name="Check the wording").click()
    heading = page.get_by_role("heading", level=2, name="things to look at")
    assert heading.inner_text() == "4 things to look at"
    findings = page.locator("ol.findings > li")
    assert "points back to John" in findings.nth(2).inner_text()
    assert "alert should have fired" not in " ".join(findings.all_inner_texts())
    page.get_by_role("button", name="Dismiss finding 4 for this draft").click()
    assert page.get_by_role("heading", level=2).filter(
        has_text="to look at").inner_text() == "3 things to look at"
    assert page.get_by_text("1 finding dismissed for this draft.").is_visible()
    assert page.get_by_label("Review draft (Markdown or plain text)").input_value() == DRAFT
    page.get_by_role("button", name="Show it again").click()
    assert page.get_by_role("heading", level=2).filter(
        has_text="to look at").inner_text() == "4 things to look at"
    context.close()


def test_check_page_passes_axe(browser, live):
    url, _tokens, _ = live
    context, page = _check_page(browser, url, bypass_csp=True)
    assert_accessible(page, "empty check page")
    page.get_by_label("Review draft (Markdown or plain text)").fill(DRAFT)
    page.get_by_role("button", name="Check the wording").click()
    page.get_by_role("button", name="Dismiss finding 1 for this draft").click()
    assert_accessible(page, "check page with findings and a dismissal")
    context.close()
