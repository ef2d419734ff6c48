"""Differencing audit: hand-worked cases and an attacker that tries every combination.

The reference used here is independent of the ledger: plain Gaussian elimination over
``Fraction`` on the release indicators, then every subset of cells is tested for membership
in their span (exhaustive on instances of up to 8 cells).
"""

from __future__ import annotations

import itertools
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.audit import AuditDecision, ReleaseLedger

# -- an independent attacker -----------------------------------------------------------------


def _span_basis(vectors: list[list[Fraction]]) -> list[list[Fraction]]:
    """Row echelon basis (list of rows, each with its leading entry 1)."""
    basis: list[list[Fraction]] = []
    for vec in vectors:
        v = list(vec)
        for row in basis:
            lead = next(i for i, x in enumerate(row) if x != 0)
            if v[lead] != 0:
                factor = v[lead]
                v = [a - factor * b for a, b in zip(v, row, strict=True)]
        if any(x != 0 for x in v):
            lead = next(i for i, x in enumerate(v) if x != 0)
            v = [x / v[lead] for x in v]
            # keep the basis reduced so that the sequential reduction above is complete
            basis = [
                [a - r[lead] * b for a, b in zip(r, v, strict=True)] if r[lead] != 0 else r
                for r in basis
            ]
            basis.append(v)
    return basis


def _in_span(basis: list[list[Fraction]], vec: list[Fraction]) -> bool:
    v = list(vec)
    for row in basis:
        lead = next(i for i, x in enumerate(row) if x != 0)
        if v[lead] != 0:
            factor = v[lead]
            v = [a - factor * b for a, b in zip(v, row, strict=True)]
    return all(x == 0 for x in v)


def exposed_groups(sizes: dict, releases: list[frozenset], k: int) -> list[tuple[frozenset, int]]:
    """Every set of non-empty cells of 1..k-1 people whose sum the releases determine.

    Empty cells are left out: their answer sums are zero whatever the attacker knows.
    """
    cells = sorted(c for c, n in sizes.items() if n > 0)
    index = {c: i for i, c in enumerate(cells)}
    vectors = []
    for rel in releases:
        vec = [Fraction(0)] * len(cells)
        for c in rel:
            if c in index:
                vec[index[c]] = Fraction(1)
        vectors.append(vec)
    basis = _span_basis(vectors)
    found = []
    for r in range(1, len(cells) + 1):
        for group in itertools.combinations(cells, r):
            people = sum(sizes[c] for c in group)
            if not 0 < people < k:
                continue
            vec = [Fraction(0)] * len(cells)
            for c in group:
                vec[index[c]] = Fraction(1)
            if _in_span(basis, vec):
                found.append((frozenset(group), people))
    return found


def small_integer_attack(sizes: dict, releases: list[frozenset], k: int) -> list[frozenset]:
    """Try every combination of the releases with coefficients -2..2."""
    cells = sorted(c for c, n in sizes.items() if n > 0)
    leaks = []
    for coefs in itertools.product(range(-2, 3), repeat=len(releases)):
        total = dict.fromkeys(cells, 0)
        for coef, rel in zip(coefs, releases, strict=True):
            if coef:
                for c in rel:
                    if c in total:
                        total[c] += coef
        if all(v in (0, 1) for v in total.values()):
            group = frozenset(c for c, v in total.items() if v == 1)
            if 0 < sum(sizes[c] for c in group) < k:
                leaks.append(group)
    return leaks


# -- hand-worked cases -----------------------------------------------------------------------


def test_tracker_union_of_atoms_none_of_which_is_in_the_span():
    # {a,b} - {b,c} + {c,d} = {a,d}: two people, though every atom is alone and none of
    # them is computable. An "atoms in the span" audit would let this through.
    sizes = {"a": 1, "b": 5, "c": 5, "d": 1}
    releases = [frozenset("ab"), frozenset("bc"), frozenset("cd")]
    exposed = exposed_groups(sizes, releases, k=5)
    assert exposed == [(frozenset("ad"), 2)]
    cells = sorted(sizes)
    basis = _span_basis(
        [[Fraction(int(c in rel)) for c in cells] for rel in releases]
    )
    atoms_in_span = [c for c in cells if _in_span(basis, [Fraction(int(x == c)) for x in cells])]
    assert atoms_in_span == []

    ledger = ReleaseLedger(sizes, k=5)
    assert ledger.record(releases[0]).allowed
    assert ledger.record(releases[1]).allowed
    decision = ledger.check(releases[2])
    assert not decision.allowed
    assert decision.smallest_group == 2


def test_cut_next_to_its_total_exposes_the_rest():
    # A survey of 11: involvement cells 5, 5 and 1. Showing the total and the first two cells
    # gives the last cell (one person) by subtraction.
    sizes = {"direct": 5, "helped": 5, "observed": 1}
    ledger = ReleaseLedger(sizes, k=5)
    assert ledger.record(set(sizes)).allowed
    assert ledger.record({"direct"}).allowed
    decision = ledger.check({"helped"})
    assert not decision.allowed
    assert decision.smallest_group == 1
    # The two hidden cells together are 6: showing their sum instead is fine.
    assert ledger.check({"helped", "observed"}).allowed


def test_month_quarter_difference():
    # Quarter = three months. Two months shown; the third month (3 people) would follow.
    sizes = {"m1": 6, "m2": 7, "m3": 3}
    ledger = ReleaseLedger(sizes, k=5)
    ledger.record({"m1"})
    ledger.record({"m2"})
    assert not ledger.check({"m1", "m2", "m3"}).allowed
    # Without the months, the quarter alone is fine.
    assert ReleaseLedger(sizes, k=5).check({"m1", "m2", "m3"}).allowed


def test_below_k_is_refused_by_the_threshold_and_says_so():
    ledger = ReleaseLedger({"a": 2, "b": 1}, k=5)
    decision = ledger.check({"a", "b"})
    assert decision == AuditDecision(False, decision.reason, 3)
    assert "fewer than 5 people" in decision.reason


def test_empty_cells_count_as_known_empty():
    # (a + z + c) + (b + z + d) - (c + d) = a + b + 2z; z has nobody, so this is a + b:
    # two people. A span test that kept z as an unknown would miss it.
    sizes = {"a": 1, "b": 1, "c": 5, "d": 5, "z": 0}
    ledger = ReleaseLedger(sizes, k=5)
    assert ledger.record({"a", "z", "c"}).allowed
    assert ledger.record({"b", "z", "d"}).allowed
    decision = ledger.check({"c", "d"})
    assert not decision.allowed
    assert decision.smallest_group == 2
    assert exposed_groups(sizes, [frozenset("azc"), frozenset("bzd"), frozenset("cd")], 5)


def test_a_release_of_nobody_adds_nothing():
    ledger = ReleaseLedger({"a": 0, "b": 0, "c": 7}, k=5)
    assert ledger.check({"a", "b"}).allowed


def test_asking_again_gives_the_same_answer():
    sizes = {"a": 5, "b": 6, "c": 2}
    ledger = ReleaseLedger(sizes, k=5)
    first = ledger.record({"a", "b", "c"}, release_id="survey")
    assert first.allowed
    again = ledger.check({"a", "b", "c"})
    assert again.allowed and "already shown" in again.reason
    # Re-recording the same set under the same id is idempotent.
    assert ledger.record({"a", "b", "c"}, release_id="survey").allowed
    assert ledger.releases == {"survey": frozenset("abc")}
    refused = ledger.check({"a", "b"})
    assert ledger.check({"a", "b"}) == refused
    assert not refused.allowed


def test_refusal_reason_names_no_cell_and_no_small_size():
    sizes = {"alice-cell": 1, "b": 5, "c": 5, "d": 1}
    ledger = ReleaseLedger(sizes, k=5)
    ledger.record({"alice-cell", "b"})
    ledger.record({"b", "c"})
    decision = ledger.check({"c", "d"})
    assert not decision.allowed
    assert "alice" not in decision.reason and "2" not in decision.reason
    assert decision.reason.startswith("Refused:")


def test_record_refuses_and_leaves_the_ledger_unchanged():
    ledger = ReleaseLedger({"a": 5, "b": 1}, k=5)
    ledger.record({"a", "b"}, release_id=1)
    with pytest.raises(ValueError, match="refused"):
        ledger.record({"a"}, release_id=2)
    assert ledger.releases == {1: frozenset("ab")}
    assert ledger.rank == 1
    with pytest.raises(ValueError, match="already used"):
        ledger.record({"a"}, release_id=1)


@pytest.mark.parametrize(
    ("sizes", "k"),
    [({"a": -1}, 5), ({"a": 1.5}, 5), ({"a": True}, 5), ({"a": 1}, 0), ({"a": 1}, 2.0)],
)
def test_invalid_input_raises(sizes, k):
    with pytest.raises(ValueError):
        ReleaseLedger(sizes, k)


def test_unknown_cell_raises():
    ledger = ReleaseLedger({"a": 5}, k=5)
    with pytest.raises(ValueError, match="unknown cell"):
        ledger.check({"a", "zz"})


def test_cells_can_be_added_but_not_resized():
    ledger = ReleaseLedger({"a": 5}, k=5)
    ledger.add_cells({"b": 6, "a": 5})
    assert ledger.check({"b"}).allowed
    with pytest.raises(ValueError, match="cannot change"):
        ledger.add_cells({"a": 4})


def test_history_is_recorded_as_published_and_can_be_verified():
    sizes = {"a": 1, "b": 5, "c": 5, "d": 1}
    history = [("r1", "ab"), ("r2", "bc"), ("r3", "cd")]
    ledger = ReleaseLedger(sizes, 5, history, verify_history=True)
    assert ledger.unsafe_history == ("r3",)
    assert ledger.rank == 3
    assert ReleaseLedger(sizes, 5, history).unsafe_history == ()


def test_node_budget_refuses_rather_than_guesses():
    # Safe for k = 3 (the computable groups are {a,c,d} of 4 and {b,d} of 3), but proving
    # it takes more than one search state.
    sizes = {"a": 1, "b": 1, "c": 1, "d": 2, "e": 4}
    history = [(1, "abcde"), (2, "be")]
    assert ReleaseLedger(sizes, 3, history).check("ace").allowed
    decision = ReleaseLedger(sizes, 3, history, node_budget=1).check("ace")
    assert not decision.allowed
    assert decision.smallest_group is None
    assert "could not confirm" in decision.reason


# -- the attacker ----------------------------------------------------------------------------

K = 3


@st.composite
def organisations(draw, max_cells=8, max_requests=10):
    n = draw(st.integers(min_value=2, max_value=max_cells))
    sizes = {
        f"c{i}": draw(st.sampled_from([0, 1, 1, 2, 2, 3, 4, 6])) for i in range(n)
    }
    cells = sorted(sizes)
    requests = draw(
        st.lists(
            st.frozensets(st.sampled_from(cells), min_size=1, max_size=n),
            min_size=1,
            max_size=max_requests,
        )
    )
    return sizes, requests


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(organisations())
def test_allowed_releases_never_expose_a_small_group_and_refusals_are_needed(org):
    sizes, requests = org
    ledger = ReleaseLedger(sizes, K)
    published: list[frozenset] = []
    for cells in requests:
        decision = ledger.check(cells)
        exposed = exposed_groups(sizes, [*published, cells], K)
        if decision.allowed:
            assert exposed == [], (published, cells)
            ledger.record(cells)
            published.append(cells)
        else:
            # Refused only when the release really would expose a group, and the reported
            # group size is one that really becomes computable.
            assert exposed, (published, cells)
            assert decision.smallest_group in {people for _, people in exposed}
    assert exposed_groups(sizes, published, K) == []


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(organisations(max_cells=7, max_requests=7))
def test_no_small_integer_combination_of_allowed_releases_isolates_a_small_group(org):
    sizes, requests = org
    ledger = ReleaseLedger(sizes, K)
    published: list[frozenset] = []
    for cells in requests:
        if ledger.check(cells).allowed:
            ledger.record(cells)
            published.append(cells)
    published = published[:6]
    assert small_integer_attack(sizes, published, K) == []


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(organisations(max_cells=8, max_requests=8), st.integers(min_value=2, max_value=6))
def test_history_verification_matches_the_attacker(org, k):
    sizes, requests = org
    history = list(enumerate(requests))
    ledger = ReleaseLedger(sizes, k, history, verify_history=True)
    for position, (release_id, cells) in enumerate(history):
        before = {g for g, _ in exposed_groups(sizes, requests[:position], k)}
        after = {g for g, _ in exposed_groups(sizes, requests[: position + 1], k)}
        people = sum(sizes[c] for c in cells)
        # Refused when it exposes a new group, or by the plain threshold on its own.
        expected = bool(after - before) or 0 < people < k
        assert (release_id in ledger.unsafe_history) == expected


@st.composite
def structured_requests(draw):
    """Surveys of two teams in two months, cut by involvement; the guard's kinds of request."""
    involvement = ("direct", "helped", "observed")
    n_surveys = draw(st.integers(min_value=2, max_value=3))
    surveys = [
        {
            "id": s,
            "team": draw(st.sampled_from("AB")),
            "month": draw(st.integers(min_value=1, max_value=2)),
        }
        for s in range(n_surveys)
    ]
    sizes = {
        (s["id"], inv): draw(st.sampled_from([0, 1, 2, 2, 3, 4, 5, 6]))
        for s in surveys
        for inv in involvement
    }

    def cells(pick, invs=involvement):
        return frozenset((s["id"], inv) for s in surveys if pick(s) for inv in invs)

    menu = []
    for s in surveys:
        menu.append(cells(lambda x, s=s: x is s))
        menu.extend(cells(lambda x, s=s: x is s, (inv,)) for inv in involvement)
    for team in "AB":
        for month in (1, 2):
            menu.append(cells(lambda x, t=team, m=month: x["team"] == t and x["month"] == m))
        menu.append(cells(lambda x, t=team: x["team"] == t))
        menu.extend(cells(lambda x, t=team: x["team"] == t, (inv,)) for inv in involvement)
    for month in (1, 2):
        menu.append(cells(lambda x, m=month: x["month"] == m))
    menu.append(cells(lambda x: True))
    menu.extend(cells(lambda x: True, (inv,)) for inv in involvement)
    menu = [m for m in dict.fromkeys(menu) if m]
    requests = draw(st.lists(st.sampled_from(menu), min_size=1, max_size=12))
    return sizes, requests


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(structured_requests(), st.sampled_from([3, 5]))
def test_attacker_on_surveys_teams_and_months(case, k):
    sizes, requests = case
    ledger = ReleaseLedger(sizes, k)
    published: list[frozenset] = []
    for cells in requests:
        decision = ledger.check(cells)
        exposed = exposed_groups(sizes, [*published, cells], k)
        assert decision.allowed == (not exposed)
        if decision.allowed:
            ledger.record(cells)
            published.append(cells)
    assert exposed_groups(sizes, published, k) == []
