"""What a manager or HR user may see about incidents, surveys and their results.

Access is decided here, in one place: managers reach their teams only, HR and admins reach
every team. Every number about answers is read from the release guard's recorded decision
(``surveys.services.releases``): a survey's own figure was decided when it closed, its
team's pooled comments when the period ended. Nothing here decides a release or writes one,
so showing a page twice, in any order, by any role, shows the same thing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from analysis import items, periods, release
from surveys.db import begin_write
from surveys.errors import InvalidInput, NotFound
from surveys.models import Incident, Survey, User
from surveys.services import findings, releases
from surveys.services.access import (  # noqa: F401  (re-exported: views call results.*)
    authorize_team,
    sees_all_teams,
    visible_team_ids,
)
from surveys.services.lifecycle import spent_ballots
from surveys.services.scores import (  # noqa: F401  (re-exported for pages and the API)
    ConstructResult,
    Headline,
    ItemResult,
    PracticeResult,
    construct_results,
    headlines,
    practice_row,
)


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
class SurveyResults:
    survey: Survey
    decision: release.Decision
    minimum_reached: bool | None = None
    respondents: int | None = None
    constructs: tuple[ConstructResult, ...] = ()
    practices: tuple[PracticeResult, ...] = field(default_factory=tuple)
    flags: tuple[findings.ShownFlag, ...] = ()
    comments: tuple[str, ...] = ()
    subject: str = ""
    measures: tuple[str, ...] = ()
    headlines: tuple[Headline, ...] = ()


def decisions_for(session: Session, surveys: Sequence[Survey]) -> dict[int, release.Decision]:
    """Each survey's decision, for a list (one query)."""
    stored = releases.stored_many(
        session, [releases.survey_subject(s.id) for s in surveys if s.is_closed])
    out = {}
    for survey in surveys:
        if not survey.is_closed:
            out[survey.id] = release.survey_release(survey.status, 0, survey.min_group)
        else:
            found = stored.get(releases.survey_subject(survey.id))
            out[survey.id] = (found or releases.pending("", survey.min_group)).decision
    return out


def released_comments(session: Session, survey: Survey, pool_grain: str) -> tuple[str, ...]:
    """Comments a manager may read next to this survey: the team's pooled comments for the
    calendar period the survey closed in, as decided when that period ended (shuffled, names
    and addresses masked, dates coarsened)."""
    if not survey.is_closed or survey.closed_at is None:
        return ()
    period = periods.calendar_period(survey.closed_at, pool_grain)
    found = releases.stored(session, releases.comments_subject(survey.team_id, period))
    return found.comments if found is not None and found.allowed else ()


def practice_rows(policy_numbers: Mapping[str, Mapping[str, float]]
                  ) -> tuple[PracticeResult, ...]:
    """The practice table of a released figure: the policies its findings were decided for,
    with the same numbers as its flags."""
    return tuple(practice_row(items.POLICY_BY_ID[pid], numbers)
                 for pid, numbers in policy_numbers.items() if pid in items.POLICY_BY_ID)


def survey_results(session: Session, survey: Survey, *, pool_grain: str = "quarter"
                   ) -> SurveyResults:
    """A survey's results as the release guard decided them when it closed: numbers, the
    practice table and the findings decided with them, and the team's pooled comments."""
    k = survey.min_group
    if survey.is_open:
        reached = release.minimum_reached(spent_ballots(session, survey.id), k)
        return SurveyResults(survey, release.survey_release(survey.status, 0, k), reached)
    if not survey.is_closed:
        return SurveyResults(survey, release.survey_release(survey.status, 0, k))
    recorded = releases.stored(session, releases.survey_subject(survey.id))
    if recorded is None or not recorded.allowed:
        return SurveyResults(survey, (recorded or releases.pending("", k)).decision)
    constructs = construct_results(recorded.counts, k)
    previous, since = previous_released(session, survey)
    return SurveyResults(
        survey, recorded.decision, None, recorded.n, constructs,
        practice_rows(recorded.extra.get("practices", {})), findings.shown(recorded.findings),
        released_comments(session, survey, pool_grain), recorded.subject,
        tuple(sorted(recorded.measures)), headlines(constructs, previous, since))


def previous_released(session: Session, survey: Survey
                      ) -> tuple[tuple[ConstructResult, ...] | None, str]:
    """The figures of the team's latest survey that closed before this one and whose
    results were released (as recorded), and words naming it; (None, "") if none."""
    earlier = session.scalars(
        select(Survey).where(Survey.team_id == survey.team_id, Survey.id != survey.id,
                             Survey.closed_at.is_not(None),
                             Survey.closed_at < survey.closed_at)
        .options(joinedload(Survey.incident))
        .order_by(Survey.closed_at.desc()).limit(20)).unique().all()
    stored = releases.stored_many(session, [releases.survey_subject(s.id) for s in earlier])
    for other in earlier:
        found = stored.get(releases.survey_subject(other.id))
        if found is not None and found.allowed:
            title = other.incident.title if other.incident is not None else "earlier survey"
            return (construct_results(found.counts, found.decision.k, with_means=False),
                    f"“{title}”")
    return None, ""


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
