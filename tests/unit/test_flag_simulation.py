"""Simulated teams: how often flags and watches appear with no gap, and power to see one.

Every simulated team runs the real rule (`analysis.flags.policy_gap_flags`, hence
`flags.resolve`): one-sided exact binomial test against the 25% tolerance per policy,
Benjamini-Hochberg across the team's checks, "flag" at an adjusted p of at most 10% with the
95% Wilson lower bound above the tolerance, "watch" at an adjusted p of at most 25% with the
share above the tolerance.

Set-up (docs/statistics.md publishes the figures this prints):

* a team has 5 policies in force (the first five of ``analysis.items.POLICIES``), or 8 in
  the "eight policies" row;
* each policy's number of countable answers is drawn independently and uniformly from
  5 to 30 (5 to 40 with 8 policies); contrary answers are binomial at the true share;
* 20,000 teams per no-gap scenario, 4,000 per power cell; numpy's default generator seeded
  with ``SEED`` plus a fixed offset per scenario, so every run gives the same figures.

Print the tables with ``.venv/bin/python tests/unit/test_flag_simulation.py`` (about a
minute), or run the checks with ``.venv/bin/python -m pytest -q -m slow
tests/unit/test_flag_simulation.py``. The tests fail if a no-gap rate exceeds its documented
target (flags at most q = 10% of teams, watches at most 25%) or if the published table
drifts from what the rule gives.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from analysis import flags
from analysis.items import NO, POLICIES, POLICY_BY_ID, PRACTICE_BY_ID, YES

pytestmark = pytest.mark.slow

SEED = 20261128
NULL_TEAMS = 20_000
POWER_TEAMS = 4_000
TEAM_POLICIES = POLICIES[:5]
SIZES = (5, 30)
Q = flags.FDR_Q
WATCH_TARGET = 0.25  # teams with at least one watch under no gap (issue 17)
TOLERANCE = flags.DEFAULT_TOLERANCE
DOC = Path(__file__).resolve().parents[2] / "docs" / "statistics.md"


def counts_for(policy, contrary: int, n: int) -> dict[int, int]:
    """Answer counts with ``contrary`` contrary answers out of ``n``."""
    if policy.check in PRACTICE_BY_ID:
        return {YES: contrary, NO: n - contrary}
    return {min(policy.contrary): contrary, 3: n - contrary}  # the rest answer "Neither"


def team_flags(rng, policies, shares, sizes) -> list[flags.Flag]:
    page = {
        policy.check: counts_for(policy, int(rng.binomial(n, share)), int(n))
        for policy, share, n in zip(policies, shares, sizes, strict=True)
    }
    return flags.policy_gap_flags(policies, page, tolerance=TOLERANCE, q=Q)


@dataclass(frozen=True)
class NullRates:
    teams_flag: float
    teams_watch: float
    teams_either: float
    checks_flag: float
    checks_watch: float


def null_rates(seed: int, share: float, policies=TEAM_POLICIES, sizes=SIZES,
               teams: int = NULL_TEAMS) -> NullRates:
    rng = np.random.default_rng(seed)
    any_flag = any_watch = any_either = flagged = watched = 0
    for _ in range(teams):
        ns = rng.integers(sizes[0], sizes[1] + 1, size=len(policies))
        states = [f.state for f in team_flags(rng, policies, [share] * len(policies), ns)]
        any_flag += flags.FLAG in states
        any_watch += flags.WATCH in states
        any_either += bool(states)
        flagged += states.count(flags.FLAG)
        watched += states.count(flags.WATCH)
    checks = teams * len(policies)
    return NullRates(any_flag / teams, any_watch / teams, any_either / teams,
                     flagged / checks, watched / checks)


#: The no-gap rows of the published table: label -> (seed offset, share, policies, sizes).
NULL_SCENARIOS = {
    "every true share at the 25% tolerance": (1, TOLERANCE, TEAM_POLICIES, SIZES),
    "every true share at 15%": (2, 0.15, TEAM_POLICIES, SIZES),
    "eight policies, true shares at 25%, 5-40 answers": (3, TOLERANCE, POLICIES[:8],
                                                           (5, 40)),
}


@cache
def null_table() -> dict[str, NullRates]:
    return {label: null_rates(SEED + offset, share, policies, sizes)
            for label, (offset, share, policies, sizes) in NULL_SCENARIOS.items()}


@dataclass(frozen=True)
class Power:
    alone_flag: float
    alone_either: float
    team_flag: float
    team_either: float


def power(share: float, n: int, teams: int = POWER_TEAMS) -> Power:
    """The gap policy (neutral author) at a true ``share`` with ``n`` answers: alone, and
    as one of the team's 5 checks whose 4 others sit at a true 15%, all with ``n`` answers."""
    policy = POLICY_BY_ID["neutral_author"]
    assert policy is TEAM_POLICIES[0]
    offset = int(round(share * 100)) * 1000 + n
    rng_alone = np.random.default_rng(SEED + offset)
    rng_team = np.random.default_rng(SEED + offset + 500)
    alone = {flags.FLAG: 0, flags.WATCH: 0}
    team = {flags.FLAG: 0, flags.WATCH: 0}
    shares = [share] + [0.15] * (len(TEAM_POLICIES) - 1)
    for _ in range(teams):
        for result in team_flags(rng_alone, [policy], [share], [n]):
            alone[result.state] += 1
        for result in team_flags(rng_team, TEAM_POLICIES, shares, [n] * len(TEAM_POLICIES)):
            if result.subject == policy.id:
                team[result.state] += 1
    return Power(alone[flags.FLAG] / teams, sum(alone.values()) / teams,
                 team[flags.FLAG] / teams, sum(team.values()) / teams)


POWER_CELLS = [(share, n) for share in (0.40, 0.50) for n in (10, 20, 40)]


@cache
def power_table() -> dict[tuple[float, int], Power]:
    return {cell: power(*cell) for cell in POWER_CELLS}


def exact_single_check(share: float, n: int) -> tuple[float, float]:
    """Exact probabilities of flag and of flag-or-watch for one check alone, summing the
    binomial over every k with the state the rule gives k of n."""
    policy = POLICY_BY_ID["neutral_author"]
    flag = either = 0.0
    for k in range(n + 1):
        states = [f.state for f in flags.policy_gap_flags(
            [policy], {policy.check: counts_for(policy, k, n)})]
        weight = math.comb(n, k) * share**k * (1 - share) ** (n - k)
        flag += weight * (flags.FLAG in states)
        either += weight * bool(states)
    return flag, either


def se(p: float, teams: int) -> float:
    return math.sqrt(max(p * (1 - p), 1e-4) / teams)


# --------------------------------------------------------------------------- tables


def pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def markdown() -> str:
    lines = [
        "| no gap | teams with a flag | teams with a watch | teams with either | "
        "checks flagged | checks watched |",
        "|---|---|---|---|---|---|",
    ]
    for label, r in null_table().items():
        lines.append(f"| {label} | {pct(r.teams_flag)} | {pct(r.teams_watch)} | "
                     f"{pct(r.teams_either)} | {pct(r.checks_flag)} | {pct(r.checks_watch)} |")
    lines += [
        "",
        "| true share | answers | flag, only check | flag or watch, only check | "
        "flag, 1 of 5 checks | flag or watch, 1 of 5 checks |",
        "|---|---|---|---|---|---|",
    ]
    for (share, n), p in power_table().items():
        lines.append(f"| {share:.0%} | {n} | {pct(p.alone_flag)} | {pct(p.alone_either)} | "
                     f"{pct(p.team_flag)} | {pct(p.team_either)} |")
    return "\n".join(lines)


def published_rows() -> dict[str, list[float]]:
    """The figures of docs/statistics.md's simulation tables, by their first cells."""
    rows: dict[str, list[float]] = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 6 or not cells[-1].endswith("%"):
            continue
        numbers = [float(c[:-1]) / 100 for c in cells if re.fullmatch(r"\d+(\.\d+)?%", c)]
        key = cells[0] if cells[0] in NULL_SCENARIOS else f"{cells[0]} {cells[1]}"
        rows[key] = numbers[-4:] if key not in NULL_SCENARIOS else numbers
    return rows


# --------------------------------------------------------------------------- tests


@pytest.mark.parametrize("label", list(NULL_SCENARIOS))
def test_no_gap_rates_stay_within_the_documented_targets(label):
    rates = null_table()[label]
    print(f"\n{label}: {rates}")
    assert rates.teams_flag <= Q
    assert rates.teams_watch <= WATCH_TARGET
    # Benjamini-Hochberg at 25% under the complete null: any watch or flag at most 25%.
    assert rates.teams_either <= flags.WATCH_Q


def test_false_discovery_rate_of_flags_with_some_true_gaps():
    rng = np.random.default_rng(SEED + 4)
    proportions = []
    real = {TEAM_POLICIES[0].id, TEAM_POLICIES[1].id}
    for _ in range(NULL_TEAMS // 4):
        shares = [0.5, 0.5] + [TOLERANCE] * (len(TEAM_POLICIES) - 2)
        sizes = rng.integers(SIZES[0], SIZES[1] + 1, size=len(TEAM_POLICIES))
        flagged = {f.subject for f in team_flags(rng, TEAM_POLICIES, shares, sizes)
                   if f.state == flags.FLAG}
        proportions.append(len(flagged - real) / max(len(flagged), 1))
    fdr = float(np.mean(proportions))
    print(f"\ntwo true gaps (50%) among 5 policies: false discovery rate of flags {fdr:.2%}")
    assert fdr <= Q


@pytest.mark.parametrize("cell", POWER_CELLS)
def test_power_of_a_lone_check_agrees_with_the_exact_sum(cell):
    share, n = cell
    result = power_table()[cell]
    flag, either = exact_single_check(share, n)
    assert abs(result.alone_flag - flag) <= 4 * se(flag, POWER_TEAMS)
    assert abs(result.alone_either - either) <= 4 * se(either, POWER_TEAMS)
    # The family adjustment can only take power away.
    assert result.team_flag <= result.alone_flag + 4 * se(flag, POWER_TEAMS)


def test_the_published_table_is_what_the_rule_gives():
    published = published_rows()
    for label, rates in null_table().items():
        got = [rates.teams_flag, rates.teams_watch, rates.teams_either, rates.checks_flag,
               rates.checks_watch]
        assert label in published, f"docs/statistics.md lacks the row {label!r}"
        for value, shown in zip(got, published[label], strict=True):
            assert abs(value - shown) <= 0.0005 + 4 * se(value, NULL_TEAMS), (label, got)
    for (share, n), p in power_table().items():
        key = f"{share:.0%} {n}"
        assert key in published, f"docs/statistics.md lacks the power row {key!r}"
        got = [p.alone_flag, p.alone_either, p.team_flag, p.team_either]
        for value, shown in zip(got, published[key], strict=True):
            assert abs(value - shown) <= 0.0005 + 4 * se(value, POWER_TEAMS), (key, got)


if __name__ == "__main__":
    print(markdown())
