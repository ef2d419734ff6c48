"""HR overview: render time against a hand-written SQL GROUP BY over the raw answers.

An organisation of 200 teams and 24 months of closed surveys (two per team and month, 9,600
surveys) with 1,000,000 generated responses in the ``response`` table, and sealed counts
computed from exactly those responses (the same counts ``analysis.sealing.seal`` would give,
checked on a sample). Generation is not timed.

Timed, each in a child process of its own:

* ``period_end_decisions``: the decision run the tick makes when a quarter ends (September
  2026 and 2026 Q3: pools, 200 team months and quarters, the organisation, kind and
  involvement cuts, comments, findings), after an earlier run decided every survey and every
  period before it; reported with the number of figures it decided. Target: under 60 s.
* ``period_end_decisions_catch_up``: that earlier run, from nothing decided: all 9,600
  surveys and every month and quarter of two years (what an upgrade of an existing
  installation does once). Reported.
* ``hr_overview_render``: ``GET /hr`` through the test client (service + template), median
  of repeated requests. Pages only read recorded decisions, so the first view after a period
  end costs what every view costs (``hr_overview_first_render`` is the first request of a
  fresh process).
* ``incident_page_render``: ``GET /incidents/<id>`` for a released survey, median.
* baseline ``group_by_raw``: one SQL statement over all raw responses joined to their survey,
  ``GROUP BY team, quarter`` with a favourable and an answered count per statement: the
  team x construct figures of every quarter the overview can show. Median, same run, same
  database file.
* ``group_by_raw_latest_quarter``: the same restricted to the quarter the heatmap shows
  (response rows reached through the survey index), reported for comparison.

Peak memory is the child's ``ru_maxrss`` (whole process: Python, SQLite cache, templates).

Run with ``.venv/bin/python -m bench hr_overview``.
"""

from __future__ import annotations

import json
import os
import resource
import secrets
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from bench.harness import Result

TEAMS = int(os.environ.get("BENCH_HR_TEAMS", 200))  # smaller for a quick try-out only
MONTHS = 24
SURVEYS_PER_MONTH = 2
RESPONSES = int(os.environ.get("BENCH_HR_RESPONSES", 1_000_000))
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
FIRST_MONTH = (2024, 11)  # 24 months: Nov 2024 .. Oct 2026, all complete by NOW
KINDS = ("availability", "security", "data", "other")
INVOLVEMENT = ("direct", "responder", "observer", "unsaid")
PRACTICES = ("practice_author", "practice_root_cause")
SECRET = "bench-secret-" + "x" * 40


def _app(db_path: Path):
    from app import create_app
    from surveys import db as dbmod

    app = create_app({
        "TESTING": True, "SECRET_KEY": SECRET, "DATABASE_URL": f"sqlite:///{db_path}",
        "AFTERCARE_NOW": NOW,
    })
    dbmod.upgrade(dbmod.get_engine(app))
    return app


def _month(i: int) -> tuple[int, int]:
    year, month = FIRST_MONTH
    month += i - 1
    return year + month // 12, month % 12 + 1


def generate(db_path: Path) -> dict:
    """Build the organisation; return facts the timed child needs."""
    from analysis import items
    from surveys import db as dbmod
    from surveys.services import admin

    app = _app(db_path)
    rng = np.random.default_rng(20261127)
    with dbmod.session_scope(app) as session:
        admin.set_policies(session, {"neutral_author", "contributing_factors", "blameless",
                                     "support_offered"}, NOW - timedelta(days=800))
        hr = admin.add_user(session, "hr@example.org", "HR", "correct horse battery", "hr")
        hr_id = hr.id
        import pyotp

        from surveys.services import auth

        totp = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # HR accounts must have two-factor on
        earlier = NOW - timedelta(minutes=5)
        auth.enable_totp(session, hr_id, totp, pyotp.TOTP(totp).at(earlier),
                         auth.SecretBox(SECRET), earlier)
    con = sqlite3.connect(db_path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    con.executemany("INSERT INTO team (id, slug, name) VALUES (?, ?, ?)",
                    [(t, f"team-{t:03d}", f"Team {t:03d}") for t in range(1, TEAMS + 1)])
    n_surveys = TEAMS * MONTHS * SURVEYS_PER_MONTH
    sizes = rng.multinomial(RESPONSES - 5 * n_surveys, np.ones(n_surveys) / n_surveys) + 5
    incidents, surveys = [], []
    sid = 0
    survey_team = np.zeros(n_surveys + 1, dtype=np.int64)
    for team in range(1, TEAMS + 1):
        for m in range(MONTHS):
            year, month = _month(m)
            for j in range(SURVEYS_PER_MONTH):
                sid += 1
                closed = datetime(year, month, 5 + 12 * j, 9, 0)
                kind = KINDS[int(rng.integers(0, 4))] if rng.random() < 0.6 else KINDS[0]
                incidents.append((sid, team, f"Incident {sid}", kind, "sev3",
                                  closed - timedelta(days=8), closed - timedelta(days=8),
                                  int(rng.integers(0, 4)), bool(rng.random() < 0.2)))
                n = int(sizes[sid - 1])
                surveys.append((sid, sid, team, "closed", closed - timedelta(days=7), closed,
                                closed - timedelta(days=3), True, 5, " ".join(PRACTICES),
                                n + 2, n, closed))
                survey_team[sid] = team
    con.executemany(
        "INSERT INTO incident (id, team_id, title, kind, severity, closed_at, created_at, "
        "system_changes, repeat) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", incidents)
    con.executemany(
        "INSERT INTO survey (id, incident_id, team_id, status, opens_at, closes_at, remind_at, "
        "reminded, min_group, practice_ids, invited, respondents, closed_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", surveys)

    # Raw responses: a culture per team drifting over time, "Doesn't apply" sometimes.
    survey_of = np.repeat(np.arange(1, n_surveys + 1), sizes)
    team_of = survey_team[survey_of]
    culture = rng.uniform(0.3, 0.8, TEAMS + 1)[team_of] + rng.normal(0, 0.8, RESPONSES) * 0.25
    statements = items.STATEMENTS
    answers = np.zeros((RESPONSES, len(statements) + len(PRACTICES)), dtype=np.int64)
    for j, statement in enumerate(statements):
        favourable = np.clip(np.rint(1 + 4 * culture + rng.normal(0, 1, RESPONSES)), 1, 5)
        value = 6 - favourable if statement.reverse else favourable
        value[rng.random(RESPONSES) < 0.05] = 0
        answers[:, j] = value
    for j in range(len(PRACTICES)):
        answers[:, len(statements) + j] = rng.choice([1, 2, 3], RESPONSES, p=[0.3, 0.5, 0.2])
    involvement = rng.integers(0, 4, RESPONSES)
    columns = ["id", "survey_id", "team_id", "involvement", *(s.id for s in statements),
               *PRACTICES]
    sql = (f"INSERT INTO response ({', '.join(columns)}) "
           f"VALUES ({', '.join('?' * len(columns))})")
    inv_names = np.array(INVOLVEMENT, dtype=object)
    for start in range(0, RESPONSES, 100_000):
        stop = min(start + 100_000, RESPONSES)
        block = answers[start:stop].tolist()
        con.executemany(sql, (
            (secrets.token_hex(16), int(s), int(t), inv, *row)
            for s, t, inv, row in zip(survey_of[start:stop].tolist(),
                                      team_of[start:stop].tolist(),
                                      inv_names[involvement[start:stop]].tolist(), block,
                                      strict=True)))
    con.commit()

    # Sealed counts from exactly these responses, vectorised (same keys as sealing.seal).
    sealed: list[tuple] = []

    def add_counts(keys: np.ndarray, values: np.ndarray, inv: np.ndarray, item: str) -> None:
        cells = [("all", "", np.ones(len(keys), dtype=bool))]
        cells += [("involvement", INVOLVEMENT[c], inv == c) for c in range(4)]
        for cut, cut_value, mask in cells:
            uniq, counts = np.unique(keys[mask] * 64 + values[mask], return_counts=True)
            sealed.extend((int(u // 64), cut, cut_value, item, int(u % 64), int(c))
                          for u, c in zip(uniq.tolist(), counts.tolist(), strict=True))

    add_counts(survey_of, np.zeros(RESPONSES, dtype=np.int64), involvement, "_n")
    for j, item in enumerate([s.id for s in statements] + list(PRACTICES)):
        add_counts(survey_of, answers[:, j], involvement, item)
    for construct in items.CONSTRUCTS:
        idx = [j for j, s in enumerate(statements) if s.construct == construct.id]
        raw = answers[:, idx]
        reverse = np.array([statements[j].reverse for j in idx])
        keyed = np.where(raw == 0, 0, np.where(reverse, 6 - raw, raw))
        counted = (raw > 0).sum(axis=1)
        has = counted > 0  # respondents with no countable answer have no construct score
        sixths = keyed[has].sum(axis=1) * 6 // counted[has]
        add_counts(survey_of[has], sixths, involvement[has], f"construct:{construct.id}")
    con.executemany("INSERT INTO sealed_count (survey_id, cut, cut_value, item, value, count) "
                    "VALUES (?, ?, ?, ?, ?, ?)", sealed)
    con.commit()
    _check_sealing(con, items)
    con.close()
    dbmod.get_engine(app).dispose()
    return {"hr_id": hr_id, "sealed_rows": len(sealed)}


QUARTER_ENDS = datetime(2026, 10, 1, 0, 5, tzinfo=UTC)  # September and 2026 Q3 have ended


def decide(db_path: Path) -> dict:
    """In a fresh child: the catch-up run just before Q3 ended, then the quarter-end run."""
    from surveys import db as dbmod
    from surveys.services import decisions

    app = _app(db_path)
    with dbmod.session_scope(app) as session:
        start = time.perf_counter()
        before = decisions.run(session, QUARTER_ENDS - timedelta(hours=1), 5, "quarter")
        catch_up = time.perf_counter() - start
        start = time.perf_counter()
        quarter = decisions.run(session, QUARTER_ENDS, 5, "quarter")
        quarter_s = time.perf_counter() - start
        after = decisions.run(session, NOW, 5, "quarter")  # October: untimed
    return {"catch_up": catch_up, "catch_up_decisions": before.decisions,
            "catch_up_periods": len(before.periods), "quarter": quarter_s,
            "quarter_decisions": quarter.decisions, "quarter_periods": quarter.periods,
            "quarter_released": quarter.released, "rss_mb": _peak_rss_kb() / 1024,
            "after_periods": after.periods}


def _check_sealing(con: sqlite3.Connection, items) -> None:
    """The vectorised counts equal analysis.sealing.seal on a few surveys' raw rows."""
    from analysis.sealing import seal
    from surveys.services.lifecycle import STATEMENT_KEYS

    names = ["involvement", *items.STATEMENT_IDS, *PRACTICES]
    last = con.execute("SELECT max(id) FROM survey").fetchone()[0]
    for survey_id in (1, last // 2, last):
        rows = [dict(zip(names, r, strict=True)) for r in con.execute(
            f"SELECT {', '.join(names)} FROM response WHERE survey_id = ?", (survey_id,))]
        expected = seal(rows, STATEMENT_KEYS, PRACTICES)
        got = {(c, v, i, val): n for c, v, i, val, n in con.execute(
            "SELECT cut, cut_value, item, value, count FROM sealed_count WHERE survey_id = ?",
            (survey_id,))}
        if got != dict(expected):
            raise RuntimeError(f"sealed counts of survey {survey_id} differ from seal()")


GROUP_BY = """
SELECT s.team_id,
       strftime('%Y', s.closed_at) || '-Q' ||
         ((CAST(strftime('%m', s.closed_at) AS INTEGER) + 2) / 3) AS quarter,
       COUNT(*) AS n,
       {sums}
FROM response r JOIN survey s ON s.id = r.survey_id
WHERE s.status = 'closed' {where}
GROUP BY s.team_id, quarter
"""


def _group_by_sql(where: str = "") -> str:
    from analysis import items

    sums = []
    for s in items.STATEMENTS:
        good = "(1, 2)" if s.reverse else "(4, 5)"
        sums.append(f"SUM(r.{s.id} IN {good}) AS {s.id}_fav")
        sums.append(f"SUM(r.{s.id} BETWEEN 1 AND 5) AS {s.id}_n")
    return GROUP_BY.format(sums=",\n       ".join(sums), where=where)


def group_by_figures(con: sqlite3.Connection, where: str = "", params=()) -> dict:
    """Team x construct percent favourable per quarter, straight from raw answers."""
    from analysis import items

    out = {}
    cursor = con.execute(_group_by_sql(where), params)
    names = [d[0] for d in cursor.description]
    for row in cursor:
        record = dict(zip(names, row, strict=True))
        for construct in items.CONSTRUCTS:
            pcts = [100 * record[f"{s.id}_fav"] / record[f"{s.id}_n"]
                    for s in items.statements_of(construct.id) if record[f"{s.id}_n"] >= 5]
            out[(record["team_id"], record["quarter"], construct.id)] = (
                sum(pcts) / len(pcts) if pcts and record["n"] >= 5 else None)
    return out


def _median(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _peak_rss_kb() -> int:
    """This process's peak resident memory. ``VmHWM`` belongs to the process image, while
    ``ru_maxrss`` survives exec on Linux and would report the parent's peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _client(db_path: Path, hr_id: int, path: str = "/hr", expect: str = "Team 001"):
    from surveys.web.sessions import SESSION_SEEN, SESSION_SINCE, SESSION_VERSION

    app = _app(db_path)
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = str(hr_id)
        session["_fresh"] = True
        session[SESSION_VERSION] = 0
        session[SESSION_SEEN] = session[SESSION_SINCE] = NOW.timestamp()

    def render() -> None:
        response = client.get(path)
        if response.status_code != 200 or expect not in response.text:
            raise RuntimeError(f"{path} failed: {response.status_code} {response.headers}")

    return app, render


def measure_first(db_path: Path, hr_id: int) -> dict:
    """In a fresh child: its very first overview (nothing warmed, nothing cached)."""
    _app_, render = _client(db_path, hr_id)
    start = time.perf_counter()
    render()
    return {"first": time.perf_counter() - start, "rss_mb": _peak_rss_kb() / 1024}


def measure(db_path: Path, hr_id: int) -> dict:
    """In another fresh child: the repeated render, its peak memory, then the baseline."""
    import tracemalloc

    from analysis import periods
    from surveys import db as dbmod
    from surveys.services import overview

    app, render = _client(db_path, hr_id)
    render()  # warm up: templates compiled
    warm = _median(render, 15)
    tracemalloc.start()  # Python's own allocations of one render (tracing slows it down)
    render()
    python_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    rss_kb = _peak_rss_kb()
    last = sqlite3.connect(db_path).execute("SELECT max(id) FROM incident").fetchone()[0]
    _app2, incident = _client(db_path, hr_id, f"/incidents/{last}", "Results from")
    incident()
    incident_s = _median(incident, 15)

    # The same figures from raw answers, checked against the page's heatmap.
    with dbmod.session_scope(app) as session:
        view = overview.overview(session, 5)
        page_cells = {(row.team.id, view.period, cell.construct): cell.pct
                      for row in view.heatmap for cell in row.cells}
    con = sqlite3.connect(db_path)
    raw = group_by_figures(con)
    mismatched = sum(
        1 for key, pct in page_cells.items()
        if pct is not None and (raw.get(key) is None or abs(raw[key] - pct) > 1e-9))
    baseline = _median(lambda: group_by_figures(con), 5)
    start, end = periods.period_start(view.period), periods.period_end(view.period)
    latest = _median(lambda: group_by_figures(
        con, "AND s.closed_at >= ? AND s.closed_at < ?",
        (start.replace(tzinfo=None).isoformat(" "), end.replace(tzinfo=None).isoformat(" "))),
        5)
    con.close()
    return {"warm": warm, "baseline": baseline, "latest": latest, "warm_rss_mb": rss_kb / 1024,
            "python_peak_mb": python_peak / 2**20, "cells": len(page_cells),
            "shown_cells": sum(pct is not None for pct in page_cells.values()),
            "mismatched": mismatched, "incident": incident_s, "period": view.period}


def _undecided_copy(source: Path, target: Path) -> None:
    """A copy of the generated organisation with no decision recorded yet."""
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
        dst.execute("DELETE FROM release_record")
        dst.execute("DELETE FROM period_decision")
        dst.commit()
    sqlite3.connect(target).close()


def _child(*args: str) -> dict:
    """Run this module in a fresh interpreter and return the JSON on its last line."""
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    done = subprocess.run([sys.executable, "-m", "bench.bench_hr_overview", *args],
                          capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def run() -> list[Result]:
    with tempfile.TemporaryDirectory() as tmp:
        # BENCH_HR_DB keeps the generated database for another run (generation takes a
        # minute); each run decides afresh on a copy without any decision.
        kept = Path(os.environ.get("BENCH_HR_DB") or Path(tmp) / "generated.db")
        db_path = Path(tmp) / "bench.db"
        started = time.perf_counter()
        if kept.exists():
            facts = {"hr_id": 1, "sealed_rows": "reused"}
        else:  # generated in its own process, so its memory is not the measured child's
            facts = _child("--generate", str(kept))
        _undecided_copy(kept, db_path)
        print(f"generated {RESPONSES:,} responses, {facts['sealed_rows']} sealed counts in "
              f"{time.perf_counter() - started:.0f} s (not timed)", flush=True)
        figures = _child("--decide", str(db_path))
        print(f"decision run at the end of 2026 Q3: {figures['quarter']:.1f} s, "
              f"{figures['quarter_decisions']} figures decided ({figures['quarter_released']} "
              f"released) for {', '.join(figures['quarter_periods'])}; the catch-up before it "
              f"(every survey, {figures['catch_up_periods']} periods): "
              f"{figures['catch_up']:.1f} s for {figures['catch_up_decisions']} figures; "
              f"peak memory {figures['rss_mb']:.0f} MB", flush=True)
        decided = figures
        figures = _child("--first", str(db_path), str(facts["hr_id"]))
        figures.update(_child("--measure", str(db_path), str(facts["hr_id"])))
    if figures["mismatched"]:
        raise RuntimeError(f"{figures['mismatched']} heatmap cells differ from the GROUP BY")
    if figures["shown_cells"] < figures["cells"] // 2:
        raise RuntimeError("most heatmap cells are hidden: the comparison would say little")
    print(f"overview of {figures['period']} {figures['warm'] * 1000:.1f} ms (first request of "
          f"a process {figures['first'] * 1000:.0f} ms), incident page "
          f"{figures['incident'] * 1000:.1f} ms, GROUP BY over raw answers "
          f"{figures['baseline'] * 1000:.0f} ms (latest quarter only "
          f"{figures['latest'] * 1000:.0f} ms), ratio {figures['warm'] / figures['baseline']:.4f}"
          f"; peak memory {figures['warm_rss_mb']:.0f} MB in a process serving the overview "
          f"(Python allocations {figures['python_peak_mb']:.0f} MB), {figures['rss_mb']:.0f} MB "
          f"in one making the first renders; {figures['cells']} heatmap cells checked against "
          "the GROUP BY", flush=True)
    return [
        Result("period_end_decisions", decided["quarter"], "s", 60.0,
               decided["quarter"] / 60.0,
               f"under 60 s ({decided['quarter_decisions']} figures decided)"),
        Result("period_end_decisions_catch_up", decided["catch_up"], "s", 60.0,
               decided["catch_up"] / 60.0,
               f"reported ({decided['catch_up_decisions']} figures, once per installation)"),
        Result("hr_overview_render", figures["warm"], "s", figures["baseline"],
               figures["warm"] / figures["baseline"], "ratio <= 0.1"),
        Result("incident_page_render", figures["incident"], "s", figures["baseline"],
               figures["incident"] / figures["baseline"], "ratio <= 0.1"),
        Result("hr_overview_first_render", figures["first"], "s", figures["baseline"],
               figures["first"] / figures["baseline"], "reported (a fresh process)"),
        Result("hr_overview_vs_latest_quarter_group_by", figures["warm"], "s",
               figures["latest"], figures["warm"] / figures["latest"], "reported"),
        Result("hr_overview_peak_memory", figures["warm_rss_mb"], "MB", 300.0,
               figures["warm_rss_mb"] / 300.0, "ratio <= 1 (under 300 MB)"),
        Result("hr_overview_first_render_peak_memory", figures["rss_mb"], "MB", 300.0,
               figures["rss_mb"] / 300.0, "reported"),
    ]


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--decide":
        print(json.dumps(decide(Path(sys.argv[2]))))
    elif len(sys.argv) == 4 and sys.argv[1] == "--measure":
        print(json.dumps(measure(Path(sys.argv[2]), int(sys.argv[3]))))
    elif len(sys.argv) == 4 and sys.argv[1] == "--first":
        print(json.dumps(measure_first(Path(sys.argv[2]), int(sys.argv[3]))))
    elif len(sys.argv) == 3 and sys.argv[1] == "--generate":
        print(json.dumps(generate(Path(sys.argv[2]))))
    else:
        for result in run():
            print(result)
