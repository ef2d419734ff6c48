"""Outbox throughput: enqueue and deliver 10,000 invitations to a local SMTP sink.

The outbox run starts from an empty SQLite database with a roster: it creates 20 incidents of
500 participants (ballots, encrypted tokens and outbox rows, the "enqueue"), then flushes in
batches of 500 (one SMTP connection per batch) until nothing is due: rendering, Message-IDs,
opt-out links, MIME building and bulk status updates included. The baseline, in the same run
and against the same sink, is plain smtplib sending 10,000 messages of the same shape (text
and HTML parts, same sizes) built with ``email.message.EmailMessage`` over ONE connection,
with bodies prepared beforehand. The sink is aiosmtpd on 127.0.0.1 in a separate process (so
it does not compete for the client's GIL), answering 250 to everything. Figures are medians
of three alternating runs.

Run with ``.venv/bin/python -m bench outbox``.
"""

from __future__ import annotations

import multiprocessing
import secrets
import shutil
import smtplib
import socket
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller

from bench.harness import Result

MESSAGES = 10_000
PER_INCIDENT = 500
REPEAT = 3


class _Handler:
    def __init__(self, counter) -> None:
        self.counter = counter

    async def handle_DATA(self, server, session, envelope):
        with self.counter.get_lock():
            self.counter.value += 1
        return "250 OK"


def _serve(port: int, counter, ready, stop) -> None:
    controller = Controller(_Handler(counter), hostname="127.0.0.1", port=port,
                            server_hostname="localhost", ready_timeout=5)
    controller.start()
    ready.set()
    stop.wait()
    controller.stop()


class Sink:
    """aiosmtpd in its own process (so that it does not share the client's GIL)."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self.port = _free_port()
        self._counter = context.Value("q", 0)
        self._ready, self._stop = context.Event(), context.Event()
        self._process = context.Process(target=_serve, daemon=True, args=(
            self.port, self._counter, self._ready, self._stop))

    @property
    def count(self) -> int:
        return self._counter.value

    def start(self) -> None:
        self._process.start()
        if not self._ready.wait(30):
            raise RuntimeError("SMTP sink did not start")

    def stop(self) -> None:
        self._stop.set()
        self._process.join(10)
        if self._process.is_alive():
            self._process.kill()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _outbox_run(port: int, sink: Sink) -> float:
    """Seconds to enqueue and deliver MESSAGES invitations through the outbox."""
    from app import create_app
    from surveys import db as dbmod
    from surveys.mail.backends import SMTPBackend
    from surveys.mail.outbox import flush
    from surveys.mail.render import render_email
    from surveys.models import Person, Team
    from surveys.services import lifecycle

    workdir = Path(tempfile.mkdtemp(prefix="bench-outbox-"))
    now = datetime(2026, 11, 20, 12, tzinfo=UTC)
    app = create_app({"SECRET_KEY": secrets.token_urlsafe(32),
                      "DATABASE_URL": f"sqlite:///{workdir / 'bench.db'}",
                      "AFTERCARE_OPEN_DELAY": "0", "AFTERCARE_NOW": now,
                      "AFTERCARE_BASE_URL": "https://aftercare.example.org"})
    engine = dbmod.get_engine(app)
    dbmod.upgrade(engine)
    emails = [f"person{i}@example.org" for i in range(MESSAGES)]
    with dbmod.session_scope(app) as session:
        team = Team(slug="payments", name="Payments")
        session.add(team)
        session.flush()
        session.add_all(Person(email=e, name="", team_id=team.id) for e in emails)
        session.commit()
    settings = app.extensions["aftercare.settings"]
    box = app.extensions["aftercare.token_box"]
    backend = SMTPBackend("127.0.0.1", port, "aftercare@example.org", timeout=30)
    before = sink.count
    start = time.perf_counter()
    with app.app_context(), dbmod.session_scope(app) as session:
        for i in range(0, MESSAGES, PER_INCIDENT):
            data = lifecycle.NewIncident(
                team="payments", title=f"Incident {i}", kind="availability", severity="sev2",
                closed_at=now - timedelta(hours=1), participants=emails[i:i + PER_INCIDENT])
            lifecycle.create_incident(session, data, settings, box, now)
        while flush(session, backend, box, render_email, settings.base_url,
                    app.config["SECRET_KEY"], now, limit=500).handled:
            pass
    elapsed = time.perf_counter() - start
    engine.dispose()
    shutil.rmtree(workdir, ignore_errors=True)
    if sink.count - before != MESSAGES:
        raise RuntimeError(f"outbox delivered {sink.count - before}, expected {MESSAGES}")
    return elapsed


def _bodies() -> list[tuple[str, str, str, str]]:
    link = "https://aftercare.example.org/s/" + "A" * 43
    optout = "https://aftercare.example.org/optout/" + "B" * 30
    text = ("Hello,\n\nYou were part of the incident \"Incident 0\". How did its review feel? "
            "About a dozen short questions, two minutes:\n\n" + link + "\n\n" + "x" * 300
            + "\n\nTo stop receiving these surveys: " + optout + "\n")
    html = ("<!doctype html><html><body><p>Hello,</p><p>You were part of the incident.</p>"
            f'<p><a href="{link}">Answer the survey</a></p><p>' + "x" * 300 + "</p>"
            f'<p><a href="{optout}">opt out</a></p></body></html>')
    return [(f"person{i}@example.org", "A two-minute question about Incident 0", text, html)
            for i in range(MESSAGES)]


def _smtplib_run(port: int, sink: Sink, bodies) -> float:
    """Seconds for plain smtplib to build and send MESSAGES over one connection."""
    before = sink.count
    start = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as conn:
        for n, (to, subject, text, html) in enumerate(bodies):
            msg = EmailMessage()
            msg["From"] = "aftercare@example.org"
            msg["To"] = to
            msg["Subject"] = subject
            msg["Message-ID"] = f"<baseline-{n}@aftercare>"
            msg.set_content(text)
            msg.add_alternative(html, subtype="html")
            conn.send_message(msg)
    elapsed = time.perf_counter() - start
    if sink.count - before != MESSAGES:
        raise RuntimeError(f"smtplib delivered {sink.count - before}, expected {MESSAGES}")
    return elapsed


def run() -> list[Result]:
    sink = Sink()
    sink.start()
    try:
        bodies = _bodies()
        outbox_times, baseline_times = [], []
        for _ in range(REPEAT):
            baseline_times.append(_smtplib_run(sink.port, sink, bodies))
            outbox_times.append(_outbox_run(sink.port, sink))
            print(f"  run: smtplib {baseline_times[-1]:.2f} s, outbox {outbox_times[-1]:.2f} s",
                  flush=True)
    finally:
        sink.stop()
    outbox_rate = MESSAGES / statistics.median(outbox_times)
    baseline_rate = MESSAGES / statistics.median(baseline_times)
    return [Result(
        name="outbox enqueue+deliver 10,000 invitations",
        value=outbox_rate,
        unit="invitations/s",
        baseline=baseline_rate,
        ratio=outbox_rate / baseline_rate,
        target="ratio >= 0.5 (rate against plain smtplib, one connection)",
    )]
