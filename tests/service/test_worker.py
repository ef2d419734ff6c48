"""The worker: one pass ticks and sends; ``flask worker`` stops cleanly on SIGTERM. And the
scheduling rules it applies: reminders at half-time, off weekends, never after close."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from support import NOW, SECRET, open_survey
from surveys.config import ConfigError, Settings
from surveys.mail import worker
from surveys.mail.backends import FileBackend
from surveys.mail.render import render_email
from surveys.models import OutboxMessage, Survey
from surveys.services import lifecycle

ROOT = Path(__file__).resolve().parents[2]


def at(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=UTC)  # 2026-11-20 is a Friday


@pytest.mark.parametrize("opens, closes, weekends, expected", [
    (at(16), at(23), False, at(20, 0)),             # half-time Friday 0:00: unchanged
    (at(17), at(24), False, at(23, 0)),             # Saturday 0:00 -> Monday, same time
    (at(18), at(25), False, at(23, 0)),             # Sunday 0:00 -> Monday
    (at(20), at(23, 6), False, at(20, 21)),         # Saturday 21:00, Monday after close: Friday
    (at(21, 1), at(22, 23), False, at(22, 23)),     # weekend-only survey: no reminder
    (at(17), at(24), True, at(21, 0)),              # weekends allowed
])
def test_reminder_time(opens, closes, weekends, expected):
    assert lifecycle.reminder_time(opens, closes, weekends) == expected
    if expected < closes:
        assert expected.weekday() < 5 or weekends


def test_scheduling_from_config(app):
    base = dict(app.config)
    default = Settings.from_config(base)
    assert (default.survey_limit, default.survey_limit_window, default.remind_on_weekends) == (
        2, timedelta(days=30), False)
    custom = Settings.from_config({**base, "AFTERCARE_SURVEY_LIMIT": "0",
                                   "AFTERCARE_SURVEY_LIMIT_WINDOW": "14d",
                                   "AFTERCARE_REMIND_WEEKENDS": "1"})
    assert (custom.survey_limit, custom.survey_limit_window, custom.remind_on_weekends) == (
        None, timedelta(days=14), True)
    for bad in ({"AFTERCARE_SURVEY_LIMIT": "two"}, {"AFTERCARE_SURVEY_LIMIT_WINDOW": "0"},
                {"AFTERCARE_REMIND_WEEKENDS": "maybe"}):
        with pytest.raises(ConfigError):
            Settings.from_config({**base, **bad})


@pytest.mark.usefixtures("org")
def test_no_reminder_when_half_time_is_past_close(db, settings, box):
    survey, _ = open_survey(db, settings, box, people=5)
    lifecycle.close_survey(db, survey.id, NOW + timedelta(hours=1))
    assert lifecycle.send_reminder(db, survey.id, NOW + timedelta(days=4)) == 0
    assert db.scalar(select(func.count()).select_from(OutboxMessage)
                     .where(OutboxMessage.kind == "reminder")) == 0


@pytest.mark.usefixtures("org")
def test_one_pass_opens_due_surveys_and_sends_their_mail(app, db, settings, box, tmp_path):
    data = lifecycle.NewIncident(team="payments", title="Later", kind="data", severity="sev3",
                                 closed_at=NOW - timedelta(hours=1),
                                 participants=[f"payments{i}@example.org" for i in range(5)],
                                 open_delay=timedelta(hours=2))
    survey = lifecycle.create_incident(db, data, settings, box, NOW)
    backend = FileBackend(tmp_path / "mail", "aftercare@example.org")
    assert worker.one_pass(app, backend, render_email).sent == 0
    app.config["AFTERCARE_NOW"] = NOW + timedelta(hours=1)
    report = worker.one_pass(app, backend, render_email, batch=2)
    assert report.opened == 1 and report.sent == 5  # three batches of at most 2
    assert len(list((tmp_path / "mail").iterdir())) == 5
    db.rollback()
    assert db.scalar(select(Survey.status).where(Survey.id == survey.id)) == "open"


def test_run_stops_when_asked(app, tmp_path):
    stop = threading.Event()
    lines = []

    def echo(line):
        lines.append(line)

    backend = FileBackend(tmp_path, "aftercare@example.org")
    timer = threading.Timer(0.3, stop.set)
    timer.start()
    passes = worker.run(app, stop, interval=0.05, render=render_email, backend=backend,
                        echo=echo)
    assert passes >= 1 and stop.is_set()


@pytest.mark.usefixtures("org")
def test_flask_worker_sends_and_stops_cleanly_on_sigterm(app, db, settings, box, tmp_path,
                                                          sqlite_url):
    now = datetime.now(UTC)
    open_survey(db, settings, box, people=3, now=now)
    spool = tmp_path / "spool"
    env = {**os.environ, "DATABASE_URL": sqlite_url, "AFTERCARE_SECRET_KEY": SECRET,
           "AFTERCARE_MAIL": f"file://{spool}", "AFTERCARE_MAIL_FROM": "aftercare@example.org",
           "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "app", "worker", "--interval", "0.2"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(list(spool.glob("*.eml"))) < 3:
            time.sleep(0.1)
        assert len(list(spool.glob("*.eml"))) == 3
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert "worker stopped" in err
    db.rollback()
    assert db.scalar(select(func.count()).select_from(OutboxMessage)
                     .where(OutboxMessage.status == "sent")) == 3
