"""Simulated organisations: false flags under no true gap, and power to see a real one.

Every simulated page runs the real rule (`analysis.flags.policy_gap_flags`): one-sided
binomial test against the 25% tolerance, Benjamini-Hochberg at q = 0.10 across the page,
Wilson lower bound above the tolerance. Print the figures with
``.venv/bin/python -m pytest -q -s -m slow tests/unit/test_flag_simulation.py``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from analysis import flags
from surveys.items import NO, POLICIES, POLICY_BY_ID, PRACTICE_BY_ID, YES

pytestmark = pytest.mark.slow

N_ORGS = 2_000
Q = flags.FDR_Q
TOLERANCE = flags.DEFAULT_TOLERANCE
SEED = 20261127


def counts_for(policy, contrary: int, n: int) -> dict[int, int]:
    """Answer counts with ``contrary`` contrary answers out of ``n``."""
    if policy.check in PRACTICE_BY_ID:
        return {YES: contrary, NO: n - contrary}
    return {min(policy.contrary): contrary, 3: n - contrary}  # the rest answer "Neither"


def simulate_page(rng, policies, shares, sizes) -> list[flags.Flag]:
    page = {
        policy.check: counts_for(policy, int(rng.binomial(n, share)), int(n))
        for policy, share, n in zip(policies, shares, sizes, strict=True)
    }
    return flags.policy_gap_flags(policies, page, tolerance=TOLERANCE, q=Q)


def flagged(results) -> set[str]:
    return {r.subject for r in results if r.state == flags.FLAG}


def binomial_se(p: float, n: int = N_ORGS) -> float:
    return math.sqrt(p * (1 - p) / n)


def exact_single_test_power(n: int, share: float) -> float:
    needed = flags.smallest_flagged_count(n)
    return sum(
        math.comb(n, k) * share**k * (1 - share) ** (n - k) for k in range(needed, n + 1)
    )


def test_flag_rate_under_no_true_gap_stays_below_the_false_discovery_level():
    rng = np.random.default_rng(SEED)
    at_tolerance = below_tolerance = 0
    false_tests = total_tests = 0
    for _ in range(N_ORGS):
        # Hardest null: every policy's true contrary share exactly at the tolerance;
        # team pools of 5 to 40 countable answers per policy.
        sizes = rng.integers(5, 41, size=len(POLICIES))
        result = flagged(simulate_page(rng, POLICIES, [TOLERANCE] * len(POLICIES), sizes))
        at_tolerance += bool(result)
        false_tests += len(result)
        total_tests += len(POLICIES)
        # A milder null: true shares anywhere from 0 to the tolerance.
        shares = rng.uniform(0, TOLERANCE, size=len(POLICIES))
        below_tolerance += bool(flagged(simulate_page(rng, POLICIES, shares, sizes)))
    rate_at = at_tolerance / N_ORGS
    rate_below = below_tolerance / N_ORGS
    print(
        f"\nno true gap, {N_ORGS} organisations x {len(POLICIES)} policies: "
        f"organisations with any flag {rate_at:.2%} (shares at 25%), "
        f"{rate_below:.2%} (shares 0-25%); per-test false flag rate "
        f"{false_tests / total_tests:.2%}"
    )
    # Under no true gap every flag is false, so the false discovery rate equals the share
    # of organisations with any flag.
    assert rate_at <= Q
    assert rate_below <= Q


def test_false_discovery_rate_with_some_true_gaps():
    rng = np.random.default_rng(SEED + 1)
    proportions = []
    for _ in range(N_ORGS):
        shares = [0.5, 0.5] + [TOLERANCE] * (len(POLICIES) - 2)
        sizes = rng.integers(5, 41, size=len(POLICIES))
        result = flagged(simulate_page(rng, POLICIES, shares, sizes))
        false = len(result - {POLICIES[0].id, POLICIES[1].id})
        proportions.append(false / max(len(result), 1))
    fdr = float(np.mean(proportions))
    print(f"\ntwo true gaps (50%) among {len(POLICIES)} policies: false discovery rate {fdr:.2%}")
    assert fdr <= Q


@pytest.mark.parametrize("n,background", [(5, 0.19), (10, 0.38), (20, 0.75)])
def test_power_at_a_true_contrary_share_of_half(n, background):
    rng = np.random.default_rng(SEED + n)
    policy = POLICY_BY_ID["neutral_author"]
    hits = sum(
        bool(flagged(simulate_page(rng, [policy], [0.5], [n]))) for _ in range(N_ORGS)
    )
    power = hits / N_ORGS
    exact = exact_single_test_power(n, 0.5)
    # The same gap on a full page: the seven other policies in force with no gap.
    rng_page = np.random.default_rng(SEED + 100 + n)
    shares = [0.5] + [0.1] * (len(POLICIES) - 1)
    page_hits = sum(
        policy.id in flagged(simulate_page(rng_page, POLICIES, shares, [n] * len(POLICIES)))
        for _ in range(N_ORGS)
    )
    print(
        f"\npower at n = {n}, true contrary share 50%: {power:.1%} when it is the only "
        f"test (exact {exact:.1%}, BACKGROUND {background:.0%}); {page_hits / N_ORGS:.1%} "
        f"among {len(POLICIES)} policies whose true share is 10%"
    )
    se = binomial_se(exact)
    assert abs(power - exact) <= 4 * se
    # BACKGROUND rounds to whole percents: allow the rounding plus simulation error.
    assert abs(power - background) <= 0.005 + 4 * se
