"""Admins create and deactivate accounts and API keys in the browser (issue 14, point 5);
axe on each page; screenshots at desktop and phone width."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from support import PASSWORD, totp_code
from support.browser import DESKTOP, PHONE, assert_accessible, page_width, save_screenshot, sign_in

pytestmark = pytest.mark.browser


def test_admin_manages_accounts_and_keys_in_the_browser(browser, live):
    url, _tokens, _app = live
    context = browser.new_context(viewport=DESKTOP, bypass_csp=True)
    page = context.new_page()
    sign_in(page, url, "admin@example.org", code=totp_code())
    page.get_by_role("link", name="Accounts").click()
    expect(page.get_by_role("heading", name="Accounts", exact=True).first).to_be_visible()
    page.get_by_role("button", name="Add the account").click()  # empty: every problem at once
    summary = page.get_by_role("alert")
    expect(summary).to_be_focused()
    expect(summary.get_by_role("link", name="Email: not a valid address")).to_be_visible()
    expect(summary.get_by_role("link", name="First password:")).to_be_visible()
    assert_accessible(page, "accounts with errors")
    page.get_by_label("Email").fill("lead@example.org")
    page.get_by_label("Name", exact=True).fill("Team lead")
    page.get_by_label("Manager (sees their teams)").check()
    page.get_by_label("Payments").check()
    page.get_by_label("First password").fill(PASSWORD)
    page.get_by_role("button", name="Add the account").click()
    expect(page.get_by_text("Account lead@example.org (manager) added.")).to_be_visible()
    page.get_by_role("button", name="Deactivate lead@example.org").click()
    expect(page.get_by_text("Account lead@example.org is deactivated.")).to_be_visible()
    expect(page.get_by_role("button", name="Reactivate lead@example.org")).to_be_visible()
    assert_accessible(page, "accounts")
    save_screenshot(page, "accounts-desktop")
    page.set_viewport_size(PHONE)
    assert page_width(page) <= PHONE["width"]
    save_screenshot(page, "accounts-phone")
    page.set_viewport_size(DESKTOP)
    page.get_by_role("link", name="API and mail").click()
    page.get_by_label("Name (what uses it)").fill("Pager bridge")
    page.get_by_label("Add incidents (incidents:write)").check()
    page.get_by_role("button", name="Create the key").click()
    secret = page.get_by_label("Key", exact=True).input_value()
    assert secret.startswith("ack_")
    expect(page.get_by_role("heading", name="Copy the key now: it is not shown again")) \
        .to_be_visible()
    assert_accessible(page, "API key created")
    save_screenshot(page, "api-key-created-desktop")
    page.goto(f"{url}/admin/api")
    assert secret not in page.content()
    page.get_by_role("button", name="Revoke").first.click()
    expect(page.get_by_text("is revoked")).to_be_visible()
    page.set_viewport_size(PHONE)
    assert page_width(page) <= PHONE["width"]
    assert_accessible(page, "API keys (phone)")
    context.close()


def test_hr_lands_on_the_overview_and_reads_the_audit_log_in_words(browser, live):
    url, _tokens, _app = live
    context = browser.new_context(viewport=DESKTOP, bypass_csp=True)
    page = context.new_page()
    page.goto(f"{url}/login")
    page.get_by_label("Email").fill("hr@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Code").fill(totp_code())
    page.get_by_role("button").first.click()
    expect(page).to_have_url(f"{url}/hr")
    page.get_by_role("link", name="Audit log").click()
    expect(page.get_by_role("cell", name="Opened the culture overview").first).to_be_visible()
    expect(page.get_by_role("cell", name="Signed in").first).to_be_visible()
    assert_accessible(page, "audit log")
    save_screenshot(page, "audit-desktop")
    page.set_viewport_size(PHONE)
    when = page.locator("td.when").first
    line = float(when.evaluate("el => parseFloat(getComputedStyle(el).lineHeight)"))
    assert when.locator("time").bounding_box()["height"] < 1.5 * line  # one line
    assert page_width(page) <= PHONE["width"]
    assert_accessible(page, "audit log (phone)")
    context.close()
