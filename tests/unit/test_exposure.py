"""Shared incident exposure: the top-fifth share against hand-worked Lorenz values, the
figures of one period, the concentration flag, and the team-size rule of the release guard."""

from __future__ import annotations

import pytest

from analysis import exposure, release
from analysis.exposure import Exposure


@pytest.mark.parametrize(("counts", "size", "expected"), [
    ([5, 1, 1, 1, 1, 1], 10, 6 / 10),       # the two most involved: 5 + 1 of 10
    ([4, 1, 1], 7, (4 + 0.4 * 1) / 6),      # 1.4 people: 4 and 0.4 of the next
    ([1] * 10, 10, 2 / 10),                 # evenly shared: the fifth carries a fifth
    ([3], 5, 1.0),                          # one person in five carries everything
    ([1, 3, 3, 1, 1, 1, 1, 1], 12, (3 + 3 + 0.4 * 1) / 12),  # order does not matter
])
def test_top_share_against_hand_worked_values(counts, size, expected):
    assert exposure.top_share(counts, size) == pytest.approx(expected)


@pytest.mark.parametrize(("counts", "size"), [([], 5), ([0, 0], 5), ([1, -1], 5),
                                              ([1] * 6, 5)])
def test_top_share_refuses_nonsense(counts, size):
    with pytest.raises(ValueError):
        exposure.top_share(counts, size)


def test_measure_one_period():
    figure = exposure.measure(12, [3, 3, 1, 1, 1], 1)
    assert (figure.involved, figure.commanders, figure.involvements) == (5, 1, 9)
    assert figure.involved_share == pytest.approx(5 / 12)
    assert figure.commander_share == pytest.approx(1 / 12)
    assert figure.concentration == pytest.approx(6.4 / 9)
    assert figure.concentrated
    assert Exposure.from_dict(figure.to_dict()) == figure
    nobody = exposure.measure(8, [], 0)
    assert nobody.concentration is None and not nobody.concentrated
    with pytest.raises(ValueError):
        exposure.measure(8, [1], 2)  # more commanders than people involved


def _e(concentration: float, involvements: int = 9, size: int = 12) -> Exposure:
    return Exposure(size, 5, 1, involvements, concentration)


def test_flag_needs_two_consecutive_concentrated_periods():
    flag = exposure.concentration_flag("Payments", [("2026-07", _e(0.71)),
                                                    ("2026-08", _e(0.69))])
    assert flag is not None and flag.state == "flag"
    assert flag.kind == exposure.EXPOSURE_CONCENTRATION
    assert "71% in Jul 2026, 69% in Aug 2026" in flag.what_was_seen
    assert "Rotate the incident commander role" in flag.next_step
    # one period alone, a gap between the two, or one of them at half: no flag
    assert exposure.concentration_flag("P", [("2026-08", _e(0.9))]) is None
    assert exposure.concentration_flag("P", [("2026-06", _e(0.9)), ("2026-08", _e(0.9))]) is None
    assert exposure.concentration_flag("P", [("2026-07", _e(0.5)), ("2026-08", _e(0.9))]) is None
    # as many involvements as people in the fifth: the fifth carries them all, trivially
    assert exposure.concentration_flag("P", [("2026-Q2", _e(1.0, 2)),
                                             ("2026-Q3", _e(1.0, 2))]) is None
    assert exposure.concentration_flag("P", [("2026-Q2", _e(0.8)),
                                             ("2026-Q3", _e(0.8))]) is not None


def test_team_size_rule():
    assert release.team_size_release(5, 5).allowed
    refused = release.team_size_release(4, 5)
    assert not refused.allowed and refused.reason is release.Reason.SMALL_TEAM
    assert refused.short == "not enough people"
    assert "fewer than 5 people" in refused.message
    with pytest.raises(ValueError):
        release.team_size_release(-1, 5)
