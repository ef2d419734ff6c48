"""Which policies of the register are in force, and which of them a survey asked about."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from analysis import items
from surveys.models import PolicyState


def policies_in_force(session: Session) -> frozenset[str]:
    return frozenset(session.scalars(select(PolicyState.policy_id).where(PolicyState.in_force)))


def policies_asked(session: Session, asked: Sequence[str] | None) -> list[items.Policy]:
    """Policies in force whose check was asked (statements always are; ``asked`` None: any
    practice check counts as asked, for pooled figures whose surveys differ)."""
    in_force = policies_in_force(session)
    chosen = []
    for policy in items.POLICIES:
        if policy.id not in in_force:
            continue
        if policy.check in items.PRACTICE_BY_ID and asked is not None \
                and policy.check not in asked:
            continue  # declared after this survey opened: it was not asked
        chosen.append(policy)
    return chosen
