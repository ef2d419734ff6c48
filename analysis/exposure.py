"""Shared incident exposure: how a team's involvement in incidents is spread across its people.

Pure computation on incident metadata (who was listed on which incident, with which role),
never on answers. Blameless practice holds that being involved in an incident carries no
stigma when everyone on a team has been paged, has been incident commander, has been "the
person involved"; when a few people carry most incidents, both the load and the stigma
concentrate on them.

For one team and one calendar period:

* ``involved_share``: the share of the team's people involved in at least one incident;
* ``commander_share``: the share who were incident commander at least once;
* ``concentration``: the share of the period's involvements (person, incident) carried by
  the most involved fifth of the team, read off the Lorenz curve (``top_share``).

A flag is raised when the most involved fifth carried most involvements (more than half) in
two consecutive periods, with a next step. Whether a team's figures may be shown at all is
the release guard's team-size rule (``analysis.release.team_size_release``), applied when
the period is decided.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from analysis import flags
from analysis.periods import period_index, period_label

#: Roles a participant may be listed with on an incident (optional).
INCIDENT_ROLES: tuple[str, ...] = ("commander", "responder", "author", "communications",
                                   "observer")
COMMANDER = "commander"
#: The part of the team whose share of involvements is watched: the most involved fifth.
TOP_FRACTION = 0.2
#: "Most" of the involvements: more than half.
MOST = 0.5
#: Consecutive periods the concentration must persist for a flag.
PERIODS_RUNNING = 2

EXPOSURE_CONCENTRATION = "exposure_concentration"
NEXT_STEP = (
    "Rotate the incident commander role through the whole team and pair people on on-call, "
    "so that the next incidents are carried by people who have not been involved yet."
)


@dataclass(frozen=True)
class Exposure:
    """A team's exposure in one period (shares are proportions, 0..1)."""

    team_size: int
    involved: int
    commanders: int
    involvements: int
    concentration: float | None  # None when nobody was involved

    @property
    def involved_share(self) -> float:
        return self.involved / self.team_size if self.team_size else 0.0

    @property
    def commander_share(self) -> float:
        return self.commanders / self.team_size if self.team_size else 0.0

    @property
    def concentrated(self) -> bool:
        """The most involved fifth carried most involvements, and that says something: with
        no more involvements than people in the fifth, the fifth carries them all."""
        return (self.concentration is not None and self.concentration > MOST
                and self.involvements > TOP_FRACTION * self.team_size)

    def to_dict(self) -> dict[str, float | int | None]:
        return {"team_size": self.team_size, "involved": self.involved,
                "commanders": self.commanders, "involvements": self.involvements,
                "concentration": self.concentration}

    @classmethod
    def from_dict(cls, data: dict) -> Exposure:
        return cls(int(data["team_size"]), int(data["involved"]), int(data["commanders"]),
                   int(data["involvements"]),
                   None if data.get("concentration") is None else float(data["concentration"]))


def top_share(counts: Sequence[int], team_size: int, fraction: float = TOP_FRACTION) -> float:
    """Share of all involvements carried by the most involved ``fraction`` of the team.

    Parameters
    ----------
    counts : sequence of int
        Involvements per person of the team who was involved at all (people with none may
        be left out: they count as zeros up to ``team_size``).
    team_size : int
        People on the team.
    fraction : float
        The top part of the team, 0.2 for the most involved fifth.

    Returns
    -------
    float
        ``1 - L(1 - fraction)`` for the Lorenz curve ``L`` of the counts, linear between
        people: with 10 people the top fifth is the two most involved, with 7 it is the
        most involved and 0.4 of the next.

    Raises
    ------
    ValueError
        On a negative count, more involved people than ``team_size``, no involvement at
        all, or ``fraction`` outside (0, 1].

    Notes
    -----
    The top-share reading of the Lorenz curve (Lorenz 1905 [1]_), as in "the top 20% hold
    X%" statements of concentration; interpolating linearly between people keeps it
    defined for teams whose size is not a multiple of five.

    References
    ----------
    .. [1] M. O. Lorenz, "Methods of measuring the concentration of wealth", Publications
       of the American Statistical Association 9 (1905) 209-219.
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction!r}")
    values = sorted((int(c) for c in counts), reverse=True)
    if any(v < 0 for v in values):
        raise ValueError("involvement counts must not be negative")
    if len(values) > team_size:
        raise ValueError("more people involved than on the team")
    total = sum(values)
    if total == 0:
        raise ValueError("no involvement to share")
    values += [0] * (team_size - len(values))
    people = fraction * team_size
    whole = int(people)
    carried = sum(values[:whole])
    if whole < team_size:
        carried += (people - whole) * values[whole]
    return carried / total


def measure(team_size: int, involvements: Sequence[int], commanders: int) -> Exposure:
    """A team's exposure from the involvements of each person involved (any order) and the
    number of its people who were commander at least once."""
    if team_size < 1:
        raise ValueError("a team needs at least one person")
    involved = sum(1 for c in involvements if c > 0)
    if commanders < 0 or commanders > involved:
        raise ValueError("commanders must be between 0 and the people involved")
    total = sum(involvements)
    concentration = top_share(involvements, team_size) if total else None
    return Exposure(team_size, involved, commanders, total, concentration)


def concentration_flag(team_label: str, history: Sequence[tuple[str, Exposure]]
                       ) -> flags.Flag | None:
    """The flag for involvement carried by a few, or None.

    ``history``: the team's shown periods of one grain, oldest first, ending with the period
    being decided. Raised when the last ``PERIODS_RUNNING`` periods are consecutive and in
    each the most involved fifth carried more than half of the involvements. No test is
    involved: these are counts from incident records, not estimates from answers.
    """
    recent = list(history)[-PERIODS_RUNNING:]
    if len(recent) < PERIODS_RUNNING:
        return None
    positions = [period_index(p) for p, _ in recent]
    if any(b - a != 1 for a, b in zip(positions, positions[1:], strict=False)):
        return None
    if not all(e.concentrated for _, e in recent):
        return None
    shares = ", ".join(f"{100 * e.concentration:.0f}% in {period_label(p)}"  # type: ignore[operator]
                       for p, e in recent)
    return flags.Flag(
        kind=EXPOSURE_CONCENTRATION, state=flags.FLAG, subject="exposure",
        what_was_seen=(f"In {team_label}, the most involved fifth of the team carried most "
                       f"incident involvements two periods running ({shares})."),
        how_sure=("No test is involved: these are counts from incident records, not "
                  "estimates from answers, and they name nobody."),
        next_step=NEXT_STEP,
        numbers={f"concentration_{i}": float(e.concentration)  # type: ignore[arg-type]
                 for i, (_, e) in enumerate(recent)},
    )
