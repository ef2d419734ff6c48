"""The demo tells a true story (issue 14, point 2), seen as a manager and HR would see it in
Chromium: Payments improving, Platform's social cost flagged, Data's neutral-author gap, the
mail failure; axe on each page; screenshots of the demo at desktop and phone width."""

from __future__ import annotations

import pyotp
import pytest
from playwright.sync_api import expect

from support.app import make_app
from support.browser import (
    DESKTOP,
    PHONE,
    assert_accessible,
    page_width,
    save_screenshot,
    serve,
    sign_in,
)
from surveys import db as dbmod
from surveys.cli.demo import DEMO_PASSWORD, DEMO_TOTP_SECRET

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def demo_live(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    app = make_app(f"sqlite:///{path}")
    app.config["AFTERCARE_NOW"] = None  # the demo lives on the real clock
    result = app.test_cli_runner().invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    links = [line.strip() for line in result.output.splitlines() if "/s/" in line]
    with serve(app) as url:
        yield url, [link.split("5000", 1)[1] for link in links]
    dbmod.get_engine(app).dispose()


def test_a_manager_sees_payments_improving_and_platforms_social_cost(browser, demo_live):
    url, _links = demo_live
    context = browser.new_context(viewport=DESKTOP, bypass_csp=True)
    page = context.new_page()
    sign_in(page, url, "maria@example.org", DEMO_PASSWORD)
    page.goto(f"{url}/teams/payments")
    leadership = page.locator('.card[data-construct="leadership"]')
    expect(leadership).to_contain_text("favourable")
    rows = page.locator("table[class='cards'] tbody tr").all()  # the trend table
    assert len(rows) >= 6, "eighteen months of quarters"
    assert_accessible(page, "demo: Payments")
    save_screenshot(page, "demo-payments-desktop")
    page.goto(f"{url}/teams/platform")
    flags = page.locator("ul.flags li")
    expect(flags.filter(has_text="being involved").first).to_be_visible()
    expect(page.get_by_text("Platform: social cost: percent favourable went down")
           .first).to_be_attached()
    page.set_viewport_size(PHONE)
    assert page_width(page) <= PHONE["width"]
    assert_accessible(page, "demo: Platform (phone)")
    save_screenshot(page, "demo-platform-phone")
    page.goto(f"{url}/incidents")
    expect(page.get_by_text("Payouts paused by a stuck feature flag")).to_be_visible()
    assert page_width(page) <= PHONE["width"]
    context.close()


def test_hr_sees_the_gap_and_admins_the_bounced_invitation(browser, demo_live):
    url, links = demo_live
    context = browser.new_context(viewport=DESKTOP, bypass_csp=True)
    page = context.new_page()
    sign_in(page, url, "adam@example.org", DEMO_PASSWORD, pyotp.TOTP(DEMO_TOTP_SECRET).now())
    expect(page).to_have_url(f"{url}/hr")  # admins and HR land on the culture overview
    heat = page.locator("table.heatmap tbody tr")
    assert heat.count() >= 6
    expect(page.locator("table.heatmap")).not_to_contain_text("not enough people")
    expect(page.locator("ul.flags").get_by_text("Data, ").first).to_be_attached()
    assert_accessible(page, "demo: culture overview")
    save_screenshot(page, "demo-overview-desktop")
    page.goto(f"{url}/admin/api")
    expect(page.get_by_role("cell", name="Payouts paused by a stuck feature flag")).to_be_visible()
    page.goto(f"{url}/audit")
    expect(page.get_by_role("cell", name="Downloaded the quarterly report (PDF)").first) \
        .to_be_visible()
    context.close()
    assert len(links) == 3
    participant = browser.new_context(viewport=PHONE, bypass_csp=True).new_page()
    participant.goto(f"{url}{links[0]}")
    expect(participant.get_by_role("button", name="Send my answers")).to_be_visible()
    participant.context.close()
