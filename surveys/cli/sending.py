"""``outbox flush|run`` and ``worker``: sending what is due, once, in a loop, or as the
production worker (the tick and the outbox until SIGTERM)."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import click
from flask import Flask, current_app
from sqlalchemy.exc import SQLAlchemyError

from surveys import db as dbmod
from surveys.cli.common import CommandGroup, session
from surveys.mail import worker as worker_mod
from surveys.mail.backends import backend_from_url
from surveys.mail.render import render_email
from surveys.runtime import settings

outbox_cli = CommandGroup("outbox", help="Sending queued email.")


def flush_outbox(app: Flask) -> worker_mod.PassReport:
    config = settings()
    backend = backend_from_url(config.mail_url, config.mail_from)
    report = worker_mod.deliver(app, session(), backend, render_email, worker_mod.PassReport(),
                                slack=worker_mod.slack_channel())
    click.echo(report.mail_line(), err=True)
    return report


@outbox_cli.command("flush")
def outbox_flush() -> None:
    """Send what is due, once. Exits 1 when any message could not be sent (it failed, waits
    for a retry, or the mail server was unreachable), so that cron reports it."""
    try:
        report = flush_outbox(current_app)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    if report.unsent:
        raise SystemExit(1)


@outbox_cli.command("run")
@click.option("--interval", default=10.0, show_default=True, help="Seconds between passes.")
def outbox_run(interval: float) -> None:
    """Keep sending; stop with Ctrl-C."""
    try:
        while True:
            try:
                flush_outbox(current_app)
            except ValueError as exc:  # a malformed AFTERCARE_MAIL
                raise click.ClickException(str(exc)) from exc
            except SQLAlchemyError as exc:  # the database restarting: try again next time
                click.echo(f"database unavailable ({type(exc).__name__}); trying again",
                           err=True)
                dbmod.discardsession()
            time.sleep(interval)
    except KeyboardInterrupt:
        click.echo("stopped")


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
