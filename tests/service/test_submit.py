"""Submitting: exactly once, both-or-neither, and nothing stored for bad input."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from support import ANSWERS, NOW, build_org, open_survey
from support.app import make_app
from surveys import db as dbmod
from surveys.errors import InvalidInput, SurveyNotOpen, TokenSpent, TokenUnknown
from surveys.models import Ballot, Response, StagedAnswer, StagedComment, Survey
from surveys.services import lifecycle, participant
from surveys.tokens import hash_token


def staged(db) -> int:
    return db.scalar(select(func.count()).select_from(StagedAnswer))


def parsed(survey, **overrides):
    return participant.parse_submission({**ANSWERS, **overrides}, survey.practices)


@pytest.mark.usefixtures("org")
class TestSubmit:
    def test_one_submit_spends_the_ballot_and_stages_the_answers(self, db, settings, box):
        survey, tokens = open_survey(db, settings, box)
        participant.submit(db, hash_token(tokens[0]), parsed(survey, comment="More time."))
        assert staged(db) == 1
        assert db.scalar(select(func.count()).select_from(StagedComment)) == 1
        assert db.scalar(select(Ballot.spent).where(Ballot.token_hash == hash_token(tokens[0])))

    def test_second_submit_is_refused_and_stores_nothing(self, db, settings, box):
        survey, tokens = open_survey(db, settings, box)
        participant.submit(db, hash_token(tokens[0]), parsed(survey))
        with pytest.raises(TokenSpent):
            participant.submit(db, hash_token(tokens[0]), parsed(survey, blame_person="5"))
        assert staged(db) == 1

    def test_unknown_token(self, db, settings, box):
        survey, _ = open_survey(db, settings, box)
        with pytest.raises(TokenUnknown):
            participant.submit(db, hash_token("x" * 43), parsed(survey))
        assert staged(db) == 0

    def test_after_close_the_token_is_gone(self, db, settings, box):
        survey, tokens = open_survey(db, settings, box)
        lifecycle.close_survey(db, survey.id, NOW + timedelta(hours=2))
        with pytest.raises(TokenUnknown):
            participant.submit(db, hash_token(tokens[0]), parsed(survey))

    @pytest.mark.parametrize("overrides, field", [
        ({"blame_person": "6"}, "blame_person"),
        ({"blame_person": ""}, "blame_person"),
        ({"blame_person": "-1"}, "blame_person"),
        ({"involvement": "boss"}, "involvement"),
        ({"involvement": ""}, "involvement"),
        ({"comment": "x" * 2001}, "comment"),
        ({"comment": "nul\x00byte"}, "comment"),
        ({"respondent_email": "me@example.org"}, "form"),
        ({"practice_author": "1"}, "form"),  # not asked: no policy in force
    ])
    def test_bad_answers_name_the_field(self, db, settings, box, overrides, field):
        survey, _ = open_survey(db, settings, box)
        with pytest.raises(InvalidInput) as raised:
            parsed(survey, **overrides)
        assert field in raised.value.fields

    def test_practice_checks_follow_the_policies_in_force(self, db, settings, box):
        from surveys.services import admin

        admin.set_policies(db, {"neutral_author", "blameless"}, NOW)
        survey, tokens = open_survey(db, settings, box)
        assert survey.practices == ("practice_author",)
        with pytest.raises(InvalidInput) as raised:
            parsed(survey)
        assert "practice_author" in raised.value.fields
        participant.submit(db, hash_token(tokens[0]), parsed(survey, practice_author="1"))
        assert db.scalar(select(StagedAnswer.practice_author)) == 1


def _race(url: str, tmp_instance) -> tuple[int, list[str]]:
    """20 threads submit the same token at the same moment; return stored rows, outcomes."""
    app = make_app(url)
    engine = dbmod.get_engine(app)
    with dbmod.session_scope(app) as session:
        build_org(session)
        survey, tokens = open_survey(session, app.extensions["aftercare.settings"],
                                     app.extensions["aftercare.token_box"])
        submission = participant.parse_submission(ANSWERS, survey.practices)
    token_hash = hash_token(tokens[0])
    start = threading.Barrier(20)
    outcomes: list[str] = []
    lock = threading.Lock()

    def attempt():
        with dbmod.session_scope(app) as session:
            start.wait()
            try:
                participant.submit(session, token_hash, submission)
                result = "stored"
            except TokenSpent:
                result = "spent"
            except Exception as exc:  # noqa: BLE001 - recorded and asserted below
                result = f"error: {exc!r}"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=attempt) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    with dbmod.session_scope(app) as session:
        rows = session.scalar(select(func.count()).select_from(StagedAnswer))
    engine.dispose()
    return rows, outcomes


def test_twenty_concurrent_submits_store_exactly_one_on_sqlite(sqlite_url, tmp_path):
    rows, outcomes = _race(sqlite_url, tmp_path)
    assert rows == 1
    assert sorted(outcomes) == ["spent"] * 19 + ["stored"]


@pytest.mark.postgres
def test_twenty_concurrent_submits_store_exactly_one_on_postgres(postgres_url, tmp_path):
    rows, outcomes = _race(postgres_url, tmp_path)
    assert rows == 1
    assert sorted(outcomes) == ["spent"] * 19 + ["stored"]



class TestOneStatementSubmit:
    """``answer`` with the survey the form showed: on PostgreSQL one statement when this
    process knows the survey's practice checks; every other outcome named by the
    transaction, with nothing stored. The same outcomes on SQLite (one path there)."""

    @pytest.fixture
    def opened(self, database_url):
        app = make_app(database_url)
        engine = dbmod.get_engine(app)
        statements: list[str] = []
        with dbmod.session_scope(app) as session:
            build_org(session)
            survey, tokens = open_survey(session, app.extensions["aftercare.settings"],
                                         app.extensions["aftercare.token_box"])
            survey_id = survey.id
        from sqlalchemy import event

        event.listen(engine, "before_cursor_execute",
                     lambda _c, _cur, sql, *_a: statements.append(" ".join(sql.split())))
        yield app, survey_id, [hash_token(t) for t in tokens], statements
        engine.dispose()

    def _answer(self, app, token_hash, form, hint):
        with dbmod.session_scope(app) as session:
            participant.find_ballot(session, token_hash)  # the form page, as a browser would
        with dbmod.session_scope(app) as session:
            return participant.answer(session, token_hash, form, hint)

    def _rows(self, app) -> tuple[int, int, int]:
        with dbmod.session_scope(app) as session:
            return (staged(session),
                    session.scalar(select(func.count()).select_from(StagedComment)),
                    session.scalar(select(func.count()).select_from(Ballot)
                                   .where(Ballot.spent)))

    def test_a_submit_is_one_statement_on_postgres(self, opened):
        app, survey_id, hashes, statements = opened
        with dbmod.session_scope(app) as session:
            participant.find_ballot(session, hashes[0])  # the form page
        del statements[:]
        with dbmod.session_scope(app) as session:
            assert participant.answer(session, hashes[0], {**ANSWERS, "comment": "Kind."},
                                      survey_id) == survey_id
        if app.config["DATABASE_URL"].startswith("postgresql"):
            writes = [s for s in statements if not s.startswith(("BEGIN", "COMMIT"))]
            assert len(writes) == 1 and writes[0].startswith("WITH open_survey")
            assert not [s for s in statements if s.startswith(("BEGIN", "COMMIT"))]
        assert self._rows(app) == (1, 1, 1)

    def test_a_replay_is_refused_in_the_same_statement(self, opened):
        app, survey_id, hashes, statements = opened
        self._answer(app, hashes[0], ANSWERS, survey_id)
        del statements[:]
        with dbmod.session_scope(app) as session, pytest.raises(TokenSpent):
            participant.answer(session, hashes[0], {**ANSWERS, "blame_person": "5"}, survey_id)
        if app.config["DATABASE_URL"].startswith("postgresql"):
            assert len(statements) == 1
        assert self._rows(app) == (1, 0, 1)

    def test_an_unknown_link_is_refused(self, opened):
        app, survey_id, _, _ = opened
        with dbmod.session_scope(app) as session, pytest.raises(TokenUnknown):
            participant.answer(session, hash_token("y" * 43), ANSWERS, survey_id)
        assert self._rows(app) == (0, 0, 0)

    def test_bad_answers_are_named_and_nothing_is_stored(self, opened):
        app, survey_id, hashes, _ = opened
        with pytest.raises(InvalidInput) as raised:
            self._answer(app, hashes[0], {**ANSWERS, "blame_person": "9",
                                          "practice_author": "1"}, survey_id)
        assert {"blame_person", "form"} <= set(raised.value.fields)
        assert self._rows(app) == (0, 0, 0)

    def test_a_wrong_hint_still_stores_the_answer_for_the_links_own_survey(self, opened):
        app, survey_id, hashes, _ = opened
        assert self._answer(app, hashes[1], ANSWERS, survey_id + 1000) == survey_id
        with dbmod.session_scope(app) as session:
            assert session.scalar(select(StagedAnswer.survey_id)) == survey_id
        assert self._rows(app) == (1, 0, 1)

    def test_after_close_nothing_is_stored(self, opened):
        app, survey_id, hashes, _ = opened
        with dbmod.session_scope(app) as session:
            participant.find_ballot(session, hashes[0])
            lifecycle.close_survey(session, survey_id, NOW + timedelta(hours=2))
        with dbmod.session_scope(app) as session, pytest.raises(TokenUnknown):
            participant.answer(session, hashes[0], ANSWERS, survey_id)
        assert self._rows(app)[0] == 0

    def test_twenty_concurrent_one_statement_submits_store_exactly_one(self, opened):
        app, survey_id, hashes, _ = opened
        with dbmod.session_scope(app) as session:
            participant.find_ballot(session, hashes[0])
        start = threading.Barrier(20)
        outcomes: list[str] = []

        def attempt():
            with dbmod.session_scope(app) as session:
                start.wait()
                try:
                    participant.answer(session, hashes[0], ANSWERS, survey_id)
                    outcomes.append("stored")
                except TokenSpent:
                    outcomes.append("spent")

        threads = [threading.Thread(target=attempt) for _ in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert sorted(outcomes) == ["spent"] * 19 + ["stored"]
        assert self._rows(app) == (1, 0, 1)

    def test_a_close_counts_exactly_the_submits_that_were_told_they_were_stored(self, opened):
        app, survey_id, hashes, _ = opened
        with dbmod.session_scope(app) as session:
            participant.find_ballot(session, hashes[0])
        start = threading.Barrier(len(hashes) + 1)
        outcomes: list[str] = []

        def attempt(index, token_hash):
            with dbmod.session_scope(app) as session:
                start.wait()
                time.sleep(index * 0.004)  # spread out, so the close falls among them
                try:
                    participant.answer(session, token_hash, ANSWERS, survey_id)
                    outcomes.append("stored")
                except (TokenUnknown, SurveyNotOpen):
                    outcomes.append("closed")

        def close():
            with dbmod.session_scope(app) as session:
                start.wait()
                while len(outcomes) < 2:
                    time.sleep(0.001)
                lifecycle.close_survey(session, survey_id, NOW + timedelta(hours=2))

        threads = [threading.Thread(target=attempt, args=(i, h)) for i, h in enumerate(hashes)]
        threads.append(threading.Thread(target=close))
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert len(outcomes) == len(hashes)
        with dbmod.session_scope(app) as session:
            survey = session.get(Survey, survey_id)
            assert survey.respondents == outcomes.count("stored")
            assert session.scalar(select(func.count()).select_from(Response)) == \
                outcomes.count("stored")
            assert staged(session) == 0
