"""Flag rules of analysis.flags, with the gap checkpoints of BACKGROUND.md worked by hand."""

from __future__ import annotations

import dataclasses
import math
from fractions import Fraction

import pytest

from analysis import flags
from surveys.items import NO, NOT_SURE, POLICIES, POLICY_BY_ID, YES

NEUTRAL = POLICY_BY_ID["neutral_author"]  # practice_author, contrary answer "Yes"
BLAMELESS = POLICY_BY_ID["blameless"]  # blame_person, contrary answers Agree (4, 5)


def upper_tail(k: int, n: int, p: Fraction = Fraction(1, 4)) -> float:
    """P(X >= k) for X ~ Binomial(n, p), summed exactly with fractions."""
    return float(sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k, n + 1)))


def wilson_low(k: int, n: int, z: float = 1.959963984540054) -> float:
    return (k + z * z / 2 - z * math.sqrt(k * (n - k) / n + z * z / 4)) / (n + z * z)


def gap(policy, counts, **kwargs):
    found = flags.policy_gap_flags([policy], {policy.check: counts}, **kwargs)
    return found[0] if found else None


# --------------------------------------------------------------------------- checkpoints


def test_checkpoint_arithmetic_by_hand():
    # 4 of 5:  P(X>=4) = 5 (1/4)^4 (3/4) + (1/4)^5 = 15/1024 + 1/1024 = 0.015625 <= 0.10,
    #          Wilson low 0.3755 > 0.25                      -> flag
    # 3 of 5:  P(X>=3) = 90/1024 + 16/1024 = 0.1035 > 0.10   -> no
    assert upper_tail(4, 5) == 16 / 1024
    assert upper_tail(3, 5) == 106 / 1024
    # 6 of 10: P = 0.019728, Wilson low 0.3127 -> flag. 5 of 10: P = 0.078127 passes the
    #          test but Wilson low 0.2366 < 0.25 -> no flag (the interval rule bites).
    assert upper_tail(6, 10) == pytest.approx(0.0197277069, abs=1e-9)
    assert upper_tail(5, 10) == pytest.approx(0.0781269073, abs=1e-9)
    assert wilson_low(5, 10) < 0.25 < wilson_low(6, 10)
    # 9 of 20: P = 0.040925, Wilson low 0.2582 -> flag. 8 of 20: P = 0.101812 -> no.
    assert upper_tail(9, 20) == pytest.approx(0.0409251677, abs=1e-9)
    assert upper_tail(8, 20) > 0.10
    assert wilson_low(9, 20) > 0.25


@pytest.mark.parametrize("n,needed", [(5, 4), (10, 6), (20, 9)])
def test_gap_flag_needs_four_of_five_six_of_ten_nine_of_twenty(n, needed):
    assert flags.smallest_flagged_count(n) == needed
    at = gap(NEUTRAL, {YES: needed, NO: n - needed})
    below = gap(NEUTRAL, {YES: needed - 1, NO: n - needed + 1})
    assert at.state == "flag"
    assert at.numbers["pvalue"] == pytest.approx(upper_tail(needed, n), abs=1e-9)
    assert at.numbers["low_pct"] == pytest.approx(100 * wilson_low(needed, n), abs=1e-6)
    # One fewer contrary answer is still above the tolerance: "watch", not "flag".
    assert below.state == "watch"


def test_no_flag_at_or_below_tolerance():
    assert gap(NEUTRAL, {YES: 1, NO: 3}) is None  # exactly 25%
    assert gap(NEUTRAL, {YES: 0, NO: 12}) is None


def test_not_sure_and_does_not_apply_are_left_out_of_the_share():
    # 4 Yes, 1 No, 5 Not sure: 4 of 5 countable answers -> flag, and the text says so.
    result = gap(NEUTRAL, {YES: 4, NO: 1, NOT_SURE: 5})
    assert (result.numbers["contrary"], result.numbers["n"]) == (4, 5)
    assert result.state == "flag"
    assert 'Not sure' in result.what_was_seen
    # Statement check: agree (4) and strongly agree (5) are contrary, 0 is excluded.
    statement = gap(BLAMELESS, {5: 2, 4: 2, 2: 1, 0: 7})
    assert (statement.numbers["contrary"], statement.numbers["n"]) == (4, 5)
    assert statement.state == "flag"
    assert statement.what_was_seen.startswith("4 of 5 people who answered (80%) agreed that")


def test_leaders_share_counts_disagreement_as_contrary():
    policy = POLICY_BY_ID["leaders_share"]
    result = gap(policy, {1: 3, 2: 3, 3: 1, 4: 1})
    assert (result.numbers["contrary"], result.numbers["n"]) == (6, 8)
    assert "disagreed that" in result.what_was_seen


def test_flag_says_what_how_sure_and_the_next_step():
    result = gap(NEUTRAL, {YES: 7, NO: 3})
    assert result.kind == "policy_gap"
    assert result.subject == "neutral_author"
    assert result.what_was_seen.startswith(
        '7 of 10 people who answered (70%) answered "Yes" to "Was the review written mainly '
        'by the person most involved?"'
    )
    assert "A neutral person writes the review" in result.what_was_seen
    assert result.how_sure.startswith("Likely real")
    assert "95% interval 40% to 89%" in result.how_sure
    assert result.next_step == "Ask someone outside the incident to write the next review."
    assert result.to_dict()["numbers"]["tests_on_page"] == 1


def test_every_policy_has_its_own_next_step():
    steps = [flags.POLICY_NEXT_STEPS[policy.id] for policy in POLICIES]
    assert len(set(steps)) == len(POLICIES)


def test_flags_are_frozen():
    result = gap(NEUTRAL, {YES: 7, NO: 3})
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.state = "watch"
    with pytest.raises(TypeError):
        result.numbers["n"] = 3


# --------------------------------------------------------------------------- page-wide BH


def test_false_discovery_control_spans_the_page():
    # 6 of 10 alone: p = 0.019728 -> flag. With the seven other policies at 0 contrary
    # ("No", or "Neither" on statements: p = 1 each), BH adjusts the smallest p to
    # 0.019728 * 8 / 1 = 0.1578 > 0.10 -> watch.
    page = {policy.check: {YES: 0, NO: 10} if policy.check.startswith("practice")
            else {3: 10} for policy in POLICIES}
    page["practice_author"] = {YES: 6, NO: 4}
    alone = gap(NEUTRAL, {YES: 6, NO: 4})
    assert alone.state == "flag"
    results = flags.policy_gap_flags(POLICIES, page)
    assert [(r.subject, r.state) for r in results] == [("neutral_author", "watch")]
    assert results[0].numbers["adjusted_pvalue"] == pytest.approx(
        upper_tail(6, 10) * 8, abs=1e-9
    )
    assert results[0].numbers["tests_on_page"] == 8


def test_policies_without_counts_are_skipped():
    assert flags.policy_gap_flags(POLICIES, {}) == []
    assert flags.policy_gap_flags([NEUTRAL], {"practice_author": {NOT_SURE: 4}}) == []


# --------------------------------------------------------------------------- recovery


def test_social_cost_share_counts_scores_below_neutral():
    # Scores 1, 2, 2.67 are unfavourable; 3.0 (exactly neutral) and above are not.
    histogram = {1.0: 2, 2.0: 2, 8 / 3: 2, 3.0: 1, 4.0: 1}
    finding = flags.social_cost_finding("payments 2026-Q3", histogram)
    assert (finding.numbers["unfavourable"], finding.numbers["n"]) == (6, 8)
    # 6 of 8 against 25%: P(X>=6) = (28*9 + 8*3 + 1)/4^8 = 277/65536 = 0.0042267
    assert finding.pvalue == pytest.approx(277 / 65536, abs=1e-12)
    [result] = flags.resolve([finding])
    assert result.state == "flag"
    assert result.kind == "social_cost"
    assert "payments 2026-Q3" in result.what_was_seen
    assert "one-to-one" in result.next_step


def test_involved_versus_observers_needs_k_in_both_groups():
    involved = {1.0: 2, 2.0: 2}
    observers = {4.0: 3, 5.0: 3}
    assert flags.involved_cost_finding(involved, observers, min_group=5) is None
    assert flags.involved_cost_finding(observers, {4.0: 4}, min_group=5) is None
    with pytest.raises(ValueError):
        flags.involved_cost_finding(involved, observers, min_group=2)


def test_involved_versus_observers_flags_large_significant_difference():
    involved = {1.0: 3, 2.0: 3, 3.0: 1}
    observers = {3.0: 1, 4.0: 3, 5.0: 3}
    # Pairs: each involved 1 or 2 is below all 7 observers (6*7 = 42 pairs); the involved 3
    # ties the observer 3 and is below 6: x>y 0, ties 1, x<y 48 of 49 -> delta = -48/49.
    finding = flags.involved_cost_finding(involved, observers, min_group=5)
    assert finding.numbers["cliffs_delta"] == pytest.approx(-48 / 49, abs=1e-12)
    [result] = flags.resolve([finding])
    assert result.state == "flag"
    assert "higher social cost" in result.what_was_seen


def test_involved_better_off_than_observers_is_not_flagged():
    finding = flags.involved_cost_finding(
        {4.0: 3, 5.0: 3}, {1.0: 3, 2.0: 3}, min_group=5
    )
    assert flags.resolve([finding]) == []


def test_small_effect_is_not_flagged_even_if_significant():
    # Large groups, delta about -0.2: significant, but below the 0.33 effect-size rule.
    involved = {2.0: 100, 3.0: 200, 4.0: 100}
    observers = {2.0: 60, 3.0: 200, 4.0: 140}
    finding = flags.involved_cost_finding(involved, observers, min_group=5)
    assert finding.pvalue < 0.001
    assert -0.33 < finding.numbers["cliffs_delta"] < 0
    assert flags.resolve([finding]) == []


def test_checkin_request_is_always_a_flag():
    assert flags.checkin_finding("incident 12", 0) is None
    finding = flags.checkin_finding("incident 12", 1)
    results = flags.resolve([finding, gap_finding_at(NEUTRAL, 1, 9)])
    assert [(r.kind, r.state) for r in results] == [("checkin_request", "flag")]
    assert "1 person asked for a confidential check-in" in results[0].what_was_seen
    assert results[0].how_sure.startswith("Certain")
    with pytest.raises(ValueError):
        flags.checkin_finding("incident 12", -1)


def gap_finding_at(policy, contrary, other):
    return flags.policy_gap_finding(policy, {YES: contrary, NO: other})


# --------------------------------------------------------------------------- trend


def test_worsening_trend_flags_significant_large_decline():
    finding = flags.worsening_trend_finding("payments: perceived blame", [80, 75, 76, 60, 55, 50])
    # S = -13 (worked in test_stats), Theil-Sen change -31.25 points.
    assert finding.numbers["s"] == -13
    assert finding.numbers["change"] == pytest.approx(-31.25, abs=1e-12)
    [result] = flags.resolve([finding])
    assert (result.kind, result.state) == ("worsening_trend", "flag")
    assert "went down over 6 periods" in result.what_was_seen


def test_small_or_upward_trends_and_short_series_are_not_flagged():
    # Perfectly monotone (p = 2/120) but only -5 points over the span: below 10 points.
    small = flags.worsening_trend_finding("a", [80, 79, 78, 77, 76])
    up = flags.worsening_trend_finding("b", [50, 55, 60, 70, 80])
    assert flags.resolve([small, up]) == []
    assert flags.worsening_trend_finding("c", [80, 60, 40, 20]) is None


def test_resolve_validates_input():
    with pytest.raises(ValueError):
        flags.resolve(["not a finding"])
    with pytest.raises(ValueError):
        flags.resolve([], q=1.5)
    with pytest.raises(ValueError):
        flags.policy_gap_finding(NEUTRAL, {YES: 2}, tolerance=0)
    with pytest.raises(ValueError):
        flags.policy_gap_finding(NEUTRAL, {YES: -2})
    assert flags.resolve([None]) == []
