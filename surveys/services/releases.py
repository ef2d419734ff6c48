"""Release decisions: made once, recorded, and read by every page.

``analysis.release`` is the single gate. This service gives it what it needs from the
database and records what it decided, allowed or not, as a ``ReleaseRecord``:

* A released figure is a sum over *sealed cells* (``"17:direct"``: survey 17's respondents
  who chose that involvement answer), so a survey, a pool, a team's period, the
  organisation's quarter, an incident kind or an involvement group are all sets of cells.
* A decision is taken by a :class:`Decider`, only at fixed moments: a survey's own figure
  in the transaction that seals it, a calendar period's figures by the run that follows the
  period's end (``surveys.services.decisions``). Decisions are serialised across processes
  (SQLite's write lock, a PostgreSQL advisory lock, a lock in the process around the
  in-memory ledgers), so two figures that are each safe alone are never both published when
  together they would expose someone.
* Each measure a figure publishes (respondents; each statement's, practice check's and
  construct's answer counts) passes the differencing audit on its own ledger
  (``surveys.services.ledger``); a measure the audit refuses is left out of the figure
  ("not enough people answered this one").
* Pages, exports and the API call :func:`stored` and :func:`stored_many` only. Nothing here
  is decided on a page view, so what anyone sees does not depend on who looked first.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import func, or_, select, text
from sqlalchemy.orm import Session

from analysis import release
from analysis.sealing import Counts
from surveys.models import ReleaseRecord, SealedCount
from surveys.services import ledger as ledgers
from surveys.services.ledger import RESPONDENTS, cell_id, counted

_CHUNK = 500
# PostgreSQL advisory lock key for release decisions ("AFTRCARE" as digits, any constant).
_PG_LOCK_KEY = 4_146_524_327


# --------------------------------------------------------------------------- what is read


@dataclass(frozen=True)
class Release:
    """A recorded decision on one figure, and what it released when allowed.

    ``counts`` holds only measures the audit allowed (``measures``); ``findings`` are the
    flags decided with the figure (their false-discovery family is the figure), as dicts of
    ``analysis.flags.Flag``; ``extra`` holds other derived results stored with it."""

    subject: str
    decision: release.Decision
    n: int | None = None
    counts: Counts = field(default_factory=dict)
    measures: frozenset[str] = frozenset()
    comments: tuple[str, ...] = ()
    findings: tuple[Mapping[str, object], ...] = ()
    extra: Mapping[str, object] = field(default_factory=dict)
    #: What the record holds, as stored: equal digests mean equal figures (for caches).
    digest: str = ""

    @property
    def allowed(self) -> bool:
        return self.decision.allowed

    @property
    def message(self) -> str:
        return self.decision.message


def pending(subject: str, k: int) -> Release:
    """A figure whose moment of decision has come but whose decision is not recorded yet."""
    return Release(subject, release.Decision(False, release.Reason.PENDING, k))


def _decode_counts(raw: Mapping[str, Mapping[str, int]]) -> Counts:
    return {item: {int(v): c for v, c in values.items()} for item, values in raw.items()}


def _from_record(record: ReleaseRecord) -> Release:
    decision = release.Decision(record.allowed, release.Reason(record.reason), record.k)
    if not record.allowed or record.numbers is None:
        return Release(record.subject, decision)
    numbers = json.loads(record.numbers)
    if record.kind == "notice":
        return Release(record.subject, decision, findings=tuple(numbers.get("findings", ())))
    if record.kind == "exposure":
        return Release(record.subject, decision, numbers.get("team_size"),
                       findings=tuple(numbers.get("findings", ())),
                       extra=numbers.get("exposure", {}))
    if record.kind == "comments":
        return Release(record.subject, decision, numbers.get("authors_at_least"),
                       comments=tuple(numbers.get("comments", ())))
    counts = _decode_counts(numbers["counts"])
    measures = ledgers.record_measures(numbers, record.k)
    digest = hashlib.sha256(f"{record.k}:{record.numbers}".encode()).hexdigest()
    return Release(record.subject, decision, numbers["n"],
                   {m: v for m, v in counts.items() if m in measures}, measures,
                   findings=tuple(numbers.get("findings", ())),
                   extra=numbers.get("extra", {}), digest=digest)


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


def stored_with_prefix(session: Session, prefix: str) -> dict[str, Release]:
    """Every recorded decision whose subject starts with ``prefix`` (e.g. ``"team:3:"``)."""
    like = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return {r.subject: _from_record(r) for r in session.scalars(
        select(ReleaseRecord).where(ReleaseRecord.subject.like(like, escape="\\")))}


# Flags per database and prefixes, with the ledger's row count and largest id they were read
# at. Records are only ever added, so later reads add the flags of the new records only.
_FLAG_KEYS: dict[tuple[str, tuple[str, ...]], tuple[int, int, frozenset]] = {}


def flag_keys(session: Session, prefixes: Sequence[str]) -> frozenset[tuple[str, str, str]]:
    """(record subject, flag kind, flag subject) of every flag (not a watch) decided with a
    released figure whose subject starts with one of ``prefixes`` (``"team"``, ``"survey"``).

    Only the stored findings are read, a batch of rows at a time (no counts decoded, no
    figure built), and the answer is kept per process: a later call reads only the records
    added since (by id; when the row count says a record with a smaller id was committed
    late, everything is read again). An HR page over two years of 200 teams used to read
    every flagged record in full on each view (4.4 s).
    """
    count, largest = session.execute(
        select(func.count(), func.max(ReleaseRecord.id)).select_from(ReleaseRecord)).one()
    key = (str(session.get_bind().url), tuple(prefixes))
    seen_count, seen_largest, keys = _FLAG_KEYS.get(key, (0, 0, frozenset()))
    if (seen_count, seen_largest) == (count, largest or 0):
        return keys
    query = (select(ReleaseRecord.subject, ReleaseRecord.numbers)
             .where(ReleaseRecord.allowed.is_(True),
                    ReleaseRecord.numbers.like('%"state": "flag"%'),
                    or_(*[ReleaseRecord.subject.like(f"{p}:%") for p in prefixes]))
             .execution_options(yield_per=_CHUNK))
    added = session.scalar(select(func.count()).select_from(ReleaseRecord)
                           .where(ReleaseRecord.id > seen_largest))
    if seen_count + added == count:  # only newer records: read those
        query, found = query.where(ReleaseRecord.id > seen_largest), set(keys)
    else:
        found = set()
    for subject, numbers in session.execute(query):
        for finding in json.loads(numbers).get("findings", ()):
            if finding.get("state") == "flag":
                found.add((subject, str(finding["kind"]), str(finding["subject"])))
    _FLAG_KEYS[key] = (count, largest or 0, frozenset(found))
    return _FLAG_KEYS[key][2]


# --------------------------------------------------------------------------- subjects


def survey_subject(survey_id: int) -> str:
    return f"survey:{survey_id}"


def pool_subject(team_id: int, period: str) -> str:
    return f"pool:{team_id}:{period}"


def team_subject(team_id: int, period: str) -> str:
    return f"team:{team_id}:{period}"


def org_subject(period: str) -> str:
    return f"org:{period}"


def cut_subject(cut: str, key: str, period: str) -> str:
    return f"{cut}:{key}:{period}"


def comments_subject(team_id: int, period: str) -> str:
    return f"comments:{team_id}:{period}"


def checkins_subject(team_id: int, period: str) -> str:
    return f"checkins:{team_id}:{period}"


def exposure_subject(team_id: int, period: str) -> str:
    return f"exposure:{team_id}:{period}"


# --------------------------------------------------------------------------- deciding


@dataclass(frozen=True)
class Request:
    """A figure to decide: its subject, the surveys it adds up (only the involvement group
    ``code`` of each when given), its minimum group, and whether complementary suppression
    already hid it."""

    subject: str
    survey_ids: tuple[int, ...]
    k: int
    code: str | None = None
    suppressed: bool = False


def counts_of(session: Session, survey_ids: Sequence[int], code: str | None = None) -> Counts:
    """Answer counts summed over surveys (one involvement group when ``code`` is given),
    added up by the database."""
    from sqlalchemy import func

    total: Counts = {}
    ids = sorted(set(survey_ids))
    cut, value = ("all", "") if code is None else ("involvement", code)
    for start in range(0, len(ids), _CHUNK):
        rows = session.execute(
            select(SealedCount.item, SealedCount.value, func.sum(SealedCount.count))
            .where(SealedCount.survey_id.in_(ids[start:start + _CHUNK]),
                   SealedCount.cut == cut, SealedCount.cut_value == value)
            .group_by(SealedCount.item, SealedCount.value))
        for item, answer, count in rows:
            values = total.setdefault(item, {})
            values[answer] = values.get(answer, 0) + int(count)
    return total


class Decider:
    """Decides and records figures for one use case that holds the decision lock (see
    :func:`deciding`). The caller commits."""

    def __init__(self, session: Session, ledger_set: ledgers.Ledgers,
                 memo: dict[object, dict] | None = None) -> None:
        self.session = session
        self.ledgers = ledger_set
        self.memo: dict[object, dict] = {} if memo is None else memo  # read once per run

    def cells(self, request: Request) -> dict[str, int]:
        """The non-empty cells a request adds up, with their respondents."""
        cells = self.ledgers.cells_of(request.survey_ids)
        if request.code is None:
            return cells
        return {c: n for c, n in cells.items() if c.split(":", 1)[1] == request.code}

    def decide(self, requests: Sequence[Request]) -> dict[str, Release]:
        """Decide each request in order, each against everything recorded before it
        (earlier requests included), and record every decision. A subject decided before
        keeps its recorded decision."""
        out = stored_many(self.session, [r.subject for r in requests])
        for req in requests:
            if req.subject not in out:
                out[req.subject] = self._decide_one(req)
        return out

    def _decide_one(self, req: Request) -> Release:
        cells = self.cells(req)
        n = sum(cells.values())
        decision = release.decide(n, req.k, suppressed=req.suppressed)
        if not decision.allowed:
            return self._store(req, cells, decision)
        kappa = self.ledgers.kappa(req.k)
        main = self.ledgers.prepare(kappa, RESPONDENTS, cells)
        decision = release.decide(n, req.k, cells=cells, ledger=main,
                                  record_as=req.subject)
        if not decision.allowed:
            return self._store(req, cells, decision)
        sizes = self.ledgers.sizes(())
        measures = [RESPONDENTS]
        for measure in ledgers.MEASURES[1:]:
            size = sum(sizes.get(measure, {}).get(c, 0) for c in cells)
            if size == 0:
                continue
            ledger = self.ledgers.prepare(kappa, measure, cells)
            if release.decide(size, req.k, cells=cells, ledger=ledger,
                              record_as=req.subject).allowed:
                measures.append(measure)
        counts = {m: {v: c for v, c in values.items() if counted(m, v)}
                  for m, values in counts_of(self.session, req.survey_ids, req.code).items()
                  if m in measures}
        released = self._store(req, cells, decision, n, counts, measures)
        return released

    def _store(self, req: Request, cells: Mapping[str, int], decision: release.Decision,
               n: int | None = None, counts: Counts | None = None,
               measures: Sequence[str] = ()) -> Release:
        record = ReleaseRecord(subject=req.subject, kind="sum",
                               cells=json.dumps(sorted(cells)), allowed=decision.allowed,
                               reason=decision.reason.value, k=req.k)
        if decision.allowed:
            record.numbers = json.dumps({"n": n, "counts": counts, "measures": list(measures)},
                                        sort_keys=True)
        self.session.add(record)
        self.session.flush()
        if decision.allowed:
            kappa = self.ledgers.kappa(req.k)
            self.ledgers.learn(record.id, req.subject, cells, req.k, measures,
                               [(kappa, m) for m in measures])
            return Release(req.subject, decision, n, dict(counts or {}), frozenset(measures))
        return Release(req.subject, decision)

    def attach(self, subject: str, *, findings: Sequence[Mapping[str, object]] = (),
               extra: Mapping[str, object] | None = None) -> None:
        """Store the findings (and other results) decided with an allowed figure."""
        record = self.session.scalar(
            select(ReleaseRecord).where(ReleaseRecord.subject == subject))
        if record is None or not record.allowed or record.numbers is None:
            raise ValueError(f"{subject} is not a released figure")
        numbers = json.loads(record.numbers)
        numbers["findings"] = [dict(f) for f in findings]
        if extra:
            numbers["extra"] = dict(extra)
        record.numbers = json.dumps(numbers, sort_keys=True)

    def store_comments(self, subject: str, k: int, decision: release.Decision,
                       authors: int | None = None, comments: Sequence[str] = ()) -> Release:
        """Record a pool's comment decision (masked and shuffled when allowed)."""
        record = ReleaseRecord(subject=subject, kind="comments", cells="[]",
                               allowed=decision.allowed, reason=decision.reason.value, k=k)
        if decision.allowed:
            record.numbers = json.dumps({"authors_at_least": authors,
                                         "comments": list(comments)})
        self.session.add(record)
        self.session.flush()
        return Release(subject, decision, authors if decision.allowed else None,
                       comments=tuple(comments) if decision.allowed else ())


    def store_exposure(self, subject: str, decision: release.Decision, team_size: int,
                       figures: Mapping[str, object] | None,
                       findings: Sequence[Mapping[str, object]] = ()) -> Release:
        """Record a team's exposure figures for a period (incident metadata, not answers),
        allowed or not by the team-size rule, with the flag decided with them."""
        record = ReleaseRecord(subject=subject, kind="exposure", cells="[]",
                               allowed=decision.allowed, reason=decision.reason.value,
                               k=decision.k)
        if decision.allowed:
            record.numbers = json.dumps({"team_size": team_size, "exposure": dict(figures or {}),
                                         "findings": [dict(f) for f in findings]},
                                        sort_keys=True)
        self.session.add(record)
        self.session.flush()
        if not decision.allowed:
            return Release(subject, decision)
        return Release(subject, decision, team_size, findings=tuple(findings),
                       extra=dict(figures or {}))

    def store_notice(self, subject: str, k: int, findings: Sequence[Mapping[str, object]]
                     ) -> Release:
        """Record a notice that is not a sum of answers (that someone asked for a
        check-in in a team's period), with the flag it raises."""
        decision = release.Decision(True, release.Reason.RELEASED, k)
        self.session.add(ReleaseRecord(
            subject=subject, kind="notice", cells="[]", allowed=True,
            reason=decision.reason.value, k=k,
            numbers=json.dumps({"findings": [dict(f) for f in findings]}, sort_keys=True)))
        self.session.flush()
        return Release(subject, decision, findings=tuple(findings))


@contextmanager
def deciding(session: Session, memo: dict[object, dict] | None = None) -> Iterator[Decider]:
    """The lock under which figures are decided, for a use case that already began its
    write transaction (``begin_write``): a PostgreSQL advisory lock held to the end of the
    transaction (SQLite's write lock already serialises writers) and the in-process lock
    around the ledgers. On any error the ledgers of the database are forgotten, since they
    may have learnt a release that was not stored; the caller commits inside the block."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
    ledger_set = ledgers.Ledgers(session)
    try:
        yield Decider(session, ledger_set, memo)
    except BaseException:
        ledgers.forget(session)
        raise
    finally:
        ledger_set.close()


__all__ = ["Counts", "Decider", "Release", "Request", "cell_id", "checkins_subject",
           "comments_subject",
           "counts_of", "cut_subject", "deciding",
           "exposure_subject", "org_subject", "pending", "pool_subject",
           "stored", "stored_many", "stored_with_prefix", "survey_subject", "team_subject"]
