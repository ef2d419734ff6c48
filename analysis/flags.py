"""Flags for managers: policy-practice gaps, incident-recovery needs, worsening trends.

Pure logic on released aggregates (answer counts and score histograms), no Flask, no
database. Each flag says in plain words what was seen, what the check behind it passed (and
what that does not prove), and one concrete next step drawn from blameless practice.

Flags come from two steps, so that false discovery control spans every check made together
(one family: a page today, one subject and period once flags are decided with releases):

1. a ``*_finding`` function per check turns sealed counts into a `Finding` (the observation,
   its p-value, and whether the effect is large enough to flag or to watch);
2. `resolve` applies Benjamini-Hochberg across all the findings of the family and returns
   the `Flag` objects to show: "flag" where the adjusted p-value is at most ``q`` (10%) and
   the effect is large enough, "watch" where it is at most ``watch_q`` (25%) but not a flag.

Every word a manager reads about a flag is built here, once: pages, the PDF report and the
API print the `Flag`'s own fields (`Flag.label`, `Flag.text`) and compose none of their own.
The rules, and their simulated rates under no gap, are in ``docs/statistics.md``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType

import numpy as np
from scipy import stats as sps

from analysis import stats
from analysis.items import (
    DOES_NOT_APPLY,
    NOT_SURE,
    PRACTICE_BY_ID,
    PRACTICE_SCALE,
    STATEMENT_BY_ID,
    STATEMENT_SCALE,
    Policy,
)

#: Share of contrary answers tolerated before a policy-practice gap is considered.
DEFAULT_TOLERANCE = 0.25
#: False discovery rate of a flag across the checks made together (one family).
FDR_Q = 0.10
#: The looser false discovery rate of a "watch": under no gap at all, at most this share of
#: families shows any watch or flag (Benjamini-Hochberg's guarantee under the complete null;
#: simulated rates in docs/statistics.md).
WATCH_Q = 0.25
#: Smallest |Cliff's delta| between involved and observers worth a flag (a "medium" effect).
MIN_CLIFFS_DELTA = 0.33
#: Smallest fitted change, in percentage points, for a worsening-trend flag.
MIN_TREND_CHANGE = 10.0
#: A respondent's construct score (1..5, favourable high) below the scale's neutral point
#: counts as an unfavourable experience.
UNFAVOURABLE_BELOW = 3.0
#: Respondent-level construct scores lie on the 1..5 answer scale.
SCORE_RANGE = (1.0, 5.0)
#: Largest number of answers `answers_for_flag` looks at before saying more answers at the
#: same share would not settle a watch.
PROJECTION_LIMIT = 10_000
#: A watched share less than this many points above the tolerance sits close to it: the
#: true share may well be at the tolerance, and more answers may not settle it.
CLOSE_POINTS = 5.0

POLICY_GAP = "policy_gap"
SOCIAL_COST = "social_cost"
INVOLVED_COST = "involved_cost"
CHECKIN = "checkin_request"
WORSENING_TREND = "worsening_trend"

WATCH = "watch"
FLAG = "flag"
#: The word shown for each state, on pages, in the PDF report and in `Flag.text`.
STATE_LABELS: Mapping[str, str] = MappingProxyType({FLAG: "Flag", WATCH: "Watch"})

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
    "separate_tracks": (
        "Agree with HR a separate process for the rare case of a willful violation, and "
        "open the next review by saying that consequences are not its subject."
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
        ``"flag"``: the check passes the 10% false-discovery check and the effect is large
        enough (unlikely to be chance alone; on average at most one flag in ten is a false
        alarm). ``"watch"``: it passes only the looser 25% check used for watching.
    subject : str
        What it is about: a policy id, a team period, a construct.
    what_was_seen, how_sure, next_step : str
        Plain words, built once by `resolve`; every page, the PDF and the API print these
        and never compose their own. ``how_sure`` says what the check passed, what that
        does not prove, and what more answers could or could not change.
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

    @property
    def label(self) -> str:
        """The word for the state: "Flag" or "Watch"."""
        return STATE_LABELS[self.state]

    def text(self) -> str:
        """The whole flag as one paragraph, for the PDF report and other plain-text places."""
        return (f"{self.label}: {self.what_was_seen} How sure: {self.how_sure} "
                f"Next step: {self.next_step}")

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
    bound above the tolerance, Cliff's delta of -0.33 or below, a fall of at least 10
    points); ``watch`` when the effect points the way a watch needs (share above the
    tolerance; Cliff's delta of -0.33 or below). Whether it becomes a flag or a watch is
    decided by `resolve`, with the other checks of its family. ``evidence`` is the
    plain-words part of "how sure" that does not depend on the other checks.
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


def _check_counts(check: str, counts: Mapping[int, int]) -> dict[int, int]:
    """Counts keyed by answer values of ``check``'s own scale, each a whole number >= 0."""
    if not isinstance(counts, Mapping):
        raise ValueError(f"counts for {check!r} must map answer values to counts")
    scale = _answer_scale(check)
    clean: dict[int, int] = {}
    for value, count in counts.items():
        if (isinstance(value, bool) or not isinstance(value, (int, np.integer))
                or int(value) not in scale):
            raise ValueError(
                f"{value!r} is not an answer to {check!r}; its answers are {sorted(scale)}"
            )
        if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 0:
            raise ValueError(f"count for answer {value!r} must be a non-negative whole number")
        clean[int(value)] = int(count)
    return clean


def _check_scores(what: str, histogram: stats.Histogram) -> np.ndarray:
    """Respondent-level construct scores, each on the 1..5 scale."""
    if not isinstance(histogram, Mapping):
        raise ValueError(f"{what} must be a histogram (score -> count)")
    values = stats.expand_histogram(histogram)
    low, high = SCORE_RANGE
    outside = values[(values < low) | (values > high)]
    if outside.size:
        raise ValueError(
            f"{what} holds the score {outside[0]:g}; scores lie between {low:g} and {high:g}"
        )
    return values


def _check_subject(subject: object) -> str:
    if not isinstance(subject, str) or not subject.strip():
        raise ValueError(f"subject must be a non-empty string, got {subject!r}")
    return subject


def _interval_above(low_pct: float | np.ndarray, tolerance: float) -> bool | np.ndarray:
    """The size rule of a share check: the 95% Wilson lower bound (percent) above the
    tolerance (fraction)."""
    return low_pct > 100 * tolerance


def _pct(x: float) -> str:
    return f"{x:.0f}%"


def _p(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def _upper_tail(k: np.ndarray | int, n: np.ndarray | int, tolerance: float) -> np.ndarray:
    """One-sided exact binomial p-value of H0 share <= tolerance: P(X >= k), X ~ B(n, tol).

    The same value as ``scipy.stats.binomtest(k, n, tolerance, alternative="greater")``.
    """
    return sps.binom.sf(np.asarray(k) - 1, n, tolerance)


@lru_cache(maxsize=4096)
def _share_test(k: int, n: int, tolerance: float) -> tuple[float, stats.Proportion]:
    """One-sided exact binomial test of share > tolerance, and the Wilson interval."""
    return float(_upper_tail(k, n, tolerance)), stats.proportion(k, n)


def _answer_scale(check: str) -> frozenset[int]:
    if check in PRACTICE_BY_ID:
        return frozenset(value for value, _ in PRACTICE_SCALE)
    if check in STATEMENT_BY_ID:
        return frozenset(value for value, _ in STATEMENT_SCALE)
    raise ValueError(f"unknown check {check!r}: not a practice check nor a statement")


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
    policy : analysis.items.Policy
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
    Wilson lower bound above the tolerance; a watch needs the observed share above the
    tolerance (and, in `resolve`, an adjusted p-value of at most 25%). As the only check
    made, a flag needs 4 of 5, 6 of 10 or 9 of 20 contrary answers.

    Raises
    ------
    ValueError
        For an answer value outside the check's scale, a negative or fractional count, or
        a tolerance outside (0, 1).
    """
    if not isinstance(policy, Policy):
        raise ValueError(f"policy must be a Policy, got {type(policy).__name__}")
    _check_tolerance(tolerance)
    clean = _check_counts(policy.check, counts)
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
        large_enough=bool(_interval_above(share.low, tolerance)),
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

    Raises
    ------
    ValueError
        For a score outside 1..5, a negative count, an empty subject or a tolerance outside
        (0, 1).
    """
    _check_subject(subject)
    _check_tolerance(tolerance)
    values = _check_scores("social_scores", social_scores)
    n = int(values.size)
    if n == 0:
        return None
    k = int(np.count_nonzero(values < UNFAVOURABLE_BELOW))
    pvalue, share = _share_test(k, n, tolerance)
    return Finding(
        kind=SOCIAL_COST,
        subject=subject,
        pvalue=pvalue,
        large_enough=bool(_interval_above(share.low, tolerance)),
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
    2006); a watch needs the same effect with an adjusted p-value of at most 25%.
    """
    if isinstance(min_group, bool) or not isinstance(min_group, int) or min_group < 3:
        raise ValueError(f"min_group must be a whole number of at least 3, got {min_group!r}")
    _check_subject(subject)
    x, y = _check_scores("involved", involved), _check_scores("observers", observers)
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

    Raises
    ------
    ValueError
        For a value outside 0..100, a non-finite value, or periods that do not increase.
    """
    _check_subject(subject)
    values = stats.as_values(series)
    if values.size and (values.min() < 0 or values.max() > 100):
        raise ValueError("series holds percentages: every value must lie between 0 and 100")
    if values.size < stats.MIN_TREND_PERIODS:
        return None
    trend = stats.mann_kendall(values, periods)
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
            f"from {values[0]:.0f}% to {values[-1]:.0f}%; the fitted change is "
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
    makes sure someone follows up. It says that a request exists, never how many or who
    (a count per incident or period could point at a person). None when there were none.
    """
    _check_subject(subject)
    if isinstance(requests, bool) or not isinstance(requests, int) or requests < 0:
        raise ValueError(f"requests must be a non-negative whole number, got {requests!r}")
    if requests == 0:
        return None
    return Finding(
        kind=CHECKIN,
        subject=subject,
        pvalue=None,
        large_enough=True,
        watch=False,
        what_was_seen=(
            f"Someone asked for a confidential check-in after {subject}. The request went "
            "to the support contact, not to managers, and does not say who asked."
        ),
        evidence="No test is involved: this is a request, not an estimate",
        next_step=NEXT_STEPS[CHECKIN],
        numbers={},
    )


# --------------------------------------------------------------------------- page


def resolve(
    findings: Sequence[Finding | None], *, q: float = FDR_Q, watch_q: float = WATCH_Q
) -> list[Flag]:
    """The flags of one family of checks: Benjamini-Hochberg across all its findings.

    Parameters
    ----------
    findings : sequence of Finding or None
        Every check made together (a page; one subject and period), flagged or not (None
        entries, checks that could not be run, are skipped). Leaving out quiet checks would
        defeat the false discovery control.
    q : float
        False discovery rate of a flag (default 0.10).
    watch_q : float
        The looser false discovery rate of a watch (default 0.25), at least ``q``.

    Returns
    -------
    list of Flag
        "flag" where the Benjamini-Hochberg adjusted p-value is at most ``q`` and the
        effect is large enough; "watch" where it is not a flag, the adjusted p-value is at
        most ``watch_q`` and the effect points the way a watch needs. In the order of
        ``findings``; quiet checks give no Flag.

    Notes
    -----
    Under no real effect anywhere in the family, Benjamini-Hochberg at ``watch_q`` rejects
    anything at all with probability at most ``watch_q`` for independent or positively
    dependent tests [1]_, so at most 25% of families show any watch or flag; with the exact
    (conservative) binomial test the simulated rate is well below that (docs/statistics.md).

    References
    ----------
    .. [1] Y. Benjamini, D. Yekutieli, "The control of the false discovery rate in multiple
       testing under dependency", Annals of Statistics 29 (2001) 1165-1188.
    """
    if not isinstance(q, (int, float)) or not 0 < q < 1:
        raise ValueError(f"q must be between 0 and 1, got {q!r}")
    if not isinstance(watch_q, (int, float)) or not q <= watch_q < 1:
        raise ValueError(f"watch_q must be at least q ({q!r}) and below 1, got {watch_q!r}")
    present = [f for f in findings if f is not None]
    for finding in present:
        if not isinstance(finding, Finding):
            raise ValueError(f"findings must be Finding objects, got {type(finding).__name__}")
    tested = [f for f in present if f.pvalue is not None]
    fdr = stats.benjamini_hochberg([f.pvalue for f in tested], q)
    adjusted = {id(f): p for f, p in zip(tested, fdr.adjusted, strict=True)}
    m = len(tested)
    flags: list[Flag] = []
    for finding in present:
        if finding.pvalue is None:
            state, numbers = FLAG, dict(finding.numbers)
            how_sure = (f"{finding.evidence}, and every request is flagged so that someone "
                        "follows it up.")
        else:
            p_adj = adjusted[id(finding)]
            if p_adj <= q and finding.large_enough:
                state = FLAG
            elif finding.watch and p_adj <= watch_q:
                state = WATCH
            else:
                continue
            how_sure, extra = _how_sure(finding, finding.pvalue, state, p_adj, m, q, watch_q)
            numbers = {**finding.numbers, "adjusted_pvalue": p_adj, "tests_on_page": m,
                       **extra}
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


#: What a flag needs besides passing the false-discovery check, per kind of check.
SIZE_RULES: Mapping[str, str] = MappingProxyType({
    POLICY_GAP: "a 95% interval entirely above the tolerance",
    SOCIAL_COST: "a 95% interval entirely above the tolerance",
    INVOLVED_COST: f"Cliff's delta of -{MIN_CLIFFS_DELTA:.2f} or below",
    WORSENING_TREND: f"a fitted fall of at least {MIN_TREND_CHANGE:.0f} points",
})
#: What more data would do to a flag, per kind of check.
FLAG_OUTLOOK: Mapping[str, str] = MappingProxyType({
    POLICY_GAP: "More answers would narrow the interval.",
    SOCIAL_COST: "More answers would narrow the interval.",
    INVOLVED_COST: "More answers would narrow the estimate of the difference.",
    WORSENING_TREND: "Later periods will show whether the fall goes on.",
})
#: Checks of a share against the tolerance, whose watch says how many answers a flag needs.
SHARE_KINDS = frozenset({POLICY_GAP, SOCIAL_COST})
#: The count behind the share of each share check, in ``Finding.numbers``.
_SHARE_COUNT = MappingProxyType({POLICY_GAP: "contrary", SOCIAL_COST: "unfavourable"})


_NUMBER_WORDS = MappingProxyType({2: "two", 3: "three", 4: "four", 5: "five", 10: "ten",
                                   20: "twenty"})


def _one_in(rate: float) -> str:
    ratio = 1 / rate
    if abs(ratio - round(ratio)) < 1e-9:
        return f"one flag in {_NUMBER_WORDS.get(round(ratio), str(round(ratio)))}"
    return f"{rate:.0%} of flags"


def _how_sure(
    finding: Finding, pvalue: float, state: str, p_adj: float, m: int, q: float,
    watch_q: float,
) -> tuple[str, dict[str, float | int]]:
    """The "how sure" words of a tested finding, and any figures they quote."""
    if m == 1:
        where, stat = "", f"p {_p_text(pvalue)}; the only check made"
    else:
        where = f" across the {m} checks made together"
        stat = f"p {_p_text(pvalue)}, adjusted {_p(p_adj)}"
    passes = p_adj <= q
    if state == FLAG:
        words = (
            f"Unlikely to be chance alone: it passes the {q:.0%} false-discovery check{where} "
            f"({stat}). {finding.evidence}. Passing this check means that, on average, at "
            f"most {_one_in(q)} is a false alarm. {FLAG_OUTLOOK[finding.kind]}"
        )
        return words, {}
    if passes:
        check = (
            f"Worth watching, not a flag: it passes the {q:.0%} false-discovery check{where} "
            f"({stat}), but a flag also needs {SIZE_RULES[finding.kind]}."
        )
    else:
        check = (
            f"Worth watching, not a flag: it could be chance. It passes the looser "
            f"{watch_q:.0%} check used for watching, not the {q:.0%} false-discovery check a "
            f"flag needs{where} ({stat})."
        )
    if finding.kind not in SHARE_KINDS:
        return f"{check} {finding.evidence}. More answers would show whether it holds.", {}
    k, n = int(finding.numbers[_SHARE_COUNT[finding.kind]]), int(finding.numbers["n"])
    tolerance = float(finding.numbers["tolerance_pct"]) / 100
    needed = answers_for_flag(
        k, n, tolerance=tolerance, multiplier=max(1.0, p_adj / pvalue), q=q
    )
    share = _pct(100 * k / n)
    extra: dict[str, float | int] = {} if needed is None else {"answers_for_flag": needed}
    if needed is None or 100 * (k / n - tolerance) < CLOSE_POINTS:
        cost = (f"even {PROJECTION_LIMIT:,} answers at that share would not make a flag"
                if needed is None else
                f"if it stayed there, about {needed:,} answers in all would make a flag")
        outlook = (
            f"The share, {share}, is within {CLOSE_POINTS:.0f} points of the tolerance: "
            f"{cost}, and the true share may be at the tolerance, so more answers may not "
            "settle it."
        )
    else:
        outlook = (
            f"If the share stayed at {share} with more answers, about {needed:,} in all "
            f"({needed - n:,} more) would make it a flag; more answers could as well bring "
            "the share down to the tolerance."
        )
    return f"{check} {finding.evidence}. {outlook}", extra


def _p_text(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"= {p:.3f}"


def answers_for_flag(
    k: int,
    n: int,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    multiplier: float = 1.0,
    q: float = FDR_Q,
) -> int | None:
    """Answers needed, at the same share, for a share check (a gap) to become a flag.

    Parameters
    ----------
    k, n : int
        Contrary (or unfavourable) answers and countable answers now.
    tolerance, q : float
        The check's tolerance and the flag's false discovery rate.
    multiplier : float
        How much the family's false discovery control raises this check's p-value now
        (adjusted p / p, at least 1), assumed to stay the same.

    Returns
    -------
    int or None
        The smallest total N > n such that ``floor(N k / n)`` contrary answers of N would
        pass the flag rule (exact one-sided binomial p times ``multiplier`` at most ``q``,
        Wilson lower bound above the tolerance); None if the share is not above the
        tolerance or N would exceed `PROJECTION_LIMIT`. A projection for the words of a
        watch, "if the share stayed where it is", not a prediction.
    """
    _check_tolerance(tolerance)
    for name, value in (("k", k), ("n", n)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"{name} must be a non-negative whole number, got {value!r}")
    if n < 1 or k > n:
        raise ValueError(f"need 0 <= k <= n and n >= 1, got k={k!r}, n={n!r}")
    if not isinstance(multiplier, (int, float)) or not 1 <= multiplier < math.inf:
        raise ValueError(f"multiplier must be a finite number of at least 1, got {multiplier!r}")
    if not 0 < q < 1:
        raise ValueError(f"q must be between 0 and 1, got {q!r}")
    return _answers_for_flag(int(k), int(n), float(tolerance), round(float(multiplier), 9),
                             float(q))


@lru_cache(maxsize=4096)
def _answers_for_flag(k: int, n: int, tolerance: float, multiplier: float,
                      q: float) -> int | None:
    share = k / n
    if share <= tolerance or n >= PROJECTION_LIMIT:
        return None
    sizes = np.arange(n + 1, PROJECTION_LIMIT + 1, dtype=float)
    contrary = np.floor(share * sizes + 1e-9)  # never a larger share than now
    low, _ = stats.wilson_bounds(contrary, sizes, stats.z_quantile(0.95))
    passes = ((_upper_tail(contrary, sizes, tolerance) * multiplier <= q)
              & _interval_above(100 * low, tolerance))
    hits = np.flatnonzero(passes)
    return int(sizes[hits[0]]) if hits.size else None


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
        The policies declared in force (from ``analysis.items.POLICIES``).
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
            large_enough=bool(_interval_above(share.low, tolerance)), watch=False,
            what_was_seen="", evidence="", next_step="",
        )
        if resolve([finding], q=q):
            return k
    return None
