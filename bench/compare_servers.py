"""gunicorn settings compared on the participant load, runs interleaved.

``python -m bench.compare_servers sqlite|postgres sync5,gthread2x4[,...]`` starts one
gunicorn per setting on the same database and plays ``RUNS`` closed-loop runs of
``LINKS`` participants (16 at a time) on each in turn, so that every setting meets the same
changes in the machine's other load; prints each run and the medians (rate, submit p99,
server CPU per participant). Not part of ``make bench``.

Settings: ``syncN`` (N sync workers) and ``gthreadNxT`` (N workers of T threads).
"""

from __future__ import annotations

import re
import secrets
import statistics
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

from bench import participants, servers
from bench.bench_load import (
    HOST,
    database,
    links,
    measured,
)

LINKS = 1500
RUNS = 3


def setting(name: str) -> dict[str, str]:
    if match := re.fullmatch(r"sync(\d+)", name):
        return {"WEB_CONCURRENCY": match.group(1), "WEB_THREADS": "1"}
    if match := re.fullmatch(r"gthread(\d+)x(\d+)", name):
        return {"WEB_CONCURRENCY": match.group(1), "WEB_THREADS": match.group(2)}
    raise SystemExit(f"unknown setting {name!r}: use syncN or gthreadNxT")


def compare(backend: str, names: list[str]) -> None:
    folder = Path(tempfile.mkdtemp(prefix="aftercare-compare-"))
    secret = secrets.token_urlsafe(48)
    with database(backend, folder) as found:
        if found is None:
            return
        url, extra = found
        tokens = links(url, secret, (LINKS * RUNS + 30) * len(names))
        env = servers.app_env(url, secret, AFTERCARE_TRUSTED_PROXIES="1", **extra)
        runs: dict[str, list] = {name: [] for name in names}
        with ExitStack() as stack:
            started = {name: stack.enter_context(servers.gunicorn(
                {**env, **setting(name)}, folder / f"{name}.log")) for name in names}
            for _process, port in started.values():  # warm up
                batch, tokens = tokens[:30], tokens[30:]
                participants.run(participants.closed_loop(HOST, port, batch, 8))
            for repeat in range(RUNS):
                for name, (process, port) in started.items():
                    batch, tokens = tokens[:LINKS], tokens[LINKS:]
                    run = measured(process, participants.closed_loop(HOST, port, batch, 16,
                                                                     seed=repeat))
                    runs[name].append(run)
                    print(run.line(f"{name} run {repeat + 1}"), flush=True)
        for name, done in runs.items():
            print(f"{name}: median {statistics.median(r.rate for r in done):.0f}/s, submit p99 "
                  f"{statistics.median(r.p99 for r in done):.0f} ms, server CPU "
                  f"{statistics.median(r.server_cpu_ms for r in done):.2f} ms per participant")


if __name__ == "__main__":
    compare(sys.argv[1] if len(sys.argv) > 1 else "sqlite",
            (sys.argv[2] if len(sys.argv) > 2 else "sync5,gthread2x4").split(","))
