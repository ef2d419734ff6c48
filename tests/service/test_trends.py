"""Period pooling, the HR overview's figures and team trends, against hand-worked numbers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from analysis_org import AUG, INVOLVEMENT, MAY, PAYMENTS_AUG, rows_from, run_survey, uniform
from sqlalchemy import func, select

from support import NOW
from surveys.models import PeriodCount, Team
from surveys.services import admin, results, trends


def _team(db, slug):
    return db.scalar(select(Team).where(Team.slug == slug))


def test_periods():
    assert trends.period_of(AUG, "month") == "2026-08"
    assert trends.period_of(AUG, "quarter") == "2026-Q3"
    assert trends.period_end("2026-Q4").year == 2027
    assert trends.period_end("2026-12").month == 1
    assert trends.period_index("2026-Q1") + 1 == trends.period_index("2026-Q2")
    assert trends.valid_period("2026-Q3") and not trends.valid_period("2026-13")
    with pytest.raises(ValueError):
        trends.period_of(AUG, "week")


def test_refresh_folds_each_survey_once(db, org, settings, box):
    run_survey(db, settings, box, team="payments", at=AUG,
               rows=rows_from(PAYMENTS_AUG, INVOLVEMENT))
    assert trends.refresh(db) == 1
    rows = db.scalar(select(func.count()).select_from(PeriodCount))
    assert trends.refresh(db) == 0
    assert db.scalar(select(func.count()).select_from(PeriodCount)) == rows
    counts = trends.load_counts(db, "team", ["2026-08"])
    team_id = str(_team(db, "payments").id)
    assert counts[(team_id, "2026-08", "")]["blame_system"] == {5: 1, 4: 2, 2: 1, 3: 1, 1: 1}
    assert counts[(team_id, "2026-08", "")]["_n"] == {0: 6}


def test_overview_heatmap_figures(db, org, settings, box):
    run_survey(db, settings, box, team="payments", at=AUG,
               rows=rows_from(PAYMENTS_AUG, INVOLVEMENT))
    run_survey(db, settings, box, team="platform", at=AUG + timedelta(days=3), rows=uniform(5),
               kind="security")
    view = trends.overview(db, NOW, k=5)
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
    assert not kinds["data"].shown
    # Blame scores (1..5, favourable high): availability respondents 14/3, 13/3, 11/3, 3,
    # 13/3, 3; security all 13/3. Each security score beats 3 of the 6, ties 2, loses to 1:
    # Cliff's delta = (5 * 3 - 5 * 1) / (5 * 6) = 1/3 (security reviewed with less blame).
    (comparison,) = view.kind_comparisons
    assert comparison.kind == "security"
    assert comparison.cliffs_delta == pytest.approx(1 / 3)
    assert "blame" in comparison.words
    # involvement: direct 3, observer 2 + 5, unsaid 1 of 11; direct and unsaid are below k,
    # leaving 4 hidden, so observers must be hidden too.
    assert not any(c.shown for c in view.involvement)
    assert not any(f.kind == "involved_cost" for f in view.flags)
    exported = trends.export_rows(view)
    assert ["team", "Payments", "2026-Q3", "leadership", 6, 33.3] in exported


def test_complementary_suppression_across_teams(db, org, settings, box):
    admin.add_team(db, "data", "Data")
    run_survey(db, settings, box, team="payments", at=AUG,
               rows=rows_from(PAYMENTS_AUG, INVOLVEMENT))
    run_survey(db, settings, box, team="platform", at=AUG, rows=uniform(5))
    run_survey(db, settings, box, team="data", at=AUG, rows=uniform(3))
    view = trends.overview(db, NOW, k=5)
    rows = {r.team.slug: r for r in view.heatmap}
    # data has 3 (hidden); organisation 14 minus payments 6 would leave 8, fine, but minus
    # platform too would leave 3: platform (the smallest shown) is hidden as well.
    assert not rows["data"].shown and not rows["platform"].shown
    assert rows["payments"].shown
    assert all(c.pct is None for c in rows["platform"].cells)
    team_view = trends.team_trends(db, _team(db, "platform"), "quarter", NOW, 5)
    assert not any(p.shown for p in team_view.periods)  # same choice on the team page
    exported = trends.export_rows(view)
    assert not any(r[1] in ("Platform", "Data") for r in exported)


def test_open_and_unfinished_periods_are_not_shown(db, org, settings, box):
    run_survey(db, settings, box, team="payments", at=NOW - timedelta(days=10),
               rows=uniform(6))
    view = trends.overview(db, NOW, k=5)
    assert view.period is None and view.heatmap == ()
    assert trends.complete_periods(db, "month", NOW) == []


def test_small_incidents_pool_into_the_team_period(db, org, settings, box):
    run_survey(db, settings, box, team="payments", at=AUG, rows=uniform(3))
    run_survey(db, settings, box, team="payments", at=AUG + timedelta(days=7), rows=uniform(3))
    view = trends.team_trends(db, _team(db, "payments"), "month", NOW, 5)
    aug = next(p for p in view.periods if p.period == "2026-08")
    assert aug.shown and aug.n == 6


def test_worsening_trend_flag_and_change_since(db, org, settings, box):
    # five months, six people each; blame_system favourable 6, 5, 4, 2, 1 of 6.
    for i, favourable in enumerate((6, 5, 4, 2, 1)):
        rows = uniform(favourable) + uniform(6 - favourable, blame_system="2")
        run_survey(db, settings, box, team="payments", at=MAY.replace(month=4 + i), rows=rows)
    view = trends.team_trends(db, _team(db, "payments"), "month", NOW, 5)
    blame = next(s for s in view.series if s.construct == "blame")
    expected = [(100 * f / 6 + 200) / 3 for f in (6, 5, 4, 2, 1)]
    assert blame.values == pytest.approx(expected)
    assert blame.trend is not None and blame.trend.tau == pytest.approx(-1.0)
    worsening = [f for f in view.flags if f.kind == "worsening_trend"]
    assert len(worsening) == 1 and worsening[0].state == "flag"
    assert "perceived blame" in worsening[0].subject
    quarterly = trends.team_trends(db, _team(db, "payments"), "quarter", NOW, 5)
    blame_q = next(s for s in quarterly.series if s.construct == "blame")
    assert blame_q.trend is None and blame_q.change is not None  # Q2 and Q3 only


def test_learning_outcomes(db, org, settings, box):
    manager = admin.add_user(db, "m2@example.org", "M", "correct horse battery", "hr")
    first = run_survey(db, settings, box, team="payments", at=AUG, rows=uniform(5))
    second = run_survey(db, settings, box, team="payments", at=AUG, rows=uniform(5),
                        kind="security")
    results.record_learning(db, manager, first.incident_id, "3", "no")
    results.record_learning(db, manager, second.incident_id, "1", "yes")
    view = trends.overview(db, NOW, k=5)
    row = view.learning.rows[0]
    assert (row.reviews, row.system_changes_per_review, row.repeat_rate_pct) == (2, 2.0, 50.0)
    with pytest.raises(Exception, match="learning outcomes"):
        results.record_learning(db, manager, first.incident_id, "-2", "maybe")


@pytest.mark.postgres
def test_periods_and_overview_on_postgresql(postgres_url):
    from conftest import make_app
    from support import SECRET, build_org
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
            trends.clear_cache()
            view = trends.overview(db, NOW, k=5)
            pay = next(r for r in view.heatmap if r.team.slug == "payments")
            assert {c.construct: c.pct for c in pay.cells}["blame"] == pytest.approx(200 / 3)
            assert view.learning.rows[0].system_changes_per_review == 2.0
            assert trends.refresh(db) == 0
    finally:
        dbmod.get_engine(app).dispose()
