"""Ten identical POST /api/v1/incidents at once: one 201, nine 200, one incident, no
invitation twice. On SQLite and on PostgreSQL (unique constraints + retry, no
load-check-insert race)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from support import build_org
from support.api import Api, incident, make_key
from support.app import make_app
from surveys import db as dbmod
from surveys.models import Ballot, Incident, Invitation, OutboxMessage, Person, Survey

PEOPLE = [f"payments{i}@example.org" for i in range(4)] + [f"new{i}@example.org"
                                                            for i in range(3)]


def race(app, bodies) -> list:
    created = make_key(app)
    barrier = threading.Barrier(len(bodies))
    responses: list = [None] * len(bodies)

    def send(i: int) -> None:
        api = Api(app.test_client(), created)
        barrier.wait()
        responses[i] = api.post("/api/v1/incidents", bodies[i])

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return responses


def counts(app) -> dict[str, int]:
    with dbmod.session_scope(app) as session:
        return {model.__name__: session.scalar(select(func.count()).select_from(model))
                for model in (Incident, Survey, Invitation, Ballot, OutboxMessage, Person)}


def check_identical_race(app) -> None:
    with dbmod.session_scope(app) as session:
        build_org(session)
    responses = race(app, [incident(participants=PEOPLE)] * 10)
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 9 + [201], [r.get_data(True)[:200] for r in responses]
    assert len({(r.json["incident_id"], r.json["survey_id"]) for r in responses}) == 1
    found = counts(app)
    assert found["Incident"] == 1 and found["Survey"] == 1
    assert found["Invitation"] == 7 and found["Ballot"] == 7 and found["OutboxMessage"] == 7
    assert found["Person"] == 24 + 3
    invited = [p for r in responses for p in r.json["participants"] if p["status"] == "invited"]
    assert len(invited) == 7


def check_overlapping_race(app) -> None:
    """Before opening, ten requests with growing lists: everyone invited exactly once."""
    with dbmod.session_scope(app) as session:
        build_org(session)
    bodies = [incident(open_delay="24h", participants=PEOPLE[: 2 + i % 6]) for i in range(10)]
    responses = race(app, bodies)
    assert sorted(r.status_code for r in responses) == [200] * 9 + [201]
    found = counts(app)
    assert found["Incident"] == 1 and found["Invitation"] == 7 and found["Ballot"] == 0


@pytest.mark.parametrize("check", [check_identical_race, check_overlapping_race])
def test_concurrent_intake_on_sqlite(sqlite_url, check):
    app = make_app(sqlite_url)
    try:
        check(app)
    finally:
        dbmod.get_engine(app).dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("check", [check_identical_race, check_overlapping_race])
def test_concurrent_intake_on_postgres(postgres_url, check):
    app = make_app(postgres_url)
    try:
        check(app)
    finally:
        dbmod.get_engine(app).dispose()
