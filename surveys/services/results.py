"""What a manager or HR user may see about incidents, surveys and results.

Access is decided here, in one place: managers reach their teams only, HR and admins reach
every team. Every number about answers goes through ``analysis.release``: a whole survey
through ``survey_release``, each shown figure through ``cell_allowed``. Percents come with
Wilson intervals from ``analysis.stats`` and flags from ``analysis.flags``; nothing here
re-implements a statistic or a threshold.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload, object_session

from analysis import flags, release, stats
from analysis.sealing import SCORE_DENOMINATOR
from surveys import items
from surveys.db import begin_write
from surveys.errors import InvalidInput, NotFound
from surveys.models import CheckinRequest, Incident, SealedCount, Survey, User
from surveys.services import releases
from surveys.services.access import (  # noqa: F401  (re-exported: views call results.*)
    authorize_team,
    sees_all_teams,
    visible_team_ids,
)
from surveys.services.lifecycle import policies_in_force, spent_ballots

Counts = Mapping[str, Mapping[int, int]]  # item -> answer value -> count


def incidents_for(session: Session, user: User) -> list[Incident]:
    team_ids = visible_team_ids(session, user)
    return list(
        session.scalars(
            select(Incident)
            .where(Incident.team_id.in_(team_ids))
            .options(joinedload(Incident.survey), joinedload(Incident.team))
            .order_by(Incident.closed_at.desc())
        ).unique()
    )


def get_incident(session: Session, user: User, incident_id: int) -> Incident:
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise NotFound("No such incident.")
    authorize_team(user, incident.team_id)
    return incident


@dataclass(frozen=True)
class ItemResult:
    """One statement: percent favourable with its 95% Wilson interval, when shown."""

    id: str
    text: str
    shown: bool
    n: int | None = None
    pct: float | None = None
    low: float | None = None
    high: float | None = None


@dataclass(frozen=True)
class ConstructResult:
    """A construct: percent favourable (mean of its shown items) and the respondent-level
    mean score on 1..5 with its interval (t below 20 respondents, BCa from 20)."""

    id: str
    label: str
    description: str
    pct: float | None
    items: tuple[ItemResult, ...]
    mean: stats.MeanInterval | None = None

    @property
    def shown(self) -> bool:
        return self.pct is not None


@dataclass(frozen=True)
class PracticeResult:
    """A policy in force and the share of answers contrary to it ("Not sure" and "Doesn't
    apply" left out, as in the flag rule)."""

    policy_id: str
    policy: str
    question: str
    contrary_label: str
    shown: bool
    n: int | None = None
    contrary_pct: float | None = None
    low: float | None = None
    high: float | None = None


@dataclass(frozen=True)
class SurveyResults:
    survey: Survey
    decision: release.Decision
    minimum_reached: bool | None = None
    respondents: int | None = None
    constructs: tuple[ConstructResult, ...] = ()
    practices: tuple[PracticeResult, ...] = field(default_factory=tuple)
    flags: tuple[flags.Flag, ...] = ()
    comments: tuple[str, ...] = ()
    checkin_requested: bool = False


def _counts(session: Session, survey_id: int) -> dict[str, dict[int, int]]:
    by_item: dict[str, dict[int, int]] = defaultdict(dict)
    rows = session.execute(
        select(SealedCount.item, SealedCount.value, SealedCount.count).where(
            SealedCount.survey_id == survey_id, SealedCount.cut == "all"
        )
    )
    for item, value, count in rows:
        by_item[item][value] = count
    return by_item


def histogram(counts: Counts, construct_id: str) -> dict[float, int]:
    """Respondent-level construct scores (1..5) from the sealed sixths histogram."""
    return {value / SCORE_DENOMINATOR: c
            for value, c in counts.get(f"construct:{construct_id}", {}).items() if c}


def respondents_of(counts: Counts) -> int:
    return sum(counts.get("_n", {}).values())


def item_result(counts: Counts, statement: items.Statement, k: int
                ) -> tuple[ItemResult, stats.Proportion | None]:
    """A statement's percent favourable, if at least k answered it (not "Doesn't apply")."""
    raw = counts.get(statement.id, {})
    answered = sum(c for v, c in raw.items() if v in stats.STATEMENT_VALUES)
    if not release.cell_allowed(answered, k):
        return ItemResult(statement.id, statement.text, False), None
    share = stats.percent_favourable(raw, statement.reverse)
    return ItemResult(statement.id, statement.text, True, share.n, share.pct, share.low,
                      share.high), share


def construct_results(counts: Counts, k: int, *, with_means: bool = True
                      ) -> tuple[ConstructResult, ...]:
    """Every construct of the bank from released counts; cells below k are not shown."""
    out = []
    for construct in items.CONSTRUCTS:
        pairs = [item_result(counts, s, k) for s in items.statements_of(construct.id)]
        shown_items = tuple(result for result, _ in pairs)
        proportions = [share for _, share in pairs if share is not None]
        pct = stats.construct_percent_favourable(proportions).pct if proportions else None
        mean = None
        if with_means:
            hist = histogram(counts, construct.id)
            scored = sum(hist.values())
            if release.cell_allowed(scored, k):
                mean = stats.mean_interval(hist)
        out.append(ConstructResult(construct.id, construct.label, construct.description, pct,
                                   shown_items, mean))
    return tuple(out)


def policies_asked(session: Session, asked: Sequence[str] | None) -> list[items.Policy]:
    """Policies in force whose check was asked (statements always are)."""
    in_force = policies_in_force(session)
    chosen = []
    for policy in items.POLICIES:
        if policy.id not in in_force:
            continue
        if policy.check in items.PRACTICE_BY_ID and asked is not None \
                and policy.check not in asked:
            continue  # declared after this survey opened: it was not asked
        chosen.append(policy)
    return chosen


def practice_results(policies: Sequence[items.Policy], counts: Counts, k: int
                     ) -> tuple[tuple[PracticeResult, ...], list[flags.Finding]]:
    """The practice table and the gap findings behind it (for the page's flags)."""
    rows, findings = [], []
    for policy in policies:
        question = (items.PRACTICE_BY_ID[policy.check].text
                    if policy.check in items.PRACTICE_BY_ID
                    else items.STATEMENT_BY_ID[policy.check].text)
        finding = flags.policy_gap_finding(policy, counts.get(policy.check, {}))
        n = int(finding.numbers["n"]) if finding else 0
        if finding is None or not release.cell_allowed(n, k):
            rows.append(PracticeResult(policy.id, policy.text, question, policy.contrary_label,
                                       False))
            continue
        findings.append(finding)
        rows.append(PracticeResult(
            policy.id, policy.text, question, policy.contrary_label, True, n,
            float(finding.numbers["share_pct"]), float(finding.numbers["low_pct"]),
            float(finding.numbers["high_pct"])))
    return tuple(rows), findings


def checkin_finding(subject: str, requests: int) -> flags.Finding | None:
    """The check-in flag as managers see it: that a request exists, never how many or who
    (the words are `flags.checkin_finding`'s own)."""
    return flags.checkin_finding(subject, requests)


def checkin_requests(session: Session, survey_ids: Sequence[int]) -> int:
    """Check-in requests of closed surveys (delivered or due), for the existence flag."""
    if not survey_ids:
        return 0
    return session.scalar(
        select(func.count()).select_from(CheckinRequest).join(
            Survey, Survey.id == CheckinRequest.survey_id
        ).where(CheckinRequest.survey_id.in_(list(survey_ids)), Survey.status == "closed")
    ) or 0


def released_comments(session: Session, survey: Survey, *, now: datetime | None = None,
                      pool_period: str = "quarter") -> tuple[str, ...]:
    """Comments a manager may read next to this survey: the team's pooled comments for the
    calendar period the survey closed in, once the period is over and at least k different
    people wrote them, shuffled, with roster names and addresses masked and dates coarsened
    (``releases.survey_comments``, the release guard's single gate). Without ``now`` (the
    caller cannot tell whether the period is over) nothing is shown.
    """
    if now is None:
        return ()
    return releases.survey_comments(session, survey, now, pool_period, survey.min_group)


def survey_results(session: Session, survey: Survey, *, now: datetime | None = None,
                   pool_period: str = "quarter") -> SurveyResults:
    """Results of one survey as far as the release guard allows, with the page's flags.

    A closed survey's release goes through ``releases.survey_release``: the threshold and
    the differencing audit, recorded, so that asking again shows the same numbers."""
    k = survey.min_group
    if survey.status == "open":
        reached = release.minimum_reached(spent_ballots(session, survey.id), k)
        return SurveyResults(survey, release.survey_release("open", 0, k), reached)
    released = releases.survey_release(session, survey)
    decision = released.decision
    checkin = survey.status == "closed" and checkin_requests(session, [survey.id]) > 0
    if not decision.allowed:
        page_flags = flags.resolve([checkin_finding("this incident", 1 if checkin else 0)])
        return SurveyResults(survey, decision, flags=tuple(page_flags),
                             checkin_requested=checkin)
    counts = released.counts
    constructs = construct_results(counts, k)
    practices, findings = practice_results(policies_asked(session, survey.practices), counts, k)
    findings.append(checkin_finding("this incident", 1 if checkin else 0))
    return SurveyResults(survey, decision, None, survey.respondents, constructs, practices,
                         tuple(flags.resolve(findings)),
                         released_comments(session, survey, now=now, pool_period=pool_period),
                         checkin)


@dataclass(frozen=True)
class LearningOutcome:
    system_changes: int | None
    repeat: bool | None


def record_learning(session: Session, user: User, incident_id: int, system_changes: str,
                    repeat: str) -> Incident:
    """A manager records what the review changed: system changes made, and whether the
    incident repeats an earlier one. Not about answers, so not behind the release guard."""
    begin_write(session)
    incident = get_incident(session, user, incident_id)
    problems: dict[str, str] = {}
    changes: int | None = None
    raw = system_changes.strip()
    if raw:
        if not raw.isdigit() or int(raw) > 999:
            problems["system_changes"] = "Enter a whole number from 0 to 999."
        else:
            changes = int(raw)
    if repeat not in ("", "yes", "no"):
        problems["repeat"] = "Choose yes, no or not known."
    if problems:
        session.rollback()
        raise InvalidInput("The learning outcomes could not be saved.", problems)
    incident.system_changes = changes
    incident.repeat = None if repeat == "" else repeat == "yes"
    session.commit()
    return incident


def is_released(survey: Survey) -> bool:
    """Whether a survey's own results may be shown (the release guard's word): enough
    people answered, and the differencing audit has not refused them (a stored refusal)."""
    if survey.status != "closed":
        return False
    if not release.survey_release(survey.status, survey.respondents or 0,
                                  survey.min_group).allowed:
        return False
    session = object_session(survey)
    found = releases.stored(session, releases.survey_subject(survey.id)) if session else None
    return found is None or found.allowed


def survey_for_incident(session: Session, user: User, incident_id: int) -> Survey:
    incident = get_incident(session, user, incident_id)
    if incident.survey is None:
        raise NotFound("This incident has no survey.")
    return incident.survey


def get_survey(session: Session, survey_id: int) -> Survey:
    survey = session.get(Survey, survey_id)
    if survey is None:
        raise NotFound("No such survey.")
    return survey
