"""analysis.stats against reference values computed independently of scipy.

References are worked by hand (arithmetic in the comments), taken from a published example,
or computed with a different method in plain Python (exact enumeration of permutations, the
closed-form Wilson interval, the Mann-Kendall S statistic and its variance).
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest

from analysis import stats

Z975 = 1.959963984540054  # standard normal 97.5% quantile (published tables: 1.959964)


def wilson_by_hand(k: int, n: int, z: float = Z975) -> tuple[float, float]:
    """Wilson (1927) closed form: (k + z^2/2 +- z sqrt(k(n-k)/n + z^2/4)) / (n + z^2)."""
    centre = k + z * z / 2
    half = z * math.sqrt(k * (n - k) / n + z * z / 4)
    return (centre - half) / (n + z * z), (centre + half) / (n + z * z)


def u_statistic(x, y) -> float:
    """U of x: pairs with x > y, plus half the ties."""
    return sum(1.0 if a > b else 0.5 if a == b else 0.0 for a in x for b in y)


def permutation_pvalues(x, y) -> dict[str, float]:
    """Exact permutation p-values of U by enumerating every split of the pooled values."""
    pooled = list(x) + list(y)
    observed = u_statistic(x, y)
    us = []
    for chosen in itertools.combinations(range(len(pooled)), len(x)):
        rest = [pooled[i] for i in range(len(pooled)) if i not in chosen]
        us.append(u_statistic([pooled[i] for i in chosen], rest))
    total = len(us)
    less = sum(u <= observed for u in us) / total
    greater = sum(u >= observed for u in us) / total
    return {"less": less, "greater": greater, "two-sided": min(1.0, 2 * min(less, greater))}


def kendall_s(values) -> int:
    return sum(
        (b > a) - (b < a) for i, a in enumerate(values) for b in values[i + 1:]
    )


# --------------------------------------------------------------------------- proportions


def test_wilson_interval_matches_closed_form_for_four_of_five():
    # By hand: z^2 = 3.841459; n + z^2 = 8.841459; k + z^2/2 = 5.920729;
    # sqrt(4*1/5 + z^2/4) = sqrt(0.8 + 0.960365) = 1.326787; half = 1.959964*1.326787/8.841459
    # = 0.294121; centre = 0.669656  ->  0.375535 to 0.963777 (BACKGROUND: "38% to 96%").
    result = stats.proportion(4, 5)
    low, high = wilson_by_hand(4, 5)
    assert result.low == pytest.approx(100 * low, abs=1e-6)
    assert result.high == pytest.approx(100 * high, abs=1e-6)
    assert result.low == pytest.approx(37.5535, abs=1e-3)
    assert result.high == pytest.approx(96.3777, abs=1e-3)
    assert result.pct == pytest.approx(80.0, abs=1e-12)


@pytest.mark.parametrize("k,n", [(0, 5), (5, 5), (6, 10), (9, 20), (1, 1), (37, 120)])
def test_wilson_interval_matches_closed_form(k, n):
    result = stats.proportion(k, n)
    low, high = wilson_by_hand(k, n)
    assert result.low == pytest.approx(100 * low, abs=1e-6)
    assert result.high == pytest.approx(100 * high, abs=1e-6)


def test_percent_favourable_excludes_does_not_apply_and_reverse_keys():
    counts = {1: 1, 2: 1, 3: 1, 4: 3, 5: 1, 0: 2}
    # "Doesn't apply" (2) is left out: n = 1+1+1+3+1 = 7.
    # Positive item: agree or strongly agree = 3 + 1 = 4 -> 4/7 = 57.142857%.
    plain = stats.percent_favourable(counts, reverse=False)
    assert (plain.favourable, plain.n) == (4, 7)
    assert plain.pct == pytest.approx(400 / 7, abs=1e-9)
    assert plain.low == pytest.approx(100 * wilson_by_hand(4, 7)[0], abs=1e-6)
    # Reverse-keyed: disagree or strongly disagree = 1 + 1 = 2 -> 2/7 = 28.571429%.
    reverse = stats.percent_favourable(counts, reverse=True)
    assert (reverse.favourable, reverse.n) == (2, 7)
    assert reverse.pct == pytest.approx(200 / 7, abs=1e-9)


def test_construct_percent_is_mean_of_item_percents():
    a = stats.percent_favourable({4: 4, 1: 3}, reverse=False)  # 4/7 = 57.142857%
    b = stats.percent_favourable({1: 1, 2: 1, 5: 5, 0: 9}, reverse=True)  # 2/7 = 28.571429%
    result = stats.construct_percent_favourable([a, b])
    # (400/7 + 200/7) / 2 = 300/7 = 42.857143%; each item weighs the same.
    assert result.pct == pytest.approx(300 / 7, abs=1e-9)
    assert result.n_items == 2


@pytest.mark.parametrize(
    "counts",
    [{0: 3}, {}, {6: 1}, {4: -1}, {4: 1.5}, {-1: 2}],
)
def test_percent_favourable_refuses_bad_counts(counts):
    with pytest.raises(ValueError):
        stats.percent_favourable(counts, reverse=False)


def test_proportion_refuses_impossible_counts():
    for k, n in [(3, 2), (0, 0), (-1, 4)]:
        with pytest.raises(ValueError):
            stats.proportion(k, n)
    with pytest.raises(ValueError):
        stats.proportion(1, 2, confidence_level=1.5)
    with pytest.raises(ValueError):
        stats.construct_percent_favourable([])


# --------------------------------------------------------------------------- means


def test_t_interval_below_twenty_by_hand():
    # 1..5: mean 3, s^2 = (4+1+0+1+4)/4 = 2.5, sem = sqrt(2.5/5) = 0.70710678;
    # t(0.975, 4) = 2.7764451052 (published t table); half width = 1.9632431615.
    result = stats.mean_interval([1, 2, 3, 4, 5])
    assert result.method == "t"
    assert result.mean == pytest.approx(3.0, abs=1e-12)
    assert result.low == pytest.approx(3 - 2.7764451052 * math.sqrt(0.5), abs=1e-6)
    assert result.high == pytest.approx(3 + 2.7764451052 * math.sqrt(0.5), abs=1e-6)
    assert result.low == pytest.approx(1.0367568385, abs=1e-6)


def test_histogram_gives_the_same_mean_interval_as_its_values():
    histogram = {1.0: 2, 2.5: 3, 4.0: 4, 5.0: 1}
    values = [1.0] * 2 + [2.5] * 3 + [4.0] * 4 + [5.0]
    assert stats.mean_interval(histogram) == stats.mean_interval(values)
    big = {1.0: 3, 2.0: 5, 3.0: 9, 4.0: 12, 5.0: 6}
    big_values = np.repeat([1.0, 2.0, 3.0, 4.0, 5.0], [3, 5, 9, 12, 6])
    assert stats.mean_interval(big) == stats.mean_interval(big_values)


def bca_by_hand(values: np.ndarray, seed: int, n_resamples: int) -> tuple[float, float]:
    """Efron & Tibshirani (1993) eq. 14.14-14.15, written out independently of scipy."""
    from statistics import NormalDist

    normal = NormalDist()
    rng = np.random.default_rng(seed)
    n = values.size
    theta = values.mean()
    boot = values[rng.integers(0, n, size=(n_resamples, n))].mean(axis=1)
    # Share of bootstrap means below the estimate, ties counting half (discrete scores).
    z0 = normal.inv_cdf(float(np.mean(boot < theta) + np.mean(boot == theta) / 2))
    jack = (values.sum() - values) / (n - 1)
    d = jack.mean() - jack
    a = float((d**3).sum() / (6 * (d**2).sum() ** 1.5))
    ends = []
    for alpha in (0.025, 0.975):
        z = normal.inv_cdf(alpha)
        ends.append(normal.cdf(z0 + (z0 + z) / (1 - a * (z0 + z))))
    low, high = np.quantile(boot, ends)
    return float(low), float(high)


def test_bca_from_twenty_on_agrees_with_an_independent_bca():
    # Skewed construct scores (means of three items, so on a grid of thirds), as in a
    # construct where most people are favourable.
    scores = [1.0, 5 / 3, 7 / 3, 3.0, 11 / 3, 4.0, 13 / 3, 14 / 3, 5.0]
    values = np.repeat(scores, [1, 1, 2, 2, 3, 5, 5, 5, 6])
    result = stats.mean_interval(values, rng=7)
    assert result.method == "bca"
    assert result.n == 30
    low, high = bca_by_hand(values, seed=123, n_resamples=200_000)
    # Monte Carlo error of 9,999 resamples on a mean with sd ~1/sqrt(30): about 0.01.
    assert result.low == pytest.approx(low, abs=0.03)
    assert result.high == pytest.approx(high, abs=0.03)


def test_bootstrap_is_reproducible_with_a_seed():
    values = np.repeat([2.0, 3.0, 4.0, 5.0], [5, 6, 6, 8])
    assert stats.mean_interval(values, rng=1) == stats.mean_interval(values, rng=1)
    assert stats.mean_interval(values) == stats.mean_interval(values)  # default seed


def test_constant_values_give_a_zero_width_interval_without_warnings():
    result = stats.mean_interval({4.0: 25})
    assert (result.low, result.high, result.method) == (4.0, 4.0, "constant")


@pytest.mark.parametrize("data", [[3.0], [], [1.0, float("nan")], [[1, 2], [3, 4]], {2.0: -1}])
def test_mean_interval_refuses_bad_input(data):
    with pytest.raises(ValueError):
        stats.mean_interval(data)


# --------------------------------------------------------------------------- reliability

# Five respondents, three items, worked by hand:
#   item 1: 1 2 3 4 5  mean 3,   SS = 4+1+0+1+4 = 10          var 2.5
#   item 2: 2 2 4 4 3  mean 3,   SS = 1+1+1+1+0 = 4           var 1.0
#   item 3: 2 3 3 5 4  mean 3.4, SS = 1.96+.16+.16+2.56+.36 = 5.2   var 1.3
#   total:  5 7 10 13 12  mean 9.4, SS = 19.36+5.76+.36+12.96+6.76 = 45.2   var 11.3
#   alpha = 3/2 * (1 - 4.8/11.3) = 9.75/11.3 = 0.86283185840708
HAND = [[1, 2, 2], [2, 2, 3], [3, 4, 3], [4, 4, 5], [5, 3, 4]]
HAND_ALPHA = 9.75 / 11.3


def test_cronbach_alpha_by_hand():
    result = stats.cronbach_alpha(HAND, min_respondents=2)
    assert result.alpha == pytest.approx(HAND_ALPHA, abs=1e-9)
    assert (result.n, result.n_items, result.reason) == (5, 3, None)


def test_cronbach_alpha_on_thirty_respondents():
    # Repeating the five rows six times scales every sum of squares by 6 and every
    # denominator from 4 to 29: the ratio of variances, hence alpha, is unchanged.
    result = stats.cronbach_alpha(HAND * 6)
    assert result.n == 30
    assert result.alpha == pytest.approx(HAND_ALPHA, abs=1e-9)


def test_cronbach_alpha_is_withheld_below_thirty():
    result = stats.cronbach_alpha(HAND * 5)
    assert result.alpha is None
    assert "30" in result.reason


def test_cronbach_alpha_from_moments_by_hand():
    # Sums: S = (15, 15, 17); squares: Q = (55, 49, 63);
    # cross: C12 = 2+4+12+16+15 = 49, C13 = 2+6+9+20+20 = 57, C23 = 4+6+12+20+12 = 54.
    # cov12 = (49 - 15*15/5)/4 = 1, cov13 = (57 - 51)/4 = 1.5, cov23 = (54 - 51)/4 = 0.75;
    # var(total) = 2.5 + 1 + 1.3 + 2 * (1 + 1.5 + 0.75) = 11.3, as above.
    cross = [[0, 49, 57], [49, 0, 54], [57, 54, 0]]
    result = stats.cronbach_alpha_from_moments(
        5, [15, 15, 17], [55, 49, 63], cross, min_respondents=2
    )
    assert result.alpha == pytest.approx(HAND_ALPHA, abs=1e-9)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cronbach_alpha_from_moments_equals_matrix_version(seed):
    rng = np.random.default_rng(seed)
    trait = rng.normal(size=(60, 1))
    matrix = np.clip(np.rint(3 + trait + rng.normal(scale=0.8, size=(60, 4))), 1, 5)
    expected = stats.cronbach_alpha(matrix)
    got = stats.cronbach_alpha_from_moments(
        60, matrix.sum(axis=0), (matrix**2).sum(axis=0), matrix.T @ matrix
    )
    assert got.alpha == pytest.approx(expected.alpha, abs=1e-9)
    # Sums sealed on the raw scale, second item reverse-keyed in the function.
    keyed = matrix.copy()
    keyed[:, 1] = 6 - keyed[:, 1]
    got_reversed = stats.cronbach_alpha_from_moments(
        60, matrix.sum(axis=0), (matrix**2).sum(axis=0), matrix.T @ matrix,
        reverse=[False, True, False, False],
    )
    assert got_reversed.alpha == pytest.approx(stats.cronbach_alpha(keyed).alpha, abs=1e-9)


def test_cronbach_alpha_refuses_bad_input():
    with pytest.raises(ValueError):
        stats.cronbach_alpha([[1], [2], [3]])  # one item
    with pytest.raises(ValueError):
        stats.cronbach_alpha([[1, float("nan")], [2, 3]])
    with pytest.raises(ValueError):
        stats.cronbach_alpha([1, 2, 3])
    with pytest.raises(ValueError):  # not symmetric
        stats.cronbach_alpha_from_moments(5, [1, 2], [1, 4], [[0, 1], [2, 0]])
    with pytest.raises(ValueError):  # diagonal disagrees with the squares
        stats.cronbach_alpha_from_moments(5, [1, 2], [1, 4], [[2, 1], [1, 4]])
    with pytest.raises(ValueError):
        stats.cronbach_alpha_from_moments(5, [1, 2, 3], [1, 4], [[0, 1], [1, 0]])


def test_cronbach_alpha_withheld_when_total_does_not_vary():
    result = stats.cronbach_alpha([[3, 3]] * 30)
    assert result.alpha is None and result.reason


# --------------------------------------------------------------------------- two groups

# x = 1 2 2 3, y = 2 3 4 4 5, pairs by hand:
#   x=1: below all five y            -> x<y 5
#   x=2 (twice): ties y=2, below 3,4,4,5  -> x<y 4, tie 1 (each)
#   x=3: above y=2, tie y=3, below 4,4,5  -> x>y 1, tie 1, x<y 3
#   x>y = 1, x<y = 16, ties = 3 of 20 pairs; U = 1 + 3/2 = 2.5; delta = (1-16)/20 = -0.75
SMALL_X = [1, 2, 2, 3]
SMALL_Y = [2, 3, 4, 4, 5]


def test_cliffs_delta_by_hand():
    assert stats.cliffs_delta(SMALL_X, SMALL_Y) == pytest.approx(-0.75, abs=1e-12)
    assert stats.cliffs_delta(SMALL_Y, SMALL_X) == pytest.approx(0.75, abs=1e-12)
    # 2U/(n1 n2) - 1 = 5/20 - 1
    assert stats.cliffs_delta({1: 1, 2: 2, 3: 1}, {2: 1, 3: 1, 4: 2, 5: 1}) == -0.75


@pytest.mark.parametrize("alternative", ["two-sided", "less", "greater"])
def test_mann_whitney_permutation_equals_exact_enumeration(alternative):
    # C(9, 4) = 126 splits: fewer than 9,999, so scipy enumerates them all, as we do.
    result = stats.mann_whitney(SMALL_X, SMALL_Y, alternative)
    assert result.method == "permutation"
    assert result.u == pytest.approx(2.5, abs=1e-12)
    assert result.cliffs_delta == pytest.approx(-0.75, abs=1e-12)
    expected = permutation_pvalues(SMALL_X, SMALL_Y)[alternative]
    assert result.pvalue == pytest.approx(expected, abs=1e-9)


def test_mann_whitney_on_histograms_with_heavy_ties():
    x = {1.0: 2, 2.0: 3, 3.0: 2}
    y = {3.0: 2, 4.0: 3, 5.0: 2}
    xs = [1.0] * 2 + [2.0] * 3 + [3.0] * 2
    ys = [3.0] * 2 + [4.0] * 3 + [5.0] * 2
    # C(14, 7) = 3432 splits, enumerated.
    result = stats.mann_whitney(x, y, "less")
    assert result.pvalue == pytest.approx(permutation_pvalues(xs, ys)["less"], abs=1e-9)
    assert result.u == pytest.approx(u_statistic(xs, ys), abs=1e-12)


def test_mann_whitney_asymptotic_from_thirty_matches_normal_formula():
    x = {1.0: 5, 2.0: 10, 3.0: 10, 4.0: 8, 5.0: 2}
    y = {1.0: 1, 2.0: 4, 3.0: 10, 4.0: 15, 5.0: 10}
    xs, ys = stats.expand_histogram(x), stats.expand_histogram(y)
    n1, n2 = xs.size, ys.size
    n = n1 + n2
    u = u_statistic(xs, ys)
    # Tie-corrected variance (Hollander & Wolfe): n1 n2/12 * ((n+1) - sum(t^3 - t)/(n(n-1)))
    ties = [6, 14, 20, 23, 12]  # pooled counts of 1..5
    assert sum(ties) == n
    var = n1 * n2 / 12 * ((n + 1) - sum(t**3 - t for t in ties) / (n * (n - 1)))
    z = (u - n1 * n2 / 2 + 0.5) / math.sqrt(var)  # continuity-corrected, "less"
    expected = 0.5 * math.erfc(-z / math.sqrt(2))
    result = stats.mann_whitney(x, y, "less")
    assert result.method == "asymptotic"
    assert result.pvalue == pytest.approx(expected, rel=1e-9)
    assert result.cliffs_delta == pytest.approx(2 * u / (n1 * n2) - 1, abs=1e-12)


def test_mann_whitney_permutation_is_seeded_when_it_cannot_enumerate():
    rng = np.random.default_rng(3)
    x = rng.integers(1, 6, 15).astype(float)
    y = rng.integers(2, 6, 18).astype(float)
    first = stats.mann_whitney(x, y)
    assert first.method == "permutation"
    assert stats.mann_whitney(x, y) == first


def test_mann_whitney_refuses_empty_group_and_handles_constant_data():
    with pytest.raises(ValueError, match="x has 0"):
        stats.mann_whitney([], [1, 2])
    with pytest.raises(ValueError, match="alternative"):
        stats.mann_whitney([1, 2], [3, 4], "bigger")
    constant = stats.mann_whitney([3, 3, 3], [3, 3])
    assert constant.pvalue == 1.0 and constant.cliffs_delta == 0.0


@pytest.mark.parametrize("x,y,named", [
    ([1.0], [2.0, 3.0, 4.0], "x has 1"),
    ({2.0: 3}, {4.0: 1}, "y has 1"),
    ([3.0], [3.0, 3.0], "x has 1"),  # refused before the all-equal shortcut, too
])
def test_mann_whitney_refuses_a_group_of_one_and_names_it(x, y, named):
    with pytest.raises(ValueError, match=f"at least 2 values in each group; {named}"):
        stats.mann_whitney(x, y)
    # Also on the asymptotic path, where scipy itself would not refuse.
    with pytest.raises(ValueError, match=named):
        stats.mann_whitney(x, y, permutation_below=0)


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_resample_counts_must_be_positive_whole_numbers(bad):
    with pytest.raises(ValueError, match="n_resamples"):
        stats.mann_whitney([1, 2, 3], [2, 3, 4], n_resamples=bad)
    with pytest.raises(ValueError, match="n_resamples"):
        stats.mean_interval(list(range(25)), n_resamples=bad)


def test_cliffs_delta_names_the_empty_group():
    with pytest.raises(ValueError, match="y has 0"):
        stats.cliffs_delta([1, 2], {})


# --------------------------------------------------------------------------- trend

# S for 80 75 76 60 55 50, pair by pair (sign of later minus earlier):
#   80: - - - - -  = -5;  75: + - - - = -2;  76: - - - = -3;  60: - - = -2;  55: - = -1
#   S = -13, tau = -13/15 = -0.8666667.
# Theil-Sen: the 15 pairwise slopes sorted are
#   -16, -10.5, -8.667, -7.5, -6.667, -6.667, -6.25, -6.25, -6, -5, -5, -5, -5, -2, 1;
#   the median (8th) is -6.25, and the change over 5 periods is -31.25.
SERIES = [80, 75, 76, 60, 55, 50]


def exact_two_sided_p(values) -> float:
    """Exact Mann-Kendall p by enumerating every ordering of distinct values."""
    observed = abs(kendall_s(values))
    orders = list(itertools.permutations(values))
    return sum(abs(kendall_s(order)) >= observed for order in orders) / len(orders)


def test_mann_kendall_without_ties_by_enumeration():
    result = stats.mann_kendall(SERIES)
    assert result.s == kendall_s(SERIES) == -13
    assert result.tau == pytest.approx(-13 / 15, abs=1e-12)
    assert result.pvalue == pytest.approx(exact_two_sided_p(SERIES), abs=1e-9)
    assert result.slope == pytest.approx(-6.25, abs=1e-12)
    assert result.change == pytest.approx(-31.25, abs=1e-12)
    assert result.n_periods == 6


def test_mann_kendall_with_ties_uses_tie_corrected_variance():
    series = [70, 70, 65, 65, 60]
    # S: 70,70 -> 0; each 70 against 65,65,60 -> -3 (twice); 65,65 -> 0; each 65 vs 60 -> -1
    # S = -8. Var(S) = [n(n-1)(2n+5) - sum t(t-1)(2t+5)]/18 = (300 - 18 - 18)/18 = 14.6667
    # (Kendall 1975); z = -8/sqrt(14.6667) = -2.0889, p = erfc(|z|/sqrt 2) = 0.036714.
    result = stats.mann_kendall(series)
    assert result.s == -8
    z = -8 / math.sqrt(264 / 18)
    assert result.pvalue == pytest.approx(math.erfc(abs(z) / math.sqrt(2)), abs=1e-9)


def test_five_periods_is_the_least_that_can_reach_significance():
    # Exact two-sided p of a perfectly monotone series is 2/n!: 2/24 = 0.083 with 4 periods,
    # 2/120 = 0.0167 with 5. Hence the 5-period minimum.
    assert exact_two_sided_p([4, 3, 2, 1]) == pytest.approx(2 / 24, abs=1e-12)
    assert exact_two_sided_p([5, 4, 3, 2, 1]) == pytest.approx(2 / 120, abs=1e-12)
    assert stats.mann_kendall([5, 4, 3, 2, 1]).pvalue == pytest.approx(2 / 120, abs=1e-9)
    assert stats.MIN_TREND_PERIODS == 5
    with pytest.raises(ValueError, match="change"):
        stats.mann_kendall([4, 3, 2, 1])


# Sen's interval with tied scores, worked by hand: y = 60 60 60 40 70 60 at x = 0..5.
#   The 15 pairwise slopes (y_j - y_i)/(j - i), sorted:
#     -20, -10, -10, -6.667, 0, 0, 0, 0, 0, 0, 2.5, 3.333, 5, 10, 30   (median, 8th: 0)
#   S = 5 positive - 4 negative = 1.
#   Var(S) = [n(n-1)(2n+5) - sum t(t-1)(2t+5)]/18 with one tie group of four 60s:
#     (6*5*17 - 4*3*13)/18 = (510 - 156)/18 = 354/18 = 19.6667   (no ties: 510/18 = 28.33)
#   C = 1.959964 * sqrt(19.6667) = 8.69187; M1 = (15 - C)/2 = 3.154, M2 = (15 + C)/2 = 11.846
#   rounded outwards: the 3rd and the (12 + 1)th slopes -> -10 to 5.
#   Without the tie correction C = 10.43271, M1 = 2.284, M2 = 12.716 -> 2nd and 14th: -10 to 10.
TIED = [60, 60, 60, 40, 70, 60]


def test_sen_interval_uses_the_tie_corrected_variance_by_hand():
    result = stats.mann_kendall(TIED)
    assert result.var_s == pytest.approx(354 / 18, abs=1e-12)
    assert stats.kendall_s_variance(TIED) == pytest.approx(354 / 18, abs=1e-12)
    assert result.s == kendall_s(TIED) == 1
    assert result.slope == 0.0
    assert (result.slope_low, result.slope_high) == (pytest.approx(-10.0), pytest.approx(5.0))
    # The test's p-value uses the same variance: z = 1 / sqrt(19.6667) (no continuity
    # correction in scipy's kendalltau), p = erfc(|z| / sqrt 2).
    z = 1 / math.sqrt(354 / 18)
    assert result.pvalue == pytest.approx(math.erfc(z / math.sqrt(2)), abs=1e-9)


def test_sen_interval_without_ties_by_hand():
    # SERIES has no ties: Var(S) = 6*5*17/18 = 28.3333, C = 10.43271, M1 = 2.284,
    # M2 = 12.716 -> the 2nd and 14th of the sorted slopes listed above: -10.5 and -2.
    result = stats.mann_kendall(SERIES)
    assert result.var_s == pytest.approx(510 / 18, abs=1e-12)
    assert (result.slope_low, result.slope_high) == (pytest.approx(-10.5), pytest.approx(-2.0))


@pytest.mark.slow
def test_sen_interval_covers_the_true_slope_of_tied_percent_series():
    """Percent favourable of 8 people a period (heavy ties), 6 periods, true slope 0 or -2
    points a period: the 95% interval covers the true slope at least 95% of the time."""
    rng = np.random.default_rng(20261128)
    for slope in (0.0, -2.0):
        covered = 0
        for _ in range(2000):
            share = 0.6 + slope / 100 * np.arange(6)
            series = 100 * rng.binomial(8, share) / 8
            if np.ptp(series) == 0:
                covered += 1  # a flat series: the interval is the single slope 0
                continue
            trend = stats.mann_kendall(series)
            covered += trend.slope_low <= slope <= trend.slope_high
        assert covered / 2000 >= 0.95


def test_mann_kendall_with_period_gaps_and_flat_series():
    # Periods 0, 1, 2, 4, 5 (one month missing): slopes use the real spacing.
    result = stats.mann_kendall([50, 52, 54, 58, 60], periods=[0, 1, 2, 4, 5])
    assert result.slope == pytest.approx(2.0, abs=1e-12)
    assert result.change == pytest.approx(10.0, abs=1e-12)
    flat = stats.mann_kendall([60, 60, 60, 60, 60])
    assert (flat.s, flat.pvalue, flat.change) == (0, 1.0, 0.0)
    with pytest.raises(ValueError):
        stats.mann_kendall([1, 2, 3, 4, 5], periods=[0, 1, 1, 2, 3])


def test_change_since():
    result = stats.change_since(62.5, 50.0)
    assert result.change == pytest.approx(-12.5, abs=1e-12)
    with pytest.raises(ValueError):
        stats.change_since(float("nan"), 3)


# --------------------------------------------------------------------------- BH


def test_benjamini_hochberg_by_hand():
    # Sorted 0.01, 0.03, 0.04, 0.20; p * m / rank = 0.04, 0.06, 0.0533, 0.20; the running
    # minimum from the top gives 0.04, 0.0533, 0.0533, 0.20 (in input order below).
    result = stats.benjamini_hochberg([0.01, 0.04, 0.03, 0.2])
    assert result.adjusted == pytest.approx((0.04, 0.16 / 3, 0.16 / 3, 0.2), abs=1e-12)
    assert result.rejected == (True, True, True, False)


def test_benjamini_hochberg_published_example():
    # Benjamini & Hochberg (1995), worked example (15 p-values of Neuhaus et al.): at
    # q = 0.05 the procedure
    # rejects the four smallest (0.0095 <= 4/15 * 0.05 = 0.0133; 0.0201 > 5/15 * 0.05).
    ps = [0.0201, 0.0001, 0.0004, 0.0019, 0.0095, 0.0278, 0.0298, 0.0344, 0.0459,
          0.3240, 0.4262, 0.5719, 0.6528, 0.7590, 1.0000]
    result = stats.benjamini_hochberg(ps, q=0.05)
    assert [p for p, r in zip(ps, result.rejected, strict=True) if r] == [
        0.0001, 0.0004, 0.0019, 0.0095
    ]
    assert result.adjusted[4] == pytest.approx(float(Fraction("0.0095") * 15 / 4), abs=1e-12)


def test_benjamini_hochberg_refuses_bad_input():
    assert stats.benjamini_hochberg([]).adjusted == ()
    for bad in ([1.2], [-0.1], [float("nan")]):
        with pytest.raises(ValueError):
            stats.benjamini_hochberg(bad)
    with pytest.raises(ValueError):
        stats.benjamini_hochberg([0.5], q=0)


def test_closed_form_wilson_matches_scipy_everywhere_at_small_n():
    """The closed form replaced binomtest(...).proportion_ci(method="wilson") for speed;
    scipy is the independent reference here."""
    from scipy import stats as scipy_stats

    for n in range(1, 41):
        for k in range(n + 1):
            for level in (0.9, 0.95):
                ci = scipy_stats.binomtest(k, n).proportion_ci(confidence_level=level,
                                                               method="wilson")
                result = stats.proportion(k, n, level)
                assert result.low == pytest.approx(100 * ci.low, abs=1e-9)
                assert result.high == pytest.approx(100 * ci.high, abs=1e-9)
