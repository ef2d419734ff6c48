"""The outbox: emails (and Slack direct messages) queued in the database and sent by
``flask outbox flush`` / the worker.

A queued row holds no body and no link. The body is rendered at send time from the
invitation, whose token is decrypted just long enough to build the link; after the survey
closes the token is gone and unsent rows are cancelled. Nothing is queued per submission.

Every message has a Message-ID derived from its row (a duplicate send is recognisable),
plain text and HTML parts, links built from ``AFTERCARE_BASE_URL``, and a per-person opt-out
link (signed, no login needed) in the body and in ``List-Unsubscribe``. Temporary failures
(4xx, connection trouble) are retried with exponential backoff; permanent ones (5xx) are
marked failed and counted per survey for admins (:func:`failures_by_survey`).
"""

from __future__ import annotations

import html as html_lib
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from surveys.db import begin_write
from surveys.mail.backends import MailBackend, Outcome, Status, backoff_delay
from surveys.mail.message import Mail, make_message_id, unsubscribe_headers
from surveys.models import (
    Action,
    Incident,
    Invitation,
    OutboxMessage,
    OutboxStatus,
    Person,
    Survey,
    Team,
    User,
)
from surveys.tokens import TokenBox

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
_OPTOUT_SALT = "aftercare opt-out"


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


# (kind, survey, link) -> rendered message; the app passes one built on its templates.
Renderer = Callable[[str, Survey, str], Rendered]


@dataclass
class FlushReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    cancelled: int = 0
    # Never reached a mail server (it was down, or refused the sender): back in the queue
    # as they were, no attempt counted.
    deferred: int = 0
    # The lease was lost to another sender (this one stalled longer than the lease).
    abandoned: int = 0
    # Slack messages of people not found in Slack, sent by email instead (counted again
    # under their email outcome).
    rerouted: int = 0

    @property
    def handled(self) -> int:
        return self.sent + self.retrying + self.failed + self.cancelled + self.deferred

    @property
    def unsent(self) -> int:
        """Messages this run could not deliver (failed, to retry, or deferred)."""
        return self.retrying + self.failed + self.deferred


def optout_token(secret: str, person_id: int) -> str:
    """A signed, login-free token naming one person, for the opt-out link."""
    return URLSafeSerializer(secret, salt=_OPTOUT_SALT).dumps(person_id)


def read_optout_token(secret: str, token: str) -> int | None:
    """The person id of a valid opt-out token, else ``None``."""
    try:
        value = URLSafeSerializer(secret, salt=_OPTOUT_SALT).loads(token)
    except BadSignature:
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def optout_link(base_url: str, secret: str, person_id: int) -> str:
    return f"{base_url.rstrip('/')}/optout/{optout_token(secret, person_id)}"


def with_optout(rendered: Rendered, link: str) -> Rendered:
    """Add the opt-out line to both parts."""
    text = (rendered.text.rstrip("\n")
            + "\n\nTo stop receiving these surveys: " + link + "\n")
    footer = (f'<p>To stop receiving these surveys, <a href="{html_lib.escape(link)}">'
              "opt out here</a>.</p>")
    body = rendered.html
    index = body.lower().rfind("</body>")
    body = body[:index] + footer + body[index:] if index >= 0 else body + footer
    return Rendered(rendered.subject, text, body)


# How long a claim holds messages for their sender. The sender renews it while it works, so
# it runs out only when the sender died; then another sender takes the messages over.
LEASE = timedelta(minutes=2)


@dataclass(frozen=True)
class SlackChannel:
    """The Slack backend and its renderer (text in Slack's mrkdwn), when Slack is set up."""

    backend: MailBackend
    render: Renderer


@dataclass
class _Item:
    """One claimed message ready to go: its Mail for its channel, and for a Slack message
    the email to send instead when the person is not in Slack (``email``), unless the same
    message also goes by email anyway (``twin``)."""

    message_id: int
    attempts: int
    mail: Mail
    twin: bool = False
    email: Mail | None = None
    switch_to_email: bool = False


def flush(
    session: Session,
    backend: MailBackend,
    box: TokenBox,
    render: Renderer,
    base_url: str,
    message_id_seed: str,
    now: datetime,
    limit: int = 500,
    lease: timedelta = LEASE,
    slack: SlackChannel | None = None,
) -> FlushReport:
    """Send up to ``limit`` due messages over one connection per channel; each outcome is
    committed as soon as the server answers.

    Several senders (worker processes, hosts) can run at once. Each claims its batch in a
    short transaction (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, the write lock on SQLite):
    the rows become ``sending`` under a random claim and a lease, so no other sender takes
    them. Outcomes are recorded one by one, so a sender killed mid-batch leaves every
    message it had sent marked sent; the rest return to the queue when its lease runs out.
    What cannot be avoided with SMTP (or Slack): a kill between the server's "OK" and the
    commit of that one message sends it again later, with the same Message-ID.

    Messages queued for Slack (``channel == "slack"``) go through ``slack``'s backend on the
    same claim, lease and outcome path: its Slack messages first, then the emails, so that a
    person not found in Slack gets the email in the same run (the message stays claimed and
    becomes an email). Without ``slack`` (no token any more) they go by email, or are
    cancelled when the same message goes by email anyway (the "both" setting).

    ``message_id_seed`` is the application secret: it keys the Message-IDs and signs the
    opt-out links.
    """
    started = time.monotonic()

    def clock() -> datetime:
        return now + timedelta(seconds=time.monotonic() - started)

    report = FlushReport()
    claim = secrets.token_hex(8)
    ids = _claim(session, claim, now, limit, lease)
    if not ids:
        return report
    rows = session.execute(
        select(OutboxMessage.id, OutboxMessage.kind, OutboxMessage.attempts,
               Invitation.token_cipher, Person.id, Person.email, Person.opted_out,
               Survey.id, OutboxMessage.channel, OutboxMessage.invitation_id,
               OutboxMessage.action_id)
        .select_from(OutboxMessage)
        .outerjoin(Invitation, Invitation.id == OutboxMessage.invitation_id)
        .outerjoin(Person, Person.id == Invitation.person_id)
        .outerjoin(Survey, Survey.id == Invitation.survey_id)
        .where(OutboxMessage.id.in_(ids))
        .order_by(OutboxMessage.id)
    ).all()
    surveys: dict[int, Survey] = {}
    survey_ids = {row[7] for row in rows if row[7] is not None}
    if survey_ids:
        for survey in session.scalars(select(Survey).where(Survey.id.in_(survey_ids))):
            surveys[survey.id] = survey
        incident_ids = {s.incident_id for s in surveys.values()}
        list(session.scalars(select(Incident).where(Incident.id.in_(incident_ids))))
    reminders = _action_reminders(session, [row[10] for row in rows if row[10] is not None])
    twins = _email_twins(session, [row for row in rows if row[8] == "slack"])
    session.rollback()  # end the read: nothing is held while mail goes out
    cancelled: dict[str, list[int]] = {}
    emails: list[_Item] = []
    slacks: list[_Item] = []
    rendered_cache: dict[tuple[str, str, int], tuple[Rendered, str]] = {}

    def build(channel: str, kind: str, survey_id: int, link: str, optout: str, to: str,
              message_id: int) -> Mail:
        # Rendering is the costly part; render once per (channel, kind, survey) with a
        # placeholder link and put each person's link in afterwards.
        key = (channel, kind, survey_id)
        if key not in rendered_cache:
            placeholder = f"{base_url}/s/{'X' * 43}"
            renderer = slack.render if channel == "slack" and slack is not None else render
            rendered_cache[key] = (renderer(kind, surveys[survey_id], placeholder),
                                   placeholder)
        template, placeholder = rendered_cache[key]
        rendered = with_optout(
            Rendered(template.subject, template.text.replace(placeholder, link),
                     template.html.replace(placeholder, link)), optout)
        return Mail(to=to, subject=rendered.subject, text=rendered.text,
                    html=rendered.html if channel == "email" else None,
                    message_id=make_message_id(message_id, message_id_seed),
                    headers=unsubscribe_headers(optout) if channel == "email" else {})

    for (message_id, kind, attempts, cipher, person_id, email, opted_out, survey_id, channel,
         invitation_id, action_id) in rows:
        if action_id is not None:
            due = reminders.get(action_id)
            if due is None:
                cancelled.setdefault("action closed or its recorder gone before sending",
                                     []).append(message_id)
                continue
            emails.append(_Item(message_id, attempts, _action_mail(
                due, base_url, make_message_id(message_id, message_id_seed))))
            continue
        if cipher is None or survey_id is None:
            cancelled.setdefault("survey closed before sending", []).append(message_id)
            continue
        if opted_out:
            cancelled.setdefault("recipient opted out", []).append(message_id)
            continue
        twin = (invitation_id, kind) in twins
        switch = channel == "slack" and slack is None
        if switch and twin:
            cancelled.setdefault("Slack is not set up; the email goes instead",
                                 []).append(message_id)
            continue
        link = f"{base_url}/s/{box.open(cipher)}"
        optout = optout_link(base_url, message_id_seed, person_id)
        as_email = build("email", kind, survey_id, link, optout, email, message_id)
        if channel == "slack" and not switch:
            slacks.append(_Item(message_id, attempts,
                                build("slack", kind, survey_id, link, optout, email,
                                      message_id),
                                twin=twin, email=None if twin else as_email))
        else:
            emails.append(_Item(message_id, attempts, as_email, switch_to_email=switch))
    if cancelled:
        begin_write(session)
        for reason, cancel_ids in cancelled.items():
            session.execute(_owned(cancel_ids, claim).values(
                status=OutboxStatus.CANCELLED, last_error=reason, claim=None, lease_until=None))
            report.cancelled += len(cancel_ids)
        session.commit()
    if slacks and slack is not None:
        rerouted: list[_Item] = []
        if not _send(session, slack.backend, slacks, claim, clock, lease, report, rerouted):
            return report
        report.rerouted += len(rerouted)
        emails.extend(rerouted)
    if emails:
        _send(session, backend, sorted(emails, key=lambda item: item.message_id), claim,
              clock, lease, report, [])
    return report


@dataclass(frozen=True)
class _DueAction:
    to: str
    team: str
    slug: str
    text: str
    owner: str
    due_on: str


def _action_reminders(session: Session, action_ids: list[int]) -> dict[int, _DueAction]:
    """The actions still open whose recorder has an active account, by id."""
    if not action_ids:
        return {}
    rows = session.execute(
        select(Action.id, User.email, Team.name, Team.slug, Action.text, Action.owner,
               Action.due_on)
        .join(User, User.id == Action.recorded_by).join(Team, Team.id == Action.team_id)
        .where(Action.id.in_(action_ids), Action.status.in_(("open", "in_progress")),
               User.active.is_(True)))
    return {aid: _DueAction(to, team, slug, text, owner.partition(":")[2], due.isoformat())
            for aid, to, team, slug, text, owner, due in rows}


def _action_mail(due: _DueAction, base_url: str, message_id: str) -> Mail:
    """The reminder to an action's recorder: plain words, a link to the team page, no
    survey link (nothing here is about a participant)."""
    link = f"{base_url.rstrip('/')}/teams/{due.slug}#actions"
    short = due.text if len(due.text) <= 60 else due.text[:57] + "..."
    short = " ".join(short.split())  # one line: it goes into the Subject header
    text = (f"An action you recorded for {due.team} is due on {due.due_on}:\n\n"
            f"{due.text}\n\nOwner: {due.owner}\n\n"
            f"Mark it done, or change its status, on the team page:\n{link}\n")
    esc = html_lib.escape
    body = (f"<html><body><p>An action you recorded for {esc(due.team)} is due on "
            f"{esc(due.due_on)}:</p><blockquote>{esc(due.text)}</blockquote>"
            f"<p>Owner: {esc(due.owner)}</p><p><a href=\"{esc(link)}\">Mark it done, or "
            "change its status, on the team page</a>.</p></body></html>")
    return Mail(to=due.to, subject=f"Action due: {short}", text=text, html=body,
                message_id=message_id)


def _email_twins(session: Session, slack_rows) -> set[tuple[int, str]]:
    """(invitation, kind) of these Slack messages that also go by email ("both")."""
    invitation_ids = {row[9] for row in slack_rows if row[9] is not None}
    if not invitation_ids:
        return set()
    return {(invitation_id, kind) for invitation_id, kind in session.execute(
        select(OutboxMessage.invitation_id, OutboxMessage.kind).where(
            OutboxMessage.invitation_id.in_(invitation_ids),
            OutboxMessage.channel == "email"))}


def _claim(session: Session, claim: str, now: datetime, limit: int,
           lease: timedelta) -> list[int]:
    """Take up to ``limit`` due messages for this sender, in one short transaction.

    Due: pending and past ``next_attempt_at``, or claimed by a sender whose lease ran out.
    """
    begin_write(session)
    due = (
        ((OutboxMessage.status == OutboxStatus.PENDING) & (OutboxMessage.next_attempt_at <= now))
        | ((OutboxMessage.status == OutboxStatus.SENDING) & (OutboxMessage.lease_until < now))
    )
    ids = list(session.scalars(
        select(OutboxMessage.id).where(due).order_by(OutboxMessage.id).limit(limit)
        .with_for_update(skip_locked=True)))
    if ids:
        session.execute(update(OutboxMessage).where(OutboxMessage.id.in_(ids))
                        .values(status=OutboxStatus.SENDING, claim=claim, lease_until=now + lease)
                        .execution_options(synchronize_session=False))
    session.commit()
    return ids


def _owned(ids: list[int], claim: str):
    """An UPDATE of these messages that touches only those this sender still holds."""
    return (update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids), OutboxMessage.claim == claim,
                   OutboxMessage.status == OutboxStatus.SENDING)
            .execution_options(synchronize_session=False))


def _send(session: Session, backend: MailBackend, batch: list[_Item], claim: str,
          clock: Callable[[], datetime], lease: timedelta, report: FlushReport,
          rerouted: list[_Item]) -> bool:
    """Send the batch, committing each outcome as it comes; renew the lease on the way.
    Slack messages whose person is not in Slack stay claimed, become emails and are put in
    ``rerouted`` (unless they go by email anyway). False when the lease was lost."""
    renewed = time.monotonic()
    outcomes = backend.send_each([item.mail for item in batch])
    try:
        for item, outcome in zip(batch, outcomes, strict=False):
            now = clock()
            begin_write(session)
            if time.monotonic() - renewed > lease.total_seconds() / 3:
                session.execute(_owned([i.message_id for i in batch], claim)
                                .values(lease_until=now + lease))
                renewed = time.monotonic()
            values = _outcome_values(outcome, item.attempts, now, item.twin)
            if item.switch_to_email:
                values["channel"] = "email"
            held = session.execute(_owned([item.message_id], claim).values(**values)).rowcount
            session.commit()
            if held != 1:
                # Another sender took this batch over (our lease ran out): stop here.
                report.abandoned = sum(1 for i in batch if i.message_id >= item.message_id)
                log.warning("outbox: lease lost, %d message(s) left to the other sender",
                            report.abandoned)
                return False
            if outcome.status is Status.NOT_FOUND and item.email is not None:
                rerouted.append(_Item(item.message_id, item.attempts, item.email))
            elif outcome.status is Status.NOT_FOUND:
                report.cancelled += 1
            elif outcome.sent:
                report.sent += 1
            elif values["status"] == OutboxStatus.PENDING and not outcome.attempted:
                report.deferred += 1
            elif values["status"] == OutboxStatus.PENDING:
                report.retrying += 1
            else:
                report.failed += 1
    finally:
        outcomes.close()  # stops a stream cut short; closes the connection
    return True


def _outcome_values(outcome: Outcome, attempts: int, now: datetime,
                    twin: bool = False) -> dict[str, object]:
    release = {"claim": None, "lease_until": None}
    if outcome.sent:
        return {**release, "status": OutboxStatus.SENT, "sent_at": now, "last_error": None,
                "attempts": attempts + 1}
    reason = outcome.reason[:200]
    if outcome.status is Status.NOT_FOUND:
        if twin:  # "both": the email of the same message goes anyway
            return {**release, "status": OutboxStatus.CANCELLED,
                    "last_error": f"{reason[:150]}; the email goes instead"}
        # Still claimed by this sender, which sends it by email next.
        return {"channel": "email", "last_error": f"{reason[:150]}; sent by email"}
    wait = timedelta(seconds=outcome.retry_after or 0)
    if not outcome.attempted:  # the server was unreachable: no attempt against the message
        values = {**release, "status": OutboxStatus.PENDING, "last_error": reason}
        if wait:  # asked to wait (Slack's Retry-After): nothing is sent before then
            values["next_attempt_at"] = now + wait
        return values
    attempts += 1
    if outcome.temporary and attempts < MAX_ATTEMPTS:
        return {**release, "status": OutboxStatus.PENDING, "attempts": attempts,
                "last_error": reason,
                "next_attempt_at": now + max(timedelta(seconds=backoff_delay(attempts)), wait)}
    return {**release, "status": OutboxStatus.FAILED, "attempts": attempts, "last_error": reason}


def pending(session: Session, now: datetime) -> int:
    """How many messages are due now (the worker sends again at once while any are)."""
    return session.scalar(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.next_attempt_at <= now)) or 0


@dataclass(frozen=True)
class SurveyMailState:
    survey_id: int
    incident_title: str
    team: str
    failed: int
    retrying: int


def failures_by_survey(session: Session) -> list[SurveyMailState]:
    """Per survey with trouble: permanent failures and messages waiting for a retry (or
    for the mail server to come back).

    Counts only: which addresses failed is not shown (admins fix the server or the roster).
    """
    failed = OutboxMessage.status == OutboxStatus.FAILED
    # Waiting for a retry, or for an unreachable mail server (no attempt counted then).
    retrying = (OutboxMessage.status == OutboxStatus.PENDING) & (
        (OutboxMessage.attempts > 0) | OutboxMessage.last_error.is_not(None))
    rows = session.execute(
        select(OutboxMessage.survey_id, Incident.title, Team.slug,
               func.count().filter(failed), func.count().filter(retrying))
        .join(Survey, Survey.id == OutboxMessage.survey_id)
        .join(Incident, Incident.id == Survey.incident_id)
        .join(Team, Team.id == Survey.team_id)
        .where(failed | retrying)
        .group_by(OutboxMessage.survey_id, Incident.title, Team.slug)
        .order_by(OutboxMessage.survey_id.desc())
    ).all()
    return [SurveyMailState(s, t, team, int(f or 0), int(r or 0)) for s, t, team, f, r in rows]
