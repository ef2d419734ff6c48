"""The application as the tests build it: a fresh database per test (a copy of a SQLite file
migrated once per session, or a schema of its own on PostgreSQL), and the app on it."""

from __future__ import annotations

import atexit
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app import create_app
from support import NOW, SECRET
from surveys import db as dbmod

POSTGRES_URL = os.environ.get("AFTERCARE_TEST_POSTGRES_URL")


def _redis_url_of_this_worker(url: str) -> str:
    """The suite runs in parallel processes (pytest-xdist): each uses a Redis database of
    its own (15, 14, ... for gw0, gw1, ...), so no test sees another process's counters.
    PostgreSQL needs nothing of the kind: every test has a schema of its own."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    base, _, number = url.rpartition("/")
    if not worker.startswith("gw") or not number.isdigit():
        return url
    return f"{base}/{(int(number) - int(worker[2:])) % 16}"


REDIS_URL = _redis_url_of_this_worker(
    os.environ.get("AFTERCARE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15"))


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A fresh schema in the PostgreSQL test database, dropped afterwards (for tests that
    need several, such as one per generated example)."""
    if not POSTGRES_URL:
        pytest.skip("AFTERCARE_TEST_POSTGRES_URL is not set")
    schema = "t_" + secrets.token_hex(6)
    admin_engine = create_engine(dbmod.make_engine(POSTGRES_URL).url)
    with admin_engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin_engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin_engine.dispose()


_TEMPLATE: dict[str, Path] = {}


def migrated_sqlite_template() -> Path:
    """A SQLite file migrated to the newest revision once per test session; each test's
    database starts as a copy of it (a file copy instead of running every migration)."""
    if "path" not in _TEMPLATE:
        folder = Path(tempfile.mkdtemp(prefix="aftercare-template-"))
        atexit.register(shutil.rmtree, folder, True)
        path = folder / "template.db"
        engine = dbmod.make_engine(f"sqlite:///{path}")
        try:
            dbmod.upgrade(engine)
            with engine.connect() as connection:  # everything in the main file, no -wal
                connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            engine.dispose()
        _TEMPLATE["path"] = path
    return _TEMPLATE["path"]


def migrate(database_url: str) -> None:
    """Bring a test database to the newest revision, the way `db upgrade` does: a new
    SQLite file is copied from the migrated template, anything else is migrated."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        target = Path(url.database)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(migrated_sqlite_template(), target)
            return
    engine = dbmod.make_engine(database_url)
    try:
        dbmod.upgrade(engine)
    finally:
        engine.dispose()


def make_app(database_url: str, **config):
    migrate(database_url)
    return create_app({
        "TESTING": True,
        "SECRET_KEY": SECRET,
        "DATABASE_URL": database_url,
        "AFTERCARE_NOW": NOW,
        "AFTERCARE_OPEN_DELAY": "0",
        **config,
    })
