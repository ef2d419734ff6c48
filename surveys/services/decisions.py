"""When figures are decided: a survey's own figure when it closes, a calendar period's
figures when the period ends, always in the same order.

Every figure about answers is decided once, at one of two fixed moments, and recorded
(``surveys.services.releases``); pages only read the records, so what anyone sees never
depends on who looked first, and showing a page twice, in any order, by any role, shows the
same thing.

1. **Close.** In the transaction that seals a survey, its own results are decided (at least
   the survey's own k, then the differencing audit), with the survey's findings.
2. **Period end.** The worker's tick (``lifecycle.tick``) runs :func:`run`: for each
   calendar period that has ended and is not decided yet, oldest first, and at one moment a
   month before its quarter, one transaction decides in this order, each figure audited
   against everything decided before it:

   a. pools: each team's surveys that were not shown on their own (pool grain only);
   b. each team's figure for the period (hierarchy suppression against the organisation's
      total for quarters); a parent team's figure is its own surveys, as on every page;
   c. the organisation's quarter;
   d. cuts of the quarter: incident kinds, then involvement groups (complementary
      suppression first);
   e. comments, per team, pooled by the pool grain;
   f. each team's incident exposure (incident metadata, not answers: shown only for teams
      of at least k people, ``analysis.release.team_size_release``), with its flag;

   then the findings of each released team figure and of the organisation's quarter, and
   a notice for each team period in which someone asked for a confidential check-in (only
   when its surveys invited at least k people).

The order puts the figures people act on first: a manager's own incident (decided at close),
then the pool of their small incidents, then their team's month and quarter; organisation-
wide figures and cuts come last, and are the ones held back when a combination would expose
someone. Each pooled figure's minimum group is the largest of the organisation's k and every
pooled survey's own k (``analysis.release.pooled_min_group``).

A survey never closes into a decided period (:func:`closing_time`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import String, cast, exists, func, literal, select
from sqlalchemy.orm import Session

from analysis import exposure, items, periods, release
from analysis.masking import Masker, shuffled
from surveys.db import begin_write
from surveys.models import (
    CheckinRequest,
    Comment,
    Incident,
    IncidentParticipant,
    Invitation,
    PeriodDecision,
    Person,
    ReleaseRecord,
    Survey,
    SurveyStatus,
    Team,
)
from surveys.services import findings, releases
from surveys.services.policies import policies_asked
from surveys.services.releases import Decider, Release, Request


@dataclass(frozen=True)
class ClosedSurvey:
    """What the decisions need to know of a closed survey (never its answers)."""

    id: int
    team_id: int
    kind: str
    closed_at: datetime
    min_group: int
    respondents: int
    invited: int
    practices: tuple[str, ...]


def closed_surveys(session: Session, *, start: datetime | None = None,
                   end: datetime | None = None, undecided: bool = False
                   ) -> list[ClosedSurvey]:
    """Closed surveys (closing in ``[start, end)`` when given), in closing order."""
    query = (select(Survey.id, Survey.team_id, Incident.kind, Survey.closed_at,
                    Survey.min_group, Survey.respondents, Survey.invited, Survey.practice_ids)
             .join(Incident, Incident.id == Survey.incident_id)
             .where(Survey.status == SurveyStatus.CLOSED, Survey.closed_at.is_not(None))
             .order_by(Survey.closed_at, Survey.id))
    if start is not None:
        query = query.where(Survey.closed_at >= start)
    if end is not None:
        query = query.where(Survey.closed_at < end)
    if undecided:  # no record of its own figure yet (an anti-join on the unique subject)
        subject = literal(releases.survey_subject(0)[:-1]).concat(cast(Survey.id, String))
        query = query.where(~exists().where(ReleaseRecord.subject == subject))
    return [ClosedSurvey(sid, team, kind, closed_at, k, respondents or 0, invited or 0,
                         tuple(practice_ids.split()))
            for sid, team, kind, closed_at, k, respondents, invited, practice_ids
            in session.execute(query)]


# --------------------------------------------------------------------------- at close


def decide_survey(decider: Decider, survey: ClosedSurvey, label: str) -> Release:
    """A closed survey's own figure, and its findings when released."""
    subject = releases.survey_subject(survey.id)
    decided = decider.decide([Request(subject, (survey.id,), survey.min_group)])[subject]
    if decided.allowed:
        family = findings.survey_family(label, decided,
                                        policies_asked(decider.session, survey.practices))
        decider.attach(subject, findings=family.findings, extra=family.extra())
    return decided


def closing_time(session: Session, now: datetime) -> datetime:
    """When a survey closing at ``now`` counts as closed: ``now``, or the end of the latest
    decided period if a clock behind the worker's would put it into a decided period."""
    latest = session.scalars(select(PeriodDecision.period)).all()
    if not latest:
        return now
    end = max(periods.period_end(p) for p in latest)
    return max(now, end)


def meta(session: Session, survey: Survey) -> ClosedSurvey:
    return ClosedSurvey(survey.id, survey.team_id, survey.incident.kind, survey.closed_at,
                        survey.min_group, survey.respondents or 0, survey.invited or 0,
                        survey.practices)


# --------------------------------------------------------------------------- at period end


@dataclass
class RunReport:
    """What a decision run did: periods decided and figures recorded."""

    surveys: int = 0
    periods: list[str] = field(default_factory=list)
    decisions: int = 0
    released: int = 0


def due_periods(session: Session, now: datetime) -> list[str]:
    """Calendar periods with closed surveys that have ended and are not decided, in the
    order they are decided."""
    decided = set(session.scalars(select(PeriodDecision.period)))
    start = None
    if decided:  # nothing can close into a decided period: look from the latest quarter on
        latest = max(decided, key=periods.sort_key)
        start = periods.period_start(periods.quarter_of(latest))
    query = select(Survey.closed_at).distinct().where(
        Survey.status == SurveyStatus.CLOSED, Survey.closed_at.is_not(None))
    if start is not None:
        query = query.where(Survey.closed_at >= start)
    found = set()
    for closed_at in session.scalars(query):
        for grain in periods.GRAINS:
            period = periods.calendar_period(closed_at, grain)
            if period not in decided and periods.period_over(period, now):
                found.add(period)
    return sorted(found, key=periods.sort_key)


def run(session: Session, now: datetime, min_group: int, pool_grain: str) -> RunReport:
    """Decide what is due: closed surveys not decided yet (surveys sealed before decisions
    were recorded at close), then every ended period, one transaction each."""
    periods.check_grain(pool_grain)
    report = RunReport()
    session.rollback()
    begin_write(session)
    undecided = closed_surveys(session, undecided=True)
    if undecided:
        with releases.deciding(session) as decider:
            decider.ledgers.sizes(s.id for s in undecided)  # one read for all their cells
            labels = _incident_labels(session, [s.id for s in undecided])
            for survey in undecided:
                decided = decide_survey(decider, survey, labels[survey.id])
                report.decisions += 1
                report.released += decided.allowed
            session.commit()
        report.surveys = len(undecided)
    else:
        session.rollback()
    memo: dict[object, dict] = {}
    for period in due_periods(session, now):
        session.rollback()
        begin_write(session)
        if session.get(PeriodDecision, period) is not None:  # another process was quicker
            session.rollback()
            continue
        with releases.deciding(session, memo) as decider:
            decided = decide_period(decider, period, min_group, pool_grain)
            session.add(PeriodDecision(period=period, decided_at=now))
            session.commit()
        report.periods.append(period)
        report.decisions += len(decided)
        report.released += sum(r.allowed for r in decided.values())
    session.rollback()
    return report


def _incident_labels(session: Session, survey_ids: Sequence[int]) -> dict[int, str]:
    rows = session.execute(select(Survey.id, Incident.title).join(
        Incident, Incident.id == Survey.incident_id).where(Survey.id.in_(list(survey_ids))))
    return {sid: f"Incident: {title}" for sid, title in rows}


def decide_period(decider: Decider, period: str, min_group: int, pool_grain: str
                  ) -> dict[str, Release]:
    """Every figure of one ended period, in the canonical order (see the module)."""
    session = decider.session
    grain = periods.grain_of(period)
    surveys = closed_surveys(session, start=periods.period_start(period),
                             end=periods.period_end(period))
    if not surveys:
        return decide_exposure(decider, period, min_group)
    own = releases.stored_many(session, [releases.survey_subject(s.id) for s in surveys])
    decider.ledgers.sizes(s.id for s in surveys)  # one read for every cell of the period
    by_team: dict[int, list[ClosedSurvey]] = defaultdict(list)
    for survey in surveys:
        by_team[survey.team_id].append(survey)
    k_all = release.pooled_min_group(min_group, [s.min_group for s in surveys])

    def pooled_k(members: Sequence[ClosedSurvey]) -> int:
        return release.pooled_min_group(min_group, [s.min_group for s in members])

    def ids(members: Sequence[ClosedSurvey]) -> tuple[int, ...]:
        return tuple(s.id for s in members)

    requests: list[Request] = []
    # a. pools of the surveys not shown on their own
    if grain == pool_grain:
        for team_id, members in sorted(by_team.items()):
            small = [s for s in members
                     if not own.get(releases.survey_subject(s.id),
                                    releases.pending("", s.min_group)).allowed]
            if small:
                requests.append(Request(releases.pool_subject(team_id, period), ids(small),
                                        pooled_k(small)))
    # b. teams (hierarchy suppression against the organisation's quarter)
    team_n = {t: sum(s.respondents for s in members) for t, members in by_team.items()}
    if grain == "quarter":
        parents = dict(session.execute(select(Team.id, Team.parent_id)).all())
        shown = hierarchy_shown(parents, team_n, sum(team_n.values()), k_all)
    else:
        shown = set(by_team)
    for team_id, members in sorted(by_team.items()):
        requests.append(Request(releases.team_subject(team_id, period), ids(members),
                                pooled_k(members), suppressed=team_id not in shown))
    if grain == "quarter":
        # c. the organisation
        requests.append(Request(releases.org_subject(period), ids(surveys), k_all))
        # d. cuts: incident kinds, then involvement groups
        total = sum(team_n.values())
        by_kind: dict[str, list[ClosedSurvey]] = defaultdict(list)
        for survey in surveys:
            by_kind[survey.kind].append(survey)
        kind_sizes = {kind: sum(s.respondents for s in ms) for kind, ms in by_kind.items()}
        kinds_shown = release.cut_release(total, kind_sizes, k_all).shown
        for kind, members in sorted(by_kind.items()):
            requests.append(Request(releases.cut_subject("kind", kind, period), ids(members),
                                    k_all, suppressed=kind not in kinds_shown))
        code_sizes: dict[str, int] = defaultdict(int)
        for cell, n in decider.ledgers.cells_of(ids(surveys)).items():
            code_sizes[cell.split(":", 1)[1]] += n
        codes_shown = release.cut_release(total, code_sizes, k_all).shown
        for code in items.INVOLVEMENT_IDS:
            if code_sizes.get(code):
                requests.append(Request(releases.cut_subject("involvement", code, period),
                                        ids(surveys), k_all, code=code,
                                        suppressed=code not in codes_shown))
    decided = decider.decide(requests)
    _attach_families(decider, period, by_team, decided, k_all, pooled_k)
    # e. comments
    if grain == pool_grain:
        for team_id, members in sorted(by_team.items()):
            subject = releases.comments_subject(team_id, period)
            decided[subject] = decide_comments(decider, subject, team_id, period, members,
                                               pooled_k(members))
    # f. exposure
    decided.update(decide_exposure(decider, period, min_group))
    return decided


# --------------------------------------------------------------------------- exposure


def decide_exposure(decider: Decider, period: str, k: int) -> dict[str, Release]:
    """Each team's incident exposure for an ended period: for every team whose people were
    listed on an incident that closed in the period, from incident metadata only (never
    from answers); recorded allowed only for a team of at least ``k`` people, with the
    concentration flag when the most involved fifth carried most involvements this period
    and the one before."""
    session = decider.session
    start, end = periods.period_start(period), periods.period_end(period)
    per_team: dict[int, dict[int, list]] = defaultdict(dict)
    for team_id, person_id, role in session.execute(
            select(Person.team_id, IncidentParticipant.person_id, IncidentParticipant.role)
            .join(Person, Person.id == IncidentParticipant.person_id)
            .join(Incident, Incident.id == IncidentParticipant.incident_id)
            .where(Incident.closed_at >= start, Incident.closed_at < end,
                   Person.team_id.is_not(None))):
        entry = per_team[team_id].setdefault(person_id, [0, False])
        entry[0] += 1
        entry[1] = entry[1] or role == exposure.COMMANDER
    if not per_team:
        return {}
    sizes = dict(session.execute(select(Person.team_id, func.count())
                                 .where(Person.team_id.in_(list(per_team)))
                                 .group_by(Person.team_id)).all())
    names = dict(session.execute(select(Team.id, Team.name)).all())
    subjects = {t: releases.exposure_subject(t, period) for t in per_team}
    out = releases.stored_many(session, subjects.values())
    grain = periods.grain_of(period)
    for team_id, people in sorted(per_team.items()):
        subject = subjects[team_id]
        if subject in out:
            continue
        size = int(sizes.get(team_id, 0))
        decision = release.team_size_release(size, k)
        if not decision.allowed:
            out[subject] = decider.store_exposure(subject, decision, size, None)
            continue
        figure = exposure.measure(size, [n for n, _ in people.values()],
                                  sum(1 for _, c in people.values() if c))
        history = [(p, exposure.Exposure.from_dict(dict(r.extra)))
                   for s, r in releases.stored_with_prefix(
                       session, f"exposure:{team_id}:").items()
                   if r.allowed and periods.valid_period(p := s.rsplit(":", 1)[1])
                   and periods.grain_of(p) == grain
                   and periods.period_index(p) < periods.period_index(period)]
        history.sort(key=lambda pe: periods.period_index(pe[0]))
        history.append((period, figure))
        name = names.get(team_id, "Team")
        flag = exposure.concentration_flag(name, history)
        found = [] if flag is None else [
            {**flag.to_dict(), "about": f"{name}, {periods.period_label(period)}",
             "period": period}]
        out[subject] = decider.store_exposure(subject, decision, size, figure.to_dict(),
                                              found)
    return out


def _attach_families(decider: Decider, period: str, by_team: Mapping[int, list[ClosedSurvey]],
                     decided: dict[str, Release], k_all: int, pooled_k) -> None:
    session = decider.session
    grain = periods.grain_of(period)
    names = dict(session.execute(select(Team.id, Team.name)).all())
    policies = policies_asked(session, None)
    checkins = _checkins(session, [s.id for ms in by_team.values() for s in ms])
    for team_id, members in sorted(by_team.items()):
        k = pooled_k(members)
        notice = findings.checkin_notice(names.get(team_id, "Team"), period,
                                         sum(checkins.get(s.id, 0) for s in members),
                                         sum(s.invited for s in members), k)
        if notice:
            subject = releases.checkins_subject(team_id, period)
            decided[subject] = decider.store_notice(subject, k, notice)
        subject = releases.team_subject(team_id, period)
        figure = decided[subject]
        if not figure.allowed:
            continue
        history = _history(decider, f"team:{team_id}:", grain, period)
        family = findings.team_family(names.get(team_id, "Team"), period, figure, policies,
                                      history)
        decider.attach(subject, findings=family.findings, extra=family.extra())
    org = decided.get(releases.org_subject(period))
    if org is not None and org.allowed:
        involvement = {code: decided[s] for code in items.INVOLVEMENT_IDS
                       if (s := releases.cut_subject("involvement", code, period)) in decided}
        kinds = {kind: decided[s] for kind in sorted({k.split(":")[1] for k in decided
                                                      if k.startswith("kind:")})
                 if (s := releases.cut_subject("kind", kind, period)) in decided}
        family = findings.org_family(period, org, policies, _history(decider, "org:", grain,
                                                                       period),
                                     involvement, k_all)
        decider.attach(org.subject, findings=family.findings,
                       extra=family.extra(comparisons=findings.compare_kinds(kinds),
                                          two_track=findings.compare_two_track(kinds)))


def _history(decider: Decider, prefix: str, grain: str, upto: str
             ) -> list[tuple[str, dict[str, float | None]]]:
    """Percent favourable per construct of the released figures ``prefix<period>`` of one
    grain up to ``upto``, oldest first (read once per run: figures of ended periods never
    change)."""
    memo = decider.memo.setdefault(("history", prefix, grain), {})
    if not memo:
        for subject, figure in releases.stored_with_prefix(decider.session, prefix).items():
            period = subject[len(prefix):]
            if periods.valid_period(period) and periods.grain_of(period) == grain \
                    and figure.allowed:
                memo[period] = findings.construct_pcts(figure)
    if upto not in memo:
        figure = releases.stored(decider.session, f"{prefix}{upto}")
        if figure is not None and figure.allowed:
            memo[upto] = findings.construct_pcts(figure)
    found = [(p, pcts) for p, pcts in memo.items()
             if periods.period_index(p) <= periods.period_index(upto)]
    return sorted(found, key=lambda pr: periods.period_index(pr[0]))


def _checkins(session: Session, survey_ids: Sequence[int]) -> dict[int, int]:
    if not survey_ids:
        return {}
    return dict(session.execute(
        select(CheckinRequest.survey_id, func.count()).where(
            CheckinRequest.survey_id.in_(list(survey_ids)))
        .group_by(CheckinRequest.survey_id)).all())


def hierarchy_shown(parents: Mapping[int, int | None], own: Mapping[int, int], total: int,
                    k: int) -> set[int]:
    """Teams whose own figure may be shown next to the organisation's total and each parent
    team's total: complementary suppression over the hierarchy
    (:func:`analysis.release.hierarchy_release`).

    ``own`` is each team's respondents in its own surveys; a parent team's figure on a page
    is its own surveys only, so it is a leaf ``("own", team)`` below the team's subtree.
    """
    nodes: dict[Hashable, Hashable | None] = {"org": None}
    children: dict[int, list[int]] = defaultdict(list)
    for team, parent in parents.items():
        if parent in parents:
            children[parent].append(team)  # type: ignore[index]
    for team, parent in parents.items():
        nodes[("team", team)] = ("team", parent) if parent in parents else "org"
        if children.get(team):
            nodes[("own", team)] = ("team", team)
    totals: dict[Hashable, int] = {"org": total}

    def subtree(team: int) -> int:
        value = own.get(team, 0) + sum(subtree(c) for c in children.get(team, ()))
        totals[("team", team)] = value
        if children.get(team):
            totals[("own", team)] = own.get(team, 0)
        return value

    for team, parent in parents.items():
        if parent not in parents:
            subtree(team)
    decision = release.hierarchy_release(nodes, totals, k)
    shown = set()
    for team in parents:
        leaf = ("own", team) if children.get(team) else ("team", team)
        if leaf in decision.shown:
            shown.add(team)
    return shown


# --------------------------------------------------------------------------- comments


def decide_comments(decider: Decider, subject: str, team_id: int, period: str,
                    members: Sequence[ClosedSurvey], k: int) -> Release:
    """A team's comments for a period: at least k different people must have written them;
    masked (roster and participant names and emails, dates to the period), shuffled once."""
    session = decider.session
    found = releases.stored(session, subject)
    if found is not None:
        return found
    ids = sorted(s.id for s in members)
    per_survey: dict[int, int] = dict.fromkeys(ids, 0)
    for survey_id, count in session.execute(
            select(Comment.survey_id, func.count()).where(Comment.survey_id.in_(ids))
            .group_by(Comment.survey_id)):
        per_survey[survey_id] = count
    most = _most_surveys_per_person(session, ids) if any(per_survey.values()) else 0
    decision = release.comments_release(per_survey, most, k, period_over=True)
    if not decision.allowed:
        return decider.store_comments(subject, k, decision)
    bodies = list(session.scalars(select(Comment.body).where(Comment.survey_id.in_(ids))))
    masker = Masker.build(*_people_of(session, team_id, ids), periods.period_label(period))
    masked = shuffled([masker.mask(body) for body in bodies])
    authors = release.distinct_authors_at_least(per_survey, most)
    return decider.store_comments(subject, k, decision, authors, masked)


def _most_surveys_per_person(session: Session, survey_ids: Sequence[int]) -> int:
    per_person = (select(func.count().label("n")).select_from(Invitation)
                  .where(Invitation.survey_id.in_(list(survey_ids)))
                  .group_by(Invitation.person_id).subquery())
    return int(session.scalar(select(func.max(per_person.c.n))) or 0)


def _people_of(session: Session, team_id: int, survey_ids: Sequence[int]
               ) -> tuple[list[str], list[str]]:
    """Names and emails to mask: the team's roster and everyone invited to these surveys."""
    invited = select(Invitation.person_id).where(Invitation.survey_id.in_(list(survey_ids)))
    rows = session.execute(select(Person.name, Person.email).where(
        (Person.team_id == team_id) | Person.id.in_(invited)))
    names, emails = [], []
    for name, email in rows:
        names.append(name)
        emails.append(email)
    return names, emails
