"""The outbox: emails queued in the database and sent by ``flask outbox flush``.

A queued row holds no body and no link. The body is rendered at send time from the
invitation, whose token is decrypted just long enough to build the link; after the survey
closes the token is gone and unsent rows are cancelled. Nothing is queued per submission.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from surveys.db import begin_write
from surveys.mail import Mail, MailBackend, backoff_delay, make_message_id
from surveys.models import Invitation, OutboxMessage, Survey
from surveys.tokens import TokenBox

MAX_ATTEMPTS = 8


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


def flush(
    session: Session,
    backend: MailBackend,
    box: TokenBox,
    render: Renderer,
    base_url: str,
    message_id_seed: str,
    now: datetime,
    limit: int = 500,
) -> FlushReport:
    """Send up to ``limit`` due messages in one batch; one commit records every outcome."""
    begin_write(session)
    report = FlushReport()
    due = list(
        session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now)
            .order_by(OutboxMessage.id)
            .limit(limit)
            .options(joinedload(OutboxMessage.invitation).joinedload(Invitation.person),
                     joinedload(OutboxMessage.invitation).joinedload(Invitation.survey)
                     .joinedload(Survey.incident))
            .with_for_update(skip_locked=True, of=OutboxMessage)
        ).unique()
    )
    batch: list[tuple[OutboxMessage, Mail]] = []
    for message in due:
        invitation = message.invitation
        if invitation is None or invitation.token_cipher is None:
            message.status, message.last_error = "cancelled", "survey closed before sending"
            report.cancelled += 1
            continue
        if invitation.person.opted_out:
            message.status, message.last_error = "cancelled", "recipient opted out"
            report.cancelled += 1
            continue
        link = f"{base_url}/s/{box.open(invitation.token_cipher)}"
        rendered = render(message.kind, invitation.survey, link)
        batch.append((message, Mail(
            to=invitation.person.email,
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
            message_id=make_message_id(message.id, message_id_seed),
        )))
    outcomes = backend.send_batch([mail for _, mail in batch]) if batch else []
    for (message, _mail), outcome in zip(batch, outcomes, strict=True):
        message.attempts += 1
        if outcome.sent:
            message.status, message.sent_at, message.last_error = "sent", now, None
            report.sent += 1
        elif outcome.temporary and message.attempts < MAX_ATTEMPTS:
            message.next_attempt_at = now + timedelta(seconds=backoff_delay(message.attempts))
            message.last_error = outcome.reason[:200]
            report.retrying += 1
        else:
            message.status, message.last_error = "failed", outcome.reason[:200]
            report.failed += 1
    session.commit()
    return report

