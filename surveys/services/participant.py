"""The participant's use cases: look up a ballot, submit answers exactly once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.orm import Session, joinedload

from analysis import items
from surveys.db import begin_write
from surveys.errors import InvalidInput, SurveyNotOpen, TokenSpent, TokenUnknown
from surveys.models import (
    Ballot,
    Incident,
    StagedAnswer,
    StagedComment,
    Survey,
    SurveyStatus,
    random_id,
)


@dataclass(frozen=True)
class Submission:
    """A validated set of answers; see :func:`parse_submission`."""

    involvement: str
    answers: Mapping[str, int]
    comment: str | None


@dataclass(frozen=True)
class BallotView:
    """What the participant pages need to know about a link: its survey and whether it is
    spent (one light query; no ORM objects on the hot path)."""

    survey_id: int
    status: str
    spent: bool
    practices: tuple[str, ...]
    title: str
    min_group: int


# The statements of the participant pages, built once (building a statement costs more than
# running it on these small tables); executed on the session's connection.
_FIND = (select(Survey.id, Survey.status, Ballot.spent, Survey.practice_ids, Incident.title,
                Survey.min_group)
         .join(Survey, Survey.id == Ballot.survey_id)
         .join(Incident, Incident.id == Survey.incident_id)
         .where(Ballot.token_hash == bindparam("token_hash")))
_LOCK_OPEN = (select(Survey.id, Survey.status, Survey.practice_ids)
              .join(Ballot, Ballot.survey_id == Survey.id)
              .where(Ballot.token_hash == bindparam("token_hash"))
              .with_for_update(read=True, of=Survey))
_SPEND = (update(Ballot)
          .where(Ballot.token_hash == bindparam("b_hash"),
                 Ballot.survey_id == bindparam("b_survey"), Ballot.spent.is_(False))
          .values(spent=True))
_STAGE_ANSWER = insert(StagedAnswer)


def _spend_and_stage_statement():
    """PostgreSQL: spend the ballot and stage the answers in one statement (one round trip
    instead of two). The answers are inserted from the conditional UPDATE's RETURNING, so
    a ballot that was already spent inserts nothing: the row it returns (or none) decides,
    as the UPDATE's row count does on SQLite."""
    spent = _SPEND.returning(Ballot.survey_id).cte("spent")
    columns = list(StagedAnswer.__table__.columns)
    values = select(*[spent.c.survey_id if c.name == "survey_id" else
                      bindparam(c.name, type_=c.type) for c in columns])
    return (insert(StagedAnswer).from_select([c.name for c in columns], values)
            .add_cte(spent, nest_here=True).returning(StagedAnswer.survey_id))


_SPEND_AND_STAGE = _spend_and_stage_statement()


def _answer_statement(with_comment: bool):
    """PostgreSQL: the whole submit as one statement, run as its own transaction (one round
    trip instead of BEGIN, the survey's lock, spend-and-stage and COMMIT).

    The survey row is share-locked only if it is this ballot's survey, still open and asks
    the practice checks the answers were parsed for; the ballot is spent by the same
    conditional UPDATE as in :func:`submit` (its row lock decides exactly-once); the answers
    and the comment are inserted from the UPDATE's RETURNING, so when any condition fails
    nothing is written. It returns the number of answers stored (0 or 1) with the ballot's
    survey, the survey's status and whether the ballot was spent, as they were when the
    statement began (no row: no such ballot), so a replay is refused without a second
    statement.
    """
    survey = (select(Survey.id)
              .where(Survey.id == bindparam("s_id"), Survey.status == SurveyStatus.OPEN,
                     Survey.practice_ids == bindparam("s_practices"))
              .with_for_update(read=True).cte("open_survey"))
    spent = (update(Ballot)
             .where(Ballot.token_hash == bindparam("b_hash"),
                    Ballot.survey_id == select(survey.c.id).scalar_subquery(),
                    Ballot.spent.is_(False))
             .values(spent=True).returning(Ballot.survey_id).cte("spent"))
    columns = list(StagedAnswer.__table__.columns)
    answer = (insert(StagedAnswer)
              .from_select([c.name for c in columns],
                           select(*[spent.c.survey_id if c.name == "survey_id" else
                                    bindparam(c.name, type_=c.type) for c in columns]))
              .returning(StagedAnswer.survey_id).cte("answer"))
    statement = (select(select(func.count()).select_from(answer).scalar_subquery(),
                        Ballot.survey_id, Survey.status, Ballot.spent)
                 .join_from(Ballot, Survey, Survey.id == Ballot.survey_id)
                 .where(Ballot.token_hash == bindparam("b_hash"))
                 .add_cte(survey, spent, answer))
    if with_comment:
        table = StagedComment.__table__
        comment = (insert(StagedComment)
                   .from_select(["id", "survey_id", "body"],
                                select(bindparam("c_id", type_=table.c.id.type),
                                       spent.c.survey_id,
                                       bindparam("c_body", type_=table.c.body.type)))
                   .cte("comment"))
        statement = statement.add_cte(comment)
    return statement


_ANSWER = {False: _answer_statement(False), True: _answer_statement(True)}
# Practice checks asked per survey, as the form pages found them: a survey's are fixed when
# it opens, so a process may remember them (the one-statement submit needs them to parse
# the answers before it runs; the statement checks them again).
_PRACTICES: dict[int, tuple[str, ...]] = {}
_PRACTICES_SIZE = 4096
_STAGE_COMMENT = insert(StagedComment)
_NO_ANSWERS = dict.fromkeys(items.ANSWER_IDS)


def find_ballot(session: Session, token_hash: str) -> BallotView:
    """The survey a token hash belongs to; ``TokenUnknown`` when there is none.

    One statement, so on PostgreSQL it runs outside a transaction when the session has none
    yet: no BEGIN and ROLLBACK round trips around it (the form page's only query). SQLite
    keeps its (in-process, nearly free) deferred BEGIN.
    """
    row = _read_connection(session).execute(_FIND, {"token_hash": token_hash}).first()
    if row is None:
        raise TokenUnknown()
    view = BallotView(row[0], row[1], bool(row[2]), tuple(row[3].split()), row[4], row[5])
    if view.survey_id not in _PRACTICES:
        if len(_PRACTICES) >= _PRACTICES_SIZE:
            _PRACTICES.clear()
        _PRACTICES[view.survey_id] = view.practices
    return view


_AUTOCOMMIT = {"isolation_level": "AUTOCOMMIT"}


def _read_connection(session: Session):
    if not session.in_transaction() and session.get_bind().dialect.name == "postgresql":
        return session.connection(execution_options=_AUTOCOMMIT)
    return session.connection()


def survey_for_form(session: Session, survey_id: int) -> Survey:
    """The survey with its incident, to render its form."""
    survey = session.get(Survey, survey_id, options=[joinedload(Survey.incident)])
    if survey is None:
        raise TokenUnknown()
    return survey


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
    survey_id, practices = _lock_open_survey(session, token_hash)
    extra = [a for a in submission.answers if a in items.PRACTICE_IDS and a not in practices]
    if extra:
        session.rollback()
        raise InvalidInput("Some answers need another look.",
                           {a: "This question is not part of this survey." for a in extra})
    _spend_and_stage(session, token_hash, survey_id, submission)


def answer(session: Session, token_hash: str, form: Mapping[str, str],
           survey_hint: int | None = None) -> int:
    """Check the posted form against the link's survey and submit it, in one transaction
    (what ``POST /s`` does); return the survey's id.

    ``survey_hint`` is the survey the form page showed for this link (kept in the
    participant's session). On PostgreSQL, when this process knows that survey's practice
    checks, the submit is tried first as one statement (:func:`_answer_statement`), whose
    reply also says when the link was spent, closed or unknown; if it stores nothing for
    another reason, the transaction below runs and decides what to say (or stores the
    answers, if the hint was wrong).

    Raises ``TokenUnknown``, ``SurveyNotOpen``, ``TokenSpent`` or ``InvalidInput`` (with
    nothing stored).
    """
    if survey_hint is not None and _answer_in_one_statement(session, token_hash, form,
                                                             survey_hint):
        return survey_hint  # stored
    survey_id, practices = _lock_open_survey(session, token_hash)
    try:
        submission = parse_submission(form, practices)
    except InvalidInput:
        session.rollback()
        raise
    _spend_and_stage(session, token_hash, survey_id, submission)
    return survey_id


def _answer_in_one_statement(session: Session, token_hash: str, form: Mapping[str, str],
                             survey_id: int) -> bool:
    """The one-statement submit; True when the answers were stored (and committed). Raises
    ``TokenUnknown``, ``SurveyNotOpen`` or ``TokenSpent`` when the ballot was already past
    answering as the statement began. False when it does not apply (not PostgreSQL,
    practices unknown here, answers that need another look) or stored nothing for another
    reason (a concurrent submit or close, another survey): then nothing was written and the
    transaction decides."""
    practices = _PRACTICES.get(survey_id)
    if (practices is None or session.in_transaction()
            or session.get_bind().dialect.name != "postgresql"):
        return False
    try:
        submission = parse_submission(form, practices)
    except InvalidInput:
        return False  # named by the transaction, against the survey's own practice checks
    params = {**_NO_ANSWERS, **submission.answers, "id": random_id(),
              "involvement": submission.involvement, "s_id": survey_id,
              "s_practices": " ".join(practices), "b_hash": token_hash}
    if submission.comment:
        params.update(c_id=random_id(), c_body=submission.comment)
    connection = session.connection(execution_options=_AUTOCOMMIT)
    row = connection.execute(_ANSWER[bool(submission.comment)], params).first()
    session.rollback()  # gives the autocommit connection back; nothing is left to undo
    if row is None:
        raise TokenUnknown()
    stored, ballot_survey, status, was_spent = row
    if stored == 1:
        return True
    if ballot_survey == survey_id and status != SurveyStatus.OPEN:
        raise SurveyNotOpen(status)
    if ballot_survey == survey_id and was_spent:
        raise TokenSpent()
    return False


def _lock_open_survey(session: Session, token_hash: str) -> tuple[int, tuple[str, ...]]:
    """Begin the write transaction; the link's open survey (id, practices asked), its row
    share-locked on PostgreSQL. Rolls back and raises when there is none."""
    begin_write(session)
    row = session.connection().execute(_LOCK_OPEN, {"token_hash": token_hash}).first()
    if row is None:
        session.rollback()
        raise TokenUnknown()
    if row[1] != SurveyStatus.OPEN:
        session.rollback()
        raise SurveyNotOpen(row[1])
    return row[0], tuple(row[2].split())


def _spend_and_stage(session: Session, token_hash: str, survey_id: int,
                     submission: Submission) -> None:
    connection = session.connection()
    ballot = {"b_hash": token_hash, "b_survey": survey_id}
    answer = {**_NO_ANSWERS, **submission.answers, "id": random_id(),
              "involvement": submission.involvement}
    if connection.dialect.name == "postgresql":
        stored = len(connection.execute(_SPEND_AND_STAGE, {**ballot, **answer}).all())
    else:  # SQLite has no UPDATE in a WITH clause; both run in-process anyway
        stored = connection.execute(_SPEND, ballot).rowcount
        if stored == 1:
            connection.execute(_STAGE_ANSWER, {**answer, "survey_id": survey_id})
    if stored != 1:
        session.rollback()
        raise TokenSpent()
    if submission.comment:
        connection.execute(_STAGE_COMMENT, {"id": random_id(), "survey_id": survey_id,
                                            "body": submission.comment})
    session.commit()
