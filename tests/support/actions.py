"""A team with a flag to act on and figures before and after: Payments' involvement was
carried by a fifth of the team in July and August (a flag decided when August ended), its
third quarter shows perceived blame at 100% and its fourth at 66.7%."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from sqlalchemy import select

from support import decide_periods
from support.exposure import concentrated_summer
from support.organisation import run_survey, uniform
from surveys.models import Team
from surveys.services import actions

AUG_ANSWERS = datetime(2026, 8, 10, 9, 0, tzinfo=UTC)
SEPT = datetime(2026, 9, 10, 9, 0, tzinfo=UTC)  # an action recorded in 2026 Q3
OCT = datetime(2026, 10, 5, 9, 0, tzinfo=UTC)  # one recorded in 2026 Q4, after Q3 ended
NOV = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def flagged_payments(db, settings, box) -> actions.FlagRef:
    """Incidents and answers of Q3, decided up to August; returns Payments' exposure flag."""
    settings = dataclasses.replace(settings, survey_limit=None)
    concentrated_summer(db, settings, box)
    run_survey(db, settings, box, team="payments", at=AUG_ANSWERS, rows=uniform(6),
               title="Q3 answers")
    decide_periods(db, settings, datetime(2026, 9, 1, 0, 5, tzinfo=UTC))
    team = db.scalar(select(Team).where(Team.slug == "payments"))
    (flag,) = [f for f in actions.team_flags(db, team.id)
               if f.flag.kind == "exposure_concentration"]
    return flag


def worse_fourth_quarter(db, settings, box) -> None:
    """Six answers in November with blame_person at "Agree" (unfavourable)."""
    settings = dataclasses.replace(settings, survey_limit=None)
    run_survey(db, settings, box, team="payments", at=NOV,
               rows=uniform(6, blame_person="4"), title="Q4 answers")


def new_action(ref: actions.FlagRef, **changes) -> actions.NewAction:
    data = actions.NewAction(team="payments", flag=ref.key,
                             text="Rotate the incident commander role weekly across the team.",
                             owner="role:incident commander rota",
                             due_on=datetime(2026, 10, 1).date(), construct="blame")
    return dataclasses.replace(data, **changes)
