"""``team``, ``person``, ``user`` and ``policy``: the organisation, its accounts and its
policy register."""

from __future__ import annotations

import click
from sqlalchemy import select

from surveys.cli.common import CommandGroup, session
from surveys.models import User
from surveys.runtime import now
from surveys.services import admin, audit, auth, lifecycle

team_cli = CommandGroup("team", help="Teams.")
person_cli = CommandGroup("person", help="The roster of people who may be invited.")
user_cli = CommandGroup("user", help="Accounts for managers, HR and admins.")
policy_cli = CommandGroup("policy", help="The policy register.")


@team_cli.command("add")
@click.argument("slug")
@click.argument("name")
@click.option("--parent", help="Slug of the parent team.")
def team_add(slug: str, name: str, parent: str | None) -> None:
    team = admin.add_team(session(), slug, name, parent)
    click.echo(f"Team {team.slug} added.")


@person_cli.command("add")
@click.argument("team")
@click.argument("email")
@click.option("--name", default="")
def person_add(team: str, email: str, name: str) -> None:
    person = admin.add_person(session(), team, name, email)
    click.echo(f"{person.email} is on the roster of {team}.")


@user_cli.command("add")
@click.argument("email")
@click.option("--name", default="")
@click.option("--role", type=click.Choice(["manager", "hr", "admin"]), required=True)
@click.option("--team", "teams", multiple=True, help="Team slug (managers); repeatable.")
@click.password_option()
def user_add(email: str, name: str, role: str, teams: tuple[str, ...], password: str) -> None:
    user = admin.add_user(session(), email, name, password, role, teams)
    audit.record(session(), actor=None, actor_label="command line", action="admin.user.add",
                 now=now(), target=f"user:{user.id}")
    click.echo(f"Account {user.email} ({user.role}) added.")


@user_cli.command("deactivate")
@click.argument("email")
def user_deactivate(email: str) -> None:
    """Stop an account from signing in; its sessions end at once."""
    _set_active(email, False)


@user_cli.command("reactivate")
@click.argument("email")
def user_reactivate(email: str) -> None:
    _set_active(email, True)


def _set_active(email: str, active: bool) -> None:
    """The page's rule and audit action (``admin.user.deactivate`` / ``.reactivate``)."""
    user = admin.set_active(session(), email, active)
    action = "reactivate" if active else "deactivate"
    audit.record(session(), actor=None, actor_label="command line",
                 action=f"admin.user.{action}", now=now(), target=f"user:{user.id}")
    click.echo(f"Account {user.email} is {'active again' if active else 'deactivated'}.")


@user_cli.command("reset-2fa")
@click.argument("email")
def user_reset_2fa(email: str) -> None:
    """Clear an account's second factor and recovery codes (a lost phone); ends its sessions.

    HR and admin accounts are asked to set up a new one at their next sign-in.
    """
    db = session()
    user = db.scalar(select(User).where(User.email == lifecycle.normalise_email(email)))
    if user is None:
        raise click.ClickException(f"No account {email}.")
    auth.clear_totp(db, user.id)
    click.echo(f"Two-factor sign-in cleared for {user.email}.")


@policy_cli.command("set")
@click.argument("policies", nargs=-1)
def policy_set(policies: tuple[str, ...]) -> None:
    """Declare exactly POLICIES in force (ids from `flask policy list`)."""
    admin.set_policies(session(), set(policies), now())
    click.echo("In force: " + (", ".join(sorted(policies)) or "none"))


@policy_cli.command("list")
def policy_list() -> None:
    for policy, in_force in admin.policy_register(session()):
        click.echo(f"[{'x' if in_force else ' '}] {policy.id:24} {policy.text}")
