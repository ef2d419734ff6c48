"""The release guard: the one gate every number about answers passes before it is shown.

Pure functions, no Flask and no database. Views, templates, exports and the API never compare
a count with k themselves; they ask this module and show what it allows.

Rules (see docs/anonymity.md):

* k, the minimum group, defaults to 5 and is never below 3 (the floor used by every major
  survey vendor; below it a respondent's answers are easy to single out).
* Nothing about a survey's answers is shown while it is open; only whether the minimum has
  been reached, never a running count (a ticking count tells who just answered).
* A statistic is shown only over at least k respondents.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

MIN_GROUP_FLOOR = 3
DEFAULT_MIN_GROUP = 5


def validate_min_group(k: int) -> int:
    """Return ``k`` if it is an allowed minimum group, else raise ``ValueError``."""
    if isinstance(k, bool) or not isinstance(k, int):
        raise ValueError("the minimum group must be a whole number")
    if k < MIN_GROUP_FLOOR:
        raise ValueError(f"the minimum group can never be below {MIN_GROUP_FLOOR}")
    return k


class Reason(StrEnum):
    RELEASED = "released"
    NOT_OPEN_YET = "not_open_yet"
    STILL_OPEN = "still_open"
    BELOW_MINIMUM = "below_minimum"
    NO_RESPONSES = "no_responses"


_MESSAGES = {
    Reason.RELEASED: "Results are released.",
    Reason.NOT_OPEN_YET: (
        "The survey has not opened yet. Results appear after it closes, and only if enough "
        "people answered that no one can be singled out."
    ),
    Reason.STILL_OPEN: (
        "The survey is still open. Nothing is shown while people are answering, so that no "
        "one's answers can be told apart by when they arrived."
    ),
    Reason.BELOW_MINIMUM: (
        "Fewer than {k} people answered, so showing these results could point at someone. "
        "They are kept sealed and will count towards the team's results for the period once "
        "enough answers are pooled."
    ),
    Reason.NO_RESPONSES: (
        "Nobody answered this survey. That is worth a gentle conversation about whether "
        "the survey reached people at a good time, not about who did not answer."
    ),
}


@dataclass(frozen=True)
class Decision:
    """Whether something may be shown, and a plain-words reason either way."""

    allowed: bool
    reason: Reason
    k: int

    @property
    def message(self) -> str:
        return _MESSAGES[self.reason].format(k=self.k)


def survey_release(status: str, respondents: int, k: int) -> Decision:
    """Decide whether a survey's sealed results may be shown.

    Parameters
    ----------
    status : {"scheduled", "open", "closed"}
    respondents : number of sealed responses (only meaningful once closed)
    k : the survey's locked minimum group
    """
    validate_min_group(k)
    if respondents < 0:
        raise ValueError("respondents cannot be negative")
    if status == "scheduled":
        return Decision(False, Reason.NOT_OPEN_YET, k)
    if status == "open":
        return Decision(False, Reason.STILL_OPEN, k)
    if status != "closed":
        raise ValueError(f"unknown survey status {status!r}")
    if respondents == 0:
        return Decision(False, Reason.NO_RESPONSES, k)
    if respondents < k:
        return Decision(False, Reason.BELOW_MINIMUM, k)
    return Decision(True, Reason.RELEASED, k)


def cell_allowed(n: int, k: int) -> bool:
    """Whether one statistic over ``n`` respondents may be shown (n at least k)."""
    validate_min_group(k)
    return n >= k


def minimum_reached(answered: int, k: int) -> bool:
    """While open: only this yes/no is ever shown, never ``answered`` itself."""
    validate_min_group(k)
    return answered >= k
