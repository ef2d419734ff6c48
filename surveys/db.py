"""Engine, session and the declarative base, bound to the app with ``init_app``.

SQLite is the embedded default. Reads begin a deferred transaction; every use case that
writes calls :func:`begin_write` first, which starts ``BEGIN IMMEDIATE`` so that two writers
queue on the busy timeout instead of failing on a lock upgrade. ``secure_delete`` is on so
purged ballots and staging rows are overwritten in the file, and WAL keeps readers going
while a writer works. PostgreSQL is used as it comes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask, g
from sqlalchemy import Connection, Engine, MetaData, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)


def make_engine(url: str, pool_size: int = 5) -> Engine:
    """Create an engine for ``url`` with the pragmas the anonymity model relies on;
    ``pool_size`` connections are kept (one per serving thread: ``AFTERCARE_DB_POOL_SIZE``,
    which gunicorn.conf.py sets from its thread count)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, pool_size=pool_size,
                               connect_args={"timeout": BUSY_TIMEOUT_S,
                                             "check_same_thread": False})
        _configure_sqlite(engine)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        url = str(parsed.set(drivername="postgresql+psycopg"))
    # A server that is down refuses within CONNECT_TIMEOUT_S, so a request fails fast with a
    # 503 instead of hanging until the web server's timeout; a dead pooled connection (the
    # server restarted) is noticed before use and replaced (see _ping_when_idle).
    connect_args = {"connect_timeout": CONNECT_TIMEOUT_S} if parsed.get_backend_name() == (
        "postgresql") else {}
    engine = create_engine(url, pool_size=pool_size, pool_timeout=CONNECT_TIMEOUT_S,
                           connect_args=connect_args)
    _ping_when_idle(engine)
    return engine


# A pooled connection unused for this long is pinged before use.
PING_AFTER_IDLE_S = 1.0
_LAST_USED = "aftercare_last_used"


def _ping_when_idle(engine: Engine) -> None:
    """Check a pooled connection before use (a ``SELECT 1``, replacing it if the server has
    gone away), unless it was in use less than ``PING_AFTER_IDLE_S`` ago.

    SQLAlchemy's ``pool_pre_ping`` pings on every checkout: one more round trip for every
    request, a fifth of a participant's on PostgreSQL. Under load a connection is back in
    use within milliseconds and was just seen working, so it goes unpinged; a connection
    that has waited (where a restart or failover usually hides) is pinged as before. If the
    server goes away in the very second after a connection's last use, the request on it
    fails with a 503 as any request during the outage does, and SQLAlchemy then replaces
    every connection of the pool.
    """

    @event.listens_for(engine, "connect")
    @event.listens_for(engine, "checkin")
    def _just_used(_dbapi_connection, record):
        record.info[_LAST_USED] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_connection, record, _proxy):
        last = record.info.get(_LAST_USED)
        if last is not None and time.monotonic() - last < PING_AFTER_IDLE_S:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            if engine.dialect.is_disconnect(exc, dbapi_connection, None):
                record.info.pop(_LAST_USED, None)
                raise DisconnectionError() from exc  # the pool connects afresh
            raise


# How long a writer waits for SQLite's write lock, and a connection for PostgreSQL: both
# well under gunicorn's request timeout (gunicorn.conf.py), so that a request waiting on the
# database gets its 503 rather than a killed worker.
BUSY_TIMEOUT_S = 10
CONNECT_TIMEOUT_S = 5


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # pragma: no cover - exercised by every test
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_S * 1000}")
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


PURGED_TABLES = ("staged_answer", "staged_comment", "ballot")


def after_purge(engine: Engine, wait_ms: int = 2000,
                tables: tuple[str, ...] = PURGED_TABLES) -> bool:
    """Make purged rows unrecoverable from the files: checkpoint the WAL, vacuum on PostgreSQL.

    SQLite's secure_delete zeroes freed pages in the database file, but in WAL mode the old
    page images stay in the ``-wal`` file until a checkpoint truncates it. A truncating
    checkpoint must wait for readers still on an older snapshot; it waits at most
    ``wait_ms`` and returns False if a reader held on, in which case the next call (every
    ``surveys tick`` makes one) finishes the job. PostgreSQL keeps deleted tuples in the heap
    until VACUUM (of ``tables``), which cannot run inside a transaction.
    """
    if engine.dialect.name == "sqlite":
        raw = engine.raw_connection()  # outside any BEGIN: a checkpoint cannot run in one
        try:
            cursor = raw.cursor()
            cursor.execute(f"PRAGMA busy_timeout={int(wait_ms)}")
            busy, _log, _done = cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_S * 1000}")
            cursor.close()
        finally:
            raw.close()
        return busy == 0
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM " + ", ".join(t for t in tables if t.isidentifier())))
    return True


def init_app(app: Flask) -> None:
    from surveys.config import parse_pool_size

    engine = make_engine(app.config["DATABASE_URL"],
                         parse_pool_size(app.config.get("AFTERCARE_DB_POOL_SIZE")))
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
        close_quietly(session)


def discard_session() -> None:
    """Drop the request's session now (after a database error), so that nothing later in
    the request touches its dead connection; the next use makes a fresh one."""
    session = g.pop("db_session", None)
    if session is not None:
        close_quietly(session)


def close_quietly(session: Session) -> None:
    """Close a session whose connection may be dead (the database restarted under it).

    Closing rolls back; on a dead connection that raises, which must not turn a finished
    request into a server error: the connection is invalidated instead, and the pool opens
    a new one on next use.
    """
    try:
        session.close()
    except DBAPIError as exc:
        log.warning("database connection lost while closing a session (%s); discarded",
                    type(exc.orig).__name__)
        try:
            session.invalidate()
        except DBAPIError:  # pragma: no cover - nothing more to release
            pass


@contextmanager
def session_scope(app: Flask) -> Iterator[Session]:
    """A standalone session outside a request (CLI, worker, tests)."""
    session = app.extensions["aftercare.sessionmaker"]()
    try:
        yield session
    finally:
        close_quietly(session)


def metadata() -> MetaData:
    """Every table of the application."""
    from surveys.models import Base

    return Base.metadata


# --- migrations (Alembic; revisions in migrations/versions, see docs/operations.md) -------

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
# The first revision: the schema as ``create_all`` made it before migrations existed.
BASELINE = "0001"
_VERSION_TABLE = "alembic_version"
_MIGRATION_LOCK = 0x4166_7465_7200  # PostgreSQL advisory lock key, any fixed number


def alembic_config(connection: Connection | None = None):
    """An Alembic configuration for ``migrations/``; with ``connection``, env.py migrates
    over it (otherwise over the engine of a freshly created app)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision in ``migrations/versions`` (one head, or an error naming them)."""
    from alembic.script import ScriptDirectory

    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"migrations have {len(heads)} heads ({', '.join(sorted(heads))}): "
                           "give the newer revision the other one as down_revision")
    return heads[0]


def current_revision(connection: Connection) -> str | None:
    """The revision a database is at; None for an empty one (or one made by create_all)."""
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


@contextmanager
def _migrating(engine: Engine) -> Iterator[Connection]:
    """A connection in one transaction for Alembic.

    On SQLite, foreign keys are off while migrating (a batch migration copies a table,
    drops it and renames the copy, which must not cascade or fail), and checked after.
    The pragma is ignored inside a transaction, so it is set before the BEGIN.
    """
    with engine.connect() as connection:
        sqlite = engine.dialect.name == "sqlite"
        if sqlite:
            connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
        try:
            with connection.begin():
                if engine.dialect.name == "postgresql":  # one migrator at a time
                    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                                       {"key": _MIGRATION_LOCK})
                yield connection
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").first()
                    if broken is not None:
                        raise RuntimeError(f"migration left a broken foreign key in {broken[0]}")
        finally:
            if sqlite:
                connection.connection.driver_connection.execute("PRAGMA foreign_keys=ON")


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str]:
    """Create or upgrade the database to ``revision``; return (before, after).

    A database made by ``create_all`` before migrations existed has the tables but no
    version: it is marked as the baseline revision first, then upgraded like any other.
    """
    from alembic import command

    with _migrating(engine) as connection:
        before = current_revision(connection)
        if before is None and inspect(connection).has_table("survey"):
            command.stamp(alembic_config(connection), BASELINE)
            before = BASELINE
        command.upgrade(alembic_config(connection), revision)
        after = current_revision(connection) or ""
    return before, after


def downgrade(engine: Engine, revision: str) -> str | None:
    """Downgrade to ``revision`` (``"-1"``: one step); return the revision reached."""
    from alembic import command

    with _migrating(engine) as connection:
        command.downgrade(alembic_config(connection), revision)
        return current_revision(connection)


def differences(engine: Engine | None = None) -> list[str]:
    """What autogenerate would change: the models compared with a database at the newest
    revision (``engine``, or a scratch SQLite database migrated for the purpose). Empty when
    models and migrations agree."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    with _scratch(engine) as target:
        upgrade(target)
        with target.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return [repr(diff) for diff in compare_metadata(context, metadata())]


def new_revision(message: str, autogenerate: bool = True) -> Path:
    """Write the next revision (``0002``, ``0003``, ...) after the newest one, generated
    from the models against a scratch database at the newest revision."""
    from alembic import command

    number = int(head_revision()) + 1
    with _scratch(None) as target:
        upgrade(target)
        with target.connect() as connection:
            script = command.revision(alembic_config(connection), message=message,
                                      autogenerate=autogenerate, rev_id=f"{number:04d}")
    return Path(script.path)  # type: ignore[union-attr]


@contextmanager
def _scratch(engine: Engine | None) -> Iterator[Engine]:
    if engine is not None:
        yield engine
        return
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        scratch = make_engine(f"sqlite:///{Path(folder) / 'scratch.db'}")
        try:
            yield scratch
        finally:
            scratch.dispose()


def backup_sqlite(engine: Engine, target: Path) -> int:
    """Copy a live SQLite database to ``target`` with SQLite's online backup (consistent
    while the app and the worker keep writing); return the number of pages copied.

    The copy is checkpointed into one file (no ``-wal``) and keeps ``secure_delete``'s
    zeroed pages: it holds what the live database holds, nothing purged.
    """
    import sqlite3

    if engine.dialect.name != "sqlite":
        raise ValueError("online backup here is for SQLite; use pg_dump for PostgreSQL "
                         "(docs/operations.md)")
    if target.exists():
        raise FileExistsError(f"{target} exists; choose a new file")
    target.parent.mkdir(parents=True, exist_ok=True)
    raw = engine.raw_connection()
    try:
        source = raw.driver_connection
        copy = sqlite3.connect(target)
        try:
            source.backup(copy, pages=256)
            pages = copy.execute("PRAGMA page_count").fetchone()[0]
            copy.execute("PRAGMA journal_mode=DELETE")
        finally:
            copy.close()
    finally:
        raw.close()
    target.chmod(0o600)
    return int(pages)


def drop_everything(engine: Engine) -> None:
    """Drop every table of the application and the migration version (``demo --reset``)."""
    metadata().drop_all(engine)
    with engine.begin() as connection:
        connection.execute(text(f"DROP TABLE IF EXISTS {_VERSION_TABLE}"))
