"""Demo additions for results, trends, learning outcomes and check-ins (issue 7).

Called by ``surveys/cli/demo.py``; they go through the same services production uses:

* :func:`add_checkins`, for an open survey before it is closed: a few participants ask for a
  confidential check-in (``services.checkin.request_checkin``, as the thank-you page does).
* :func:`add_learning_outcomes`, once every survey is closed: a manager records system
  changes and repeats on each closed incident (``services.results.record_learning``).
* :func:`send_invitations`: the outbox sends the open survey's invitations through a demo
  mail server that refuses one address, so the mail page shows a failure.
* :func:`add_audit_trail`: weeks of looking and exporting, as the pages record them, and an
  API key created by an admin.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from flask import Flask, current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from surveys.config import Settings
from surveys.mail import outbox
from surveys.mail.backends import MailBackend, Outcome, Status
from surveys.mail.message import Mail
from surveys.mail.render import render_email
from surveys.models import Incident, Survey, SurveyStatus, User
from surveys.services import apikeys, audit, checkin, results

DEMO_SUPPORT_CONTACT = "care@example.org"


def add_checkins(session: Session, secret_key: str, settings: Settings, survey: Survey,
                 contacts: list[str]) -> int:
    """Check-in requests for an open survey, one per contact; returns how many."""
    with_contact = dataclasses.replace(
        settings, support_contact=settings.support_contact or DEMO_SUPPORT_CONTACT)
    box = checkin.ContactBox(secret_key)
    for contact in contacts:
        checkin.request_checkin(session, box, with_contact, survey.id, checkin.new_nonce(),
                                contact)
    return len(contacts)


def add_learning_outcomes(session: Session, recorder: User, rng: random.Random) -> int:
    """System changes (0 to 4) and repeats (about one in five) on every closed incident."""
    incident_ids = list(session.scalars(
        select(Incident.id).join(Survey, Survey.incident_id == Incident.id)
        .where(Survey.status == SurveyStatus.CLOSED).order_by(Incident.id)))
    session.rollback()
    for incident_id in incident_ids:
        changes = rng.choice(("0", "1", "2", "2", "3", "4"))
        repeat = rng.choice(("yes", "no", "no", "no", "no", ""))
        results.record_learning(session, recorder, incident_id, changes, repeat)
    return len(incident_ids)


class _DemoMailServer(MailBackend):
    """Accepts every message but one: the address that bounces, as a mail server would
    refuse a mailbox that no longer exists (a permanent failure, never retried)."""

    def __init__(self, sender: str, bounce: str) -> None:
        super().__init__(sender)
        self.bounce = bounce

    def send_batch(self, mails: Sequence[Mail]) -> list[Outcome]:
        return [Outcome(m.message_id, Status.PERMANENT, 550, "mailbox unavailable")
                if m.to == self.bounce else Outcome(m.message_id, Status.SENT)
                for m in mails]


def send_invitations(app: Flask, session: Session, now: datetime, bounce: str) -> str:
    """Send what the outbox holds through the real outbox path; one address bounces, so the
    admins' mail page has a failure to show. Returns the bounced address."""
    config = app.extensions["aftercare.settings"]
    backend = _DemoMailServer(config.mail_from, bounce)
    while True:
        report = outbox.flush(session, backend, app.extensions["aftercare.token_box"],
                              render_email, config.base_url, app.config["SECRET_KEY"], now)
        if report.handled < 500:
            return bounce


AUDIT_TRAIL = (
    # days ago, role, action, target, allowed, detail
    (40, "admin", "admin.policies.set", "", True,
     "blameless contributing_factors leaders_share neutral_author no_performance_impact"),
    (30, "hr", "hr.overview", "latest", True, "released"),
    (30, "hr", "hr.export.pdf", "latest", True, "released"),
    (21, "manager", "results.list", "", True, ""),
    (20, "manager", "results.team", "team:payments", True, "released"),
    (12, "hr", "hr.export.flags", "latest", True, "released"),
    (9, "manager", "results.view", "incident:1", False, "refused: 404"),
    (2, "hr", "hr.policies", "", True, "released"),
)


def add_audit_trail(session: Session, accounts: Mapping[str, User], now: datetime) -> int:
    """What people did over the last weeks, recorded as the pages record it; plus an API
    key an admin created for the incident tool."""
    for days, role, action, target, allowed, detail in AUDIT_TRAIL:
        audit.record(session, actor=accounts[role], action=action,
                     now=now - timedelta(days=days), target=target, allowed=allowed,
                     detail=detail)
    box = apikeys.SecretBox(current_app.config["SECRET_KEY"])
    created = apikeys.create_key(session, "Incident tool", ["incidents:write"], False, box,
                                 now - timedelta(days=35))
    audit.record(session, actor=accounts["admin"], action="admin.apikey.create",
                 now=now - timedelta(days=35), target=f"apikey:{created.key.id}")
    return len(AUDIT_TRAIL) + 1
