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
below finds a violating set that the new release makes computable whenever one exists, and
it verifies every candidate with exact rational
arithmetic, so a refusal always names a real, computable group. If the search exceeds its
node budget the release is refused (it could not be shown safe), so the audit never errs on
the unsafe side.

Algorithm
---------
The ledger keeps a basis of ``L`` in reduced row echelon form with exact rationals (the
"audit expert" of Chin and Ozsoyoglu 1982 keeps the same structure to detect when a single
value becomes computable). Each basis row has a *pivot* cell, is 1 at its pivot, 0 at every
other pivot, and holds rationals at the remaining (*free*) cells; a column index maps each free
cell to the rows that use it. A new pivot is chosen where the fewest rows must be updated
(Markowitz's rule), which keeps the basis sparse.

In free-cell coordinates the image of a set ``U`` in the quotient by ``L`` is
``D(U)_f = [f in U] - sum(row_p[f] for pivots p in U)``; ``U`` is computable when it is zero.
A new release ``v`` is reduced against the basis to its residual ``r`` (cost: the rows of the
pivots inside ``v``). If ``r = 0`` the release adds nothing and is allowed. Otherwise a set
``T`` becomes computable exactly when ``D(T) = alpha * r`` with ``alpha != 0``. The search
builds ``T`` one cell at a time with forced choices, on the basis before the release:

* every free cell ``f`` has the certificate ``e_f - sum_p row_p[f] e_p`` orthogonal to ``L``,
  supported on ``f`` and the pivots whose rows use ``f``;
* while ``D(U)_f`` must still change (``r_f != 0`` but ``D(U)_f = 0``, or ``r_f = 0`` but
  ``D(U)_f != 0``, or ``D(U)`` and ``r`` not yet proportional at one of two cells), any
  completion must add a cell of that support, so the search branches over it;
* only cells that fit the weight budget (``k - 1`` minus the weight so far, or less once a
  smaller group is found) are tried, so the depth is at most ``k - 1``;
* completions by a single further cell are not enumerated: two random linear functionals of
  the quotient, reduced modulo the prime ``2**61 - 1``, give every cell a fingerprint, and the
  one cell that could complete ``U`` is looked up by fingerprint and confirmed with exact
  arithmetic. Exact identities over the rationals also hold modulo the prime, so the lookup
  never misses a real completion; a false match is rejected by the exact check.

The search runs before the release is recorded; :meth:`ReleaseLedger.record` then adds the
residual to the basis. Cost of a decision: reducing ``v``, indexing the fingerprints of the
light cells (linear in the cells) and the bounded search, whose size is the product of the
certificate supports met on the way (at most ``k - 2`` levels before the lookup). Worst cases
are exponential -- deciding whether a subspace holds a small 0/1 vector is a hard
combinatorial problem in general (cf. Kleinberg, Papadimitriou and Raghavan 2003 on
auditing) -- which is why the node budget exists and refuses rather than guesses.

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

import random
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from types import MappingProxyType

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


_P = (1 << 61) - 1


def _mod(x: Number) -> int:
    if isinstance(x, Fraction):
        return x.numerator * pow(x.denominator, -1, _P) % _P
    return x % _P


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
        # Cells with 1 to k - 1 respondents: the only ones a small group can be made of.
        self._light: dict[Cell, None] = {}
        self.add_cells(sizes)
        # Basis of the span: pivot cell -> {free cell: nonzero rational}.
        self._rows: dict[Cell, dict[Cell, Number]] = {}
        # Free cell -> pivots whose row is nonzero there.
        self._col: dict[Cell, set[Cell]] = {}
        # Fingerprints (see _row_print): pivot -> pair mod _P, free cell -> random pair.
        self._print: dict[Cell, tuple[int, int]] = {}
        self._zval: dict[Cell, tuple[int, int]] = {}
        self._rng = random.Random(0x5EED)
        self._releases: dict[Hashable, frozenset[Cell]] = {}
        unsafe = []
        for release_id, cells in releases:
            cells = frozenset(cells)
            if verify_history and not self.check(cells).allowed:
                unsafe.append(release_id)
            self._releases[release_id] = cells
            residual = self._residual(self._positive(cells))
            if residual:
                self._add(residual)
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
            if 0 < size < self.k:
                self._light[cell] = None

    @property
    def releases(self) -> Mapping[Hashable, frozenset[Cell]]:
        """Recorded releases by id (read-only view)."""
        return MappingProxyType(self._releases)

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

    def record_fact(self, cells: Iterable[Cell], release_id: Hashable) -> None:
        """Record a release published elsewhere (another ledger's decision, another
        process), without a check: it is a fact, as the historical releases are.

        Raises
        ------
        ValueError
            If a cell is unknown or the id is already used for a different set.
        """
        cells = frozenset(cells)
        known = self._releases.get(release_id)
        if known is not None:
            if known != cells:
                raise ValueError(f"release id {release_id!r} is already used for another set")
            return
        residual = self._residual(self._positive(cells))
        if residual:
            self._add(residual)
        self._releases[release_id] = cells

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
            return self._refuse_small(total), False
        residual = self._residual(positive)
        if not residual:
            return AuditDecision(True, _ALREADY_KNOWN), False
        try:
            best = self._search(residual)
        except _SearchBudgetExceeded:
            return AuditDecision(False, _TOO_COMPLEX), False
        if best is not None:
            return AuditDecision(False, _refusal_reason(k), best), False
        if keep:
            self._add(residual)
        return AuditDecision(True, _ALLOWED), True

    def _refuse_small(self, total: int) -> AuditDecision:
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
        # Fewest rows to update (Markowitz), which also keeps the search roots few; then
        # larger cells, which fit the weight budget of a small group less often.
        return (len(self._col.get(cell, ())), -self._size[cell], self._order[cell])

    def _add(self, residual: dict[Cell, Number]) -> None:
        """Add a reduced, nonzero vector to the basis and keep it reduced."""
        pivot = min(residual, key=self._pivot_key)
        scale = residual[pivot]
        new_row = {
            f: _norm(Fraction(x) / scale) if scale != 1 else x
            for f, x in residual.items()
            if f != pivot
        }
        rows, col = self._rows, self._col
        users = col.pop(pivot, set())
        for q in users:
            row = rows[q]
            coef = row.pop(pivot)
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
        for q in (pivot, *users):
            self._print[q] = self._row_print(rows[q])

    # -- fingerprints --------------------------------------------------------------------
    #
    # Two random linear functionals on the quotient (free-cell coordinates), reduced modulo
    # the prime _P, give each cell a fingerprint. Exact identities over the rationals hold
    # modulo _P too (the denominators here are tiny), so a computable set always has
    # matching fingerprints; a match is only a candidate, checked with exact arithmetic.

    def _z(self, f: Cell) -> tuple[int, int]:
        z = self._zval.get(f)
        if z is None:
            z = (self._rng.randrange(1, _P), self._rng.randrange(1, _P))
            self._zval[f] = z
        return z

    def _row_print(self, row: dict[Cell, Number]) -> tuple[int, int]:
        a = b = 0
        for f, x in row.items():
            z1, z2 = self._z(f)
            m = _mod(x)
            a += m * z1
            b += m * z2
        return (-a % _P, -b % _P)

    def _cell_print(self, cell: Cell) -> tuple[int, int]:
        fp = self._print.get(cell)
        return fp if fp is not None else self._z(cell)

    # -- search --------------------------------------------------------------------------

    def _search(self, residual: dict[Cell, Number]) -> int | None:
        """Smallest group of 1..k-1 respondents the new release would make computable.

        Works on the current basis, before the release is added. In free-cell coordinates
        the image of a set ``U`` in the quotient by the span is
        ``D(U)_f = [f in U] - sum(row_p[f] for pivots p in U)``, and ``T`` becomes
        computable with the new release ``v`` exactly when ``D(T) = alpha * r`` for the
        residual ``r`` of ``v`` and some ``alpha != 0`` (``alpha = 0``: computable before).

        Each free cell ``f`` has the certificate ``e_f - sum_p row_p[f] e_p`` orthogonal to
        the span; its support is ``f`` and the pivots whose rows use ``f``. A completion
        ``T`` of ``U`` must add a cell of that support whenever ``D(U)_f`` has to change:
        when ``r_f != 0`` and ``D(U)_f = 0`` (so every new group meets it), when ``r_f = 0``
        and ``D(U)_f != 0``, or, by pigeonhole, at one of two cells where ``D(U)`` and ``r``
        are not yet proportional. The search branches on such a support (the one with the
        fewest usable cells among the four least-used coordinates), keeping only cells that
        fit the weight budget. Completions by one more cell are not enumerated: they
        are looked up by fingerprint (``g(x) = -g(U)``) and confirmed exactly.
        """
        k, size, rows, col = self.k, self._size, self._rows, self._col
        best: list[int | None] = [None]
        seen: set[frozenset[Cell]] = set()
        budget = [self.node_budget]

        # Fingerprint of the residual, and g(x) = h1(x) rho2 - h2(x) rho1, which is zero
        # summed over any T with D(T) parallel to r.
        rho1 = rho2 = 0
        for f, x in residual.items():
            z1, z2 = self._z(f)
            m = _mod(x)
            rho1 += m * z1
            rho2 += m * z2
        rho1 %= _P
        rho2 %= _P

        def g_of(cell: Cell) -> int:
            h1, h2 = self._cell_print(cell)
            return (h1 * rho2 - h2 * rho1) % _P

        # A small group is made of light cells only (a cell of k or more is a group of at
        # least k by itself); with none in play there is nothing to search.
        light: dict[int, list[Cell]] = {}
        for cell in self._light:
            if cell in rows or cell in col or cell in residual:
                light.setdefault(g_of(cell), []).append(cell)
        if not light:
            return None

        def shifted(d: dict[Cell, Number], x: Cell) -> dict[Cell, Number]:
            nxt = dict(d)
            row = rows.get(x)
            changes = ((x, 1),) if row is None else ((f, -y) for f, y in row.items())
            for f, y in changes:
                z = nxt.get(f, 0) + y
                if z == 0:
                    nxt.pop(f, None)
                else:
                    nxt[f] = z
            return nxt

        def parallel(d: dict[Cell, Number]) -> bool:
            if len(d) != len(residual):
                return False
            f0 = next(iter(residual))
            if f0 not in d:
                return False
            alpha = Fraction(d[f0]) / residual[f0]
            return all(d.get(f, 0) == alpha * x for f, x in residual.items())

        def limit() -> int:
            return k - 1 if best[0] is None else best[0] - 1

        def visit(chosen: frozenset[Cell], d: dict[Cell, Number], weight: int, g: int) -> None:
            if chosen in seen:
                return
            seen.add(chosen)
            budget[0] -= 1
            if budget[0] < 0:
                raise _SearchBudgetExceeded
            if parallel(d):
                best[0] = weight
                return
            room = limit() - weight
            if room < 1:
                return
            for x in light.get(-g % _P, ()):
                if x not in chosen and size[x] <= room and parallel(shifted(d, x)):
                    best[0] = weight + size[x]
                    room = limit() - weight
            if room < 2:
                return
            # Cells worth adding leave room for one more (a completion by one cell was
            # looked up above).
            fits = limit() - weight - 1
            must = [f for f in residual if f not in d]
            must += [f for f in d if f not in residual]
            if must:
                branch = None
                for f in sorted(must, key=lambda c: len(col.get(c, ())))[:4]:
                    opts = [
                        x for x in (f, *col.get(f, ())) if x not in chosen and size[x] <= fits
                    ]
                    if branch is None or len(opts) < len(branch):
                        branch = opts
                        if len(opts) <= 1:
                            break
            else:
                f0 = next(iter(residual))
                alpha = Fraction(d[f0]) / residual[f0]
                odd = next(f for f in residual if d[f] != alpha * residual[f])
                branch = [
                    x
                    for x in dict.fromkeys((f0, *col.get(f0, ()), odd, *col.get(odd, ())))
                    if x not in chosen and size[x] <= fits
                ]
            for x in branch:
                if size[x] <= limit() - weight - 1:
                    visit(chosen | {x}, shifted(d, x), weight + size[x], (g + g_of(x)) % _P)

        visit(frozenset(), {}, 0, 0)
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
