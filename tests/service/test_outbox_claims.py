"""Several senders share the outbox: a claimed batch is nobody else's; a sender that dies
mid-batch leaves what it sent marked sent and the rest to be taken over when its lease runs
out; a sender that lost its lease stops. (The same with real processes and kill -9:
tests/service/test_processes.py.)"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from support import NOW, SECRET, open_survey
from support.smtp import Inbox
from surveys.mail import outbox
from surveys.mail.backends import FileBackend, MailBackend, Outcome, SMTPBackend, Status
from surveys.mail.render import render_email
from surveys.models import OutboxMessage

pytestmark = pytest.mark.usefixtures("org")
BASE = "https://aftercare.example.org"


class Crash(BaseException):
    """Stands for the process dying: nothing after it runs."""


class DiesAfter(MailBackend):
    """Sends ``n`` messages, then the process 'dies'."""

    def __init__(self, n: int) -> None:
        super().__init__("aftercare@example.org")
        self.n = n
        self.sent: list[str] = []

    def send_batch(self, mails):
        return list(self.send_each(mails))

    def send_each(self, mails):
        for mail in mails:
            if len(self.sent) == self.n:
                raise Crash()
            self.sent.append(mail.message_id)
            yield Outcome(mail.message_id, Status.SENT)


def flush(app, db, box, backend, now=NOW, limit=500, lease=outbox.LEASE):
    with app.app_context():
        return outbox.flush(db, backend, box, render_email, BASE, SECRET, now, limit=limit,
                            lease=lease)


def states(db):
    db.rollback()
    return dict(db.execute(select(OutboxMessage.status, func.count())
                           .group_by(OutboxMessage.status)).all())


def test_a_sender_dying_mid_batch_loses_nothing_and_repeats_nothing(app, db, box, settings,
                                                                    tmp_path):
    open_survey(db, settings, box, people=10)
    dying = DiesAfter(4)
    with pytest.raises(Crash):
        flush(app, db, box, dying)
    db.rollback()
    assert states(db) == {"sent": 4, "sending": 6}
    files = FileBackend(tmp_path / "mail", "aftercare@example.org")
    assert flush(app, db, box, files).handled == 0  # the lease still holds them
    later = flush(app, db, box, files, now=NOW + outbox.LEASE + timedelta(seconds=1))
    assert later.sent == 6 and states(db) == {"sent": 10}
    delivered = dying.sent + [p.name.split("-", 1)[1] for p in (tmp_path / "mail").iterdir()]
    assert len(delivered) == 10 and len(set(delivered)) == 10


def test_a_sender_that_lost_its_lease_stops_sending(app, db, box, settings, tmp_path):
    open_survey(db, settings, box, people=6)
    taken_over = []

    class Slow(MailBackend):
        def send_batch(self, mails):
            return list(self.send_each(mails))

        def send_each(self, mails):
            for index, mail in enumerate(mails):
                if index == 2:  # stalled past its lease; another sender took the batch
                    db.rollback()
                    other = flush(app, db, box, FileBackend(tmp_path / "m", "a@example.org"),
                                  now=NOW + timedelta(minutes=10))
                    taken_over.append(other.sent)
                yield Outcome(mail.message_id, Status.SENT)

    report = flush(app, db, box, Slow("aftercare@example.org"))
    assert taken_over == [4]  # the two it had sent stayed sent; the rest went once
    assert report.sent == 2 and report.abandoned == 4
    assert states(db) == {"sent": 6}


def test_two_senders_at_once_share_the_queue(app, db, box, settings, start_server):
    inbox = Inbox()
    server = start_server(inbox)
    open_survey(db, settings, box, people=12)
    from surveys import db as dbmod

    reports = []

    def sender():
        with dbmod.session_scope(app) as session:
            backend = SMTPBackend("127.0.0.1", server.port, "aftercare@example.org", timeout=5)
            for _ in range(6):
                reports.append(flush(app, session, box, backend, limit=2))

    threads = [threading.Thread(target=sender) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sum(r.sent for r in reports) == 12
    assert Counter(inbox.message_ids()).most_common(1)[0][1] == 1
    assert len(inbox.messages) == 12 and states(db) == {"sent": 12}
