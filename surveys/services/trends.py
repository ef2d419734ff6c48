"""Calendar periods: team trends, the HR overview, comparisons by incident kind.

Everything here reads sealed counts added up per calendar period (``PeriodCount``), never a
raw answer. ``refresh`` folds each closed survey's ``SealedCount`` rows into its team's, its
incident kind's and the organisation's month and quarter, once (``PeriodFold``). A survey
belongs to the period in which it closed (``Survey.closed_at``, as in
``surveys.services.periods``), so small incidents that can never reach the minimum group alone
still count towards their team's period.

Only complete periods are shown: the period has ended, so no survey can close into it any
more and its figures never change afterwards (a period that grew would let a difference of
two releases isolate the newcomers). Every figure passes ``analysis.release``;
cuts (teams of the organisation, incident kinds, involvement) also pass complementary
suppression (``analysis.suppression.suppress_cut``) so that no total minus the shown cells
isolates fewer than k people.

Computed pages are cached per release: the key names the complete periods shown, the policies
in force and k. A complete period's figures never change, so a new release (a period ending,
a policy declared) is a new key. Learning outcomes, which managers record at any time, are
read fresh on every request.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal, TypeVar

from sqlalchemy import case, delete, func, insert, select, tuple_
from sqlalchemy.orm import Session

from analysis import flags, release, stats
from surveys import items
from surveys.db import begin_write
from surveys.models import (
    INCIDENT_KINDS,
    CheckinRequest,
    Incident,
    PeriodCount,
    PeriodFold,
    SealedCount,
    Survey,
    Team,
)
from surveys.services import releases, results
from surveys.services.lifecycle import policies_in_force

Grain = Literal["month", "quarter"]
GRAINS: tuple[str, ...] = ("month", "quarter")
Counts = dict[str, dict[int, int]]
INVOLVED, OBSERVERS = "direct", "observer"
T = TypeVar("T")


# --------------------------------------------------------------------------- periods


def period_of(moment: datetime, grain: str) -> str:
    """``"2026-11"`` for a month, ``"2026-Q4"`` for a quarter."""
    moment = moment.astimezone(UTC)
    if grain == "month":
        return f"{moment.year:04d}-{moment.month:02d}"
    if grain == "quarter":
        return f"{moment.year:04d}-Q{(moment.month - 1) // 3 + 1}"
    raise ValueError(f"grain must be month or quarter, got {grain!r}")


def grain_of(period: str) -> str:
    return "quarter" if "-Q" in period else "month"


def period_start(period: str) -> datetime:
    year, part = period.split("-")
    month = (int(part[1]) - 1) * 3 + 1 if part.startswith("Q") else int(part)
    return datetime(int(year), month, 1, tzinfo=UTC)


def period_end(period: str) -> datetime:
    """The first moment after the period."""
    start = period_start(period)
    months = 3 if grain_of(period) == "quarter" else 1
    month = start.month - 1 + months
    return datetime(start.year + month // 12, month % 12 + 1, 1, tzinfo=UTC)


def period_index(period: str) -> int:
    """Position on a common axis (months or quarters since year 0), so gaps count."""
    start = period_start(period)
    if grain_of(period) == "quarter":
        return start.year * 4 + (start.month - 1) // 3
    return start.year * 12 + start.month - 1


def period_label(period: str) -> str:
    if grain_of(period) == "quarter":
        return period.replace("-", " ")
    return period_start(period).strftime("%b %Y")


def valid_period(raw: str) -> bool:
    try:
        year, part = raw.split("-")
        if len(year) != 4 or not year.isdigit():
            return False
        if part.startswith("Q"):
            return part[1:] in ("1", "2", "3", "4")
        return part.isdigit() and len(part) == 2 and 1 <= int(part) <= 12
    except ValueError:
        return False


# --------------------------------------------------------------------------- folding


def refresh(session: Session, limit: int | None = None) -> int:
    """Fold closed, not yet folded surveys into the period totals; return how many.

    One transaction, of at most ``limit`` surveys when given (call again for the rest).
    Concurrent callers cannot fold a survey twice: SQLite serialises them with the write lock
    and re-checks, elsewhere ``PeriodFold``'s primary key refuses the second.
    """
    pending = _unfolded(session, 1)
    session.rollback()
    if not pending:
        return 0
    begin_write(session)
    pending = _unfolded(session, limit)
    if not pending:
        session.rollback()
        return 0
    meta = {sid: (team_id, kind, closed_at) for sid, team_id, kind, closed_at in pending}
    add: dict[tuple, int] = defaultdict(int)
    ids = list(meta)
    for chunk_start in range(0, len(ids), 500):
        chunk = ids[chunk_start:chunk_start + 500]
        rows = session.execute(
            select(SealedCount.survey_id, SealedCount.cut, SealedCount.cut_value,
                   SealedCount.item, SealedCount.value, SealedCount.count)
            .where(SealedCount.survey_id.in_(chunk))
        )
        for sid, cut, cut_value, item, value, count in rows:
            team_id, kind, closed_at = meta[sid]
            for grain in GRAINS:
                period = period_of(closed_at, grain)
                add[("org", "", period, cut, cut_value, item, value)] += count
                if cut == "all":
                    add[("team", str(team_id), period, cut, cut_value, item, value)] += count
                    add[("kind", kind, period, cut, cut_value, item, value)] += count
    _add_counts(session, add)
    session.execute(insert(PeriodFold), [{"survey_id": sid} for sid in ids])
    session.commit()
    _CACHE.clear()
    return len(ids)


def _unfolded(session: Session, limit: int | None = None
              ) -> list[tuple[int, int, str, datetime]]:
    folded = select(PeriodFold.survey_id)
    query = (select(Survey.id, Survey.team_id, Incident.kind, Survey.closed_at)
             .join(Incident, Incident.id == Survey.incident_id)
             .where(Survey.status == "closed", Survey.id.not_in(folded))
             .order_by(Survey.id))
    if limit is not None:
        query = query.limit(limit)
    return list(session.execute(query).all())


def _add_counts(session: Session, add: dict[tuple, int]) -> None:
    groups = {key[:3] for key in add}
    key_cols = (PeriodCount.scope, PeriodCount.scope_value, PeriodCount.period)
    existing: list[tuple] = []
    group_list = sorted(groups)
    for start in range(0, len(group_list), 300):
        chunk = group_list[start:start + 300]
        existing.extend(session.execute(
            select(PeriodCount.scope, PeriodCount.scope_value, PeriodCount.period,
                   PeriodCount.cut, PeriodCount.cut_value, PeriodCount.item,
                   PeriodCount.value, PeriodCount.count)
            .where(tuple_(*key_cols).in_(chunk))
        ).all())
        session.execute(delete(PeriodCount).where(tuple_(*key_cols).in_(chunk)))
    for row in existing:
        add[row[:7]] += row[7]
    names = ("scope", "scope_value", "period", "cut", "cut_value", "item", "value")
    rows = [dict(zip(names, key, strict=True), count=count) for key, count in add.items()]
    for start in range(0, len(rows), 5000):
        session.execute(insert(PeriodCount), rows[start:start + 5000])


# --------------------------------------------------------------------------- reading


def complete_periods(session: Session, grain: str, now: datetime) -> list[str]:
    """Periods with folded answers that have ended (nothing can close into them any more)."""
    if grain not in GRAINS:
        raise ValueError(f"grain must be month or quarter, got {grain!r}")
    known = session.scalars(
        select(PeriodCount.period).where(PeriodCount.scope == "org", PeriodCount.cut == "all",
                                         PeriodCount.item == "_n").distinct()
    ).all()
    return sorted(
        (p for p in known if grain_of(p) == grain and period_end(p) <= now),
        key=period_index,
    )


def load_counts(
    session: Session, scope: str, periods: Sequence[str], *, cut: str = "all",
    scope_values: Sequence[str] | None = None, items_like: Sequence[str] | None = None,
) -> dict[tuple[str, str, str], Counts]:
    """``(scope_value, period, cut_value) -> item -> value -> count`` for a scope."""
    if not periods:
        return {}
    query = select(PeriodCount.scope_value, PeriodCount.period, PeriodCount.cut_value,
                   PeriodCount.item, PeriodCount.value, PeriodCount.count).where(
        PeriodCount.scope == scope, PeriodCount.cut == cut,
        PeriodCount.period.in_(list(periods)))
    if scope_values is not None:
        query = query.where(PeriodCount.scope_value.in_(list(scope_values)))
    if items_like is not None:
        query = query.where(PeriodCount.item.in_(list(items_like)))
    out: dict[tuple[str, str, str], Counts] = {}
    for scope_value, period, cut_value, item, value, count in session.execute(query):
        out.setdefault((scope_value, period, cut_value), {}).setdefault(item, {})[value] = count
    return out


def pooled(counts: Iterable[Counts]) -> Counts:
    total: Counts = {}
    for one in counts:
        for item, values in one.items():
            target = total.setdefault(item, {})
            for value, count in values.items():
                target[value] = target.get(value, 0) + count
    return total


STATEMENT_ITEMS = ("_n",) + items.STATEMENT_IDS


# --------------------------------------------------------------------------- cache

_CACHE: OrderedDict[Hashable, object] = OrderedDict()
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 64


def _state(session: Session) -> tuple:
    """What every cached page depends on besides its own key: the database and the
    policies in force. Complete periods never change (nothing can close into a period that
    has ended), so a key naming its complete periods needs nothing else."""
    bind = session.get_bind()
    return (str(bind.url), tuple(sorted(policies_in_force(session))))


def folded_before(session: Session, periods: Sequence[str]) -> int:
    """How many folded surveys closed in or before the last of ``periods``: part of a cache
    key, so that a rebuilt database or a survey folded late is never served stale."""
    if not periods:
        return 0
    end = max(period_end(p) for p in periods)
    return session.scalar(
        select(func.count()).select_from(PeriodFold)
        .join(Survey, Survey.id == PeriodFold.survey_id).where(Survey.closed_at < end)) or 0


def cached(session: Session, key: tuple, compute: Callable[[], T]) -> T:
    """``compute()`` once per key (and database, and policies in force), in this process."""
    full = (_state(session), *key)
    with _CACHE_LOCK:
        if full in _CACHE:
            _CACHE.move_to_end(full)
            return _CACHE[full]  # type: ignore[return-value]
    value = compute()
    with _CACHE_LOCK:
        _CACHE[full] = value
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return value


def clear_cache() -> None:
    with _CACHE_LOCK:
        _CACHE.clear()


# --------------------------------------------------------------------------- team trends


def _construct_pct(self, construct_id: str) -> float | None:
    """The percent favourable of one construct of ``self.constructs``, if shown."""
    for construct in self.constructs:
        if construct.id == construct_id:
            return construct.pct
    return None


@dataclass(frozen=True)
class PeriodResult:
    """One team (or the organisation, or a kind) in one period."""

    period: str
    label: str
    shown: bool
    n: int | None
    constructs: tuple[results.ConstructResult, ...] = ()

    pct = _construct_pct


@dataclass(frozen=True)
class Series:
    """A construct's percent favourable over the shown periods, with trend or change."""

    construct: str
    label: str
    periods: tuple[str, ...]
    values: tuple[float, ...]
    trend: stats.Trend | None = None
    change: stats.Change | None = None


@dataclass(frozen=True)
class TeamRef:
    """A team as cached pages hold it (never an ORM object bound to a request's session)."""

    id: int
    slug: str
    name: str

    @classmethod
    def of(cls, team: Team) -> TeamRef:
        return cls(team.id, team.slug, team.name)


@dataclass(frozen=True)
class TeamTrends:
    team: TeamRef
    grain: str
    periods: tuple[PeriodResult, ...]
    series: tuple[Series, ...]
    flags: tuple[flags.Flag, ...]
    learning: LearningOutcomes | None = None


def _period_result(period: str, counts: Counts | None, k: int, *, shown: bool = True,
                   with_means: bool = False) -> PeriodResult:
    n = results.respondents_of(counts or {})
    if counts is None or not shown or not release.cell_allowed(n, k):
        return PeriodResult(period, period_label(period), False, None)
    return PeriodResult(period, period_label(period), True, n,
                        results.construct_results(counts, k, with_means=with_means))


def series_of(periods: Sequence[PeriodResult]) -> tuple[Series, ...]:
    out = []
    for construct in items.CONSTRUCTS:
        points = [(p.period, p.pct(construct.id)) for p in periods if p.shown]
        points = [(period, value) for period, value in points if value is not None]
        trend = change = None
        if len(points) >= stats.MIN_TREND_PERIODS:
            trend = stats.mann_kendall([v for _, v in points],
                                       [period_index(p) for p, _ in points])
        elif len(points) >= 2:
            change = stats.change_since(points[0][1], points[-1][1])
        out.append(Series(construct.id, construct.label, tuple(p for p, _ in points),
                          tuple(v for _, v in points), trend, change))
    return tuple(out)


def _trend_findings(subject: str, series: Sequence[Series]) -> list[flags.Finding | None]:
    return [
        flags.worsening_trend_finding(f"{subject}: {s.label.lower()}", list(s.values),
                                      [period_index(p) for p in s.periods])
        for s in series
    ]


def _checkins_by_period(session: Session, grain: str, team_ids: Sequence[int] | None = None
                        ) -> dict[tuple[int, str], int]:
    query = (select(Survey.team_id, Survey.closed_at, func.count())
             .join(CheckinRequest, CheckinRequest.survey_id == Survey.id)
             .where(Survey.status == "closed")
             .group_by(Survey.id, Survey.team_id, Survey.closed_at))
    if team_ids is not None:
        query = query.where(Survey.team_id.in_(list(team_ids)))
    out: dict[tuple[int, str], int] = defaultdict(int)
    for team_id, closed_at, count in session.execute(query):
        out[(team_id, period_of(closed_at, grain))] += count
    return out


def shown_teams(session: Session, periods: Sequence[str], k: int) -> dict[str, set[str]]:
    """Per period, the teams whose figures may be shown: at least k respondents, and
    complementary suppression across the organisation's teams (the same choice on every
    page, so that the organisation's total minus the shown teams isolates no one). The
    release guard decides: complementary suppression over the hierarchy (team, parent team,
    organisation) and the differencing audit (``releases.teams_shown``)."""
    return releases.teams_shown(session, periods, k)


def team_trends(session: Session, team: Team, grain: str, now: datetime, k: int
                ) -> TeamTrends:
    """A team's complete periods, its construct series with trend or change, and flags."""
    refresh(session)
    periods = complete_periods(session, grain, now)

    def compute() -> TeamTrends:
        counts = load_counts(session, "team", periods, scope_values=[str(team.id)])
        allowed = shown_teams(session, periods, k)
        rows = tuple(_period_result(p, counts.get((str(team.id), p, "")), k,
                                    shown=str(team.id) in allowed[p]) for p in periods)
        series = series_of(rows)
        findings: list[flags.Finding | None] = _trend_findings(team.name, series)
        latest = next((r for r in reversed(rows) if r.shown), None)
        if latest is not None:
            latest_counts = counts[(str(team.id), latest.period, "")]
            subject = f"{team.name} {latest.label}"
            findings.append(flags.social_cost_finding(
                subject, results.histogram(latest_counts, "social")))
            policies = results.policies_asked(session, None)
            _rows, gaps = results.practice_results(policies, latest_counts, k)
            findings.extend(gaps)
        checkins = _checkins_by_period(session, grain, [team.id])
        for period in periods:
            if checkins.get((team.id, period)):
                findings.append(results.checkin_finding(f"an incident in {period_label(period)}",
                                                        1))
        return TeamTrends(TeamRef.of(team), grain, rows, series, tuple(flags.resolve(findings)))

    view = cached(session, ("team", team.id, team.name, grain, tuple(periods), k,
                            folded_before(session, periods)), compute)
    # Learning outcomes are recorded at any time, so they are read fresh on every request.
    return dataclasses.replace(view, learning=learning_outcomes(session, [team.id], periods))


# --------------------------------------------------------------------------- learning


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


def _learning_row(label: str, sums: Sequence[int]) -> LearningRow:
    reviews, recorded, changes, recorded_repeat, repeats = sums
    return LearningRow(
        label, reviews, recorded, changes / recorded if recorded else None,
        recorded_repeat, repeats, 100.0 * repeats / recorded_repeat if recorded_repeat else None,
    )


def learning_outcomes(session: Session, team_ids: Sequence[int] | None,
                      periods: Sequence[str]) -> LearningOutcomes:
    """System changes recorded per review and the repeat incident rate, per period and kind.

    These describe incidents, not answers, so they need no release guard; they are shown
    for a team or the organisation as a whole and never as a ranking of teams. Added up in
    SQL, one small query per period.
    """
    by_period: dict[str, list[int]] = {}
    by_kind: dict[str, list[int]] = defaultdict(lambda: [0] * 5)
    for period in periods:
        query = (select(Incident.kind, func.count(), func.count(Incident.system_changes),
                        func.coalesce(func.sum(Incident.system_changes), 0),
                        func.count(Incident.repeat),
                        func.coalesce(func.sum(case((Incident.repeat, 1), else_=0)), 0))
                 .join(Survey, Survey.incident_id == Incident.id)
                 .where(Survey.status == "closed", Survey.closed_at >= period_start(period),
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
        tuple(_learning_row(period_label(p), by_period[p]) for p in periods if p in by_period),
        tuple(_learning_row(kind, by_kind[kind]) for kind in INCIDENT_KINDS if kind in by_kind),
    )


# --------------------------------------------------------------------------- HR overview


@dataclass(frozen=True)
class HeatCell:
    construct: str
    pct: float | None  # None: not enough people

    @property
    def shown(self) -> bool:
        return self.pct is not None


@dataclass(frozen=True)
class HeatRow:
    team: TeamRef
    shown: bool
    n: int | None
    cells: tuple[HeatCell, ...]


@dataclass(frozen=True)
class CutResult:
    """One cell of a cut (an incident kind, an involvement group) pooled over periods."""

    key: str
    label: str
    shown: bool
    n: int | None
    constructs: tuple[results.ConstructResult, ...] = ()

    pct = _construct_pct


@dataclass(frozen=True)
class PolicyGap:
    policy: items.Policy
    row: results.PracticeResult
    flag: flags.Flag | None


@dataclass(frozen=True)
class KindComparison:
    """Perceived blame in one incident kind against availability incidents."""

    kind: str
    label: str
    cliffs_delta: float
    adjusted_pvalue: float
    words: str


BASE_KIND = "availability"


def compare_kinds(kinds: Sequence[CutResult], pooled_kinds: dict[str, Counts]
                  ) -> tuple[KindComparison, ...]:
    """Is a security or data incident reviewed with more blame than an outage?

    Respondent-level "perceived blame" scores of each shown kind against availability
    incidents: two-sided Mann-Whitney U with Cliff's delta (``stats.mann_whitney``),
    Benjamini-Hochberg across the comparisons (``stats.benjamini_hochberg``). Only kinds the
    release guard showed take part. A difference is called clear when it survives the
    false discovery control and |delta| reaches the flags' medium effect (0.33); a
    significant smaller one is called slight.
    """
    shown = {c.key: c for c in kinds if c.shown}
    if BASE_KIND not in shown:
        return ()
    base = results.histogram(pooled_kinds[BASE_KIND], "blame")
    tests = []
    for key, cut in shown.items():
        if key == BASE_KIND:
            continue
        scores = results.histogram(pooled_kinds[key], "blame")
        if sum(scores.values()) and sum(base.values()):
            tests.append((key, cut.label, stats.mann_whitney(scores, base)))
    fdr = stats.benjamini_hochberg([t.pvalue for _, _, t in tests], flags.FDR_Q)
    out = []
    for (key, label, test), p_adj, rejected in zip(tests, fdr.adjusted, fdr.rejected,
                                                   strict=True):
        delta = test.cliffs_delta
        direction = "more" if delta < 0 else "less"  # blame scores are favourable high
        if rejected and abs(delta) >= flags.MIN_CLIFFS_DELTA:
            words = f"{label} incidents were reviewed with clearly {direction} blame than " \
                    "availability incidents."
        elif rejected:
            words = f"{label} incidents were reviewed with slightly {direction} blame than " \
                    "availability incidents (a small difference)."
        else:
            words = f"No clear difference in blame between {label.lower()} and availability " \
                    "incidents."
        out.append(KindComparison(key, label, delta, p_adj, words))
    return tuple(out)


@dataclass(frozen=True)
class Overview:
    period: str | None
    periods: tuple[str, ...]
    span: tuple[str, ...]
    heatmap: tuple[HeatRow, ...]
    org_trend: tuple[PeriodResult, ...]
    org_series: tuple[Series, ...]
    kinds: tuple[CutResult, ...]
    kind_comparisons: tuple[KindComparison, ...]
    involvement: tuple[CutResult, ...]
    policy_gaps: tuple[PolicyGap, ...]
    learning: LearningOutcomes
    flags: tuple[flags.Flag, ...]
    k: int

    @property
    def label(self) -> str:
        return period_label(self.period) if self.period else "no complete quarter yet"


def _suppressed_cut(total_counts: Counts, cell_counts: dict[str, Counts],
                    labels: dict[str, str], k: int,
                    audit: Callable[[set[str]], set[str]] | None = None
                    ) -> tuple[CutResult, ...]:
    total = results.respondents_of(total_counts)
    sizes = {key: results.respondents_of(c) for key, c in cell_counts.items()}
    decision = release.cut_release(total, sizes, k)
    shown = set(decision.shown) if audit is None else audit(set(decision.shown))
    out = []
    for key, label in labels.items():
        counts = cell_counts.get(key, {})
        if key in shown:
            out.append(CutResult(key, label, True, sizes[key],
                                 results.construct_results(counts, k, with_means=False)))
        else:
            out.append(CutResult(key, label, False, None))
    return tuple(out)


SPAN_QUARTERS = 4  # kinds, involvement and policy gaps pool the last four complete quarters


def overview(session: Session, now: datetime, k: int, period: str | None = None
             ) -> Overview:
    """The HR overview for one complete quarter (the latest by default).

    Heatmap of teams by construct for that quarter (complementary suppression across teams,
    so the organisation's total minus the shown teams never isolates fewer than k), the
    organisation's quarterly trend, and over the last four complete quarters: comparison by
    incident kind, involvement groups, the policy register's gaps and learning outcomes.
    """
    refresh(session)
    quarters = complete_periods(session, "quarter", now)
    if period is not None and period not in quarters:
        raise ValueError(f"{period} is not a complete quarter with answers")
    chosen = period or (quarters[-1] if quarters else None)
    teams = tuple(TeamRef(*row) for row in session.execute(
        select(Team.id, Team.slug, Team.name).order_by(Team.name)))
    view = cached(session, ("overview", chosen, tuple(quarters), k, teams,
                            folded_before(session, quarters)),
                  lambda: _overview(session, chosen, tuple(quarters), k, teams))
    return dataclasses.replace(view, learning=learning_outcomes(session, None, list(view.span)))


def _overview(session: Session, chosen: str | None, quarters: tuple[str, ...], k: int,
              teams: tuple[TeamRef, ...]) -> Overview:
    span = tuple(q for q in quarters if chosen and period_index(q) <= period_index(chosen))
    span = span[-SPAN_QUARTERS:]
    findings: list[flags.Finding | None] = []

    # Heatmap: teams x constructs for the chosen quarter.
    heat: list[HeatRow] = []
    if chosen:
        team_counts = load_counts(session, "team", [chosen], items_like=STATEMENT_ITEMS
                                  + ("construct:social",))
        allowed = shown_teams(session, [chosen], k)[chosen]
        for team in teams:
            counts = team_counts.get((str(team.id), chosen, ""), {})
            if str(team.id) not in allowed:
                heat.append(HeatRow(team, False, None, tuple(
                    HeatCell(c.id, None) for c in items.CONSTRUCTS)))
                continue
            constructs = results.construct_results(counts, k, with_means=False)
            heat.append(HeatRow(team, True, results.respondents_of(counts),
                                tuple(HeatCell(c.id, c.pct) for c in constructs)))
            findings.append(flags.social_cost_finding(
                f"{team.name} {period_label(chosen)}", results.histogram(counts, "social")))

    # Organisation trend by quarter.
    org_counts = load_counts(session, "org", list(quarters), items_like=STATEMENT_ITEMS)
    org_shown = releases.periods_shown(session, list(quarters), k)
    org_trend = tuple(_period_result(q, org_counts.get(("", q, "")), k, shown=q in org_shown)
                      for q in quarters)
    org_series = series_of(org_trend)
    findings.extend(_trend_findings("Organisation", org_series))

    # Pooled over the span: kinds, involvement, policy gaps.
    span_org = pooled(c for (_, p, _), c in load_counts(session, "org", list(span)).items()
                      if p in span)
    kind_counts: dict[str, list[Counts]] = defaultdict(list)
    for (kind, _p, _), counts in load_counts(session, "kind", list(span)).items():
        kind_counts[kind].append(counts)
    pooled_kinds = {kd: pooled(cs) for kd, cs in kind_counts.items()}
    kinds = _suppressed_cut(span_org, pooled_kinds,
                            {kd: kd.title() for kd in INCIDENT_KINDS}, k,
                            lambda keys: releases.span_cut_shown(session, "kind", span, keys, k))
    comparisons = compare_kinds(kinds, pooled_kinds)
    involvement_counts: dict[str, list[Counts]] = defaultdict(list)
    for (code, _p, _), counts in load_counts(session, "org", list(span),
                                              cut="involvement").items():
        involvement_counts[code].append(counts)
    pooled_involvement = {code: pooled(cs) for code, cs in involvement_counts.items()}
    involvement = _suppressed_cut(
        span_org, pooled_involvement, dict(items.INVOLVEMENT), k,
        lambda keys: releases.span_cut_shown(session, "involvement", span, keys, k))
    shown_groups = {c.key for c in involvement if c.shown}
    if {INVOLVED, OBSERVERS} <= shown_groups:
        findings.append(flags.involved_cost_finding(
            results.histogram(pooled_involvement[INVOLVED], "social"),
            results.histogram(pooled_involvement[OBSERVERS], "social"), min_group=k))
    gaps: list[PolicyGap] = []
    policies = results.policies_asked(session, None)
    if release.cell_allowed(results.respondents_of(span_org), k) and releases.span_shown(
            session, span, k):
        rows, gap_findings = results.practice_results(policies, span_org, k)
        findings.extend(gap_findings)
    else:
        rows = tuple(results.PracticeResult(p.id, p.text, "", p.contrary_label, False)
                     for p in policies)
    checkins = _checkins_by_period(session, "quarter")
    for team in teams:
        for q in span:
            if checkins.get((team.id, q)):
                findings.append(results.checkin_finding(
                    f"an incident in {team.name}, {period_label(q)}", 1))
    page_flags = tuple(flags.resolve(findings))
    by_subject = {f.subject: f for f in page_flags if f.kind == flags.POLICY_GAP}
    for policy, row in zip(policies, rows, strict=True):
        gaps.append(PolicyGap(policy, row, by_subject.get(policy.id)))
    return Overview(
        period=chosen, periods=quarters, span=span, heatmap=tuple(heat), org_trend=org_trend,
        org_series=org_series, kinds=kinds, kind_comparisons=comparisons,
        involvement=involvement,
        policy_gaps=tuple(gaps), learning=LearningOutcomes(()),
        flags=page_flags, k=k,
    )


# --------------------------------------------------------------------------- export


def export_rows(view: Overview) -> list[list[object]]:
    """Released aggregates of an overview as rows: only figures the guard allowed."""
    header = ["scope", "name", "period", "construct", "respondents", "percent_favourable"]
    rows: list[list[object]] = [header]
    for row in view.heatmap:
        if not row.shown:
            continue
        for cell in row.cells:
            if cell.shown:
                rows.append(["team", row.team.name, view.period, cell.construct, row.n,
                             round(cell.pct, 1)])  # type: ignore[arg-type]
    for p in view.org_trend:
        if p.shown:
            for c in p.constructs:
                if c.pct is not None:
                    rows.append(["organisation", "", p.period, c.id, p.n, round(c.pct, 1)])
    span = f"{view.span[0]}..{view.span[-1]}" if view.span else ""
    for scope, cuts in (("incident kind", view.kinds), ("involvement", view.involvement)):
        for cut in cuts:
            if cut.shown:
                for c in cut.constructs:
                    if c.pct is not None:
                        rows.append([scope, cut.label, span, c.id, cut.n, round(c.pct, 1)])
    return rows
