"""Complementary suppression: hand-worked tables and properties checked by the audit."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.audit import ReleaseLedger
from analysis.suppression import suppress_cut, suppress_hierarchy

# -- one cut ---------------------------------------------------------------------------------


def test_all_cells_large_are_all_shown():
    r = suppress_cut(18, {"direct": 6, "helped": 7, "observed": 5}, k=5)
    assert r.total_shown and r.shown == ("direct", "helped", "observed")
    assert r.suppressed == () and r.remainder == 0


def test_small_cell_hides_the_smallest_large_one_too():
    # 6 + 8 + 3 = 17: showing 6 and 8 would give away the 3 by subtraction, so the 6 goes.
    r = suppress_cut(17, {"direct": 6, "helped": 8, "observed": 3}, k=5)
    assert r.shown == ("helped",)
    assert r.suppressed == ("direct", "observed")
    assert r.remainder == 9


def test_rest_already_large_enough_needs_no_complement():
    # 3 + 2 hidden together are 5 = k: nothing more to hide.
    r = suppress_cut(15, {"direct": 10, "helped": 3, "observed": 2}, k=5)
    assert r.shown == ("direct",) and r.remainder == 5


def test_people_outside_every_cell_count_in_the_rest():
    # 12 answered, 10 gave an involvement, 2 did not: the 2 are the rest.
    r = suppress_cut(12, {"direct": 5, "helped": 5}, k=5)
    assert r.shown == ("helped",) and r.remainder == 7


def test_empty_cells_are_suppressed_and_cost_nothing():
    r = suppress_cut(10, {"direct": 10, "helped": 0}, k=5)
    assert r.shown == ("direct",) and r.suppressed == ("helped",) and r.remainder == 0


def test_total_below_k_shows_nothing():
    r = suppress_cut(4, {"direct": 4}, k=5)
    assert not r.total_shown and r.shown == () and r.remainder == 4


@pytest.mark.parametrize(
    ("total", "cells", "k"),
    [(5, {"a": -1}, 5), (5, {"a": 6}, 5), (5, {"a": 1.0}, 5), (-1, {}, 5), (5, {}, 0)],
)
def test_cut_rejects_invalid_input(total, cells, k):
    with pytest.raises(ValueError):
        suppress_cut(total, cells, k)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=12), min_size=1, max_size=6),
    st.integers(min_value=0, max_value=6),
    st.integers(min_value=2, max_value=6),
)
def test_cut_is_safe_and_hides_as_few_people_as_possible(sizes, outside, k):
    cells = {f"c{i}": n for i, n in enumerate(sizes)}
    total = sum(sizes) + outside
    r = suppress_cut(total, cells, k)
    assert set(r.shown) | set(r.suppressed) == set(cells)
    if not r.total_shown:
        assert total < k and r.shown == ()
        return
    assert all(cells[c] >= k for c in r.shown)
    assert r.remainder == total - sum(cells[c] for c in r.shown)
    assert r.remainder == 0 or r.remainder >= k
    # Optimal: no valid choice of shown cells hides fewer people.
    large = [c for c in cells if cells[c] >= k]
    best = min(
        total - sum(cells[c] for c in choice)
        for n in range(len(large) + 1)
        for choice in itertools.combinations(large, n)
        if total - sum(cells[c] for c in choice) == 0
        or total - sum(cells[c] for c in choice) >= k
    )
    assert r.remainder == best
    # The differencing audit agrees: total and shown cells expose nobody.
    sizes_by_cell = dict(cells, outside=outside)
    ledger = ReleaseLedger(sizes_by_cell, k)
    assert ledger.record(set(sizes_by_cell)).allowed
    for c in r.shown:
        assert ledger.record({c}).allowed


# -- hierarchy -------------------------------------------------------------------------------


def test_hierarchy_hides_a_sibling_to_protect_a_small_team():
    # Parent 20 = team a 8 + team b 9 + its own 3 people. Showing a and b gives the 3 away;
    # hiding a (the smaller remainder) makes the parent's rest 11.
    parents = {"org": None, "p": "org", "a": "p", "b": "p"}
    totals = {"org": 20, "p": 20, "a": 8, "b": 9}
    r = suppress_hierarchy(parents, totals, k=5)
    assert r.shown == {"org", "p", "b"}
    assert r.remainders == {"b": 9, "p": 11, "org": 0}


def test_hierarchy_hides_the_node_when_nothing_below_can_absorb():
    # Parent 7 with a shown child of 5 whose own rest is 0 (its child carries it); hiding
    # the child would not help, so the parent goes and the organisation absorbs the 2.
    parents = {"org": None, "p": "org", "a": "p", "a1": "a"}
    totals = {"org": 12, "p": 7, "a": 5, "a1": 5}
    r = suppress_hierarchy(parents, totals, k=5)
    assert "p" not in r.shown
    assert r.remainders["org"] == 7
    assert all(v == 0 or v >= 5 for v in r.remainders.values())


def test_hierarchy_small_teams_are_pooled_upwards():
    parents = {"org": None, "a": "org", "b": "org", "c": "org"}
    r = suppress_hierarchy(parents, {"org": 9, "a": 3, "b": 2, "c": 4}, k=5)
    assert r.shown == {"org"} and r.remainders == {"org": 9}


def test_hierarchy_rejects_bad_trees():
    with pytest.raises(ValueError, match="unknown parent"):
        suppress_hierarchy({"a": "zz"}, {"a": 5}, 5)
    with pytest.raises(ValueError, match="cycle"):
        suppress_hierarchy({"a": "b", "b": "a"}, {"a": 5, "b": 5}, 5)
    with pytest.raises(ValueError, match="more than its total"):
        suppress_hierarchy({"o": None, "a": "o"}, {"o": 4, "a": 5}, 5)
    with pytest.raises(ValueError, match="same nodes"):
        suppress_hierarchy({"o": None}, {"o": 4, "a": 5}, 5)


@st.composite
def trees(draw):
    n = draw(st.integers(min_value=1, max_value=9))
    parents: dict[str, str | None] = {"n0": None}
    for i in range(1, n):
        parents[f"n{i}"] = f"n{draw(st.integers(min_value=0, max_value=i - 1))}"
    own = {node: draw(st.integers(min_value=0, max_value=9)) for node in parents}
    return parents, own


def _subtree_cells(parents, node):
    out, todo = {node}, [node]
    while todo:
        here = todo.pop()
        for child, parent in parents.items():
            if parent == here:
                out.add(child)
                todo.append(child)
    return out


@settings(max_examples=200, deadline=None)
@given(trees(), st.integers(min_value=2, max_value=6))
def test_hierarchy_release_passes_the_differencing_audit(tree, k):
    parents, own = tree
    totals = {node: sum(own[c] for c in _subtree_cells(parents, node)) for node in parents}
    r = suppress_hierarchy(parents, totals, k)
    assert r.shown | r.suppressed == set(parents) and not r.shown & r.suppressed
    assert all(totals[node] >= k for node in r.shown)
    assert set(r.remainders) == set(r.shown)
    assert all(v == 0 or v >= k for v in r.remainders.values())
    # Every node holds its own people as one cell; the audit must allow every shown total.
    ledger = ReleaseLedger(own, k)
    for node in sorted(r.shown):
        assert ledger.record(_subtree_cells(parents, node)).allowed
