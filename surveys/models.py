"""Tables. The storage rules of the anonymity model are written into the shapes here.

* ``Invitation`` (who was asked) and ``Ballot`` (hash of a single-use token) share no key.
* ``StagedAnswer``, ``StagedComment``, ``Response`` and ``Comment`` carry no timestamp, no
  address, no agent, no session, no token and no ballot reference. Staging is emptied at close
  into ``Response``/``Comment`` in shuffled order with random ids.
* Nothing here records that a person answered.

Models never commit; services own the transaction.
"""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime
from enum import StrEnum

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from analysis.release import SurveyStatus

__all__ = ["SurveyStatus"]  # re-exported: the survey states live with the release guard

# Ids are ``Integer`` columns (32 bits on PostgreSQL): a larger id cannot exist, and asking
# the database for one overflows. Route converters and the API refuse anything outside.
MAX_ID = 2**31 - 1
# The longest team slug that can exist (the column's length); a longer one names no team.
SLUG_MAX = 64


# Constraint names as PostgreSQL gives them by default, so that a database made before the
# migrations (by ``create_all``) and one made by them agree, and SQLite's constraints have
# names a later migration can refer to.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "%(table_name)s_%(column_0_N_name)s_key",
    "ck": "%(table_name)s_%(constraint_name)s_check",
    "fk": "%(table_name)s_%(column_0_N_name)s_fkey",
    "pk": "%(table_name)s_pkey",
}


class Base(DeclarativeBase):
    """The declarative base of every table; constraint names follow one convention (the
    names PostgreSQL gives by default), so that migrations can refer to them."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    return datetime.now(UTC)


def random_id() -> str:
    """128 random bits as hex: a primary key that says nothing about order or time."""
    return secrets.token_hex(16)


class UTCDateTime(TypeDecorator):
    """Stored naive in UTC (SQLite has no zone), always handed back aware."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: use datetime.now(UTC)")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        return value.replace(tzinfo=UTC) if value is not None else None


user_team = Table(
    "user_team",
    Base.metadata,
    Column("user_id", ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True),
    Column("team_id", ForeignKey("team.id", ondelete="CASCADE"), primary_key=True),
)


class Team(Base):
    __tablename__ = "team"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(SLUG_MAX), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("team.id"))

    people: Mapped[list[Person]] = relationship(back_populates="team")


class Person(Base):
    """Someone on the roster, who may be invited to surveys."""

    __tablename__ = "person"

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("team.id"))
    name: Mapped[str] = mapped_column(String(120), default="")
    email: Mapped[str] = mapped_column(String(254), unique=True)
    opted_out: Mapped[bool] = mapped_column(Boolean, default=False)

    team: Mapped[Team | None] = relationship(back_populates="people")


ROLES = ("manager", "hr", "admin")


class User(Base):
    """An account for a manager, an HR or culture lead, or an admin. Participants have none.

    An account made or taken over by single sign-on carries the provider's issuer and
    subject; its role and teams are set from the provider's claims at every sign-in, and an
    empty ``role`` means its groups grant none any more (surveys/services/sso.py).
    """

    __tablename__ = "user_account"
    __table_args__ = (UniqueConstraint("sso_issuer", "sso_subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Security (surveys/services/auth.py): bumping session_version ends every session of the
    # account on the server side; the TOTP secret is encrypted with a key from the app secret.
    session_version: Mapped[int] = mapped_column(Integer, default=0)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    totp_cipher: Mapped[bytes | None] = mapped_column(LargeBinary)
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    sso_issuer: Mapped[str | None] = mapped_column(String(255))
    sso_subject: Mapped[str | None] = mapped_column(String(255))

    teams: Mapped[list[Team]] = relationship(secondary=user_team)

    # Flask-Login protocol
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)


class PolicyState(Base):
    """Whether a policy of the register (analysis.items.POLICIES) is declared in force."""

    __tablename__ = "policy_state"

    policy_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    in_force: Mapped[bool] = mapped_column(Boolean, default=False)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    changed_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))


INCIDENT_KINDS = ("availability", "security", "data", "other")
SEVERITIES = ("sev1", "sev2", "sev3", "sev4")


class Incident(Base):
    __tablename__ = "incident"

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("team.id"))
    external_id: Mapped[str | None] = mapped_column(String(200), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(8))
    closed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Learning outcomes, recorded by a manager after the review (None: not recorded yet).
    system_changes: Mapped[int | None] = mapped_column(SmallInteger)
    repeat: Mapped[bool | None] = mapped_column(Boolean)

    team: Mapped[Team] = relationship()
    survey: Mapped[Survey | None] = relationship(back_populates="incident", uselist=False)


class IncidentParticipant(Base):
    """Someone listed on an incident, with the role they had in it when one was given
    (``analysis.exposure.INCIDENT_ROLES``). Incident metadata for the team's exposure
    figures: no key to an invitation, a ballot, a response or a comment, and nothing on
    an answer table refers to it."""

    __tablename__ = "incident_participant"

    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id", ondelete="CASCADE"),
                                             primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"),
                                           primary_key=True, index=True)
    role: Mapped[str | None] = mapped_column(String(16))


class Survey(Base):
    __tablename__ = "survey"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"), unique=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("team.id"))
    status: Mapped[str] = mapped_column(String(16), default=SurveyStatus.SCHEDULED)
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime())
    remind_at: Mapped[datetime] = mapped_column(UTCDateTime())
    reminded: Mapped[bool] = mapped_column(Boolean, default=False)
    min_group: Mapped[int] = mapped_column(SmallInteger)
    # Practice checks asked, fixed when the survey opens (space-separated practice ids).
    practice_ids: Mapped[str] = mapped_column(String(400), default="")
    invited: Mapped[int] = mapped_column(Integer, default=0)
    # Set at close, never while open.
    respondents: Mapped[int | None] = mapped_column(Integer)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    incident: Mapped[Incident] = relationship(back_populates="survey")
    team: Mapped[Team] = relationship()

    @property
    def practices(self) -> tuple[str, ...]:
        return tuple(self.practice_ids.split())

    @property
    def is_scheduled(self) -> bool:
        return self.status == SurveyStatus.SCHEDULED

    @property
    def is_open(self) -> bool:
        return self.status == SurveyStatus.OPEN

    @property
    def is_closed(self) -> bool:
        return self.status == SurveyStatus.CLOSED

    @property
    def invitations_sent(self) -> bool:
        return not self.is_scheduled


class Invitation(Base):
    """Who was asked. No key to any ballot, no record of whether they answered.

    ``token_cipher`` holds the plain token encrypted with a key derived from the application
    secret (never stored in the database), so that the reminder repeats the same link. It is
    wiped when the survey closes.
    """

    __tablename__ = "invitation"
    __table_args__ = (UniqueConstraint("survey_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("survey.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    token_cipher: Mapped[bytes | None] = mapped_column(LargeBinary)

    person: Mapped[Person] = relationship()
    survey: Mapped[Survey] = relationship()


class Ballot(Base):
    """A single-use right to answer: the token's SHA-256, and whether it is spent."""

    __tablename__ = "ballot"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("survey.id"), index=True)
    spent: Mapped[bool] = mapped_column(Boolean, default=False)


class AnswerColumns:
    """One nullable small integer per item of the bank (analysis.items.ANSWER_IDS).

    Statements: 1..5, 0 for "Doesn't apply", NULL when skipped. Practice checks: 1 yes,
    2 no, 3 not sure, NULL when not asked or skipped.
    """

    involvement: Mapped[str] = mapped_column(String(16))
    blame_system: Mapped[int | None] = mapped_column(SmallInteger)
    blame_person: Mapped[int | None] = mapped_column(SmallInteger)
    blame_career: Mapped[int | None] = mapped_column(SmallInteger)
    social_treated: Mapped[int | None] = mapped_column(SmallInteger)
    social_hesitate: Mapped[int | None] = mapped_column(SmallInteger)
    social_support: Mapped[int | None] = mapped_column(SmallInteger)
    sharing_own: Mapped[int | None] = mapped_column(SmallInteger)
    sharing_free: Mapped[int | None] = mapped_column(SmallInteger)
    lead_shared: Mapped[int | None] = mapped_column(SmallInteger)
    practice_author: Mapped[int | None] = mapped_column(SmallInteger)
    practice_named: Mapped[int | None] = mapped_column(SmallInteger)
    practice_followups: Mapped[int | None] = mapped_column(SmallInteger)
    practice_root_cause: Mapped[int | None] = mapped_column(SmallInteger)
    practice_consequences: Mapped[int | None] = mapped_column(SmallInteger)


class StagedAnswer(AnswerColumns, Base):
    """Answers of an open survey. Shares the submit transaction's metadata with the spent
    ballot, so it is never the final store: emptied at close."""

    __tablename__ = "staged_answer"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=random_id)
    survey_id: Mapped[int] = mapped_column(ForeignKey("survey.id"), index=True)


class StagedComment(Base):
    __tablename__ = "staged_comment"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=random_id)
    survey_id: Mapped[int] = mapped_column(ForeignKey("survey.id"), index=True)
    body: Mapped[str] = mapped_column(Text)


class Response(AnswerColumns, Base):
    """A sealed response: random id, survey, team, answers. Nothing else."""

    __tablename__ = "response"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=random_id)
    survey_id: Mapped[int] = mapped_column(ForeignKey("survey.id"), index=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("team.id"))


class Comment(Base):
    """Free text, not linked to any response."""

    __tablename__ = "comment"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=random_id)
    survey_id: Mapped[int] = mapped_column(ForeignKey("survey.id"), index=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("team.id"))
    body: Mapped[str] = mapped_column(Text)


class SealedCount(Base):
    """Sufficient statistics sealed at close: a count per (cut, item, answer value).

    ``cut``/``cut_value`` is ``("all", "")`` or ``("involvement", <code>)``. ``item`` is an
    item id, ``"_n"`` for the number of respondents in the cut (value 0), or
    ``"construct:<id>"`` for the histogram of respondent-level construct scores, with
    ``value`` the score times 6 (a mean of up to three 1..5 answers is a whole number of
    sixths).
    """

    __tablename__ = "sealed_count"

    survey_id: Mapped[int] = mapped_column(ForeignKey("survey.id"), primary_key=True)
    cut: Mapped[str] = mapped_column(String(16), primary_key=True)
    cut_value: Mapped[str] = mapped_column(String(32), primary_key=True)
    item: Mapped[str] = mapped_column(String(48), primary_key=True)
    value: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    count: Mapped[int] = mapped_column(Integer)


class OutboxStatus(StrEnum):
    """Where an email is in the outbox (stored as these strings)."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"


class OutboxMessage(Base):
    """An email to send. The body is rendered at send time, so no link (and no token) is
    ever stored here.

    A sender claims due rows (``status = "sending"``, its random ``claim``, a lease until
    ``lease_until``) in one short transaction and records each outcome as soon as the mail
    server answers; rows of a sender that died go back to the queue when the lease runs
    out (surveys/mail/outbox.py).
    """

    __tablename__ = "outbox_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # invitation | reminder | action_due
    # How it goes out: "email", or "slack" (a direct message; a person not found in Slack
    # gets it by email instead). Chosen when queued, from the delivery setting.
    channel: Mapped[str] = mapped_column(String(8), default="email", server_default="email")
    invitation_id: Mapped[int | None] = mapped_column(ForeignKey("invitation.id"), index=True)
    survey_id: Mapped[int | None] = mapped_column(ForeignKey("survey.id"), index=True)
    # An action's due reminder to its recorder (kind "action_due"): no invitation, no link.
    action_id: Mapped[int | None] = mapped_column(
        ForeignKey("team_action.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=OutboxStatus.PENDING, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_error: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claim: Mapped[str | None] = mapped_column(String(32))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())

    invitation: Mapped[Invitation | None] = relationship()


class OrgSetting(Base):
    """An organisation setting changed at run time by an admin (page or command line), such
    as how invitations are delivered (surveys/services/delivery.py)."""

    __tablename__ = "org_setting"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    changed_by: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"))


class RecoveryCode(Base):
    """A single-use two-factor recovery code, stored as a SHA-256 hash."""

    __tablename__ = "recovery_code"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"),
                                         index=True)


class PasswordReset(Base):
    """A single-use, expiring password reset token, stored as a SHA-256 hash."""

    __tablename__ = "password_reset"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"),
                                         index=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AuditEvent(Base):
    """Who looked at or changed what, and whether the guard allowed it.

    Accounts only: there are no participant events, and nothing here refers to a ballot, a
    response or a comment.
    """

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), index=True)
    actor: Mapped[str] = mapped_column(String(254))  # email at the time, kept if deleted
    role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str] = mapped_column(String(200), default="")
    allowed: Mapped[bool] = mapped_column(Boolean)
    detail: Mapped[str] = mapped_column(String(400), default="")


class CheckinRequest(Base):
    """A participant's request for a confidential conversation with the support contact.

    Identified on purpose, so stored apart from every answer: no key to a response, a ballot
    or a comment, no timestamp (it belongs to its survey, whose dates are coarser), a random
    id. The way to reach the person is encrypted with a key derived from the application
    secret (never in the database) and wiped once the batch is delivered at survey close;
    only the fact that a request existed stays, for the team's period.
    """

    __tablename__ = "checkin_request"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=random_id)
    survey_id: Mapped[int] = mapped_column(ForeignKey("survey.id"), index=True)
    nonce_hash: Mapped[str] = mapped_column(String(64), unique=True)
    contact_cipher: Mapped[bytes | None] = mapped_column(LargeBinary)
    delivered: Mapped[bool] = mapped_column(Boolean, default=False)


class PeriodDecision(Base):
    """A calendar period whose figures have been decided (``surveys.services.decisions``).

    Written once, when the period has ended, by the run that decided every figure of the
    period in the canonical order; a survey can never close into a decided period."""

    __tablename__ = "period_decision"

    period: Mapped[str] = mapped_column(String(8), primary_key=True)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime())


API_SCOPES = ("incidents:write", "results:read", "actions:read", "actions:write")


class ApiKey(Base):
    """A key for the JSON API (surveys/services/apikeys.py). The key itself is never stored:
    only its SHA-256 and a short prefix to recognise it. The optional signing secret must be
    read back to check HMACs, so it is stored encrypted with a key derived from the
    application secret (never in the database)."""

    __tablename__ = "api_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[str] = mapped_column(String(200))  # space-separated
    signing_cipher: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SeenSignature(Base):
    """A request signature already accepted, kept until it falls out of the time window, so
    that a replayed request is refused. Only a hash of the signature is kept."""

    __tablename__ = "seen_signature"

    signature_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class ReleaseRecord(Base):
    """A statistic the release guard decided on, kept so that the decision and its numbers
    never change (surveys/services/releases.py, docs/release-guard.md).

    Every figure is decided once, at a fixed moment (a survey when it closes, a calendar
    period's figures when the period ends), and recorded here, allowed or not; every page,
    export and API response reads these records and nothing else.

    ``subject`` names the figure (``"survey:17"``, ``"pool:3:2026-Q4"``,
    ``"team:3:2026-11"``, ``"org:2026-Q3"``, ``"kind:security:2026-Q3"``,
    ``"involvement:direct:2026-Q3"``, ``"comments:3:2026-Q4"``); ``cells`` is the JSON list
    of sealed survey cells it sums (``"17:direct"``: survey 17's respondents who chose that
    involvement), which is all the differencing audit needs; ``numbers`` is the JSON of what
    was released (``n``, the answer counts of each measure the audit allowed, the list of
    those ``measures``, the findings decided with it), or the masked comments for
    ``kind == "comments"``; null when refused. Who looked is in the audit log, not here;
    nothing here refers to a person, a ballot or a response.
    """

    __tablename__ = "release_record"

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(16), default="sum")  # sum | comments
    cells: Mapped[str] = mapped_column(Text, default="[]")
    numbers: Mapped[str | None] = mapped_column(Text)
    allowed: Mapped[bool] = mapped_column(Boolean, index=True)
    reason: Mapped[str] = mapped_column(String(32))
    k: Mapped[int] = mapped_column(SmallInteger)


ACTION_STATUSES = ("open", "in_progress", "done", "dropped")


class Action(Base):
    """What a team will change in answer to a flag (surveys/services/actions.py).

    The flag is named by the release record it was decided with (``flag_record``, e.g.
    ``"team:3:2026-Q3"``), its kind and its subject; the owner is a role or a team
    (``"role:<name>"`` or ``"team:<slug>"``), never a person. ``construct`` is what it aims
    to change. Nothing here refers to an answer, a ballot or a participant.
    """

    __tablename__ = "team_action"

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("team.id"), index=True)
    flag_record: Mapped[str] = mapped_column(String(200))
    flag_kind: Mapped[str] = mapped_column(String(32))
    flag_subject: Mapped[str] = mapped_column(String(200))
    period: Mapped[str] = mapped_column(String(8), default="")  # the flag's period, if any
    construct: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    owner: Mapped[str] = mapped_column(String(120))
    due_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="open")
    done_on: Mapped[date | None] = mapped_column(Date)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recorded_by: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"))
    recorder_label: Mapped[str] = mapped_column(String(254), default="")
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    team: Mapped[Team] = relationship()
