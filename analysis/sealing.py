"""Reduce a closed survey's responses to sufficient statistics.

Pure: rows in (mappings of item id to answer), counts out. Every results page, trend and export
reads these counts and adds them up; none reads raw answers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

SCORE_DENOMINATOR = 6  # a mean of 1, 2 or 3 whole answers is a whole number of sixths

#: Answer counts of a figure: measure (an item id, ``"_n"`` for respondents, or
#: ``"construct:<id>"`` for score histograms in sixths) -> answer value -> people. What a
#: survey is sealed into and what a released figure holds.
Counts = Mapping[str, Mapping[int, int]]


@dataclass(frozen=True)
class ItemKey:
    """How to seal one statement: its id, its construct, and whether agreeing is unfavourable."""

    id: str
    construct: str
    reverse: bool


def keyed(value: int, reverse: bool) -> int:
    """Turn a 1..5 answer so that 5 is always the favourable end."""
    if not 1 <= value <= 5:
        raise ValueError(f"answer {value} is not on the 1..5 scale")
    return 6 - value if reverse else value


def construct_score_sixths(
    row: Mapping[str, int | None], statements: Sequence[ItemKey]
) -> int | None:
    """A respondent's construct score (mean of keyed answers) times 6, or None.

    Answers of 0 ("Doesn't apply") and skipped items are left out; with none left the
    respondent has no score for the construct.
    """
    values = [keyed(v, s.reverse) for s in statements if (v := row.get(s.id))]
    if not values:
        return None
    total = sum(values) * SCORE_DENOMINATOR
    if total % len(values):
        raise ValueError("construct with more than three items cannot be sealed in sixths")
    return total // len(values)


def seal(
    rows: Iterable[Mapping[str, int | str | None]],
    statements: Sequence[ItemKey],
    practice_ids: Sequence[str],
    cut_fields: Sequence[str] = ("involvement",),
) -> Counter[tuple[str, str, str, int]]:
    """Count answers per (cut, cut value, item, answer value).

    Returns a Counter keyed by ``(cut, cut_value, item, value)``: ``("all", "")`` for the
    whole survey and ``(field, value)`` for each cut field. ``item == "_n"`` counts
    respondents; ``"construct:<id>"`` counts respondent-level construct scores in sixths.
    """
    constructs: dict[str, list[ItemKey]] = {}
    for s in statements:
        constructs.setdefault(s.construct, []).append(s)
    counts: Counter[tuple[str, str, str, int]] = Counter()
    for row in rows:
        cells = [("all", "")] + [(f, str(row[f])) for f in cut_fields if row.get(f)]
        keys: list[tuple[str, int]] = [("_n", 0)]
        for item in [s.id for s in statements] + list(practice_ids):
            value = row.get(item)
            if value is not None:
                keys.append((item, int(value)))
        for construct, members in constructs.items():
            score = construct_score_sixths(row, members)  # type: ignore[arg-type]
            if score is not None:
                keys.append((f"construct:{construct}", score))
        for cut, cut_value in cells:
            for item, value in keys:
                counts[(cut, cut_value, item, value)] += 1
    return counts
