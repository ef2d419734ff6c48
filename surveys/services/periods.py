"""A team's released aggregates per calendar period (month or quarter), with trends.

Sums the sealed counts of the team's CLOSED surveys by the calendar period in which each
survey closed. Every threshold decision is a call to ``analysis.release``; trends come from
``analysis.stats`` (Mann-Kendall with at least 5 released periods, else "change since").

Differencing between tables. A survey with at least k respondents is released on its own,
and a period is the sum of its surveys; a quarter is the sum of its months. If a period were
shown while one of its surveys is shown and the rest of the period held fewer than k people,
subtracting would reveal those few. So releases are computed for the whole hierarchy
quarter > month > survey, bottom up, whatever grain is asked: a period is released only if
``release.cell_allowed`` allows its total AND the part of it not already covered by released
sub-totals (its remainder) is either nobody or allowed too. The same is done per item with
the item's answer counts. The release guard will later take over such cross-table checks
(differencing audit); until then this keeps every decision in calls to ``analysis.release``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from analysis import release, stats
from surveys import items
from surveys.errors import InvalidInput, NotFound
from surveys.models import SealedCount, Survey, Team
from surveys.services import releases

GRAINS = ("month", "quarter")
Counts = dict[str, dict[int, int]]


def period_of(when: datetime, grain: str) -> str:
    """``2026-11`` (month) or ``2026-Q4`` (quarter)."""
    if grain == "month":
        return f"{when.year:04d}-{when.month:02d}"
    if grain == "quarter":
        return f"{when.year:04d}-Q{(when.month - 1) // 3 + 1}"
    raise ValueError(f"unknown grain {grain!r}")


def _position(period: str) -> int:
    """A period's place on a line (months or quarters since year 0), so gaps count."""
    year, rest = period.split("-")
    return int(year) * 4 + int(rest[1:]) - 1 if rest.startswith("Q") else \
        int(year) * 12 + int(rest) - 1


@dataclass(frozen=True)
class PeriodItem:
    id: str
    shown: bool
    n: int | None = None
    pct: float | None = None


@dataclass(frozen=True)
class PeriodConstruct:
    id: str
    label: str
    pct: float | None
    items: tuple[PeriodItem, ...]


@dataclass(frozen=True)
class Period:
    period: str
    released: bool
    reason: str
    surveys: int
    respondents: int | None = None
    constructs: tuple[PeriodConstruct, ...] = ()


@dataclass(frozen=True)
class ConstructTrend:
    construct: str
    method: str  # "mann_kendall", "change_since" or "none"
    periods: int
    tau: float | None = None
    p_value: float | None = None
    slope: float | None = None
    change: float | None = None


@dataclass(frozen=True)
class TeamPeriods:
    team: Team
    grain: str
    min_group: int
    periods: tuple[Period, ...]
    trends: tuple[ConstructTrend, ...] = field(default_factory=tuple)


def _add(into: Counts, counts: Mapping[str, Mapping[int, int]]) -> None:
    for item, values in counts.items():
        target = into.setdefault(item, {})
        for value, count in values.items():
            target[value] = target.get(value, 0) + count


def _n(counts: Mapping[str, Mapping[int, int]]) -> int:
    return sum(counts.get("_n", {}).values())


def _answered(counts: Mapping[str, Mapping[int, int]], item: str) -> int:
    return sum(c for v, c in counts.get(item, {}).items() if v in stats.STATEMENT_VALUES)


@dataclass
class _Node:
    """A set of respondents in the hierarchy, with its counts and its release decision."""

    counts: Counts
    children: list[_Node] = field(default_factory=list)
    shown: bool = False
    shown_items: frozenset[str] = frozenset()

    def covered(self) -> int:
        """Respondents covered by the nearest shown descendants."""
        return sum(_n(c.counts) if c.shown else c.covered() for c in self.children)

    def covered_item(self, item: str) -> int:
        """Answers to ``item`` covered by the nearest descendants that show that item."""
        return sum(_answered(c.counts, item) if item in c.shown_items else c.covered_item(item)
                   for c in self.children)


def _decide(node: _Node, k: int) -> None:
    """Release ``node`` if its total and its remainder pass the guard; items likewise."""
    n = _n(node.counts)
    remainder = n - node.covered()
    node.shown = release.cell_allowed(n, k) and (
        remainder == 0 or release.cell_allowed(remainder, k))
    if not node.shown:
        return
    shown_items = set()
    for statement in items.STATEMENTS:
        answered = _answered(node.counts, statement.id)
        rest = answered - node.covered_item(statement.id)
        if release.cell_allowed(answered, k) and (rest == 0 or release.cell_allowed(rest, k)):
            shown_items.add(statement.id)
    node.shown_items = frozenset(shown_items)


def _survey_node(survey: Survey, counts: Counts) -> _Node:
    """A survey as the release guard decides it on its own (its own results page)."""
    node = _Node(counts)
    decision = release.survey_release(survey.status, survey.respondents or 0, survey.min_group)
    if decision.allowed:
        node.shown = True
        node.shown_items = frozenset(
            s.id for s in items.STATEMENTS
            if release.cell_allowed(_answered(counts, s.id), survey.min_group))
    return node


def team_periods(session: Session, slug: str, grain: str, min_group: int,
                 now: datetime | None = None) -> TeamPeriods:
    """Released aggregates of team ``slug`` per ``grain`` period, oldest first.

    A period is shown only once it has ended (at ``now``, the real clock if not given) and
    the release guard's differencing audit allows its total next to everything released
    before (``releases.team_periods_release``, recorded so that it never changes)."""
    if grain not in GRAINS:
        raise InvalidInput("Unknown grain.", {"grain": f"must be one of {', '.join(GRAINS)}"})
    team = session.scalar(select(Team).where(Team.slug == slug))
    if team is None:
        raise NotFound(f"No team {slug!r}.")
    surveys = list(session.scalars(
        select(Survey).where(Survey.team_id == team.id, Survey.status == "closed",
                             Survey.closed_at.is_not(None)).order_by(Survey.closed_at)))
    counts: dict[int, Counts] = defaultdict(dict)
    if surveys:
        rows = session.execute(
            select(SealedCount.survey_id, SealedCount.item, SealedCount.value,
                   SealedCount.count).where(
                SealedCount.survey_id.in_([s.id for s in surveys]), SealedCount.cut == "all"))
        for survey_id, item, value, count in rows:
            counts[survey_id].setdefault(item, {})[value] = count
    # k for pooled periods: the largest of the organisation's and every pooled survey's.
    k = max([min_group] + [s.min_group for s in surveys])

    months: dict[str, _Node] = {}
    month_surveys: dict[str, list[Survey]] = defaultdict(list)
    for survey in surveys:
        month = period_of(survey.closed_at, "month")
        node = months.setdefault(month, _Node({}))
        node.children.append(_survey_node(survey, counts[survey.id]))
        _add(node.counts, counts[survey.id])
        month_surveys[month].append(survey)
    for node in months.values():
        _decide(node, k)
    quarters: dict[str, _Node] = {}
    quarter_surveys: dict[str, list[Survey]] = defaultdict(list)
    for month, node in months.items():
        quarter = period_of(month_surveys[month][0].closed_at, "quarter")
        parent = quarters.setdefault(quarter, _Node({}))
        parent.children.append(node)
        _add(parent.counts, node.counts)
        quarter_surveys[quarter].extend(month_surveys[month])
    for node in quarters.values():
        _decide(node, k)

    chosen, members = (months, month_surveys) if grain == "month" else (quarters,
                                                                         quarter_surveys)
    periods = tuple(_period(name, chosen[name], len(members[name]), k)
                    for name in sorted(chosen, key=_position))
    audited = releases.team_periods_release(
        session, team.id, {p.period: [s.id for s in members[p.period]] for p in periods
                           if p.released}, k, now or datetime.now(UTC))
    periods = tuple(
        p if not p.released or audited[p.period].allowed
        else Period(p.period, False, audited[p.period].decision.reason.value, p.surveys)
        for p in periods)
    return TeamPeriods(team, grain, k, periods, _trends(periods))


def _period(name: str, node: _Node, surveys: int, k: int) -> Period:
    n = _n(node.counts)
    if not node.shown:
        reason = (release.Reason.BELOW_MINIMUM if n else release.Reason.NO_RESPONSES).value
        return Period(name, False, reason, surveys)
    constructs = []
    for construct in items.CONSTRUCTS:
        shown, tallies = [], []
        for statement in items.statements_of(construct.id):
            if statement.id not in node.shown_items:
                shown.append(PeriodItem(statement.id, False))
                continue
            tally = stats.percent_favourable(node.counts.get(statement.id, {}),
                                             statement.reverse)
            tallies.append(tally)
            shown.append(PeriodItem(statement.id, True, tally.n, tally.pct))
        pct = stats.construct_percent_favourable(tallies).pct if tallies else None
        constructs.append(PeriodConstruct(construct.id, construct.label, pct, tuple(shown)))
    return Period(name, True, release.Reason.RELEASED.value, surveys, n, tuple(constructs))


def _trends(periods: Iterable[Period]) -> tuple[ConstructTrend, ...]:
    released = [p for p in periods if p.released]
    out = []
    for construct in items.CONSTRUCTS:
        points = [(_position(p.period), c.pct) for p in released for c in p.constructs
                  if c.id == construct.id and c.pct is not None]
        if len(points) >= stats.MIN_TREND_PERIODS:
            trend = stats.mann_kendall([v for _, v in points], [x for x, _ in points])
            out.append(ConstructTrend(construct.id, "mann_kendall", len(points),
                                      tau=trend.tau, p_value=trend.pvalue, slope=trend.slope,
                                      change=trend.change))
        elif len(points) >= 2:
            change = stats.change_since(points[0][1], points[-1][1])
            out.append(ConstructTrend(construct.id, "change_since", len(points),
                                      change=change.change))
        else:
            out.append(ConstructTrend(construct.id, "none", len(points)))
    return tuple(out)
