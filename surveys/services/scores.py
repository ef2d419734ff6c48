"""Scores from released answer counts: percent favourable per statement and construct with
their intervals, the practice table, and respondent-level construct histograms.

Pure functions of counts that the release guard has already released (a
``releases.Release``'s ``counts``); they never see a raw answer and never decide whether
something may be shown: a statement without released counts is simply "not shown". Used by
the decision run (for the findings stored with a figure) and by every page that shows one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from analysis import glance, items, release, stats
from analysis.sealing import SCORE_DENOMINATOR, Counts


@dataclass(frozen=True)
class ItemResult:
    """One statement: percent favourable with its 95% Wilson interval, when shown."""

    id: str
    text: str
    shown: bool
    n: int | None = None
    pct: float | None = None
    low: float | None = None
    high: float | None = None
    split: glance.Split | None = None  # favourable / neutral / unfavourable, when shown


@dataclass(frozen=True)
class ConstructResult:
    """A construct: percent favourable (mean of its shown items) and the respondent-level
    mean score on 1..5 with its interval (t below 20 respondents, BCa from 20)."""

    id: str
    label: str
    description: str
    pct: float | None
    items: tuple[ItemResult, ...]
    mean: stats.MeanInterval | None = None

    @property
    def shown(self) -> bool:
        return self.pct is not None

    @property
    def answers(self) -> int | None:
        """The fewest answers behind any of its shown statements (the interval's n)."""
        counts = [i.n for i in self.items if i.shown and i.n]
        return min(counts) if counts else None

    @property
    def interval(self) -> glance.Interval | None:
        """95% Wilson interval of the headline figure (``glance.headline_interval``)."""
        if self.pct is None or not self.answers:
            return None
        return glance.headline_interval(self.pct, self.answers)


@dataclass(frozen=True)
class PracticeResult:
    """A policy in force and the share of answers contrary to it ("Not sure" and "Doesn't
    apply" left out, as in the flag rule)."""

    policy_id: str
    policy: str
    question: str
    contrary_label: str
    shown: bool
    n: int | None = None
    contrary_pct: float | None = None
    low: float | None = None
    high: float | None = None


def histogram(counts: Counts, construct_id: str) -> dict[float, int]:
    """Respondent-level construct scores (1..5) from the sealed sixths histogram."""
    return {value / SCORE_DENOMINATOR: c
            for value, c in counts.get(f"construct:{construct_id}", {}).items() if c}


def respondents_of(counts: Counts) -> int:
    return sum(counts.get("_n", {}).values())


def item_result(counts: Counts, statement: items.Statement, k: int
                ) -> tuple[ItemResult, stats.Proportion | None]:
    """A statement's percent favourable, if at least k answered it (not "Doesn't apply")."""
    raw = counts.get(statement.id, {})
    answered = sum(c for v, c in raw.items() if v in stats.STATEMENT_VALUES)
    if not release.cell_allowed(answered, k):
        return ItemResult(statement.id, statement.text, False), None
    share = stats.percent_favourable(raw, statement.reverse)
    return ItemResult(statement.id, statement.text, True, share.n, share.pct, share.low,
                      share.high, glance.split(raw, statement.reverse)), share


def construct_results(counts: Counts, k: int, *, with_means: bool = True
                      ) -> tuple[ConstructResult, ...]:
    """Every construct of the bank from released counts; statements without released
    counts are not shown."""
    out = []
    for construct in items.CONSTRUCTS:
        pairs = [item_result(counts, s, k) for s in items.statements_of(construct.id)]
        shown_items = tuple(result for result, _ in pairs)
        proportions = [share for _, share in pairs if share is not None]
        pct = stats.construct_percent_favourable(proportions).pct if proportions else None
        mean = None
        if with_means:
            hist = histogram(counts, construct.id)
            if release.cell_allowed(sum(hist.values()), k):
                mean = stats.mean_interval(hist)
        out.append(ConstructResult(construct.id, construct.label, construct.description, pct,
                                   shown_items, mean))
    return tuple(out)


def construct_pct(counts: Counts, k: int, construct_id: str) -> float | None:
    """One construct's percent favourable from released counts (None when not shown)."""
    proportions = [share for s in items.statements_of(construct_id)
                   if (share := item_result(counts, s, k)[1]) is not None]
    return stats.construct_percent_favourable(proportions).pct if proportions else None


def practice_question(policy: items.Policy) -> str:
    if policy.check in items.PRACTICE_BY_ID:
        return items.PRACTICE_BY_ID[policy.check].text
    return items.STATEMENT_BY_ID[policy.check].text


def practice_row(policy: items.Policy, numbers: Mapping[str, float] | None) -> PracticeResult:
    """A row of the practice table from a gap finding's numbers (None: not shown)."""
    question = practice_question(policy)
    if not numbers:
        return PracticeResult(policy.id, policy.text, question, policy.contrary_label, False)
    return PracticeResult(policy.id, policy.text, question, policy.contrary_label, True,
                          int(numbers["n"]), float(numbers["share_pct"]),
                          float(numbers["low_pct"]), float(numbers["high_pct"]))



@dataclass(frozen=True)
class Headline:
    """A construct's headline: its figure and interval, and the change in points since the
    previous released figure of the same kind (``since`` names it; None when there is none
    or either figure is not shown)."""

    construct: ConstructResult
    change: float | None = None
    since: str = ""


def headlines(current: tuple[ConstructResult, ...],
              previous: tuple[ConstructResult, ...] | None = None, since: str = ""
              ) -> tuple[Headline, ...]:
    """One headline per construct, comparing with ``previous`` (released figures only)."""
    before = {c.id: c.pct for c in previous or ()}
    out = []
    for construct in current:
        old = before.get(construct.id)
        change = None if construct.pct is None or old is None else construct.pct - old
        out.append(Headline(construct, change, since if change is not None else ""))
    return tuple(out)
