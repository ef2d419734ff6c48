"""Flag rules of analysis.flags against references computed without the code under test.

p-values are summed exactly with fractions or enumerated in plain Python (scipy's binomtest
is a second, independent check), Benjamini-Hochberg is written out by hand below, Wilson
bounds come from the closed form, and the arithmetic of each checkpoint is in the comments.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import re
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as sps

from analysis import flags
from analysis.items import NO, NOT_SURE, POLICIES, POLICY_BY_ID, YES

NEUTRAL = POLICY_BY_ID["neutral_author"]  # practice_author, contrary answer "Yes"
BLAMELESS = POLICY_BY_ID["blameless"]  # blame_person, contrary answers Agree (4, 5)
ROOT = Path(__file__).resolve().parents[2]

#: Words that claim more than a false-discovery check supports.
OVERSTATEMENTS = ("likely real", "certain", "statistically sure", "not yet sure",
                  "real, not chance", "proves", "definitely")


def upper_tail(k: int, n: int, p: Fraction = Fraction(1, 4)) -> float:
    """P(X >= k) for X ~ Binomial(n, p), summed exactly with fractions."""
    return float(sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k, n + 1)))


def wilson_low(k: int, n: int, z: float = 1.959963984540054) -> float:
    return (k + z * z / 2 - z * math.sqrt(k * (n - k) / n + z * z / 4)) / (n + z * z)


def bh_by_hand(pvalues: list[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p: min over j >= rank of p_(j) m / j, capped at 1."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    adjusted = [0.0] * m
    running = 1.0
    for rank in range(m, 0, -1):
        i = order[rank - 1]
        running = min(running, pvalues[i] * m / rank)
        adjusted[i] = running
    return adjusted


def u_less_pvalue(x: list[float], y: list[float]) -> float:
    """Exact one-sided ("x lower") permutation p of Mann-Whitney U by enumerating splits."""
    def u(a, b):
        return sum(1.0 if s > t else 0.5 if s == t else 0.0 for s in a for t in b)
    pooled = x + y
    observed = u(x, y)
    splits = list(itertools.combinations(range(len(pooled)), len(x)))
    hits = 0
    for chosen in splits:
        rest = [pooled[i] for i in range(len(pooled)) if i not in chosen]
        hits += u([pooled[i] for i in chosen], rest) <= observed
    return hits / len(splits)


def gap(policy, counts, **kwargs):
    found = flags.policy_gap_flags([policy], {policy.check: counts}, **kwargs)
    return found[0] if found else None


def gap_finding_at(policy, contrary, other):
    return flags.policy_gap_finding(policy, {YES: contrary, NO: other})


def quiet_page(**changes) -> dict[str, dict[int, int]]:
    """All eight policies at 0 contrary of 10 (p = 1 each), with some checks changed."""
    page = {policy.check: {YES: 0, NO: 10} if policy.check.startswith("practice")
            else {3: 10} for policy in POLICIES}
    page.update(changes)
    return page


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
    assert at.state == "flag"
    assert at.numbers["pvalue"] == pytest.approx(upper_tail(needed, n), abs=1e-9)
    reference = sps.binomtest(needed, n, 0.25, alternative="greater").pvalue
    assert at.numbers["pvalue"] == pytest.approx(reference, rel=1e-9)
    assert at.numbers["low_pct"] == pytest.approx(100 * wilson_low(needed, n), abs=1e-6)


def test_single_check_state_against_the_rule_computed_by_hand():
    """Every k of n up to 40, alone: flag iff p <= 0.10 and Wilson low > 25%; watch iff not
    a flag, p <= 0.25 and the share above 25%; else nothing."""
    for n in range(1, 41):
        for k in range(n + 1):
            p = upper_tail(k, n)
            if p <= 0.10 and wilson_low(k, n) > 0.25:
                expected = "flag"
            elif p <= 0.25 and k / n > 0.25:
                expected = "watch"
            else:
                expected = None
            result = gap(NEUTRAL, {YES: k, NO: n - k})
            assert (result.state if result else None) == expected, (k, n)


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


def test_every_policy_has_its_own_next_step():
    steps = [flags.POLICY_NEXT_STEPS[policy.id] for policy in POLICIES]
    assert len(set(steps)) == len(POLICIES)


def test_flags_are_frozen():
    result = gap(NEUTRAL, {YES: 7, NO: 3})
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.state = "watch"
    with pytest.raises(TypeError):
        result.numbers["n"] = 3


# --------------------------------------------------------------------------- watch


def test_a_share_above_the_tolerance_alone_is_not_a_watch():
    # 3 of 8 (37.5%): P(X>=3) = 1 - (3^8 + 8*3^7 + 28*3^6)/4^8 = 21067/65536 = 0.3215,
    # above the 25% watch level: nothing is shown (it used to be a "watch").
    assert upper_tail(3, 8) == pytest.approx(21067 / 65536, abs=1e-12)
    assert gap(NEUTRAL, {YES: 3, NO: 5}) is None


def test_watch_when_only_the_looser_check_passes():
    # 4 of 10: P(X>=4) = 0.224124 <= 0.25 but > 0.10 -> watch.
    result = gap(NEUTRAL, {YES: 4, NO: 6})
    assert result.state == "watch"
    assert result.numbers["pvalue"] == pytest.approx(upper_tail(4, 10), abs=1e-12)
    assert result.how_sure.startswith(
        "Worth watching, not a flag: it could be chance. It passes the looser 25% check used "
        "for watching, not the 10% false-discovery check a flag needs (p = 0.224; the only "
        "check made)."
    )


def test_watch_when_the_check_passes_but_the_interval_reaches_the_tolerance():
    # 5 of 10: p = 0.078 <= 0.10, but the Wilson lower bound 23.7% is below 25%.
    result = gap(NEUTRAL, {YES: 5, NO: 5})
    assert result.state == "watch"
    assert ("it passes the 10% false-discovery check (p = 0.078; the only check made), but a "
            "flag also needs a 95% interval entirely above the tolerance") in result.how_sure


def test_watch_and_flag_use_the_family_wide_adjustment():
    # Eight policies checked together.
    # 6 of 10 alone: p = 0.019728 -> flag. With the seven other policies at 0 contrary
    # (p = 1 each), BH adjusts it to 0.019728 * 8 / 1 = 0.1578: above 0.10, below 0.25
    # -> watch.
    assert gap(NEUTRAL, {YES: 6, NO: 4}).state == "flag"
    results = flags.policy_gap_flags(POLICIES[:8], quiet_page(practice_author={YES: 6, NO: 4}))
    assert [(r.subject, r.state) for r in results] == [("neutral_author", "watch")]
    expected = bh_by_hand([upper_tail(6, 10)] + [1.0] * 7)[0]
    assert expected == pytest.approx(upper_tail(6, 10) * 8, abs=1e-12)
    assert results[0].numbers["adjusted_pvalue"] == pytest.approx(expected, abs=1e-9)
    assert results[0].numbers["tests_on_page"] == 8
    assert "across the 8 checks made together (p = 0.020, adjusted 0.158)" in results[0].how_sure
    # 4 of 10 among the same seven: 0.224 * 8 > 1 -> adjusted 1, not even a watch.
    assert flags.policy_gap_flags(POLICIES[:8], quiet_page(practice_author={YES: 4, NO: 6})) == []


def test_family_of_mixed_checks_against_hand_computed_bh():
    # Four gap checks made together: 7/10, 5/10, 4/10 and 2/10.
    counts = [(7, 10), (5, 10), (4, 10), (2, 10)]
    policies = [POLICY_BY_ID[p] for p in ("neutral_author", "system_template",
                                          "system_followups", "contributing_factors")]
    page = {policy.check: {YES: k, NO: n - k} for policy, (k, n) in zip(policies, counts,
                                                                        strict=True)}
    ps = [upper_tail(k, n) for k, n in counts]
    adjusted = bh_by_hand(ps)
    expected = []
    for (k, n), policy, p_adj in zip(counts, policies, adjusted, strict=True):
        if p_adj <= 0.10 and wilson_low(k, n) > 0.25:
            expected.append((policy.id, "flag"))
        elif p_adj <= 0.25 and k / n > 0.25:
            expected.append((policy.id, "watch"))
    results = flags.policy_gap_flags(policies, page)
    assert [(r.subject, r.state) for r in results] == expected
    assert expected[0] == ("neutral_author", "flag")
    for result in results:
        i = [p.id for p in policies].index(result.subject)
        assert result.numbers["adjusted_pvalue"] == pytest.approx(adjusted[i], abs=1e-9)


def answers_for_flag_by_hand(k: int, n: int, multiplier: float = 1.0) -> int | None:
    """First N > n where floor(N k / n) of N passes: scipy's binomtest times the multiplier
    at most 0.10, and the closed-form Wilson lower bound above 25%."""
    for total in range(n + 1, 2001):
        contrary = total * k // n
        p = sps.binomtest(contrary, total, 0.25, alternative="greater").pvalue
        if p * multiplier <= 0.10 and wilson_low(contrary, total) > 0.25:
            return total
    return None


@pytest.mark.parametrize("k,n,multiplier", [(4, 10, 1.0), (5, 10, 1.0), (8, 20, 1.0),
                                            (6, 10, 8.0), (9, 30, 1.0), (14, 40, 5.0)])
def test_answers_for_flag_against_a_plain_loop(k, n, multiplier):
    expected = answers_for_flag_by_hand(k, n, multiplier)
    assert expected is not None
    assert flags.answers_for_flag(k, n, multiplier=multiplier) == expected


def test_watch_says_what_more_answers_could_change():
    # 4 of 10 (40%): a flag needs about 35 answers at 40% (by the plain loop above).
    near = gap(NEUTRAL, {YES: 4, NO: 6})
    assert near.numbers["answers_for_flag"] == answers_for_flag_by_hand(4, 10) == 35
    assert ("If the share stayed at 40% with more answers, about 35 in all (25 more) would "
            "make it a flag; more answers could as well bring the share down to the "
            "tolerance.") in near.how_sure
    # 110 of 400 (27.5%): p = 0.14, a watch; within 5 points of the tolerance a flag needs
    # over a thousand answers: say that more answers may not settle it.
    assert upper_tail(110, 400) == pytest.approx(
        sps.binomtest(110, 400, 0.25, alternative="greater").pvalue, rel=1e-9)
    assert 0.10 < upper_tail(110, 400) <= 0.25
    close = gap(NEUTRAL, {YES: 110, NO: 290})
    assert close.state == "watch"
    assert close.numbers["answers_for_flag"] == answers_for_flag_by_hand(110, 400) == 1160
    assert ("The share, 28%, is within 5 points of the tolerance: if it stayed there, about "
            "1,160 answers in all would make a flag, and the true share may be at the "
            "tolerance, so more answers may not settle it.") in close.how_sure


def test_a_share_barely_above_the_tolerance_may_never_settle():
    # 26 of 100 (26%): p = 0.44, not shown at all; the projection itself gives None below
    # 10,000 answers only when even that many do not pass: 251 of 1000 (25.1%).
    assert flags.answers_for_flag(251, 1000) is None
    assert flags.answers_for_flag(1, 4) is None  # at the tolerance, never


# --------------------------------------------------------------------------- words


def test_flag_says_what_was_seen_what_the_check_passed_and_the_next_step():
    result = gap(NEUTRAL, {YES: 7, NO: 3})
    assert result.kind == "policy_gap"
    assert result.subject == "neutral_author"
    assert result.label == "Flag"
    assert result.what_was_seen.startswith(
        '7 of 10 people who answered (70%) answered "Yes" to "Was the review written mainly '
        'by the person most involved?"'
    )
    assert "A neutral person writes the review" in result.what_was_seen
    assert result.how_sure == (
        "Unlikely to be chance alone: it passes the 10% false-discovery check (p = 0.004; "
        "the only check made). 95% interval 40% to 89% against a tolerance of 25%. Passing "
        "this check means that, on average, at most one flag in ten is a false alarm. More "
        "answers would narrow the interval."
    )
    assert result.next_step == "Ask someone outside the incident to write the next review."
    assert result.to_dict()["numbers"]["tests_on_page"] == 1
    assert result.text() == (f"Flag: {result.what_was_seen} How sure: {result.how_sure} "
                             f"Next step: {result.next_step}")


def random_family(rng: np.random.Generator) -> list[flags.Finding | None]:
    found: list[flags.Finding | None] = []
    for policy in POLICIES:
        n = int(rng.integers(1, 60))
        k = int(rng.binomial(n, rng.uniform(0, 0.8)))
        found.append(flags.policy_gap_finding(policy, {YES: k, NO: n - k}
                                              if policy.check.startswith("practice")
                                              else {4: k, 2: n - k}))
    scores = {1.0: int(rng.integers(0, 8)), 2.5: int(rng.integers(0, 8)),
              4.0: int(rng.integers(1, 8))}
    found.append(flags.social_cost_finding("payments 2026-Q3", scores))
    found.append(flags.involved_cost_finding(  # at most 12 people: exact enumeration
        {1.0: int(rng.integers(1, 4)), 3.0: int(rng.integers(1, 4))},
        {2.0: int(rng.integers(1, 4)), 4.0: int(rng.integers(1, 4))}, min_group=3))
    start = rng.uniform(40, 90)
    series = np.clip(start + rng.normal(-3, 5, size=6).cumsum(), 0, 100)
    found.append(flags.worsening_trend_finding("payments: blame", list(series)))
    found.append(flags.checkin_finding("an incident in Payments, 2026 Q3", 1))
    return found


def test_no_flag_words_overstate_what_the_check_shows():
    rng = np.random.default_rng(17)
    seen = {"flag": 0, "watch": 0}
    for _ in range(300):
        for result in flags.resolve(random_family(rng)):
            seen[result.state] += 1
            words = result.text().lower()
            for phrase in OVERSTATEMENTS:
                assert phrase not in words, (phrase, words)
            if result.kind == flags.CHECKIN:
                assert result.how_sure.startswith("No test is involved")
            elif result.state == "flag":
                assert result.how_sure.startswith(
                    "Unlikely to be chance alone: it passes the 10% false-discovery check")
                assert "at most one flag in ten is a false alarm" in result.how_sure
            else:
                assert result.how_sure.startswith("Worth watching, not a flag: it ")
                assert "more answers" in result.how_sure.lower()
    assert seen["flag"] > 50 and seen["watch"] > 50  # both kinds of words were checked


def test_docs_and_templates_repeat_no_overstatement():
    paths = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")),
             *sorted((ROOT / "templates").rglob("*.html"))]
    for path in paths:
        text = path.read_text(encoding="utf-8").lower()
        for phrase in ("statistically sure", "would make it certain", "likely real",
                       "not yet sure"):
            assert phrase not in text, (path.name, phrase)


def test_templates_print_the_flag_words_and_compose_none():
    """Pages take "Flag"/"Watch" and every sentence from the Flag object."""
    for path in sorted((ROOT / "templates").rglob("*.html")):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"state\s*==\s*['\"](flag|watch)['\"]\s*else", text), path.name
        assert "'Watch'" not in text and "'Gap'" not in text, path.name
    assert flags.STATE_LABELS == {"flag": "Flag", "watch": "Watch"}


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


def test_social_cost_watch_follows_the_gap_rule():
    # 4 unfavourable of 10: p = 0.224 -> watch, with the same projection as a gap.
    finding = flags.social_cost_finding("payments 2026-Q3", {2.0: 4, 4.0: 6})
    [result] = flags.resolve([finding])
    assert result.state == "watch"
    assert result.numbers["answers_for_flag"] == answers_for_flag_by_hand(4, 10)


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
    xs = [1.0] * 3 + [2.0] * 3 + [3.0]
    ys = [3.0] + [4.0] * 3 + [5.0] * 3
    assert finding.pvalue == pytest.approx(u_less_pvalue(xs, ys), abs=1e-9)
    [result] = flags.resolve([finding])
    assert result.state == "flag"
    assert "higher social cost" in result.what_was_seen


def test_involved_versus_observers_watch_needs_the_looser_check():
    # x = 2 2 3, y = 3 3 4: x<y in 7 of 9 pairs, 2 ties -> delta = -7/9. One-sided
    # permutation p over the C(6, 3) = 20 splits = 0.15: a watch (0.10 < 0.15 <= 0.25).
    finding = flags.involved_cost_finding({2.0: 2, 3.0: 1}, {3.0: 2, 4.0: 1}, min_group=3)
    assert finding.numbers["cliffs_delta"] == pytest.approx(-7 / 9, abs=1e-12)
    assert finding.pvalue == pytest.approx(u_less_pvalue([2.0, 2.0, 3.0], [3.0, 3.0, 4.0]),
                                           abs=1e-12)
    assert finding.pvalue == pytest.approx(0.15, abs=1e-12)
    [result] = flags.resolve([finding])
    assert result.state == "watch"
    assert "More answers would show whether it holds." in result.how_sure
    # x = 2 2 3, y = 2 3 4: delta = -4/9, large, but p = 0.35 > 0.25: nothing (it used to
    # be a "watch" on the effect size alone).
    weak = flags.involved_cost_finding({2.0: 2, 3.0: 1}, {2.0: 1, 3.0: 1, 4.0: 1}, min_group=3)
    assert weak.pvalue == pytest.approx(u_less_pvalue([2.0, 2.0, 3.0], [2.0, 3.0, 4.0]),
                                        abs=1e-12)
    assert weak.pvalue > 0.25 and weak.numbers["cliffs_delta"] <= -0.33
    assert flags.resolve([weak]) == []


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


def test_checkin_request_is_always_a_flag_and_never_says_how_many():
    assert flags.checkin_finding("incident 12", 0) is None
    finding = flags.checkin_finding("incident 12", 3)
    results = flags.resolve([finding, gap_finding_at(NEUTRAL, 1, 9)])
    assert [(r.kind, r.state) for r in results] == [("checkin_request", "flag")]
    assert results[0].what_was_seen.startswith(
        "Someone asked for a confidential check-in after incident 12.")
    assert "3" not in results[0].text() and dict(results[0].numbers) == {}
    assert results[0].how_sure.startswith("No test is involved: this is a request")
    with pytest.raises(ValueError):
        flags.checkin_finding("incident 12", -1)


# --------------------------------------------------------------------------- trend


def exact_two_sided_mk_p(values) -> float:
    def s(v):
        return sum((b > a) - (b < a) for i, a in enumerate(v) for b in v[i + 1:])
    observed = abs(s(values))
    orders = list(itertools.permutations(values))
    return sum(abs(s(order)) >= observed for order in orders) / len(orders)


def test_worsening_trend_flags_significant_large_decline():
    series = [80, 75, 76, 60, 55, 50]
    finding = flags.worsening_trend_finding("payments: perceived blame", series)
    # S = -13 (worked in test_stats), Theil-Sen change -31.25 points; exact p over 720
    # orderings.
    assert finding.numbers["s"] == -13
    assert finding.numbers["change"] == pytest.approx(-31.25, abs=1e-12)
    assert finding.pvalue == pytest.approx(exact_two_sided_mk_p(series), abs=1e-9)
    [result] = flags.resolve([finding])
    assert (result.kind, result.state) == ("worsening_trend", "flag")
    assert "went down over 6 periods" in result.what_was_seen
    assert result.how_sure.endswith("Later periods will show whether the fall goes on.")


def test_small_or_upward_trends_and_short_series_are_not_flagged():
    # Perfectly monotone (p = 2/120) but only -5 points over the span: below 10 points.
    small = flags.worsening_trend_finding("a", [80, 79, 78, 77, 76])
    up = flags.worsening_trend_finding("b", [50, 55, 60, 70, 80])
    assert flags.resolve([small, up]) == []
    assert flags.worsening_trend_finding("c", [80, 60, 40, 20]) is None


# --------------------------------------------------------------------------- bad input


def test_policies_without_counts_are_skipped():
    assert flags.policy_gap_flags(POLICIES, {}) == []
    assert flags.policy_gap_flags([NEUTRAL], {"practice_author": {NOT_SURE: 4}}) == []


@pytest.mark.parametrize("call,named", [
    (lambda: flags.resolve(["not a finding"]), "Finding"),
    (lambda: flags.resolve([], q=1.5), "q"),
    (lambda: flags.resolve([], watch_q=0.05), "watch_q"),
    (lambda: flags.policy_gap_finding(NEUTRAL, {YES: 2}, tolerance=0), "tolerance"),
    (lambda: flags.policy_gap_finding(NEUTRAL, {YES: -2}), "count for answer 1"),
    (lambda: flags.policy_gap_finding(NEUTRAL, {YES: True}), "count for answer 1"),
    (lambda: flags.policy_gap_finding(NEUTRAL, {7: 2}), "7 is not an answer to"),
    (lambda: flags.policy_gap_finding(NEUTRAL, {1.5: 2}), "1.5 is not an answer to"),
    (lambda: flags.policy_gap_finding(BLAMELESS, {6: 1}), "'blame_person'"),
    (lambda: flags.policy_gap_finding("blameless", {YES: 1}), "policy must be a Policy"),
    (lambda: flags.social_cost_finding("t", {0.5: 3}), "social_scores holds the score 0.5"),
    (lambda: flags.social_cost_finding("", {2.0: 3}), "subject"),
    (lambda: flags.involved_cost_finding({6.0: 5}, {2.0: 5}, min_group=3), "involved"),
    (lambda: flags.involved_cost_finding({2.0: 5}, {2.0: -5}, min_group=3), "count for"),
    (lambda: flags.worsening_trend_finding("t", [50, 60, 70, 80, 120]), "between 0 and 100"),
    (lambda: flags.worsening_trend_finding("t", [50, 60, float("nan"), 80, 90]), "finite"),
    (lambda: flags.worsening_trend_finding("t", [50, 60, 70, 80, 90], [0, 1, 1, 2, 3]),
     "increasing"),
    (lambda: flags.answers_for_flag(5, 4), "k <= n"),
    (lambda: flags.answers_for_flag(2, 4, multiplier=0.5), "multiplier"),
    (lambda: flags.smallest_flagged_count(0), "n must be"),
])
def test_bad_input_is_refused_with_a_value_error_naming_it(call, named):
    with pytest.raises(ValueError, match=re.escape(named)):
        call()


def test_none_findings_are_skipped():
    assert flags.resolve([None]) == []
