"""Slack delivery through the outbox, against a Slack Web API stand-in on loopback that the
real slack_sdk client reaches through its base_url (tests/slack_support.py), with email
through aiosmtpd beside it: the same claim, lease, retry and exactly-once rules as email
(down then up, 429 then 200, two workers), the fallback to email for people not in Slack,
and nothing about a link or an address in the logs."""

from __future__ import annotations

import logging
import re
import threading
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from support import NOW, SECRET, open_survey
from support.slack import TOKEN, Workspace, slack_api
from support.smtp import Inbox, free_port
from surveys import db as dbmod
from surveys.mail import outbox
from surveys.mail.backends import SMTPBackend
from surveys.mail.render import render_email, render_slack
from surveys.mail.slack import SlackBackend
from surveys.models import OutboxMessage
from surveys.services import delivery, lifecycle

pytestmark = pytest.mark.usefixtures("org")
BASE = "https://aftercare.example.org"
LINK = re.compile(rf"{BASE}/s/([A-Za-z0-9_-]{{43}})")


@pytest.fixture
def inbox(start_server):
    box = Inbox()
    box.port = start_server(box).port
    return box


@pytest.fixture
def send(app, db, box, inbox):
    """Flush the outbox once at ``now``: email to the SMTP server, Slack to ``slack_url``."""

    def flush(slack_url: str | None, now=NOW, limit=500, session=None, token=TOKEN):
        email = SMTPBackend("127.0.0.1", inbox.port, "aftercare@example.org", timeout=5)
        slack = None
        if slack_url is not None:
            slack = outbox.SlackChannel(
                SlackBackend(token, "aftercare@example.org", base_url=slack_url, timeout=5),
                render_slack)
        with app.app_context():
            return outbox.flush(session or db, email, box, render_email, BASE, SECRET, now,
                                limit=limit, slack=slack)

    return flush


def deliver_by(db, choice: str) -> None:
    delivery.set_channel(db, choice, True, NOW)


def rows(db) -> Counter:
    db.rollback()
    return Counter(db.execute(select(OutboxMessage.channel, OutboxMessage.status)).all())


def everyone(n: int, team: str = "payments") -> list[str]:
    return [f"{team}{i}@example.org" for i in range(n)]


def test_direct_messages_carry_each_persons_link_and_the_notice(db, settings, box, send,
                                                                 inbox, caplog):
    caplog.set_level(logging.DEBUG)
    deliver_by(db, "slack")
    workspace = Workspace()
    workspace.add(*everyone(5))
    survey, tokens = open_survey(db, settings, box, people=5, title="Queue <!channel> stalled")
    with slack_api(workspace) as url:
        report = send(url)
    assert (report.sent, report.retrying, report.failed, report.rerouted) == (5, 0, 0, 0)
    assert rows(db) == {("slack", "sent"): 5} and inbox.messages == []
    assert sorted(LINK.search(p.text).group(1) for p in workspace.posts) == sorted(tokens)
    for email in everyone(5):
        [post] = workspace.posted_to(email)
        assert post.unfurl_links is False and post.unfurl_media is False  # no link preview
        assert "shown only for groups of at least 5 people" in post.text
        assert "Nothing is posted to Slack when you answer" in post.text
        assert "&lt;!channel&gt;" in post.text and "<!channel>" not in post.text
        assert "/optout/" in post.text
    lines = [r.getMessage() for r in caplog.records if not r.name.startswith("mail.log")]
    assert not any(t in line for t in tokens for line in lines)
    assert not any("/s/" in line or "@example.org" in line or TOKEN in line for line in lines)


def test_a_person_not_in_slack_gets_the_email_in_the_same_run(db, settings, box, send, inbox):
    deliver_by(db, "slack")
    workspace = Workspace()
    workspace.add(*everyone(5)[:3])
    _, tokens = open_survey(db, settings, box, people=5)
    with slack_api(workspace) as url:
        report = send(url)
    assert (report.sent, report.rerouted) == (5, 2)
    assert len(workspace.posts) == 3 and len(inbox.messages) == 2
    assert sorted(m["To"] for m in inbox.messages) == everyone(5)[3:]
    assert rows(db) == {("slack", "sent"): 3, ("email", "sent"): 2}
    sent_links = [LINK.search(p.text).group(1) for p in workspace.posts] + [
        LINK.search(m.get_body(("plain",)).get_content()).group(1) for m in inbox.messages]
    assert sorted(sent_links) == sorted(tokens)


def test_both_sends_an_email_and_a_direct_message_and_never_two_emails(db, settings, box, send,
                                                                      inbox):
    deliver_by(db, "both")
    workspace = Workspace()
    workspace.add(*everyone(4)[:3])
    open_survey(db, settings, box, people=4)
    with slack_api(workspace) as url:
        report = send(url)
    assert len(inbox.messages) == 4 and len(workspace.posts) == 3
    assert report.sent == 7 and report.cancelled == 1
    assert rows(db) == {("email", "sent"): 4, ("slack", "sent"): 3, ("slack", "cancelled"): 1}


def test_429_then_200_waits_for_retry_after_and_delivers_exactly_once(db, settings, box, send):
    deliver_by(db, "slack")
    workspace = Workspace(script={"chat.postMessage": [None, ("429", 30)]})
    workspace.add(*everyone(5))
    open_survey(db, settings, box, people=5)
    with slack_api(workspace) as url:
        first = send(url)
        assert (first.sent, first.deferred, first.retrying) == (1, 4, 0)
        db.rollback()
        waiting = list(db.scalars(select(OutboxMessage).where(
            OutboxMessage.status == "pending")))
        assert len(waiting) == 4
        assert all(m.attempts == 0 and m.last_error == "slack chat.postMessage: rate limited"
                   and timedelta(seconds=30) <= m.next_attempt_at - NOW < timedelta(seconds=31)
                   for m in waiting)
        calls = len(workspace.calls)
        assert send(url, NOW + timedelta(seconds=29)).handled == 0
        assert len(workspace.calls) == calls  # nothing reached Slack before Retry-After
        later = send(url, NOW + timedelta(seconds=31))
    assert later.sent == 4 and rows(db) == {("slack", "sent"): 5}
    assert Counter(p.channel for p in workspace.posts).most_common(1)[0][1] == 1
    assert len(workspace.posts) == 5


def test_slack_down_then_up_loses_nothing(db, settings, box, send):
    deliver_by(db, "slack")
    port = free_port()
    open_survey(db, settings, box, people=6)
    down_url = f"http://127.0.0.1:{port}/api/"
    down = send(down_url)
    assert (down.sent, down.deferred, down.unsent) == (0, 6, 6)
    when = NOW
    for _ in range(outbox.MAX_ATTEMPTS + 2):  # down longer than every retry would last
        when += timedelta(hours=6)
        assert send(down_url, when).deferred == 6
    db.rollback()
    assert {(m.status, m.attempts) for m in db.scalars(select(OutboxMessage))} == {
        ("pending", 0)}
    assert all("unreachable" in e for e in db.scalars(select(OutboxMessage.last_error)))
    assert [f.retrying for f in outbox.failures_by_survey(db)] == [6]  # admins see it
    workspace = Workspace()
    workspace.add(*everyone(6))
    with slack_api(workspace, port=port) as url:
        up = send(url, when + timedelta(minutes=1))
    assert up.sent == 6 and len(workspace.posts) == 6 and rows(db) == {("slack", "sent"): 6}


def test_a_refused_token_keeps_every_message_waiting(db, settings, box, send, caplog):
    deliver_by(db, "slack")
    workspace = Workspace()
    workspace.add(*everyone(3))
    open_survey(db, settings, box, people=3)
    with slack_api(workspace) as url:
        refused = send(url, token="xoxb-revoked")
        assert (refused.deferred, refused.failed, refused.sent) == (3, 0, 0)
        assert "invalid_auth" in caplog.text
        assert rows(db) == {("slack", "pending"): 3}
        fixed = send(url, NOW + timedelta(minutes=1))
    assert fixed.sent == 3 and len(workspace.posts) == 3


def test_slacks_own_trouble_is_retried_with_backoff(db, settings, box, send):
    deliver_by(db, "slack")
    workspace = Workspace(script={"chat.postMessage": [("500", None), "internal_error"]})
    workspace.add(*everyone(3))
    open_survey(db, settings, box, people=3)
    with slack_api(workspace) as url:
        first = send(url)
        assert (first.sent, first.retrying) == (1, 2)
        assert send(url, NOW + timedelta(seconds=10)).handled == 0  # backoff
        later = send(url, NOW + timedelta(minutes=5))
    assert later.sent == 2 and len(workspace.posts) == 3
    db.rollback()
    assert sorted(m.attempts for m in db.scalars(select(OutboxMessage))) == [1, 2, 2]


def test_two_workers_share_the_queue_and_post_each_message_once(app, db, settings, box, send):
    deliver_by(db, "slack")
    workspace = Workspace()
    workspace.add(*everyone(12))
    open_survey(db, settings, box, people=12)
    reports = []
    with slack_api(workspace) as url:
        def worker():
            with dbmod.session_scope(app) as session:
                for _ in range(6):
                    reports.append(send(url, limit=2, session=session))

        threads = [threading.Thread(target=worker) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    assert sum(r.sent for r in reports) == 12
    assert Counter(p.channel for p in workspace.posts).most_common(1)[0][1] == 1
    assert len(workspace.posts) == 12 and rows(db) == {("slack", "sent"): 12}


def test_without_a_slack_token_queued_slack_messages_go_by_email(db, settings, box, send,
                                                                 inbox):
    deliver_by(db, "slack")
    open_survey(db, settings, box, people=3)
    report = send(None)
    assert report.sent == 3 and len(inbox.messages) == 3
    assert rows(db) == {("email", "sent"): 3}


def test_the_reminder_goes_the_same_way(db, settings, box, send, inbox):
    deliver_by(db, "slack")
    workspace = Workspace()
    workspace.add(*everyone(3))
    survey, tokens = open_survey(db, settings, box, people=3)
    with slack_api(workspace) as url:
        send(url)
        assert lifecycle.send_reminder(db, survey.id, NOW + timedelta(days=3)) == 3
        send(url, NOW + timedelta(days=3))
    reminders = [p for p in workspace.posts if p.text.startswith("*A reminder*")]
    assert len(reminders) == 3 and inbox.messages == []
    assert sorted(LINK.search(p.text).group(1) for p in reminders) == sorted(tokens)


def test_a_closed_surveys_slack_messages_are_never_sent(db, settings, box, send):
    deliver_by(db, "slack")
    workspace = Workspace()
    workspace.add(*everyone(3))
    survey, _ = open_survey(db, settings, box, people=3)
    lifecycle.close_survey(db, survey.id, NOW)
    with slack_api(workspace) as url:
        assert send(url).sent == 0
    assert workspace.posts == [] and rows(db) == {("slack", "cancelled"): 3}


def test_the_delivery_setting_needs_a_token_for_slack(db):
    from surveys.errors import InvalidInput

    assert delivery.current(db) == "email"
    with pytest.raises(InvalidInput):
        delivery.set_channel(db, "slack", False, NOW)
    with pytest.raises(InvalidInput):
        delivery.set_channel(db, "pigeon", True, NOW)
    delivery.set_channel(db, "both", True, NOW)
    assert delivery.current(db) == "both"


def test_queued_counts_follow_the_setting(db, settings, box):
    deliver_by(db, "both")
    open_survey(db, settings, box, people=4)
    assert db.scalar(select(func.count()).select_from(OutboxMessage)) == 8
