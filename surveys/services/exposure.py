"""A team's shared incident exposure per period, as decided when each period ended.

Reads the ``exposure:<team>:<period>`` records (``decisions.decide_exposure``): the share of
the team involved in at least one incident, the share who were incident commander, and how
concentrated involvement was, with the flag decided with them. Teams of fewer than k people
have records that say "not enough people" and nothing else. Nothing here decides or writes;
no person is named or listed.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from analysis import exposure, periods
from analysis.series import Summary, summarise
from surveys.services import findings, releases
from surveys.services.periods import check_grain


@dataclass(frozen=True)
class ExposureRow:
    period: str
    label: str
    shown: bool
    reason: str  # the release decision's code, as for the team's other figures
    short: str
    message: str
    figure: exposure.Exposure | None = None

    def pct(self, what: str) -> float | None:
        """``involved``, ``commander`` or ``concentration`` as a percentage."""
        f = self.figure
        if f is None:
            return None
        value = {"involved": f.involved_share, "commander": f.commander_share,
                 "concentration": f.concentration}[what]
        return None if value is None else 100 * value


@dataclass(frozen=True)
class TeamExposure:
    grain: str
    rows: tuple[ExposureRow, ...]
    series: tuple[Summary, ...]
    flags: tuple[findings.ShownFlag, ...]

    @property
    def any_shown(self) -> bool:
        return any(r.shown for r in self.rows)


SERIES = (("involved", "Share of the team involved in an incident"),
          ("commander", "Share who were incident commander"),
          ("concentration", "Share of involvements carried by the most involved fifth"))


def team_exposure(session: Session, team_id: int, grain: str) -> TeamExposure:
    """Every decided period of one grain with exposure figures for the team, oldest first;
    a series per figure over the shown periods; the flags of the latest decided period."""
    check_grain(grain)
    stored = releases.stored_with_prefix(session, f"exposure:{team_id}:")
    rows = []
    for subject, figure in stored.items():
        period = subject.rsplit(":", 1)[1]
        if not periods.valid_period(period) or periods.grain_of(period) != grain:
            continue
        rows.append(ExposureRow(
            period, periods.period_label(period), figure.allowed,
            figure.decision.reason.value, figure.decision.short,
            figure.message,
            exposure.Exposure.from_dict(dict(figure.extra)) if figure.allowed else None))
    rows.sort(key=lambda r: periods.period_index(r.period))
    series = []
    for what, label in SERIES:
        points = [(r.period, pct) for r in rows if r.shown and (pct := r.pct(what)) is not None]
        series.append(summarise(label, points))
    latest = rows[-1] if rows else None
    shown_flags: tuple[findings.ShownFlag, ...] = ()
    if latest is not None and latest.shown:
        shown_flags = findings.shown(
            stored[releases.exposure_subject(team_id, latest.period)].findings)
    return TeamExposure(grain, tuple(rows), tuple(series), shown_flags)
