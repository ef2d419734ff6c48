"""Statistics on sealed aggregates: proportions, means, reliability, group and trend tests.

Pure functions: counts, histograms or arrays in, small frozen result dataclasses out (in the
manner of ``scipy.stats`` result objects). No Flask, no database, no I/O. Invalid input raises
``ValueError``.

Answers reach this module only as the sufficient statistics sealed at survey close:

* ``AnswerCounts``: answer value -> number of people, for one item in one cut. Statements use 1..5
  (Strongly disagree .. Strongly agree) and 0 for "Doesn't apply", which every score excludes.
* ``Histogram``: score value -> number of people, e.g. respondent-level construct scores (a
  respondent's mean over the construct's items after reverse-keying, on the 1..5 scale). A
  histogram expands losslessly into the list of respondent values, so every method that needs
  respondent-level values (bootstrap, Mann-Whitney) accepts one.

Methods and when they are used are listed in ``docs/statistics.md``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import stats

from analysis.items import AGREE_VALUES, DISAGREE_VALUES, DOES_NOT_APPLY, STATEMENT_SCALE

AnswerCounts = Mapping[int, int]
Histogram = Mapping[float, int]
Values = Histogram | Sequence[float] | np.ndarray

#: Means get a t interval below this many respondents and a BCa bootstrap at or above it.
BOOTSTRAP_MIN_RESPONDENTS = 20
#: Cronbach's alpha is reported only on pooled data of at least this many respondents.
ALPHA_MIN_RESPONDENTS = 30
#: Mann-Whitney uses the permutation method while the smaller group is below this size.
PERMUTATION_BELOW = 30
#: A trend (Mann-Kendall) needs at least this many periods; with 4 even a perfectly monotone
#: series has exact two-sided p = 2/24 = 0.083.
MIN_TREND_PERIODS = 5

STATEMENT_VALUES = frozenset(value for value, _ in STATEMENT_SCALE) - {DOES_NOT_APPLY}

Alternative = Literal["two-sided", "less", "greater"]
_ALTERNATIVES = ("two-sided", "less", "greater")


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Proportion:
    """A share with its Wilson interval; ``pct``, ``low`` and ``high`` are in percent."""

    favourable: int
    n: int
    pct: float
    low: float
    high: float
    confidence_level: float = 0.95


@dataclass(frozen=True)
class ConstructPercent:
    """Construct percent favourable: the unweighted mean of its items' percents."""

    pct: float
    n_items: int
    items: tuple[Proportion, ...]


@dataclass(frozen=True)
class MeanInterval:
    """A mean with its interval. ``method`` is ``"t"``, ``"bca"`` or ``"constant"``."""

    mean: float
    n: int
    low: float
    high: float
    method: str
    confidence_level: float = 0.95


@dataclass(frozen=True)
class Reliability:
    """Cronbach's alpha, or ``alpha=None`` with the ``reason`` it is not reported."""

    alpha: float | None
    n: int
    n_items: int
    reason: str | None = None


@dataclass(frozen=True)
class GroupComparison:
    """Mann-Whitney U for ``x`` against ``y`` with Cliff's delta (positive: x tends higher)."""

    u: float
    pvalue: float
    n_x: int
    n_y: int
    cliffs_delta: float
    method: str
    alternative: str


@dataclass(frozen=True)
class ShareComparison:
    """Fisher's exact test of two shares ``k_x / n_x`` against ``k_y / n_y``.

    ``difference`` is ``share_x - share_y`` (a proportion, not points)."""

    k_x: int
    n_x: int
    k_y: int
    n_y: int
    difference: float
    pvalue: float

    @property
    def share_x(self) -> float:
        return self.k_x / self.n_x

    @property
    def share_y(self) -> float:
        return self.k_y / self.n_y


@dataclass(frozen=True)
class Trend:
    """Mann-Kendall trend test with the Theil-Sen slope (score units per period).

    ``change`` is the Theil-Sen fitted change over the whole span,
    ``slope * (last period - first period)``. ``slope_low`` and ``slope_high`` are Sen's
    interval for the slope, built from ``var_s``, the variance of Kendall's S corrected for
    tied scores.
    """

    tau: float
    s: int
    pvalue: float
    slope: float
    intercept: float
    slope_low: float
    slope_high: float
    n_periods: int
    change: float
    var_s: float


@dataclass(frozen=True)
class Change:
    """"Change since": shown instead of a trend when there are fewer than 5 periods."""

    first: float
    last: float
    change: float


@dataclass(frozen=True)
class FDRResult:
    """Benjamini-Hochberg adjusted p-values and which tests are rejected at ``q``."""

    adjusted: tuple[float, ...]
    rejected: tuple[bool, ...]
    q: float


# --------------------------------------------------------------------------- validation


def _check_confidence(confidence_level: float) -> None:
    if not 0 < confidence_level < 1:
        raise ValueError(f"confidence_level must be between 0 and 1, got {confidence_level!r}")


def _check_count(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{what} must be a whole number, got {value!r}")
    if value < 0:
        raise ValueError(f"{what} must not be negative, got {value!r}")
    return int(value)


def _check_group_sizes(x: np.ndarray, y: np.ndarray, least: int, method: str) -> None:
    for name, group in (("x", x), ("y", y)):
        if group.size < least:
            people = "value" if least == 1 else "values"
            raise ValueError(
                f"{method} needs at least {least} {people} in each group; "
                f"{name} has {group.size}"
            )


def _check_resamples(n_resamples: object) -> int:
    n_resamples = _check_count(n_resamples, "n_resamples")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be at least 1, got {n_resamples}")
    return n_resamples


def _check_alternative(alternative: str) -> None:
    if alternative not in _ALTERNATIVES:
        raise ValueError(f"alternative must be one of {_ALTERNATIVES}, got {alternative!r}")


def expand_histogram(histogram: Histogram) -> np.ndarray:
    """Expand a histogram (value -> count) into the sorted array of values it counts.

    Parameters
    ----------
    histogram : Mapping[float, int]
        Score value -> number of respondents with that score. Counts must be whole numbers
        and non-negative; values must be finite.

    Returns
    -------
    numpy.ndarray
        One float per respondent, in ascending order.
    """
    keys = sorted(histogram)
    for key in keys:
        if isinstance(key, bool) or not isinstance(key, (int, float, np.integer, np.floating)):
            raise ValueError(f"histogram values must be numbers, got {key!r}")
        if not math.isfinite(key):
            raise ValueError(f"histogram values must be finite, got {key!r}")
    counts = [_check_count(histogram[key], f"count for {key!r}") for key in keys]
    return np.repeat(np.asarray(keys, dtype=float), counts)


def pool_histograms(*histograms: Histogram) -> dict[float, int]:
    """Add histograms (for example several involvement cuts, or several surveys)."""
    pooled: dict[float, int] = {}
    for histogram in histograms:
        for value, count in histogram.items():
            pooled[value] = pooled.get(value, 0) + _check_count(count, f"count for {value!r}")
    return pooled


def as_values(data: Values) -> np.ndarray:
    """Respondent-level values from either a histogram or a 1-D sequence of numbers."""
    if isinstance(data, Mapping):
        return expand_histogram(data)
    values = np.asarray(data, dtype=float)
    if values.ndim != 1:
        raise ValueError(f"values must be one-dimensional, got shape {values.shape}")
    if not np.all(np.isfinite(values)):
        raise ValueError("values must be finite (no NaN or infinity)")
    return values


# --------------------------------------------------------------------------- proportions


def proportion(k: int, n: int, confidence_level: float = 0.95) -> Proportion:
    """A share ``k / n`` with its Wilson score interval.

    Parameters
    ----------
    k, n : int
        Successes and trials, ``0 <= k <= n`` and ``n >= 1``.
    confidence_level : float
        Two-sided confidence level of the interval.

    Returns
    -------
    Proportion
        ``pct``, ``low`` and ``high`` in percent.

    Notes
    -----
    The Wilson score interval [1]_ keeps its coverage near nominal at the small n of a team
    survey, where the Wald interval does not [2]_. Computed in closed form, which gives the
    same bounds as ``scipy.stats.binomtest(k, n).proportion_ci(method="wilson")`` without the
    exact p-value that ``binomtest`` computes first (a hundred times slower, and unused).

    References
    ----------
    .. [1] E. B. Wilson, "Probable inference, the law of succession, and statistical
       inference", JASA 22 (1927) 209-212.
    .. [2] L. D. Brown, T. T. Cai, A. DasGupta, "Interval estimation for a binomial
       proportion", Statistical Science 16 (2001) 101-133.
    """
    k = _check_count(k, "k")
    n = _check_count(n, "n")
    _check_confidence(confidence_level)
    if n == 0:
        raise ValueError("a proportion needs at least one answer (n >= 1)")
    if k > n:
        raise ValueError(f"k ({k}) cannot exceed n ({n})")
    low, high = _wilson(k, n, z_quantile(confidence_level))
    return Proportion(
        favourable=k,
        n=n,
        pct=100.0 * k / n,
        low=100.0 * low,
        high=100.0 * high,
        confidence_level=confidence_level,
    )


@functools.lru_cache(maxsize=16)
def z_quantile(confidence_level: float) -> float:
    """The two-sided standard normal quantile of a confidence level (1.96 at 95%)."""
    return float(stats.norm.ppf(0.5 + confidence_level / 2))


def _wilson(k: int, n: int, z: float) -> tuple[float, float]:
    """Wilson score bounds: (p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n)."""
    low, high = wilson_bounds(np.asarray(k, dtype=float), np.asarray(n, dtype=float), z)
    return float(low), float(high)


def wilson_bounds(
    k: np.ndarray, n: np.ndarray, z: float
) -> tuple[np.ndarray, np.ndarray]:
    """The Wilson score bounds of `proportion` (as fractions), elementwise over arrays.

    For callers that need many intervals at once (projecting how many answers a flag
    needs); the inputs are trusted: ``0 <= k <= n``, ``n >= 1``.
    """
    p = k / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * np.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return np.maximum(0.0, centre - half), np.minimum(1.0, centre + half)


def percent_favourable(
    counts: AnswerCounts, reverse: bool, confidence_level: float = 0.95
) -> Proportion:
    """Item percent favourable with its Wilson interval.

    Parameters
    ----------
    counts : Mapping[int, int]
        Answer value -> count for one statement: 1..5 from Strongly disagree to Strongly
        agree, 0 for "Doesn't apply" (excluded from the denominator).
    reverse : bool
        True for a reverse-keyed statement, where disagreeing is favourable.
    confidence_level : float
        Two-sided level of the Wilson interval.

    Returns
    -------
    Proportion
        Favourable answers (Agree or Strongly agree; Disagree or Strongly disagree when
        reversed) over all answers other than "Doesn't apply".

    Notes
    -----
    "Percent positive" scoring as in AHRQ's Surveys on Patient Safety Culture [1]_, where
    neutral answers count in the denominator and "Does not apply" is excluded.

    References
    ----------
    .. [1] J. Sorra et al., "SOPS Hospital Survey 2.0: User's Guide", AHRQ Publication
       No. 19(23)-0036 (2019/2023), section on calculating percent positive scores.
    """
    allowed = STATEMENT_VALUES | {DOES_NOT_APPLY}
    for value in counts:
        if value not in allowed:
            raise ValueError(f"statement answers are 0..5, got {value!r}")
    clean = {value: _check_count(c, f"count for {value}") for value, c in counts.items()}
    favourable_values = DISAGREE_VALUES if reverse else AGREE_VALUES
    n = sum(c for value, c in clean.items() if value in STATEMENT_VALUES)
    k = sum(c for value, c in clean.items() if value in favourable_values)
    if n == 0:
        raise ValueError("no answers other than \"Doesn't apply\"")
    return proportion(k, n, confidence_level)


def construct_percent_favourable(items: Sequence[Proportion]) -> ConstructPercent:
    """Construct percent favourable: the unweighted mean of its items' percent favourable.

    Parameters
    ----------
    items : sequence of Proportion
        The item results of the construct's statements (from `percent_favourable`).

    Notes
    -----
    The AHRQ SOPS composite score is the average of its items' percent positive [1]_; each
    item weighs the same whatever its number of "Doesn't apply" answers.

    References
    ----------
    .. [1] J. Sorra et al., "SOPS Hospital Survey 2.0: User's Guide", AHRQ (2019/2023).
    """
    items = tuple(items)
    if not items:
        raise ValueError("a construct needs at least one item")
    for item in items:
        if not isinstance(item, Proportion):
            raise ValueError(f"items must be Proportion results, got {type(item).__name__}")
    return ConstructPercent(
        pct=float(np.mean([item.pct for item in items])), n_items=len(items), items=items
    )


# --------------------------------------------------------------------------- means


def mean_interval(
    data: Values,
    confidence_level: float = 0.95,
    *,
    rng: np.random.Generator | int | None = 0,
    n_resamples: int = 9999,
) -> MeanInterval:
    """Mean with a t interval below 20 respondents and a BCa bootstrap interval from 20 on.

    Parameters
    ----------
    data : histogram or sequence of float
        Respondent-level values (e.g. construct scores on 1..5), or a histogram of them.
    confidence_level : float
        Two-sided confidence level.
    rng : numpy.random.Generator or int or None
        Random source for the bootstrap; the default seed 0 makes a shown interval
        reproducible.
    n_resamples : int
        Bootstrap resamples.

    Returns
    -------
    MeanInterval
        ``method`` is ``"t"``, ``"bca"``, or ``"constant"`` when every value is the same
        (the interval is then the single value: no spread was observed).

    Notes
    -----
    Below 20 respondents: Student's t interval, ``mean +- t(1 - alpha/2, n - 1) s / sqrt(n)``.
    From 20 on: bias-corrected and accelerated bootstrap [1]_ (chapter 14) via
    ``scipy.stats.bootstrap``, which does not assume normality of bounded, skewed Likert
    means.

    References
    ----------
    .. [1] B. Efron, R. J. Tibshirani, "An Introduction to the Bootstrap", Chapman & Hall
       (1993).
    """
    values = as_values(data)
    _check_confidence(confidence_level)
    n = int(values.size)
    if n < 2:
        raise ValueError(f"an interval for a mean needs at least 2 values, got {n}")
    n_resamples = _check_resamples(n_resamples)
    mean = float(np.mean(values))
    if np.ptp(values) == 0:
        return MeanInterval(mean, n, mean, mean, "constant", confidence_level)
    if n < BOOTSTRAP_MIN_RESPONDENTS:
        sem = float(np.std(values, ddof=1)) / math.sqrt(n)
        half = float(stats.t.ppf(0.5 + confidence_level / 2, n - 1)) * sem
        return MeanInterval(mean, n, mean - half, mean + half, "t", confidence_level)
    result = stats.bootstrap(
        (values,),
        np.mean,
        n_resamples=n_resamples,
        batch=max(1, 2_000_000 // n),
        vectorized=True,
        confidence_level=confidence_level,
        method="BCa",
        rng=rng,
    )
    ci = result.confidence_interval
    return MeanInterval(mean, n, float(ci.low), float(ci.high), "bca", confidence_level)


# --------------------------------------------------------------------------- reliability


def _alpha_from_covariance(cov: np.ndarray, n: int, min_respondents: int) -> Reliability:
    n_items = cov.shape[0]
    if n < min_respondents:
        return Reliability(
            None, n, n_items,
            f"reliability needs pooled data of at least {min_respondents} respondents, "
            f"got {n}",
        )
    total_variance = float(cov.sum())
    if total_variance <= 0:
        return Reliability(None, n, n_items, "the total score does not vary")
    alpha = n_items / (n_items - 1) * (1 - float(np.trace(cov)) / total_variance)
    return Reliability(alpha, n, n_items)


def cronbach_alpha(
    matrix: Sequence[Sequence[float]] | np.ndarray,
    *,
    min_respondents: int = ALPHA_MIN_RESPONDENTS,
) -> Reliability:
    """Cronbach's alpha of a respondents x items matrix.

    Parameters
    ----------
    matrix : array_like, shape (n_respondents, n_items)
        Complete answers (no "Doesn't apply"), reverse-keyed items already reversed.
    min_respondents : int
        Below this, alpha is not computed (``alpha=None`` with a reason): on few respondents
        it is too unstable to say anything about a scale.

    Returns
    -------
    Reliability

    Notes
    -----
    ``alpha = k / (k - 1) * (1 - sum(var(item)) / var(total))`` with sample variances [1]_.

    References
    ----------
    .. [1] L. J. Cronbach, "Coefficient alpha and the internal structure of tests",
       Psychometrika 16 (1951) 297-334.
    """
    data = np.asarray(matrix, dtype=float)
    if data.ndim != 2:
        raise ValueError(f"matrix must be respondents x items, got shape {data.shape}")
    if data.shape[1] < 2:
        raise ValueError("Cronbach's alpha needs at least 2 items")
    if not np.all(np.isfinite(data)):
        raise ValueError("matrix must be complete and finite (no NaN)")
    _check_count(min_respondents, "min_respondents")
    n = int(data.shape[0])
    if n < 2:
        return Reliability(None, n, int(data.shape[1]), "needs at least 2 respondents")
    cov = np.cov(data, rowvar=False, ddof=1)
    return _alpha_from_covariance(cov, n, max(2, min_respondents))


def cronbach_alpha_from_moments(
    n: int,
    item_sums: Sequence[float] | np.ndarray,
    item_sq_sums: Sequence[float] | np.ndarray,
    cross_sums: Sequence[Sequence[float]] | np.ndarray,
    *,
    reverse: Sequence[bool] | None = None,
    scale_max: float = 5,
    scale_min: float = 1,
    min_respondents: int = ALPHA_MIN_RESPONDENTS,
) -> Reliability:
    """Cronbach's alpha from sealed sums: the same result as `cronbach_alpha` on the matrix.

    Parameters
    ----------
    n : int
        Respondents with a complete answer on all the items.
    item_sums : array_like, shape (k,)
        ``sum_r x[r, i]``.
    item_sq_sums : array_like, shape (k,)
        ``sum_r x[r, i] ** 2``.
    cross_sums : array_like, shape (k, k)
        ``sum_r x[r, i] * x[r, j]``; must be symmetric, and its diagonal either zero or equal
        to ``item_sq_sums``.
    reverse : sequence of bool, optional
        Items whose sums were sealed on the raw scale and must be reverse-keyed here
        (``x -> scale_min + scale_max - x``). Alpha is computed on the keyed items.
    scale_min, scale_max : float
        The answer scale, for reverse-keying.
    min_respondents : int
        As in `cronbach_alpha`.

    Notes
    -----
    Sample covariances from sums: ``cov[i, j] = (C[i, j] - S[i] S[j] / n) / (n - 1)``; the
    alpha formula is then that of Cronbach (1951) as in `cronbach_alpha`. Reversing item i
    with ``c = scale_min + scale_max`` maps ``S[i] -> c n - S[i]`` and
    ``C[i, j] -> c S[j] - C[i, j]`` (both reversed: ``c^2 n - c S[i] - c S[j] + C[i, j]``),
    which only flips the sign of covariances between a reversed and an unreversed item.
    """
    n = _check_count(n, "n")
    sums = np.asarray(item_sums, dtype=float)
    squares = np.asarray(item_sq_sums, dtype=float)
    cross = np.array(cross_sums, dtype=float)
    if sums.ndim != 1 or sums.size < 2:
        raise ValueError("item_sums must be one-dimensional with at least 2 items")
    k = sums.size
    if squares.shape != (k,):
        raise ValueError(f"item_sq_sums must have shape ({k},), got {squares.shape}")
    if cross.shape != (k, k):
        raise ValueError(f"cross_sums must have shape ({k}, {k}), got {cross.shape}")
    if not (np.all(np.isfinite(sums)) and np.all(np.isfinite(squares))
            and np.all(np.isfinite(cross))):
        raise ValueError("sums must be finite")
    if not np.allclose(cross, cross.T, rtol=1e-12, atol=1e-9):
        raise ValueError("cross_sums must be symmetric")
    diagonal = np.diag(cross)
    if np.any(diagonal != 0) and not np.allclose(diagonal, squares, rtol=1e-12, atol=1e-9):
        raise ValueError("the diagonal of cross_sums must be zero or equal item_sq_sums")
    np.fill_diagonal(cross, squares)
    if reverse is not None:
        flags = np.asarray(reverse, dtype=bool)
        if flags.shape != (k,):
            raise ValueError(f"reverse must have {k} entries")
        c = float(scale_min) + float(scale_max)
        sign = np.where(flags, -1.0, 1.0)
        shift = np.where(flags, c, 0.0)
        # x' = shift + sign * x, so sum x'_i x'_j expands into the sums we hold.
        cross = (n * np.outer(shift, shift) + np.outer(shift, sign * sums)
                 + np.outer(sign * sums, shift) + np.outer(sign, sign) * cross)
        sums = n * shift + sign * sums
    _check_count(min_respondents, "min_respondents")
    if n < 2:
        return Reliability(None, n, k, "needs at least 2 respondents")
    cov = (cross - np.outer(sums, sums) / n) / (n - 1)
    return _alpha_from_covariance(cov, n, max(2, min_respondents))


# --------------------------------------------------------------------------- two groups


def cliffs_delta(x: Values, y: Values) -> float:
    """Cliff's delta: ``P(X > Y) - P(X < Y)`` over all pairs, ties counting zero.

    Parameters
    ----------
    x, y : histogram or sequence of float
        The two groups' respondent-level values.

    Notes
    -----
    Cliff (1993) [1]_. Equals ``2 U / (n_x n_y) - 1`` for the Mann-Whitney U of ``x``.
    Romano et al. [2]_ suggest |delta| >= 0.33 as a medium and >= 0.474 as a large effect.

    References
    ----------
    .. [1] N. Cliff, "Dominance statistics: ordinal analyses to answer ordinal questions",
       Psychological Bulletin 114 (1993) 494-509.
    .. [2] J. Romano et al., "Appropriate statistics for ordinal level data", annual meeting
       of the Florida Association of Institutional Research (2006).
    """
    xs, ys = as_values(x), np.sort(as_values(y))
    _check_group_sizes(xs, ys, 1, "Cliff's delta")
    below = np.searchsorted(ys, xs, side="left")  # y < x
    not_above = np.searchsorted(ys, xs, side="right")  # y <= x
    greater = int(below.sum())
    less = int((ys.size - not_above).sum())
    return (greater - less) / (xs.size * ys.size)


def mann_whitney(
    x: Values,
    y: Values,
    alternative: Alternative = "two-sided",
    *,
    permutation_below: int = PERMUTATION_BELOW,
    rng: np.random.Generator | int | None = 0,
    n_resamples: int = 9999,
) -> GroupComparison:
    """Mann-Whitney U test of ``x`` against ``y`` with Cliff's delta.

    Parameters
    ----------
    x, y : histogram or sequence of float
        The two groups' respondent-level values (e.g. construct-score histograms of the
        involved and of the observers).
    alternative : {"two-sided", "less", "greater"}
        ``"less"``: values in ``x`` tend to be smaller than in ``y``.
    permutation_below : int
        Use the permutation method while the smaller group has fewer values than this,
        the asymptotic normal approximation (tie-corrected, continuity-corrected) otherwise.
    rng : numpy.random.Generator or int or None
        Random source of the permutation method when the permutations are too many to
        enumerate (at most ``n_resamples`` distinct splits are enumerated exactly).
    n_resamples : int
        Permutations drawn, or the enumeration limit.

    Returns
    -------
    GroupComparison
        ``u`` is the U statistic of ``x``; ``method`` is ``"permutation"``,
        ``"asymptotic"``, or ``"constant"`` when every value is the same (p = 1).

    Raises
    ------
    ValueError
        When a group has fewer than 2 values (a group of one person has no spread to
        compare, and identifies that person), ``alternative`` is unknown, or
        ``n_resamples`` is below 1.

    Notes
    -----
    Likert-derived scores tie heavily, and the exact U distribution assumes no ties; the
    permutation distribution of U given the observed values is exact with ties [1]_, [2]_.
    Computed by ``scipy.stats.mannwhitneyu`` with ``scipy.stats.PermutationMethod``.

    References
    ----------
    .. [1] H. B. Mann, D. R. Whitney, "On a test of whether one of two random variables is
       stochastically larger than the other", Ann. Math. Statist. 18 (1947) 50-60.
    .. [2] M. Hollander, D. A. Wolfe, E. Chicken, "Nonparametric Statistical Methods",
       3rd ed., Wiley (2014), section 4.1.
    """
    _check_alternative(alternative)
    xs, ys = as_values(x), as_values(y)
    _check_group_sizes(xs, ys, 2, "Mann-Whitney")
    permutation_below = _check_count(permutation_below, "permutation_below")
    n_resamples = _check_resamples(n_resamples)
    delta = cliffs_delta(xs, ys)
    if np.ptp(np.concatenate([xs, ys])) == 0:
        # Every value equal: no evidence either way (scipy would divide by a zero variance).
        u = xs.size * ys.size / 2
        return GroupComparison(u, 1.0, xs.size, ys.size, 0.0, "constant", alternative)
    if min(xs.size, ys.size) < permutation_below:
        method: object = stats.PermutationMethod(n_resamples=n_resamples, rng=rng)
        name = "permutation"
    else:
        method, name = "asymptotic", "asymptotic"
    result = stats.mannwhitneyu(xs, ys, alternative=alternative, method=method)
    return GroupComparison(
        float(result.statistic), float(result.pvalue), int(xs.size), int(ys.size), delta,
        name, alternative,
    )


def compare_shares(k_x: int, n_x: int, k_y: int, n_y: int) -> ShareComparison:
    """Two-sided Fisher's exact test of two shares (e.g. the "Yes" answers to a practice
    check after security incidents against those after availability incidents).

    Parameters
    ----------
    k_x, n_x, k_y, n_y : int
        Answers of interest and all answers counted, in each group.

    Returns
    -------
    ShareComparison

    Raises
    ------
    ValueError
        When a count is negative, ``k > n``, or a group has fewer than 2 answers.

    Notes
    -----
    Conditional exact test of the 2x2 table ``[[k_x, n_x - k_x], [k_y, n_y - k_y]]`` [1]_,
    two-sided by summing the tables no more likely than the observed one, via
    ``scipy.stats.fisher_exact``. Exact, so right for the small counts of one quarter's
    incident kinds, where a normal approximation is not.

    References
    ----------
    .. [1] R. A. Fisher, "The Design of Experiments", Oliver and Boyd (1935), section 2
       (the lady tasting tea: 3 of 4 against 1 of 4, two-sided p = 34/70 = 0.4857).
    """
    counts = [_check_count(v, name) for v, name in
              ((k_x, "k_x"), (n_x, "n_x"), (k_y, "k_y"), (n_y, "n_y"))]
    k_x, n_x, k_y, n_y = counts
    if k_x > n_x or k_y > n_y:
        raise ValueError("a count of answers of interest exceeds the answers counted")
    if n_x < 2 or n_y < 2:
        raise ValueError("each group needs at least 2 answers to compare")
    result = stats.fisher_exact([[k_x, n_x - k_x], [k_y, n_y - k_y]],
                                alternative="two-sided")
    return ShareComparison(k_x, n_x, k_y, n_y, k_x / n_x - k_y / n_y, float(result.pvalue))


# --------------------------------------------------------------------------- trend


def mann_kendall(
    series: Sequence[float] | np.ndarray,
    periods: Sequence[float] | np.ndarray | None = None,
    *,
    confidence_level: float = 0.95,
) -> Trend:
    """Mann-Kendall trend test (Kendall's tau of score against period), Theil-Sen slope.

    Parameters
    ----------
    series : sequence of float
        One score per period, in period order (e.g. percent favourable per month).
    periods : sequence of float, optional
        Period positions (e.g. month numbers, so that gaps count); ``0, 1, 2, ...`` if
        omitted. Must be strictly increasing.
    confidence_level : float
        Level of the Theil-Sen slope interval.

    Returns
    -------
    Trend
        ``s`` is the Mann-Kendall statistic, ``sum sign(y_j - y_i)`` over ``i < j``, and
        ``var_s`` its variance under no trend, corrected for tied scores; the two-sided
        p-value is scipy's ``kendalltau`` (exact without ties, normal with the
        tie-corrected variance otherwise).

    Raises
    ------
    ValueError
        With fewer than 5 periods: then even a perfectly monotone series has exact
        two-sided p = 2/4! = 0.083, so no trend can be claimed; use `change_since`.

    Notes
    -----
    The slope is the median of the pairwise slopes ``(y_j - y_i) / (x_j - x_i)`` [3]_, the
    intercept the median of ``y - slope x`` (as ``scipy.stats.theilslopes`` does). Its
    interval is Sen's [3]_: with the N pairwise slopes sorted and
    ``C = z(1 - alpha/2) sqrt(var_s)``, the bounds are the M1-th and (M2 + 1)-th slopes,
    ``M1 = (N - C) / 2`` and ``M2 = (N + C) / 2``, rounded outwards so that rounding never
    narrows the interval. ``var_s = [n(n-1)(2n+5) - sum t(t-1)(2t+5)] / 18`` over groups
    of t tied scores [2]_, [4]_: Likert-based percentages tie often, and the variance
    without that correction would give a wider interval than the test's own.

    References
    ----------
    .. [1] H. B. Mann, "Nonparametric tests against trend", Econometrica 13 (1945) 245-259.
    .. [2] M. G. Kendall, "Rank Correlation Methods", 4th ed., Griffin (1975).
    .. [3] P. K. Sen, "Estimates of the regression coefficient based on Kendall's tau",
       JASA 63 (1968) 1379-1389.
    .. [4] R. O. Gilbert, "Statistical Methods for Environmental Pollution Monitoring",
       Van Nostrand Reinhold (1987), sections 16.4-16.5.
    """
    y = as_values(series)
    n = int(y.size)
    if n < MIN_TREND_PERIODS:
        raise ValueError(
            f"a trend needs at least {MIN_TREND_PERIODS} periods, got {n}; "
            "show the change since the first period instead"
        )
    _check_confidence(confidence_level)
    x = np.arange(n, dtype=float) if periods is None else as_values(periods)
    if x.size != n:
        raise ValueError(f"periods has {x.size} entries for {n} scores")
    if np.any(np.diff(x) <= 0):
        raise ValueError("periods must be strictly increasing")
    i, j = np.triu_indices(n, k=1)
    s = int(np.sign(y[j] - y[i]).sum())
    var_s = kendall_s_variance(y)
    change_span = float(x[-1] - x[0])
    if np.ptp(y) == 0:
        level = float(y[0])
        return Trend(0.0, 0, 1.0, 0.0, level, 0.0, 0.0, n, 0.0, var_s)
    tau = stats.kendalltau(x, y)
    slopes = np.sort((y[j] - y[i]) / (x[j] - x[i]))
    slope = float(np.median(slopes))
    low, high = _sen_interval(slopes, var_s, confidence_level)
    return Trend(
        tau=float(tau.statistic),
        s=s,
        pvalue=float(tau.pvalue),
        slope=slope,
        intercept=float(np.median(y - slope * x)),
        slope_low=low,
        slope_high=high,
        n_periods=n,
        change=slope * change_span,
        var_s=var_s,
    )


def kendall_s_variance(scores: Sequence[float] | np.ndarray) -> float:
    """Variance of Kendall's S under no trend, corrected for tied scores.

    ``[n(n-1)(2n+5) - sum t(t-1)(2t+5)] / 18``, summed over the groups of t equal scores
    (Kendall 1975, eq. 4.3; periods never tie, so only the scores' ties enter).
    """
    y = as_values(scores)
    n = int(y.size)
    _, ties = np.unique(y, return_counts=True)
    tied = sum(int(t) * (int(t) - 1) * (2 * int(t) + 5) for t in ties)
    return (n * (n - 1) * (2 * n + 5) - tied) / 18


def _sen_interval(
    slopes: np.ndarray, var_s: float, confidence_level: float
) -> tuple[float, float]:
    """Sen's (1968) interval from the sorted pairwise slopes, ranks rounded outwards."""
    count = int(slopes.size)
    c = z_quantile(confidence_level) * math.sqrt(var_s)
    lower = max(math.floor((count - c) / 2), 1)
    upper = min(math.ceil((count + c) / 2) + 1, count)
    return float(slopes[lower - 1]), float(slopes[upper - 1])


def change_since(first: float, last: float) -> Change:
    """The plain difference ``last - first``, shown instead of a trend below 5 periods."""
    for name, value in (("first", first), ("last", last)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
            raise ValueError(f"{name} must be a number, got {value!r}")
        if not math.isfinite(value):
            raise ValueError(f"{name} must be finite, got {value!r}")
    return Change(float(first), float(last), float(last) - float(first))


# --------------------------------------------------------------------------- multiplicity


def benjamini_hochberg(
    pvalues: Sequence[float] | np.ndarray, q: float = 0.10
) -> FDRResult:
    """Benjamini-Hochberg adjusted p-values; tests with adjusted p <= q are rejected.

    Parameters
    ----------
    pvalues : sequence of float
        The p-values of all the tests shown on one page.
    q : float
        False discovery rate.

    Notes
    -----
    Step-up procedure of Benjamini and Hochberg [1]_, via
    ``scipy.stats.false_discovery_control(method="bh")``. Controls the expected share of
    false flags among flags at ``q`` for independent or positively dependent tests.

    References
    ----------
    .. [1] Y. Benjamini, Y. Hochberg, "Controlling the false discovery rate: a practical and
       powerful approach to multiple testing", JRSS B 57 (1995) 289-300.
    """
    if not 0 < q < 1:
        raise ValueError(f"q must be between 0 and 1, got {q!r}")
    ps = np.asarray(pvalues, dtype=float)
    if ps.ndim != 1:
        raise ValueError("pvalues must be one-dimensional")
    if ps.size == 0:
        return FDRResult((), (), q)
    if not np.all(np.isfinite(ps)) or np.any(ps < 0) or np.any(ps > 1):
        raise ValueError("p-values must lie between 0 and 1")
    adjusted = np.asarray(stats.false_discovery_control(ps, method="bh"), dtype=float)
    return FDRResult(
        tuple(float(p) for p in adjusted), tuple(bool(p <= q) for p in adjusted), q
    )
