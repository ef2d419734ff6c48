"""Single sign-on accounts: made or updated from a verified ID token at every sign-in.

Rules (docs/sso.md):

* An account is found by the provider's issuer and subject. Failing that, an account with
  the token's email address is taken over only when the provider says it verified the
  address (``email_verified``); otherwise the sign-in is refused, so that a provider that
  lets people type any address cannot hand them someone else's account. Failing both, an
  account is made (with no usable password: it signs in through the provider only).
* The role and teams come from ``AFTERCARE_OIDC_ROLE_MAP`` at every sign-in: the strongest
  role any of the person's groups grants (admin over hr over manager), and for a manager
  the union of the teams of every manager entry. A person whose groups grant nothing is
  refused; an account they had loses its role and teams and every session ends, so that
  removing someone from the group removes their access at their next sign-in at the latest.
* An account switched off in Aftercare (``active`` false) stays off whatever its groups say.
* A role map naming a team that does not exist refuses every sign-in (and
  ``flask sso check`` fails) rather than granting part of what it says.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from surveys.config import SSO_ROLES, OidcSettings, RoleGrant
from surveys.db import begin_write
from surveys.models import Team, User
from surveys.services.lifecycle import EMAIL

# Never a valid argon2 hash: an account made by single sign-on has no password.
NO_PASSWORD = "!sso"


@dataclass(frozen=True)
class Identity:
    """What a verified ID token says about the person."""

    issuer: str
    subject: str
    email: str
    email_verified: bool
    name: str
    groups: tuple[str, ...]
    second_factor: bool  # the token's amr/acr meets AFTERCARE_OIDC_MFA
    id_token: str = field(repr=False)


class SignInRefused(Exception):
    """The claims do not admit this person; ``message`` for the page, ``reason`` for the
    audit log, ``user`` when an account was concerned."""

    def __init__(self, reason: str, message: str, status: int = 403,
                 user: User | None = None) -> None:
        super().__init__(reason)
        self.reason, self.message, self.status, self.user = reason, message, status, user


NO_ROLE = ("You signed in with your company account, but none of your groups gives access to "
           "Aftercare, so you are not signed in. If you need access, ask whoever manages "
           "Aftercare's groups at your company.")
MISCONFIGURED = ("Single sign-on is not set up correctly (Aftercare's role map names a team "
                 "that does not exist), so nobody is signed in through it for now. Please "
                 "tell your Aftercare admin.")
TAKEN = ("An Aftercare account with this email address already exists, and your company's "
         "sign-in service did not confirm that the address is yours, so you are not signed "
         "in. Ask your Aftercare admin to help.")
SWITCHED_OFF = "Your Aftercare account is switched off. Ask your Aftercare admin."
NO_EMAIL = ("Your company's sign-in service did not send a usable email address, so you "
            "are not signed in. Please tell your Aftercare admin (docs/sso.md).")


@dataclass(frozen=True)
class Grant:
    role: str  # "" when nothing is granted
    teams: tuple[str, ...]


def grant_for(identity: Identity, oidc: OidcSettings) -> Grant:
    """The strongest role the person's groups (or verified address) grant, with a manager's
    teams."""
    grants = oidc.grants
    keys = list(identity.groups)
    if identity.email and identity.email_verified:
        keys.append(f"email:{identity.email}")
    matched: list[RoleGrant] = [grants[k] for k in keys if k in grants]
    if not matched:
        return Grant("", ())
    role = max((g.role for g in matched), key=SSO_ROLES.index)
    teams: dict[str, None] = {}
    if role == "manager":
        for grant in matched:
            teams.update(dict.fromkeys(grant.teams))
    return Grant(role, tuple(teams))


def unknown_teams(session: Session, oidc: OidcSettings) -> list[str]:
    """The team slugs the role map names that do not exist."""
    wanted = oidc.teams
    if not wanted:
        return []
    found = set(session.scalars(select(Team.slug).where(Team.slug.in_(wanted))))
    return [slug for slug in wanted if slug not in found]


def sign_in(session: Session, identity: Identity, oidc: OidcSettings) -> User:
    """Find, take over or make the account and set its role and teams from the claims.
    Owns its commit. Raises :class:`SignInRefused`."""
    begin_write(session)
    missing = unknown_teams(session, oidc)
    if missing:
        session.rollback()
        raise SignInRefused(f"role map names unknown team(s): {', '.join(missing)}",
                            MISCONFIGURED, 503)
    email = identity.email
    if not email or len(email) > 254 or not EMAIL.match(email):
        session.rollback()
        raise SignInRefused("no usable email claim", NO_EMAIL, 400)
    user = session.scalar(select(User).where(User.sso_issuer == identity.issuer,
                                             User.sso_subject == identity.subject)
                          .with_for_update())
    grant = grant_for(identity, oidc)
    if user is None:
        holder = session.scalar(select(User).where(User.email == email).with_for_update())
        if holder is not None and not (identity.email_verified and holder.sso_subject is None):
            session.rollback()
            raise SignInRefused("email belongs to another account and is not verified"
                                if not identity.email_verified else
                                "email belongs to an account of another subject",
                                TAKEN, 409, holder)
        if holder is None and not grant.role:
            session.rollback()
            raise SignInRefused("no role in the role map for the token's groups", NO_ROLE)
        user = holder
        if user is None:
            user = User(email=email, name=identity.name or email, password_hash=NO_PASSWORD,
                        role=grant.role, active=True)
            session.add(user)
        user.sso_issuer, user.sso_subject = identity.issuer, identity.subject
    elif user.email != email:
        other = session.scalar(select(User.id).where(User.email == email, User.id != user.id))
        if other is None:
            user.email = email  # the address changed at the provider
    if not user.active:
        session.rollback()
        raise SignInRefused("account switched off in Aftercare", SWITCHED_OFF, 403, user)
    if identity.name:
        user.name = identity.name
    if not grant.role:
        # The group was removed: the role goes, and every session of the account ends.
        had = user.role
        user.role, user.teams = "", []
        user.session_version = (user.session_version or 0) + 1
        session.commit()
        raise SignInRefused(f"no role in the role map for the token's groups (was {had or 'none'})",
                            NO_ROLE, 403, user)
    if user.role != grant.role:
        user.session_version = (user.session_version or 0) + 1  # other sessions had the old role
    user.role = grant.role
    user.teams = list(session.scalars(select(Team).where(Team.slug.in_(grant.teams))
                                      .order_by(Team.slug))) if grant.teams else []
    session.commit()
    return user
