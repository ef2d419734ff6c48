"""Results at a glance, safe actions and phone layouts in Chromium (issue 14, points 1, 3, 4):
what a page leads with, the confirm step before closing early, the new-incident form's
errors, the survey's error summary and answer scale, and 360 px layouts; axe on each page;
screenshots at desktop and phone width into docs/screenshots/."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from analysis import items
from support import NOW, build_org, decide_periods, open_survey, totp_code
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
from support.organisation import (
    AUG,
    INVOLVEMENT,
    MAY,
    PAYMENTS_AUG,
    rows_from,
    run_survey,
    set_policies,
    uniform,
)
from surveys import db as dbmod

pytestmark = pytest.mark.browser

WIDE = """() => [...document.querySelectorAll('body *')]
  .filter(el => el.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
  .slice(0, 8).map(el => `${el.tagName}.${el.className} ${el.id}`)"""

COMMENTS = ["More time to write things down before the meeting.",
            "The timeline was useful; the blame talk afterwards was not.",
            "A facilitator from another team would help.",
            "Fine as it was.",
            "Less pressure to find one cause.",
            "Please share the follow-ups with everyone."]


@pytest.fixture
def glance_live(tmp_path):
    app = make_app(f"sqlite:///{tmp_path / 'live.db'}")
    with dbmod.session_scope(app) as session:
        build_org(session)
        settings = app.extensions["aftercare.settings"]
        box = app.extensions["aftercare.token_box"]
        run_survey(session, settings, box, team="payments", at=MAY, rows=uniform(6),
                   title="Card retries doubled")
        set_policies(session, {"neutral_author", "blameless"})
        rows = rows_from(PAYMENTS_AUG, INVOLVEMENT)
        for row, comment in zip(rows, COMMENTS, strict=True):
            row["comment"] = comment
            row["practice_author"] = "1"
        survey = run_survey(session, settings, box, team="payments", at=AUG, rows=rows,
                            title="Settlement file late")
        run_survey(session, settings, box, team="platform", at=AUG,
                   rows=uniform(6, practice_author="2"))
        _open, tokens = open_survey(session, settings, box, title="Still open")
        decide_periods(session, settings, NOW)
        ids = {"released": survey.incident_id, "open": _open.incident_id}
    with serve(app) as url:
        yield url, ids, tokens


def _order(page, *selectors: str) -> list[float]:
    return [page.locator(s).first.bounding_box()["y"] for s in selectors]


def test_incident_page_leads_with_headline_bars_practices_comments_then_flags(
        browser, glance_live):
    url, ids, _tokens = glance_live
    for name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        context = browser.new_context(viewport=viewport, bypass_csp=True)
        page = context.new_page()
        sign_in(page, url, "manager@example.org")
        page.goto(f"{url}/incidents/{ids['released']}")
        headline = page.get_by_role("heading", name="Results from 6 of 7 people")
        expect(headline).to_be_visible()
        ys = _order(page, "#constructs", "#statements", "#practices", "#comments", "#flags")
        assert ys == sorted(ys), "headline, bars, practices, comments, then flags"
        cards = page.locator(".headline-cards .card")
        assert cards.count() == len(items.CONSTRUCTS)
        # blame: 3/6, 3/6, 6/6 favourable -> 67% over at least 6 answers, and its change
        blame = page.locator('.card[data-construct="blame"]')
        expect(blame).to_contain_text("67% favourable")
        expect(blame).to_contain_text("95% interval")
        expect(blame).to_contain_text("-33 points since “Card retries doubled”")
        bars = page.get_by_role("img", name="favourable")
        assert bars.count() == 8  # every shown statement (sharing_free is held back)
        expect(page.get_by_text("0% favourable, 100% neutral, 0% unfavourable, of 6 answers")
               .first).to_be_attached()
        expect(page.get_by_text(COMMENTS[2])).to_be_visible()
        flag = page.locator("ul.flags li").first
        expect(flag.locator("summary")).to_be_visible()
        expect(flag.get_by_text("How sure:")).to_be_hidden()  # compact until opened
        flag.locator("summary").click()
        expect(flag.get_by_text("How sure:")).to_be_visible()
        assert page_width(page) <= viewport["width"]
        assert_accessible(page, f"incident results ({name})")
        page.evaluate("window.scrollTo(0, 0)")
        save_screenshot(page, f"incident-{name}")
        page.goto(f"{url}/teams/payments")
        expect(page.get_by_role("heading", name="2026 Q3 at a glance, 6 people")).to_be_visible()
        expect(page.locator('.card[data-construct="blame"]')).to_contain_text(
            "points since 2026 Q2")
        ys = _order(page, "#headline", "#statements", "#flags", "#trend")
        assert ys == sorted(ys)
        assert page_width(page) <= viewport["width"], page.evaluate(WIDE)
        assert_accessible(page, f"team page ({name})")
        save_screenshot(page, f"team-{name}")
        context.close()


def test_hr_overview_fits_a_phone_and_prints_its_tables(browser, glance_live):
    url, _ids, _tokens = glance_live
    context = browser.new_context(viewport=DESKTOP, bypass_csp=True)
    page = context.new_page()
    sign_in(page, url, "hr@example.org", code=totp_code())  # a code works once: sign in once
    for name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(viewport)
        page.goto(f"{url}/hr")
        expect(page.get_by_role("heading", name="Teams by construct, 2026 Q3")).to_be_visible()
        assert page_width(page) <= viewport["width"]
        assert_accessible(page, f"HR overview ({name})")
        save_screenshot(page, f"overview-{name}")
    context.close()


def test_closing_early_below_the_minimum_asks_first_and_says_what_happens(
        browser, glance_live):
    url, ids, _tokens = glance_live
    context = browser.new_context(viewport=PHONE, bypass_csp=True)
    page = context.new_page()
    sign_in(page, url, "manager@example.org")
    page.goto(f"{url}/incidents/{ids['open']}")
    page.get_by_role("link", name="Close the survey early…").click()
    expect(page.get_by_role("heading", name="Close the survey for “Still open” now?")) \
        .to_be_visible()
    expect(page.get_by_text("Minimum reached: not yet")).to_be_visible()
    expect(page.get_by_text("can then never be shown on their own")).to_be_visible()
    expect(page.get_by_text("People who have not answered yet lose their chance")) \
        .to_be_visible()
    assert page_width(page) <= PHONE["width"]
    assert_accessible(page, "confirm closing early")
    save_screenshot(page, "close-confirm-phone")
    page.get_by_role("link", name="No, keep it open").click()
    expect(page.get_by_text("Status: open")).to_be_visible()  # nothing happened
    page.get_by_role("link", name="Close the survey early…").click()
    page.get_by_role("button", name="Yes, close the survey now").click()
    expect(page.get_by_text("The survey is closed and its answers are sealed.")).to_be_visible()
    context.close()


def test_new_incident_form_names_every_problem_at_once(browser, glance_live):
    url, _ids, _tokens = glance_live
    context = browser.new_context(viewport=PHONE, bypass_csp=True)
    page = context.new_page()
    sign_in(page, url, "manager@example.org")
    page.goto(f"{url}/incidents")
    assert page_width(page) <= PHONE["width"]  # the incident list fits a phone
    assert_accessible(page, "incident list (phone)")
    save_screenshot(page, "incidents-phone")
    page.goto(f"{url}/incidents/new")
    page.get_by_label("Participants' emails, one per line").fill(
        "payments0@example.org\nstranger@example.org\nnot-an-email")
    page.get_by_role("button", name="Add the incident").click()
    summary = page.get_by_role("alert")
    expect(summary).to_be_focused()
    expect(summary.get_by_role("link", name="Title: a title is required")).to_be_visible()
    expect(summary.get_by_role("link", name="Closed at: Enter the date and time")) \
        .to_be_visible()
    expect(summary.get_by_role("link", name="Participants' emails:")).to_be_visible()
    assert_accessible(page, "new incident with errors")
    # fix the rest; the unknown address is then named, not added silently
    page.get_by_label("Title").fill("Ledger lag")
    page.get_by_label("Closed at (UTC)").fill("2026-11-19T10:00")
    page.get_by_label("Participants' emails, one per line").fill(
        "payments0@example.org\nstranger@example.org")
    page.get_by_role("button", name="Add the incident").click()
    expect(page.get_by_role("alert")).to_contain_text(
        "1 address is on no roster: stranger@example.org")
    page.get_by_label("Add any address that is on no roster").check()
    page.get_by_role("button", name="Add the incident").click()
    expect(page.get_by_text("Incident added. 2 people invited")).to_be_visible()
    expect(page.get_by_text("can never be shown on their own")).to_be_visible()
    context.close()


def test_survey_errors_on_a_phone_are_announced_at_the_top_and_name_each_question(
        browser, glance_live):
    url, _ids, tokens = glance_live
    context = browser.new_context(viewport=PHONE, bypass_csp=True)
    page = context.new_page()
    page.goto(f"{url}/s/{tokens[0]}")
    assert page_width(page) <= PHONE["width"]
    first = items.STATEMENTS[0]
    scale = page.get_by_role("group", name=first.text).locator(".choice")
    boxes = [scale.nth(i).bounding_box() for i in range(scale.count())]
    assert len({round(b["y"]) for b in boxes}) == 1, "the scale stays on one line"
    assert [b["x"] for b in boxes] == sorted(b["x"] for b in boxes), "in order"
    assert max(b["x"] + b["width"] for b in boxes) <= PHONE["width"]
    page.get_by_role("group", name=first.text).evaluate("el => el.scrollIntoView()")
    save_screenshot(page, "survey-phone")
    page.get_by_role("group", name=first.text).get_by_label("Agree", exact=True).check()
    page.get_by_role("button", name="Send my answers").click()
    summary = page.get_by_role("alert")
    expect(summary).to_be_focused()
    assert summary.bounding_box()["y"] < PHONE["height"], "the summary is on screen"
    second = items.STATEMENTS[1]
    link = summary.get_by_role("link", name=second.text)
    expect(link).to_be_visible()
    link.click()
    assert page.evaluate("location.hash") == f"#{second.id}"
    assert_accessible(page, "survey with errors (phone)")
    save_screenshot(page, "survey-errors-phone")
    context.close()


def test_results_print_with_every_flags_evidence_and_no_navigation(browser, glance_live):
    url, ids, _tokens = glance_live
    context = browser.new_context(viewport=DESKTOP, bypass_csp=True)
    page = context.new_page()
    sign_in(page, url, "manager@example.org")
    page.goto(f"{url}/incidents/{ids['released']}")
    page.emulate_media(media="print")
    expect(page.get_by_role("navigation", name="Main")).to_be_hidden()
    expect(page.locator("ul.flags li").first.get_by_text("How sure:")).to_be_visible()
    expect(page.locator("svg.diverging").first).to_be_visible()
    assert page.pdf()[:4] == b"%PDF"  # Chromium prints it
    context.close()
