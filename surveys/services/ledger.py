"""The differencing audit's memory: one ledger per published measure, kept in step with the
release records of the database.

A released figure is a sum over *sealed cells* (``"17:direct"``: survey 17's respondents who
chose that involvement answer). What it publishes is more than one sum: the number of
respondents, and for each statement, practice check and construct the answer counts of the
people who answered it. "Doesn't apply", "Not sure" and skipped questions make those groups
smaller than the respondents, so each *measure* has its own sizes per cell and its own
ledger (``analysis.audit.ReleaseLedger``), and a measure is published in a figure only when
its own ledger allows it. No combination of published figures then gives one item's answers
of fewer than k people, any more than it gives fewer than k respondents.

The ledgers of a database are built once per process from the allowed records and then
brought up to date with the records added since (by this process or another); a
:class:`Ledgers` is taken for one decision run, under the lock that serialises decisions
(``surveys.services.releases.deciding``), so nothing is added meanwhile except by the run
itself, which keeps them current as it records.

The minimum group a ledger audits for is the largest k of every figure ever released and of
the figure being decided: each survey's own k must hold wherever its answers are counted,
and a stricter k refuses every group a looser one would (see docs/release-guard.md).
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from analysis import items
from analysis.audit import ReleaseLedger
from surveys.models import ReleaseRecord, SealedCount

RESPONDENTS = "_n"
CONSTRUCT_MEASURES: tuple[str, ...] = tuple(f"construct:{c.id}" for c in items.CONSTRUCTS)
#: Everything a released figure can publish, each audited on its own.
MEASURES: tuple[str, ...] = (RESPONDENTS, *items.STATEMENT_IDS, *items.PRACTICE_IDS,
                             *CONSTRUCT_MEASURES)
_STATEMENT_VALUES = (1, 2, 3, 4, 5)
_PRACTICE_VALUES = (items.YES, items.NO)
_CHUNK = 500

Sizes = dict[str, dict[str, int]]  # measure -> cell -> people counted in it


def cell_id(survey_id: int, involvement: str) -> str:
    return f"{survey_id}:{involvement}"


def survey_of_cell(cell: str) -> int:
    return int(cell.split(":", 1)[0])


def counted(measure: str, value: int) -> bool:
    """Whether an answer value is part of what a measure publishes (and of its group)."""
    if measure in items.STATEMENT_BY_ID:
        return value in _STATEMENT_VALUES
    if measure in items.PRACTICE_BY_ID:
        return value in _PRACTICE_VALUES
    return measure == RESPONDENTS or measure in CONSTRUCT_MEASURES


def _measured():
    """The SQL condition for the sealed rows that count towards some measure."""
    return or_(
        SealedCount.item == RESPONDENTS,
        SealedCount.item.in_(CONSTRUCT_MEASURES),
        and_(SealedCount.item.in_(items.STATEMENT_IDS),
             SealedCount.value.in_(_STATEMENT_VALUES)),
        and_(SealedCount.item.in_(items.PRACTICE_IDS), SealedCount.value.in_(_PRACTICE_VALUES)),
    )


def cell_sizes(session: Session, survey_ids: Iterable[int] | None = None) -> Sizes:
    """People counted per measure and non-empty cell of these surveys (all when None)."""
    out: Sizes = defaultdict(dict)
    query = (select(SealedCount.survey_id, SealedCount.cut_value, SealedCount.item,
                    func.sum(SealedCount.count))
             .where(SealedCount.cut == "involvement", _measured())
             .group_by(SealedCount.survey_id, SealedCount.cut_value, SealedCount.item))
    if survey_ids is None:
        batches: Iterable[Sequence[int] | None] = [None]
    else:
        ids = sorted(set(survey_ids))
        batches = [ids[i:i + _CHUNK] for i in range(0, len(ids), _CHUNK)]
    for batch in batches:
        chunk = query if batch is None else query.where(SealedCount.survey_id.in_(batch))
        for survey_id, code, measure, size in session.execute(chunk):
            if size:
                out[measure][cell_id(survey_id, code)] = int(size)
    return dict(out)


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class _Fact:
    id: int
    subject: str
    cells: frozenset[str]
    measures: frozenset[str]


def record_measures(numbers: Mapping[str, object] | None, k: int) -> frozenset[str]:
    """The measures an allowed record published. Records made before measures were audited
    one by one list none; for them, every measure its stored counts showed (at least k
    people counted) is taken as published, which is what their pages showed."""
    if not numbers:
        return frozenset({RESPONDENTS})
    listed = numbers.get("measures")
    if isinstance(listed, list):
        return frozenset(listed) | {RESPONDENTS}
    shown = {RESPONDENTS}
    counts = numbers.get("counts") or {}
    for measure, values in counts.items():  # type: ignore[union-attr]
        size = sum(c for v, c in values.items() if counted(measure, int(v)))
        if measure in MEASURES and size >= k:
            shown.add(measure)
    return frozenset(shown)


def _facts(session: Session, after_id: int = 0) -> list[_Fact]:
    rows = session.execute(
        select(ReleaseRecord.id, ReleaseRecord.subject, ReleaseRecord.cells,
               ReleaseRecord.numbers, ReleaseRecord.k)
        .where(ReleaseRecord.allowed.is_(True), ReleaseRecord.kind == "sum",
               ReleaseRecord.id > after_id)
        .order_by(ReleaseRecord.id))
    return [_Fact(rid, subject, frozenset(json.loads(cells)),
                  record_measures(json.loads(numbers) if numbers else None, k))
            for rid, subject, cells, numbers, k in rows]


def _records_state(session: Session) -> tuple[int, int, int]:
    count, last, most_k = session.execute(
        select(func.count(), func.max(ReleaseRecord.id), func.max(ReleaseRecord.k)).where(
            ReleaseRecord.allowed.is_(True), ReleaseRecord.kind == "sum")).one()
    return int(count or 0), int(last or 0), int(most_k or 0)


# --------------------------------------------------------------------------- the cache


@dataclass
class _State:
    ledger: ReleaseLedger
    count: int
    last_id: int


_CACHE: OrderedDict[tuple[str, int, str], _State] = OrderedDict()
_LOCK = threading.RLock()
_CACHE_SIZE = 4 * len(MEASURES)


def clear_cache() -> None:
    """Forget every ledger in memory (rebuilt from the records on next use)."""
    with _LOCK:
        _CACHE.clear()


def forget(session: Session) -> None:
    """Forget this database's ledgers: they may have learnt a release that was not stored."""
    url = _url(session)
    with _LOCK:
        for key in [key for key in _CACHE if key[0] == url]:
            del _CACHE[key]


def _url(session: Session) -> str:
    return session.get_bind().url.render_as_string(hide_password=True)


class Ledgers:
    """This database's ledgers for one decision run; use under the decision lock.

    Creating it compares the cached ledgers with the records once; afterwards the run itself
    keeps them current (:meth:`learn`)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.url = _url(session)
        self.count, self.last_id, self.most_k = _records_state(session)
        self._sizes: Sizes = {}
        self._sized_surveys: set[int] = set()
        self._cells: dict[int, list[str]] = {}  # survey -> its non-empty cells
        _LOCK.acquire()

    def close(self) -> None:
        _LOCK.release()

    def kappa(self, k: int) -> int:
        """The minimum group to audit a figure of minimum group ``k`` for."""
        return max(k, self.most_k)

    def sizes(self, survey_ids: Iterable[int]) -> Sizes:
        """Cell sizes per measure for these surveys (read once per run)."""
        wanted = set(survey_ids) - self._sized_surveys
        if wanted:
            for measure, cells in cell_sizes(self.session, wanted).items():
                self._sizes.setdefault(measure, {}).update(cells)
                if measure == RESPONDENTS:
                    for cell in cells:
                        self._cells.setdefault(survey_of_cell(cell), []).append(cell)
            self._sized_surveys |= wanted
        return self._sizes

    def cells_of(self, survey_ids: Iterable[int]) -> dict[str, int]:
        """The non-empty cells of these surveys with their respondents."""
        ids = list(survey_ids)
        respondents = self.sizes(ids).get(RESPONDENTS, {})
        return {c: respondents[c] for sid in ids for c in self._cells.get(sid, ())}

    def get(self, kappa: int, measure: str) -> ReleaseLedger:
        """The ledger of one measure audited for ``kappa``, current with the records."""
        key = (self.url, kappa, measure)
        state = _CACHE.get(key)
        if state is not None and (state.count, state.last_id) == (self.count, self.last_id):
            _CACHE.move_to_end(key)
            return state.ledger
        if state is not None and self.count > state.count and self.last_id > state.last_id:
            newer = _facts(self.session, state.last_id)
            if len(newer) == self.count - state.count and self._catch_up(state.ledger,
                                                                          measure, newer):
                state.count, state.last_id = self.count, self.last_id
                _CACHE.move_to_end(key)
                return state.ledger
        facts = _facts(self.session)
        self.sizes({survey_of_cell(c) for f in facts for c in f.cells})
        sizes = self._sizes.get(measure, {})
        ledger = ReleaseLedger(
            {c: sizes.get(c, 0) for f in facts for c in f.cells}, kappa,
            [(f.subject, f.cells) for f in facts if measure in f.measures])
        _CACHE[key] = _State(ledger, len(facts), facts[-1].id if facts else 0)
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
        return ledger

    def _catch_up(self, ledger: ReleaseLedger, measure: str, facts: Sequence[_Fact]) -> bool:
        sizes = self.sizes({survey_of_cell(c) for f in facts for c in f.cells}).get(measure, {})
        try:
            ledger.add_cells({c: sizes.get(c, 0) for f in facts for c in f.cells})
            for fact in facts:
                if measure in fact.measures:
                    ledger.record_fact(fact.cells, fact.subject)
        except ValueError:
            return False
        return True

    def prepare(self, kappa: int, measure: str, cells: Iterable[str]) -> ReleaseLedger:
        """The ledger of a measure with these cells made known (their sizes for it; the
        cells' surveys must have been sized, as :meth:`cells_of` does)."""
        sizes = self._sizes.get(measure, {})
        ledger = self.get(kappa, measure)
        ledger.add_cells({c: sizes.get(c, 0) for c in cells})
        return ledger

    def learn(self, record_id: int, subject: str, cells: Iterable[str], k: int,
              measures: Iterable[str], decided_in: Iterable[tuple[int, str]]) -> None:
        """A release was stored (``record_id``): the ledgers that decided it have recorded
        it; every other cached ledger of this database records it as a fact, and all of them
        move to the new state."""
        cells = frozenset(cells)
        measures = frozenset(measures)
        decided = set(decided_in)
        before = (self.count, self.last_id)
        self.sizes({survey_of_cell(c) for c in cells})
        self.count += 1
        self.last_id = record_id
        self.most_k = max(self.most_k, k)
        for key, state in list(_CACHE.items()):
            url, kappa, measure = key
            if url != self.url:
                continue
            if (state.count, state.last_id) != before:
                del _CACHE[key]
                continue
            try:
                if measure in measures and (kappa, measure) not in decided:
                    sizes = self._sizes.get(measure, {})
                    state.ledger.add_cells({c: sizes.get(c, 0) for c in cells})
                    state.ledger.record_fact(cells, subject)
            except ValueError:
                del _CACHE[key]
                continue
            state.count, state.last_id = self.count, self.last_id
