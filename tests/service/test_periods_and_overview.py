"""Team periods, the HR overview and their flags, read from recorded decisions, against
hand-worked numbers; and the three ways the rules used to drift apart, each reproduced."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from support import AFTER_Q4, NOW, answer, decide_periods, tokens_of
from support.organisation import AUG, INVOLVEMENT, MAY, PAYMENTS_AUG, rows_from, run_survey, uniform
from surveys.models import ReleaseRecord, Team
from surveys.services import (
    admin,
    lifecycle,
    overview,
    periods,
    releases,
    results,
)


def _team(db, slug):
    return db.scalar(select(Team).where(Team.slug == slug))


def test_overview_heatmap_figures(db, org, settings, box):
    run_survey(db, settings, box, team="payments", at=AUG,
               rows=rows_from(PAYMENTS_AUG, INVOLVEMENT))
    run_survey(db, settings, box, team="platform", at=AUG + timedelta(days=3), rows=uniform(5),
               kind="security")
    decide_periods(db, settings, NOW)
    view = overview.overview(db, k=5)
    assert view.period == "2026-Q3"
    rows = {r.team.slug: r for r in view.heatmap}
    pay = {c.construct: c.pct for c in rows["payments"].cells}
    # blame: (3/6 + 3/6 + 6/6) / 3; social: (6/6 + 0/6 + 6/6) / 3; sharing: sharing_free has
    # only 4 countable answers (below k) so the construct is sharing_own alone, 5/6.
    assert pay["blame"] == pytest.approx(200 / 3)
    assert pay["social"] == pytest.approx(200 / 3)
    assert pay["sharing"] == pytest.approx(500 / 6)
    assert pay["leadership"] == pytest.approx(100 / 3)
    plat = {c.construct: c.pct for c in rows["platform"].cells}
    assert plat["blame"] == pytest.approx(100.0)
    assert plat["leadership"] is None  # everyone answered "Doesn't apply"
    # organisation Q3, pooled: blame_system 8/11, blame_person 8/11, blame_career 11/11.
    q3 = next(p for p in view.org_trend if p.period == "2026-Q3")
    assert q3.n == 11
    assert q3.pct("blame") == pytest.approx((800 / 11 + 800 / 11 + 100) / 3)
    kinds = {c.key: c for c in view.kinds}
    assert kinds["availability"].shown and kinds["availability"].n == 6
    assert kinds["security"].shown and kinds["security"].n == 5
    assert "data" not in kinds  # no data incident closed in the quarter
    # Blame scores (1..5, favourable high): availability respondents 14/3, 13/3, 11/3, 3,
    # 13/3, 3; security all 13/3. Each security score beats 3 of the 6, ties 2, loses to 1:
    # Cliff's delta = (5 * 3 - 5 * 1) / (5 * 6) = 1/3 (security reviewed with less blame).
    (comparison,) = view.kind_comparisons
    assert comparison["kind"] == "security"
    assert comparison["cliffs_delta"] == pytest.approx(1 / 3)
    assert "blame" in comparison["words"]
    # involvement: direct 3, observer 2 + 5, unsaid 1 of 11; direct and unsaid are below k,
    # leaving 4 hidden, so observers must be hidden too.
    assert not any(c.shown for c in view.involvement)
    assert not any(f.kind == "involved_cost" for f in view.flags)
    exported = overview.export_rows(view)
    assert ["team", "Payments", "2026-Q3", "Leadership modelling", 6, 33.3] in exported


def test_complementary_suppression_across_teams(db, org, settings, box):
    admin.add_team(db, "data", "Data")
    run_survey(db, settings, box, team="payments", at=AUG,
               rows=rows_from(PAYMENTS_AUG, INVOLVEMENT))
    run_survey(db, settings, box, team="platform", at=AUG, rows=uniform(5))
    run_survey(db, settings, box, team="data", at=AUG, rows=uniform(3))
    decide_periods(db, settings, NOW)
    view = overview.overview(db, k=5)
    rows = {r.team.slug: r for r in view.heatmap}
    # data has 3 (hidden); organisation 14 minus payments 6 would leave 8, fine, but minus
    # platform too would leave 3: platform (the smallest shown) is hidden as well.
    assert not rows["data"].shown and not rows["platform"].shown
    assert rows["payments"].shown
    assert all(c.pct is None for c in rows["platform"].cells)
    team_view = periods.team_periods(db, _team(db, "platform"), "quarter", NOW, 5)
    assert not any(p.shown for p in team_view.periods)  # the same decision on the team page
    exported = overview.export_rows(view)
    assert not any(r[1] in ("Platform", "Data") for r in exported)


def test_open_and_unfinished_periods_are_not_decided(db, org, settings, box):
    run_survey(db, settings, box, team="payments", at=NOW - timedelta(days=10),
               rows=uniform(6))
    assert decide_periods(db, settings, NOW).periods == []
    view = overview.overview(db, k=5)
    assert view.period is None and view.heatmap == ()


def test_small_incidents_pool_into_the_team_period(db, org, settings, box):
    run_survey(db, settings, box, team="payments", at=AUG, rows=uniform(3))
    run_survey(db, settings, box, team="payments", at=AUG + timedelta(days=7), rows=uniform(3))
    decide_periods(db, settings, NOW)
    view = periods.team_periods(db, _team(db, "payments"), "month", NOW, 5)
    aug = next(p for p in view.periods if p.period == "2026-08")
    assert aug.shown and aug.n == 6


def test_worsening_trend_flag_and_change_since(db, org, settings, box):
    # five months, six people each; blame_system favourable 6, 5, 4, 2, 1 of 6.
    for i, favourable in enumerate((6, 5, 4, 2, 1)):
        rows = uniform(favourable) + uniform(6 - favourable, blame_system="2")
        run_survey(db, settings, box, team="payments", at=MAY.replace(month=4 + i), rows=rows)
    decide_periods(db, settings, NOW)
    view = periods.team_periods(db, _team(db, "payments"), "month", NOW, 5)
    blame = view.series[0]
    expected = [(100 * f / 6 + 200) / 3 for f in (6, 5, 4, 2, 1)]
    assert blame.values == pytest.approx(expected)
    assert blame.trend is not None and blame.trend.tau == pytest.approx(-1.0)
    assert view.flags_period == "2026-08"
    worsening = [f for f in view.flags if f.kind == "worsening_trend"]
    assert len(worsening) == 1 and worsening[0].state == "flag"
    assert "perceived blame" in worsening[0].subject and worsening[0].period == "2026-08"
    quarterly = periods.team_periods(db, _team(db, "payments"), "quarter", NOW, 5)
    blame_q = quarterly.series[0]
    assert blame_q.trend is None and blame_q.change is not None  # Q2 and Q3 only


def test_learning_outcomes(db, org, settings, box):
    manager = admin.add_user(db, "m2@example.org", "M", "correct horse battery", "hr")
    first = run_survey(db, settings, box, team="payments", at=AUG, rows=uniform(5))
    second = run_survey(db, settings, box, team="payments", at=AUG, rows=uniform(5),
                        kind="security")
    results.record_learning(db, manager, first.incident_id, "3", "no")
    results.record_learning(db, manager, second.incident_id, "1", "yes")
    decide_periods(db, settings, NOW)
    view = overview.overview(db, k=5)
    row = view.learning.rows[0]
    assert (row.reviews, row.system_changes_per_review, row.repeat_rate_pct) == (2, 2.0, 50.0)
    with pytest.raises(Exception, match="learning outcomes"):
        results.record_learning(db, manager, first.incident_id, "-2", "maybe")


def test_pages_read_and_never_decide(db, org, settings, box):
    run_survey(db, settings, box, team="payments", at=AUG, rows=uniform(6))
    run_survey(db, settings, box, team="platform", at=AUG, rows=uniform(3))
    decide_periods(db, settings, NOW)
    before = db.scalar(select(func.count()).select_from(ReleaseRecord))
    for grain in ("month", "quarter"):
        for slug in ("payments", "platform"):
            periods.team_periods(db, _team(db, slug), grain, NOW, 5)
    overview.overview(db, k=5)
    db.rollback()
    assert db.scalar(select(func.count()).select_from(ReleaseRecord)) == before


# --------------------------------------------------------------------------- the defects


def test_a_surveys_own_minimum_holds_on_the_hr_pages_and_the_api(db, org, settings, box):
    """A survey whose invitations promised k = 8, six respondents, closed in February: the
    team's quarter is not shown anywhere (it used to show n = 6 on the HR team page)."""
    data = lifecycle.NewIncident(
        team="payments", title="Promised eight", kind="availability", severity="sev2",
        closed_at=datetime(2026, 2, 1, 9, tzinfo=UTC),
        participants=[f"payments{i}@example.org" for i in range(9)],
        open_delay=timedelta(hours=2))
    created = datetime(2026, 2, 1, 10, tzinfo=UTC)
    survey = lifecycle.create_incident(db, data, settings, box, created)
    lifecycle.set_min_group(db, survey.id, 8)
    lifecycle.open_survey(db, survey.id, box, created + timedelta(hours=2))
    for token in tokens_of(db, box, survey.id)[:6]:
        answer(db, token, uniform(1)[0])
    lifecycle.close_survey(db, survey.id, datetime(2026, 2, 9, tzinfo=UTC))
    decide_periods(db, settings, NOW)
    for grain, period in (("quarter", "2026-Q1"), ("month", "2026-02")):
        view = periods.team_periods(db, _team(db, "payments"), grain, NOW, 5)
        (row,) = [p for p in view.periods if p.period == period]
        assert not row.shown and row.reason == "below_minimum" and row.k == 8
        assert "Fewer than 8 people" in row.message
    assert not overview.overview(db, k=5).heatmap[0].shown
    assert not any(r.shown for r in overview.overview(db, k=5).heatmap)


def test_what_is_shown_does_not_depend_on_who_looked_first(db, org, settings, box):
    """The Refund-queue case: an incident the list called released, then held back by the
    differencing audit once a quarterly view had been looked at. Decisions are now made at
    close and at period end, in one order, so every order of looking shows the same."""
    big = run_survey(db, settings, box, team="payments", at=AUG, rows=uniform(8),
                     title="Refund queue stalled for four hours")
    run_survey(db, settings, box, team="payments", at=AUG + timedelta(days=2),
               rows=uniform(2), title="Two people")
    decide_periods(db, settings, NOW)
    first = [results.decisions_for(db, [big])[big.id].allowed,
             results.survey_results(db, big).decision.allowed,
             [p.shown for p in periods.team_periods(db, _team(db, "payments"), "quarter",
                                                    NOW, 5).periods]]
    again = [[p.shown for p in periods.team_periods(db, _team(db, "payments"), "quarter",
                                                    NOW, 5).periods],
             results.survey_results(db, big).decision.allowed,
             results.decisions_for(db, [big])[big.id].allowed]
    assert first == list(reversed(again))
    assert first[0] is True  # the manager's own incident was decided first, at its close
    assert first[2] == [False]  # 10 - 8 = 2 people: the quarter is held back


def test_a_finding_has_one_verdict_and_one_period_everywhere(db, org, settings, box):
    """The Data team's social-cost finding was a red flag on /hr and an amber watch on the
    team page, and /hr showed flags over two quarters beside a one-quarter table."""
    admin.add_team(db, "data", "Data")
    costly = uniform(6, social_treated="5", social_hesitate="5", social_support="1")
    run_survey(db, settings, box, team="data", at=AUG, rows=costly + uniform(5))
    run_survey(db, settings, box, team="data", at=MAY, rows=uniform(6))
    run_survey(db, settings, box, team="payments", at=AUG, rows=uniform(6))
    decide_periods(db, settings, NOW)
    hr = overview.overview(db, k=5, period="2026-Q3")
    team = periods.team_periods(db, _team(db, "data"), "quarter", NOW, 5)
    on_hr = [f for f in hr.flags if f.kind == "social_cost" and f.about.startswith("Data")]
    on_team = [f for f in team.flags if f.kind == "social_cost"]
    assert on_hr and on_hr == on_team  # same verdict, same words, same numbers
    assert on_hr[0].numbers["n"] == 11  # the quarter's 11 people, as in the table
    assert {f.period for f in hr.flags} == {"2026-Q3"}
    data_row = next(r for r in hr.heatmap if r.team.slug == "data")
    assert data_row.n == 11
    # The API reads the same record.
    assert releases.stored(db, releases.team_subject(_team(db, "data").id, "2026-Q3")) \
        .findings[0]["state"] == on_team[0].state


@pytest.mark.postgres
def test_periods_and_overview_on_postgresql(postgres_url):
    from support import SECRET, build_org
    from support.app import make_app
    from surveys import db as dbmod
    from surveys.tokens import TokenBox

    app = make_app(postgres_url)
    try:
        with dbmod.session_scope(app) as db:
            build_org(db)
            settings = app.extensions["aftercare.settings"]
            box = TokenBox(SECRET)
            run_survey(db, settings, box, team="payments", at=AUG,
                       rows=rows_from(PAYMENTS_AUG, INVOLVEMENT))
            run_survey(db, settings, box, team="platform", at=AUG, rows=uniform(5))
            manager = admin.add_user(db, "m3@example.org", "M", "correct horse battery", "hr")
            results.record_learning(db, manager, 1, "2", "yes")
            report = decide_periods(db, settings, AFTER_Q4)
            assert "2026-Q3" in report.periods and report.released >= 3
            assert decide_periods(db, settings, AFTER_Q4).periods == []  # once only
            view = overview.overview(db, k=5, period="2026-Q3")
            pay = next(r for r in view.heatmap if r.team.slug == "payments")
            assert {c.construct: c.pct for c in pay.cells}["blame"] == pytest.approx(200 / 3)
            assert view.learning.rows[0].system_changes_per_review == 2.0
    finally:
        dbmod.get_engine(app).dispose()
