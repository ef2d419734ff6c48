"""Actions from flags: what a team will change, who owns it (a role or a team), by when,
and whether the construct it aims at moved once the next period was released.

* A flag is named by the release record it was decided with (``team:3:2026-Q3``,
  ``checkins:3:2026-Q3``, ``exposure:3:2026-08``, ``survey:17``), its kind and its subject:
  :func:`team_flags` lists a team's flags with that key, and only a flag of the team itself
  can be answered.
* The owner is chosen from :data:`OWNER_ROLES` or the organisation's teams, never a person.
* Each use case (:func:`record_action`, :func:`set_status`, :func:`queue_reminders`) is one
  transaction, and the change and its audit event commit together.
* The change since an action (:func:`team_actions`) compares two recorded, released team
  figures only: the team's last period that ended before the action was recorded, and the
  period in which it was recorded (once ended and decided). A figure the guard held back
  stays "not enough people"; nothing here decides a release.
* HR's view (:func:`summary`) counts across teams, never per team.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from analysis import items, language, periods
from analysis.exposure import EXPOSURE_CONCENTRATION
from analysis.flags import CHECKIN, FLAG, INVOLVED_COST, POLICY_GAP, SOCIAL_COST, WORSENING_TREND
from surveys.db import begin_write
from surveys.errors import InvalidInput, NotFound
from surveys.models import (
    ACTION_STATUSES,
    Action,
    AuditEvent,
    OutboxMessage,
    OutboxStatus,
    Person,
    Survey,
    Team,
    User,
)
from surveys.services import findings, releases
from surveys.services.access import authorize_team, team_by_slug

#: Roles that may own an action (besides any team): never a person.
OWNER_ROLES: tuple[str, ...] = (
    "team manager", "review facilitators", "incident commander rota", "on-call rota",
    "engineering leadership", "HR partner",
)
MAX_TEXT = 500
OPEN_STATUSES = ("open", "in_progress")
STATUS_LABELS = {"open": "Open", "in_progress": "In progress", "done": "Done",
                 "dropped": "Dropped"}
_FLAG_PREFIXES = ("team", "checkins", "exposure")


# --------------------------------------------------------------------------- flags


@dataclass(frozen=True)
class FlagRef:
    """A flag a team can answer with an action; ``key`` names it in forms and the API."""

    key: str
    record: str
    flag: findings.ShownFlag
    construct: str
    when: datetime  # the end of its period, or when its incident's survey closed

    @property
    def period(self) -> str:
        return self.flag.period


def flag_key(record: str, kind: str, subject: str) -> str:
    return f"{record}|{kind}|{subject}"


def construct_of(kind: str, subject: str) -> str:
    """The construct an action on this flag aims at: a policy's statement's construct (the
    practice checks are all about blame in the review), "social" for the social cost,
    people involved, check-ins and exposure, and a trend's own construct."""
    if kind == POLICY_GAP and subject in items.POLICY_BY_ID:
        check = items.POLICY_BY_ID[subject].check
        statement = items.STATEMENT_BY_ID.get(check)
        return statement.construct if statement is not None else "blame"
    if kind == WORSENING_TREND:
        for construct in items.CONSTRUCTS:
            if subject.endswith(construct.label.lower()):
                return construct.id
    if kind in (SOCIAL_COST, INVOLVED_COST, CHECKIN, EXPOSURE_CONCENTRATION):
        return "social"
    return "blame"


def team_flags(session: Session, team_id: int, grain: str | None = None) -> list[FlagRef]:
    """Every flag (not watch) decided with the team's figures, its notices, its exposure,
    and its incidents' own figures, newest first; with ``grain``, only the period figures of
    that grain (and the incidents')."""
    records: dict[str, releases.Release] = {}
    for prefix in _FLAG_PREFIXES:
        records.update(releases.stored_with_prefix(session, f"{prefix}:{team_id}:"))
    closed = dict(session.execute(select(Survey.id, Survey.closed_at).where(
        Survey.team_id == team_id, Survey.closed_at.is_not(None))).all())
    records.update(releases.stored_many(session, [releases.survey_subject(s)
                                                  for s in closed]))
    out = []
    for subject, figure in records.items():
        if not figure.allowed:
            continue
        for shown in findings.shown(figure.findings):
            if shown.state != FLAG:
                continue
            if grain is not None and shown.period and periods.grain_of(shown.period) != grain:
                continue
            if shown.period:
                when = periods.period_end(shown.period)
            else:
                when = closed.get(int(subject.split(":")[1])) or datetime.min.replace(
                    tzinfo=UTC)
            out.append(FlagRef(flag_key(subject, shown.kind, shown.subject), subject, shown,
                               construct_of(shown.kind, shown.subject), when))
    out.sort(key=lambda f: (f.when, f.key), reverse=True)
    return out


def find_flag(session: Session, team_id: int, key: str) -> FlagRef:
    """The team's flag named ``key``; a flag of another team (or none) is a problem with the
    field ``flag``."""
    for ref in team_flags(session, team_id):
        if ref.key == key:
            return ref
    raise InvalidInput("The action could not be recorded.",
                       {"flag": "not a flag of this team; choose one of the team's flags"})


# --------------------------------------------------------------------------- recording


@dataclass(frozen=True)
class NewAction:
    team: str  # slug
    flag: str  # a FlagRef.key
    text: str
    owner: str  # "role:<name>" or "team:<slug>"
    due_on: date | None
    construct: str | None = None  # default: the flag's
    status: str = "open"


def owner_choices(session: Session) -> list[tuple[str, str]]:
    """(value, label) of every possible owner: the roles, then the teams."""
    teams = session.execute(select(Team.slug, Team.name).order_by(Team.name)).all()
    return ([(f"role:{r}", r[0].upper() + r[1:]) for r in OWNER_ROLES]
            + [(f"team:{slug}", f"{name} (team)") for slug, name in teams])


def owner_label(session: Session, owner: str) -> str:
    kind, _, name = owner.partition(":")
    if kind == "team":
        team = team_by_slug(session, name)
        return f"{team.name if team else name} (team)"
    return name[:1].upper() + name[1:]


def _owner_problem(session: Session, owner: str) -> str | None:
    kind, _, name = owner.partition(":")
    if kind == "role" and name in OWNER_ROLES:
        return None
    if kind == "team" and team_by_slug(session, name) is not None:
        return None
    return ("choose a role (" + ", ".join(OWNER_ROLES) + ") or a team, as role:<name> or "
            "team:<slug>; an action is never owned by a person")


def validate(session: Session, data: NewAction, today: date) -> tuple[Team, FlagRef]:
    """Every problem with a new action, named by field, or the team and the flag."""
    problems: dict[str, str] = {}
    team = team_by_slug(session, data.team)
    if team is None:
        problems["team"] = f"no team with slug {data.team[:64]!r}"
    text = data.text.strip()
    if not text:
        problems["text"] = "say what will change"
    elif len(text) > MAX_TEXT:
        problems["text"] = f"keep it under {MAX_TEXT} characters"
    if data.due_on is None:
        problems["due_on"] = "give a due date, e.g. 2026-12-18"
    elif data.due_on < today:
        problems["due_on"] = "the due date is in the past"
    if (problem := _owner_problem(session, data.owner)) is not None:
        problems["owner"] = problem
    if data.construct is not None and data.construct not in items.CONSTRUCT_BY_ID:
        problems["construct"] = f"must be one of {', '.join(items.CONSTRUCT_BY_ID)}"
    if data.status not in ACTION_STATUSES:
        problems["status"] = f"must be one of {', '.join(ACTION_STATUSES)}"
    flag = None
    if team is not None:
        try:
            flag = find_flag(session, team.id, data.flag)
        except InvalidInput as exc:
            problems.update(exc.fields)
    if problems:
        raise InvalidInput("The action could not be recorded.", problems)
    return team, flag  # type: ignore[return-value]  (both set when nothing is wrong)


def language_findings(session: Session, team_id: int, text: str) -> tuple[language.Finding, ...]:
    """The review language check on an action's text, with the team's roster names: wording
    that points at people rather than at systems, each with suggested rewrites."""
    names = [n for n in session.scalars(select(Person.name).where(Person.team_id == team_id))
             if n]
    try:
        return language.check(text, names).findings
    except ValueError:
        return ()


def _audit(session: Session, actor: User | None, actor_label: str, action: str, now: datetime,
           target: str, detail: str) -> None:
    session.add(AuditEvent(
        at=now, user_id=actor.id if actor is not None else None,
        actor=(actor.email if actor is not None else actor_label)[:254],
        role=(actor.role if actor is not None else "system")[:16],
        action=action, target=target[:200], allowed=True, detail=detail[:400]))


def record_action(session: Session, actor: User | None, data: NewAction, now: datetime, *,
                  actor_label: str = "") -> Action:
    """Record an action for a team's flag, with its audit event, in one transaction.

    ``actor`` is the signed-in manager or HR account (who must see the team), or None for an
    API key named by ``actor_label``; the reminder goes to an account only."""
    begin_write(session)
    try:
        team, flag = validate(session, data, now.date())
        if actor is not None:
            authorize_team(actor, team.id, "team")
    except Exception:
        session.rollback()
        raise
    row = Action(team_id=team.id, flag_record=flag.record, flag_kind=flag.flag.kind,
                 flag_subject=flag.flag.subject[:200], period=flag.period,
                 construct=data.construct or flag.construct, text=data.text.strip(),
                 owner=data.owner, due_on=data.due_on, status=data.status,
                 done_on=now.date() if data.status == "done" else None,
                 recorded_at=now, recorded_by=actor.id if actor is not None else None,
                 recorder_label=(actor.email if actor is not None else actor_label)[:254])
    session.add(row)
    session.flush()
    _audit(session, actor, actor_label, "action.record", now, f"action:{row.id}",
           f"team {team.slug}; flag {flag.key}; owner {data.owner}; due {data.due_on}")
    session.commit()
    return row


def get_action(session: Session, actor: User | None, action_id: int) -> Action:
    row = session.get(Action, action_id)
    if row is None:
        raise NotFound("No such action.")
    if actor is not None:
        authorize_team(actor, row.team_id, "action")
    return row


def set_status(session: Session, actor: User | None, action_id: int, status: str,
               now: datetime, *, actor_label: str = "") -> Action:
    """Change an action's status (done: on today's date), with its audit event."""
    begin_write(session)
    try:
        row = get_action(session, actor, action_id)
        if status not in ACTION_STATUSES:
            raise InvalidInput("The status could not be changed.",
                               {"status": f"must be one of {', '.join(ACTION_STATUSES)}"})
    except Exception:
        session.rollback()
        raise
    before = row.status
    row.status = status
    row.done_on = now.date() if status == "done" else None
    _audit(session, actor, actor_label, "action.status", now, f"action:{row.id}",
           f"{before} -> {status}")
    session.commit()
    return row


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class Change:
    """The construct's percent favourable before and after an action, or why not."""

    before_period: str | None
    after_period: str | None
    before: float | None = None
    after: float | None = None
    words: str = ""

    @property
    def points(self) -> float | None:
        if self.before is None or self.after is None:
            return None
        return self.after - self.before


@dataclass(frozen=True)
class ActionView:
    id: int
    text: str
    construct: str
    construct_label: str
    owner: str
    due_on: date
    status: str
    status_label: str
    done_on: date | None
    recorded_at: datetime
    flag_kind: str
    flag_subject: str
    period: str
    change: Change

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "text": self.text, "construct": self.construct,
                "owner": self.owner, "due_on": self.due_on.isoformat(),
                "status": self.status,
                "done_on": self.done_on.isoformat() if self.done_on else None,
                "flag": {"kind": self.flag_kind, "subject": self.flag_subject,
                         "period": self.period or None},
                "change": {"before_period": self.change.before_period,
                           "after_period": self.change.after_period,
                           "before": self.change.before, "after": self.change.after,
                           "points": self.change.points, "words": self.change.words}}


def change_since(session: Session, team_id: int, construct: str, recorded_at: datetime,
                 grain: str, now: datetime) -> Change:
    """The construct's change between the team's recorded figure of the last period of
    ``grain`` that ended before the action was recorded (what was seen when it was decided)
    and that of the period in which it was recorded, once that period has ended and its
    figure is released. Released figures only; a held-back figure stays "not enough
    people"."""
    after_period = periods.calendar_period(recorded_at, grain)
    before_period = periods.calendar_period(
        periods.period_start(after_period) - timedelta(seconds=1), grain)
    label = items.CONSTRUCT_BY_ID[construct].label.lower()
    if not periods.period_over(after_period, now):
        return Change(before_period, after_period,
                      words=f"Shown once {periods.period_label(after_period)} has ended and "
                            "its figures are released.")
    found = releases.stored_many(session, [releases.team_subject(team_id, before_period),
                                           releases.team_subject(team_id, after_period)])
    missing = [p for p in (before_period, after_period)
               if releases.team_subject(team_id, p) not in found]
    if missing:
        return Change(before_period, after_period,
                      words=f"No released figure for {periods.period_label(missing[0])} to "
                            "compare.")

    def pct(period: str) -> float | None:
        figure = found[releases.team_subject(team_id, period)]
        return findings.construct_pcts(figure).get(construct) if figure.allowed else None

    before, after = pct(before_period), pct(after_period)
    if before is None or after is None:
        return Change(before_period, after_period, before, after, words="not enough people")
    return Change(before_period, after_period, before, after,
                  words=f"{label[:1].upper() + label[1:]}: {after - before:+.0f} points, "
                        f"{before:.0f}% in {periods.period_label(before_period)} to "
                        f"{after:.0f}% in {periods.period_label(after_period)}.")


def _views(session: Session, rows: Sequence[Action], grain: str, now: datetime
           ) -> list[ActionView]:
    return [ActionView(
        r.id, r.text, r.construct, items.CONSTRUCT_BY_ID[r.construct].label,
        owner_label(session, r.owner), r.due_on, r.status, STATUS_LABELS[r.status],
        r.done_on, r.recorded_at, r.flag_kind, r.flag_subject, r.period,
        change_since(session, r.team_id, r.construct, r.recorded_at, grain, now))
        for r in rows]


def team_actions(session: Session, team_id: int, now: datetime, grain: str = "quarter"
                 ) -> list[ActionView]:
    """The team's actions, open first, then by due date."""
    rows = session.scalars(select(Action).where(Action.team_id == team_id)
                           .order_by(Action.due_on, Action.id)).all()
    views = _views(session, rows, grain, now)
    return sorted(views, key=lambda v: (not v.is_open, v.due_on, v.id))


def list_actions(session: Session, team_ids: Sequence[int] | None, now: datetime,
                 status: str | None = None) -> list[ActionView]:
    """Actions of these teams (every team when None), oldest first (the API)."""
    query = select(Action).order_by(Action.id)
    if team_ids is not None:
        query = query.where(Action.team_id.in_(list(team_ids)))
    if status is not None:
        query = query.where(Action.status == status)
    return _views(session, session.scalars(query).all(), "quarter", now)


@dataclass(frozen=True)
class Summary:
    """Across every team, never per team: flags answered and actions done on time."""

    flags: int
    flags_with_action: int
    actions: int
    done: int
    done_on_time: int
    overdue: int


def summary(session: Session, today: date) -> Summary:
    """Flags decided for teams (their periods, notices, exposure and incidents; not the
    organisation's), how many got at least one action, and how actions went."""
    keys = {flag_key(record, kind, subject) for record, kind, subject
            in releases.flag_keys(session, (*_FLAG_PREFIXES, "survey"))}
    answered = {flag_key(r, k, s) for r, k, s in session.execute(
        select(Action.flag_record, Action.flag_kind, Action.flag_subject))}
    actions = session.scalar(select(func.count()).select_from(Action)) or 0
    done = session.scalar(select(func.count()).select_from(Action)
                          .where(Action.status == "done")) or 0
    on_time = session.scalar(select(func.count()).select_from(Action).where(
        Action.status == "done", Action.done_on <= Action.due_on)) or 0
    overdue = session.scalar(select(func.count()).select_from(Action).where(
        Action.status.in_(OPEN_STATUSES), Action.due_on < today)) or 0
    return Summary(len(keys), len(keys & answered), actions, done, on_time, overdue)


# --------------------------------------------------------------------------- reminders


def queue_reminders(session: Session, now: datetime) -> int:
    """Queue one email to the recorder of each open action due today or earlier that has
    not been reminded (one transaction); sent by the worker with the rest of the outbox."""
    begin_write(session)
    due = session.scalars(select(Action).where(
        Action.status.in_(OPEN_STATUSES), Action.due_on <= now.date(),
        Action.reminded_at.is_(None), Action.recorded_by.is_not(None))
        .order_by(Action.id).with_for_update(skip_locked=True)).all()  # one tick each
    for row in due:
        session.add(OutboxMessage(kind="action_due", channel="email", action_id=row.id,
                                  status=OutboxStatus.PENDING, next_attempt_at=now,
                                  created_at=now))
    if due:
        session.execute(update(Action).where(Action.id.in_([r.id for r in due]))
                        .values(reminded_at=now).execution_options(synchronize_session=False))
    session.commit()
    return len(due)
