"""Command line for single sign-on and Slack: ``flask --app app sso check``,
``flask --app app slack check EMAIL`` and ``flask --app app delivery show|set``."""

from __future__ import annotations

import click
from flask import Flask

from surveys import db as dbmod
from surveys.cli.common import CommandGroup
from surveys.mail import slack
from surveys.runtime import now, settings
from surveys.services import delivery
from surveys.services import sso as sso_service
from surveys.web import sso

sso_cli = CommandGroup("sso", help="Single sign-on (OpenID Connect).")
slack_cli = CommandGroup("slack", help="Survey invitations as Slack direct messages.")
delivery_cli = CommandGroup("delivery", help="How invitations and reminders go out.")


def _line(ok: bool, text: str) -> None:
    click.echo(f"{'ok  ' if ok else 'FAIL'} {text}")


@sso_cli.command("check")
@click.option("--offline", is_flag=True,
              help="Check the settings and the role map's teams only, without asking the "
                   "provider; succeed quietly when single sign-on is off (for start-up).")
def sso_check(offline: bool) -> None:
    """Check the single sign-on settings, the role map's teams, and (unless --offline) the
    provider's discovery document and keys. Exits 1 on any problem."""
    oidc = settings().oidc
    if oidc is None:
        if offline:
            return
        raise click.ClickException("single sign-on is not configured "
                                   "(AFTERCARE_OIDC_ISSUER is unset); see docs/sso.md")
    problems = 0
    _line(True, f"issuer {oidc.issuer}, client {oidc.client_id}, scopes {oidc.scopes!r}")
    _line(True, f"groups claim {oidc.groups_claim!r}; second factor from the provider: "
                + (", ".join(f"{k}={v}" for k, v in oidc.mfa) or "never (always Aftercare's)"))
    for key, grant in oidc.role_map:
        teams = f" of {', '.join(grant.teams)}" if grant.teams else ""
        _line(True, f"role map: {key} -> {grant.role}{teams}")
    missing = sso_service.unknown_teams(dbmod.get_session(), oidc)
    dbmod.get_session().rollback()
    if missing:
        problems += 1
        _line(False, "AFTERCARE_OIDC_ROLE_MAP names team(s) that do not exist: "
                     f"{', '.join(missing)} (add them with `flask --app app team add`)")
    _line(True, "local passwords: " + ("on" if settings().local_login else
                                       "off (AFTERCARE_LOCAL_LOGIN=0)"))
    if not offline:
        for ok, text in sso.check():
            problems += not ok
            _line(ok, text)
        click.echo(f"Register this redirect URI at the provider: {settings().base_url}"
                   "/login/sso/callback (and, for logout, "
                   f"{settings().base_url}/login as a post-logout redirect URI)")
    if problems:
        raise SystemExit(1)


@slack_cli.command("check")
@click.argument("email")
def slack_check(email: str) -> None:
    """Check the Slack token and find EMAIL's Slack account (nothing is sent). Exits 1 when
    the token is refused or the person is not found."""
    config = settings()
    if not config.slack_token:
        raise click.ClickException("AFTERCARE_SLACK_TOKEN is not set; see docs/slack.md")
    backend = slack.SlackBackend(config.slack_token, config.mail_from,
                                 base_url=config.slack_api_url)
    result = backend.check(email)
    for ok, text in result.lines:
        _line(ok, text)
    click.echo(f"delivery setting: {delivery.current(dbmod.get_session())}")
    if not result.ok:
        raise SystemExit(1)


@delivery_cli.command("show")
def delivery_show() -> None:
    """The organisation's delivery setting: email, slack or both."""
    click.echo(delivery.current(dbmod.get_session()))


@delivery_cli.command("set")
@click.argument("channel", type=click.Choice(delivery.CHOICES))
def delivery_set(channel: str) -> None:
    """Send invitations and reminders queued from now on by email, slack or both."""
    delivery.set_channel(dbmod.get_session(), channel, bool(settings().slack_token), now())
    click.echo(f"Invitations and reminders queued from now on go by {channel}.")


def init_app(app: Flask) -> None:
    for group in (sso_cli, slack_cli, delivery_cli):
        app.cli.add_command(group)


