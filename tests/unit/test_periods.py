"""Calendar periods (analysis/periods.py): the one module that names, orders and ends them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from analysis import periods
from analysis.series import summarise

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("when, grain, period", [
    (datetime(2026, 1, 1, tzinfo=UTC), "quarter", "2026-Q1"),
    (datetime(2026, 12, 31, 23, 59, tzinfo=UTC), "quarter", "2026-Q4"),
    (datetime(2026, 11, 20, tzinfo=UTC), "month", "2026-11"),
    # 00:30 on 1 Jan in UTC+2 is still 31 Dec in UTC
    (datetime(2027, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=2))), "month", "2026-12"),
])
def test_calendar_periods(when, grain, period):
    assert periods.calendar_period(when, grain) == period


def test_a_period_is_over_only_after_its_last_moment():
    assert periods.period_over("2026-Q3", NOW) and not periods.period_over("2026-Q4", NOW)
    assert periods.period_over("2026-10", NOW) and not periods.period_over("2026-11", NOW)
    assert periods.period_over("2025-12", NOW)
    assert not periods.period_over("2026-11", datetime(2026, 11, 30, 23, 59, 59, tzinfo=UTC))
    assert periods.period_over("2026-11", datetime(2026, 12, 1, tzinfo=UTC))
    with pytest.raises(ValueError):
        periods.calendar_period(NOW, "week")


@pytest.mark.parametrize("period, start, end", [
    ("2026-Q4", datetime(2026, 10, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),
    ("2026-12", datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),
    ("2026-02", datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC)),
])
def test_start_and_end(period, start, end):
    assert periods.period_start(period) == start
    assert periods.period_end(period) == end


def test_names_labels_and_positions():
    assert periods.period_label("2026-Q3") == "2026 Q3"
    assert periods.period_label("2026-02") == "Feb 2026"
    assert periods.period_index("2026-01") - periods.period_index("2025-12") == 1
    assert periods.period_index("2026-Q1") - periods.period_index("2025-Q4") == 1
    assert periods.quarter_of("2026-11") == "2026-Q4"
    # A month is decided before the quarter that ends with it.
    assert sorted(["2026-Q4", "2026-12", "2026-11"], key=periods.sort_key) == \
        ["2026-11", "2026-12", "2026-Q4"]


@pytest.mark.parametrize("raw", ["2026-13", "2026-Q5", "2026-00", "26-Q1", "2026Q1", "",
                                 "2026-1", "０２０２-Q1", "2026-Q1x", None, 2026, "0000-01"])
def test_invalid_periods_are_refused(raw):
    assert not periods.valid_period(raw)
    if isinstance(raw, str):
        with pytest.raises(ValueError):
            periods.grain_of(raw)


def test_a_series_gets_a_trend_only_from_five_periods():
    months = ["2026-01", "2026-02", "2026-03", "2026-05", "2026-06"]
    assert summarise("x", [("2026-01", 50.0)]).method == "none"
    four = summarise("x", [(m, 50.0 + i) for i, m in enumerate(months[:4])])
    assert four.method == "change_since" and four.change.change == pytest.approx(3.0)
    assert "not a trend" in four.words
    five = summarise("x", [(m, 60.0 - 5 * i) for i, m in enumerate(months)])
    # Perfectly decreasing over 5 points: exact two-sided Kendall p = 2/5! = 0.0167.
    assert five.method == "mann_kendall" and five.trend.pvalue == pytest.approx(2 / 120)
    # The gap in April counts: the slope is per month, the change over five months.
    assert five.trend.change < 0
    with pytest.raises(ValueError):
        summarise("x", [("2026-02", 1.0), ("2026-01", 2.0)])
    with pytest.raises(ValueError):
        summarise("x", [("2026-01", 1.0), ("2026-Q2", 2.0)])
