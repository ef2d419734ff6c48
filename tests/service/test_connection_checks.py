"""Pooled PostgreSQL connections are checked before use only after waiting in the pool
(surveys.db._ping_when_idle): none of the per-request ping round trips under load, and a
connection whose server went away is still replaced before a request gets it."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from surveys import db as dbmod

pytestmark = pytest.mark.postgres


@pytest.fixture
def counted_pings(postgres_url, monkeypatch):
    engine = dbmod.make_engine(postgres_url)
    pings: list[int] = []
    ping = engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping",
                        lambda connection: pings.append(1) or ping(connection))
    yield engine, pings
    engine.dispose()


def test_a_connection_just_used_is_not_pinged(counted_pings):
    engine, pings = counted_pings
    for _ in range(5):
        with engine.connect() as connection:
            assert connection.execute(text("SELECT 1")).scalar() == 1
    assert pings == []


def test_a_connection_that_waited_is_pinged(counted_pings, monkeypatch):
    engine, pings = counted_pings
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    monkeypatch.setattr(dbmod, "PING_AFTER_IDLE_S", 0.0)
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    assert pings == [1]


def test_a_connection_whose_server_went_away_is_replaced_before_use(counted_pings, postgres_url,
                                                                    monkeypatch):
    engine, pings = counted_pings
    with engine.connect() as connection:
        pid = connection.execute(text("SELECT pg_backend_pid()")).scalar()
    admin = create_engine(dbmod.make_engine(postgres_url).url)
    try:
        with admin.begin() as connection:
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        admin.dispose()
    monkeypatch.setattr(dbmod, "PING_AFTER_IDLE_S", 0.0)
    with engine.connect() as connection:  # the ping finds it dead; the pool connects afresh
        assert connection.execute(text("SELECT pg_backend_pid()")).scalar() != pid
    assert pings  # (the fresh connection is pinged too: any wait counts here)
