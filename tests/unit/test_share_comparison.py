"""Fisher's exact test of two shares, against hand-worked hypergeometric sums."""

from __future__ import annotations

from math import comb

import pytest

from analysis import stats


def fisher_by_hand(a: int, n1: int, c: int, n2: int) -> float:
    """Two-sided Fisher p: the probabilities of every table with the same margins that is
    no more likely than the observed one, summed (hypergeometric, by enumeration)."""
    total, yes = n1 + n2, a + c

    def prob(x: int) -> float:
        return comb(n1, x) * comb(n2, yes - x) / comb(total, yes)

    observed = prob(a)
    return sum(prob(x) for x in range(max(0, yes - n2), min(yes, n1) + 1)
               if prob(x) <= observed * (1 + 1e-7))


def test_lady_tasting_tea():
    # Fisher (1935): 3 of 4 cups right against 1 of 4, p = 34/70.
    result = stats.compare_shares(3, 4, 1, 4)
    assert result.pvalue == pytest.approx(34 / 70)
    assert result.difference == pytest.approx(0.5)


def test_complete_separation():
    # 6 of 6 against 0 of 6: only the two extreme tables, each 1 / C(12, 6) = 1/924.
    result = stats.compare_shares(6, 6, 0, 6)
    assert result.pvalue == pytest.approx(2 / 924)
    assert (result.share_x, result.share_y) == (1.0, 0.0)


@pytest.mark.parametrize("counts", [(8, 10, 1, 6), (2, 9, 5, 7), (4, 12, 4, 12)])
def test_against_enumeration(counts):
    assert stats.compare_shares(*counts).pvalue == pytest.approx(fisher_by_hand(*counts))


@pytest.mark.parametrize("counts", [(3, 2, 1, 4), (1, 1, 1, 4), (-1, 4, 1, 4), (1.5, 4, 1, 4)])
def test_bad_counts(counts):
    with pytest.raises(ValueError):
        stats.compare_shares(*counts)
