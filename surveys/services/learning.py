"""Learning outcomes beside culture: system changes recorded per review and repeat incidents.

These describe incidents, not answers, so they need no release guard; they are shown for a
team or the organisation as a whole and never as a ranking of teams. Added up in SQL, one
small query per period.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from analysis.periods import period_end, period_label, period_start
from surveys.models import INCIDENT_KINDS, Incident, Survey, SurveyStatus


@dataclass(frozen=True)
class LearningRow:
    label: str
    reviews: int
    recorded_changes: int
    system_changes_per_review: float | None
    recorded_repeat: int
    repeats: int
    repeat_rate_pct: float | None


@dataclass(frozen=True)
class LearningOutcomes:
    rows: tuple[LearningRow, ...]
    by_kind: tuple[LearningRow, ...] = field(default_factory=tuple)


def _row(label: str, sums: Sequence[int]) -> LearningRow:
    reviews, recorded, changes, recorded_repeat, repeats = sums
    return LearningRow(
        label, reviews, recorded, changes / recorded if recorded else None,
        recorded_repeat, repeats, 100.0 * repeats / recorded_repeat if recorded_repeat else None,
    )


def learning_outcomes(session: Session, team_ids: Sequence[int] | None,
                      periods: Sequence[str]) -> LearningOutcomes:
    """System changes recorded per review and the repeat incident rate, per period and kind
    (incidents whose survey closed in the period)."""
    by_period: dict[str, list[int]] = {}
    by_kind: dict[str, list[int]] = defaultdict(lambda: [0] * 5)
    for period in periods:
        query = (select(Incident.kind, func.count(), func.count(Incident.system_changes),
                        func.coalesce(func.sum(Incident.system_changes), 0),
                        func.count(Incident.repeat),
                        func.coalesce(func.sum(case((Incident.repeat, 1), else_=0)), 0))
                 .join(Survey, Survey.incident_id == Incident.id)
                 .where(Survey.status == SurveyStatus.CLOSED,
                        Survey.closed_at >= period_start(period),
                        Survey.closed_at < period_end(period))
                 .group_by(Incident.kind))
        if team_ids is not None:
            query = query.where(Survey.team_id.in_(list(team_ids)))
        total = [0] * 5
        for kind, *sums in session.execute(query):
            for i, value in enumerate(sums):
                total[i] += int(value)
                by_kind[kind][i] += int(value)
        if total[0]:
            by_period[period] = total
    return LearningOutcomes(
        tuple(_row(period_label(p), by_period[p]) for p in periods if p in by_period),
        tuple(_row(kind, by_kind[kind]) for kind in INCIDENT_KINDS if kind in by_kind),
    )
