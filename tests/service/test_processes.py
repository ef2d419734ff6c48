"""Real processes, real faults: gunicorn and `flask worker` as subprocesses, participants over
HTTP (bench/participants.py), mail through aiosmtpd on loopback.

* Two app processes and two workers on PostgreSQL and Redis: a participant may open the link
  on one and answer on the other, rate limits are shared, every invitation goes out once,
  and only one worker closes the survey.
* kill -9 of app workers in the middle of a load: every answer that got its thank-you page
  is counted, every spent ballot has exactly one answer, no answer is partial.
* The database goes away during a load (a private PostgreSQL cluster restarted; SQLite
  locked past the busy timeout): 503s, never a 500 or a hung request, recovery without a
  restart, nothing answered is lost.
* A worker killed while sending: no invitation lost, none sent twice.
* The mail server down, then up: every invitation delivered exactly once.

Slow (each starts processes): run with the rest by `make test` and `.ci/run`.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import secrets
import signal
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select, text, update

from analysis import items
from bench import participants, servers
from support.smtp import Inbox, free_port
from surveys import db as dbmod
from surveys.models import Ballot, Response, StagedAnswer, Survey
from surveys.tokens import hash_token

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]
HOST = "127.0.0.1"
LINK = re.compile(r"/s/([A-Za-z0-9_-]{43})")


def smtp(handler, port: int | None = None) -> Controller:
    controller = Controller(handler, hostname=HOST, port=port or free_port(),
                            server_hostname="localhost", ready_timeout=5)
    controller.start()
    return controller


def eventually(check, timeout: float = 60.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def counts(url: str, survey_id: int | None = None) -> dict[str, int]:
    engine = dbmod.make_engine(url)
    try:
        with engine.connect() as conn:
            def n(model, *where):
                return int(conn.scalar(select(func.count()).select_from(model).where(*where)))

            scope = [] if survey_id is None else [Ballot.survey_id == survey_id]
            return {"spent": n(Ballot, Ballot.spent, *scope), "staged": n(StagedAnswer),
                    "responses": n(Response)}
    finally:
        engine.dispose()


def spent_count(engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(Ballot).where(Ballot.spent)))


def spent_hashes(url: str) -> set[str]:
    engine = dbmod.make_engine(url)
    try:
        with engine.connect() as conn:
            return set(conn.scalars(select(Ballot.token_hash).where(Ballot.spent)))
    finally:
        engine.dispose()


def partial_answers(url: str) -> int:
    """Staged answers missing a statement: there must be none."""
    engine = dbmod.make_engine(url)
    try:
        with engine.connect() as conn:
            missing = [getattr(StagedAnswer, s).is_(None) for s in items.STATEMENT_IDS]
            from sqlalchemy import or_

            return int(conn.scalar(select(func.count()).select_from(StagedAnswer)
                                   .where(or_(*missing))))
    finally:
        engine.dispose()


def assert_every_thanked_answer_is_counted(url: str, flows) -> None:
    thanked = [f for f in flows if f.thanked]
    assert thanked, "no participant got through"
    spent = spent_hashes(url)
    assert all(hash_token(f.token) in spent for f in thanked)
    stored = counts(url)
    assert stored["staged"] == stored["spent"]  # one answer per spent ballot, no more
    assert len(thanked) <= stored["spent"] <= sum(f.posted for f in flows)
    assert partial_answers(url) == 0


# --- two app processes, two workers, PostgreSQL and Redis --------------------------------


@pytest.mark.postgres
@pytest.mark.redis
def test_two_apps_and_two_workers_share_postgres_and_redis(postgres_url, redis_url,
                                                           tmp_path):
    secret = secrets.token_urlsafe(48)
    [tokens] = servers.seed(postgres_url, secret, 1, 30)
    inbox = Inbox()
    mail = smtp(inbox)
    env = servers.app_env(postgres_url, secret, AFTERCARE_REDIS_URL=redis_url,
                          AFTERCARE_TRUSTED_PROXIES="1",
                          AFTERCARE_MAIL=f"smtp://{HOST}:{mail.port}")
    workers = [servers.start_worker(env, tmp_path / f"worker{i}.log", "--interval", "0.3",
                                    "--batch", "4", "--lease", "5") for i in range(2)]
    try:
        with servers.gunicorn(env, tmp_path / "a.log", workers=1) as (_a, port_a), \
                servers.gunicorn(env, tmp_path / "b.log", workers=1) as (_b, port_b):
            eventually(lambda: len(inbox.messages) >= 30, what="30 invitations")
            time.sleep(1.5)  # a second sending would show up by now
            ids = Counter(inbox.message_ids())
            assert len(ids) == 30 and max(ids.values()) == 1
            assert sorted(r.rcpt_tos[0] for r in inbox.received) == sorted(
                {r.rcpt_tos[0] for r in inbox.received})
            links = [LINK.search(m.get_body(("plain",)).get_content()).group(1)
                     for m in inbox.messages]
            assert sorted(links) == sorted(tokens)

            async def answer_across():
                rng = random.Random(5)
                return await asyncio.gather(*(
                    participants.play(HOST, port_a if i % 2 else port_b, token, rng,
                                      address=participants.address_for(i),
                                      then_port=port_b if i % 2 else port_a)
                    for i, token in enumerate(links)))

            flows = participants.run(answer_across())
            assert all(f.thanked for f in flows), [f.statuses for f in flows]

            async def guess(port):
                return await participants.bad_request(HOST, port, "unknown", None,
                                                      address)

            address = f"203.0.113.{secrets.randbelow(250)}"
            misses = [participants.run(guess(port_a if i % 2 else port_b)) for i in range(10)]
            assert misses == [404] * 10
            assert participants.run(guess(port_a)) == 429  # counted across both processes
            assert participants.run(guess(port_b)) == 429

            engine = dbmod.make_engine(postgres_url)
            with engine.begin() as conn:
                conn.execute(update(Survey).values(
                    closes_at=datetime.now(UTC) - timedelta(seconds=1)))
            eventually(lambda: _status(engine) == "closed", what="the survey to close")
            with engine.connect() as conn:
                assert conn.scalar(select(Survey.respondents)) == 30
                assert conn.scalar(select(func.count()).select_from(Response)) == 30
                records = conn.scalar(text(
                    "SELECT count(*) FROM release_record WHERE subject LIKE 'survey:%'"))
                assert records <= 1
            engine.dispose()
    finally:
        codes = [w.stop() for w in workers]
        mail.stop()
    logs = [w.output() for w in workers]
    closed = sum(int(m) for log in logs for m in re.findall(r"closed (\d+)", log))
    assert closed == 1, logs
    assert codes == [0, 0]


def _status(engine) -> str:
    with engine.connect() as conn:
        return conn.scalar(select(Survey.status))


# --- kill -9 of app processes during a load ----------------------------------------------


def test_kill_app_workers_during_a_load(database_url, tmp_path):
    secret = secrets.token_urlsafe(48)
    [tokens] = servers.seed(database_url, secret, 1, 240)
    env = servers.app_env(database_url, secret, AFTERCARE_TRUSTED_PROXIES="1")
    with servers.gunicorn(env, tmp_path / "app.log", workers=3) as (master, port):
        stop = threading.Event()
        killed = []
        # Kills follow the load's progress, not the clock, so a fast machine sees them too:
        # one worker at each of these counts of spent links.
        at_spent = [30, 70, 110, 150]

        def killer():
            rng = random.Random(11)
            engine = dbmod.make_engine(database_url)
            try:
                while at_spent and not stop.wait(0.02):
                    spent = spent_count(engine)
                    children = master.children()
                    if spent < at_spent[0] or not children:
                        continue
                    try:
                        os.kill(rng.choice(children), signal.SIGKILL)
                        killed.append(spent)
                        at_spent.pop(0)
                    except ProcessLookupError:
                        pass
            finally:
                engine.dispose()

        thread = threading.Thread(target=killer)
        thread.start()
        try:
            flows, _ = participants.run(participants.closed_loop(HOST, port, tokens, 8,
                                                            timeout=20))
        finally:
            stop.set()
            thread.join()
        assert len(killed) >= 3
        assert not [s for f in flows for s in f.statuses if s >= 500]
        assert_every_thanked_answer_is_counted(database_url, flows)
        # the survey's close counts exactly the spent ballots
        from app import create_app
        from surveys.services import lifecycle

        app = create_app({"SECRET_KEY": secret, "DATABASE_URL": database_url})
        with dbmod.session_scope(app) as session:
            survey_id = session.scalar(select(Survey.id))
            survey = lifecycle.close_survey(session, survey_id, datetime.now(UTC))
            assert survey.respondents == counts(database_url)["responses"]
            assert survey.respondents >= sum(f.thanked for f in flows)
        dbmod.get_engine(app).dispose()


# --- the database away during a load -----------------------------------------------------


def _load_through(url: str, port: int, tokens: list[str], fault, timeout: float):
    """Play ``tokens`` while ``fault()`` runs in a thread once a sixth of them are spent
    (progress, not the clock, so the fault lands mid-load however fast the machine is)."""
    result = {}

    def run_fault():
        engine = dbmod.make_engine(url)
        try:
            deadline = time.monotonic() + 60
            while spent_count(engine) < len(tokens) // 6 and time.monotonic() < deadline:
                time.sleep(0.02)
        finally:
            engine.dispose()
        result["fault"] = fault()

    thread = threading.Thread(target=run_fault)
    thread.start()
    flows, _ = participants.run(participants.closed_loop(HOST, port, tokens, 8, timeout=timeout))
    thread.join()
    return flows


def _assert_outage_handled(flows, url):
    statuses = Counter(s for f in flows for s in f.statuses)
    assert 500 not in statuses and not [s for s in statuses if s > 503], statuses
    assert not [f.error for f in flows if f.error and "Timeout" in f.error]  # none hung
    assert statuses[503] > 0, statuses  # the outage was seen, and said so
    assert all(f.thanked for f in flows[-20:]), "did not recover without a restart"
    assert_every_thanked_answer_is_counted(url, flows)


@pytest.mark.postgres
def test_database_restart_during_load_postgres(tmp_path):
    """A private cluster (initdb on its own port), restarted while participants answer;
    the shared test server is not touched."""
    cluster = servers.PrivatePostgres().start()
    try:
        url = cluster.url
        secret = secrets.token_urlsafe(48)
        [tokens] = servers.seed(url, secret, 1, 400)
        env = servers.app_env(url, secret, AFTERCARE_TRUSTED_PROXIES="1")
        with servers.gunicorn(env, tmp_path / "app.log", workers=2) as (_p, port):
            flows = _load_through(url, port, tokens, cluster.restart, timeout=20)
        _assert_outage_handled(flows, url)
    finally:
        cluster.stop()


def test_database_locked_during_load_sqlite(tmp_path):
    """SQLite's outage: another process holds the write lock past the busy timeout."""
    url = f"sqlite:///{tmp_path / 'app.db'}"
    secret = secrets.token_urlsafe(48)
    [tokens] = servers.seed(url, secret, 1, 400)
    env = servers.app_env(url, secret, AFTERCARE_TRUSTED_PROXIES="1")

    def hold_the_lock():
        import sqlite3

        conn = sqlite3.connect(tmp_path / "app.db", isolation_level=None, timeout=30)
        conn.execute("BEGIN IMMEDIATE")
        time.sleep(dbmod.BUSY_TIMEOUT_S + 3)
        conn.execute("ROLLBACK")
        conn.close()

    with servers.gunicorn(env, tmp_path / "app.log", workers=2) as (_p, port):
        flows = _load_through(url, port, tokens, hold_the_lock, timeout=40)
    _assert_outage_handled(flows, url)


# --- a worker killed while sending; the mail server down then up -------------------------


class StallAt(Inbox):
    """Accepts messages until the ``n``-th recipient, then stalls (never answers it)."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n
        self.seen = 0
        self.stalled = threading.Event()
        self.release = asyncio.Event()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        self.seen += 1
        if self.seen == self.n:
            self.stalled.set()
            await self.release.wait()
            return "451 4.3.0 try again"
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)


def test_worker_killed_while_sending_loses_and_repeats_nothing(database_url, tmp_path):
    secret = secrets.token_urlsafe(48)
    [tokens] = servers.seed(database_url, secret, 1, 40)
    inbox = StallAt(17)
    mail = smtp(inbox)
    env = servers.app_env(database_url, secret, AFTERCARE_MAIL=f"smtp://{HOST}:{mail.port}")
    args = ("--interval", "0.3", "--batch", "25", "--lease", "3")
    first = servers.start_worker(env, tmp_path / "first.log", *args)
    try:
        assert inbox.stalled.wait(60), first.output()
        first.kill()  # kill -9, in the middle of its batch
        assert len(inbox.received) == 16
        mail.loop.call_soon_threadsafe(inbox.release.set)
        second = servers.start_worker(env, tmp_path / "second.log", *args)
        try:
            eventually(lambda: len(inbox.received) >= 40, what="every invitation")
            time.sleep(2 * 0.3 + 1)  # a repeat would arrive by now
        finally:
            assert second.stop() == 0
    finally:
        first.kill()
        mail.stop()
    ids = Counter(inbox.message_ids())
    assert len(ids) == 40 and max(ids.values()) == 1
    assert len({r.rcpt_tos[0] for r in inbox.received}) == 40


def test_mail_server_down_then_up_delivers_each_invitation_once(database_url, tmp_path):
    secret = secrets.token_urlsafe(48)
    servers.seed(database_url, secret, 1, 25)
    port = free_port()
    env = servers.app_env(database_url, secret, AFTERCARE_MAIL=f"smtp://{HOST}:{port}")
    worker = servers.start_worker(env, tmp_path / "worker.log", "--interval", "0.3")
    inbox = Inbox()
    mail = None
    try:
        eventually(lambda: worker.output().count("waiting for the mail server 25") >= 3,
                   what="three passes with the mail server down")
        mail = smtp(inbox, port=port)
        eventually(lambda: len(inbox.received) >= 25, what="every invitation")
        time.sleep(1.5)
    finally:
        code = worker.stop()
        if mail is not None:
            mail.stop()
    ids = Counter(inbox.message_ids())
    assert len(ids) == 25 and max(ids.values()) == 1
    assert code == 0
