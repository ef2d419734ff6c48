"""The audit log: who looked at or changed what, when, and whether it was allowed.

Events come from accounts only (managers, HR, admins, API keys): viewing results, exports,
admin changes, sign-in events. There are no participant events at all: nothing is recorded
when someone opens a survey link or answers.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from analysis import words
from surveys.csvsafe import to_csv
from surveys.db import begin_write
from surveys.models import AuditEvent, User

CSV_HEADER = ("id", "when_utc", "actor", "role", "action", "target", "allowed", "detail",
              "what_happened", "outcome_in_words")


def record(session: Session, *, actor: User | None, action: str, now: datetime,
           target: str = "", allowed: bool = True, detail: str = "",
           actor_label: str | None = None) -> None:
    """Append one event in its own transaction.

    ``actor`` is the account (None for an API key or the command line: then give
    ``actor_label``, e.g. ``"api-key:3"``). Anything left uncommitted in ``session`` by a
    failed use case is discarded first.
    """
    if session.new or session.dirty or session.deleted:
        session.rollback()
    begin_write(session)
    session.add(AuditEvent(
        at=now,
        user_id=actor.id if actor is not None else None,
        actor=(actor.email if actor is not None else (actor_label or "system"))[:254],
        role=(actor.role if actor is not None else "system")[:16],
        action=action[:64],
        target=str(target)[:200],
        allowed=bool(allowed),
        detail=str(detail)[:400],
    ))
    session.commit()


def events(session: Session, *, limit: int = 100, offset: int = 0,
           action: str | None = None) -> list[AuditEvent]:
    query = select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    if action:
        query = query.where(AuditEvent.action.startswith(action, autoescape=True))
    return list(session.scalars(query.limit(limit).offset(offset)))


def count(session: Session, action: str | None = None) -> int:
    query = select(func.count()).select_from(AuditEvent)
    if action:
        query = query.where(AuditEvent.action.startswith(action, autoescape=True))
    return session.scalar(query) or 0


def _outcome(allowed: bool, detail: str) -> str:
    said = words.OUTCOMES[bool(allowed)]
    return f"{said}; {words.detail(detail)}" if detail else said


def as_csv(session: Session, action: str | None = None) -> str:
    def rows() -> Iterator[tuple]:
        offset = 0
        while True:
            batch = events(session, limit=1000, offset=offset, action=action)
            if not batch:
                return
            for e in batch:
                yield (e.id, e.at.strftime("%Y-%m-%dT%H:%M:%SZ"), e.actor, e.role, e.action,
                       e.target, "allowed" if e.allowed else "refused", e.detail,
                       words.action(e.action), _outcome(e.allowed, e.detail))
            offset += len(batch)

    return to_csv(CSV_HEADER, rows())
