"""Where a participant's time goes, counted rather than sampled: each of the four requests of
the flow (open the link, the form, the submit, the thank-you page) under cProfile, with the
SQL statements, transactions, pool checkouts and Redis round trips of each.

``python -m bench.profile_flow [sqlite|postgres] [participants]`` plays the flow with Flask's
test client in this one process (no HTTP server, no load generator): on a machine shared
with other work the function-call counts and statement counts are exact and the CPU times
(``process_time``, this process only) far steadier than wall-clock figures. The app is
configured as ``bench_load`` runs it: rate limits on (in Redis on PostgreSQL when one
answers), behind one declared proxy, one client address per participant.

Not part of ``make bench`` (it records nothing in bench/results.json).
"""

from __future__ import annotations

import cProfile
import io
import pstats
import random
import re
import secrets
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import event

from bench import participants, servers
from bench.bench_load import database

STEPS = ("arrive", "form", "submit", "thanks")
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Counts:
    """SQL statements, transactions, pool checkouts and Redis round trips of the step now
    being played."""

    def __init__(self) -> None:
        self.step = "setup"
        self.by_step: dict[str, Counter] = {s: Counter() for s in STEPS}
        self.statements: dict[str, Counter] = {s: Counter() for s in STEPS}

    def hit(self, what: str, n: int = 1) -> None:
        if self.step in self.by_step:
            self.by_step[self.step][what] += n

    def statement(self, sql: str) -> None:
        if self.step in self.by_step:
            self.by_step[self.step]["sql statements"] += 1
            self.statements[self.step][" ".join(sql.split())[:110]] += 1


def _instrument(app, counts: Counts) -> None:
    engine = app.extensions["aftercare.engine"]
    event.listen(engine, "before_cursor_execute",
                 lambda _c, _cur, sql, *_a: counts.statement(sql))
    event.listen(engine, "commit", lambda _c: counts.hit("commits"))
    event.listen(engine, "rollback", lambda _c: counts.hit("rollbacks"))
    event.listen(engine.pool, "checkout", lambda *_a: counts.hit("pool checkouts"))
    ping = engine.dialect.do_ping

    def counted_ping(connection):
        counts.hit("pings")
        return ping(connection)

    engine.dialect.do_ping = counted_ping
    try:
        import redis.connection

        original = redis.connection.AbstractConnection.send_packed_command

        def counted(self, command, check_health=True):
            counts.hit("redis round trips")
            return original(self, command, check_health)

        redis.connection.AbstractConnection.send_packed_command = counted
    except (ImportError, AttributeError):  # pragma: no cover - an older redis-py
        pass


def _play(client, token: str, index: int, rng: random.Random, counts: Counts,
          profilers: dict[str, cProfile.Profile] | None,
          cpu: dict[str, float]) -> None:
    headers = {"X-Forwarded-For": participants.address_for(index)}

    def step(name, call):
        counts.step = name
        profiler = profilers[name] if profilers else None
        started = time.process_time()
        if profiler:
            profiler.enable()
        try:
            return call()
        finally:
            if profiler:
                profiler.disable()
            cpu[name] += time.process_time() - started
            counts.step = "between"

    reply = _expect(303, step("arrive", lambda: client.get(f"/s/{token}", headers=headers)))
    reply = _expect(200, step("form", lambda: client.get("/s", headers=headers)))
    body = reply.get_data()
    data = participants.answers_for(body, rng)
    data["csrf_token"] = _CSRF.search(body.decode()).group(1)
    reply = _expect(303, step("submit", lambda: client.post("/s", data=data, headers={
        **headers, "Referer": "http://localhost/s"})))
    _expect(200, step("thanks", lambda: client.get(reply.headers["Location"], headers=headers)))


def _expect(status: int, reply):
    """The reply, or an error naming what came instead (a check that survives python -O)."""
    if reply.status_code != status:
        raise RuntimeError(f"expected {status}, got {reply.status_code}: "
                           f"{reply.get_data()[:300]!r}")
    return reply


def profile(backend: str, n: int = 300) -> str:
    from app import create_app

    with tempfile.TemporaryDirectory(prefix="aftercare-profile-") as name:
        folder = Path(name)
        secret = secrets.token_urlsafe(48)
        with database(backend, folder) as found:
            if found is None:
                return "no PostgreSQL"
            url, extra = found
            config = {"SECRET_KEY": secret, "AFTERCARE_OPEN_DELAY": "0",
                      "AFTERCARE_SURVEY_LIMIT": "0", "AFTERCARE_TRUSTED_PROXIES": "1", **extra}
            tokens = [t for batch in servers.seed(url, secret, -(-(n + 20) // 500), 500)
                      for t in batch][: n + 20]
            app = create_app({**config, "DATABASE_URL": url})
            counts = Counts()
            _instrument(app, counts)
            rng = random.Random(1)
            cpu = dict.fromkeys(STEPS, 0.0)
            # Warm up (the first requests compile templates and statements), then measure
            # CPU time without the profiler, then count calls and statements with it.
            for i, token in enumerate(tokens[:20]):
                _play(app.test_client(), token, i, rng, counts, None, dict(cpu))
            half = n // 2
            plain, profiled = tokens[20:20 + half], tokens[20 + half:20 + n]
            for i, token in enumerate(plain):
                _play(app.test_client(), token, 100 + i, rng, counts, None, cpu)
            counts.__init__()
            profilers = {s: cProfile.Profile() for s in STEPS}
            for i, token in enumerate(profiled):
                _play(app.test_client(), token, 10_000 + i, rng, counts, profilers,
                      dict.fromkeys(STEPS, 0.0))
            app.extensions["aftercare.engine"].dispose()
            return _report(backend, len(plain), len(profiled), cpu, counts, profilers)



def _report(backend: str, n_plain: int, n_prof: int, cpu: dict[str, float], counts: Counts,
            profilers: dict[str, cProfile.Profile]) -> str:
    out = io.StringIO()
    total = sum(cpu.values()) / n_plain * 1000
    out.write(f"== {backend}: {n_plain} participants unprofiled, {n_prof} profiled\n")
    out.write(f"CPU per participant (unprofiled, this process): {total:.2f} ms\n\n")
    out.write(f"{'step':8} {'cpu ms':>7} {'calls':>7} " +
              " ".join(f"{k:>8}" for k in ("sql", "commits", "rollback", "checkout",
                                               "pings", "redis")) + "\n")
    for step in STEPS:
        stats = pstats.Stats(profilers[step])
        calls = stats.total_calls / n_prof
        c = counts.by_step[step]
        out.write(f"{step:8} {cpu[step] / n_plain * 1000:7.2f} {calls:7.0f} " + " ".join(
            f"{c[k] / n_prof:8.2f}" for k in ("sql statements", "commits", "rollbacks",
                                              "pool checkouts", "pings",
                                              "redis round trips")) + "\n")
    out.write("\nOwn time by package, share of each step (profiled):\n")
    shares = {step: _by_package(profilers[step]) for step in STEPS}
    names = sorted({p for step in STEPS for p in shares[step]},
                   key=lambda p: -sum(shares[s].get(p, 0) for s in STEPS))
    out.write(f"{'package':22}" + "".join(f"{s:>9}" for s in STEPS) + "\n")
    for package in names[:16]:
        out.write(f"{package:22}" + "".join(f"{shares[s].get(package, 0):8.0%} "
                                              for s in STEPS) + "\n")
    for step in STEPS:
        out.write(f"\n-- {step}: SQL statements per request\n")
        for sql, k in counts.statements[step].most_common(8):
            out.write(f"  {k / n_prof:5.2f}  {sql}\n")
        for sort in ("cumulative", "tottime"):
            text = io.StringIO()
            stats = pstats.Stats(profilers[step], stream=text)
            stats.strip_dirs().sort_stats(sort).print_stats(14 if sort == "tottime" else 28)
            lines = text.getvalue().splitlines()
            start = next(i for i, line in enumerate(lines) if "ncalls" in line)
            out.write(f"-- {step}: by {sort} (totals over {n_prof} requests)\n")
            out.write("\n".join(lines[start:]) + "\n")
    return out.getvalue()


def _package(filename: str) -> str:
    if filename.startswith("~") or filename.startswith("<"):
        return "builtins (C)"
    parts = Path(filename).parts
    if "site-packages" in parts:
        return parts[parts.index("site-packages") + 1].split(".")[0]
    for root in ("surveys", "analysis", "bench", "tests"):
        if root in parts:
            return root
    return "python stdlib"


def _by_package(profiler: cProfile.Profile) -> dict[str, float]:
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    own: Counter = Counter()
    for (filename, _line, _name), (_cc, _nc, tottime, _ct, _callers) in stats.items():
        own[_package(filename)] += tottime
    total = sum(own.values()) or 1.0
    return {k: v / total for k, v in own.items()}


if __name__ == "__main__":
    which = sys.argv[1] if len(sys.argv) > 1 else "sqlite"
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    print(profile(which, count))
