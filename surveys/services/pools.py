"""Pools: incidents not shown on their own, pooled by team and calendar period.

An incident whose survey's own results were not released when it closed shows no number of
its own, ever. Its answers join its team's pool for the calendar period in which the survey
closed (month or quarter, ``AFTERCARE_POOL_PERIOD``). A pool's figure and the team's comments
for the period are decided once, when the period has ended (``surveys.services.decisions``);
these pages read those decisions. Managers see which incidents are in a pool and, once
released, the pool's figures; never an incident's own numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from analysis import periods, release
from surveys.errors import InvalidInput, NotFound
from surveys.models import Incident, Survey, SurveyStatus, Team, User
from surveys.services import releases, results
from surveys.services.access import find_team


def _small_surveys(session: Session, team_id: int) -> list[Survey]:
    """The team's closed surveys whose own results were not released, in closing order."""
    surveys = list(session.scalars(
        select(Survey).where(Survey.team_id == team_id, Survey.status == SurveyStatus.CLOSED,
                             Survey.closed_at.is_not(None))
        .options(joinedload(Survey.incident)).order_by(Survey.closed_at, Survey.id)))
    decided = results.decisions_for(session, surveys)
    return [s for s in surveys
            if not decided[s.id].allowed and decided[s.id].reason != release.Reason.PENDING]


def _check_grain(grain: str) -> None:
    if grain not in periods.GRAINS:
        raise InvalidInput("Unknown pool period.", {"grain": "must be month or quarter"})


@dataclass(frozen=True)
class PoolSummary:
    period: str
    label: str
    over: bool
    incidents: tuple[Incident, ...]


@dataclass(frozen=True)
class TeamPools:
    team: Team
    grain: str
    pools: tuple[PoolSummary, ...]


def team_pools(session: Session, user: User, slug: str, grain: str, now: datetime
               ) -> TeamPools:
    """The team's pools, newest first: which small incidents are in each, and whether the
    period is over. No figure is shown here."""
    _check_grain(grain)
    team = find_team(session, slug, user)
    by_period: dict[str, list[Incident]] = {}
    for survey in _small_surveys(session, team.id):
        period = periods.calendar_period(survey.closed_at, grain)
        by_period.setdefault(period, []).append(survey.incident)
    pools = tuple(
        PoolSummary(period, periods.period_label(period), periods.period_over(period, now),
                    tuple(members))
        for period, members in sorted(by_period.items(),
                                      key=lambda kv: periods.period_index(kv[0]), reverse=True))
    return TeamPools(team, grain, pools)


@dataclass(frozen=True)
class Pool:
    team: Team
    period: str
    label: str
    grain: str
    over: bool
    ends: datetime
    incidents: tuple[Incident, ...]
    result: releases.Release
    constructs: tuple[results.ConstructResult, ...] = ()
    comments: releases.Release | None = None

    @property
    def released(self) -> bool:
        return self.result.allowed


def _recorded(session: Session, subject: str, over: bool, k: int) -> releases.Release:
    """A pooled figure's recorded decision; before the period ends, why there is none."""
    if not over:
        return releases.Release(subject, release.Decision(False, release.Reason.PERIOD_NOT_OVER,
                                                          k))
    return releases.stored(session, subject) or releases.pending(subject, k)


def pool(session: Session, user: User, slug: str, period: str, grain: str, now: datetime,
         min_group: int) -> Pool:
    """One pool: its incidents, and its results and comments as decided at the period's end.

    Raises ``NotFound`` for an unknown team, another team's (the same answer) or a period
    that is not of the configured grain.
    """
    _check_grain(grain)
    team = find_team(session, slug, user)
    if not periods.valid_period(period) or periods.grain_of(period) != grain:
        raise NotFound(f"Pools are kept by {grain}; there is no pool {period[:20]!r}.")
    members = [s for s in _small_surveys(session, team.id)
               if periods.calendar_period(s.closed_at, grain) == period]
    if not members:
        raise NotFound("No small incident of this team closed in that period.")
    k = release.pooled_min_group(min_group, [s.min_group for s in members])
    over = periods.period_over(period, now)
    result = _recorded(session, releases.pool_subject(team.id, period), over, k)
    constructs: tuple[results.ConstructResult, ...] = ()
    if result.allowed:
        constructs = results.construct_results(result.counts, result.decision.k)
    comments = _recorded(session, releases.comments_subject(team.id, period), over, k)
    return Pool(team, period, periods.period_label(period), grain, over,
                periods.period_end(period), tuple(s.incident for s in members), result,
                constructs, comments)
