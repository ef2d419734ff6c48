"""Benchmarks: each module ``bench/bench_*.py`` exposes ``run() -> list[Result]``.

Every benchmark measures a raw baseline in the same run and reports the ratio, because these
machines are shared and noisy: absolute times mean little, ratios travel.
"""
