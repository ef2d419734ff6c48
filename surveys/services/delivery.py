"""How invitations and reminders go out: the organisation's delivery setting.

``email`` (the default), ``slack`` (a Slack direct message; a person not found in Slack
gets the email instead) or ``both`` (an email and a direct message). Set by an admin on the
organisation page or with ``flask --app app delivery set``; it applies to messages queued
from then on (each outbox message keeps the channel it was queued for). Slack needs
``AFTERCARE_SLACK_TOKEN``: without it the setting cannot be chosen, and Slack messages
already queued go by email (surveys/outbox.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from surveys.db import begin_write
from surveys.errors import InvalidInput
from surveys.models import OrgSetting, OutboxMessage

KEY = "delivery"
CHOICES = ("email", "slack", "both")
DEFAULT = "email"
CHANNELS = {"email": ("email",), "slack": ("slack",), "both": ("email", "slack")}


def current(session: Session) -> str:
    value = session.scalar(select(OrgSetting.value).where(OrgSetting.key == KEY))
    return value if value in CHOICES else DEFAULT


def set_channel(session: Session, choice: str, slack_configured: bool, now: datetime,
                user_id: int | None = None) -> None:
    """Choose email, slack or both for what is queued from now on. Owns its commit."""
    begin_write(session)
    if choice not in CHOICES:
        session.rollback()
        raise InvalidInput("Choose how invitations go out.",
                           {"delivery": "choose email, slack or both"})
    if choice != "email" and not slack_configured:
        session.rollback()
        raise InvalidInput("Slack is not set up.",
                           {"delivery": "set AFTERCARE_SLACK_TOKEN first (docs/slack.md)"})
    row = session.get(OrgSetting, KEY)
    if row is None:
        session.add(OrgSetting(key=KEY, value=choice, changed_at=now, changed_by=user_id))
    else:
        row.value, row.changed_at, row.changed_by = choice, now, user_id
    session.commit()


def queue(session: Session, kind: str, survey_id: int, invitation_ids: Iterable[int],
          now: datetime) -> None:
    """Add the outbox messages of ``kind`` for these invitations, one per channel of the
    delivery setting (the caller's transaction commits them)."""
    channels = CHANNELS[current(session)]
    session.add_all(
        OutboxMessage(kind=kind, channel=channel, invitation_id=invitation_id,
                      survey_id=survey_id, next_attempt_at=now, created_at=now)
        for invitation_id in invitation_ids for channel in channels
    )
