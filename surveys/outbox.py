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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from surveys.db import begin_write
from surveys.mail import Mail, MailBackend, backoff_delay, make_message_id, unsubscribe_headers
from surveys.models import Incident, Invitation, OutboxMessage, Person, Survey, Team
from surveys.tokens import TokenBox

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

    @property
    def handled(self) -> int:
        return self.sent + self.retrying + self.failed + self.cancelled


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
    """Send up to ``limit`` due messages in one batch; one commit records every outcome.

    ``message_id_seed`` is the application secret: it keys the Message-IDs and signs the
    opt-out links. The batch is loaded with one query (rows, invitation, person, survey,
    incident), sent over one connection, and its outcomes are written back with a few bulk
    updates grouped by outcome.
    """
    begin_write(session)
    report = FlushReport()
    rows = session.execute(
        select(OutboxMessage.id, OutboxMessage.kind, OutboxMessage.attempts,
               Invitation.token_cipher, Person.id, Person.email, Person.opted_out,
               Survey.id)
        .select_from(OutboxMessage)
        .outerjoin(Invitation, Invitation.id == OutboxMessage.invitation_id)
        .outerjoin(Person, Person.id == Invitation.person_id)
        .outerjoin(Survey, Survey.id == Invitation.survey_id)
        .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now)
        .order_by(OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=OutboxMessage)
    ).all()
    surveys: dict[int, Survey] = {}
    survey_ids = {row[7] for row in rows if row[7] is not None}
    if survey_ids:
        for survey in session.scalars(select(Survey).where(Survey.id.in_(survey_ids))):
            surveys[survey.id] = survey
        incident_ids = {s.incident_id for s in surveys.values()}
        list(session.scalars(select(Incident).where(Incident.id.in_(incident_ids))))
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
    for reason, ids in cancelled.items():
        session.execute(update(OutboxMessage).where(OutboxMessage.id.in_(ids))
                        .values(status="cancelled", last_error=reason))
        report.cancelled += len(ids)
    outcomes = backend.send_batch([mail for _, _, mail in batch]) if batch else []
    sent: list[int] = []
    retry: list[dict] = []
    failed: list[dict] = []
    for (message_id, attempts, _mail), outcome in zip(batch, outcomes, strict=True):
        attempts += 1
        if outcome.sent:
            sent.append(message_id)
        elif outcome.temporary and attempts < MAX_ATTEMPTS:
            retry.append({"row_id": message_id, "attempts": attempts,
                          "next_attempt_at": now + timedelta(seconds=backoff_delay(attempts)),
                          "last_error": outcome.reason[:200]})
        else:
            failed.append({"row_id": message_id, "attempts": attempts,
                           "last_error": outcome.reason[:200]})
    for start in range(0, len(sent), 500):
        session.execute(update(OutboxMessage)
                        .where(OutboxMessage.id.in_(sent[start:start + 500]))
                        .values(status="sent", sent_at=now, last_error=None,
                                attempts=OutboxMessage.attempts + 1))
    _bulk_update(session, retry, {"attempts", "next_attempt_at", "last_error"})
    _bulk_update(session, failed, {"attempts", "last_error"}, status="failed")
    report.sent, report.retrying, report.failed = len(sent), len(retry), len(failed)
    session.commit()
    return report


def _bulk_update(session: Session, rows: list[dict], columns: set[str],
                 status: str | None = None) -> None:
    """One executemany UPDATE for rows keyed ``row_id`` with the given columns."""
    if not rows:
        return
    table = OutboxMessage.__table__
    values: dict[str, object] = {c: bindparam(f"b_{c}") for c in columns}
    if status is not None:
        values["status"] = status
    session.connection().execute(
        table.update().where(table.c.id == bindparam("b_row_id")).values(**values),
        [{f"b_{k}": v for k, v in row.items()} for row in rows])


def pending(session: Session, now: datetime) -> int:
    """How many messages are due now (the worker sends again at once while any are)."""
    return session.scalar(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now)) or 0


@dataclass(frozen=True)
class SurveyMailState:
    survey_id: int
    incident_title: str
    team: str
    failed: int
    retrying: int


def failures_by_survey(session: Session) -> list[SurveyMailState]:
    """Per survey with trouble: permanent failures and messages waiting for a retry.

    Counts only: which addresses failed is not shown (admins fix the server or the roster).
    """
    failed = OutboxMessage.status == "failed"
    retrying = (OutboxMessage.status == "pending") & (OutboxMessage.attempts > 0)
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
