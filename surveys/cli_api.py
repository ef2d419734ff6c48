"""Commands for the API and the worker: ``api-key create|revoke|list`` and ``worker``."""

from __future__ import annotations

import threading
from datetime import timedelta

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from surveys import worker as worker_mod
from surveys.db import get_session
from surveys.errors import DomainError
from surveys.models import API_SCOPES
from surveys.services import apikeys, audit
from surveys.web import now

api_key_cli = AppGroup("api-key", help="Keys for the JSON API.")


def _box() -> apikeys.SecretBox:
    return current_app.extensions["aftercare.api_secret_box"]


def _fail(exc: DomainError) -> click.ClickException:
    details = "; ".join(f"{k}: {v}" for k, v in exc.fields.items())
    return click.ClickException(f"{exc.message} {details}".strip())


@api_key_cli.command("create")
@click.argument("name")
@click.option("--scope", "scopes", multiple=True, type=click.Choice(API_SCOPES),
              help="Repeatable; default: every scope.")
@click.option("--signing-secret", is_flag=True,
              help="Also create a signing secret: requests must then be HMAC-signed.")
def create(name: str, scopes: tuple[str, ...], signing_secret: bool) -> None:
    """Create a key; it is printed once and stored only as a hash."""
    try:
        created = apikeys.create_key(get_session(), name, list(scopes), signing_secret, _box(),
                                     now())
    except DomainError as exc:
        raise _fail(exc) from exc
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
    try:
        key = apikeys.revoke_key(get_session(), ident, now())
    except DomainError as exc:
        raise _fail(exc) from exc
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


@click.command("worker")
@click.option("--interval", default=10.0, show_default=True, type=click.FloatRange(0.01),
              help="Seconds between passes.")
@click.option("--batch", default=500, show_default=True, type=click.IntRange(1, 5000),
              help="Messages per SMTP connection.")
@click.option("--lease", default=worker_mod.LEASE.total_seconds(), show_default=True,
              type=click.FloatRange(1), help="Seconds a claimed batch stays with this worker "
              "if it dies; then another worker sends what it had not.")
def worker(interval: float, batch: int, lease: float) -> None:
    """Run the survey tick and the outbox until SIGTERM (production). Several workers may
    run at once, on one host or several: they share the outbox without sending twice."""
    app = current_app._get_current_object()
    stop = threading.Event()
    worker_mod.install_signal_handlers(stop)
    click.echo(f"worker started (every {interval:g} s); stop with SIGTERM or Ctrl-C", err=True)
    try:
        passes = worker_mod.run(app, stop, interval, batch,
                                echo=lambda line: click.echo(line, err=True),
                                lease=timedelta(seconds=lease))
    except ValueError as exc:  # a malformed AFTERCARE_MAIL
        raise click.ClickException(str(exc)) from exc
    click.echo(f"worker stopped after {passes} passes", err=True)


def init_app(app: Flask) -> None:
    app.cli.add_command(api_key_cli)
    app.cli.add_command(worker)
