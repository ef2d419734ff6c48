"""Complementary suppression for cuts of a group and for the team hierarchy.

A group (a survey, a team's pooled period) is released only with at least ``k`` respondents.
Its cuts (by involvement, by incident kind) are released cell by cell, and a cell that is
hidden must not be recoverable as "group total minus the shown cells". *Primary* suppression
hides cells below ``k``; *complementary* suppression hides enough further cells that what is
hidden in total is either nobody or at least ``k`` people (Cox 1980 [2]_; the rule goes back
to Fellegi 1972 [1]_).

For one cut, showing every cell of at least ``k`` and, when the rest falls between 1 and
``k - 1``, also hiding the smallest shown cell, is optimal: it hides as few respondents as any
valid choice, because some shown cell must be hidden and the smallest one costs least.

For a hierarchy (organisation, parent teams, teams), the released totals form a laminar
family of sets. For a shown node ``P`` let its *remainder* be ``P`` minus its nearest shown
descendants. The remainders of the shown nodes are disjoint and span the same space as the
shown totals (each total is the sum of the remainders below it), so every set computable from
the shown totals is a union of remainders. Hence the hierarchy is safe exactly when every
remainder is 0 or at least ``k``; :func:`suppress_hierarchy` enforces that bottom-up.

Each function protects only the table it is given. Differences across tables (a team's
involvement cut against the parent team's kind cut, a month against its quarter) are what the
differencing audit in :mod:`analysis.audit` checks; a release guard calls both.

References
----------
.. [1] Fellegi, I. P. (1972). On the question of statistical confidentiality. JASA 67(337).
.. [2] Cox, L. H. (1980). Suppression methodology and statistical disclosure control.
   JASA 75(370).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass

__all__ = ["CutSuppression", "HierarchySuppression", "suppress_cut", "suppress_hierarchy"]


@dataclass(frozen=True)
class CutSuppression:
    """Which cells of one cut may be shown.

    Attributes
    ----------
    total_shown : bool
        Whether the group total itself has at least ``k`` respondents.
    shown : tuple
        Cells that may be shown, each with at least ``k`` respondents, in input order.
    suppressed : tuple
        Every other cell, in input order (empty cells included: there is nothing to show).
    remainder : int
        Respondents not in a shown cell (``total - sum(shown)``): 0 or at least ``k`` when
        the total is shown.
    """

    total_shown: bool
    shown: tuple[Hashable, ...]
    suppressed: tuple[Hashable, ...]
    remainder: int


@dataclass(frozen=True)
class HierarchySuppression:
    """Which nodes of a hierarchy may be shown.

    Attributes
    ----------
    shown : frozenset
        Nodes whose total may be shown.
    suppressed : frozenset
        All other nodes.
    remainders : dict
        For each shown node, its total minus the totals of its nearest shown descendants:
        0 or at least ``k``.
    """

    shown: frozenset[Hashable]
    suppressed: frozenset[Hashable]
    remainders: dict[Hashable, int]


def _check_k(k: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")


def _check_count(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return value


def suppress_cut(total: int, cells: Mapping[Hashable, int], k: int) -> CutSuppression:
    """Choose the cells of a cut that can be shown next to the group total.

    Parameters
    ----------
    total : int
        Respondents in the group. It may exceed the sum of the cells (people in no cell).
    cells : Mapping
        Respondents per cell of the cut (for example per involvement value).
    k : int
        The minimum group.

    Returns
    -------
    CutSuppression

    Raises
    ------
    ValueError
        For negative or non-integer counts, cells adding up to more than the total, or
        ``k`` below 1.

    Examples
    --------
    >>> r = suppress_cut(17, {"direct": 6, "helped": 8, "observed": 3}, k=5)
    >>> r.shown, r.suppressed, r.remainder
    (('helped',), ('direct', 'observed'), 9)
    """
    _check_k(k)
    _check_count("total", total)
    for key, size in cells.items():
        _check_count(f"cell {key!r}", size)
    if sum(cells.values()) > total:
        raise ValueError("the cells add up to more than the group total")
    if total < k:
        return CutSuppression(False, (), tuple(cells), total)
    shown = [key for key, size in cells.items() if size >= k]
    remainder = total - sum(cells[key] for key in shown)
    if 0 < remainder < k:
        # Complementary suppression: hiding any shown cell adds at least k to the rest;
        # the smallest one hides the fewest respondents.
        smallest = min(shown, key=lambda key: cells[key])
        shown.remove(smallest)
        remainder += cells[smallest]
    shown_set = set(shown)
    return CutSuppression(
        True,
        tuple(shown),
        tuple(key for key in cells if key not in shown_set),
        remainder,
    )


def suppress_hierarchy(
    parents: Mapping[Hashable, Hashable | None],
    totals: Mapping[Hashable, int],
    k: int,
) -> HierarchySuppression:
    """Choose the nodes of a hierarchy (team, parent team, organisation) that can be shown.

    Parameters
    ----------
    parents : Mapping
        Each node's parent, ``None`` for a root. Every node of ``totals`` must appear.
    totals : Mapping
        Respondents per node, including its descendants; a node may hold respondents of its
        own beyond its children (a parent team's own incidents).
    k : int
        The minimum group.

    Returns
    -------
    HierarchySuppression
        Every shown node has at least ``k`` respondents and every remainder is 0 or at least
        ``k``, so no difference of shown totals isolates 1 to ``k - 1`` people.

    Raises
    ------
    ValueError
        For unknown parents, cycles, negative counts, a node smaller than its children
        together, or ``k`` below 1.

    Examples
    --------
    >>> parents = {"org": None, "a": "org", "b": "org"}
    >>> r = suppress_hierarchy(parents, {"org": 13, "a": 10, "b": 3}, k=5)
    >>> sorted(r.shown), r.remainders["org"]
    (['org'], 13)
    """
    _check_k(k)
    if set(parents) != set(totals):
        raise ValueError("parents and totals must name the same nodes")
    children: dict[Hashable, list[Hashable]] = {node: [] for node in parents}
    roots = []
    for node, parent in parents.items():
        _check_count(f"total of {node!r}", totals[node])
        if parent is None:
            roots.append(node)
        elif parent not in children:
            raise ValueError(f"unknown parent {parent!r} of {node!r}")
        else:
            children[parent].append(node)
    for node, kids in children.items():
        if sum(totals[c] for c in kids) > totals[node]:
            raise ValueError(f"the children of {node!r} add up to more than its total")

    order: list[Hashable] = []  # post-order: children before parents
    stack = [(root, False) for root in roots]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
            continue
        stack.append((node, True))
        stack.extend((c, False) for c in children[node])
    if len(order) != len(parents):
        raise ValueError("the hierarchy has a cycle")

    shown = {node for node in parents if totals[node] >= k}
    remainders: dict[Hashable, int] = {}

    def nearest_shown(node: Hashable) -> list[Hashable]:
        found, todo = [], list(children[node])
        while todo:
            child = todo.pop()
            if child in shown:
                found.append(child)
            else:
                todo.extend(children[child])
        return found

    for node in order:
        if node not in shown:
            continue
        below = nearest_shown(node)
        rest = totals[node] - sum(totals[d] for d in below)
        if 0 < rest < k:
            # Hide a shown descendant whose own remainder (already 0 or >= k) is positive:
            # it then joins this node's remainder and lifts it to k or more.
            options = [d for d in below if remainders[d] > 0]
            if options:
                victim = min(options, key=lambda d: (remainders[d], totals[d]))
                shown.discard(victim)
                rest += remainders.pop(victim)
            else:
                # Nothing below can absorb it: hide this node; its people then count in
                # the remainder of the nearest shown ancestor, handled later.
                shown.discard(node)
                continue
        remainders[node] = rest
    return HierarchySuppression(
        frozenset(shown), frozenset(set(parents) - shown), remainders
    )
