"""``api-key create|revoke|list``: keys for the JSON API, printed once, stored hashed."""

from __future__ import annotations

import click
from flask import current_app

from surveys.cli.common import CommandGroup
from surveys.db import get_session
from surveys.models import API_SCOPES
from surveys.runtime import now
from surveys.services import apikeys, audit

api_key_cli = CommandGroup("api-key", help="Keys for the JSON API.")


def _box() -> apikeys.SecretBox:
    return current_app.extensions["aftercare.api_secret_box"]


@api_key_cli.command("create")
@click.argument("name")
@click.option("--scope", "scopes", multiple=True, type=click.Choice(API_SCOPES),
              help="Repeatable; default: every scope.")
@click.option("--signing-secret", is_flag=True,
              help="Also create a signing secret: requests must then be HMAC-signed.")
def create(name: str, scopes: tuple[str, ...], signing_secret: bool) -> None:
    """Create a key; it is printed once and stored only as a hash."""
    created = apikeys.create_key(get_session(), name, list(scopes), signing_secret, _box(),
                                 now())
    audit.record(get_session(), actor=None, actor_label="command line",
                 action="admin.apikey.create", now=now(), target=f"apikey:{created.key.id}")
    click.echo(f"API key {created.key.id} ({created.key.name}), scopes {created.key.scopes}.")
    click.echo("Copy it now; it is not shown again:")
    click.echo(f"  key:            {created.secret}")
    if created.signing_secret:
        click.echo(f"  signing secret: {created.signing_secret}")


@api_key_cli.command("revoke")
@click.argument("ident")
def revoke(ident: str) -> None:
    """Revoke a key by its id or its prefix (from `api-key list`)."""
    key = apikeys.revoke_key(get_session(), ident, now())
    audit.record(get_session(), actor=None, actor_label="command line",
                 action="admin.apikey.revoke", now=now(), target=f"apikey:{key.id}")
    click.echo(f"API key {key.id} ({key.name}) is revoked.")


@api_key_cli.command("list")
def list_keys() -> None:
    """Keys without their secrets."""
    keys = apikeys.list_keys(get_session())
    if not keys:
        click.echo("No API keys.")
    for key in keys:
        state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
        used = f"{key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "never"
        click.echo(f"{key.id:4} {key.prefix}…  {key.name:24} {key.scopes:30} "
                   f"{'signed' if key.signing_cipher else 'unsigned':8} last used {used}, "
                   f"{state}")
