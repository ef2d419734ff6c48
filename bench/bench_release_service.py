"""Release decisions through the service (``surveys.services.releases``), with persistence.

The organisation of ``bench_audit`` (2,000 surveys in four involvement cells each, 80 teams
under 8 parent teams, 30 months) is written to a SQLite database: surveys, their sealed
respondent counts and a few answer counts per cell, and the 20,000 earlier releases the audit
allowed, as ``ReleaseRecord`` rows (subject, cells as JSON). Then fresh requests of every kind
(held-back releases of the last period) are decided by a ``releases.Decider`` as the decision
run does, one transaction each: the write lock, the decision lock, the check that the
in-memory ledgers are up to date (one count query), the audit of the respondents and of each
published measure, the answer counts of the cells, and the insert and commit of the record.

Figures:

* ``release_service_decision_median``: median time of one new decision (ms), target <= 50
  ms. Baseline: a plain k-threshold check at the same level, in the same run: read the cells'
  respondent counts from the database and compare their sum with k.
* ``release_service_cached_median``: reading a decided subject back, as every page does
  (ms).
* ``release_service_ledger_rebuild``: rebuilding the ledger from the 20,000 records once per
  process (s), against building it from the same releases in memory (``ReleaseLedger``).

Run with ``python -m bench release_service``.
"""

from __future__ import annotations

import json
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from analysis import release
from analysis.audit import ReleaseLedger
from bench.bench_audit import INVOLVEMENT, K, build_ledger, pick_requests
from bench.harness import Result
from surveys import db as dbmod
from surveys.db import begin_write
from surveys.models import Incident, ReleaseRecord, SealedCount, Survey, Team
from surveys.services import ledger as ledgers
from surveys.services import releases

ITEMS = ("blame_system", "blame_person", "social_support", "sharing_own")
REQUESTS = 60


def _cell(cell) -> str:
    survey, involvement = cell
    return ledgers.cell_id(survey + 1, involvement)


def populate(session: Session, ledger: ReleaseLedger, sizes: dict) -> None:
    """Teams, incidents, surveys, sealed counts and the earlier releases."""
    rng = random.Random(3)
    when = datetime(2024, 1, 1, tzinfo=UTC)
    surveys = sorted({s for s, _ in sizes})
    session.execute(insert(Team), [{"id": 1, "slug": "org", "name": "Organisation"}])
    session.execute(insert(Incident), [
        {"id": s + 1, "team_id": 1, "title": f"Incident {s}", "kind": "availability",
         "severity": "sev3", "closed_at": when + timedelta(hours=s), "created_at": when}
        for s in surveys])
    session.execute(insert(Survey), [
        {"id": s + 1, "incident_id": s + 1, "team_id": 1, "status": "closed",
         "opens_at": when, "closes_at": when, "remind_at": when, "min_group": K,
         "invited": 20, "respondents": sum(sizes[(s, inv)] for inv in INVOLVEMENT),
         "closed_at": when + timedelta(hours=s)}
        for s in surveys])
    rows = []
    for (s, inv), n in sizes.items():
        if n == 0:
            continue
        rows.append({"survey_id": s + 1, "cut": "involvement", "cut_value": inv,
                     "item": "_n", "value": 0, "count": n})
        for item in ITEMS:
            split = rng.randint(0, n)
            for value, count in ((4, split), (2, n - split)):
                if count:
                    rows.append({"survey_id": s + 1, "cut": "involvement", "cut_value": inv,
                                 "item": item, "value": value, "count": count})
    for start in range(0, len(rows), 5000):
        session.execute(insert(SealedCount), rows[start:start + 5000])
    records = []
    for n, (release_id, cells) in enumerate(ledger.releases.items(), start=1):
        positive = sorted(_cell(c) for c in cells if sizes[c] > 0)
        records.append({"id": n, "subject": "earlier:" + ":".join(map(str, release_id)),
                        "kind": "sum", "cells": json.dumps(positive), "numbers": None,
                        "allowed": True, "reason": "released", "k": K})
    for start in range(0, len(records), 2000):
        session.execute(insert(ReleaseRecord), records[start:start + 2000])
    session.commit()


def run() -> list[Result]:
    started = time.perf_counter()
    ledger, sizes, held = build_ledger()
    requests = pick_requests(held, REQUESTS)
    print(f"  audited {len(ledger.releases)} earlier releases in "
          f"{time.perf_counter() - started:.0f} s (bench_audit.build_ledger)", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        engine = dbmod.make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        dbmod.upgrade(engine)
        with Session(engine) as session:
            populate(session, ledger, sizes)
        setup_s = time.perf_counter() - started

        # Rebuilding the respondents' ledger from the records, once per process.
        ledgers.clear_cache()
        with Session(engine) as session:
            begin_write(session)
            with releases.deciding(session) as decider:
                start = time.perf_counter()
                rebuilt = decider.ledgers.get(K, ledgers.RESPONDENTS)
                rebuild_s = time.perf_counter() - start
            session.rollback()
        start = time.perf_counter()
        ReleaseLedger({_cell(c): n for c, n in sizes.items()}, K,
                      [(rid, [_cell(c) for c in cells])
                       for rid, cells in ledger.releases.items()])
        memory_s = time.perf_counter() - start
        if rebuilt.rank != ledger.rank:
            raise RuntimeError("the rebuilt ledger differs from the one it was built from")

        def plain(session: Session, cells) -> bool:
            ids = sorted({s + 1 for s, _ in cells})
            wanted = {_cell(c) for c in cells}
            found = session.execute(select(SealedCount.survey_id, SealedCount.cut_value,
                                           SealedCount.count).where(
                SealedCount.survey_id.in_(ids), SealedCount.cut == "involvement",
                SealedCount.item == "_n"))
            n = sum(count for sid, code, count in found if ledgers.cell_id(sid, code) in wanted)
            return release.cell_allowed(n or K, K)

        def decide(session: Session, subject: str, cells) -> releases.Release:
            """One decision as the run takes it: a sum over whole surveys, or over one
            involvement group of a survey when the request names a single cell."""
            ids = tuple(sorted({s + 1 for s, _ in cells}))
            codes = {inv for _, inv in cells}
            code = codes.pop() if len(codes) == 1 and len(cells) < 4 * len(ids) else None
            begin_write(session)
            with releases.deciding(session) as decider:
                decided = decider.decide([releases.Request(subject, ids, K, code=code)])
                session.commit()
            return decided[subject]

        decide_t, plain_t, cached_t, allowed = [], [], [], 0
        with Session(engine) as session:
            plain(session, requests[0])  # warm the connection and statement cache
            for n, cells in enumerate(requests):
                subject = f"bench:{n}"
                start = time.perf_counter()
                plain(session, cells)
                plain_t.append(time.perf_counter() - start)
                start = time.perf_counter()
                decided = decide(session, subject, cells)
                decide_t.append(time.perf_counter() - start)
                allowed += decided.allowed
                start = time.perf_counter()
                again = releases.stored(session, subject)
                cached_t.append(time.perf_counter() - start)
                session.rollback()
                if again.decision != decided.decision:
                    raise RuntimeError("asking again gave a different decision")
    decision_ms = statistics.median(decide_t) * 1e3
    plain_ms = statistics.median(plain_t) * 1e3
    cached_ms = statistics.median(cached_t) * 1e3
    print(f"  set up in {setup_s:.1f} s; {len(ledger.releases)} earlier releases, rank "
          f"{ledger.rank}; ledger rebuilt from records in {rebuild_s:.2f} s (in memory "
          f"{memory_s:.2f} s); {len(requests)} requests, {allowed} allowed; decision median "
          f"{decision_ms:.2f} ms (worst {max(decide_t) * 1e3:.1f} ms), plain check "
          f"{plain_ms:.2f} ms, asking again {cached_ms:.2f} ms")
    return [
        Result("release_service_decision_median", decision_ms, "ms", plain_ms,
               decision_ms / plain_ms, "median <= 50 ms"),
        Result("release_service_cached_median", cached_ms, "ms", plain_ms,
               cached_ms / plain_ms, "reported, no target (what a page reads)"),
        Result("release_service_ledger_rebuild", rebuild_s, "s", memory_s,
               rebuild_s / memory_s, "once per process; reported, no target"),
    ]
