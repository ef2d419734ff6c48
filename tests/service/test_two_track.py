"""The two-track review: its policy and practice check, asked when the policy is in force,
in the practice table and the flags, and compared for security against availability
incidents on the HR overview (reference values worked by hand)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from analysis import items
from support import NOW, decide_periods
from support.organisation import AUG, run_survey, set_policies, uniform
from surveys.services import overview, results

CHECK = "practice_consequences"


def test_the_policy_pairs_with_its_practice_check():
    policy = items.POLICY_BY_ID["separate_tracks"]
    assert policy.check == CHECK and policy.contrary == {items.YES}
    assert items.PRACTICE_BY_ID[CHECK].text == (
        "Did the review discuss whether someone should face consequences?")
    assert [p.id for p in items.practices_for({"separate_tracks"})] == [CHECK]
    assert items.practices_for({"blameless"}) == ()


def test_asked_only_when_in_force(db, org, settings, box):
    plain = run_survey(db, settings, box, team="payments", at=AUG, rows=uniform(5))
    assert CHECK not in plain.practices
    set_policies(db, {"separate_tracks"})
    asked = run_survey(db, settings, box, team="payments", at=AUG + timedelta(days=1),
                       rows=uniform(5, **{CHECK: "1"}))
    assert asked.practices == (CHECK,)


def test_practice_table_flag_and_kind_comparison(db, org, settings, box):
    set_policies(db, {"separate_tracks"})
    # Security: all 6 answered Yes (the review discussed consequences); availability: all
    # 6 answered No.
    security = run_survey(db, settings, box, team="payments", at=AUG, kind="security",
                          rows=uniform(6, **{CHECK: "1"}))
    run_survey(db, settings, box, team="platform", at=AUG + timedelta(days=2),
               kind="availability", rows=uniform(6, **{CHECK: "2"}))
    own = results.survey_results(db, security)
    (row,) = [r for r in own.practices if r.policy_id == "separate_tracks"]
    assert row.contrary_pct == pytest.approx(100.0)
    decide_periods(db, settings, NOW)
    view = overview.overview(db, k=5)
    gaps = {g.policy.id: g for g in view.policy_gaps}
    assert "separate_tracks" in gaps
    # Organisation: 6 Yes of 12 yes/no answers.
    assert gaps["separate_tracks"].row.contrary_pct == pytest.approx(50.0)
    flagged = [f for f in view.flags if f.kind == "policy_gap" and f.subject ==
               "separate_tracks" and "Payments" in f.about]
    assert flagged and flagged[0].state == "flag"  # 6 of 6 contrary in Payments' quarter
    assert "consequences" in flagged[0].next_step
    two = view.two_track
    assert two is not None
    assert (two["kind_pct"], two["base_pct"]) == (100.0, 0.0)
    assert (two["kind_answers"], two["base_answers"]) == (6, 6)
    # Fisher: only the two extreme tables of margins 6/6, each 1/C(12, 6).
    assert two["pvalue"] == pytest.approx(2 / 924)
    assert two["clear"] and "clearly more often" in two["words"]


def test_no_comparison_without_the_check(db, org, settings, box):
    run_survey(db, settings, box, team="payments", at=AUG, kind="security", rows=uniform(6))
    run_survey(db, settings, box, team="platform", at=AUG + timedelta(days=2),
               rows=uniform(6))
    decide_periods(db, settings, NOW)
    assert overview.overview(db, k=5).two_track is None
