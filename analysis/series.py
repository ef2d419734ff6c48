"""A score over calendar periods: trend when it can be claimed, else change since.

The one place that decides what a series of released figures supports: a Mann-Kendall
trend with its Theil-Sen slope from ``analysis.stats.MIN_TREND_PERIODS`` periods on (with
fewer, even a perfectly monotone series cannot reach p < 0.05), the plain change since the
first period from two periods on, nothing below. Pages, exports and the API describe a
series with :func:`summarise` and print :attr:`Summary.words`; none counts periods itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from analysis import stats
from analysis.periods import period_index, period_label

TREND = "mann_kendall"
CHANGE = "change_since"
NONE = "none"


@dataclass(frozen=True)
class Summary:
    """What a series of percent-favourable figures supports.

    ``method`` is ``"mann_kendall"`` (``trend`` set), ``"change_since"`` (``change`` set)
    or ``"none"``; ``periods`` and ``values`` are the points it was computed from.
    """

    label: str
    periods: tuple[str, ...]
    values: tuple[float, ...]
    method: str
    trend: stats.Trend | None = None
    change: stats.Change | None = None

    @property
    def words(self) -> str:
        """One sentence in plain words, the same on every page and in the PDF."""
        if self.trend is not None:
            t = self.trend
            return (f"{self.label}: fitted change {t.change:+.0f} points over {t.n_periods} "
                    f"periods (Kendall's tau {t.tau:+.2f}, p {t.pvalue:.3f}).")
        if self.change is not None:
            return (f"{self.label}: {self.change.change:+.0f} points since "
                    f"{period_label(self.periods[0])}. With fewer than "
                    f"{stats.MIN_TREND_PERIODS} periods this is a change, not a trend.")
        return f"{self.label}: not enough shown periods to compare."

    def to_dict(self) -> dict[str, object]:
        t, c = self.trend, self.change
        return {
            "method": self.method, "periods": len(self.values),
            "tau": None if t is None else t.tau, "p_value": None if t is None else t.pvalue,
            "slope": None if t is None else t.slope,
            "change": t.change if t is not None else (c.change if c is not None else None),
        }


def summarise(label: str, points: Sequence[tuple[str, float]]) -> Summary:
    """Describe released figures ``(period, percent)`` in period order.

    Raises ``ValueError`` when periods are not all of one grain or not strictly increasing.
    """
    periods = tuple(p for p, _ in points)
    values = tuple(float(v) for _, v in points)
    positions = [period_index(p) for p in periods]
    if len({p[5] == "Q" for p in periods}) > 1:
        raise ValueError("a series mixes months and quarters")
    if any(b <= a for a, b in zip(positions, positions[1:], strict=False)):
        raise ValueError("periods must be strictly increasing")
    if len(values) >= stats.MIN_TREND_PERIODS:
        return Summary(label, periods, values, TREND,
                       trend=stats.mann_kendall(values, positions))
    if len(values) >= 2:
        return Summary(label, periods, values, CHANGE,
                       change=stats.change_since(values[0], values[-1]))
    return Summary(label, periods, values, NONE)
