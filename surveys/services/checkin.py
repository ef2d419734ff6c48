"""The confidential check-in: after answering, a participant may ask for a conversation.

What the design asks, and how it is kept:

* Identified on purpose (the person leaves a way to reach them), so stored apart from every
  answer: ``CheckinRequest`` has no key to a response, ballot or comment, no timestamp and a
  random id.
* Only someone who really answered can ask: the submit puts a one-time random nonce in the
  participant's (signed) session cookie; the request must bring it back. The nonce is never
  stored with the answers; only its SHA-256 is stored with the request, so it cannot be used
  twice.
* The way to reach them is encrypted with AES-GCM under a key derived from the application
  secret, which never enters the database. Requests are written while the survey is open, so
  their order (``rowid``, ``xmin``) could line up with staged answers in a copy of the
  database; encrypted, that copy still names no one. Someone holding both the server's
  secret and the live database can, as the threat model already says of open surveys.
* Delivered in one batch per survey, to ``AFTERCARE_SUPPORT_CONTACT``, once the survey has
  closed (``send_due``, run with every outbox flush): never when the participant asks. After
  delivery the contact is wiped; only the fact that a request existed stays, which managers
  see as a flag for their team's period, never who or how many.
"""

from __future__ import annotations

import base64
import hashlib
import html
import random
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from surveys import crypto
from surveys.config import Settings
from surveys.db import begin_write
from surveys.errors import Conflict, InvalidInput, SurveyNotOpen
from surveys.mail.backends import MailBackend
from surveys.mail.message import Mail, make_message_id
from surveys.models import CheckinRequest, Survey, SurveyStatus

SESSION_KEY = "checkin"
CONTACT_MAX_CHARS = 300
_SHUFFLE = random.SystemRandom()


class ContactBox(crypto.SecretBox):
    """Encrypts a requester's contact details (AES-GCM: the ciphertext carries no time)."""

    def __init__(self, secret_key: str) -> None:
        super().__init__(secret_key, "checkin contact")


def new_nonce() -> str:
    """A one-time nonce for the session after a successful submit (256 random bits)."""
    return secrets.token_urlsafe(32)


def _nonce_hash(nonce: str) -> str:
    return hashlib.sha256(nonce.encode("ascii", "replace")).hexdigest()


def clean_contact(raw: str) -> str:
    """Validate how to reach the person; raise ``InvalidInput`` naming the field."""
    text = " ".join(raw.split())
    if not text:
        raise InvalidInput("Tell us how to reach you.",
                           {"contact": "Leave an email address or phone number, or both."})
    if len(text) > CONTACT_MAX_CHARS:
        raise InvalidInput("That is too long.",
                           {"contact": f"Please keep it under {CONTACT_MAX_CHARS} characters."})
    if any(unicodedata.category(ch) == "Cc" for ch in text):
        raise InvalidInput("That cannot be stored.",
                           {"contact": "It contains characters that cannot be stored."})
    return text


def request_checkin(session: Session, box: ContactBox, settings: Settings, survey_id: int,
                    nonce: str, contact: str) -> None:
    """Store one request for a survey still open. The nonce can be used only once."""
    if not settings.support_contact:
        raise Conflict("No support contact is configured.")
    text = clean_contact(contact)
    begin_write(session)
    status = session.scalar(select(Survey.status).where(Survey.id == survey_id))
    if status != SurveyStatus.OPEN:
        session.rollback()
        raise SurveyNotOpen(status or SurveyStatus.CLOSED)
    session.add(CheckinRequest(survey_id=survey_id, nonce_hash=_nonce_hash(nonce),
                               contact_cipher=box.seal(text)))
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise Conflict("You have already asked for a check-in.") from exc


@dataclass(frozen=True)
class DeliveryReport:
    batches: int = 0
    requests: int = 0
    failed: int = 0


def send_due(session: Session, backend: MailBackend, box: ContactBox, settings: Settings,
             message_id_seed: str, now: datetime) -> DeliveryReport:
    """Send every closed survey's undelivered requests, one message per survey.

    Nothing is sent for a survey that is still open. With no support contact configured
    nothing is sent either (the requests wait). A batch is marked delivered, and its
    contacts wiped, only when the mail server took it; otherwise it is tried again next time.
    """
    if not settings.support_contact:
        return DeliveryReport()
    begin_write(session)
    due = _due(session)
    by_survey: dict[int, list[CheckinRequest]] = {}
    for request in due:
        by_survey.setdefault(request.survey_id, []).append(request)
    if not by_survey:
        session.rollback()
        return DeliveryReport()
    batches, mails = [], []
    for survey_id, requests in sorted(by_survey.items()):
        survey = session.get(Survey, survey_id)
        contacts = []
        for request in requests:
            if request.contact_cipher is not None:
                contacts.append(box.open(request.contact_cipher))
        _SHUFFLE.shuffle(contacts)
        mails.append(_mail(settings, survey, contacts, message_id_seed))  # type: ignore[arg-type]
        batches.append(requests)
    outcomes = backend.send_batch(mails)
    delivered = failed = 0
    for requests, outcome in zip(batches, outcomes, strict=True):
        if outcome.sent:
            session.execute(
                update(CheckinRequest)
                .where(CheckinRequest.id.in_([r.id for r in requests]))
                .values(delivered=True, contact_cipher=None)
                .execution_options(synchronize_session=False))
            delivered += len(requests)
        else:
            failed += len(requests)
    session.commit()
    return DeliveryReport(sum(1 for o in outcomes if o.sent), delivered, failed)


def _due(session: Session) -> list[CheckinRequest]:
    """Undelivered requests of closed surveys, locked for this sender: another worker
    (PostgreSQL) skips them rather than sending the same batch again."""
    return list(session.scalars(
        select(CheckinRequest).join(Survey, Survey.id == CheckinRequest.survey_id)
        .where(Survey.status == SurveyStatus.CLOSED, CheckinRequest.delivered.is_(False))
        .with_for_update(skip_locked=True, of=CheckinRequest)))


def _mail(settings: Settings, survey: Survey, contacts: list[str], seed: str) -> Mail:
    incident = survey.incident
    people = "person" if len(contacts) == 1 else "people"
    lines = [
        f"{len(contacts)} {people} who took part in the survey after the incident "
        f"\"{incident.title}\" ({survey.team.name}) asked for a confidential conversation.",
        "",
        "They chose to be identified to you, and only to you. Their requests are not linked "
        "to their answers, and their managers are told only that someone asked, not who.",
        "",
        "How to reach them (in random order):",
        *(f"- {contact}" for contact in contacts),
        "",
        "Please get in touch within two working days.",
    ]
    text = "\n".join(lines) + "\n"
    items_html = "".join(f"<li>{html.escape(c)}</li>" for c in contacts)
    body = (f"<p>{html.escape(lines[0])}</p><p>{html.escape(lines[2])}</p>"
            f"<p>How to reach them (in random order):</p><ul>{items_html}</ul>"
            "<p>Please get in touch within two working days.</p>")
    ident = base64.b32encode(hashlib.sha256(f"{survey.id}".encode()).digest()[:10]).decode()
    return Mail(
        to=settings.support_contact or "",
        subject=f"Confidential check-in requests after \"{incident.title}\"",
        text=text, html=body,
        message_id=make_message_id(f"checkin-{survey.id}-{ident.lower()}", seed),
    )
