"""The differencing attacker shared by tests/service/test_adversary.py and
tests/web/test_adversary_web.py: every linear combination of released sums, exactly.

Each released statistic is a sum over a set of individual respondents. The attacker builds
the indicator vector of each set over all respondents, computes a basis of their span over
the rationals (exact Gaussian elimination with ``Fraction``), and tests every set of 1 to
k - 1 respondents that a combination could isolate. Every vector of the span is constant on
the *atoms* (respondents who lie in exactly the same released sets), so only unions of small
atoms need testing; that makes the search exhaustive, not sampled.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from fractions import Fraction


def _reduce(basis: dict[int, list[Fraction]], vec: list[Fraction]) -> list[Fraction]:
    v = list(vec)
    for lead, row in basis.items():
        if v[lead] != 0:
            factor = v[lead]
            v = [a - factor * b for a, b in zip(v, row, strict=True)]
    return v


def span_basis(vectors: list[list[Fraction]]) -> dict[int, list[Fraction]]:
    """Exact reduced row echelon basis over the rationals, keyed by pivot column."""
    basis: dict[int, list[Fraction]] = {}
    for vec in vectors:
        v = _reduce(basis, vec)
        lead = next((i for i, x in enumerate(v) if x != 0), None)
        if lead is None:
            continue
        v = [x / v[lead] for x in v]
        for key, row in list(basis.items()):
            if row[lead] != 0:
                basis[key] = [a - row[lead] * b for a, b in zip(row, v, strict=True)]
        basis[lead] = v
    return basis


def derivable_small_groups(people: int, released: list[frozenset[int]], k: int
                           ) -> list[frozenset[int]]:
    """Every set of 1..k-1 respondents whose answers some linear combination of the
    released sums gives exactly."""
    if not released:
        return []
    vectors = [[Fraction(1 if p in s else 0) for p in range(people)] for s in released]
    basis = span_basis(vectors)
    # Atoms: respondents in exactly the same released sets (the span is constant on them).
    signature: dict[tuple[bool, ...], set[int]] = defaultdict(set)
    for p in range(people):
        signature[tuple(p in s for s in released)].add(p)
    small = [frozenset(a) for a in signature.values() if len(a) < k]
    found = []
    for size in range(1, min(len(small), k - 1) + 1):  # each atom holds someone
        for combo in itertools.combinations(small, size):
            group = frozenset().union(*combo)
            if not 1 <= len(group) <= k - 1:
                continue
            target = [Fraction(1 if p in group else 0) for p in range(people)]
            if not any(_reduce(basis, target)):
                found.append(group)
    return found
