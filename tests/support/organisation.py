"""A small organisation with hand-made answers, for the results, trends and HR tests.

Surveys are created, answered and closed through the real services at past dates; the
answers are chosen so that the figures can be worked out by hand (see each test).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from support import ANSWERS, answer_and_close, tokens_of
from surveys.services import admin

AUG = datetime(2026, 8, 3, 9, 0, tzinfo=UTC)  # surveys close 7 days later: 2026-08, 2026-Q3
MAY = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)  # 2026-05, 2026-Q2

# Six respondents; per statement the six answers.
PAYMENTS_AUG = {
    "blame_system": [5, 4, 4, 2, 3, 1],    # favourable 3 of 6
    "blame_person": [2, 2, 4, 4, 1, 3],    # reverse-keyed: favourable 3 of 6
    "blame_career": [1, 1, 1, 1, 1, 1],    # reverse-keyed: 6 of 6
    "social_treated": [2, 2, 2, 2, 2, 2],  # reverse-keyed: 6 of 6
    "social_hesitate": [3, 3, 3, 3, 3, 3],  # 0 of 6
    "social_support": [5, 5, 5, 5, 5, 5],  # 6 of 6
    "sharing_own": [4, 4, 4, 4, 4, 2],     # 5 of 6
    "sharing_free": [4, 4, 4, 4, 0, 0],    # 4 of 4 ("Doesn't apply" left out): hidden, 4 < 5
    "lead_shared": [1, 1, 2, 2, 4, 5],     # 2 of 6
}
INVOLVEMENT = ["direct", "direct", "direct", "observer", "observer", "unsaid"]


def rows_from(columns: dict[str, list[int]], involvement: list[str]) -> list[dict[str, str]]:
    n = len(involvement)
    rows = []
    for i in range(n):
        row = dict(ANSWERS)
        row.update({item: str(values[i]) for item, values in columns.items()})
        row["involvement"] = involvement[i]
        rows.append(row)
    return rows


def run_survey(db, settings, box, *, team: str, at: datetime, rows: list[dict[str, str]],
               kind: str = "availability", people: int | None = None, title: str = "Incident"):
    """Open a survey at ``at``, answer it with ``rows``, close it when it is due."""
    return answer_and_close(db, settings, box, rows, people=people, team=team, now=at,
                            kind=kind, title=title)


def uniform(n: int, **overrides: str) -> list[dict[str, str]]:
    return [dict(ANSWERS, **overrides) for _ in range(n)]


def set_policies(db, policies: set[str]) -> None:
    admin.set_policies(db, policies, AUG - timedelta(days=30))


__all__ = ["AUG", "MAY", "PAYMENTS_AUG", "INVOLVEMENT", "rows_from", "run_survey", "uniform",
           "set_policies", "tokens_of"]
