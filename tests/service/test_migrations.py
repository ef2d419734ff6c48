"""Migrations: `db upgrade` creates and upgrades; data survives every revision; the models
and the migrations agree; the newest revision goes down and up again; and no revision ever
gives an answer table a time, address or link column.

These compare the models at HEAD with the migrations at HEAD, so a change to a model without
a revision (or a revision that does not match its model) fails here.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    inspect,
    select,
)

from analysis import items
from app import create_app
from support import SECRET
from surveys import db as dbmod

ANSWER_TABLES = ("staged_answer", "staged_comment", "response", "comment")
ALLOWED_ANSWER_COLUMNS = {"id", "survey_id", "team_id", "involvement", "body",
                          *items.ANSWER_IDS}
FORBIDDEN_WORDS = ("time", "_at", "date", "ip", "addr", "agent", "token", "ballot", "session",
                   "invitation", "person", "email")


def revisions() -> list[str]:
    """Every revision, oldest first."""
    script = ScriptDirectory.from_config(dbmod.alembic_config())
    return [r.revision for r in reversed(list(script.walk_revisions()))]


@pytest.fixture
def engine(database_url):
    engine = dbmod.make_engine(database_url)
    yield engine
    engine.dispose()


def sample_value(column, row: int):
    """A value of the column's type, distinct per row for unique columns."""
    kind = column.type
    if isinstance(kind, Boolean):
        return True
    if isinstance(kind, Integer):
        return row
    if isinstance(kind, DateTime):
        return datetime(2026, 1, row)
    if isinstance(kind, Date):
        return date(2026, 1, row)
    if isinstance(kind, LargeBinary):
        return bytes([row]) * 8
    if isinstance(kind, Text):
        return f"text {row}"
    if isinstance(kind, String):
        length = kind.length or 32
        return f"v{row}-{column.name}"[:length]
    raise AssertionError(f"no sample for {column.table.name}.{column.name} ({kind!r})")


def fill_every_table(engine, rows: int = 2) -> dict[str, list[dict]]:
    """Insert ``rows`` rows into every table as it is now (reflected), foreign keys pointing
    at rows inserted before. Returns what was inserted, per table."""
    reflected = MetaData()
    reflected.reflect(engine)
    inserted: dict[str, list[dict]] = {}
    with engine.begin() as connection:
        for table in reflected.sorted_tables:
            if table.name == "alembic_version":
                continue
            values = []
            for row in range(1, rows + 1):
                record = {}
                for column in table.columns:
                    target = next(iter(column.foreign_keys), None)
                    if target is not None and target.column.table.name != table.name:
                        record[column.name] = inserted[target.column.table.name][row - 1][
                            target.column.name]
                    elif target is not None:  # a self reference (team.parent_id)
                        record[column.name] = None
                    else:
                        record[column.name] = sample_value(column, row)
                values.append(record)
            connection.execute(table.insert(), values)
            inserted[table.name] = values
    return inserted


def assert_still_there(engine, inserted: dict[str, list[dict]]) -> None:
    reflected = MetaData()
    reflected.reflect(engine)
    with engine.connect() as connection:
        for name, rows in inserted.items():
            if name not in reflected.tables:
                continue  # the revision dropped the table on purpose (downgrade)
            table = reflected.tables[name]
            kept = [c for c in rows[0] if c in table.columns]
            found = {tuple(r) for r in connection.execute(
                select(*[table.c[c] for c in kept]))}
            assert found == {tuple(row[c] for c in kept) for row in rows}, name


def test_one_line_of_revisions_starting_at_the_baseline():
    script = ScriptDirectory.from_config(dbmod.alembic_config())
    assert len(script.get_heads()) == 1, "two revisions share a parent: renumber the newer"
    assert revisions()[0] == dbmod.BASELINE
    assert dbmod.head_revision() == revisions()[-1]


def test_db_upgrade_creates_then_has_nothing_to_do(tmp_path):
    app = create_app({"TESTING": True, "SECRET_KEY": SECRET,
                      "DATABASE_URL": f"sqlite:///{tmp_path / 'new.db'}"})
    runner = app.test_cli_runner()
    first = runner.invoke(args=["db", "upgrade"])
    assert first.exit_code == 0, first.output
    assert f"from empty to revision {dbmod.head_revision()}" in first.output
    again = runner.invoke(args=["db", "upgrade"])
    assert again.exit_code == 0 and "nothing to do" in again.output
    current = runner.invoke(args=["db", "current"])
    assert "up to date" in current.output
    check = runner.invoke(args=["db", "check"])
    assert check.exit_code == 0 and "agree" in check.output
    assert "init-db" not in runner.invoke(args=["--help"]).output
    dbmod.get_engine(app).dispose()


def test_a_database_made_before_migrations_is_adopted(engine):
    """The old `init-db` made the baseline's tables without a version: `db upgrade` marks
    it as the baseline and upgrades it, keeping its rows."""
    dbmod.upgrade(engine, dbmod.BASELINE)
    inserted = fill_every_table(engine)
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE alembic_version")
    before, after = dbmod.upgrade(engine)
    assert (before, after) == (dbmod.BASELINE, dbmod.head_revision())
    assert_still_there(engine, inserted)


def test_upgrade_from_the_first_revision_keeps_every_row(engine):
    """Every revision in turn, with rows in every table from the start; after each step the
    answer tables still carry nothing but answers."""
    dbmod.upgrade(engine, revisions()[0])
    inserted = fill_every_table(engine)
    for revision in revisions():
        dbmod.upgrade(engine, revision)
        assert_still_there(engine, inserted)
        assert_answer_tables_clean(engine, revision)
    with engine.connect() as connection:
        assert dbmod.current_revision(connection) == dbmod.head_revision()


def assert_answer_tables_clean(engine, revision: str) -> None:
    live = inspect(engine)
    for name in ANSWER_TABLES:
        columns = {c["name"]: c for c in live.get_columns(name)}
        assert set(columns) <= ALLOWED_ANSWER_COLUMNS, (revision, name)
        assert not [c for c in columns.values() if isinstance(c["type"], DateTime)], name
        assert not [c for c in columns if c not in ALLOWED_ANSWER_COLUMNS
                    and any(word in c for word in FORBIDDEN_WORDS)], name
        targets = {fk["referred_table"] for fk in live.get_foreign_keys(name)}
        assert targets <= {"survey", "team"}, (revision, name)


def test_models_and_migrations_agree(engine):
    assert dbmod.differences(engine) == []


def test_models_and_migrations_agree_on_a_scratch_database():
    """What `db check` and `db revision` compare against."""
    assert dbmod.differences() == []


def test_newest_revision_goes_down_and_up_again(engine):
    dbmod.upgrade(engine)
    inserted = fill_every_table(engine)
    steps = revisions()
    reached = dbmod.downgrade(engine, "-1")
    assert reached == (steps[-2] if len(steps) > 1 else None)
    assert_still_there(engine, inserted)
    dbmod.upgrade(engine)
    assert dbmod.differences(engine) == []


def test_online_backup_of_sqlite_while_writing(tmp_path):
    """`db backup` copies a live SQLite database consistently, the app still writing."""
    import threading

    from support import build_org
    from support.app import make_app

    app = make_app(f"sqlite:///{tmp_path / 'live.db'}")
    engine = dbmod.get_engine(app)
    with dbmod.session_scope(app) as session:
        build_org(session)
    stop = threading.Event()

    def writer():
        from surveys.services import admin

        with dbmod.session_scope(app) as session:
            i = 0
            while not stop.is_set():
                admin.add_team(session, f"t{i}", f"Team {i}")
                i += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        result = app.test_cli_runner().invoke(args=["db", "backup", str(tmp_path / "b.db")])
    finally:
        stop.set()
        thread.join(30)
    assert result.exit_code == 0, result.output
    assert "secret key is not in it" in result.output
    copy = dbmod.make_engine(f"sqlite:///{tmp_path / 'b.db'}")
    with copy.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
        assert dbmod.current_revision(connection) == dbmod.head_revision()
        assert connection.exec_driver_sql(
            "SELECT count(*) FROM person").scalar() == 24
    assert dbmod.differences(copy) == []
    again = app.test_cli_runner().invoke(args=["db", "backup", str(tmp_path / "b.db")])
    assert again.exit_code != 0 and "exists" in again.output
    copy.dispose()
    engine.dispose()


def test_db_revision_writes_the_next_numbered_revision(tmp_path, monkeypatch):
    """`db revision` on a copy of migrations/: numbered after the newest, generated from
    the models (which agree with the migrations, so it has nothing to do yet)."""
    import shutil

    copy = tmp_path / "migrations"
    shutil.copytree(dbmod.MIGRATIONS, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(dbmod, "MIGRATIONS", copy)
    newest = dbmod.head_revision()
    path = dbmod.new_revision("record the weather")
    expected = f"{int(newest) + 1:04d}"
    assert path.name == f"{expected}_record_the_weather.py"
    source = path.read_text()
    assert f"down_revision = {newest!r}" in source and "from surveys" not in source
    assert dbmod.head_revision() == expected
