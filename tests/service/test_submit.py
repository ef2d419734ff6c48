"""Submitting: exactly once, both-or-neither, and nothing stored for bad input."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from support import ANSWERS, NOW, build_org, open_survey
from support.app import make_app
from surveys import db as dbmod
from surveys.errors import InvalidInput, TokenSpent, TokenUnknown
from surveys.models import Ballot, StagedAnswer, StagedComment
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

