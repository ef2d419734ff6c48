"""The single gate (analysis.release.decide) and the rules it adds to release guard v1:
periods, complementary suppression, the differencing audit, comment pools."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis import release
from analysis.audit import ReleaseLedger
from analysis.release import Reason
from support.adversary import derivable_small_groups

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


def test_order_of_the_checks():
    assert release.decide(7, 5, period_over=False).reason == Reason.PERIOD_NOT_OVER
    assert release.decide(0, 5).reason == Reason.NO_RESPONSES
    assert release.decide(4, 5).reason == Reason.BELOW_MINIMUM
    assert release.decide(9, 5, suppressed=True).reason == Reason.SUPPRESSED
    assert release.decide(5, 5).allowed


def test_the_audit_refuses_a_difference_in_plain_words():
    ledger = ReleaseLedger({"a": 5, "b": 2}, k=5)
    assert release.decide(5, 5, cells={"a"}, ledger=ledger).allowed
    ledger.record({"a"})
    refused = release.decide(7, 5, cells={"a", "b"}, ledger=ledger)
    assert refused.reason == Reason.DIFFERENCING and not refused.allowed
    assert "fewer than 5 people" in refused.message
    assert "2" not in refused.message  # never says how small the hidden group is


def test_record_as_records_an_allowed_release_and_nothing_else():
    ledger = ReleaseLedger({"a": 5, "b": 2, "c": 6}, k=5)
    assert release.decide(5, 5, cells={"a"}, ledger=ledger, record_as="first").allowed
    assert ledger.releases == {"first": frozenset({"a"})}
    refused = release.decide(7, 5, cells={"a", "b"}, ledger=ledger, record_as="second")
    assert refused.reason == Reason.DIFFERENCING and set(ledger.releases) == {"first"}
    with pytest.raises(ValueError):
        release.decide(5, 5, cells={"zz"}, ledger=ledger, record_as="third")


def test_an_audit_that_runs_out_of_budget_refuses():
    # Safe for k = 3, but proving it takes more than one search state (see test_audit.py).
    sizes = {"a": 1, "b": 1, "c": 1, "d": 2, "e": 4}
    history = [(1, "abcde"), (2, "be")]
    assert release.decide(3, 3, cells="ace", ledger=ReleaseLedger(sizes, 3, history)).allowed
    tight = ReleaseLedger(sizes, 3, history, node_budget=1)
    assert release.decide(3, 3, cells="ace", ledger=tight).reason == Reason.AUDIT_LIMIT


def test_the_gate_needs_cells_and_a_strong_enough_ledger():
    with pytest.raises(ValueError):
        release.decide(5, 5, ledger=ReleaseLedger({"a": 5}, k=5))
    with pytest.raises(ValueError):
        release.decide(5, 5, cells={"a"}, ledger=ReleaseLedger({"a": 5}, k=3))
    with pytest.raises(ValueError):
        release.decide(-1, 5)
    with pytest.raises(ValueError):
        release.decide(5, 2)


def test_every_reason_has_words():
    for reason in Reason:
        assert release.Decision(False, reason, 5).message


def test_cut_release_hides_the_smallest_shown_cell_when_the_rest_is_small():
    cut = release.cut_release(17, {"direct": 6, "helped": 8, "observed": 3}, 5)
    assert cut.shown == ("helped",) and cut.remainder == 9


def test_hierarchy_release_protects_the_parent_minus_child():
    parents = {"org": None, "a": "org", "b": "org"}
    assert release.hierarchy_release(parents, {"org": 13, "a": 10, "b": 3}, 5).shown == \
        frozenset({"org"})


def test_comments_need_k_different_authors():
    # one survey, 5 comments: 5 people (one comment each per survey)
    assert release.comments_release({1: 5}, 1, 5, period_over=True).allowed
    # two surveys of 3, the same people invited to both: maybe only 3 people
    assert release.comments_release({1: 3, 2: 3}, 2, 5, period_over=True).reason \
        == Reason.FEW_COMMENTERS
    # nobody was invited to both: 6 people
    assert release.comments_release({1: 3, 2: 3}, 1, 5, period_over=True).allowed
    assert release.comments_release({1: 9}, 1, 5, period_over=False).reason \
        == Reason.PERIOD_NOT_OVER
    assert not release.comments_release({}, 0, 5, period_over=True).allowed
    with pytest.raises(ValueError):
        release.distinct_authors_at_least({1: -1}, 1)


@st.composite
def hierarchies(draw):
    """A tree of up to 8 nodes (node 0 the organisation), each with some people of its own."""
    size = draw(st.integers(1, 8))
    parents = {0: None}
    for node in range(1, size):
        parents[node] = draw(st.integers(0, node - 1))
    own = {node: draw(st.integers(0, 7)) for node in range(size)}
    return parents, own


@settings(max_examples=300, deadline=None, derandomize=True)
@given(hierarchies(), st.integers(3, 6))
def test_shown_hierarchy_totals_never_expose_a_small_group(tree, k):
    """The exact attacker (tests/support/adversary.py) against hierarchy_release: every node total
    shown, nothing below k derivable by any combination."""
    parents, own = tree
    people: dict[int, list[int]] = {}
    counter = 0
    for node in sorted(parents):
        people[node] = list(range(counter, counter + own[node]))
        counter += own[node]

    def subtree(node: int) -> list[int]:
        out = list(people[node])
        for child, parent in parents.items():
            if parent == node:
                out.extend(subtree(child))
        return out

    totals = {node: len(subtree(node)) for node in parents}
    shown = release.hierarchy_release(parents, totals, k).shown
    released = [frozenset(subtree(node)) for node in shown]
    assert all(len(s) >= k for s in released)
    assert derivable_small_groups(counter, released, k) == []


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(st.integers(0, 9), min_size=1, max_size=6), st.integers(0, 4),
       st.integers(3, 6))
def test_a_suppressed_cut_next_to_its_total_never_exposes_a_small_group(cells, outside, k):
    """Cells of a cut plus people in no cell; the total and every shown cell published."""
    people, start = {}, 0
    for key, size in enumerate(cells):
        people[key] = frozenset(range(start, start + size))
        start += size
    total = frozenset(range(start + outside))
    cut = release.cut_release(len(total), {key: len(p) for key, p in people.items()}, k)
    released = ([total] if cut.total_shown else []) + [people[key] for key in cut.shown]
    assert derivable_small_groups(len(total), released, k) == []


def test_a_pooled_figure_needs_the_largest_k_of_its_surveys():
    assert release.pooled_min_group(5, [5, 8, 3]) == 8
    assert release.pooled_min_group(6, []) == 6
    with pytest.raises(ValueError):
        release.pooled_min_group(5, [2])
