"""The participant's use cases: look up a ballot, submit answers exactly once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from surveys import items
from surveys.db import begin_write
from surveys.errors import InvalidInput, SurveyNotOpen, TokenSpent, TokenUnknown
from surveys.models import Ballot, StagedAnswer, StagedComment, Survey, SurveyStatus


@dataclass(frozen=True)
class Submission:
    """A validated set of answers; see :func:`parse_submission`."""

    involvement: str
    answers: Mapping[str, int]
    comment: str | None


@dataclass(frozen=True)
class BallotView:
    survey: Survey
    spent: bool


def find_ballot(session: Session, token_hash: str) -> BallotView:
    """The survey a token hash belongs to; ``TokenUnknown`` when there is none."""
    row = session.execute(
        select(Ballot.spent, Survey).join(Survey, Survey.id == Ballot.survey_id)
        .where(Ballot.token_hash == token_hash)
    ).first()
    if row is None:
        raise TokenUnknown()
    return BallotView(survey=row.Survey, spent=row.spent)


def survey_status(session: Session, survey_id: int) -> str | None:
    return session.scalar(select(Survey.status).where(Survey.id == survey_id))


def parse_submission(form: Mapping[str, str], practice_ids: tuple[str, ...]) -> Submission:
    """Validate posted fields; raise ``InvalidInput`` naming every problem.

    Every statement needs an answer ("Doesn't apply" is one), as does every practice check
    asked ("Not sure" is one) and the involvement question ("Prefer not to say" is one). The
    comment is optional. Fields that are not part of this survey are refused, so a tampered
    form stores nothing.
    """
    problems: dict[str, str] = {}
    answers: dict[str, int] = {}
    statement_values = {str(v): v for v, _ in items.STATEMENT_SCALE}
    practice_values = {str(v): v for v, _ in items.PRACTICE_SCALE}
    expected = {"involvement", "comment", "csrf_token", *items.STATEMENT_IDS, *practice_ids}
    unknown = sorted(k for k in form if k not in expected)
    if unknown:
        problems["form"] = "unexpected fields: " + ", ".join(u[:40] for u in unknown[:5])
    for statement in items.STATEMENTS:
        raw = form.get(statement.id, "")
        if raw == "":
            problems[statement.id] = "Please choose an answer (\"Doesn't apply\" is fine)."
        elif raw not in statement_values:
            problems[statement.id] = "That is not one of the answers offered."
        else:
            answers[statement.id] = statement_values[raw]
    for practice_id in practice_ids:
        raw = form.get(practice_id, "")
        if raw == "":
            problems[practice_id] = "Please choose Yes, No or Not sure."
        elif raw not in practice_values:
            problems[practice_id] = "That is not one of the answers offered."
        else:
            answers[practice_id] = practice_values[raw]
    involvement = form.get("involvement", "")
    if involvement == "":
        problems["involvement"] = "Please choose one (\"I prefer not to say\" is fine)."
    elif involvement not in items.INVOLVEMENT_IDS:
        problems["involvement"] = "That is not one of the answers offered."
    comment = (form.get("comment") or "").strip()
    if len(comment) > items.COMMENT_MAX_CHARS:
        problems["comment"] = (
            f"Please keep it under {items.COMMENT_MAX_CHARS} characters "
            f"(this one has {len(comment)})."
        )
    if "\x00" in comment:
        problems["comment"] = "The comment contains characters that cannot be stored."
    if problems:
        raise InvalidInput("Some answers need another look.", problems)
    return Submission(involvement=involvement, answers=answers, comment=comment or None)


def submit(session: Session, token_hash: str, submission: Submission) -> None:
    """Spend the ballot and stage the answers in one transaction: both or neither.

    The ballot is spent by one conditional UPDATE whose row count decides; never load,
    check and set in Python, which is not exactly-once under concurrency. On PostgreSQL the
    survey row is share-locked so that a concurrent close waits for this transaction (and a
    submit after close sees the survey closed).
    """
    begin_write(session)
    survey_id = session.scalar(select(Ballot.survey_id).where(Ballot.token_hash == token_hash))
    if survey_id is None:
        session.rollback()
        raise TokenUnknown()
    survey = session.scalar(
        select(Survey).where(Survey.id == survey_id).with_for_update(read=True)
    )
    if survey is None or not survey.is_open:
        status = survey.status if survey is not None else SurveyStatus.CLOSED
        session.rollback()
        raise SurveyNotOpen(status)
    asked = set(survey.practices)
    extra = [a for a in submission.answers if a in items.PRACTICE_IDS and a not in asked]
    if extra:
        session.rollback()
        raise InvalidInput("Some answers need another look.",
                           {a: "This question is not part of this survey." for a in extra})
    spent = session.execute(
        update(Ballot)
        .where(Ballot.token_hash == token_hash, Ballot.survey_id == survey_id,
               Ballot.spent.is_(False))
        .values(spent=True)
        .execution_options(synchronize_session=False)
    )
    if spent.rowcount != 1:
        session.rollback()
        raise TokenSpent()
    session.add(StagedAnswer(survey_id=survey_id, involvement=submission.involvement,
                             **submission.answers))
    if submission.comment:
        session.add(StagedComment(survey_id=survey_id, body=submission.comment))
    session.commit()
