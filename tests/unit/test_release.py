import pytest

from analysis import release
from analysis.release import Reason


@pytest.mark.parametrize("k", [3, 4, 5, 10])
def test_allowed_minimum_groups(k):
    assert release.validate_min_group(k) == k


@pytest.mark.parametrize("k", [2, 1, 0, -5])
def test_minimum_group_never_below_three(k):
    with pytest.raises(ValueError, match="below 3"):
        release.validate_min_group(k)


@pytest.mark.parametrize("k", [5.0, "5", True, None])
def test_minimum_group_must_be_an_integer(k):
    with pytest.raises(ValueError):
        release.validate_min_group(k)


def test_nothing_while_scheduled_or_open_even_with_many_answers():
    assert release.survey_release("scheduled", 0, 5).reason is Reason.NOT_OPEN_YET
    decision = release.survey_release("open", 50, 5)
    assert not decision.allowed and decision.reason is Reason.STILL_OPEN


@pytest.mark.parametrize("n, allowed", [(0, False), (1, False), (4, False), (5, True), (9, True)])
def test_closed_survey_released_only_at_k(n, allowed):
    assert release.survey_release("closed", n, 5).allowed is allowed


def test_below_minimum_message_names_k_and_does_not_give_the_count():
    decision = release.survey_release("closed", 3, 5)
    assert decision.reason is Reason.BELOW_MINIMUM
    assert "Fewer than 5" in decision.message
    assert "3" not in decision.message


def test_unknown_status_and_negative_counts_refused():
    with pytest.raises(ValueError):
        release.survey_release("paused", 5, 5)
    with pytest.raises(ValueError):
        release.survey_release("closed", -1, 5)


def test_cells_and_minimum_reached():
    assert release.cell_allowed(5, 5) and not release.cell_allowed(4, 5)
    assert release.minimum_reached(3, 3) and not release.minimum_reached(2, 3)
    with pytest.raises(ValueError):
        release.cell_allowed(10, 2)
