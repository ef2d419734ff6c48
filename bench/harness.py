"""Small helpers shared by the benchmarks: timing, medians and the result record."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Result:
    """One figure written to ``bench/results.json``.

    ``ratio`` is value / baseline for times (lower is better) or value / baseline for rates
    (higher is better); ``target`` states which, in words, e.g. "ratio <= 0.1".
    """

    name: str
    value: float
    unit: str
    baseline: float
    ratio: float
    target: str

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def median_seconds(fn: Callable[[], object], repeat: int = 7, warmup: int = 1) -> float:
    """Median wall time of ``fn()`` over ``repeat`` runs after ``warmup`` unmeasured runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)
