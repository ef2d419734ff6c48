"""The outbox: emails queued in the database and sent by ``flask outbox flush`` / the worker.

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
from surveys.mail import (
    Mail,
    MailBackend,
    Outcome,
    backoff_delay,
    make_message_id,
    unsubscribe_headers,
)
from surveys.models import Incident, Invitation, OutboxMessage, OutboxStatus, Person, Survey, Team
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
) -> FlushReport:
    """Send up to ``limit`` due messages over one connection; each outcome is committed as
    soon as the mail server answers.

    Several senders (worker processes, hosts) can run at once. Each claims its batch in a
    short transaction (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, the write lock on SQLite):
    the rows become ``sending`` under a random claim and a lease, so no other sender takes
    them. Outcomes are recorded one by one, so a sender killed mid-batch leaves every
    message it had sent marked sent; the rest return to the queue when its lease runs out.
    What cannot be avoided with SMTP: a kill between the server's "250 OK" and the commit
    of that one message sends it again later, with the same Message-ID.

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
               Survey.id)
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
    session.rollback()  # end the read: nothing is held while mail goes out
    cancelled: dict[str, list[int]] = {}
    batch: list[tuple[int, int, Mail]] = []
    rendered_cache: dict[tuple[str, int], tuple[Rendered, str]] = {}
    for message_id, kind, attempts, cipher, person_id, email, opted_out, survey_id in rows:
        if cipher is None or survey_id is None:
            cancelled.setdefault("survey closed before sending", []).append(message_id)
            continue
        if opted_out:
            cancelled.setdefault("recipient opted out", []).append(message_id)
            continue
        token = box.open(cipher)
        link = f"{base_url}/s/{token}"
        # Rendering is the costly part; render once per (kind, survey) with a placeholder
        # link and put each person's link in afterwards.
        key = (kind, survey_id)
        if key not in rendered_cache:
            placeholder = f"{base_url}/s/{'X' * 43}"
            rendered_cache[key] = (render(kind, surveys[survey_id], placeholder), placeholder)
        template, placeholder = rendered_cache[key]
        optout = optout_link(base_url, message_id_seed, person_id)
        rendered = with_optout(
            Rendered(template.subject, template.text.replace(placeholder, link),
                     template.html.replace(placeholder, link)), optout)
        batch.append((message_id, attempts, Mail(
            to=email,
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
            message_id=make_message_id(message_id, message_id_seed),
            headers=unsubscribe_headers(optout),
        )))
    if cancelled:
        begin_write(session)
        for reason, cancel_ids in cancelled.items():
            session.execute(_owned(cancel_ids, claim).values(
                status=OutboxStatus.CANCELLED, last_error=reason, claim=None, lease_until=None))
            report.cancelled += len(cancel_ids)
        session.commit()
    if batch:
        _send(session, backend, batch, claim, clock, lease, report)
    return report


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


def _send(session: Session, backend: MailBackend, batch: list[tuple[int, int, Mail]],
          claim: str, clock: Callable[[], datetime], lease: timedelta,
          report: FlushReport) -> None:
    """Send the batch, committing each outcome as it comes; renew the lease on the way."""
    renewed = time.monotonic()
    outcomes = backend.send_each([mail for _, _, mail in batch])
    try:
        for (message_id, attempts, _mail), outcome in zip(batch, outcomes, strict=False):
            now = clock()
            begin_write(session)
            if time.monotonic() - renewed > lease.total_seconds() / 3:
                session.execute(_owned([m for m, _, _ in batch], claim)
                                .values(lease_until=now + lease))
                renewed = time.monotonic()
            values = _outcome_values(outcome, attempts, now)
            held = session.execute(_owned([message_id], claim).values(**values)).rowcount
            session.commit()
            if held != 1:
                # Another sender took this batch over (our lease ran out): stop here.
                report.abandoned = sum(1 for m, _, _ in batch if m >= message_id)
                log.warning("outbox: lease lost, %d message(s) left to the other sender",
                            report.abandoned)
                return
            if outcome.sent:
                report.sent += 1
            elif values["status"] == OutboxStatus.PENDING and not outcome.attempted:
                report.deferred += 1
            elif values["status"] == OutboxStatus.PENDING:
                report.retrying += 1
            else:
                report.failed += 1
    finally:
        outcomes.close()  # stops a stream cut short; closes the connection


def _outcome_values(outcome: Outcome, attempts: int, now: datetime) -> dict[str, object]:
    release = {"claim": None, "lease_until": None}
    if outcome.sent:
        return {**release, "status": OutboxStatus.SENT, "sent_at": now, "last_error": None,
                "attempts": attempts + 1}
    reason = outcome.reason[:200]
    if not outcome.attempted:  # the server was unreachable: no attempt against the message
        return {**release, "status": OutboxStatus.PENDING, "last_error": reason}
    attempts += 1
    if outcome.temporary and attempts < MAX_ATTEMPTS:
        return {**release, "status": OutboxStatus.PENDING, "attempts": attempts,
                "last_error": reason,
                "next_attempt_at": now + timedelta(seconds=backoff_delay(attempts))}
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
