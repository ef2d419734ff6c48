"""The participant's pages through the test client, with CSRF on."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from support import ANSWERS, NOW, Participant, csrf_from, open_survey
from surveys.models import StagedAnswer, StagedComment
from surveys.services import lifecycle

pytestmark = pytest.mark.usefixtures("org")


def staged(db) -> int:
    db.rollback()
    return db.scalar(select(func.count()).select_from(StagedAnswer))


@pytest.fixture
def survey_tokens(db, settings, box):
    return open_survey(db, settings, box)


def test_link_moves_the_token_out_of_the_address_bar(client, survey_tokens):
    _, tokens = survey_tokens
    response = client.get(f"/s/{tokens[0]}")
    assert response.status_code == 303
    assert response.headers["Location"] == "/s"
    assert tokens[0] not in response.get_data(as_text=True)
    page = client.get("/s")
    assert page.status_code == 200
    assert tokens[0] not in page.text
    assert page.headers["Referrer-Policy"] == "same-origin"
    assert page.headers["Cache-Control"] == "no-store"


def test_form_has_labels_fieldsets_and_the_plain_words_notice(client, survey_tokens):
    _, tokens = survey_tokens
    client.get(f"/s/{tokens[0]}")
    page = client.get("/s").text
    assert page.count("<fieldset") == 10  # nine statements and involvement
    assert page.count("<legend>") == 10
    assert 'label for="comment"' in page
    assert "What is stored, and who sees what" in page
    assert "at least 5 people" in page
    assert "<script" not in page  # works without JavaScript


def test_answer_once_then_already_answered(client, db, survey_tokens):
    _, tokens = survey_tokens
    participant = Participant(client)
    done = participant.answer(tokens[0], comment="A facilitator from outside helped.")
    assert done.status_code == 303 and done.headers["Location"] == "/s/thanks"
    assert "Thank you" in client.get("/s/thanks").text
    assert staged(db) == 1
    again = participant.answer(tokens[0])
    assert again.status_code == 409
    assert "already been used" in again.text
    assert staged(db) == 1


def test_unknown_and_malformed_links_look_the_same(client, survey_tokens):
    for link in ("/s/" + "A" * 43, "/s/short", "/s/" + "%00" * 10):
        response = client.get(link) if link.endswith("43") else client.get(link)
        if response.status_code == 303:
            response = client.get("/s")
        assert response.status_code == 404
        assert "This link is not valid" in response.text
    assert client.get("/s").status_code == 404  # no link at all


def test_missing_or_wrong_csrf_is_refused_and_stores_nothing(client, db, survey_tokens):
    _, tokens = survey_tokens
    client.get(f"/s/{tokens[0]}")
    client.get("/s")
    assert client.post("/s", data=ANSWERS).status_code == 400
    assert client.post("/s", data={**ANSWERS, "csrf_token": "forged"}).status_code == 400
    assert staged(db) == 0


@pytest.mark.parametrize("overrides, message", [
    ({"blame_person": None}, "Please choose an answer"),
    ({"blame_person": "9"}, "not one of the answers"),
    ({"involvement": "ceo"}, "not one of the answers"),
    ({"comment": "x" * 2500}, "under 2000 characters"),
    ({"extra": "1"}, "unexpected fields"),
])
def test_bad_answers_get_a_400_form_with_the_message(client, db, survey_tokens, overrides,
                                                     message):
    _, tokens = survey_tokens
    response = Participant(client).answer(tokens[0], **overrides)
    assert response.status_code == 400
    assert message in response.text
    assert 'role="alert"' in response.text
    assert staged(db) == 0
    # the ballot is still unspent: the person can correct and send
    client.get("/s")
    fixed = client.post("/s", data={**ANSWERS, "csrf_token": csrf_from(client.get("/s").text)})
    assert fixed.status_code == 303


def test_oversized_body_is_refused(client, db, survey_tokens):
    _, tokens = survey_tokens
    client.get(f"/s/{tokens[0]}")
    token = csrf_from(client.get("/s").text)
    response = client.post("/s", data={**ANSWERS, "csrf_token": token,
                                       "comment": "x" * (2 * 1024 * 1024)})
    assert response.status_code == 413
    assert staged(db) == 0


def test_form_left_open_until_the_survey_closed(client, db, survey_tokens):
    survey, tokens = survey_tokens
    client.get(f"/s/{tokens[0]}")
    token = csrf_from(client.get("/s").text)
    lifecycle.close_survey(db, survey.id, NOW + timedelta(hours=1))
    response = client.post("/s", data={**ANSWERS, "csrf_token": token})
    assert response.status_code == 409
    assert "This survey has closed" in response.text
    assert db.scalar(select(func.count()).select_from(StagedComment)) == 0


def test_nothing_about_a_submission_reaches_the_log(client, survey_tokens, caplog):
    _, tokens = survey_tokens
    with caplog.at_level("DEBUG"):
        Participant(client).answer(tokens[0])
    assert tokens[0] not in caplog.text


def test_access_log_masks_survey_links():
    import logging

    from surveys.web.logs import MaskSurveyLinks

    record = logging.LogRecord("werkzeug", logging.INFO, __file__, 1,
                               '%s - - "%s" %s', ("127.0.0.1", "GET /s/abcDEF_123-x HTTP/1.1",
                                                   "303"), None)
    MaskSurveyLinks().filter(record)
    assert "abcDEF" not in record.getMessage()
    assert "/s/[link]" in record.getMessage()
