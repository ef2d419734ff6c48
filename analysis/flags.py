"""Flags for managers: policy-practice gaps, incident-recovery needs, worsening trends.

Pure logic on released aggregates (answer counts and score histograms), no Flask, no
database. Each flag says in plain words what was seen, how sure it is, and one concrete next
step drawn from blameless practice.

A page's flags come from two steps, so that false discovery control spans every test the page
shows:

1. a ``*_finding`` function per check turns sealed counts into a `Finding` (the observation,
   its p-value, and whether the effect is large enough to flag or watch);
2. `resolve` applies Benjamini-Hochberg at ``q`` across all the findings of the page and
   returns the `Flag` objects to show.

The rules, in plain words, are in ``docs/statistics.md``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType

import numpy as np
from scipy import stats as sps

from analysis import stats
from surveys.items import (
    DOES_NOT_APPLY,
    NOT_SURE,
    PRACTICE_BY_ID,
    STATEMENT_BY_ID,
    Policy,
)

#: Share of contrary answers tolerated before a policy-practice gap is considered.
DEFAULT_TOLERANCE = 0.25
#: False discovery rate across the tests of one page.
FDR_Q = 0.10
#: Smallest |Cliff's delta| between involved and observers worth a flag (a "medium" effect).
MIN_CLIFFS_DELTA = 0.33
#: Smallest fitted change, in percentage points, for a worsening-trend flag.
MIN_TREND_CHANGE = 10.0
#: A respondent's construct score (1..5, favourable high) below the scale's neutral point
#: counts as an unfavourable experience.
UNFAVOURABLE_BELOW = 3.0

POLICY_GAP = "policy_gap"
SOCIAL_COST = "social_cost"
INVOLVED_COST = "involved_cost"
CHECKIN = "checkin_request"
WORSENING_TREND = "worsening_trend"

WATCH = "watch"
FLAG = "flag"

#: One concrete next step per policy, from blameless review practice.
POLICY_NEXT_STEPS: Mapping[str, str] = MappingProxyType({
    "neutral_author": "Ask someone outside the incident to write the next review.",
    "system_template": (
        "Rewrite the review template's timeline to say what the system did and showed at "
        "each step, naming roles rather than people."
    ),
    "system_followups": (
        "Rewrite the open follow-ups as changes to systems or processes, each owned by a "
        "team rather than by the people involved."
    ),
    "contributing_factors": (
        "Replace the template's \"root cause\" heading with \"contributing factors\" and ask "
        "the next review to list several."
    ),
    "blameless": (
        "Have a facilitator from outside the incident run the next review and steer talk "
        "from who did it to what made it possible."
    ),
    "no_performance_impact": (
        "Ask the leader who runs performance reviews to state in writing, to the team, that "
        "incident involvement is not used in them."
    ),
    "leaders_share": (
        "Ask a leader to open the next review with a decision of their own that went wrong."
    ),
    "support_offered": (
        "Have the manager offer each person involved a one-to-one conversation within a "
        "week of the review, and name the confidential support contact."
    ),
})
GENERIC_POLICY_STEP = (
    "Discuss with the team, in the next review's retrospective, what gets in the way of "
    "this policy in practice."
)
NEXT_STEPS: Mapping[str, str] = MappingProxyType({
    SOCIAL_COST: (
        "Have the manager offer each person involved in this period's incidents a "
        "one-to-one conversation, and remind the team of the confidential support contact."
    ),
    INVOLVED_COST: (
        "Set up peer support after incidents: pair each person directly involved with a "
        "trained colleague for the weeks after the review."
    ),
    CHECKIN: (
        "Confirm with the support contact that every check-in request has been answered "
        "within two working days."
    ),
    WORSENING_TREND: (
        "Hold a short retrospective on how this period's reviews were run, facilitated by "
        "someone from outside the team."
    ),
})


@dataclass(frozen=True)
class Flag:
    """One flag for a manager.

    Attributes
    ----------
    kind : str
        ``policy_gap``, ``social_cost``, ``involved_cost``, ``checkin_request`` or
        ``worsening_trend``.
    state : str
        ``"flag"`` (seen and statistically sure) or ``"watch"`` (seen, not yet sure).
    subject : str
        What it is about: a policy id, a team period, a construct.
    what_was_seen, how_sure, next_step : str
        Plain words for the page.
    numbers : Mapping[str, float | int]
        The figures behind the words, for display beside them.
    """

    kind: str
    state: str
    subject: str
    what_was_seen: str
    how_sure: str
    next_step: str
    numbers: Mapping[str, float | int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "state": self.state,
            "subject": self.subject,
            "what_was_seen": self.what_was_seen,
            "how_sure": self.how_sure,
            "next_step": self.next_step,
            "numbers": dict(self.numbers),
        }


@dataclass(frozen=True)
class Finding:
    """A check's observation before false discovery control across the page.

    ``pvalue`` is None for a finding that needs no test (a check-in request is always a
    flag). ``large_enough`` holds when the effect itself meets the flag rule (Wilson lower
    bound above the tolerance, |Cliff's delta| >= 0.33, change >= 10 points); ``watch``
    when the observation alone warrants a "watch" if it is not significant.
    ``evidence`` is the plain-words part of "how sure" that does not depend on the page.
    """

    kind: str
    subject: str
    pvalue: float | None
    large_enough: bool
    watch: bool
    what_was_seen: str
    evidence: str
    next_step: str
    numbers: Mapping[str, float | int] = field(default_factory=dict)


# --------------------------------------------------------------------------- helpers


def _check_tolerance(tolerance: float) -> None:
    if not 0 < tolerance < 1:
        raise ValueError(f"tolerance must be between 0 and 1, got {tolerance!r}")


def _check_counts(counts: Mapping[int, int]) -> dict[int, int]:
    clean: dict[int, int] = {}
    for value, count in counts.items():
        if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 0:
            raise ValueError(f"count for answer {value!r} must be a non-negative whole number")
        clean[int(value)] = int(count)
    return clean


def _pct(x: float) -> str:
    return f"{x:.0f}%"


def _p(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


@lru_cache(maxsize=4096)
def _share_test(k: int, n: int, tolerance: float) -> tuple[float, stats.Proportion]:
    """One-sided exact binomial test of share > tolerance, and the Wilson interval."""
    pvalue = float(sps.binomtest(k, n, tolerance, alternative="greater").pvalue)
    return pvalue, stats.proportion(k, n)


def _excluded_answers(check: str) -> frozenset[int]:
    if check in PRACTICE_BY_ID:
        return frozenset({NOT_SURE})
    if check in STATEMENT_BY_ID:
        return frozenset({DOES_NOT_APPLY})
    raise ValueError(f"unknown check {check!r}: not a practice check nor a statement")


def _contrary_phrase(policy: Policy) -> str:
    if policy.check in PRACTICE_BY_ID:
        question = PRACTICE_BY_ID[policy.check].text
        return f'answered "{policy.contrary_label}" to "{question}"'
    statement = STATEMENT_BY_ID[policy.check].text
    verbs = {"Agree": "agreed", "Disagree": "disagreed"}
    verb = verbs.get(policy.contrary_label)
    if verb is None:
        return f'answered "{policy.contrary_label}" to "{statement}"'
    return f'{verb} that "{statement}"'


# --------------------------------------------------------------------------- findings


def policy_gap_finding(
    policy: Policy, counts: Mapping[int, int], *, tolerance: float = DEFAULT_TOLERANCE
) -> Finding | None:
    """The share of answers contrary to a policy in force, tested against the tolerance.

    Parameters
    ----------
    policy : surveys.items.Policy
        The policy; ``policy.check`` names its practice check or statement and
        ``policy.contrary`` the answer values that depart from it.
    counts : Mapping[int, int]
        Released answer counts of that check (answer value -> count). "Not sure" (practice
        checks) and "Doesn't apply" (statements) are left out of the share, as "don't know"
        answers are in AHRQ's percent-positive scoring.
    tolerance : float
        Share of contrary answers tolerated (default 25%).

    Returns
    -------
    Finding or None
        None when no one gave a countable answer.

    Notes
    -----
    One-sided exact binomial test of H0: share <= tolerance. The flag also needs the 95%
    Wilson lower bound above the tolerance; "watch" when the observed share is above the
    tolerance. At 25% tolerance and a single test this needs 4 of 5, 6 of 10 or 9 of 20
    contrary answers.
    """
    _check_tolerance(tolerance)
    clean = _check_counts(counts)
    excluded = _excluded_answers(policy.check)
    n = sum(c for value, c in clean.items() if value not in excluded)
    if n == 0:
        return None
    k = sum(c for value, c in clean.items() if value in policy.contrary)
    pvalue, share = _share_test(k, n, tolerance)
    left_out = sum(c for value, c in clean.items() if value in excluded)
    seen = (
        f"{k} of {n} people who answered ({_pct(share.pct)}) {_contrary_phrase(policy)} "
        f'The policy in force says: "{policy.text}"'
    )
    if left_out:
        label = "Not sure" if NOT_SURE in excluded else "Doesn't apply"
        seen += f' ({left_out} answered "{label}" and are not counted.)'
    evidence = (
        f"95% interval {_pct(share.low)} to {_pct(share.high)} against a tolerance of "
        f"{_pct(100 * tolerance)}"
    )
    return Finding(
        kind=POLICY_GAP,
        subject=policy.id,
        pvalue=pvalue,
        large_enough=share.low > 100 * tolerance,
        watch=share.pct > 100 * tolerance,
        what_was_seen=seen,
        evidence=evidence,
        next_step=POLICY_NEXT_STEPS.get(policy.id, GENERIC_POLICY_STEP),
        numbers={
            "contrary": k,
            "n": n,
            "share_pct": share.pct,
            "low_pct": share.low,
            "high_pct": share.high,
            "tolerance_pct": 100 * tolerance,
            "pvalue": pvalue,
        },
    )


def social_cost_finding(
    subject: str,
    social_scores: stats.Histogram,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
) -> Finding | None:
    """Share of people with an unfavourable social-cost score in a team's pooled period.

    Parameters
    ----------
    subject : str
        The team period, e.g. ``"payments 2026-Q3"``.
    social_scores : Mapping[float, int]
        Histogram of respondent-level "social cost" construct scores (1..5, favourable
        high, i.e. after reverse-keying). A score below 3 (on balance unfavourable) counts.
    tolerance : float
        Tolerated share, tested exactly as a policy-practice gap.
    """
    _check_tolerance(tolerance)
    values = stats.expand_histogram(social_scores)
    n = int(values.size)
    if n == 0:
        return None
    k = int(np.count_nonzero(values < UNFAVOURABLE_BELOW))
    pvalue, share = _share_test(k, n, tolerance)
    return Finding(
        kind=SOCIAL_COST,
        subject=subject,
        pvalue=pvalue,
        large_enough=share.low > 100 * tolerance,
        watch=share.pct > 100 * tolerance,
        what_was_seen=(
            f"In {subject}, {k} of {n} people ({_pct(share.pct)}) said on balance that being "
            "involved in an incident has cost people socially: remarks, being left out, "
            "hesitating to say they were involved, or no support afterwards."
        ),
        evidence=(
            f"95% interval {_pct(share.low)} to {_pct(share.high)} against a tolerance of "
            f"{_pct(100 * tolerance)}"
        ),
        next_step=NEXT_STEPS[SOCIAL_COST],
        numbers={
            "unfavourable": k,
            "n": n,
            "share_pct": share.pct,
            "low_pct": share.low,
            "high_pct": share.high,
            "tolerance_pct": 100 * tolerance,
            "pvalue": pvalue,
        },
    )


def involved_cost_finding(
    involved: stats.Histogram,
    observers: stats.Histogram,
    *,
    min_group: int,
    subject: str = "social",
    rng: np.random.Generator | int | None = 0,
) -> Finding | None:
    """Do people directly involved report a higher social cost than observers?

    Parameters
    ----------
    involved, observers : Mapping[float, int]
        Organisation-wide pooled histograms of "social cost" construct scores (favourable
        high) of the people directly involved (the ``direct`` involvement cut) and of those
        who observed or reviewed (``observer``). Responders and "prefer not to say" are in
        neither group.
    min_group : int
        k, the minimum group. Returns None unless both groups have at least k people.
    subject : str
        The construct compared.
    rng : numpy.random.Generator or int or None
        Random source of the permutation test when it cannot enumerate.

    Notes
    -----
    One-sided Mann-Whitney U (involved lower, i.e. worse), permutation method at small n.
    The flag also needs Cliff's delta of at most -0.33 (a medium effect, Romano et al.
    2006); "watch" when the effect is that large but not significant.
    """
    if isinstance(min_group, bool) or not isinstance(min_group, int) or min_group < 3:
        raise ValueError(f"min_group must be a whole number of at least 3, got {min_group!r}")
    x, y = stats.expand_histogram(involved), stats.expand_histogram(observers)
    if x.size < min_group or y.size < min_group:
        return None
    result = stats.mann_whitney(x, y, "less", rng=rng)
    large = result.cliffs_delta <= -MIN_CLIFFS_DELTA
    share_x = 100.0 * float(np.mean(x < UNFAVOURABLE_BELOW))
    share_y = 100.0 * float(np.mean(y < UNFAVOURABLE_BELOW))
    return Finding(
        kind=INVOLVED_COST,
        subject=subject,
        pvalue=result.pvalue,
        large_enough=large,
        watch=large,
        what_was_seen=(
            f"Across the organisation, people directly involved in incidents ({x.size}) "
            f"reported a higher social cost than people who observed or reviewed them "
            f"({y.size}): {_pct(share_x)} against {_pct(share_y)} on balance unfavourable."
            if result.cliffs_delta < 0 else
            f"Across the organisation, people directly involved in incidents ({x.size}) did "
            f"not report a higher social cost than observers ({y.size})."
        ),
        evidence=(
            f"Cliff's delta {result.cliffs_delta:+.2f} (a flag needs -{MIN_CLIFFS_DELTA:.2f} "
            f"or below), Mann-Whitney {result.method} test"
        ),
        next_step=NEXT_STEPS[INVOLVED_COST],
        numbers={
            "n_involved": int(x.size),
            "n_observers": int(y.size),
            "cliffs_delta": result.cliffs_delta,
            "u": result.u,
            "pvalue": result.pvalue,
        },
    )


def worsening_trend_finding(
    subject: str,
    series: Sequence[float],
    periods: Sequence[float] | None = None,
) -> Finding | None:
    """A downward Mann-Kendall trend in a percent favourable series.

    Parameters
    ----------
    subject : str
        What the series is, e.g. ``"payments: perceived blame"``.
    series : sequence of float
        Percent favourable per period, oldest first.
    periods : sequence of float, optional
        Period positions, as in `analysis.stats.mann_kendall`.

    Returns
    -------
    Finding or None
        None with fewer than 5 periods (no trend can be claimed; show "change since").

    Notes
    -----
    Two-sided Mann-Kendall test; the flag needs a negative tau and a Theil-Sen fitted
    change over the span of at least 10 points downward. No "watch" state: a series that is
    not significant is shown as it is.
    """
    if len(series) < stats.MIN_TREND_PERIODS:
        return None
    trend = stats.mann_kendall(series, periods)
    large = trend.tau < 0 and trend.change <= -MIN_TREND_CHANGE
    direction = "down" if trend.change < 0 else "up" if trend.change > 0 else "flat"
    return Finding(
        kind=WORSENING_TREND,
        subject=subject,
        pvalue=trend.pvalue,
        large_enough=large,
        watch=False,
        what_was_seen=(
            f"{subject}: percent favourable went {direction} over {trend.n_periods} periods, "
            f"from {series[0]:.0f}% to {series[-1]:.0f}%; the fitted change is "
            f"{trend.change:+.0f} points."
        ),
        evidence=(
            f"Mann-Kendall tau {trend.tau:+.2f}, Theil-Sen slope {trend.slope:+.1f} points per "
            f"period (95% interval {trend.slope_low:+.1f} to {trend.slope_high:+.1f})"
        ),
        next_step=NEXT_STEPS[WORSENING_TREND],
        numbers={
            "tau": trend.tau,
            "s": trend.s,
            "slope": trend.slope,
            "change": trend.change,
            "n_periods": trend.n_periods,
            "pvalue": trend.pvalue,
        },
    )


def checkin_finding(subject: str, requests: int) -> Finding | None:
    """Confidential check-in requests: any request at all is a flag, with no test.

    The requests themselves go to the support contact, never to managers; the flag only
    makes sure someone follows up. None when there were none.
    """
    if isinstance(requests, bool) or not isinstance(requests, int) or requests < 0:
        raise ValueError(f"requests must be a non-negative whole number, got {requests!r}")
    if requests == 0:
        return None
    people = "person" if requests == 1 else "people"
    return Finding(
        kind=CHECKIN,
        subject=subject,
        pvalue=None,
        large_enough=True,
        watch=False,
        what_was_seen=(
            f"{requests} {people} asked for a confidential check-in after {subject}. "
            "The requests went to the support contact, not to managers."
        ),
        evidence="these are requests, not estimates",
        next_step=NEXT_STEPS[CHECKIN],
        numbers={"requests": requests},
    )


# --------------------------------------------------------------------------- page


def resolve(findings: Sequence[Finding | None], *, q: float = FDR_Q) -> list[Flag]:
    """The flags of one page: Benjamini-Hochberg at ``q`` across all its findings.

    Parameters
    ----------
    findings : sequence of Finding or None
        Every test shown on the page, flagged or not (None entries, checks that could not be
        run, are skipped). Leaving out unflagged tests would defeat the false discovery
        control.
    q : float
        False discovery rate (default 0.10).

    Returns
    -------
    list of Flag
        "flag" where the adjusted p-value is at most ``q`` and the effect is large enough;
        "watch" where the effect alone warrants it. In the order of ``findings``.
    """
    present = [f for f in findings if f is not None]
    for finding in present:
        if not isinstance(finding, Finding):
            raise ValueError(f"findings must be Finding objects, got {type(finding).__name__}")
    tested = [f for f in present if f.pvalue is not None]
    fdr = stats.benjamini_hochberg([f.pvalue for f in tested], q)
    adjusted = {id(f): (p, r) for f, p, r in zip(tested, fdr.adjusted, fdr.rejected,
                                                  strict=True)}
    m = len(tested)
    flags: list[Flag] = []
    for finding in present:
        if finding.pvalue is None:
            state, how_sure = FLAG, f"Certain: {finding.evidence}."
            numbers = dict(finding.numbers)
        else:
            p_adj, rejected = adjusted[id(finding)]
            checks = "check" if m == 1 else "checks"
            stat = (
                f"p {'' if finding.pvalue < 0.001 else '= '}{_p(finding.pvalue)}, "
                f"{_p(p_adj)} after adjusting for the {m} {checks} on this page "
                f"(false discovery rate {q:.0%})"
            )
            if rejected and finding.large_enough:
                state = FLAG
                how_sure = f"Likely real, not chance: {finding.evidence}; {stat}."
            elif finding.watch:
                state = WATCH
                how_sure = (
                    f"Not yet sure; it could be chance with this many answers: "
                    f"{finding.evidence}; {stat}. Worth watching as more answers come in."
                )
            else:
                continue
            numbers = {**finding.numbers, "adjusted_pvalue": p_adj, "tests_on_page": m}
        flags.append(Flag(
            kind=finding.kind,
            state=state,
            subject=finding.subject,
            what_was_seen=finding.what_was_seen,
            how_sure=how_sure,
            next_step=finding.next_step,
            numbers=MappingProxyType(numbers),
        ))
    return flags


def policy_gap_flags(
    policies: Sequence[Policy],
    counts_by_check: Mapping[str, Mapping[int, int]],
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    q: float = FDR_Q,
    extra: Sequence[Finding | None] = (),
) -> list[Flag]:
    """Policy-practice gap flags for the policies in force, BH across the page's tests.

    Parameters
    ----------
    policies : sequence of Policy
        The policies declared in force (from ``surveys.items.POLICIES``).
    counts_by_check : Mapping[str, Mapping[int, int]]
        Released answer counts keyed by check id (practice or statement id). A policy whose
        check has no counts is skipped.
    tolerance, q : float
        Tolerated contrary share and false discovery rate.
    extra : sequence of Finding
        Other findings shown on the same page (e.g. `social_cost_finding`), so that one
        false discovery control covers them all.
    """
    findings: list[Finding | None] = [
        policy_gap_finding(policy, counts_by_check[policy.check], tolerance=tolerance)
        for policy in policies
        if policy.check in counts_by_check
    ]
    return resolve([*findings, *extra], q=q)


def smallest_flagged_count(
    n: int, *, tolerance: float = DEFAULT_TOLERANCE, q: float = FDR_Q
) -> int | None:
    """Fewest contrary answers out of ``n`` that raise a gap flag when it is the only test.

    For telling a manager what it takes ("a flag needs 6 of 10"). Runs the real rule
    (`resolve` on a one-test page). None if even ``n`` of ``n`` does not flag.
    """
    _check_tolerance(tolerance)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive whole number, got {n!r}")
    for k in range(n + 1):
        pvalue, share = _share_test(k, n, tolerance)
        finding = Finding(
            kind=POLICY_GAP, subject="", pvalue=pvalue,
            large_enough=share.low > 100 * tolerance, watch=False,
            what_was_seen="", evidence="", next_step="",
        )
        if resolve([finding], q=q):
            return k
    return None
