"""Pools: incidents too small to be shown on their own, pooled by team and calendar period.

An incident whose survey closed with fewer than k respondents shows no number of its own,
ever. Its answers join its team's pool for the calendar period in which the survey closed
(month or quarter, ``AFTERCARE_POOL_PERIOD``). A pool's results are decided once the period
has ended (so a pool never grows after it is shown) by the single release gate: at least k
respondents, and the differencing audit against everything released before
(``surveys.services.releases``). Managers see which incidents are in a pool and, once
released, the pool's figures; never an incident's own numbers below k.

The pool's comments are those of every survey of the team that closed in the period,
released only when at least k different people must have written them, masked and shuffled
(``releases.comments_release``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from analysis import release
from surveys.errors import InvalidInput, NotFound
from surveys.models import Incident, Survey, Team, User
from surveys.services import releases, results, trends
from surveys.services.access import authorize_team


def pool_subject(team_id: int, period: str) -> str:
    return f"pool:{team_id}:{period}"


def is_small(survey: Survey) -> bool:
    """A closed survey whose own results the guard does not show (fewer than k answered)."""
    return survey.status == "closed" and not release.survey_release(
        "closed", survey.respondents or 0, survey.min_group).allowed


def _team(session: Session, user: User, slug: str) -> Team:
    team = session.scalar(select(Team).where(Team.slug == slug[:64]))
    if team is None:
        raise NotFound("No such team.")
    authorize_team(user, team.id, "team")
    return team


def _closed_surveys(session: Session, team_id: int) -> list[Survey]:
    return list(session.scalars(
        select(Survey).where(Survey.team_id == team_id, Survey.status == "closed",
                             Survey.closed_at.is_not(None))
        .options(joinedload(Survey.incident)).order_by(Survey.closed_at, Survey.id)))


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
    if grain not in release.GRAINS:
        raise InvalidInput("Unknown pool period.", {"grain": "must be month or quarter"})
    team = _team(session, user, slug)
    by_period: dict[str, list[Incident]] = {}
    for survey in _closed_surveys(session, team.id):
        if is_small(survey):
            period = release.calendar_period(survey.closed_at, grain)
            by_period.setdefault(period, []).append(survey.incident)
    pools = tuple(
        PoolSummary(period, trends.period_label(period), release.period_over(period, now),
                    tuple(members))
        for period, members in sorted(by_period.items(),
                                      key=lambda kv: trends.period_index(kv[0]), reverse=True))
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


def pool(session: Session, user: User, slug: str, period: str, grain: str, now: datetime,
         min_group: int) -> Pool:
    """One pool: its incidents, and its results and comments as far as the guard allows.

    Raises ``NotFound`` for an unknown team, another team's (the same answer) or a period
    that is not of the configured grain.
    """
    if grain not in release.GRAINS:
        raise InvalidInput("Unknown pool period.", {"grain": "must be month or quarter"})
    team = _team(session, user, slug)
    if not trends.valid_period(period) or trends.grain_of(period) != grain:
        raise NotFound(f"Pools are kept by {grain}; there is no pool {period[:20]!r}.")
    surveys = [s for s in _closed_surveys(session, team.id)
               if release.calendar_period(s.closed_at, grain) == period]
    members = [s for s in surveys if is_small(s)]
    if not members:
        raise NotFound("No small incident of this team closed in that period.")
    k = max([min_group] + [s.min_group for s in members])
    incidents = tuple(s.incident for s in members)
    over = release.period_over(period, now)
    result = releases.decide(session, releases.Request(
        pool_subject(team.id, period), releases.cells_of(session, [s.id for s in members]), k,
        period_over=over))
    constructs: tuple[results.ConstructResult, ...] = ()
    if result.allowed:
        constructs = results.construct_results(result.counts, k)
    comments = comments_for(session, team.id, period, [s.id for s in surveys],
                            max([min_group] + [s.min_group for s in surveys]), now)
    return Pool(team, period, trends.period_label(period), grain, over,
                trends.period_end(period), incidents, result, constructs, comments)


def comments_for(session: Session, team_id: int, period: str, survey_ids: list[int], k: int,
                 now: datetime) -> releases.Release:
    """The team's comments for a period, pooled over every survey that closed in it."""
    return releases.comments_release(session, team_id, period, survey_ids, k,
                                     period_over=release.period_over(period, now))
