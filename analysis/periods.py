"""Fixed calendar periods: the only way time is cut for pooled figures.

Pure functions on period names: ``"2026-11"`` (a month) and ``"2026-Q4"`` (a quarter), in
UTC. Pooled figures are cut by these periods only, never by arbitrary date ranges: two
overlapping ranges would differ by a few people. A survey belongs to the period in which it
closed, and a period's figures are decided once it has ended, when nothing can close into it
any more (``surveys.services.decisions``).

Every other module asks this one; none formats or parses a period itself.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

Grain = Literal["month", "quarter"]
GRAINS: tuple[Grain, ...] = ("month", "quarter")


def check_grain(grain: str) -> Grain:
    """Return ``grain`` if it is ``"month"`` or ``"quarter"``, else raise ``ValueError``."""
    if grain not in GRAINS:
        raise ValueError(f"grain must be month or quarter, got {grain!r}")
    return grain  # type: ignore[return-value]


def calendar_period(when: datetime, grain: str) -> str:
    """The calendar period of a moment: ``"2026-11"`` (month) or ``"2026-Q4"`` (quarter).

    An aware moment is taken in UTC; a naive one is read as UTC.
    """
    check_grain(grain)
    when = when.astimezone(UTC) if when.tzinfo is not None else when
    if grain == "month":
        return f"{when.year:04d}-{when.month:02d}"
    return f"{when.year:04d}-Q{(when.month - 1) // 3 + 1}"


def valid_period(raw: object) -> bool:
    """Whether ``raw`` names a month (``2026-11``) or a quarter (``2026-Q4``)."""
    if not isinstance(raw, str) or len(raw) != 7 or raw[4] != "-":
        return False
    year, part = raw[:4], raw[5:]
    if not year.isdigit() or not year.isascii() or year == "0000":
        return False
    if part[0] == "Q":
        return part[1] in "1234"
    return part.isdigit() and part.isascii() and 1 <= int(part) <= 12


def _checked(period: str) -> str:
    if not valid_period(period):
        raise ValueError(f"not a calendar period: {period!r}")
    return period


def grain_of(period: str) -> Grain:
    """``"quarter"`` for ``2026-Q4``, ``"month"`` for ``2026-11``."""
    return "quarter" if _checked(period)[5] == "Q" else "month"


def period_start(period: str) -> datetime:
    """The first moment of the period (UTC)."""
    year, part = int(_checked(period)[:4]), period[5:]
    month = (int(part[1]) - 1) * 3 + 1 if part[0] == "Q" else int(part)
    return datetime(year, month, 1, tzinfo=UTC)


def period_end(period: str) -> datetime:
    """The first moment after the period (UTC)."""
    start = period_start(period)
    month = start.month - 1 + (3 if grain_of(period) == "quarter" else 1)
    return datetime(start.year + month // 12, month % 12 + 1, 1, tzinfo=UTC)


def period_over(period: str, now: datetime) -> bool:
    """Whether the period has ended at ``now``: nothing can close into it any more."""
    return period_end(period) <= now


def period_index(period: str) -> int:
    """Position on one axis per grain (months or quarters since year 0), so gaps count."""
    start = period_start(period)
    if grain_of(period) == "quarter":
        return start.year * 4 + (start.month - 1) // 3
    return start.year * 12 + start.month - 1


def period_label(period: str) -> str:
    """What a person reads: ``"2026 Q4"`` or ``"Nov 2026"``."""
    if grain_of(period) == "quarter":
        return period.replace("-", " ")
    return period_start(period).strftime("%b %Y")


def quarter_of(period: str) -> str:
    """The quarter a month (or quarter) lies in."""
    return calendar_period(period_start(period), "quarter")


def sort_key(period: str) -> tuple[datetime, int]:
    """Order of decision: by end, and at the same end a month before its quarter."""
    return period_end(period), 0 if grain_of(period) == "month" else 1
