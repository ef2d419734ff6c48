"""The HR overview of one quarter: teams by construct, the organisation's trend, incident
kinds and involvement groups, the policy register's gaps, flags, and the export.

Everything is read from the decisions recorded when each quarter ended
(``surveys.services.decisions``): the teams' and the organisation's figures, the cuts, and
the findings decided with each figure. Every figure, table and flag on the page is about
the quarter chosen (the organisation's trend shows every decided quarter), so a table and the
flags beside it agree, and a team's finding has the same verdict here as on the team page.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from analysis import items, periods
from analysis.series import Summary
from surveys.models import INCIDENT_KINDS, PeriodDecision, Team
from surveys.services import findings, releases
from surveys.services.learning import LearningOutcomes, learning_outcomes
from surveys.services.periods import PeriodView, series_of, view_of
from surveys.services.results import PracticeResult, practice_rows


@dataclass(frozen=True)
class TeamRef:
    id: int
    slug: str
    name: str


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
    short: str = "released"  # why a hidden row is hidden, in a few words
    subject: str = ""
    measures: tuple[str, ...] = ()


@dataclass(frozen=True)
class CutRow:
    """One cell of a cut (an incident kind, an involvement group) in the quarter."""

    key: str
    label: str
    view: PeriodView

    @property
    def shown(self) -> bool:
        return self.view.released

    @property
    def n(self) -> int | None:
        return self.view.n

    def pct(self, construct_id: str) -> float | None:
        return self.view.pct(construct_id)

    # The same shape as a period's row, so pages draw both with one table.
    subject = property(lambda self: self.view.subject)
    measures = property(lambda self: self.view.measures)
    short = property(lambda self: self.view.short)


@dataclass(frozen=True)
class PolicyGap:
    policy: items.Policy
    row: PracticeResult
    flag: findings.ShownFlag | None


@dataclass(frozen=True)
class Overview:
    period: str | None
    periods: tuple[str, ...]
    heatmap: tuple[HeatRow, ...]
    org_trend: tuple[PeriodView, ...]
    org_series: tuple[Summary, ...]
    kinds: tuple[CutRow, ...]
    kind_comparisons: tuple[dict, ...]
    involvement: tuple[CutRow, ...]
    policy_gaps: tuple[PolicyGap, ...]
    learning: LearningOutcomes
    flags: tuple[findings.ShownFlag, ...]
    k: int
    org: PeriodView | None = None  # the quarter's organisation figure (policy gaps)
    two_track: dict | None = None  # security against availability, two-track check

    @property
    def label(self) -> str:
        return periods.period_label(self.period) if self.period else "no decided quarter yet"


def decided_quarters(session: Session) -> list[str]:
    """Quarters whose figures have been decided, oldest first."""
    return sorted((p for p in session.scalars(select(PeriodDecision.period))
                   if periods.grain_of(p) == "quarter"), key=periods.period_index)


def overview(session: Session, k: int, period: str | None = None) -> Overview:
    """The overview of a decided quarter (the latest by default).

    Raises ``ValueError`` for a period that is not a decided quarter."""
    quarters = decided_quarters(session)
    if period is not None and period not in quarters:
        raise ValueError(f"{period} is not a quarter whose figures have been decided")
    chosen = period or (quarters[-1] if quarters else None)
    teams = tuple(TeamRef(*row) for row in session.execute(
        select(Team.id, Team.slug, Team.name).order_by(Team.name)))
    org = releases.stored_with_prefix(session, "org:")
    org_trend = tuple(view_of(q, org[releases.org_subject(q)]) for q in quarters
                      if releases.org_subject(q) in org)
    if chosen is None:
        return Overview(None, (), (), org_trend, series_of(org_trend), (), (), (), (),
                        LearningOutcomes(()), (), k)
    team_figures = releases.stored_many(
        session, [releases.team_subject(t.id, chosen) for t in teams]
        + [releases.checkins_subject(t.id, chosen) for t in teams])
    heat, flag_list = [], []
    for team in teams:
        notice = team_figures.get(releases.checkins_subject(team.id, chosen))
        if notice is not None:
            flag_list.extend(findings.shown(notice.findings))
        figure = team_figures.get(releases.team_subject(team.id, chosen))
        if figure is None or not figure.allowed:
            heat.append(HeatRow(team, False, None, tuple(
                HeatCell(c.id, None) for c in items.CONSTRUCTS),
                figure.decision.short if figure else "no answers"))
            continue
        view = view_of(chosen, figure)
        heat.append(HeatRow(team, True, figure.n,
                            tuple(HeatCell(c.id, view.pct(c.id)) for c in items.CONSTRUCTS),
                            subject=view.subject, measures=view.measures))
        flag_list.extend(findings.shown(figure.findings))
    org_figure = org.get(releases.org_subject(chosen))
    cuts = releases.stored_many(
        session, [releases.cut_subject("kind", kind, chosen) for kind in INCIDENT_KINDS]
        + [releases.cut_subject("involvement", code, chosen) for code in items.INVOLVEMENT_IDS])

    def cut_rows(cut: str, labels: dict[str, str]) -> tuple[CutRow, ...]:
        rows = []
        for key, label in labels.items():
            figure = cuts.get(releases.cut_subject(cut, key, chosen))
            if figure is not None:
                rows.append(CutRow(key, label, view_of(chosen, figure)))
        return tuple(rows)

    org_flags: tuple[findings.ShownFlag, ...] = ()
    gaps: tuple[PolicyGap, ...] = ()
    comparisons: tuple[dict, ...] = ()
    two_track: dict | None = None
    if org_figure is not None and org_figure.allowed:
        org_flags = findings.shown(org_figure.findings)
        by_policy = {f.subject: f for f in org_flags if f.kind == "policy_gap"}
        practices = org_figure.extra.get("practices", {})
        gaps = tuple(PolicyGap(items.POLICY_BY_ID[row.policy_id], row,
                               by_policy.get(row.policy_id))
                     for row in practice_rows(practices))
        comparisons = tuple(org_figure.extra.get("comparisons", ()))
        two_track = org_figure.extra.get("two_track")
    return Overview(
        period=chosen, periods=tuple(quarters), heatmap=tuple(heat), org_trend=org_trend,
        org_series=series_of(org_trend), kinds=cut_rows("kind", {k: k.title()
                                                                  for k in INCIDENT_KINDS}),
        kind_comparisons=comparisons, involvement=cut_rows("involvement",
                                                          dict(items.INVOLVEMENT)),
        policy_gaps=gaps, learning=learning_outcomes(session, None, [chosen]),
        flags=tuple(sorted((*org_flags, *flag_list), key=lambda f: f.state != "flag")), k=k,
        org=view_of(chosen, org_figure) if org_figure is not None else None,
        two_track=two_track,
    )


def export_rows(view: Overview) -> list[list[object]]:
    """Released figures of an overview as rows, labelled as on the page."""
    header = ["scope", "name", "period", "construct", "respondents", "percent_favourable"]
    rows: list[list[object]] = [header]
    labels = {c.id: c.label for c in items.CONSTRUCTS}
    for row in view.heatmap:
        if not row.shown:
            continue
        for cell in row.cells:
            if cell.shown:
                rows.append(["team", row.team.name, view.period, labels[cell.construct], row.n,
                             round(cell.pct, 1)])  # type: ignore[arg-type]
    for p in view.org_trend:
        if p.released:
            for c in p.constructs:
                if c.pct is not None:
                    rows.append(["organisation", "", p.period, c.label, p.n, round(c.pct, 1)])
    for scope, cut in (("incident kind", view.kinds), ("involvement", view.involvement)):
        for one in cut:
            if one.shown:
                for c in one.view.constructs:
                    if c.pct is not None:
                        rows.append([scope, one.label, view.period, c.label, one.n,
                                     round(c.pct, 1)])
    return rows


def flag_rows(view: Overview) -> list[list[object]]:
    """The quarter's flags as rows, in the words every page prints (``Flag``'s own)."""
    rows: list[list[object]] = [["about", "period", "state", "what_was_seen", "how_sure",
                                 "next_step"]]
    for flag in view.flags:
        rows.append([flag.about, flag.period, flag.label, flag.what_was_seen, flag.how_sure,
                     flag.next_step])
    return rows
