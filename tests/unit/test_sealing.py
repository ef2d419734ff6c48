import pytest

from analysis.sealing import ItemKey, construct_score_sixths, keyed, seal

STATEMENTS = (
    ItemKey("a", "c1", False),
    ItemKey("b", "c1", True),
    ItemKey("x", "c2", False),
)


def test_keyed_reverses_only_reverse_items():
    assert keyed(5, reverse=False) == 5
    assert keyed(5, reverse=True) == 1
    assert keyed(2, reverse=True) == 4
    with pytest.raises(ValueError):
        keyed(0, reverse=False)


def test_construct_score_in_sixths_by_hand():
    # a=4, b=2 reversed to 4: mean 4 -> 24 sixths
    assert construct_score_sixths({"a": 4, "b": 2}, STATEMENTS[:2]) == 24
    # a=5, b=4 reversed to 2: mean 3.5 -> 21 sixths
    assert construct_score_sixths({"a": 5, "b": 4}, STATEMENTS[:2]) == 21
    # "doesn't apply" (0) and skipped items are left out
    assert construct_score_sixths({"a": 0, "b": 1}, STATEMENTS[:2]) == 30
    assert construct_score_sixths({"a": 0}, STATEMENTS[:2]) is None


def test_seal_counts_by_hand():
    rows = [
        {"a": 4, "b": 2, "x": 5, "p": 1, "involvement": "direct"},
        {"a": 4, "b": 5, "x": 0, "p": 2, "involvement": "observer"},
        {"a": 1, "b": None, "x": 3, "p": None, "involvement": "direct"},
    ]
    counts = seal(rows, STATEMENTS, ["p"])
    assert counts[("all", "", "_n", 0)] == 3
    assert counts[("all", "", "a", 4)] == 2
    assert counts[("all", "", "a", 1)] == 1
    assert counts[("all", "", "x", 0)] == 1
    assert ("all", "", "b", 0) not in counts  # skipped is not "doesn't apply"
    assert counts[("all", "", "p", 1)] == 1
    assert counts[("involvement", "direct", "_n", 0)] == 2
    assert counts[("involvement", "observer", "b", 5)] == 1
    # c1 scores: row1 (4+4)/2=4 -> 24; row2 (4+1)/2=2.5 -> 15; row3 1 -> 6
    assert counts[("all", "", "construct:c1", 24)] == 1
    assert counts[("all", "", "construct:c1", 15)] == 1
    assert counts[("all", "", "construct:c1", 6)] == 1
    # c2: row2 has only "doesn't apply", so no score
    assert sum(v for k, v in counts.items() if k[:3] == ("all", "", "construct:c2")) == 2


def test_seal_of_nothing_is_empty():
    assert not seal([], STATEMENTS, [])
