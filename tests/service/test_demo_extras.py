"""The demo additions go through the real services."""

from __future__ import annotations

import random

from sqlalchemy import func, select

from support import NOW, SECRET, open_survey
from surveys.cli import demo_extras
from surveys.models import CheckinRequest, Incident, User
from surveys.services import lifecycle


def test_demo_checkins_and_learning(db, org, settings, box):
    survey, _tokens = open_survey(db, settings, box)
    assert demo_extras.add_checkins(db, SECRET, settings, survey, ["a@example.org"]) == 1
    lifecycle.close_survey(db, survey.id, NOW)
    hr = db.scalar(select(User).where(User.role == "hr"))
    assert demo_extras.add_learning_outcomes(db, hr, random.Random(1)) == 1
    assert db.scalar(select(func.count()).select_from(CheckinRequest)) == 1
    assert db.scalar(select(Incident.system_changes)) is not None
