"""Differencing audit at organisation scale.

An organisation of 8 parent teams and 80 teams runs 2,000 incident surveys over 30 months;
each survey is sealed into four involvement cells. Releases are generated the way the release
guard would publish them, month by month: survey totals and their involvement cuts (after
complementary suppression), then team, parent-team and organisation totals per month and per
quarter, each also cut by involvement and by incident kind, and per quarter involvement
within kind for parent teams and the organisation. Every candidate goes through the audit;
each allowed set is recorded as three released statistics (constructs, items, practices)
until 20,000 earlier releases exist. Then the audit decides a batch of held-back requests of
every level (survey, team, parent, organisation) without recording them.

Figure: median decision time per request (ms). Baseline: the plain k-threshold check of the
same requests (sum of cell sizes >= k), timed the same way in the same run.

Run with ``python -m bench audit``.
"""

from __future__ import annotations

import random
import statistics
import time

from analysis.audit import ReleaseLedger
from analysis.suppression import suppress_cut
from bench.harness import Result

K = 5
SURVEYS = 2_000
EARLIER_RELEASES = 20_000
PARENTS = 8
TEAMS_PER_PARENT = 10
MONTHS = 30
INVOLVEMENT = ("direct", "helped", "observed", "unsaid")
INVOLVEMENT_SHARE = (0.3, 0.3, 0.3, 0.1)
KINDS = ("availability", "security", "data", "other")
KIND_SHARE = (0.6, 0.15, 0.15, 0.1)
REPEAT = 5


def build_organisation(seed: int = 1):
    """Surveys with team, month, kind and per-involvement respondent counts."""
    rng = random.Random(seed)
    teams = [(p, t) for p in range(PARENTS) for t in range(TEAMS_PER_PARENT)]
    # Some teams have many more incidents than others.
    team_weight = [rng.paretovariate(1.5) for _ in teams]
    surveys = []
    for s in range(SURVEYS):
        team = rng.choices(teams, team_weight)[0]
        month = s * MONTHS // SURVEYS
        kind = rng.choices(KINDS, KIND_SHARE)[0]
        invited = rng.randint(3, 20)
        answered = sum(rng.random() < 0.65 for _ in range(invited))
        counts = dict.fromkeys(INVOLVEMENT, 0)
        for _ in range(answered):
            counts[rng.choices(INVOLVEMENT, INVOLVEMENT_SHARE)[0]] += 1
        surveys.append({"id": s, "team": team, "month": month, "kind": kind, "cells": counts})
    sizes = {(s["id"], inv): n for s in surveys for inv, n in s["cells"].items()}
    return surveys, sizes


def _pools(surveys, key):
    pools: dict[object, list[dict]] = {}
    for s in surveys:
        pools.setdefault(key(s), []).append(s)
    return pools


def _pool_releases(label, group):
    """Total, involvement cuts and kind cuts of a pooled group of surveys."""
    out = [(label + ("all",), frozenset((s["id"], inv) for s in group for inv in INVOLVEMENT))]
    for inv in INVOLVEMENT:
        out.append((label + (inv,), frozenset((s["id"], inv) for s in group)))
    for kind in KINDS:
        cells = frozenset((s["id"], inv) for s in group if s["kind"] == kind for inv in INVOLVEMENT)
        if cells:
            out.append((label + (kind,), cells))
    return out


def _cross_releases(label, group):
    """Involvement by incident kind over a pooled group."""
    for kind in KINDS:
        for inv in INVOLVEMENT:
            cells = frozenset((s["id"], inv) for s in group if s["kind"] == kind)
            if cells:
                yield label + (kind, inv), cells


def candidate_releases(surveys):
    """Candidates in publication order, period by period."""
    by_month = _pools(surveys, lambda s: s["month"])
    for month in range(MONTHS):
        closed = by_month.get(month, [])
        for s in closed:
            total = sum(s["cells"].values())
            yield ("survey", s["id"], "all"), frozenset((s["id"], inv) for inv in INVOLVEMENT)
            cut = suppress_cut(total, s["cells"], K)
            for inv in cut.shown:
                yield ("survey", s["id"], inv), frozenset({(s["id"], inv)})
        periods = [("month", month, closed)]
        if month % 3 == 2:
            quarter = [s for s in surveys if s["month"] // 3 == month // 3]
            periods.append(("quarter", month // 3, quarter))
        for grain, period, group in periods:
            for team, members in sorted(_pools(group, lambda s: s["team"]).items()):
                yield from _pool_releases(("team", team, grain, period), members)
            for parent, members in sorted(_pools(group, lambda s: s["team"][0]).items()):
                yield from _pool_releases(("parent", parent, grain, period), members)
            yield from _pool_releases(("org", grain, period), group)
            if grain != "month":
                # Involvement within each incident kind, organisation-wide and per parent.
                for parent, members in sorted(_pools(group, lambda s: s["team"][0]).items()):
                    yield from _cross_releases(("parent", parent, grain, period), members)
                yield from _cross_releases(("org", grain, period), group)


#: Statistics published over each released set: construct scores, item percentages and
#: practice checks are three releases of the same respondents, and the ledger records each.
STATISTICS = ("constructs", "items", "practices")


def build_ledger(seed: int = 1):
    """A ledger of EARLIER_RELEASES audited releases and the candidates held back after them."""
    surveys, sizes = build_organisation(seed)
    ledger = ReleaseLedger(sizes, K)
    candidates = candidate_releases(surveys)
    held = []
    for release_id, cells in candidates:
        if len(ledger.releases) >= EARLIER_RELEASES:
            held.append((release_id, cells))
            break
        if ledger.check(cells).allowed:
            for statistic in STATISTICS:
                ledger.record(cells, (statistic, *release_id))
    else:
        raise RuntimeError("not enough candidate releases for the benchmark")
    held.extend(candidates)
    return ledger, sizes, held


def pick_requests(held, count: int = 60, seed: int = 2):
    """Fresh requests of every level (survey, team, parent, organisation), held back."""
    rng = random.Random(seed)
    by_level: dict[str, list] = {}
    for release_id, cells in held:
        by_level.setdefault(release_id[0], []).append(cells)
    requests = []
    per_level = max(1, count // len(by_level))
    for level in sorted(by_level):
        pool = by_level[level]
        requests.extend(rng.sample(pool, min(per_level, len(pool))))
    return requests


def surveys_of(sizes):
    return {cell[0] for cell in sizes}


def _per_request_median(fn, requests, repeat: int = REPEAT) -> list[float]:
    out = []
    for cells in requests:
        fn(cells)
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            fn(cells)
            times.append(time.perf_counter() - start)
        out.append(statistics.median(times))
    return out


def run() -> list[Result]:
    start = time.perf_counter()
    ledger, sizes, held = build_ledger()
    build_s = time.perf_counter() - start
    requests = pick_requests(held)

    def plain(cells):
        total = sum(sizes[c] for c in cells)
        return total == 0 or total >= K

    audit_t = _per_request_median(ledger.check, requests)
    plain_t = _per_request_median(plain, requests)
    allowed = sum(ledger.check(cells).allowed for cells in requests)
    median_ms = statistics.median(audit_t) * 1e3
    worst_ms = max(audit_t) * 1e3
    base_ms = statistics.median(plain_t) * 1e3
    distinct = len(set(ledger.releases.values()))
    print(
        f"  {len(surveys_of(sizes))} surveys, {len(sizes)} cells, {len(ledger.releases)} earlier "
        f"releases over {distinct} distinct sets, rank {ledger.rank}, "
        f"built in {build_s:.1f} s; {len(requests)} requests, {allowed} allowed; "
        f"decision median {median_ms:.2f} ms, worst {worst_ms:.2f} ms"
    )
    return [
        Result(
            "audit_decision_median",
            median_ms,
            "ms",
            base_ms,
            median_ms / base_ms,
            "median <= 50 ms",
        ),
        Result(
            "audit_decision_worst",
            worst_ms,
            "ms",
            base_ms,
            worst_ms / base_ms,
            "reported, no target",
        ),
    ]
