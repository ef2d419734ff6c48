"""Who may reach what: roles and object-level checks, in one place.

Roles (docs/security.md):

* ``manager``: incidents, surveys and released results of the teams assigned to the account.
* ``hr``: every team's released results, trends, exports, and the audit log.
* ``admin``: teams, people, accounts, policies, settings and API keys; sees no more results
  than HR.

Every view and service that touches a team's objects calls :func:`authorize_team` (or lists
through :func:`visible_team_ids`); views declare their role with ``surveys.web.roles_required``.
Another team's object is answered like one that does not exist (404), never with a 403.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from surveys.errors import NotFound, NotVisible
from surveys.models import SLUG_MAX, Team, User

ALL_ROLES = ("manager", "hr", "admin")
RESULT_ROLES = ALL_ROLES  # managers see their own teams only: authorize_team
ORG_WIDE_ROLES = ("hr", "admin")  # every team's released results, trends, exports
AUDIT_ROLES = ("hr", "admin")
ADMIN_ROLES = ("admin",)


def sees_all_teams(user: User) -> bool:
    return user.role in ORG_WIDE_ROLES


def visible_team_ids(session: Session, user: User) -> list[int]:
    if sees_all_teams(user):
        return list(session.scalars(select(Team.id).order_by(Team.name)))
    return [t.id for t in user.teams]


def authorize_team(user: User, team_id: int, what: str = "incident") -> None:
    """Refuse another team's ``what`` (an incident, a team) with the very answer a missing one
    gets, "No such incident." or "No such team." as a 404: whether an id or a slug exists is
    not for a manager of another team to learn (docs/security.md, "Another team's objects")."""
    if not sees_all_teams(user) and team_id not in {t.id for t in user.teams}:
        raise NotVisible(f"No such {what}.")


def team_by_slug(session: Session, slug: str | None) -> Team | None:
    """The team a slug names, or None (forms name the problem by field)."""
    if not slug or len(slug) > SLUG_MAX:
        return None
    return session.scalar(select(Team).where(Team.slug == slug))


def find_team(session: Session, slug: str, user: User | None = None) -> Team:
    """The team a slug names, as every page, export and API call looks one up: for ``user``
    when given (another team's is refused like a missing one), ``NotFound`` "No such
    team." when there is none."""
    team = team_by_slug(session, slug)
    if team is None:
        raise NotFound("No such team.")
    if user is not None:
        authorize_team(user, team.id, "team")
    return team


def has_role(user: User, roles: tuple[str, ...]) -> bool:
    return getattr(user, "role", None) in roles
