"""The long-running worker (``flask --app app worker``): the survey tick and the outbox.

Each pass opens what is due, queues reminders, closes what has expired (``lifecycle.tick``)
and then sends due mail in batches until none is due. Between passes it waits ``interval``
seconds. SIGTERM or SIGINT ends it cleanly: the pass in progress finishes (a batch being
sent is sent and its outcomes committed), then the process exits with status 0. A pass that
fails (database or mail server unreachable) is logged and retried at the next pass; sending
failures themselves are the outbox's to retry.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import timedelta

from flask import Flask
from sqlalchemy.orm import Session

from surveys import db as dbmod
from surveys.mail.backends import MailBackend, backend_from_url
from surveys.mail.outbox import LEASE, FlushReport, Renderer, SlackChannel, flush
from surveys.runtime import now, settings, token_box
from surveys.services import checkin, lifecycle, retention

log = logging.getLogger(__name__)


@dataclass
class PassReport(FlushReport):
    """A worker pass: what the tick did to surveys, and every flush's mail outcomes."""

    opened: int = 0
    reminded: int = 0
    closed: int = 0
    deleted: int = 0  # raw responses past AFTERCARE_RETENTION_DAYS

    def add(self, report: FlushReport) -> None:
        for name in (f.name for f in fields(FlushReport)):
            setattr(self, name, getattr(self, name) + getattr(report, name))

    @property
    def unsent(self) -> int:
        return self.retrying + self.failed + self.deferred

    def mail_line(self) -> str:
        line = (f"mail sent {self.sent}, retrying {self.retrying}, failed {self.failed}, "
                f"cancelled {self.cancelled}")
        if self.deferred:
            line += f", waiting for the mail server {self.deferred}"
        return line


def slack_channel() -> SlackChannel | None:
    """The Slack backend and renderer when AFTERCARE_SLACK_TOKEN is set (app context)."""
    config = settings()
    if not config.slack_token:
        return None
    from surveys.mail.render import render_slack
    from surveys.mail.slack import SlackBackend

    return SlackChannel(SlackBackend(config.slack_token, config.mail_from,
                                     base_url=config.slack_api_url), render_slack)


def deliver(app: Flask, session: Session, backend: MailBackend, render: Renderer,
            report: PassReport, batch: int = 500, max_batches: int = 1000,
            lease: timedelta = LEASE, slack: SlackChannel | None = None) -> PassReport:
    """Send every due email: outbox batches until none is due (at most ``max_batches``),
    then the check-in requests of closed surveys, one batch per survey. The one sending path
    of ``outbox flush``, ``outbox run`` and the worker. Several of these may run at once,
    in several processes or hosts: each batch is claimed (see ``surveys.mail.outbox.flush``)."""
    config = settings()
    secret = app.config["SECRET_KEY"]
    for _ in range(max_batches):
        flushed = flush(session, backend, token_box(), render, config.base_url, secret, now(),
                        limit=batch, lease=lease, slack=slack)
        report.add(flushed)
        if flushed.handled < batch or flushed.deferred or flushed.abandoned:
            break  # nothing more is due, the server is unreachable, or another took over
    checkin.send_due(session, backend, checkin.ContactBox(secret), config, secret, now())
    return report


def one_pass(app: Flask, backend: MailBackend, render: Renderer, batch: int = 500,
             max_batches: int = 1000, lease: timedelta = LEASE,
             slack: SlackChannel | None = None) -> PassReport:
    """One tick, then every due email (see :func:`deliver`), then the retention of raw
    responses (``AFTERCARE_RETENTION_DAYS``)."""
    report = PassReport()
    with app.app_context():
        with dbmod.session_scope(app) as session:
            ticked = lifecycle.tick(session, token_box(), now(), settings())
            report.opened, report.reminded, report.closed = (
                len(ticked.opened), len(ticked.reminded), len(ticked.closed))
            deliver(app, session, backend, render, report, batch, max_batches, lease, slack)
            report.deleted = retention.apply(session, settings().retention_days, now())
    return report


def run(app: Flask, stop: threading.Event, interval: float = 10.0, batch: int = 500,
        render: Renderer | None = None, backend: MailBackend | None = None,
        echo: Callable[[str], None] = print, lease: timedelta = LEASE) -> int:
    """Run passes until ``stop`` is set; return the number of passes."""
    if render is None:
        from surveys.mail.render import render_email as render
    if backend is None:
        with app.app_context():
            config = settings()
            backend = backend_from_url(config.mail_url, config.mail_from)
    with app.app_context():
        slack = slack_channel()
    passes = 0
    while not stop.is_set():
        try:
            report = one_pass(app, backend, render, batch, lease=lease, slack=slack)
        except Exception:  # keep serving (the database may be restarting): try again later
            log.exception("worker pass failed")
        else:
            if any(vars(report).values()):
                echo(f"opened {report.opened}, reminders {report.reminded}, closed "
                     f"{report.closed}; {report.mail_line()}"
                     + (f"; raw responses deleted {report.deleted}" if report.deleted else ""))
        passes += 1
        stop.wait(interval)
    return passes


def install_signal_handlers(stop: threading.Event) -> None:
    """SIGTERM and SIGINT set ``stop``; the current pass finishes first."""

    def _handler(signum, _frame):
        log.info("worker: signal %s, stopping after this pass", signum)
        stop.set()

    signal.signal(signal.SIGTERM, _handler)
    signal.signal(signal.SIGINT, _handler)
