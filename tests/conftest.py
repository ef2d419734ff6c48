"""Fixtures: a fresh database per test (SQLite file, or PostgreSQL when asked), the app,
its client and CLI runner, and small helpers that act like the people who use Aftercare."""

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
from smtp_support import start_server  # noqa: F401  (fixture: a scripted SMTP server)
from support import NOW, SECRET, Org, build_org
from surveys import db as dbmod
from surveys.config import Settings
from surveys.tokens import TokenBox

POSTGRES_URL = os.environ.get("AFTERCARE_TEST_POSTGRES_URL")
REDIS_URL = os.environ.get("AFTERCARE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def pytest_collection_modifyitems(config, items):
    """In CI the PostgreSQL tests must run: a missing URL is a failure, not a skip."""
    if POSTGRES_URL:
        return
    in_ci = os.environ.get("CI") == "true"
    for item in items:
        if "postgres" in item.keywords:
            if in_ci:
                item.add_marker(pytest.mark.xfail(
                    reason="AFTERCARE_TEST_POSTGRES_URL must be set in CI", strict=True,
                    run=False))
            else:
                item.add_marker(pytest.mark.skip(
                    reason="set AFTERCARE_TEST_POSTGRES_URL to run against PostgreSQL"))


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch):
    """Argon2 with small parameters: the same code path, a fraction of the time."""
    from argon2 import PasswordHasher

    from surveys.services import auth as auth_service

    monkeypatch.setattr(auth_service, "_hasher",
                        PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'aftercare.db'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh schema in the PostgreSQL test database, dropped afterwards."""
    with postgres_schema() as url:
        yield url


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


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request, tmp_path) -> str:
    """A fresh database URL, once on SQLite and once on PostgreSQL (not migrated)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'aftercare.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def redis_url() -> str:
    """Redis must be reachable in CI; locally the test is skipped when it is not."""
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.exceptions.RedisError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis at {REDIS_URL} is not reachable in CI: {exc}")
        pytest.skip(f"Redis at {REDIS_URL} is not reachable")
    return REDIS_URL


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


@pytest.fixture
def app(sqlite_url):
    app = make_app(sqlite_url)
    yield app
    dbmod.get_engine(app).dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def db(app):
    with dbmod.session_scope(app) as session:
        yield session


@pytest.fixture
def box() -> TokenBox:
    return TokenBox(SECRET)


@pytest.fixture
def settings(app) -> Settings:
    return app.extensions["aftercare.settings"]


@pytest.fixture
def org(db) -> Org:
    return build_org(db)


