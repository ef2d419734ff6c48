"""Scores from sealed counts: percent favourable per item and construct, practice shares.

Pure functions over ``Mapping[int, int]`` (answer value -> count). Percent favourable follows
AHRQ's "percent positive" convention: agree or strongly agree on a favourable statement,
disagree or strongly disagree on a reverse-keyed one; "Doesn't apply" (0) is left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

FAVOURABLE_WHEN_AGREED = frozenset({4, 5})
FAVOURABLE_WHEN_REVERSED = frozenset({1, 2})
SCALE = frozenset({1, 2, 3, 4, 5})


@dataclass(frozen=True)
class Tally:
    """``hits`` of ``n`` answers; ``pct`` is None when n is 0."""

    hits: int
    n: int

    @property
    def pct(self) -> float | None:
        return 100.0 * self.hits / self.n if self.n else None


def _check_counts(counts: Mapping[int, int]) -> None:
    for value, count in counts.items():
        if count < 0:
            raise ValueError(f"negative count {count} for answer {value}")


def favourable(counts: Mapping[int, int], reverse: bool) -> Tally:
    """Favourable answers among 1..5 answers to one statement."""
    _check_counts(counts)
    wanted = FAVOURABLE_WHEN_REVERSED if reverse else FAVOURABLE_WHEN_AGREED
    n = sum(c for v, c in counts.items() if v in SCALE)
    return Tally(sum(c for v, c in counts.items() if v in wanted), n)


def contrary(counts: Mapping[int, int], contrary_values: frozenset[int],
             answered_values: frozenset[int]) -> Tally:
    """Share of answers that contradict a policy, among ``answered_values``."""
    _check_counts(counts)
    n = sum(c for v, c in counts.items() if v in answered_values)
    return Tally(sum(c for v, c in counts.items() if v in contrary_values), n)


def mean_of_pcts(tallies: list[Tally]) -> float | None:
    """Construct percent favourable: the unweighted mean of its items' percents."""
    pcts = [t.pct for t in tallies if t.pct is not None]
    return sum(pcts) / len(pcts) if pcts else None
