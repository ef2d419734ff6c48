"""A team's figures per calendar period (month or quarter), with trends and flags.

The team page and ``GET /api/v1/teams/{slug}/periods`` read the same thing: the decisions
recorded when each period ended (``surveys.services.decisions``), one per period, with the
findings decided with them. A period that has not ended says so; one that has ended but is
not decided yet says that its decision is pending. Nothing here decides or writes.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from analysis import items, periods, release
from analysis.series import Summary, summarise
from surveys.errors import InvalidInput
from surveys.models import Survey, SurveyStatus, Team
from surveys.services import findings, releases
from surveys.services.access import find_team
from surveys.services.learning import LearningOutcomes, learning_outcomes
from surveys.services.scores import (
    ConstructResult,
    Headline,
    PracticeResult,
    construct_results,
    headlines,
    practice_row,
)


def check_grain(grain: str) -> str:
    """The grain asked for, or ``InvalidInput`` naming the field."""
    if grain not in periods.GRAINS:
        raise InvalidInput("Unknown grain.",
                           {"grain": f"must be one of {', '.join(periods.GRAINS)}"})
    return grain


@dataclass(frozen=True)
class PeriodView:
    """One period of a figure (a team's, the organisation's, a cut's) as decided."""

    period: str
    label: str
    released: bool
    reason: str
    message: str
    short: str
    k: int
    surveys: int = 0
    n: int | None = None
    constructs: tuple[ConstructResult, ...] = ()
    subject: str = ""
    measures: tuple[str, ...] = ()
    practices: tuple[PracticeResult, ...] = ()

    @property
    def shown(self) -> bool:
        return self.released

    def pct(self, construct_id: str) -> float | None:
        for construct in self.constructs:
            if construct.id == construct_id:
                return construct.pct
        return None


def view_of(period: str, figure: releases.Release, surveys: int = 0) -> PeriodView:
    """A recorded (or pending) decision as a period of a table."""
    decision = figure.decision
    if not figure.allowed:
        return PeriodView(period, periods.period_label(period), False, decision.reason.value,
                          decision.message, decision.short, decision.k, surveys,
                          subject=figure.subject)
    practices = tuple(practice_row(items.POLICY_BY_ID[pid], numbers)
                      for pid, numbers in dict(figure.extra.get("practices", {})).items()
                      if pid in items.POLICY_BY_ID)
    return PeriodView(period, periods.period_label(period), True, decision.reason.value,
                      decision.message, decision.short, decision.k, surveys, figure.n,
                      _constructs(figure), figure.subject, tuple(sorted(figure.measures)),
                      practices)


_SCORED: OrderedDict[str, tuple[ConstructResult, ...]] = OrderedDict()
_SCORED_SIZE = 4096
_SCORED_LOCK = threading.Lock()


def _constructs(figure: releases.Release) -> tuple[ConstructResult, ...]:
    """A released figure's scores, computed once per process: a recorded figure never
    changes, and equal digests mean equal figures."""
    with _SCORED_LOCK:
        found = _SCORED.get(figure.digest) if figure.digest else None
    if found is None:
        found = construct_results(figure.counts, figure.decision.k, with_means=False)
        if figure.digest:
            with _SCORED_LOCK:
                _SCORED[figure.digest] = found
                while len(_SCORED) > _SCORED_SIZE:
                    _SCORED.popitem(last=False)
    return found


def series_of(rows: tuple[PeriodView, ...], label: str = "") -> tuple[Summary, ...]:
    """Per construct, what the released periods support: a trend or a change since."""
    out = []
    for construct in items.CONSTRUCTS:
        points = [(p.period, pct) for p in rows
                  if p.released and (pct := p.pct(construct.id)) is not None]
        out.append(summarise(f"{label}{construct.label}", points))
    return tuple(out)


@dataclass(frozen=True)
class TeamPeriods:
    team: Team
    grain: str
    min_group: int
    periods: tuple[PeriodView, ...]
    series: tuple[Summary, ...]
    flags: tuple[findings.ShownFlag, ...]
    flags_period: str | None
    learning: LearningOutcomes
    latest: PeriodView | None = None  # the latest released period, for the headline
    headlines: tuple[Headline, ...] = ()
    comments: tuple[str, ...] = ()


def team_periods(session: Session, team: Team, grain: str, now: datetime, min_group: int
                 ) -> TeamPeriods:
    """Every period in which a survey of the team closed, oldest first, as decided; the
    series of released periods; and the flags decided with the latest decided period."""
    check_grain(grain)
    closed = session.scalars(select(Survey.closed_at).where(
        Survey.team_id == team.id, Survey.status == SurveyStatus.CLOSED,
        Survey.closed_at.is_not(None))).all()
    counts: dict[str, int] = {}
    for closed_at in closed:
        period = periods.calendar_period(closed_at, grain)
        counts[period] = counts.get(period, 0) + 1
    stored = releases.stored_with_prefix(session, f"team:{team.id}:")
    rows = []
    for period in sorted(counts, key=periods.period_index):
        subject = releases.team_subject(team.id, period)
        if not periods.period_over(period, now):
            figure = releases.Release(subject, release.Decision(
                False, release.Reason.PERIOD_NOT_OVER, min_group))
        else:
            figure = stored.get(subject) or releases.pending(subject, min_group)
        rows.append(view_of(period, figure, counts[period]))
    undecided = (release.Reason.PERIOD_NOT_OVER.value, release.Reason.PENDING.value)
    latest = next((p.period for p in reversed(rows) if p.reason not in undecided), None)
    shown_flags: tuple[findings.ShownFlag, ...] = ()
    if latest is not None:
        notices = releases.stored_with_prefix(session, f"checkins:{team.id}:")
        decided = [stored.get(releases.team_subject(team.id, latest)),
                   notices.get(releases.checkins_subject(team.id, latest))]
        shown_flags = findings.shown([f for r in decided if r is not None and r.allowed
                                      for f in r.findings])
    ended = [p.period for p in rows if periods.period_over(p.period, now)]
    released = [p for p in rows if p.released]
    current = released[-1] if released else None
    heads: tuple[Headline, ...] = ()
    comments: tuple[str, ...] = ()
    if current is not None:
        before = released[-2] if len(released) > 1 else None
        heads = headlines(current.constructs, before.constructs if before else None,
                          before.label if before else "")
        said = releases.stored(session, releases.comments_subject(team.id, current.period))
        comments = said.comments if said is not None and said.allowed else ()
    return TeamPeriods(team, grain, min_group, tuple(rows), series_of(tuple(rows)),
                       shown_flags, latest, learning_outcomes(session, [team.id], ended),
                       current, heads, comments)


def team_periods_for_slug(session: Session, slug: str, grain: str, now: datetime,
                          min_group: int) -> TeamPeriods:
    """:func:`team_periods` for a team slug (the API's address); ``NotFound`` if unknown."""
    check_grain(grain)
    return team_periods(session, find_team(session, slug), grain, now, min_group)
