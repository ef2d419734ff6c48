import dataclasses
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from analysis import items
from support import NOW, answer, open_survey
from surveys.errors import InvalidInput, MinGroupLocked
from surveys.models import (
    Ballot,
    Incident,
    Invitation,
    OutboxMessage,
    Response,
    SealedCount,
    StagedAnswer,
    Survey,
)
from surveys.services import lifecycle
from surveys.tokens import hash_token

pytestmark = pytest.mark.usefixtures("org")


def count(db, model, *where):
    return db.scalar(select(func.count()).select_from(model).where(*where))


AGREEING = {**dict.fromkeys(items.STATEMENT_IDS, "4"), "involvement": "direct"}


def submit(db, token, **answers):
    answer(db, token, AGREEING, **answers)


def test_create_incident_invites_each_participant_once(db, settings, box):
    survey, tokens = open_survey(db, settings, box, people=6)
    assert survey.status == "open"
    assert survey.invited == 6 and len(tokens) == 6
    assert count(db, Ballot, Ballot.survey_id == survey.id) == 6
    assert count(db, OutboxMessage, OutboxMessage.kind == "invitation") == 6
    # each token's hash is a ballot; the invitation stores only ciphertext
    hashes = set(db.scalars(select(Ballot.token_hash)))
    assert {hash_token(t) for t in tokens} == hashes
    for cipher in db.scalars(select(Invitation.token_cipher)):
        assert all(t.encode() not in cipher for t in tokens)


def test_ballots_are_stored_in_an_order_unrelated_to_invitations(db, settings, box):
    settings = dataclasses.replace(settings, survey_limit=None)  # the same 12 people, 6 times
    orders = []
    for i in range(6):
        survey, tokens = open_survey(db, settings, box, people=12, title=f"Incident {i}")
        stored = list(db.scalars(select(Ballot.token_hash).where(Ballot.survey_id == survey.id)
                                 .order_by(text("rowid"))))
        orders.append(stored == [hash_token(t) for t in tokens])
    # 12! orders: the chance that even one of six matches by luck is negligible
    assert not any(orders)


def test_scheduled_survey_opens_on_tick_and_k_is_locked_then(db, settings, box):
    data = lifecycle.NewIncident(team="payments", title="Later", kind="data", severity="sev3",
                                 closed_at=NOW - timedelta(hours=1),
                                 participants=["payments1@example.org", "payments2@example.org",
                                               "payments3@example.org"],
                                 open_delay=timedelta(hours=24))
    survey = lifecycle.create_incident(db, data, settings, box, NOW)
    assert survey.status == "scheduled"
    assert count(db, Ballot) == 0 and count(db, OutboxMessage) == 0
    lifecycle.set_min_group(db, survey.id, 3)
    with pytest.raises(InvalidInput):
        lifecycle.set_min_group(db, survey.id, 2)
    report = lifecycle.tick(db, box, NOW + timedelta(hours=22), settings)
    assert report.opened == []
    report = lifecycle.tick(db, box, NOW + timedelta(hours=24), settings)
    assert report.opened == [survey.id]
    with pytest.raises(MinGroupLocked):
        lifecycle.set_min_group(db, survey.id, 4)
    assert db.get(Survey, survey.id).min_group == 3


def test_reminder_goes_to_every_invitee_once_and_never_after_close(db, settings, box):
    survey, tokens = open_survey(db, settings, box, people=5)
    submit(db, tokens[0])
    half = NOW + settings.survey_duration / 2
    assert lifecycle.tick(db, box, half - timedelta(minutes=1), settings).reminded == []
    assert lifecycle.tick(db, box, half, settings).reminded == [survey.id]
    assert count(db, OutboxMessage, OutboxMessage.kind == "reminder") == 5  # answered too
    assert lifecycle.tick(db, box, half + timedelta(hours=1), settings).reminded == []
    assert count(db, OutboxMessage, OutboxMessage.kind == "reminder") == 5


def test_no_reminder_for_a_survey_closed_early(db, settings, box):
    survey, _ = open_survey(db, settings, box, people=5)
    lifecycle.close_survey(db, survey.id, NOW + timedelta(hours=1))
    assert lifecycle.tick(db, box, NOW + settings.survey_duration / 2, settings).reminded == []
    assert count(db, OutboxMessage, OutboxMessage.kind == "reminder") == 0


def test_close_seals_moves_and_purges(db, settings, box, app):
    survey, tokens = open_survey(db, settings, box, people=7)
    for token in tokens[:5]:
        submit(db, token, blame_person="5")
    assert count(db, StagedAnswer) == 5 and count(db, Response) == 0
    report = lifecycle.tick(db, box, survey.closes_at, settings)
    assert report.closed == [survey.id]
    closed = db.get(Survey, survey.id)
    assert closed.status == "closed" and closed.respondents == 5
    assert count(db, StagedAnswer) == 0 and count(db, Response) == 5
    assert count(db, Ballot) == 0
    assert count(db, Invitation, Invitation.token_cipher.is_not(None)) == 0
    sealed = {(r.item, r.value): r.count for r in db.scalars(
        select(SealedCount).where(SealedCount.cut == "all"))}
    assert sealed[("_n", 0)] == 5 and sealed[("blame_person", 5)] == 5
    # pending mail for the survey is cancelled, never sent after close
    assert count(db, OutboxMessage, OutboxMessage.status == "pending") == 0
    # the WAL was checkpointed and truncated after the purge
    wal = Path(db.get_bind().url.database + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0


def test_closing_twice_changes_nothing(db, settings, box):
    survey, tokens = open_survey(db, settings, box, people=5)
    submit(db, tokens[0])
    lifecycle.close_survey(db, survey.id, NOW)
    lifecycle.close_survey(db, survey.id, NOW + timedelta(days=1))
    assert count(db, Response) == 1
    assert db.get(Survey, survey.id).closed_at == NOW


@pytest.mark.parametrize("field, value, problem", [
    ("team", "nope", "team"),
    ("title", "  ", "title"),
    ("kind", "outage", "kind"),
    ("severity", "p1", "severity"),
    ("participants", [], "participants"),
    ("participants", ["not-an-email"], "participants[0]"),
    ("participants", ["a@example.org", "A@example.org"], "participants[1]"),
    ("participants", [f"p{i}@example.org" for i in range(501)], "participants"),
    ("closed_at", NOW + timedelta(days=1), "closed_at"),
])
def test_bad_incident_input_names_the_field_and_stores_nothing(db, settings, box, field, value,
                                                               problem):
    fields = dict(team="payments", title="T", kind="data", severity="sev2",
                  closed_at=NOW - timedelta(hours=1), participants=["a@example.org"])
    fields[field] = value
    with pytest.raises(InvalidInput) as raised:
        lifecycle.create_incident(db, lifecycle.NewIncident(**fields), settings, box, NOW)
    assert problem in raised.value.fields
    db.rollback()
    assert count(db, Incident) == 0 and count(db, Survey) == 0
