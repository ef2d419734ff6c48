"""The outbox against a real SMTP server (aiosmtpd on 127.0.0.1): delivery, 451 then 250,
a server down then up, 5xx failures counted per survey, opt-out links and headers."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from support import NOW, SECRET, Manager, open_survey, tokens_of
from support.smtp import Inbox, free_port
from surveys.mail import outbox
from surveys.mail.backends import SMTPBackend
from surveys.mail.message import make_message_id
from surveys.mail.render import render_email
from surveys.models import OutboxMessage, Person
from surveys.services import lifecycle

pytestmark = pytest.mark.usefixtures("org")
BASE = "https://aftercare.example.org"


@pytest.fixture
def send(app, db, box):
    """Flush the outbox once at ``now`` through SMTP on ``port``."""

    def flush(port: int, now=NOW):
        backend = SMTPBackend("127.0.0.1", port, "aftercare@example.org", timeout=5)
        with app.app_context():
            return outbox.flush(db, backend, box, render_email, BASE, SECRET, now)

    return flush


def states(db) -> dict[str, int]:
    db.rollback()
    return dict(db.execute(select(OutboxMessage.status, func.count())
                           .group_by(OutboxMessage.status)).all())


def test_delivery_with_both_parts_message_id_links_and_opt_out(start_server, send, db, settings,
                                                               box, caplog):
    caplog.set_level(logging.DEBUG)
    inbox = Inbox()
    server = start_server(inbox)
    survey, tokens = open_survey(db, settings, box, people=5)
    report = send(server.port)
    assert (report.sent, report.retrying, report.failed) == (5, 0, 0)
    assert states(db) == {"sent": 5}
    assert len(inbox.messages) == 5
    ids = set(db.scalars(select(OutboxMessage.id)))
    assert {m["Message-ID"] for m in inbox.messages} == {make_message_id(i, SECRET)
                                                         for i in ids}
    links = set()
    for message in inbox.messages:
        assert message.get_content_type() == "multipart/alternative"
        text = message.get_body(("plain",)).get_content()
        html = message.get_body(("html",)).get_content()
        link = re.search(rf"{BASE}/s/([A-Za-z0-9_-]{{43}})", text)
        assert link and link.group(0) in html
        links.add(link.group(1))
        unsubscribe = str(message["List-Unsubscribe"]).strip()
        assert unsubscribe.startswith(f"<{BASE}/optout/")
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert unsubscribe.strip("<>") in text and unsubscribe.strip("<>") in html
    assert links == set(tokens)  # each person got their own link, every link went out once
    for record in caplog.records:
        if record.name.startswith("mail.log"):  # the test server's own log of what it got
            continue
        line = record.getMessage()
        assert not any(token in line for token in tokens)
        assert "/s/" not in line and "@example.org" not in line


def test_451_then_250_delivers_exactly_once(start_server, send, db, settings, box):
    inbox = Inbox(data_replies=["451 4.7.1 Try again later"] * 5)
    server = start_server(inbox)
    open_survey(db, settings, box, people=5)
    first = send(server.port)
    assert (first.sent, first.retrying) == (0, 5)
    rows = list(db.scalars(select(OutboxMessage)))
    assert all(r.attempts == 1 and r.next_attempt_at > NOW for r in rows)
    assert all(r.last_error.startswith("data refused") for r in rows)
    assert send(server.port).handled == 0  # backoff: nothing is due yet
    later = send(server.port, NOW + timedelta(minutes=2))
    assert later.sent == 5
    assert len(inbox.messages) == 5
    assert len({m["Message-ID"] for m in inbox.messages}) == 5
    assert send(server.port, NOW + timedelta(hours=1)).handled == 0
    assert len(inbox.messages) == 5 and states(db) == {"sent": 5}


def test_server_down_then_up_loses_nothing(start_server, send, db, settings, box):
    """An unreachable server is the server's trouble, not the messages': nothing is counted
    against them, they stay due, and however long the outage, none is given up."""
    port = free_port()
    open_survey(db, settings, box, people=6)
    down = send(port)
    assert (down.sent, down.retrying, down.deferred, down.unsent) == (0, 0, 6, 6)
    assert all(e.startswith("connect") for e in db.scalars(select(OutboxMessage.last_error)))
    when = NOW
    for _ in range(outbox.MAX_ATTEMPTS + 2):  # down longer than every retry would last
        when += timedelta(hours=6)
        assert send(port, when).deferred == 6
    db.rollback()
    assert {(r.status, r.attempts) for r in db.scalars(select(OutboxMessage))} == {
        ("pending", 0)}
    assert [f.retrying for f in outbox.failures_by_survey(db)] == [6]  # admins see it
    inbox = Inbox()
    start_server(inbox, port=port)
    up = send(port, when + timedelta(minutes=1))
    assert up.sent == 6 and len(inbox.messages) == 6 and states(db) == {"sent": 6}
    assert len({m["Message-ID"] for m in inbox.messages}) == 6


def test_5xx_is_permanent_and_counted_per_survey_for_admins(start_server, send, db, settings, box,
                                                           app):
    inbox = Inbox(rcpt_replies={"payments1@example.org": ["550 5.1.1 No such user"]})
    server = start_server(inbox)
    survey, _ = open_survey(db, settings, box, people=5)
    report = send(server.port)
    assert (report.sent, report.failed) == (4, 1)
    assert states(db) == {"sent": 4, "failed": 1}
    assert send(server.port, NOW + timedelta(days=1)).handled == 0  # never retried
    failures = outbox.failures_by_survey(db)
    assert [(f.survey_id, f.failed, f.retrying) for f in failures] == [(survey.id, 1, 0)]
    admin = app.test_client()
    Manager(admin).login("admin@example.org")
    page = admin.get("/admin/api").text
    assert "Queue stalled" in page and "<td>1</td>" in page
    assert "payments1@example.org" not in page  # counts only


def test_temporary_failures_give_up_after_the_last_attempt(start_server, send, db, settings,
                                                          box):
    inbox = Inbox(data_replies=["451 4.3.0 Try again later"] * outbox.MAX_ATTEMPTS)
    server = start_server(inbox)
    open_survey(db, settings, box, people=1)
    when = NOW
    for _ in range(outbox.MAX_ATTEMPTS):
        send(server.port, when)
        when += timedelta(days=1)
    assert states(db) == {"failed": 1}
    assert outbox.failures_by_survey(db)[0].failed == 1
    assert inbox.messages == []


def test_opt_out_link_stops_mail_without_login(start_server, send, db, settings, box, client):
    inbox = Inbox()
    server = start_server(inbox)
    survey, _ = open_survey(db, settings, box, people=3)
    send(server.port)
    message = next(m for m in inbox.messages if m["To"] == "payments0@example.org")
    path = str(message["List-Unsubscribe"]).strip().strip("<>").removeprefix(BASE)
    page = client.get(path)
    assert page.status_code == 200 and "Stop these emails" in page.text
    assert client.post(path).status_code == 200  # one-click POST: no form, no CSRF token
    db.rollback()
    assert db.scalar(select(Person.opted_out).where(Person.email == "payments0@example.org"))
    lifecycle.send_reminder(db, survey.id, NOW + timedelta(days=3))
    reminders = send(server.port, NOW + timedelta(days=3))
    assert reminders.sent == 2 and reminders.cancelled == 1
    assert client.get(path[:-3] + "abc").status_code == 404
    assert client.post("/optout/not-a-token").status_code == 404


def test_mail_of_a_closed_survey_is_never_sent(start_server, send, db, settings, box):
    inbox = Inbox()
    server = start_server(inbox)
    survey, _ = open_survey(db, settings, box, people=4)
    lifecycle.close_survey(db, survey.id, NOW)
    assert send(server.port).sent == 0
    assert inbox.messages == [] and states(db) == {"cancelled": 4}


def test_http_base_url_gets_no_one_click_header(start_server, app, db, settings, box):
    inbox = Inbox()
    server = start_server(inbox)
    open_survey(db, settings, box, people=1)
    backend = SMTPBackend("127.0.0.1", server.port, "aftercare@example.org", timeout=5)
    with app.app_context():
        outbox.flush(db, backend, box, render_email, "http://127.0.0.1:5000", SECRET, NOW)
    assert str(inbox.messages[0]["List-Unsubscribe"]).strip().startswith("<http://127.0.0.1:5000/optout/")
    assert inbox.messages[0]["List-Unsubscribe-Post"] is None


def test_tokens_of_invitations_are_the_links_sent(db, settings, box):
    survey, tokens = open_survey(db, settings, box, people=2)
    assert tokens == tokens_of(db, box, survey.id)
