"""What a manager or HR user may see about incidents, surveys and results.

Access is decided here, in one place: managers reach their teams only, HR and admins reach
every team. Every number about answers goes through ``analysis.release``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from analysis import release, scoring
from surveys import items
from surveys.errors import Forbidden, NotFound
from surveys.models import Incident, SealedCount, Survey, Team, User
from surveys.services.lifecycle import policies_in_force, spent_ballots

PRACTICE_ANSWERS = frozenset(v for v, _ in items.PRACTICE_SCALE)
STATEMENT_ANSWERS = scoring.SCALE


def sees_all_teams(user: User) -> bool:
    return user.role in ("hr", "admin")


def visible_team_ids(session: Session, user: User) -> list[int]:
    if sees_all_teams(user):
        return list(session.scalars(select(Team.id).order_by(Team.name)))
    return [t.id for t in user.teams]


def authorize_team(user: User, team_id: int) -> None:
    if not sees_all_teams(user) and team_id not in {t.id for t in user.teams}:
        raise Forbidden("This incident belongs to a team you do not manage.")


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
    id: str
    text: str
    shown: bool
    n: int | None = None
    pct: float | None = None


@dataclass(frozen=True)
class ConstructResult:
    id: str
    label: str
    description: str
    pct: float | None
    items: tuple[ItemResult, ...]


@dataclass(frozen=True)
class PracticeResult:
    policy_id: str
    policy: str
    question: str
    contrary_label: str
    shown: bool
    n: int | None = None
    contrary_pct: float | None = None


@dataclass(frozen=True)
class SurveyResults:
    survey: Survey
    decision: release.Decision
    minimum_reached: bool | None = None
    respondents: int | None = None
    constructs: tuple[ConstructResult, ...] = ()
    practices: tuple[PracticeResult, ...] = field(default_factory=tuple)


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


def survey_results(session: Session, survey: Survey) -> SurveyResults:
    """Results of one survey as far as the release guard allows."""
    k = survey.min_group
    if survey.status == "open":
        reached = release.minimum_reached(spent_ballots(session, survey.id), k)
        return SurveyResults(survey, release.survey_release("open", 0, k), reached)
    decision = release.survey_release(survey.status, survey.respondents or 0, k)
    if not decision.allowed:
        return SurveyResults(survey, decision)
    counts = _counts(session, survey.id)
    constructs = []
    for construct in items.CONSTRUCTS:
        results, tallies = [], []
        for statement in items.statements_of(construct.id):
            tally = scoring.favourable(counts.get(statement.id, {}), statement.reverse)
            if release.cell_allowed(tally.n, k):
                tallies.append(tally)
                results.append(ItemResult(statement.id, statement.text, True, tally.n,
                                          tally.pct))
            else:
                results.append(ItemResult(statement.id, statement.text, False))
        constructs.append(ConstructResult(construct.id, construct.label,
                                          construct.description,
                                          scoring.mean_of_pcts(tallies), tuple(results)))
    practices = []
    in_force = policies_in_force(session)
    for policy in items.POLICIES:
        if policy.id not in in_force:
            continue
        if policy.check in items.PRACTICE_BY_ID:
            if policy.check not in survey.practices:
                continue  # declared after this survey opened; it was not asked
            question, answered = items.PRACTICE_BY_ID[policy.check].text, PRACTICE_ANSWERS
        else:
            question, answered = items.STATEMENT_BY_ID[policy.check].text, STATEMENT_ANSWERS
        tally = scoring.contrary(counts.get(policy.check, {}), policy.contrary, answered)
        shown = release.cell_allowed(tally.n, k)
        practices.append(PracticeResult(
            policy.id, policy.text, question, policy.contrary_label, shown,
            tally.n if shown else None, tally.pct if shown else None))
    return SurveyResults(survey, decision, None, survey.respondents, tuple(constructs),
                         tuple(practices))


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
