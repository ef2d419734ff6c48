"""The storage promise, checked on the stored data itself.

* No column or row links a response (or comment) to an invitation or a person, and none
  records a time finer than the survey.
* After close, a copy of the database cannot tell who answered: responders and
  non-responders leave identical traces, and no token or token hash remains in the files.
* Submission order cannot be recovered from any column or from physical order.
"""

from __future__ import annotations

import shutil
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from scipy.stats import kendalltau
from sqlalchemy import DateTime, inspect, select, text

from analysis import items
from support import ANSWERS, NOW, answer, build_org, open_survey
from support.app import make_app
from surveys import db as dbmod
from surveys.models import Base, Invitation, Person
from surveys.services import lifecycle
from surveys.tokens import hash_token

ANSWER_TABLES = ("staged_answer", "staged_comment", "response", "comment")
ALLOWED_COLUMNS = {"id", "survey_id", "team_id", "involvement", "body", *items.ANSWER_IDS}


def test_answer_tables_have_no_linking_or_time_columns(app):
    for name in ANSWER_TABLES:
        table = Base.metadata.tables[name]
        assert set(table.columns.keys()) <= ALLOWED_COLUMNS, name
        assert not [c for c in table.columns if isinstance(c.type, DateTime)], name
        targets = {fk.column.table.name for fk in table.foreign_keys}
        assert targets <= {"survey", "team"}, name
    # and the invitation/ballot pair share no key either way
    for a, b in (("invitation", "ballot"), ("ballot", "invitation")):
        assert b not in {fk.column.table.name for fk in Base.metadata.tables[a].foreign_keys}
    live = inspect(dbmod.get_engine(app))
    for name in ANSWER_TABLES:
        assert {c["name"] for c in live.get_columns(name)} <= ALLOWED_COLUMNS


def encode(i: int) -> dict[str, str]:
    """Answers that spell out submission number ``i`` (base 5 over the statements)."""
    form = dict(ANSWERS)
    for statement in items.STATEMENTS:
        form[statement.id] = str(i % 5 + 1)
        i //= 5
    return form


def decode(row) -> int:
    value, scale = 0, 1
    for statement in items.STATEMENTS:
        value += (getattr(row, statement.id) - 1) * scale
        scale *= 5
    return value


def answer_in_order(session, survey, tokens, n):
    for i, token in enumerate(tokens[:n]):
        answer(session, token, encode(i),
               comment=f"comment number {i}" if i % 2 else None)


def physical_order(session, table: str, dialect: str) -> list[str]:
    position = "rowid" if dialect == "sqlite" else "ctid"
    return list(session.scalars(text(f"SELECT id FROM {table} ORDER BY {position}")))


def check_order_unrecoverable(url: str) -> None:
    app = make_app(url)
    n = 60
    with dbmod.session_scope(app) as session:
        build_org(session, size=n)
        survey, tokens = open_survey(session, app.extensions["aftercare.settings"],
                                     app.extensions["aftercare.token_box"], people=n)
        answer_in_order(session, survey, tokens, n)
        dialect = session.get_bind().dialect.name
        from surveys.models import Response, StagedAnswer

        # Before close the staging table does betray order: the test can see it.
        staged = {r.id: decode(r) for r in session.scalars(select(StagedAnswer))}
        order = [staged[i] for i in physical_order(session, "staged_answer", dialect)]
        assert kendalltau(range(n), order).statistic > 0.99
        lifecycle.close_survey(session, survey.id, NOW + timedelta(hours=1))
        responses = {r.id: decode(r) for r in session.scalars(select(Response))}
        assert sorted(responses.values()) == list(range(n))
        by_physical = [responses[i] for i in physical_order(session, "response", dialect)]
        by_id = [responses[i] for i in sorted(responses)]
        # |tau| > 0.4 at n = 60 is about 4.5 standard deviations from chance
        for recovered in (by_physical, by_id):
            assert abs(kendalltau(range(n), recovered).statistic) < 0.4
        comments = session.scalars(text(
            f"SELECT body FROM comment ORDER BY {'rowid' if dialect == 'sqlite' else 'ctid'}"
        )).all()
        numbers = [int(c.rsplit(" ", 1)[1]) for c in comments]
        assert abs(kendalltau(range(len(numbers)), numbers).statistic) < 0.5
        if dialect == "postgresql":
            xmins = session.scalar(text("SELECT count(DISTINCT xmin::text) FROM response"))
            assert xmins == 1  # every response written by the one close transaction
    dbmod.get_engine(app).dispose()


def test_submission_order_is_unrecoverable_on_sqlite(sqlite_url):
    check_order_unrecoverable(sqlite_url)


@pytest.mark.postgres
def test_submission_order_is_unrecoverable_on_postgres(postgres_url):
    check_order_unrecoverable(postgres_url)


def dump(engine) -> dict[str, list[dict]]:
    with engine.connect() as conn:
        return {
            table.name: [dict(row._mapping) for row in conn.execute(table.select())]
            for table in Base.metadata.sorted_tables
        }


def test_a_database_copy_after_close_cannot_tell_who_answered(app, db, org, settings, box,
                                                              tmp_path):
    survey, tokens = open_survey(db, settings, box, people=10)
    invitations = list(db.scalars(select(Invitation).where(Invitation.survey_id == survey.id)
                                  .order_by(Invitation.id)))
    responders = {inv.person_id for inv in invitations[::2]}
    for inv, token in zip(invitations, tokens, strict=True):
        if inv.person_id in responders:
            answer(db, token)
    lifecycle.tick(db, box, NOW + settings.survey_duration / 2, settings)  # reminders to all
    lifecycle.close_survey(db, survey.id, NOW + settings.survey_duration)
    engine = dbmod.get_engine(app)
    engine.dispose()
    database = Path(engine.url.database)
    copy = tmp_path / "copy.db"
    shutil.copy(database, copy)
    for suffix in ("-wal", "-shm"):
        if Path(f"{database}{suffix}").exists():
            shutil.copy(f"{database}{suffix}", f"{copy}{suffix}")

    tables = dump(dbmod.make_engine(f"sqlite:///{copy}"))
    people = {p["id"]: p for p in tables["person"]}
    invitation_person = {i["id"]: i["person_id"] for i in tables["invitation"]}
    identifying = {"id", "person_id", "invitation_id", "email", "name"}

    def traces(person_ids):
        """Every row that refers to these people, minus the columns that name them."""
        found = Counter()
        for name, rows in tables.items():
            for row in rows:
                person = (row.get("person_id") or invitation_person.get(row.get("invitation_id"))
                          or (row["id"] if name == "person" else None))
                if person in person_ids:
                    found[(name, tuple(sorted((k, str(v)) for k, v in row.items()
                                              if k not in identifying)))] += 1
        return found

    invited = set(invitation_person.values())
    non_responders = invited - responders
    assert len(responders) == len(non_responders) == 5
    assert traces(responders) == traces(non_responders)
    assert all(p in people for p in invited)
    assert tables["ballot"] == [] and tables["staged_answer"] == []
    assert len(tables["response"]) == 5
    # no token or token hash survives anywhere in the files
    raw = b"".join(Path(p).read_bytes() for p in (copy, f"{copy}-wal") if Path(p).exists())
    for token in tokens:
        assert token.encode() not in raw
        assert hash_token(token).encode() not in raw


def test_secure_delete_is_on(app, db):
    assert db.execute(text("PRAGMA secure_delete")).scalar() == 1
    assert db.execute(text("PRAGMA journal_mode")).scalar() == "wal"


def test_people_table_records_nothing_about_answering(app):
    assert set(Person.__table__.columns.keys()) == {"id", "team_id", "name", "email",
                                                    "opted_out"}
