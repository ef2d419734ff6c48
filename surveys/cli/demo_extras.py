"""Demo additions for results, trends, learning outcomes and check-ins (issue 7).

Called by ``surveys/cli/demo.py``; they go through the same services production uses:

* :func:`add_checkins`, for an open survey before it is closed: a few participants ask for a
  confidential check-in (``services.checkin.request_checkin``, as the thank-you page does).
* :func:`add_learning_outcomes`, once every survey is closed: a manager records system
  changes and repeats on each closed incident (``services.results.record_learning``).
"""

from __future__ import annotations

import dataclasses
import random

from sqlalchemy import select
from sqlalchemy.orm import Session

from surveys.config import Settings
from surveys.models import Incident, Survey, SurveyStatus, User
from surveys.services import checkin, results

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
