"""The at-a-glance pieces: a statement's three shares, the headline interval, the bar."""

from __future__ import annotations

import pytest

from analysis import glance, stats


def test_split_counts_reverse_keyed_statements_the_other_way():
    counts = {1: 2, 2: 1, 3: 1, 4: 3, 5: 1, 0: 4}  # 8 answers, 4 "Doesn't apply" left out
    plain = glance.split(counts, reverse=False)
    assert (plain.favourable, plain.neutral, plain.unfavourable, plain.n) == (50, 12.5, 37.5, 8)
    reverse = glance.split(counts, reverse=True)
    assert (reverse.favourable, reverse.unfavourable) == (37.5, 50)
    assert glance.split({0: 3}, reverse=False) is None


def test_split_agrees_with_percent_favourable():
    counts = {1: 1, 2: 2, 3: 3, 4: 4, 5: 5}
    for reverse in (False, True):
        assert glance.split(counts, reverse).favourable == pytest.approx(
            stats.percent_favourable(counts, reverse).pct)


def test_headline_interval_is_the_wilson_interval_at_the_fewest_answers():
    share = stats.proportion(3, 6)
    interval = glance.headline_interval(50.0, 6)
    assert (interval.low, interval.high) == pytest.approx((share.low, share.high))
    assert interval.low < 50 < interval.high
    wide, narrow = glance.headline_interval(80, 6), glance.headline_interval(80, 60)
    assert wide.high - wide.low > narrow.high - narrow.low
    with pytest.raises(ValueError):
        glance.headline_interval(50, 0)


def test_diverging_bar_sits_either_side_of_the_centre_line():
    geometry = glance.diverging(glance.Split(60, 20, 20, 10), width=200)
    parts = {s.name: s for s in geometry.segments}
    assert geometry.centre == 100
    assert parts["neutral"].x + parts["neutral"].width / 2 == pytest.approx(100)
    assert parts["unfavourable"].x + parts["unfavourable"].width == pytest.approx(90)
    assert parts["favourable"].x == pytest.approx(110) and parts["favourable"].width == 60
    assert "60% favourable, 20% neutral, 20% unfavourable, of 10 answers" == geometry.words
    empty = glance.diverging(glance.Split(100, 0, 0, 5))
    assert [s.name for s in empty.segments] == ["favourable"]
