"""Release decisions with a memory: every figure about answers that is shown anywhere.

``analysis.release.decide`` is the single gate; this service gives it what it needs from the
database and records what it allowed:

* A released statistic is a sum over *sealed cells*: survey 17's respondents who chose one
  involvement answer (``"17:direct"``). Every respondent is in exactly one cell of their
  survey, so a survey's total, a team's period, an incident kind over a year or an
  involvement group are all sets of cells. ``SealedCount`` holds the counts of every cell.
* Each decision is stored as a ``ReleaseRecord`` (subject, cells, numbers, decision,
  reason). Asking again for the same subject returns the stored decision and the stored
  numbers, so a page never changes once shown.
* A new release is allowed only if the differencing audit (``analysis.audit.ReleaseLedger``)
  finds that, with everything released before, no group of 1 to k - 1 people becomes
  computable. The ledger is rebuilt from the records once per process and per k, kept in
  memory, and brought up to date by reading only records newer than the last one seen (the
  count of records tells when another process added some).
* Decisions are serialised: SQLite's write lock (``begin_write``) or a PostgreSQL advisory
  lock, plus a lock in the process around the in-memory ledger, so that two releases that
  are each safe alone cannot be published together by two requests at once.

Refusals by threshold or suppression follow from sealed figures that never change, so they
are not stored; refusals by the audit depend on what was released before, so they are
stored and stay refusals. Pooled figures of a period that has not ended are refused without
a record (they will be decided once the period is over).
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict, defaultdict
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from analysis import release
from analysis.audit import ReleaseLedger
from analysis.masking import Masker, shuffled
from surveys.db import begin_write
from surveys.models import (
    Comment,
    Incident,
    Invitation,
    Person,
    ReleaseRecord,
    SealedCount,
    Survey,
    Team,
)

Counts = dict[str, dict[int, int]]  # item -> answer value -> count
Cells = dict[str, int]  # "survey_id:involvement" -> respondents

_CHUNK = 500
# PostgreSQL advisory lock key for release decisions ("AFTRCARE" as digits, any constant).
_PG_LOCK_KEY = 4_146_524_327


def cell_id(survey_id: int, involvement: str) -> str:
    return f"{survey_id}:{involvement}"


def survey_of_cell(cell: str) -> int:
    return int(cell.split(":", 1)[0])


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Release:
    """The guard's decision on one statistic, and its numbers when allowed."""

    subject: str
    decision: release.Decision
    n: int | None = None
    counts: Counts = field(default_factory=dict)
    comments: tuple[str, ...] = ()

    @property
    def allowed(self) -> bool:
        return self.decision.allowed

    @property
    def message(self) -> str:
        return self.decision.message


# --------------------------------------------------------------------------- cells


def cells_of(session: Session, survey_ids: Iterable[int]) -> Cells:
    """The non-empty sealed cells of these surveys with their respondent counts."""
    ids = sorted(set(survey_ids))
    out: Cells = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start:start + _CHUNK]
        rows = session.execute(
            select(SealedCount.survey_id, SealedCount.cut_value, SealedCount.count).where(
                SealedCount.survey_id.in_(chunk), SealedCount.cut == "involvement",
                SealedCount.item == "_n"))
        for survey_id, code, count in rows:
            if count > 0:
                out[cell_id(survey_id, code)] = count
    return out


def counts_of(session: Session, cells: Iterable[str]) -> Counts:
    """Answer counts summed over cells (each cell's sealed involvement counts)."""
    wanted = set(cells)
    by_survey: dict[int, set[str]] = defaultdict(set)
    for cell in wanted:
        survey_id, code = cell.split(":", 1)
        by_survey[int(survey_id)].add(code)
    ids = sorted(by_survey)
    total: Counts = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start:start + _CHUNK]
        rows = session.execute(
            select(SealedCount.survey_id, SealedCount.cut_value, SealedCount.item,
                   SealedCount.value, SealedCount.count).where(
                SealedCount.survey_id.in_(chunk), SealedCount.cut == "involvement"))
        for survey_id, code, item, value, count in rows:
            if code in by_survey[survey_id]:
                values = total.setdefault(item, {})
                values[value] = values.get(value, 0) + count
    return total


@dataclass(frozen=True)
class SurveyMeta:
    id: int
    team_id: int
    kind: str
    closed_at: datetime
    min_group: int
    respondents: int


def closed_surveys(session: Session, team_ids: Sequence[int] | None = None
                   ) -> list[SurveyMeta]:
    query = (select(Survey.id, Survey.team_id, Incident.kind, Survey.closed_at,
                    Survey.min_group, Survey.respondents)
             .join(Incident, Incident.id == Survey.incident_id)
             .where(Survey.status == "closed", Survey.closed_at.is_not(None))
             .order_by(Survey.closed_at, Survey.id))
    if team_ids is not None:
        query = query.where(Survey.team_id.in_(list(team_ids)))
    return [SurveyMeta(sid, team_id, kind, closed_at, k, respondents or 0)
            for sid, team_id, kind, closed_at, k, respondents in session.execute(query)]


# --------------------------------------------------------------------------- the ledger


@dataclass
class _LedgerState:
    ledger: ReleaseLedger
    count: int
    last_id: int


_LEDGERS: OrderedDict[tuple[str, int], _LedgerState] = OrderedDict()
_LEDGER_LOCK = threading.RLock()
_LEDGER_CACHE_SIZE = 8


def clear_cache() -> None:
    """Forget every in-memory ledger (they are rebuilt from the records on next use)."""
    with _LEDGER_LOCK:
        _LEDGERS.clear()


def _records_state(session: Session) -> tuple[int, int]:
    count, last = session.execute(
        select(func.count(), func.max(ReleaseRecord.id)).where(
            ReleaseRecord.allowed.is_(True), ReleaseRecord.kind == "sum")).one()
    return int(count or 0), int(last or 0)


def _all_sizes(session: Session) -> Cells:
    rows = session.execute(
        select(SealedCount.survey_id, SealedCount.cut_value, SealedCount.count).where(
            SealedCount.cut == "involvement", SealedCount.item == "_n"))
    return {cell_id(sid, code): count for sid, code, count in rows}


def _load_records(session: Session, after_id: int = 0) -> list[tuple[int, list[str]]]:
    rows = session.execute(
        select(ReleaseRecord.id, ReleaseRecord.cells).where(
            ReleaseRecord.allowed.is_(True), ReleaseRecord.kind == "sum",
            ReleaseRecord.id > after_id).order_by(ReleaseRecord.id))
    return [(rid, json.loads(cells)) for rid, cells in rows]


def _known(sizes: Mapping[str, int], records: Iterable[tuple[int, list[str]]]) -> Cells:
    """Sizes of every cell the records name (a cell absent from SealedCount holds nobody)."""
    out = dict(sizes)
    for _, cells in records:
        for cell in cells:
            out.setdefault(cell, 0)
    return out


def ledger_for(session: Session, k: int) -> ReleaseLedger:
    """The in-memory ledger of every allowed release for minimum group ``k``, up to date.

    Call with ``_LEDGER_LOCK`` held when the ledger will be used for a decision.
    """
    url = _url(session)
    key = (url, k)
    count, last = _records_state(session)
    with _LEDGER_LOCK:
        state = _LEDGERS.get(key)
        if state is not None and (state.count, state.last_id) == (count, last):
            _LEDGERS.move_to_end(key)
            return state.ledger
        if state is not None and count > state.count and last > state.last_id:
            newer = _load_records(session, state.last_id)
            if len(newer) == count - state.count and _catch_up(session, state.ledger, newer):
                state.count, state.last_id = count, last
                return state.ledger
        records = _load_records(session)
        ledger = ReleaseLedger(_known(_all_sizes(session), records), k, records)
        _LEDGERS[key] = _LedgerState(ledger, len(records), records[-1][0] if records else 0)
        while len(_LEDGERS) > _LEDGER_CACHE_SIZE:
            _LEDGERS.popitem(last=False)
        return ledger


def _catch_up(session: Session, ledger: ReleaseLedger,
              records: Sequence[tuple[int, list[str]]]) -> bool:
    """Record releases another process made; False if any does not fit (then rebuild)."""
    needed = {c for _, cells in records for c in cells}
    sizes = cells_of(session, {survey_of_cell(c) for c in needed})
    try:
        ledger.add_cells({c: sizes.get(c, 0) for c in needed})
        for rid, cells in records:
            ledger.record(cells, release_id=rid)
    except ValueError:
        return False
    return True


def _forget(session: Session) -> None:
    url = _url(session)
    with _LEDGER_LOCK:
        for key in [key for key in _LEDGERS if key[0] == url]:
            del _LEDGERS[key]


def _learn(url: str, before: tuple[int, int], cells: Mapping[str, int], release_id: int,
           decided_by: tuple[str, int]) -> None:
    """Every cached ledger of this database that was up to date learns a new release (the
    one that decided it has recorded it already; those of other k record it now); any
    other is dropped and rebuilt later."""
    for key, state in list(_LEDGERS.items()):
        if key[0] != url:
            continue
        if (state.count, state.last_id) != before:
            del _LEDGERS[key]
            continue
        try:
            if key != decided_by:
                state.ledger.add_cells(dict(cells))
                state.ledger.record(cells, release_id=release_id)
        except ValueError:
            del _LEDGERS[key]  # a stricter k refuses it: rebuild from the records, as facts
            continue
        state.count += 1
        state.last_id = release_id


def _url(session: Session) -> str:
    return session.get_bind().url.render_as_string(hide_password=True)


@contextmanager
def _writer(session: Session) -> Iterator[Session]:
    """A session of its own for recording decisions, holding the lock that serialises
    release decisions across processes (SQLite's write lock, a PostgreSQL advisory lock).

    The caller's session is left alone (its objects are not expired, its read transaction
    goes on), so a page can ask for releases while it renders. Commits on success; on any
    error rolls back and drops the in-memory ledgers of the database, which may have learnt
    a release that was not stored.
    """
    writer = Session(bind=session.get_bind(), expire_on_commit=False)
    try:
        begin_write(writer)
        if writer.get_bind().dialect.name == "postgresql":
            writer.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
        yield writer
        writer.commit()
    except BaseException:
        writer.rollback()
        _forget(writer)
        raise
    finally:
        writer.close()


# --------------------------------------------------------------------------- records


def _decode_counts(raw: Mapping[str, Mapping[str, int]]) -> Counts:
    return {item: {int(v): c for v, c in values.items()} for item, values in raw.items()}


def _from_record(record: ReleaseRecord) -> Release:
    decision = release.Decision(record.allowed, release.Reason(record.reason), record.k)
    if not record.allowed or record.numbers is None:
        return Release(record.subject, decision)
    numbers = json.loads(record.numbers)
    if record.kind == "comments":
        return Release(record.subject, decision, numbers.get("authors_at_least"),
                       comments=tuple(numbers.get("comments", ())))
    return Release(record.subject, decision, numbers["n"], _decode_counts(numbers["counts"]))


def stored(session: Session, subject: str) -> Release | None:
    record = session.scalar(select(ReleaseRecord).where(ReleaseRecord.subject == subject))
    return _from_record(record) if record is not None else None


def stored_many(session: Session, subjects: Iterable[str]) -> dict[str, Release]:
    wanted = sorted(set(subjects))
    out: dict[str, Release] = {}
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start:start + _CHUNK]
        for record in session.scalars(
                select(ReleaseRecord).where(ReleaseRecord.subject.in_(chunk))):
            out[record.subject] = _from_record(record)
    return out


# --------------------------------------------------------------------------- deciding


@dataclass(frozen=True)
class Request:
    """A statistic asked for: its subject, the cells it sums, and the gate's other inputs."""

    subject: str
    cells: Mapping[str, int]
    k: int
    suppressed: bool = False
    period_over: bool = True

    @property
    def n(self) -> int:
        return sum(self.cells.values())


def decide(session: Session, request: Request) -> Release:
    """Decide one statistic (see :func:`decide_many`)."""
    return decide_many(session, [request])[request.subject]


def decide_many(session: Session, requests: Sequence[Request]) -> dict[str, Release]:
    """Decide statistics in order: stored decisions are returned as stored; new ones pass
    ``analysis.release.decide`` (threshold, period, suppression, differencing audit) and
    what the audit decided is recorded in one transaction.

    Returns the release of every requested subject. Commits when it records anything, so
    call it with no pending changes in the session.
    """
    out = dict(stored_many(session, [r.subject for r in requests]))
    pending: list[Request] = []
    seen: set[str] = set()
    for req in requests:
        if req.subject in out or req.subject in seen:
            continue
        seen.add(req.subject)
        pre = release.decide(req.n, req.k, suppressed=req.suppressed,
                             period_over=req.period_over)
        if not pre.allowed:
            out[req.subject] = Release(req.subject, pre)
        else:
            pending.append(req)
    if not pending:
        return out
    with _writer(session) as writer:
        again = stored_many(writer, [r.subject for r in pending])
        out.update(again)
        pending = [r for r in pending if r.subject not in again]
        url = _url(writer)
        with _LEDGER_LOCK:
            for req in pending:
                ledger = ledger_for(writer, req.k)
                before = (_LEDGERS[(url, req.k)].count, _LEDGERS[(url, req.k)].last_id)
                ledger.add_cells(dict(req.cells))
                # Recorded in this ledger in the same search when allowed (under the
                # subject; the record's id is known only after the insert).
                decision = release.decide(req.n, req.k, cells=req.cells, ledger=ledger,
                                          record_as=("subject", req.subject))
                record = ReleaseRecord(subject=req.subject, kind="sum",
                                       cells=json.dumps(sorted(req.cells)),
                                       allowed=decision.allowed, reason=decision.reason.value,
                                       k=req.k)
                counts: Counts = {}
                if decision.allowed:
                    counts = counts_of(writer, req.cells)
                    record.numbers = json.dumps(
                        {"n": req.n, "counts": counts}, sort_keys=True)
                writer.add(record)
                writer.flush()
                if decision.allowed:
                    _learn(url, before, req.cells, record.id, decided_by=(url, req.k))
                out[req.subject] = Release(req.subject, decision,
                                           req.n if decision.allowed else None, counts)
    return out


# --------------------------------------------------------------------------- surveys


def survey_subject(survey_id: int) -> str:
    return f"survey:{survey_id}"


def survey_release(session: Session, survey: Survey) -> Release:
    """A survey's own results: status first (nothing while open), then the single gate."""
    status = release.survey_release(survey.status, survey.respondents or 0, survey.min_group)
    subject = survey_subject(survey.id)
    if not status.allowed:
        return Release(subject, status)
    return decide(session, Request(subject, cells_of(session, [survey.id]), survey.min_group))


# --------------------------------------------------------------------------- hierarchy


def hierarchy_shown(parents: Mapping[int, int | None], own: Mapping[int, int], total: int,
                    k: int) -> set[int]:
    """Teams whose own figure may be shown next to the organisation's total and each parent
    team's total (teams, parent teams, organisation: complementary suppression over the
    hierarchy, :func:`analysis.release.hierarchy_release`).

    ``own`` is each team's respondents in its own surveys; a parent team's figure on a page
    is its own surveys only, so it is a leaf ``("own", team)`` below the team's subtree.
    """
    nodes: dict[Hashable, Hashable | None] = {"org": None}
    children: dict[int, list[int]] = defaultdict(list)
    for team, parent in parents.items():
        if parent in parents:
            children[parent].append(team)  # type: ignore[index]
    for team, parent in parents.items():
        nodes[("team", team)] = ("team", parent) if parent in parents else "org"
        if children.get(team):
            nodes[("own", team)] = ("team", team)
    totals: dict[Hashable, int] = {"org": total}

    def subtree(team: int) -> int:
        value = own.get(team, 0) + sum(subtree(c) for c in children.get(team, ()))
        totals[("team", team)] = value
        if children.get(team):
            totals[("own", team)] = own.get(team, 0)
        return value

    for team, parent in parents.items():
        if parent not in parents:
            subtree(team)
    if sum(totals[("team", t)] for t, p in parents.items() if p not in parents) > total:
        raise ValueError("teams add up to more than the organisation")
    decision = release.hierarchy_release(nodes, totals, k)
    shown = set()
    for team in parents:
        leaf = ("own", team) if children.get(team) else ("team", team)
        if leaf in decision.shown:
            shown.add(team)
    return shown


# --------------------------------------------------------------------------- comments


def comments_subject(team_id: int, period: str) -> str:
    return f"comments:{team_id}:{period}"


def period_label(period: str) -> str:
    """What a date in a comment becomes: ``"2026 Q4"`` or ``"Nov 2026"`` (as on the pages)."""
    year, part = period.split("-")
    if part.startswith("Q"):
        return f"{year} {part}"
    return datetime(int(year), int(part), 1).strftime("%b %Y")


def survey_comments(session: Session, survey: Survey, now: datetime, grain: str,
                    min_group: int) -> tuple[str, ...]:
    """Comments shown next to one survey's results: its team's pooled, released comments
    for the calendar period the survey closed in (never the survey's own comments alone)."""
    if survey.status != "closed" or survey.closed_at is None:
        return ()
    period = release.calendar_period(survey.closed_at, grain)
    members = [s for s in closed_surveys(session, [survey.team_id])
               if release.calendar_period(s.closed_at, grain) == period]
    k = max([min_group] + [s.min_group for s in members])
    found = comments_release(session, survey.team_id, period, [s.id for s in members], k,
                             period_over=release.period_over(period, now))
    return found.comments if found.allowed else ()


def comments_release(session: Session, team_id: int, period: str, survey_ids: Sequence[int],
                     k: int, *, period_over: bool) -> Release:
    """A pool's comments: only when the period is over and at least k different people
    must have written them; masked (roster and participant names and emails, dates to the
    period), shuffled once, stored so that every later view shows the same list."""
    subject = comments_subject(team_id, period)
    found = stored(session, subject)
    if found is not None:
        return found
    ids = sorted(set(survey_ids))
    per_survey: dict[int, int] = dict.fromkeys(ids, 0)
    if ids:
        for survey_id, count in session.execute(
                select(Comment.survey_id, func.count()).where(Comment.survey_id.in_(ids))
                .group_by(Comment.survey_id)):
            per_survey[survey_id] = count
    most = _most_surveys_per_person(session, ids) if ids else 0
    decision = release.comments_release(per_survey, most, k, period_over=period_over)
    if not decision.allowed:
        return Release(subject, decision)
    with _writer(session) as writer:
        found = stored(writer, subject)
        if found is not None:
            return found
        bodies = list(writer.scalars(select(Comment.body).where(Comment.survey_id.in_(ids))))
        masker = Masker.build(*_people_of(writer, team_id, ids), period_label(period))
        masked = shuffled([masker.mask(body) for body in bodies])
        authors = release.distinct_authors_at_least(per_survey, most)
        writer.add(ReleaseRecord(
            subject=subject, kind="comments", cells="[]", allowed=True,
            reason=decision.reason.value, k=k,
            numbers=json.dumps({"authors_at_least": authors, "comments": masked})))
    return Release(subject, decision, authors, comments=tuple(masked))


def _most_surveys_per_person(session: Session, survey_ids: Sequence[int]) -> int:
    per_person = (select(func.count().label("n")).select_from(Invitation)
                  .where(Invitation.survey_id.in_(list(survey_ids)))
                  .group_by(Invitation.person_id).subquery())
    return int(session.scalar(select(func.max(per_person.c.n))) or 0)


def _people_of(session: Session, team_id: int, survey_ids: Sequence[int]
               ) -> tuple[list[str], list[str]]:
    """Names and emails to mask: the team's roster and everyone invited to these surveys."""
    invited = select(Invitation.person_id).where(Invitation.survey_id.in_(list(survey_ids)))
    rows = session.execute(select(Person.name, Person.email).where(
        (Person.team_id == team_id) | Person.id.in_(invited)))
    names, emails = [], []
    for name, email in rows:
        names.append(name)
        emails.append(email)
    return names, emails


# --------------------------------------------------------------------------- periods and cuts
# Subjects: "team:<id>:<period>", "org:<period>", "org:<first>..<last>" (a span of complete
# periods), "kind:<kind>:<first>..<last>", "involvement:<code>:<first>..<last>". A period is
# a calendar period (analysis.release.calendar_period); a survey belongs to the one in which
# it closed.


def _grain(period: str) -> str:
    return "quarter" if "-Q" in period else "month"


def surveys_by_period(session: Session, periods: Iterable[str],
                      team_ids: Sequence[int] | None = None) -> dict[str, list[SurveyMeta]]:
    """Closed surveys of these calendar periods (any mix of months and quarters)."""
    wanted = set(periods)
    grains = {_grain(p) for p in wanted}
    out: dict[str, list[SurveyMeta]] = {p: [] for p in wanted}
    for survey in closed_surveys(session, team_ids):
        for grain in grains:
            period = release.calendar_period(survey.closed_at, grain)
            if period in wanted:
                out[period].append(survey)
    return out


def _cells_for(sizes: Mapping[str, int], surveys: Iterable[SurveyMeta],
               code: str | None = None) -> Cells:
    ids = {s.id for s in surveys}
    return {c: n for c, n in sizes.items() if survey_of_cell(c) in ids
            and (code is None or c.split(":", 1)[1] == code)}


def teams_shown(session: Session, periods: Sequence[str], k: int) -> dict[str, set[str]]:
    """Per period, the teams (ids as text) whose own figure may be shown: complementary
    suppression over the hierarchy (team, parent team, organisation), then the differencing
    audit on the organisation's total and on each shown team, in that order."""
    by_period = surveys_by_period(session, periods)
    parents = {tid: pid for tid, pid in session.execute(select(Team.id, Team.parent_id))}
    sizes = cells_of(session, {s.id for ss in by_period.values() for s in ss})
    requests: list[Request] = []
    candidates: dict[str, list[int]] = {}
    for period in periods:
        surveys = by_period.get(period, [])
        cells = _cells_for(sizes, surveys)
        team_of = {s.id: s.team_id for s in surveys}
        own: dict[int, int] = defaultdict(int)
        for cell, n in cells.items():
            own[team_of[survey_of_cell(cell)]] += n
        shown = hierarchy_shown(parents, own, sum(cells.values()), k) if parents else set()
        requests.append(Request(f"org:{period}", cells, k))
        candidates[period] = sorted(shown)
        for team_id in candidates[period]:
            requests.append(Request(f"team:{team_id}:{period}",
                                    _cells_for(sizes, [s for s in surveys
                                                       if s.team_id == team_id]), k))
    decided = decide_many(session, requests)
    return {period: {str(t) for t in candidates[period]
                     if decided[f"team:{t}:{period}"].allowed} for period in periods}


def periods_shown(session: Session, periods: Sequence[str], k: int,
                  team_id: int | None = None) -> set[str]:
    """Periods whose total (the organisation's, or one team's) the guard allows."""
    by_period = surveys_by_period(session, periods, None if team_id is None else [team_id])
    sizes = cells_of(session, {s.id for ss in by_period.values() for s in ss})
    prefix = "org" if team_id is None else f"team:{team_id}"
    requests = [Request(f"{prefix}:{p}", _cells_for(sizes, by_period[p]), k) for p in periods]
    decided = decide_many(session, requests)
    return {p for p in periods if decided[f"{prefix}:{p}"].allowed}


def team_periods_release(session: Session, team_id: int, members: Mapping[str, Sequence[int]],
                         k: int, now: datetime) -> dict[str, Release]:
    """A team's period totals (``members``: period -> its closed surveys): the period must
    be over, then the single gate and the audit decide."""
    sizes = cells_of(session, {sid for ids in members.values() for sid in ids})
    requests = []
    for period, ids in members.items():
        wanted = set(ids)
        cells = {c: n for c, n in sizes.items() if survey_of_cell(c) in wanted}
        requests.append(Request(f"team:{team_id}:{period}", cells, k,
                                period_over=release.period_over(period, now)))
    decided = decide_many(session, requests)
    return {period: decided[f"team:{team_id}:{period}"] for period in members}


def span_label(span: Sequence[str]) -> str:
    return f"{span[0]}..{span[-1]}" if span else ""


def span_shown(session: Session, span: Sequence[str], k: int) -> bool:
    """Whether the organisation's total over a span of complete periods may be shown."""
    if not span:
        return False
    by_period = surveys_by_period(session, span)
    surveys = [s for p in span for s in by_period[p]]
    subject = f"org:{span_label(span)}"
    return decide(session, Request(subject, cells_of(session, [s.id for s in surveys]),
                                   k)).allowed


def span_cut_shown(session: Session, cut: str, span: Sequence[str], keys: Iterable[str],
                   k: int) -> set[str]:
    """Of the cells of a cut over a span (``cut`` "kind" or "involvement") that
    complementary suppression showed, those the differencing audit allows too."""
    keys = sorted(keys)
    if not span or not keys:
        return set()
    by_period = surveys_by_period(session, span)
    surveys = [s for p in span for s in by_period[p]]
    sizes = cells_of(session, [s.id for s in surveys])
    requests = []
    for key in keys:
        if cut == "kind":
            cells = _cells_for(sizes, [s for s in surveys if s.kind == key])
        elif cut == "involvement":
            cells = _cells_for(sizes, surveys, code=key)
        else:
            raise ValueError(f"unknown cut {cut!r}")
        requests.append(Request(f"{cut}:{key}:{span_label(span)}", cells, k))
    decided = decide_many(session, requests)
    return {key for key in keys if decided[f"{cut}:{key}:{span_label(span)}"].allowed}
