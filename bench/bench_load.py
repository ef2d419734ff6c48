"""Participants answering a survey under load, through gunicorn, on SQLite and PostgreSQL.

What is measured (``python -m bench load``; settings below from the environment):

* Closed loop: ``CONCURRENCY`` participants at a time play the real flow (open the link,
  get the form with its CSRF field, post every answer, follow to the thank-you page) with
  ``LINKS`` distinct links per run: completed submissions per second, p50 and p99 of the
  submit request, 5xx count.
* The anchor, in the same run and with the same gunicorn settings: a minimal Flask app
  playing the same three requests (303 with a signed session cookie, a Jinja form with a
  CSRF field, a POST inserting one row with raw sqlite3 in WAL mode): flows per second.
  Runs alternate app and anchor ``REPEATS`` times; medians are reported.
* Open loop: participants arrive at ``OPEN_RATE`` per second for ``OPEN_SECONDS`` whatever
  the server does: p99 of the submit, rate achieved.
* Bad input: a closed-loop run while a flood of hostile requests (bad CSRF, replayed and
  unknown links, forged cookies, oversized bodies) arrives at ``FLOOD_RATE`` per second from
  eight addresses: valid submissions per second and p99, and that nothing hostile was
  stored (the staged answers equal the thank-you pages, every spent ballot has one).

The app runs as in production: rate limits on (in Redis when ``AFTERCARE_TEST_REDIS_URL``
or a local Redis answers, for the PostgreSQL run), behind a proxy
(``AFTERCARE_TRUSTED_PROXIES=1``) with one address per participant.

``python -m bench.bench_load --profile [sqlite|postgres]`` instead serves the app from one
sampled gunicorn worker and prints where the time of a request goes (pyinstrument).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, func, select, text

from bench import participants, servers
from bench.harness import Result

LINKS = int(os.environ.get("BENCH_LOAD_LINKS", "2100"))
CONCURRENCY = int(os.environ.get("BENCH_LOAD_CONCURRENCY", "16"))
REPEATS = int(os.environ.get("BENCH_LOAD_REPEATS", "3"))
OPEN_RATE = float(os.environ.get("BENCH_LOAD_OPEN_RATE", "200"))
OPEN_SECONDS = float(os.environ.get("BENCH_LOAD_OPEN_SECONDS", "20"))
FLOOD_RATE = float(os.environ.get("BENCH_LOAD_FLOOD_RATE", "50"))
BACKENDS = os.environ.get("BENCH_LOAD_BACKENDS", "sqlite,postgres").split(",")
POSTGRES_URL = os.environ.get("AFTERCARE_TEST_POSTGRES_URL",
                              "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("AFTERCARE_TEST_REDIS_URL", "redis://127.0.0.1:6379/5")
PER_SURVEY = 500  # the most participants one incident may list
HOST = "127.0.0.1"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


class Run:
    """The figures of one load run."""

    def __init__(self, flows: list[participants.Flow], wall: float) -> None:
        self.flows = flows
        self.wall = wall
        self.thanked = sum(f.thanked for f in flows)
        self.submitted = sum(f.submitted for f in flows)
        self.posted = sum(f.posted for f in flows)
        self.rate = self.thanked / wall
        submits = [f.submit_s * 1000 for f in flows if f.submit_s is not None]
        self.p50 = percentile(submits, 0.50)
        self.p99 = percentile(submits, 0.99)
        self.server_errors = sum(1 for f in flows for s in f.statuses if s >= 500)
        self.dropped = sum(1 for f in flows if f.error)
        self.server_cpu_ms = float("nan")  # CPU of the server per completed flow
        self.client_cpu_ms = float("nan")  # CPU of the load generator per completed flow
        self.services_cpu_ms = float("nan")  # CPU of PostgreSQL and Redis per completed flow

    def line(self, label: str) -> str:
        return (f"  {label}: {self.thanked} submissions in {self.wall:.1f} s = "
                f"{self.rate:.0f}/s, submit p50 {self.p50:.1f} ms p99 {self.p99:.1f} ms, "
                f"5xx {self.server_errors}, dropped {self.dropped}; CPU per flow: server "
                f"{self.server_cpu_ms:.2f} ms, load generator {self.client_cpu_ms:.2f} ms, "
                f"PostgreSQL and Redis {self.services_cpu_ms:.2f} ms")


def measured(server: servers.Process, coroutine, anchor: bool = False) -> Run:
    """Play ``coroutine`` (a closed or open loop) against ``server``; the run's figures
    with the CPU time the server and the load generator spent per completed flow (CPU time
    is what two shared cores run out of; it varies far less with other work on the machine
    than rates do)."""
    server_before, client_before = server.cpu_seconds(), time.process_time()
    services_before = servers.services_cpu_seconds()
    flows, wall = participants.run(coroutine)
    server_cpu, client_cpu = (server.cpu_seconds() - server_before,
                              time.process_time() - client_before)
    services_cpu = servers.services_cpu_seconds() - services_before
    run = Run(flows, wall)
    if anchor:  # a flow counts when its POST got its 303
        run.thanked, run.rate = run.submitted, run.submitted / wall
    done = max(run.thanked, 1)
    run.server_cpu_ms, run.client_cpu_ms = server_cpu / done * 1000, client_cpu / done * 1000
    run.services_cpu_ms = services_cpu / done * 1000
    return run


def anchor_run(server: servers.Process, port: int, n: int, rate: float | None = None) -> Run:
    """The anchor's three requests per flow, closed loop (or open loop at ``rate``); a flow
    counts when its POST got its 303."""
    tokens = [participants.random_token() for _ in range(n)]
    if rate is not None:
        return measured(server, participants.open_loop(HOST, port, tokens, rate, follow=False),
                        anchor=True)
    return measured(server, participants.closed_loop(HOST, port, tokens, CONCURRENCY, seed=9,
                                                     follow=False), anchor=True)


def _redis_reachable() -> bool:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.exceptions.RedisError:
        return False
    return True


def _postgres_schema_url() -> tuple[str, str] | None:
    from surveys import db as dbmod

    try:
        admin = create_engine(dbmod.make_engine(POSTGRES_URL).url)
        schema = "bench_" + secrets.token_hex(4)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        admin.dispose()
    except Exception as exc:  # no server: the PostgreSQL half is skipped, and says so
        print(f"  PostgreSQL at {POSTGRES_URL} unavailable ({type(exc).__name__}); skipped")
        return None
    sep = "&" if "?" in POSTGRES_URL else "?"
    return f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}", schema


def _drop_schema(schema: str) -> None:
    from surveys import db as dbmod

    admin = create_engine(dbmod.make_engine(POSTGRES_URL).url)
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@contextmanager
def database(backend: str, folder: Path, redis: bool = True
             ) -> Iterator[tuple[str, dict[str, str]] | None]:
    """The database of a run: a SQLite file in ``folder``, or a schema of its own in
    PostgreSQL, dropped afterwards, with the rate limits in Redis when ``redis`` and one
    answers. Yields (url, the app's extra settings), or None when PostgreSQL is not there
    (the run is skipped, and says so)."""
    if backend == "sqlite":
        yield f"sqlite:///{folder / 'app.db'}", {}
        return
    found = _postgres_schema_url()
    if found is None:
        yield None
        return
    url, schema = found
    extra = {"AFTERCARE_REDIS_URL": REDIS_URL} if redis and _redis_reachable() else {}
    try:
        yield url, extra
    finally:
        _drop_schema(schema)


def _stored(url: str) -> tuple[int, int]:
    """(staged answers, spent ballots) in the database."""
    from surveys import db as dbmod
    from surveys.models import Ballot, StagedAnswer

    engine = dbmod.make_engine(url)
    with engine.connect() as conn:
        staged = conn.scalar(select(func.count()).select_from(StagedAnswer))
        spent = conn.scalar(select(func.count()).select_from(Ballot).where(Ballot.spent))
    engine.dispose()
    return int(staged or 0), int(spent or 0)


def links(url: str, secret: str, n: int) -> list[str]:
    surveys = -(-n // PER_SURVEY)
    tokens = [t for batch in servers.seed(url, secret, surveys, PER_SURVEY) for t in batch]
    return tokens[:n]


def run_backend(backend: str, folder: Path) -> list[Result]:
    with database(backend, folder) as found:
        if found is None:
            return []
        url, extra = found
        return _measure(backend, url, secrets.token_urlsafe(48),
                        {"AFTERCARE_TRUSTED_PROXIES": "1", **extra}, folder)


def _measure(backend: str, url: str, secret: str, extra: dict[str, str],
             folder: Path) -> list[Result]:
    open_n = int(OPEN_RATE * OPEN_SECONDS)
    needed = 50 + REPEATS * LINKS + 2 * open_n + LINKS
    started = time.perf_counter()
    tokens = links(url, secret, needed)
    print(f"  seeded {len(tokens)} links in {time.perf_counter() - started:.0f} s "
          f"({backend}{', rate limits in Redis' if 'AFTERCARE_REDIS_URL' in extra else ''})",
          flush=True)
    warm, tokens = tokens[:50], tokens[50:]
    env = servers.app_env(url, secret, **extra)
    anchor_env = {**servers.app_env(url, secret), "ANCHOR_DB": str(folder / "anchor.db")}
    app_runs: list[Run] = []
    anchor_runs: list[Run] = []
    every: list[Run] = []
    with servers.gunicorn(env, folder / f"{backend}-app.log") as (app, port), \
            servers.gunicorn(anchor_env, folder / f"{backend}-anchor.log",
                             app="bench.anchor:create_app()") as (anchor_server, anchor_port):
        every.append(Run(*participants.run(participants.closed_loop(HOST, port, warm, 8))))
        anchor_run(anchor_server, anchor_port, 100)
        for repeat in range(REPEATS):
            batch, tokens = tokens[:LINKS], tokens[LINKS:]
            run = measured(app, participants.closed_loop(HOST, port, batch, CONCURRENCY,
                                                         seed=repeat))
            app_runs.append(run)
            print(run.line(f"{backend} app, run {repeat + 1}"), flush=True)
            anchor = anchor_run(anchor_server, anchor_port, LINKS)
            anchor_runs.append(anchor)
            print(anchor.line(f"anchor, run {repeat + 1}"), flush=True)
        batch, tokens = tokens[:open_n], tokens[open_n:]
        open_run = measured(app, participants.open_loop(HOST, port, batch, OPEN_RATE))
        print(open_run.line(f"{backend} open loop at {OPEN_RATE:.0f}/s"), flush=True)
        # The same arrivals against the anchor: can this machine hold the rate at all?
        anchor_open = anchor_run(anchor_server, anchor_port, open_n, rate=OPEN_RATE)
        print(anchor_open.line(f"anchor open loop at {OPEN_RATE:.0f}/s"), flush=True)
        # And at half of what the app served closed-loop: the latency of a server with room.
        held_rate = round(statistics.median(r.rate for r in app_runs) / 2)
        held_n = int(held_rate * OPEN_SECONDS)
        batch, tokens = tokens[:held_n], tokens[held_n:]
        held_run = measured(app, participants.open_loop(HOST, port, batch, held_rate))
        print(held_run.line(f"{backend} open loop at {held_rate}/s"), flush=True)
        batch, tokens = tokens[:LINKS], tokens[LINKS:]
        replays = [f.replay for f in app_runs[0].flows if f.submitted and f.replay][:200]
        flood_run, hostile = participants.run(_with_flood(port, batch, replays))
        print(flood_run.line(f"{backend} app under a flood of {len(hostile)} hostile "
                             f"requests at {FLOOD_RATE:.0f}/s"), flush=True)
    every += [*app_runs, open_run, held_run, flood_run]
    submitted = sum(r.submitted for r in every)
    posted = sum(r.posted for r in every)
    staged, spent = _stored(url)
    # Every answered submission is stored; nothing beyond the valid posts is (a post whose
    # answer was lost to a timeout may be stored too); one answer per spent ballot.
    if not submitted <= staged <= posted or spent != staged:
        raise RuntimeError(f"{backend}: {staged} staged answers and {spent} spent ballots for "
                           f"{submitted} answered and {posted} sent valid submissions")
    hostile_codes = sorted({code for _, code in hostile})
    print(f"  stored {staged} answers for {submitted} answered submissions ({posted} sent); "
          f"hostile requests got {hostile_codes}", flush=True)
    rate = statistics.median(r.rate for r in app_runs)
    anchor_rate = statistics.median(r.rate for r in anchor_runs)
    p50 = statistics.median(r.p50 for r in app_runs)
    p99 = statistics.median(r.p99 for r in app_runs)
    cpu = statistics.median(r.server_cpu_ms for r in app_runs)
    anchor_cpu = statistics.median(r.server_cpu_ms for r in anchor_runs)
    client_cpu = statistics.median(r.client_cpu_ms for r in app_runs)
    errors = sum(r.server_errors for r in [*app_runs, open_run, held_run, flood_run])
    services = statistics.median(r.services_cpu_ms for r in app_runs)
    anchor_services = statistics.median(r.services_cpu_ms for r in anchor_runs)
    hostile_errors = sum(1 for _, code in hostile if code >= 500)
    name = f"load_{backend}"
    results = [] if backend == "sqlite" else [
        Result(f"{name}_services_cpu_per_submission", services, "ms", cpu,
               services / cpu, "reported (CPU of PostgreSQL and Redis per completed flow; "
               "baseline: the app's own server CPU per flow; the anchor uses neither, "
               f"{anchor_services:.2f} ms per flow of other activity during its runs)")]
    return results + [
        Result(f"{name}_submissions_per_s", rate, "submissions/s", anchor_rate,
               rate / anchor_rate, "ratio >= 0.5 (against the three-request anchor)"),
        Result(f"{name}_server_cpu_per_submission", cpu, "ms", anchor_cpu, cpu / anchor_cpu,
               f"reported (CPU of the gunicorn workers per completed flow; baseline: the "
               f"anchor's; the load generator used {client_cpu:.1f} ms per app flow)"),
        Result(f"{name}_submit_p50", p50, "ms", anchor_rate, p50 / 1000 * anchor_rate,
               f"reported (closed loop, {CONCURRENCY} participants)"),
        Result(f"{name}_submit_p99", p99, "ms", anchor_rate, p99 / 1000 * anchor_rate,
               f"reported (closed loop, {CONCURRENCY} participants)"),
        Result(f"{name}_open_loop_{OPEN_RATE:.0f}_per_s_submit_p99", open_run.p99, "ms", 100.0,
               open_run.p99 / 100.0, f"p99 < 100 ms (ratio < 1), {open_run.rate:.0f}/s held"),
        Result(f"{name}_anchor_open_loop_{OPEN_RATE:.0f}_per_s_submit_p99", anchor_open.p99,
               "ms", 100.0, anchor_open.p99 / 100.0,
               f"reported (the anchor under the same arrivals; {anchor_open.rate:.0f}/s held: "
               f"whether this machine can hold the rate at all)"),
        Result(f"{name}_open_loop_half_capacity_submit_p99", held_run.p99, "ms", 100.0,
               held_run.p99 / 100.0,
               f"reported (open loop at {held_rate}/s, half the closed-loop rate; "
               f"{held_run.rate:.0f}/s held)"),
        Result(f"{name}_under_flood_submissions_per_s", flood_run.rate, "submissions/s",
               anchor_rate, flood_run.rate / anchor_rate,
               f"ratio >= 0.5 with {FLOOD_RATE:.0f} hostile requests/s; p99 "
               f"{flood_run.p99:.0f} ms; nothing hostile stored"),
        Result(f"{name}_5xx", float(errors + hostile_errors), "responses", 0.0, 0.0,
               "0 (valid and hostile requests together)"),
    ]


async def _with_flood(port: int, batch: list[str], replays: list[tuple[str, bytes]]):
    stop = asyncio.Event()
    flood = asyncio.ensure_future(participants.flood(HOST, port, FLOOD_RATE, stop, replays))
    flows, wall = await participants.closed_loop(HOST, port, batch, CONCURRENCY, seed=7)
    stop.set()
    hostile = await flood
    return Run(flows, wall), hostile


def run() -> list[Result]:
    results: list[Result] = []
    for backend in BACKENDS:
        with tempfile.TemporaryDirectory(prefix="aftercare-load-") as folder:
            print(f"-- {backend}", flush=True)
            results += run_backend(backend, Path(folder))
    return results


def profile(backend: str) -> None:
    """Serve from one sampled worker, play 600 participants, print the profile."""
    with tempfile.TemporaryDirectory(prefix="aftercare-profile-") as name:
        folder = Path(name)
        secret = secrets.token_urlsafe(48)
        with database(backend, folder, redis=False) as found:
            if found is None:
                return
            url, _ = found
            tokens = links(url, secret, 600)
            out = folder / "profile.txt"
            env = servers.app_env(url, secret, AFTERCARE_TRUSTED_PROXIES="1",
                                  AFTERCARE_PROFILE_OUT=str(out))
            with servers.gunicorn(env, folder / "profiled.log", workers=1,
                                  app="bench.profiled:create_app()") as (_p, port):
                run = Run(*participants.run(participants.closed_loop(HOST, port, tokens, 4)))
                print(run.line(f"{backend}, one profiled worker"))
            for _ in range(50):
                if out.exists():
                    break
                time.sleep(0.1)
            print(out.read_text())


if __name__ == "__main__":
    if "--profile" in sys.argv:
        profile(sys.argv[-1] if sys.argv[-1] in ("sqlite", "postgres") else "sqlite")
    else:
        for result in run():
            print(result)
