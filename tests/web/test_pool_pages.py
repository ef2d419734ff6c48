"""Pool pages: which small incidents are pooled, the pooled results once the period is over,
pooled comments; the incident page links to them; access is by team."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from support import ANSWERS, NOW, Manager, answer, build_org, decide_periods, tokens_of
from support.app import make_app
from support.organisation import AUG, uniform
from surveys import db as dbmod
from surveys.config import ConfigError
from surveys.models import AuditEvent
from surveys.services import ledger, lifecycle


@pytest.fixture(autouse=True)
def fresh_ledgers():
    ledger.clear_cache()
    yield
    ledger.clear_cache()


def small_survey(db, settings, box, at, answers, title, comment=None, team="payments",
                 first=0):
    """A survey of six people of ``team`` from number ``first`` on, answered by few."""
    data = lifecycle.NewIncident(
        team=team, title=title, kind="availability", severity="sev2",
        closed_at=at - timedelta(hours=1),
        participants=[f"{team}{i}@example.org" for i in range(first, first + 6)])
    survey = lifecycle.create_incident(db, data, settings, box, at)
    tokens = tokens_of(db, box, survey.id)
    for token, row in zip(tokens, answers, strict=False):
        answer(db, token, dict(row), comment=comment or None)
    lifecycle.close_survey(db, survey.id, survey.closes_at)
    return survey


@pytest.fixture
def pooled(db, org, settings, box):
    a = small_survey(db, settings, box, AUG, uniform(3), "Small one",
                     comment="Ask Payments3 about 3 Aug, payments4@example.org knows.")
    b = small_survey(db, settings, box, AUG + timedelta(days=30), uniform(3), "Small two",
                     comment="The timeline helped.", first=6)  # other people: 6 authors
    decide_periods(db, settings, NOW)
    return a, b


def test_the_pool_shows_its_incidents_and_pooled_results(client, pooled):
    Manager(client).login("manager@example.org")
    listing = client.get("/teams/payments/pools")
    assert listing.status_code == 200
    assert "2026 Q3" in listing.text and "period ended" in listing.text
    page = client.get("/teams/payments/pools/2026-Q3")
    assert page.status_code == 200
    assert "Small one" in page.text and "Small two" in page.text
    assert "Pooled results from 6 people" in page.text
    # comments of the period, masked
    assert "The timeline helped." in page.text
    assert "Payments3" not in page.text and "payments4@example.org" not in page.text
    assert "[name]" in page.text and "[email]" in page.text and "3 Aug" not in page.text


def test_comments_the_same_few_people_may_have_written_stay_hidden(client, db, org, settings,
                                                                   box):
    # Two surveys of the same six people, three comments each: perhaps only three authors.
    small_survey(db, settings, box, AUG, uniform(3), "One", comment="Felt fine.")
    small_survey(db, settings, box, AUG + timedelta(days=30), uniform(3), "Two",
                 comment="Felt rushed.")
    decide_periods(db, settings, NOW)
    Manager(client).login("manager@example.org")
    page = client.get("/teams/payments/pools/2026-Q3")
    assert "Pooled results from 6 people" in page.text
    assert "Felt" not in page.text and "at least 5 different people" in page.text


def test_an_incident_below_k_shows_no_numbers_and_links_to_its_pool(client, pooled):
    Manager(client).login("manager@example.org")
    page = client.get(f"/incidents/{pooled[0].incident_id}")
    assert page.status_code == 200
    assert "Fewer than 5 people answered" in page.text
    assert "Results from" not in page.text
    assert "/teams/payments/pools" in page.text


def test_a_running_period_shows_membership_but_no_figures(client, db, org, settings, box):
    small_survey(db, settings, box, NOW - timedelta(days=30), uniform(3), "Recent one")
    small_survey(db, settings, box, NOW - timedelta(days=20), uniform(3), "Recent two")
    Manager(client).login("manager@example.org")
    page = client.get("/teams/payments/pools/2026-Q4")
    assert page.status_code == 200
    assert "Recent one" in page.text and "has not ended yet" in page.text
    assert "Pooled results from" not in page.text


def test_refused_pool_view_is_audited_with_the_guards_reason(client, db, org, settings, box):
    small_survey(db, settings, box, NOW - timedelta(days=30), uniform(3), "Recent one")
    Manager(client).login("manager@example.org")
    client.get("/teams/payments/pools/2026-Q4")
    db.rollback()
    event = db.scalar(select(AuditEvent).where(AuditEvent.action == "pools.view"))
    assert event is not None and not event.allowed and event.detail == "period_not_over"


@pytest.mark.parametrize("path, status", [
    ("/teams/platform/pools", 404),  # another team's: the same 404 as no team at all
    ("/teams/platform/pools/2026-Q3", 404),
    ("/teams/nope/pools", 404),
    ("/teams/payments/pools/2026-Q9", 404),
    ("/teams/payments/pools/2026-08", 404),  # pools are kept by quarter here
    ("/teams/payments/pools/" + "x" * 300, 404),
    ("/teams/payments/pools/2025-Q1", 404),  # no small incident then
])
def test_other_teams_and_bad_addresses_are_refused(client, pooled, path, status):
    Manager(client).login("manager@example.org")
    assert client.get(path).status_code == status


def test_pools_need_a_login(client, pooled):
    response = client.get("/teams/payments/pools/2026-Q3")
    assert response.status_code in (302, 401)


def test_month_pools_when_configured(tmp_path, box):
    app = make_app(f"sqlite:///{tmp_path / 'month.db'}", AFTERCARE_POOL_PERIOD="month")
    try:
        settings = app.extensions["aftercare.settings"]
        assert settings.pool_period == "month"
        with dbmod.session_scope(app) as db:
            build_org(db)
            small_survey(db, settings, box, AUG, [dict(ANSWERS)] * 3, "August small")
            decide_periods(db, settings, NOW)
        client = app.test_client()
        Manager(client).login("manager@example.org")
        assert "Aug 2026" in client.get("/teams/payments/pools").text
        assert client.get("/teams/payments/pools/2026-08").status_code == 200
        assert client.get("/teams/payments/pools/2026-Q3").status_code == 404
    finally:
        dbmod.get_engine(app).dispose()


def test_a_bad_pool_period_setting_stops_start_up(tmp_path):
    with pytest.raises(ConfigError, match="AFTERCARE_POOL_PERIOD"):
        make_app(f"sqlite:///{tmp_path / 'bad.db'}", AFTERCARE_POOL_PERIOD="week")
