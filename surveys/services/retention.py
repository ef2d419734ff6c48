"""Retention of raw responses: ``AFTERCARE_RETENTION_DAYS``.

Once a survey is sealed, every figure shown anywhere comes from its sealed counts and the
recorded releases; the raw ``response`` rows are kept only so that an organisation can
re-analyse them. With a retention period set, the raw responses of surveys closed longer
ago than that are deleted (and scrubbed from the files, as purged ballots are), while the
sealed counts, the period aggregates, the releases and the survey's respondent count stay,
so every page, export and API answer reads the same before and after.

Comments are not deleted here: they are shown only through pooled comment releases of a
team and calendar period, which may be decided after the period ends (see
docs/operations.md, "Retention").
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from surveys.db import after_purge, begin_write
from surveys.models import Response, Survey


def apply(session: Session, days: int | None, now: datetime) -> int:
    """Delete raw responses of surveys closed more than ``days`` days before ``now``;
    return how many rows went. ``None`` keeps everything."""
    if days is None:
        return 0
    if days < 1:
        raise ValueError("retention must be at least one day")
    cutoff = now - timedelta(days=days)
    begin_write(session)
    expired = select(Survey.id).where(Survey.status == "closed", Survey.closed_at < cutoff)
    deleted = session.execute(
        delete(Response).where(Response.survey_id.in_(expired))
        .execution_options(synchronize_session=False)).rowcount
    session.commit()
    if deleted:
        after_purge(session.get_bind(), tables=("response",))
    return deleted
