"""Survey lifecycle: create an incident and its survey, open, remind, close and seal.

Each public function is one use case and owns its one commit. Callers pass the clock
(``now``), the settings and the token box, so tests control time without patching.
"""

from __future__ import annotations

import random
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from analysis import exposure, items
from analysis.release import validate_min_group
from analysis.sealing import ItemKey, seal
from surveys.config import Settings
from surveys.db import after_purge, begin_write
from surveys.errors import Conflict, InvalidInput, MinGroupLocked, NotFound
from surveys.models import (
    INCIDENT_KINDS,
    SEVERITIES,
    Ballot,
    Comment,
    Incident,
    IncidentParticipant,
    Invitation,
    OutboxMessage,
    OutboxStatus,
    Person,
    Response,
    SealedCount,
    StagedAnswer,
    StagedComment,
    Survey,
    SurveyStatus,
    Team,
)
from surveys.services import actions, decisions, delivery, releases
from surveys.services.access import team_by_slug
from surveys.services.policies import policies_in_force
from surveys.tokens import TokenBox, hash_token, new_token

EMAIL = re.compile(r"^[^@\s<>(),;:\"\[\]]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                   r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")
MAX_PARTICIPANTS = 500
MAX_TITLE = 200
# Control characters (C0, DEL, C1) and the Unicode line and paragraph separators: a title goes
# into mail headers and single-line places, where a line break is never right.
_CONTROL_CATEGORIES = frozenset({"Cc", "Zl", "Zp"})
_SHUFFLE = random.SystemRandom()


@dataclass(frozen=True)
class NewIncident:
    team: str  # team slug
    title: str
    kind: str
    severity: str
    closed_at: datetime
    participants: Sequence[str]
    external_id: str | None = None
    open_delay: timedelta | None = None
    duration: timedelta | None = None
    # Optional role per participant's email (analysis.exposure.INCIDENT_ROLES).
    roles: Mapping[str, str] | None = None


# Why a listed participant was not invited (ParticipantOutcome.reason).
NOT_INVITED_REASONS = ("survey_open", "survey_closed", "recently_surveyed", "opted_out")


@dataclass(frozen=True)
class ParticipantOutcome:
    """What happened to one listed participant: ``invited`` (now), ``already_invited`` (by an
    earlier request) or ``not_invited`` with a reason from ``NOT_INVITED_REASONS``; and
    whether the address was new, so that nobody is added to a roster without it being said."""

    email: str
    status: str
    reason: str | None = None
    added_to_roster: bool = False  # the address was on no roster: intake added it to the team's


@dataclass(frozen=True)
class IntakeResult:
    created: bool
    incident: Incident
    survey: Survey
    participants: tuple[ParticipantOutcome, ...]


@dataclass
class TickReport:
    opened: list[int] = field(default_factory=list)
    reminded: list[int] = field(default_factory=list)
    closed: list[int] = field(default_factory=list)
    decided: decisions.RunReport = field(default_factory=decisions.RunReport)
    actions_due: int = 0  # reminders queued for actions that came due


def normalise_email(raw: str) -> str:
    return raw.strip().lower()


def has_control_characters(text: str) -> bool:
    """Whether ``text`` holds a control character (CR, LF, tab, NUL, ...) or a Unicode line
    or paragraph separator: the one test for text that must stay on one line."""
    return any(unicodedata.category(c) in _CONTROL_CATEGORIES for c in text)


def title_problem(title: str) -> str | None:
    """What is wrong with an incident title, or None: the one rule for the web form, the
    API and the command line. A title is 1 to ``MAX_TITLE`` characters on one line; a line
    break would go into the invitation's Subject header, where no mail could be sent."""
    text = title.strip()
    if not text:
        return "a title is required"
    if len(text) > MAX_TITLE:
        return f"keep the title under {MAX_TITLE} characters"
    if has_control_characters(text):
        return "keep the title on one line, without control characters"
    return None


def validate_emails(raw: Sequence[object]) -> tuple[list[str], dict[str, str]]:
    """Return unique, normalised emails and a problem per bad entry (keyed participants[i])."""
    problems: dict[str, str] = {}
    seen: dict[str, int] = {}
    emails: list[str] = []
    for i, value in enumerate(raw):
        key = f"participants[{i}]"
        if not isinstance(value, str):
            problems[key] = "must be an email address as text"
            continue
        email = normalise_email(value)
        if len(email) > 254 or not EMAIL.match(email):
            problems[key] = f"{value[:80]!r} is not a valid email address"
        elif email in seen:
            problems[key] = f"{email} is listed twice (also at participants[{seen[email]}])"
        else:
            seen[email] = i
            emails.append(email)
    return emails, problems


def parse_roles(lines: Iterable[str]) -> tuple[dict[str, str], list[str]]:
    """Roles written ``email: role``, one per line of the form or per ``--role`` of the
    command line: the roles, and the lines not understood. What they mean (a participant, a
    known role) is :func:`role_problems`'s to check."""
    roles: dict[str, str] = {}
    bad: list[str] = []
    for line in lines:
        if not line.strip():
            continue
        email, sep, role = line.partition(":")
        if not sep or not email.strip() or not role.strip():
            bad.append(line.strip()[:80])
            continue
        roles[email.strip()] = role.strip().lower()
    return roles, bad


def role_problems(roles: Mapping[str, str] | None, participants: Sequence[str]
                  ) -> dict[str, str]:
    """A problem per role given for an address that is not a participant, or naming an
    unknown role (keyed ``roles.<email>``); the one rule for the form and the API."""
    problems: dict[str, str] = {}
    listed = set(participants)
    for raw, role in (roles or {}).items():
        email = normalise_email(raw)
        key = f"roles.{raw[:80]}"
        if email not in listed:
            problems[key] = f"{raw[:80]} is not a participant of this incident"
        elif role not in exposure.INCIDENT_ROLES:
            problems[key] = (f"{str(role)[:40]!r} is not a role; use one of "
                             f"{', '.join(exposure.INCIDENT_ROLES)}")
    return problems


def validate_incident(session: Session, data: NewIncident, now: datetime) -> Team:
    problems: dict[str, str] = {}
    team = team_by_slug(session, data.team)
    if team is None:
        problems["team"] = f"no team with slug {data.team!r}"
    if (problem := title_problem(data.title)) is not None:
        problems["title"] = problem
    if data.kind not in INCIDENT_KINDS:
        problems["kind"] = f"must be one of {', '.join(INCIDENT_KINDS)}"
    if data.severity not in SEVERITIES:
        problems["severity"] = f"must be one of {', '.join(SEVERITIES)}"
    if data.closed_at.tzinfo is None:
        problems["closed_at"] = "must include a time zone, e.g. 2026-11-20T14:00:00Z"
    elif data.closed_at > now + timedelta(minutes=5):
        problems["closed_at"] = "cannot be in the future"
    if data.external_id is not None and not 0 < len(data.external_id) <= 200:
        problems["external_id"] = "must be 1 to 200 characters"
    if not data.participants:
        problems["participants"] = "list at least one participant"
    elif len(data.participants) > MAX_PARTICIPANTS:
        problems["participants"] = f"at most {MAX_PARTICIPANTS} participants per incident"
    else:
        emails, email_problems = validate_emails(data.participants)
        problems.update(email_problems)
        problems.update(role_problems(data.roles, emails))
    for name, value in (("open_delay", data.open_delay), ("duration", data.duration)):
        if value is not None and (value < timedelta(0) or value > timedelta(days=90)):
            problems[name] = "must be between 0 and 90 days"
    if data.duration is not None and data.duration < timedelta(hours=1):
        problems["duration"] = "a survey must stay open at least one hour"
    if problems:
        raise InvalidInput("The incident could not be created.", problems)
    return team  # type: ignore[return-value]


def unknown_emails(session: Session, emails: Sequence[str]) -> list[str]:
    """The listed addresses that are on no roster yet (normalised, in the order given).

    Intake adds them to the team's roster; the web form asks first, so nobody is added to a
    roster without the manager saying so."""
    wanted = [normalise_email(e) for e in emails if isinstance(e, str)]
    if not wanted:
        return []
    known = set(session.scalars(select(Person.email).where(Person.email.in_(wanted))))
    return [e for e in dict.fromkeys(wanted) if e not in known]


def _people(session: Session, emails: Sequence[str], team: Team
            ) -> tuple[list[Person], set[str]]:
    """The people of ``emails``, and the addresses that were on no roster (added to
    ``team``'s)."""
    existing = {
        p.email: p for p in session.scalars(select(Person).where(Person.email.in_(emails)))
    }
    people, added = [], set()
    for email in emails:
        person = existing.get(email)
        if person is None:
            person = Person(email=email, name="", team_id=team.id)
            session.add(person)
            added.add(email)
        people.append(person)
    session.flush()
    return people, added


def reminder_time(opens_at: datetime, closes_at: datetime, on_weekends: bool) -> datetime:
    """Half-time between open and close; off weekends (UTC) unless ``on_weekends``.

    A Saturday or Sunday half-time moves forward to Monday at the same time of day, or back
    to Friday when Monday is not before the close. If neither fits (a survey open only over a
    weekend), the close itself is returned, which means no reminder: the tick never reminds
    at or after the close.
    """
    half = opens_at + (closes_at - opens_at) / 2
    if on_weekends or half.weekday() < 5:
        return half
    monday = half + timedelta(days=7 - half.weekday())
    if monday < closes_at:
        return monday
    friday = half - timedelta(days=half.weekday() - 4)
    return friday if friday > opens_at else closes_at


def create_incident(
    session: Session, data: NewIncident, settings: Settings, box: TokenBox, now: datetime,
) -> Survey:
    """Create an incident, its survey and its invitations; open it at once if it is due."""
    return intake_incident(session, data, settings, box, now).survey


def intake_incident(
    session: Session, data: NewIncident, settings: Settings, box: TokenBox, now: datetime,
) -> IntakeResult:
    """Create an incident and its survey, or, for an ``external_id`` seen before, add the
    participants not yet invited (idempotent).

    Concurrent identical requests are safe without any load-check-insert race: the unique
    ``external_id`` (and person email, and invitation) constraints make every loser of a race
    fail with an IntegrityError; the use case is then rolled back and run again, and finds
    the winner's incident. On SQLite ``begin_write`` already serialises writers.

    Participants are added only while the survey is scheduled; see ``_add_participants``.
    """
    for _attempt in range(5):
        try:
            return _intake_once(session, data, settings, box, now)
        except IntegrityError:
            session.rollback()
    raise Conflict("The incident could not be stored because of concurrent requests; "
                   "send it again.")


def _intake_once(
    session: Session, data: NewIncident, settings: Settings, box: TokenBox, now: datetime,
) -> IntakeResult:
    begin_write(session)
    try:
        team = validate_incident(session, data, now)
    except InvalidInput:
        session.rollback()
        raise
    emails, _ = validate_emails(data.participants)
    incident = None
    if data.external_id is not None:
        incident = session.scalar(select(Incident).where(Incident.external_id == data.external_id))
    if incident is not None:
        if incident.team_id != team.id:
            session.rollback()
            raise Conflict(
                "This external_id belongs to an incident of another team.",
                {"external_id": "already used for an incident of another team"},
            )
        survey = session.scalar(
            select(Survey).where(Survey.incident_id == incident.id).with_for_update())
        outcomes = _add_participants(session, survey, emails, team, settings)
        _record_roles(session, incident.id, emails, data.roles)
        session.commit()
        return IntakeResult(False, incident, survey, outcomes)

    incident = Incident(
        team_id=team.id,
        external_id=data.external_id,
        title=data.title.strip(),
        kind=data.kind,
        severity=data.severity,
        closed_at=data.closed_at,
        created_at=now,
    )
    opens_at = max(data.closed_at + (
        data.open_delay if data.open_delay is not None else settings.open_delay), now)
    duration = data.duration or settings.survey_duration
    survey = Survey(
        incident=incident,
        team_id=team.id,
        status=SurveyStatus.SCHEDULED,
        opens_at=opens_at,
        closes_at=opens_at + duration,
        remind_at=reminder_time(opens_at, opens_at + duration, settings.remind_on_weekends),
        min_group=settings.min_group,
    )
    session.add_all([incident, survey])
    session.flush()
    outcomes = _add_participants(session, survey, emails, team, settings)
    _record_roles(session, incident.id, emails, data.roles)
    if survey.opens_at <= now:
        _open(session, survey, box, now)
    session.commit()
    return IntakeResult(True, incident, survey, outcomes)


def _add_participants(
    session: Session, survey: Survey, emails: Sequence[str], team: Team, settings: Settings
) -> tuple[ParticipantOutcome, ...]:
    """Invite the listed people who are not invited yet, while the survey is scheduled.

    Anonymity rule for late participants: ballots are created in one shuffled batch when a
    survey opens. Adding one invitation and one ballot to an open survey in one transaction
    would let a copy of the database link that ballot (and, through the transaction that
    spends it, the staged answer) to the person. So once a survey is open (or closed), new
    people are not invited to it; the outcome says so with a reason.

    Survey fatigue: a person already invited to ``survey_limit`` surveys opening within
    ``survey_limit_window`` of this one (either side) is not invited. Person rows are locked first
    (PostgreSQL) so that two incidents arriving together cannot both pass the count.
    """
    people, added = _people(session, emails, team)
    ids = sorted(p.id for p in people)
    if ids:  # lock in id order: concurrent intakes never deadlock
        session.execute(select(Person.id).where(Person.id.in_(ids)).order_by(Person.id)
                        .with_for_update())
    invited = set(session.scalars(select(Invitation.person_id).where(
        Invitation.survey_id == survey.id, Invitation.person_id.in_(ids))))
    recent: dict[int, int] = {}
    if settings.survey_limit is not None and ids and survey.is_scheduled:
        recent = dict(session.execute(
            select(Invitation.person_id, func.count())
            .join(Survey, Survey.id == Invitation.survey_id)
            .where(Invitation.person_id.in_(ids), Survey.id != survey.id,
                   Survey.opens_at > survey.opens_at - settings.survey_limit_window,
                   Survey.opens_at < survey.opens_at + settings.survey_limit_window)
            .group_by(Invitation.person_id)
        ).all())
    outcomes = []
    for person in people:
        if person.id in invited:
            outcomes.append(ParticipantOutcome(person.email, "already_invited"))
        elif not survey.is_scheduled:
            outcomes.append(ParticipantOutcome(person.email, "not_invited",
                                               f"survey_{survey.status}"))
        elif person.opted_out:
            outcomes.append(ParticipantOutcome(person.email, "not_invited", "opted_out"))
        elif (settings.survey_limit is not None
              and recent.get(person.id, 0) >= settings.survey_limit):
            outcomes.append(ParticipantOutcome(person.email, "not_invited",
                                               "recently_surveyed"))
        else:
            session.add(Invitation(survey_id=survey.id, person_id=person.id))
            invited.add(person.id)
            outcomes.append(ParticipantOutcome(person.email, "invited"))
    session.flush()
    return tuple(replace(o, added_to_roster=o.email in added) for o in outcomes)


def _record_roles(session: Session, incident_id: int, emails: Sequence[str],
                  roles: Mapping[str, str] | None) -> None:
    """Every listed participant is recorded on the incident (invited or not: being involved
    is what counts), with their role when one was given; a later request may add or change
    roles, never remove a participant."""
    wanted = {normalise_email(e): r for e, r in (roles or {}).items()}
    people = dict(session.execute(select(Person.email, Person.id)
                                  .where(Person.email.in_(list(emails)))).all())
    existing = {p.person_id: p for p in session.scalars(
        select(IncidentParticipant).where(IncidentParticipant.incident_id == incident_id))}
    for email in emails:
        person_id = people[email]
        row = existing.get(person_id)
        if row is None:
            session.add(IncidentParticipant(incident_id=incident_id, person_id=person_id,
                                            role=wanted.get(email)))
        elif email in wanted:
            row.role = wanted[email]
    session.flush()


def record_roles(session: Session, incident_id: int, roles: Mapping[str, str]) -> None:
    """Record or change the roles of an incident's listed participants after intake (when
    roles are known only after the review); bad roles are named each, as at intake."""
    begin_write(session)
    incident = session.get(Incident, incident_id)
    if incident is None:
        session.rollback()
        raise NotFound("No such incident.")
    emails = list(session.scalars(
        select(Person.email).join(IncidentParticipant,
                                  IncidentParticipant.person_id == Person.id)
        .where(IncidentParticipant.incident_id == incident_id)))
    problems = role_problems(roles, emails)
    if problems:
        session.rollback()
        raise InvalidInput("The roles could not be recorded.", problems)
    _record_roles(session, incident_id, [normalise_email(e) for e in roles], roles)
    session.commit()


def _open(session: Session, survey: Survey, box: TokenBox, now: datetime) -> None:
    """Create every ballot in one batch, in random order, before any email is queued."""
    if not survey.is_scheduled:
        raise Conflict(f"survey {survey.id} is {survey.status}, not scheduled")
    practices = items.practices_for(policies_in_force(session))
    invitations = list(
        session.scalars(
            select(Invitation)
            .join(Person)
            .where(Invitation.survey_id == survey.id, Person.opted_out.is_(False))
            .order_by(Invitation.id)
        )
    )
    hashes = []
    for invitation in invitations:
        token = new_token()
        invitation.token_cipher = box.seal(token)
        hashes.append(hash_token(token))
    _SHUFFLE.shuffle(hashes)
    if hashes:
        session.execute(
            insert(Ballot), [{"token_hash": h, "survey_id": survey.id, "spent": False}
                             for h in hashes]
        )
    delivery.queue(session, "invitation", survey.id, [i.id for i in invitations], now)
    survey.practice_ids = " ".join(p.id for p in practices)
    survey.invited = len(invitations)
    survey.status = SurveyStatus.OPEN
    session.flush()


def open_survey(session: Session, survey_id: int, box: TokenBox, now: datetime) -> Survey:
    survey = _lock_survey(session, survey_id)
    _open(session, survey, box, now)
    session.commit()
    return survey


def send_reminder(session: Session, survey_id: int, now: datetime) -> int:
    """Queue the reminder for every invitee: the system does not know who answered."""
    survey = _lock_survey(session, survey_id)
    if not survey.is_open or survey.reminded or survey.closes_at <= now:
        session.rollback()
        return 0
    invitation_ids = list(
        session.scalars(
            select(Invitation.id).where(
                Invitation.survey_id == survey.id, Invitation.token_cipher.is_not(None)
            )
        )
    )
    delivery.queue(session, "reminder", survey.id, invitation_ids, now)
    survey.reminded = True
    session.commit()
    return len(invitation_ids)


def set_min_group(session: Session, survey_id: int, k: int) -> Survey:
    """Change k for a survey whose invitations have not gone out; refuse afterwards."""
    survey = _lock_survey(session, survey_id)
    if survey.invitations_sent:
        session.rollback()
        raise MinGroupLocked()
    try:
        survey.min_group = validate_min_group(k)
    except ValueError as exc:
        session.rollback()
        raise InvalidInput(str(exc), {"min_group": str(exc)}) from exc
    session.commit()
    return survey


STATEMENT_KEYS = tuple(ItemKey(s.id, s.construct, s.reverse) for s in items.STATEMENTS)
_ANSWER_FIELDS = ("involvement",) + items.ANSWER_IDS


def check_closable(survey: Survey) -> None:
    """The one rule for closing: an open survey may be closed (early by a manager, the API or
    the command line, or at its end by the tick); a scheduled one may not, since nobody has
    been asked yet; closing a closed survey changes nothing."""
    if survey.is_scheduled:
        raise Conflict("The survey has not opened yet; only an open survey can be closed.",
                       {"status": SurveyStatus.SCHEDULED.value})


def close_survey(session: Session, survey_id: int, now: datetime) -> Survey:
    """Seal a survey and decide its own results, in one transaction.

    Staged answers and comments move into ``response``/``comment`` in shuffled order with
    fresh random ids; sufficient statistics are written; staging, ballots and the encrypted
    tokens are purged; unsent mail for the survey is cancelled; the release guard decides
    the survey's own figure and its findings (``decisions.decide_survey``). Then the files
    are scrubbed (WAL checkpoint on SQLite, VACUUM on PostgreSQL).

    Raises ``Conflict`` for a survey that has not opened (:func:`check_closable`); a
    closed survey is returned as it is.
    """
    survey = _lock_survey(session, survey_id)
    if survey.is_closed:
        session.rollback()
        return survey
    try:
        check_closable(survey)
    except Conflict:
        session.rollback()
        raise
    with releases.deciding(session) as decider:
        _seal(session, survey, decisions.closing_time(session, now))
        decisions.decide_survey(decider, decisions.meta(session, survey),
                                f"Incident: {survey.incident.title}")
        session.commit()
    after_purge(session.get_bind())
    return survey


def _seal(session: Session, survey: Survey, closed_at: datetime) -> None:
    survey_id = survey.id
    staged = [
        {f: getattr(row, f) for f in _ANSWER_FIELDS}
        for row in session.scalars(select(StagedAnswer).where(StagedAnswer.survey_id == survey_id))
    ]
    comments = list(
        session.scalars(select(StagedComment.body).where(StagedComment.survey_id == survey_id))
    )
    _SHUFFLE.shuffle(staged)
    _SHUFFLE.shuffle(comments)
    if staged:
        session.execute(
            insert(Response),
            [dict(row, survey_id=survey_id, team_id=survey.team_id) for row in staged],
        )
    if comments:
        session.execute(
            insert(Comment),
            [{"survey_id": survey_id, "team_id": survey.team_id, "body": body}
             for body in comments],
        )
    counts = seal(staged, STATEMENT_KEYS, survey.practices)
    if counts:
        session.execute(
            insert(SealedCount),
            [
                {"survey_id": survey_id, "cut": cut, "cut_value": cut_value, "item": item,
                 "value": value, "count": count}
                for (cut, cut_value, item, value), count in counts.items()
            ],
        )
    session.execute(delete(StagedAnswer).where(StagedAnswer.survey_id == survey_id))
    session.execute(delete(StagedComment).where(StagedComment.survey_id == survey_id))
    session.execute(delete(Ballot).where(Ballot.survey_id == survey_id))
    session.execute(
        update(Invitation).where(Invitation.survey_id == survey_id).values(token_cipher=None)
    )
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.survey_id == survey_id, OutboxMessage.status == OutboxStatus.PENDING)
        .values(status=OutboxStatus.CANCELLED, last_error="survey closed before sending")
    )
    survey.status = SurveyStatus.CLOSED
    survey.respondents = len(staged)
    survey.closed_at = closed_at
    session.flush()


def _lock_survey(session: Session, survey_id: int) -> Survey:
    """Begin the use case's write transaction and lock the survey row (PostgreSQL)."""
    begin_write(session)
    survey = session.scalar(select(Survey).where(Survey.id == survey_id).with_for_update())
    if survey is None:
        raise NotFound(f"no survey {survey_id}")
    return survey


def tick(session: Session, box: TokenBox, now: datetime, settings: Settings) -> TickReport:
    """Open what is due, queue reminders at half-time, close what has expired, decide
    the figures of every calendar period that has ended (``decisions.run``), and queue the
    reminders of actions that came due (``actions.queue_reminders``)."""
    report = TickReport()
    due = session.scalars(
        select(Survey.id).where(Survey.status == SurveyStatus.SCHEDULED, Survey.opens_at <= now)
    ).all()
    session.rollback()
    for survey_id in due:
        try:
            open_survey(session, survey_id, box, now)
        except Conflict:  # another worker opened it first (its row lock made us wait)
            session.rollback()
            continue
        report.opened.append(survey_id)
    remind = session.scalars(
        select(Survey.id).where(
            Survey.status == SurveyStatus.OPEN, Survey.reminded.is_(False),
            Survey.remind_at <= now,
            Survey.closes_at > now,
        )
    ).all()
    session.rollback()
    for survey_id in remind:
        if send_reminder(session, survey_id, now):
            report.reminded.append(survey_id)
    expired = session.scalars(
        select(Survey.id).where(Survey.status == SurveyStatus.OPEN, Survey.closes_at <= now)
    ).all()
    session.rollback()
    for survey_id in expired:
        if close_survey(session, survey_id, now).closed_at >= now:
            report.closed.append(survey_id)  # else another worker had closed it
    report.decided = decisions.run(session, now, settings.min_group, settings.pool_period)
    report.actions_due = actions.queue_reminders(session, now)
    return report


def spent_ballots(session: Session, survey_id: int) -> int:
    """How many have answered an open survey. Only ever passed to the release guard."""
    return session.scalar(
        select(func.count()).select_from(Ballot).where(
            Ballot.survey_id == survey_id, Ballot.spent.is_(True)
        )
    ) or 0


def opt_out(session: Session, person_id: int) -> Person | None:
    """The person asked for no more survey mail: mark them and cancel their pending mail.

    Used by the signed opt-out link; returns ``None`` for an unknown person.
    """
    begin_write(session)
    person = session.get(Person, person_id)
    if person is None:
        session.rollback()
        return None
    person.opted_out = True
    invitation_ids = select(Invitation.id).where(Invitation.person_id == person_id)
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.invitation_id.in_(invitation_ids),
               OutboxMessage.status == OutboxStatus.PENDING)
        .values(status=OutboxStatus.CANCELLED, last_error="recipient opted out")
    )
    session.commit()
    return person
