import pytest

from analysis import scoring


def test_favourable_positive_statement():
    # 2 strongly agree + 1 agree of 1+1+1+1+2 answered; 3 doesn't apply excluded
    tally = scoring.favourable({1: 1, 2: 1, 3: 1, 4: 1, 5: 2, 0: 3}, reverse=False)
    assert (tally.hits, tally.n) == (3, 6)
    assert tally.pct == pytest.approx(50.0)


def test_favourable_reverse_statement_counts_disagreement():
    tally = scoring.favourable({1: 2, 2: 1, 4: 1}, reverse=True)
    assert (tally.hits, tally.n) == (3, 4)


def test_contrary_share_includes_not_sure_in_the_base():
    tally = scoring.contrary({1: 3, 2: 4, 3: 1}, frozenset({1}), frozenset({1, 2, 3}))
    assert (tally.hits, tally.n) == (3, 8)


def test_empty_and_negative():
    assert scoring.favourable({}, reverse=False).pct is None
    with pytest.raises(ValueError):
        scoring.favourable({4: -1}, reverse=False)


def test_construct_mean_of_item_percents():
    tallies = [scoring.Tally(1, 2), scoring.Tally(3, 4), scoring.Tally(0, 0)]
    assert scoring.mean_of_pcts(tallies) == pytest.approx((50 + 75) / 2)
    assert scoring.mean_of_pcts([]) is None
