"""Admin use cases: teams, people, accounts and the policy register."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from analysis import items
from surveys.db import begin_write
from surveys.errors import Conflict, InvalidInput, NotFound
from surveys.models import ROLES, Person, PolicyState, Team, User
from surveys.services.access import team_by_slug
from surveys.services.auth import (  # noqa: F401  (re-exported for older imports)
    MIN_PASSWORD,
    authenticate,
    hash_password,
    verify_password,
)
from surveys.services.lifecycle import EMAIL, normalise_email

SLUG_PATTERN = r"[a-z0-9][a-z0-9-]{0,62}"  # also the ``<slug:...>`` route converter's
SLUG = re.compile(rf"^{SLUG_PATTERN}$")


def add_team(session: Session, slug: str, name: str, parent: str | None = None) -> Team:
    begin_write(session)
    problems = {}
    if not SLUG.match(slug):
        problems["slug"] = "use lower-case letters, digits and dashes (e.g. payments-api)"
    if not name.strip() or len(name) > 120:
        problems["name"] = "a name of 1 to 120 characters is required"
    parent_team = None
    if parent:
        parent_team = team_by_slug(session, parent)
        if parent_team is None:
            problems["parent"] = f"no team with slug {parent!r}"
    if problems:
        raise InvalidInput("The team could not be added.", problems)
    if team_by_slug(session, slug) is not None:
        raise Conflict(f"a team with slug {slug!r} already exists", {"slug": "already taken"})
    team = Team(slug=slug, name=name.strip(), parent_id=parent_team.id if parent_team else None)
    session.add(team)
    session.commit()
    return team


def _team(session: Session, slug: str) -> Team:
    team = team_by_slug(session, slug)
    if team is None:
        raise NotFound(f"no team with slug {slug!r}", {"team": f"no team with slug {slug!r}"})
    return team


def add_person(session: Session, team_slug: str, name: str, email: str) -> Person:
    begin_write(session)
    team = _team(session, team_slug)
    email = normalise_email(email)
    if not EMAIL.match(email):
        raise InvalidInput("The person could not be added.", {"email": "not a valid address"})
    person = session.scalar(select(Person).where(Person.email == email))
    if person is None:
        person = Person(email=email)
        session.add(person)
    person.name, person.team_id = name.strip()[:120], team.id
    session.commit()
    return person


def add_user(session: Session, email: str, name: str, password: str, role: str,
             team_slugs: Sequence[str] = ()) -> User:
    begin_write(session)
    problems = {}
    email = normalise_email(email)
    if not EMAIL.match(email):
        problems["email"] = "not a valid address"
    if role not in ROLES:
        problems["role"] = f"must be one of {', '.join(ROLES)}"
    if len(password) < MIN_PASSWORD:
        problems["password"] = f"use at least {MIN_PASSWORD} characters"
    if role == "manager" and not team_slugs:
        problems["teams"] = "a manager needs at least one team"
    if problems:
        raise InvalidInput("The account could not be added.", problems)
    if session.scalar(select(User).where(User.email == email)):
        raise Conflict("an account with this email exists", {"email": "already taken"})
    teams = [_team(session, slug) for slug in team_slugs]
    user = User(email=email, name=name.strip() or email, password_hash=hash_password(password),
                role=role, teams=teams)
    session.add(user)
    session.commit()
    return user


def set_active(session: Session, email_or_id: str | int, active: bool,
               acting_user_id: int | None = None) -> User:
    """Deactivate (or reactivate) an account: it can no longer sign in, and a deactivated
    account's sessions end at once. An admin cannot deactivate their own account (nobody
    could then undo it from the pages), and the last active admin is kept."""
    begin_write(session)
    if isinstance(email_or_id, int):
        user = session.get(User, email_or_id)
    else:
        user = session.scalar(select(User).where(User.email == normalise_email(email_or_id)))
    if user is None:
        session.rollback()
        raise NotFound("No such account.", {"account": "no such account"})
    if not active:
        if acting_user_id is not None and user.id == acting_user_id:
            session.rollback()
            raise Conflict("You cannot deactivate your own account.",
                           {"account": "you cannot deactivate your own account"})
        if user.role == "admin" and user.active:
            admins = session.scalars(select(User.id).where(User.role == "admin",
                                                           User.active.is_(True))).all()
            if len(admins) <= 1:
                session.rollback()
                raise Conflict("The last active admin cannot be deactivated.",
                               {"account": "the last active admin cannot be deactivated"})
    if user.active != active:
        user.active = active
        if not active:
            user.session_version = (user.session_version or 0) + 1  # its sessions end
    session.commit()
    return user


def accounts(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.email)))


def policy_register(session: Session) -> list[tuple[items.Policy, bool]]:
    states = {p.policy_id: p.in_force for p in session.scalars(select(PolicyState))}
    return [(policy, states.get(policy.id, False)) for policy in items.POLICIES]


def set_policies(session: Session, in_force: set[str], now: datetime,
                 user_id: int | None = None) -> None:
    """Declare exactly ``in_force`` as the policies in force."""
    begin_write(session)
    unknown = in_force - set(items.POLICY_BY_ID)
    if unknown:
        raise InvalidInput("Unknown policy.", {"policies": ", ".join(sorted(unknown))})
    states = {p.policy_id: p for p in session.scalars(select(PolicyState))}
    for policy in items.POLICIES:
        state = states.get(policy.id)
        wanted = policy.id in in_force
        if state is None:
            session.add(PolicyState(policy_id=policy.id, in_force=wanted, changed_at=now,
                                    changed_by=user_id))
        elif state.in_force != wanted:
            state.in_force, state.changed_at, state.changed_by = wanted, now, user_id
    session.commit()
