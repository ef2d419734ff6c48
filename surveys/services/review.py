"""The review language check as a use case: which names to look for, and the report."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from analysis import language
from surveys.errors import DomainError
from surveys.models import Invitation, Person, Survey, User
from surveys.services.access import authorize_team, visible_team_ids

MAX_DRAFT_CHARS = 500_000
MAX_NAMES = 2000
MAX_NAME_CHARS = 120
MAX_DISMISSED = 1000
CHECK_BUDGET_SECONDS = 4.0
"""Wall-clock time one check may take before it gives up (the web page and the API)."""


class CheckTooSlow(DomainError):
    """The draft took too long to check. Check it in parts, or with the command line."""

    code = "check_timeout"


def check_draft(text: str, names: Sequence[str], dismissed: Sequence[str] = (), *,
                budget: float = CHECK_BUDGET_SECONDS,
                clock: Callable[[], float] = time.monotonic) -> language.Report:
    """Run the language check within ``budget`` seconds and drop the dismissed findings.

    Raises
    ------
    CheckTooSlow
        When the check did not finish in time; nothing is kept of the partial work.
    """
    try:
        report = language.check(text, names, deadline=clock() + budget)
    except language.CheckTimeout:
        raise CheckTooSlow(
            f"The draft could not be checked within {budget:g} seconds. Check it in parts, "
            "or run `flask --app app lint-review FILE` on it.") from None
    return report.dismiss(dismissed)


@dataclass(frozen=True)
class Segment:
    """A piece of the draft: plain text, or the text of finding number ``index``."""

    text: str
    index: int | None = None
    severity: str | None = None


def names_for(session: Session, user: User, incident_id: int | None = None) -> list[str]:
    """Roster names of the user's teams, plus the participants of one incident if given."""
    team_ids = visible_team_ids(session, user)
    names = set(session.scalars(select(Person.name).where(Person.team_id.in_(team_ids),
                                                         Person.name != "")))
    if incident_id is not None:
        survey = session.scalar(select(Survey).where(Survey.incident_id == incident_id))
        if survey is not None:
            authorize_team(user, survey.team_id)
            names |= set(session.scalars(
                select(Person.name).join(Invitation, Invitation.person_id == Person.id)
                .where(Invitation.survey_id == survey.id, Person.name != "")))
    return sorted(names)


def segments(text: str, report: language.Report) -> list[Segment]:
    """Split ``text`` into plain and highlighted pieces, in order, for display."""
    pieces: list[Segment] = []
    cursor = 0
    for index, finding in enumerate(report.findings, start=1):
        if finding.start < cursor:  # overlapping finding: listed, not highlighted twice
            continue
        if finding.start > cursor:
            pieces.append(Segment(text[cursor:finding.start]))
        pieces.append(Segment(text[finding.start:finding.end], index, finding.severity))
        cursor = finding.end
    if cursor < len(text):
        pieces.append(Segment(text[cursor:]))
    return pieces
