"""Results at a glance: the favourable / neutral / unfavourable split of a statement, the
interval of a construct's headline figure, and the layout of a diverging bar.

Pure functions of released counts; no Flask, no database. Templates draw the bar as inline
SVG (no script, no external reference) with black outlines, so it prints and reads in
greyscale; every bar carries its numbers in words (``<title>``) and pages show the same
numbers beside it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from analysis import stats
from analysis.items import AGREE_VALUES, DISAGREE_VALUES

NEUTRAL_VALUE = 3

# Okabe-Ito blue for favourable, vermillion for unfavourable, light grey for neutral.
FAVOURABLE_COLOUR = "#0072B2"
NEUTRAL_COLOUR = "#c8c8c8"
UNFAVOURABLE_COLOUR = "#D55E00"


@dataclass(frozen=True)
class Split:
    """Shares of one statement's answers, in percent of those other than "Doesn't apply"."""

    favourable: float
    neutral: float
    unfavourable: float
    n: int

    def words(self) -> str:
        return (f"{self.favourable:.0f}% favourable, {self.neutral:.0f}% neutral, "
                f"{self.unfavourable:.0f}% unfavourable, of {self.n} answers")


def split(counts: Mapping[int, int], reverse: bool) -> Split | None:
    """The three shares of a statement's answer counts (None when nobody answered)."""
    n = sum(c for v, c in counts.items() if v in stats.STATEMENT_VALUES)
    if n <= 0:
        return None
    agree = sum(c for v, c in counts.items() if v in AGREE_VALUES)
    disagree = sum(c for v, c in counts.items() if v in DISAGREE_VALUES)
    neutral = sum(c for v, c in counts.items() if v == NEUTRAL_VALUE)
    favourable, unfavourable = (disagree, agree) if reverse else (agree, disagree)
    return Split(100 * favourable / n, 100 * neutral / n, 100 * unfavourable / n, n)


@dataclass(frozen=True)
class Interval:
    low: float
    high: float


def headline_interval(pct: float, n: int, confidence_level: float = 0.95) -> Interval:
    """A 95% Wilson interval for a construct's percent favourable.

    A construct's figure is the mean of its statements' percent favourable, so there is no
    single count behind it. The interval treats the figure as a share of ``n`` answers,
    where ``n`` is the smallest number of answers of any of its statements: at least as
    wide as any of its statements' own Wilson intervals would be at that share, never
    narrower than the evidence allows."""
    if n <= 0:
        raise ValueError("an interval needs at least one answer")
    z = stats.z_quantile(confidence_level)
    share = min(max(pct / 100, 0.0), 1.0)
    low, high = stats.wilson_bounds(np.asarray(share * n), np.asarray(float(n)), z)
    return Interval(float(low) * 100, float(high) * 100)


@dataclass(frozen=True)
class Segment:
    """One coloured part of a diverging bar, in the bar's own units (0..width)."""

    name: str
    x: float
    width: float
    colour: str


@dataclass(frozen=True)
class Geometry:
    """A diverging bar laid out: unfavourable to the left of the centre line, favourable
    to the right, neutral split evenly across it. Templates draw it as inline SVG (so
    autoescaping covers every word) with ``words`` as its accessible name."""

    width: int
    height: int
    centre: float
    segments: tuple[Segment, ...]
    words: str


def diverging(bar: Split, *, width: int = 240, height: int = 18) -> Geometry:
    """Lay out one statement's diverging bar."""
    half = width / 2
    scale = half / 100
    neutral_half = bar.neutral * scale / 2
    unfav_w = bar.unfavourable * scale
    fav_w = bar.favourable * scale
    segments = tuple(s for s in (
        Segment("unfavourable", round(half - neutral_half - unfav_w, 1), round(unfav_w, 1),
                UNFAVOURABLE_COLOUR),
        Segment("neutral", round(half - neutral_half, 1), round(2 * neutral_half, 1),
                NEUTRAL_COLOUR),
        Segment("favourable", round(half + neutral_half, 1), round(fav_w, 1),
                FAVOURABLE_COLOUR),
    ) if s.width > 0)
    return Geometry(width, height, half, segments, bar.words())


LEGEND: tuple[tuple[str, str], ...] = (("Unfavourable", UNFAVOURABLE_COLOUR),
                                       ("Neutral", NEUTRAL_COLOUR),
                                       ("Favourable", FAVOURABLE_COLOUR))
