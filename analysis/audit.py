"""Differencing audit: may a new release be published next to everything published before?

Model
-----
Sealed survey results are kept per *cell* (for example survey 17, involvement "directly
involved"). The auditor knows every cell's respondent count (its *size*). A released statistic
is a sum over a set of cells (respondent count and answer-count vectors); it is recorded as
that set. Someone who holds every released number can form any linear combination of them, so
the released sums determine the sum over a set of cells ``T`` exactly when the indicator
``1_T`` lies in the linear span ``L`` of the released indicators (over the rationals). Such a
``T`` is *computable*. A release is refused when it would make a set computable whose size is
between 1 and ``k - 1`` respondents: the answers of a group smaller than the minimum.

Cells with no respondents are dropped before any algebra: their answer sums are zero, so an
attacker who knows (or guesses) that they are empty loses nothing by ignoring them. Dropping
them only makes more sets computable, so the audit stays on the safe side.

Criterion: why "atoms in the span" is not enough
------------------------------------------------
The release sets partition the cells into *atoms* (cells that lie in exactly the same released
sets). Every vector of ``L`` is constant on atoms, so every computable set is a union of atoms.
The design text asks that no atom whose indicator lies in ``L`` be smaller than ``k``. That
test is necessary but **not sufficient**: a union of atoms can be computable although none of
its atoms is. With releases ``{a, b}``, ``{b, c}``, ``{c, d}`` every cell is its own atom and
none of them is in the span, yet ``{a, b} - {b, c} + {c, d} = {a, d}``; with ``a = d = 1``
respondent and ``b = c = 5`` every release has at least 5 people, no atom is computable, and
the two people in ``a`` and ``d`` are exposed (a tracker in the sense of Denning et al. 1979).
The audit therefore uses the sound criterion

    no set ``T`` of cells with ``1_T`` in ``L`` has ``1 <= size(T) <= k - 1``,

which implies the atom condition (an atom in ``L`` is such a ``T``). Because every non-empty
cell holds at least one person, a violating ``T`` has at most ``k - 1`` non-empty cells, and
only cells with fewer than ``k`` respondents can be part of it. The test is exact: the search
below finds a violating set whenever one exists, and it verifies every candidate with exact
rational arithmetic, so a refusal always names a real, computable group. If the search ever
exceeds its node budget the release is refused (it could not be shown safe), so the audit never
errs on the unsafe side.

Algorithm
---------
The ledger keeps a basis of ``L`` in reduced row echelon form with exact rationals (the
"audit expert" of Chin and Ozsoyoglu 1982 keeps the same structure to detect when a single
value becomes computable). Each basis row has a *pivot* cell, is 1 at its pivot, 0 at every
other pivot, and holds rationals at the remaining (*free*) cells; a column index maps each free
cell to the rows that use it. Pivots are chosen among cells with at least ``k`` respondents
when possible, then the largest cells, so few rows can take part in a small group.

A vector of ``L`` is fixed by its values at the pivots, so a computable ``T`` is
``T = S + (free cells where the sum of the rows of S is 1)`` for the set ``S`` of pivots it
contains, and it is computable exactly when that sum is 0 or 1 at every free cell. A new
release ``v`` is reduced against the basis (cost: the rows of the pivots inside ``v``). If
nothing is left, ``v`` adds no information and is allowed. Otherwise the remainder becomes a
new row and its pivot is eliminated from the rows that use it (the *changed* rows). Assuming
the earlier releases were safe, every newly computable set has a pivot set ``S`` that contains
a changed row, weighs at most ``k - 1`` at its pivots, and (for a minimal such set) is
connected through shared free cells. The search grows ``S`` from each changed row with a
forced choice at each step:

* if the running sum is not 0 or 1 at some free cell, a row using that cell must be added;
* if it is 0/1 everywhere but weighs ``k`` or more, at least ``m`` of the cells where it is 1
  must be cancelled (``m`` follows from the weight budget), so by pigeonhole a row using one
  of the ``(ones - m + 1)`` least-used such cells must be added.

The depth is at most ``k - 1``, the branching is the number of rows using a cell, and a
linear functional tells in O(|S|) whether a found set was already computable before ``v``.
The tentative update is undone after a check and kept after :meth:`ReleaseLedger.record`.
Cost of a decision: reducing ``v`` (sum of the lengths of the rows it touches), eliminating
the new pivot (rows using it times row length) and the bounded search. Worst cases are
exponential -- deciding whether a subspace holds a small 0/1 vector is a hard combinatorial
problem in general (cf. Kleinberg, Papadimitriou and Raghavan 2003 on auditing) -- which is
why the node budget exists and refuses rather than guesses.

What this does not cover
------------------------
Linear computability is the whole model. Inference from bounds and integrality (every count
is a non-negative integer; a computable group of ``k`` people who all gave the same answer
reveals each of them; reconstruction from many noisy or overlapping sums, Dinur and Nissim
2003) is outside it, as is a respondent subtracting their own answer from a group of exactly
``k``. Refusals depend only on which sets were released and on cell sizes, never on answers,
so a refusal does not leak answers (the concern of simulatable auditing, Kenthapadi, Mishra
and Nissim 2005), though it may hint that some group is small.

References
----------
.. [1] Fellegi, I. P. (1972). On the question of statistical confidentiality. JASA 67(337).
.. [2] Denning, D. E., Denning, P. J. and Schwartz, M. D. (1979). The tracker: a threat to
   statistical database security. ACM TODS 4(1).
.. [3] Cox, L. H. (1980). Suppression methodology and statistical disclosure control.
   JASA 75(370).
.. [4] Chin, F. Y. and Ozsoyoglu, G. (1982). Auditing and inference control in statistical
   databases. IEEE Transactions on Software Engineering SE-8(6).
.. [5] Dinur, I. and Nissim, K. (2003). Revealing information while preserving privacy.
   PODS 2003.
.. [6] Kleinberg, J., Papadimitriou, C. and Raghavan, P. (2003). Auditing Boolean
   attributes. Journal of Computer and System Sciences 66(1).
.. [7] Kenthapadi, K., Mishra, N. and Nissim, K. (2005). Simulatable auditing. PODS 2005.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction

__all__ = ["AuditDecision", "ReleaseLedger"]

Cell = Hashable
Number = int | Fraction

#: Search states explored before a release is refused as "not shown safe".
DEFAULT_NODE_BUDGET = 200_000


@dataclass(frozen=True)
class AuditDecision:
    """Outcome of :meth:`ReleaseLedger.check`.

    Attributes
    ----------
    allowed : bool
        Whether the release may be published.
    reason : str
        Plain-words explanation fit for a manager. It never names cells or sizes below k.
    smallest_group : int or None
        For a refusal: the number of respondents in the smallest group the audit found that
        would become computable. It is below k, so it is for internal logs only and must not
        be shown. ``None`` for allowed releases and for refusals without a found group.
    """

    allowed: bool
    reason: str
    smallest_group: int | None = None


def _norm(x: Number) -> Number:
    if isinstance(x, Fraction) and x.denominator == 1:
        return x.numerator
    return x


class _SearchBudgetExceeded(Exception):
    pass


class ReleaseLedger:
    """Every release published so far, kept in a form that decides new ones quickly.

    Parameters
    ----------
    sizes : Mapping
        Respondent count of every sealed cell, keyed by any hashable cell id. Counts are
        non-negative integers.
    k : int
        The minimum group. Groups of 1 to ``k - 1`` respondents must never be computable.
    releases : iterable of (release_id, iterable of cell ids), optional
        Releases already published, oldest first. They are recorded as they are, without a
        check: they are facts. Use ``verify_history=True`` to find which of them exposed a
        small group.
    verify_history : bool, optional
        Check each historical release before recording it and list those that would have been
        refused in :attr:`unsafe_history`.
    node_budget : int, optional
        Search states explored per decision before refusing as "not shown safe".

    Raises
    ------
    ValueError
        For a negative or non-integer size, a ``k`` below 1, or a release naming an unknown
        cell.

    Examples
    --------
    >>> ledger = ReleaseLedger({"a": 1, "b": 5, "c": 5, "d": 1}, k=5)
    >>> ledger.record({"a", "b"}).allowed and ledger.record({"b", "c"}).allowed
    True
    >>> ledger.check({"c", "d"}).allowed  # {a,b} - {b,c} + {c,d} = {a,d}: two people
    False
    """

    def __init__(
        self,
        sizes: Mapping[Cell, int],
        k: int,
        releases: Iterable[tuple[Hashable, Iterable[Cell]]] = (),
        *,
        verify_history: bool = False,
        node_budget: int = DEFAULT_NODE_BUDGET,
    ) -> None:
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        if isinstance(node_budget, bool) or not isinstance(node_budget, int) or node_budget < 1:
            raise ValueError(f"node_budget must be a positive integer, got {node_budget!r}")
        self.k = k
        self.node_budget = node_budget
        self._size: dict[Cell, int] = {}
        self._order: dict[Cell, int] = {}
        self.add_cells(sizes)
        # Basis of the span: pivot cell -> {free cell: nonzero rational}.
        self._rows: dict[Cell, dict[Cell, Number]] = {}
        # Free cell -> pivots whose row is nonzero there.
        self._col: dict[Cell, set[Cell]] = {}
        self._releases: dict[Hashable, frozenset[Cell]] = {}
        unsafe = []
        for release_id, cells in releases:
            cells = frozenset(cells)
            if verify_history and not self.check(cells).allowed:
                unsafe.append(release_id)
            self._releases[release_id] = cells
            self._add(self._residual(self._positive(cells)))
        #: Ids of historical releases that exposed a small group (with ``verify_history``).
        self.unsafe_history: tuple[Hashable, ...] = tuple(unsafe)

    # -- public API ----------------------------------------------------------------------

    def add_cells(self, sizes: Mapping[Cell, int]) -> None:
        """Make newly sealed cells known; a known cell's size cannot change.

        Raises
        ------
        ValueError
            For a negative or non-integer size, or a different size for a known cell.
        """
        for cell, size in sizes.items():
            if isinstance(size, bool) or not isinstance(size, int) or size < 0:
                raise ValueError(f"cell sizes must be non-negative integers, got {size!r}")
            if cell in self._size:
                if self._size[cell] != size:
                    raise ValueError("a sealed cell's size cannot change")
                continue
            self._size[cell] = size
            self._order[cell] = len(self._order)

    @property
    def releases(self) -> Mapping[Hashable, frozenset[Cell]]:
        """Recorded releases by id (read-only view)."""
        return dict(self._releases)

    @property
    def rank(self) -> int:
        """Dimension of the span of everything released."""
        return len(self._rows)

    def size_of(self, cells: Iterable[Cell]) -> int:
        """Respondents in a set of cells."""
        return sum(self._size_checked(c) for c in set(cells))

    def check(self, cells: Iterable[Cell]) -> AuditDecision:
        """Decide whether releasing the sum over ``cells`` is allowed.

        Parameters
        ----------
        cells : iterable of cell ids

        Returns
        -------
        AuditDecision

        Raises
        ------
        ValueError
            If a cell is unknown.
        """
        decision, _ = self._decide(frozenset(cells), keep=False)
        return decision

    def record(self, cells: Iterable[Cell], release_id: Hashable | None = None) -> AuditDecision:
        """Check a release and, if allowed, record it as published.

        Parameters
        ----------
        cells : iterable of cell ids
        release_id : hashable, optional
            Defaults to the next integer.

        Returns
        -------
        AuditDecision
            The (allowing) decision.

        Raises
        ------
        ValueError
            If the release is refused (nothing is recorded), a cell is unknown, or the id is
            already used for a different set.
        """
        cells = frozenset(cells)
        if release_id is None:
            release_id = len(self._releases)
            while release_id in self._releases:
                release_id += 1
        if release_id in self._releases and self._releases[release_id] != cells:
            raise ValueError(f"release id {release_id!r} is already used for another set")
        decision, _ = self._decide(cells, keep=True)
        if not decision.allowed:
            raise ValueError(f"release refused: {decision.reason}")
        self._releases[release_id] = cells
        return decision

    # -- decision ------------------------------------------------------------------------

    def _size_checked(self, cell: Cell) -> int:
        try:
            return self._size[cell]
        except KeyError:
            raise ValueError(f"unknown cell {cell!r}") from None

    def _positive(self, cells: frozenset[Cell]) -> frozenset[Cell]:
        return frozenset(c for c in cells if self._size_checked(c) > 0)

    def _decide(self, cells: frozenset[Cell], keep: bool) -> tuple[AuditDecision, bool]:
        k = self.k
        positive = self._positive(cells)
        total = sum(self._size[c] for c in positive)
        if 0 < total < k:
            return self._refuse_small(positive, total), False
        residual = self._residual(positive)
        if not residual:
            return AuditDecision(True, _ALREADY_KNOWN), False
        undo = self._add(residual)
        try:
            best = self._search(undo)
        except _SearchBudgetExceeded:
            self._undo(undo)
            decision = AuditDecision(False, _TOO_COMPLEX)
            return decision, False
        if best is not None:
            self._undo(undo)
            return AuditDecision(False, _refusal_reason(k), best), False
        if not keep:
            self._undo(undo)
        return AuditDecision(True, _ALLOWED), True

    def _refuse_small(self, positive: frozenset[Cell], total: int) -> AuditDecision:
        return AuditDecision(
            False,
            f"Refused: fewer than {self.k} people are counted in this result, the minimum "
            "group needed before anything is shown.",
            total,
        )

    # -- linear algebra ------------------------------------------------------------------

    def _residual(self, positive: frozenset[Cell]) -> dict[Cell, Number]:
        """``1_positive`` minus its part in the span, on free cells only."""
        res: dict[Cell, Number] = {}
        rows = self._rows
        for c in positive:
            if c not in rows:
                res[c] = res.get(c, 0) + 1
        for c in positive:
            row = rows.get(c)
            if row is None:
                continue
            for f, val in row.items():
                res[f] = res.get(f, 0) - val
        return {f: _norm(x) for f, x in res.items() if x != 0}

    def _pivot_key(self, cell: Cell) -> tuple[int, int, int]:
        size = self._size[cell]
        return (0 if size >= self.k else 1, -size, self._order[cell])

    def _add(self, residual: dict[Cell, Number]) -> tuple[Cell, dict[Cell, Number], dict]:
        """Add a reduced, nonzero vector to the basis; return what :meth:`_undo` needs."""
        if not residual:
            return None  # type: ignore[return-value]
        pivot = min(residual, key=self._pivot_key)
        scale = residual[pivot]
        new_row = {
            f: _norm(Fraction(x) / scale) if scale != 1 else x
            for f, x in residual.items()
            if f != pivot
        }
        rows, col = self._rows, self._col
        users = col.pop(pivot, set())
        old_rows: dict[Cell, dict[Cell, Number]] = {}
        coefs: dict[Cell, Number] = {}
        for q in users:
            row = rows[q]
            old_rows[q] = dict(row)
            coef = row.pop(pivot)
            coefs[q] = coef
            for f, x in new_row.items():
                y = row.get(f, 0) - coef * x
                if y == 0:
                    if f in row:
                        del row[f]
                        col[f].discard(q)
                else:
                    if f not in row:
                        col.setdefault(f, set()).add(q)
                    row[f] = _norm(y)
        rows[pivot] = new_row
        for f in new_row:
            col.setdefault(f, set()).add(pivot)
        return (pivot, old_rows, coefs)

    def _undo(self, token: tuple[Cell, dict[Cell, Number], dict]) -> None:
        pivot, old_rows, _ = token
        rows, col = self._rows, self._col
        for f in rows.pop(pivot):
            s = col[f]
            s.discard(pivot)
            if not s:
                del col[f]
        for q, old in old_rows.items():
            for f in rows[q]:
                s = col[f]
                s.discard(q)
                if not s:
                    del col[f]
            rows[q] = old
            for f in old:
                col.setdefault(f, set()).add(q)

    # -- search --------------------------------------------------------------------------

    def _search(self, token: tuple[Cell, dict[Cell, Number], dict]) -> int | None:
        """Smallest size found of a newly computable group of 1..k-1 respondents, or None."""
        pivot, _, coefs = token
        k, size, rows, col = self.k, self._size, self._rows, self._col
        # phi(row) is the coefficient of the new direction: 0 for untouched rows.
        phi: dict[Cell, Number] = {q: -c for q, c in coefs.items()}
        phi[pivot] = 1
        roots = [p for p in phi if size[p] < k]
        if not roots:
            return None
        best: list[int | None] = [None]
        seen: set[frozenset[Cell]] = set()
        budget = [self.node_budget]

        def visit(chosen: frozenset[Cell], total: dict[Cell, Number], w_pivots: int) -> None:
            if chosen in seen:
                return
            seen.add(chosen)
            budget[0] -= 1
            if budget[0] < 0:
                raise _SearchBudgetExceeded
            bad_cols = []
            ones = []
            weight = w_pivots
            for f, x in total.items():
                if x == 1:
                    ones.append(f)
                    weight += size[f]
                elif x != 0:
                    bad_cols.append(f)
            limit = k - 1 if best[0] is None else best[0] - 1
            if bad_cols:
                f = min(bad_cols, key=lambda c: len(col.get(c, ())))
                candidates = col.get(f, set()) - chosen
            elif weight <= k - 1:
                if sum(phi.get(p, 0) for p in chosen) != 0:
                    if best[0] is None or weight < best[0]:
                        best[0] = weight
                    return
                # Already computable before this release (an earlier leak): look further.
                candidates = set()
                for p in chosen:
                    for f in rows[p]:
                        candidates |= col[f]
                candidates -= chosen
            else:
                # Every later row adds at least one respondent at its pivot, so the cells
                # kept at 1 may weigh at most `room`; a set of ones heavier than that cannot
                # all stay, and one of them must be cancelled by the next row.
                room = limit - w_pivots - 1
                if room < 0:
                    return
                must = []
                heavy = 0
                for f in sorted(ones, key=lambda c: len(col.get(c, ()))):
                    must.append(f)
                    heavy += size[f]
                    if heavy > room:
                        break
                candidates = set()
                for f in must:
                    candidates |= col.get(f, set())
                candidates -= chosen
            for p in candidates:
                wp = w_pivots + size[p]
                if wp > (k - 1 if best[0] is None else best[0] - 1):
                    continue
                nxt = dict(total)
                for f, x in rows[p].items():
                    y = nxt.get(f, 0) + x
                    if y == 0:
                        nxt.pop(f, None)
                    else:
                        nxt[f] = y
                visit(chosen | {p}, nxt, wp)

        for root in roots:
            visit(frozenset((root,)), dict(rows[root]), size[root])
        return best[0]


_ALLOWED = (
    "Allowed: together with everything already shown, this result does not let anyone work "
    "out the answers of a group smaller than the minimum."
)
_ALREADY_KNOWN = (
    "Allowed: this result follows from results already shown, so it reveals nothing new."
)
_TOO_COMPLEX = (
    "Refused: the audit could not confirm, within its time limit, that this result keeps "
    "every group at or above the minimum, so it stays hidden."
)


def _refusal_reason(k: int) -> str:
    return (
        "Refused: combined with results already shown, this result would let someone work out "
        f"the answers of a group of fewer than {k} people by subtracting one total from "
        "another."
    )
