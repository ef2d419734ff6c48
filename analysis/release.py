"""The release guard: the one gate every number about answers passes before it is shown.

Pure functions, no Flask and no database. Views, templates, exports and the API never compare
a count with k themselves; they ask this module and show what it allows.

Rules (see docs/anonymity.md):

* k, the minimum group, defaults to 5 and is never below 3 (the floor used by every major
  survey vendor; below it a respondent's answers are easy to single out).
* Nothing about a survey's answers is shown while it is open; only whether the minimum has
  been reached, never a running count (a ticking count tells who just answered).
* A statistic is shown only over at least k respondents.
* Cuts and the team hierarchy pass complementary suppression (``analysis.suppression``), so
  that no total minus the shown cells isolates 1 to k - 1 people.
* Every released statistic is a sum over sealed cells, and a new one is allowed only if the
  differencing audit (``analysis.audit``) finds that, together with everything released
  before, no group of 1 to k - 1 people becomes computable.
* Pooled figures (a team's calendar period) are shown only once the period has ended, so
  they never change after they are shown.
* Comments are shown only pooled, when at least k different people must have written them.

:func:`decide` is the single gate that combines these rules for one statistic; services
(``surveys.services.releases``) call it and record what it allowed.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from analysis.audit import AuditDecision, ReleaseLedger
from analysis.suppression import (
    CutSuppression,
    HierarchySuppression,
    suppress_cut,
    suppress_hierarchy,
)

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
    SUPPRESSED = "suppressed"
    DIFFERENCING = "differencing"
    AUDIT_LIMIT = "audit_limit"
    PERIOD_NOT_OVER = "period_not_over"
    FEW_COMMENTERS = "few_commenters"
    PENDING = "pending"
    SMALL_TEAM = "small_team"


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
    Reason.SUPPRESSED: (
        "Held back because a neighbouring group is smaller than {k} people: if this figure "
        "were shown, the total minus the figures shown would give that small group's answers."
    ),
    Reason.DIFFERENCING: (
        "Held back: combined with results already shown, this figure would let someone work "
        "out the answers of fewer than {k} people by subtracting one total from another."
    ),
    Reason.AUDIT_LIMIT: (
        "Held back: the check that no group of fewer than {k} people can be worked out from "
        "everything already shown could not finish in time, so this figure stays hidden."
    ),
    Reason.PERIOD_NOT_OVER: (
        "This period has not ended yet. Pooled results appear once it is over, so that a "
        "figure never changes after it is shown (a change would tell what the newcomers said)."
    ),
    Reason.FEW_COMMENTERS: (
        "Comments are shown only when at least {k} different people wrote them, pooled for "
        "the team's period, so that no comment can be tied to a small group."
    ),
    Reason.PENDING: (
        "These results are decided when the survey closes or its calendar period ends, "
        "once, in a fixed order; this decision is still to be made. It is made within a "
        "minute by the worker, and what it decides then will not change."
    ),
    Reason.SMALL_TEAM: (
        "This team has fewer than {k} people, so figures about who was involved in its "
        "incidents could point at someone; they are not shown."
    ),
}


_SHORT = {
    Reason.RELEASED: "released",
    Reason.NOT_OPEN_YET: "not open yet",
    Reason.STILL_OPEN: "still open",
    Reason.BELOW_MINIMUM: "not enough people",
    Reason.NO_RESPONSES: "no answers",
    Reason.SUPPRESSED: "held back to protect a smaller group",
    Reason.DIFFERENCING: "held back to protect a smaller group",
    Reason.AUDIT_LIMIT: "held back to protect a smaller group",
    Reason.PERIOD_NOT_OVER: "period not over yet",
    Reason.FEW_COMMENTERS: "too few people commented",
    Reason.PENDING: "being decided",
    Reason.SMALL_TEAM: "not enough people",
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

    @property
    def short(self) -> str:
        """A few words for a table cell."""
        return _SHORT[self.reason]


class SurveyStatus(StrEnum):
    """Where a survey is in its life; the one vocabulary for it (stored as these strings).

    The gate's first rule depends on it: nothing about answers while not closed."""

    SCHEDULED = "scheduled"
    OPEN = "open"
    CLOSED = "closed"


def survey_release(status: str, respondents: int, k: int) -> Decision:
    """Decide whether a survey's sealed results may be shown (before the audit).

    Parameters
    ----------
    status : SurveyStatus
    respondents : number of sealed responses (only meaningful once closed)
    k : the survey's locked minimum group
    """
    validate_min_group(k)
    if respondents < 0:
        raise ValueError("respondents cannot be negative")
    try:
        status = SurveyStatus(status)
    except ValueError:
        raise ValueError(f"unknown survey status {status!r}") from None
    if status is SurveyStatus.SCHEDULED:
        return Decision(False, Reason.NOT_OPEN_YET, k)
    if status is SurveyStatus.OPEN:
        return Decision(False, Reason.STILL_OPEN, k)
    if respondents == 0:
        return Decision(False, Reason.NO_RESPONSES, k)
    if respondents < k:
        return Decision(False, Reason.BELOW_MINIMUM, k)
    return Decision(True, Reason.RELEASED, k)


def team_size_release(team_size: int, k: int) -> Decision:
    """Whether figures about a team's people that are not answers (how incident involvement
    is shared, from incident records) may be shown: only for a team of at least ``k``
    people, so that a share never describes one or two named colleagues."""
    if isinstance(team_size, bool) or not isinstance(team_size, int) or team_size < 0:
        raise ValueError(f"team_size must be a non-negative whole number, got {team_size!r}")
    if team_size >= k:
        return Decision(True, Reason.RELEASED, k)
    return Decision(False, Reason.SMALL_TEAM, k)


def pooled_min_group(org_min_group: int, survey_min_groups: Iterable[int]) -> int:
    """The minimum group of a figure that adds up several surveys: the largest of the
    organisation's k and each pooled survey's own k (locked when its invitations went out),
    so that the promise made in every invitation holds wherever its answers are counted."""
    return max([validate_min_group(org_min_group)]
               + [validate_min_group(k) for k in survey_min_groups])


def cell_allowed(n: int, k: int) -> bool:
    """Whether one statistic over ``n`` respondents may be shown (n at least k)."""
    validate_min_group(k)
    return n >= k


def minimum_reached(answered: int, k: int) -> bool:
    """While open: only this yes/no is ever shown, never ``answered`` itself."""
    validate_min_group(k)
    return answered >= k


# --------------------------------------------------------------------------- the single gate


def cut_release(total: int, cells: Mapping[Hashable, int], k: int) -> CutSuppression:
    """Which cells of one cut (involvement, incident kind, teams of a group) may be shown.

    Complementary suppression (:func:`analysis.suppression.suppress_cut`): every shown cell
    has at least ``k`` people, and what is hidden is nobody or at least ``k`` people.
    """
    validate_min_group(k)
    return suppress_cut(total, cells, k)


def hierarchy_release(parents: Mapping[Hashable, Hashable | None],
                      totals: Mapping[Hashable, int], k: int) -> HierarchySuppression:
    """Which nodes of the team hierarchy (teams, parent teams, organisation) may be shown.

    See :func:`analysis.suppression.suppress_hierarchy`: every remainder of a shown node is
    nobody or at least ``k``.
    """
    validate_min_group(k)
    return suppress_hierarchy(parents, totals, k)


def audit_reason(audit: AuditDecision) -> Reason:
    """Map the differencing audit's decision to a reason shown in plain words."""
    if audit.allowed:
        return Reason.RELEASED
    if audit.smallest_group is None:
        return Reason.AUDIT_LIMIT
    return Reason.DIFFERENCING


def decide(
    n: int,
    k: int,
    *,
    cells: Iterable[Hashable] | None = None,
    ledger: ReleaseLedger | None = None,
    suppressed: bool = False,
    period_over: bool = True,
    record_as: Hashable | None = None,
) -> Decision:
    """The one decision whether a statistic (a sum over respondents) may be shown.

    Checks, in order: the statistic has people and at least ``k`` of them; its calendar
    period has ended (pooled figures only); complementary suppression did not hide it; and,
    when a ledger of earlier releases is given, the differencing audit allows the sum over
    ``cells`` next to everything released before.

    Parameters
    ----------
    n : respondents the statistic sums over
    k : the minimum group
    cells : the sealed cells the statistic sums (needed with ``ledger``)
    ledger : every earlier release (:class:`analysis.audit.ReleaseLedger`), or None to skip
        the audit (only for figures that are never shown on their own)
    suppressed : complementary suppression hid it (:func:`cut_release`,
        :func:`hierarchy_release`)
    period_over : for a pooled period, whether it has ended
    record_as : optional release id; when given, an allowed release is recorded in
        ``ledger`` under this id in the same search (nothing is recorded when refused)

    Returns
    -------
    Decision
        Without ``record_as`` nothing is recorded; the caller records an allowed release.
    """
    validate_min_group(k)
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError("respondents must be a non-negative whole number")
    if ledger is not None and ledger.k < k:
        raise ValueError("the ledger's minimum group is below this statistic's")
    if not period_over:
        return Decision(False, Reason.PERIOD_NOT_OVER, k)
    if n == 0:
        return Decision(False, Reason.NO_RESPONSES, k)
    if not cell_allowed(n, k):
        return Decision(False, Reason.BELOW_MINIMUM, k)
    if suppressed:
        return Decision(False, Reason.SUPPRESSED, k)
    if ledger is not None:
        if cells is None:
            raise ValueError("the audit needs the cells the statistic sums")
        if record_as is None:
            reason = audit_reason(ledger.check(cells))
        else:
            cells = frozenset(cells)
            try:
                ledger.record(cells, record_as)
                reason = Reason.RELEASED
            except ValueError:
                # Refused (or invalid): ask again for the reason; an unknown cell raises here.
                reason = audit_reason(ledger.check(cells))
                if reason is Reason.RELEASED:
                    raise
        if reason is not Reason.RELEASED:
            return Decision(False, reason, k)
    return Decision(True, Reason.RELEASED, k)


def distinct_authors_at_least(per_survey: Mapping[Hashable, int],
                              most_surveys_per_person: int) -> int:
    """A lower bound on how many different people wrote a pool of comments.

    Each person comments at most once per survey, so a pool holds at least as many authors
    as its busiest survey has comments, and, when nobody was invited to more than ``m`` of
    the pooled surveys, at least ``ceil(total / m)`` authors.
    """
    if isinstance(most_surveys_per_person, bool) or most_surveys_per_person < 0:
        raise ValueError("most_surveys_per_person must be a non-negative whole number")
    counts = list(per_survey.values())
    if any(isinstance(c, bool) or not isinstance(c, int) or c < 0 for c in counts):
        raise ValueError("comment counts must be non-negative whole numbers")
    total = sum(counts)
    if total == 0:
        return 0
    busiest = max(counts)
    if most_surveys_per_person <= 0:
        return busiest
    return max(busiest, math.ceil(total / most_surveys_per_person))


def comments_release(per_survey: Mapping[Hashable, int], most_surveys_per_person: int,
                     k: int, *, period_over: bool) -> Decision:
    """Whether a pool's comments may be shown: the period is over and at least ``k``
    different people must have written them (:func:`distinct_authors_at_least`)."""
    validate_min_group(k)
    if not period_over:
        return Decision(False, Reason.PERIOD_NOT_OVER, k)
    authors = distinct_authors_at_least(per_survey, most_surveys_per_person)
    if authors == 0:
        return Decision(False, Reason.FEW_COMMENTERS, k)
    if not cell_allowed(authors, k):
        return Decision(False, Reason.FEW_COMMENTERS, k)
    return Decision(True, Reason.RELEASED, k)
