"""Engine, session and the declarative base, bound to the app with ``init_app``.

SQLite is the embedded default. Reads begin a deferred transaction; every use case that
writes calls :func:`begin_write` first, which starts ``BEGIN IMMEDIATE`` so that two writers
queue on the busy timeout instead of failing on a lock upgrade. ``secure_delete`` is on so
purged ballots and staging rows are overwritten in the file, and WAL keeps readers going
while a writer works. PostgreSQL is used as it comes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask, g
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker


class Base(DeclarativeBase):
    pass


def make_engine(url: str) -> Engine:
    """Create an engine for ``url`` with the pragmas the anonymity model relies on."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        _configure_sqlite(engine)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        url = str(parsed.set(drivername="postgresql+psycopg"))
    return create_engine(url, pool_pre_ping=True)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # pragma: no cover - exercised by every test
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")  # durable at checkpoints; safe with WAL
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        write = connection.get_execution_options().get(_WRITE_OPTION)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


_WRITE_OPTION = "aftercare_write"


def begin_write(session: Session) -> None:
    """Start the transaction of a use case that writes.

    On SQLite this takes the write lock up front (``BEGIN IMMEDIATE``); whatever the session
    read before is dropped, since nothing may have been written yet. Elsewhere it does
    nothing: PostgreSQL's row locks do the queueing.
    """
    if session.get_bind().dialect.name != "sqlite":
        return
    if session.in_transaction():
        if session.new or session.dirty or session.deleted:
            raise RuntimeError("begin_write after changes: call it first in the use case")
        session.rollback()
    session.connection(execution_options={_WRITE_OPTION: True})


def is_sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def after_purge(engine: Engine, wait_ms: int = 2000) -> bool:
    """Make purged rows unrecoverable from the files: checkpoint the WAL, vacuum on PostgreSQL.

    SQLite's secure_delete zeroes freed pages in the database file, but in WAL mode the old
    page images stay in the ``-wal`` file until a checkpoint truncates it. A truncating
    checkpoint must wait for readers still on an older snapshot; it waits at most
    ``wait_ms`` and returns False if a reader held on, in which case the next call (every
    ``surveys tick`` makes one) finishes the job. PostgreSQL keeps deleted tuples in the heap
    until VACUUM, which cannot run inside a transaction.
    """
    if engine.dialect.name == "sqlite":
        raw = engine.raw_connection()  # outside any BEGIN: a checkpoint cannot run in one
        try:
            cursor = raw.cursor()
            cursor.execute(f"PRAGMA busy_timeout={int(wait_ms)}")
            busy, _log, _done = cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()
        finally:
            raw.close()
        return busy == 0
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM staged_answer, staged_comment, ballot"))
    return True


def init_app(app: Flask) -> None:
    engine = make_engine(app.config["DATABASE_URL"])
    app.extensions["aftercare.engine"] = engine
    app.extensions["aftercare.sessionmaker"] = sessionmaker(engine, expire_on_commit=False)
    app.teardown_appcontext(_close_session)


def get_engine(app: Flask) -> Engine:
    return app.extensions["aftercare.engine"]


def get_session() -> Session:
    """The request's (or CLI command's) session, created on first use."""
    from flask import current_app

    if "db_session" not in g:
        g.db_session = current_app.extensions["aftercare.sessionmaker"]()
    return g.db_session


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


@contextmanager
def session_scope(app: Flask) -> Iterator[Session]:
    """A standalone session outside a request (CLI, worker, tests)."""
    session = app.extensions["aftercare.sessionmaker"]()
    try:
        yield session
    finally:
        session.close()


def create_all(engine: Engine) -> None:
    from surveys import models  # noqa: F401  (registers the tables)

    Base.metadata.create_all(engine)
