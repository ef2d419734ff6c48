"""The release service: decisions made once at fixed moments and recorded, the differencing
audit over everything ever published (per measure), pools of small incidents and pooled
comments, on a real database."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import delete, func, select

from analysis import release
from support import ANSWERS, NOW, answer, answer_and_close, decide_periods, open_survey
from support.organisation import AUG, run_survey, uniform
from surveys.db import begin_write
from surveys.models import ReleaseRecord, SealedCount, Team, User
from surveys.services import decisions, ledger, lifecycle, pools, releases, results


def _hr(db) -> User:
    return db.scalar(select(User).where(User.email == "hr@example.org"))


def _manager(db) -> User:
    return db.scalar(select(User).where(User.email == "manager@example.org"))


def _team_id(db, slug: str) -> int:
    return db.scalar(select(Team.id).where(Team.slug == slug))


def _records(db) -> int:
    db.rollback()
    return db.scalar(select(func.count()).select_from(ReleaseRecord))


def _record(db, subject: str) -> ReleaseRecord | None:
    db.rollback()
    return db.scalar(select(ReleaseRecord).where(ReleaseRecord.subject == subject))


def decide(db, *requests: releases.Request) -> dict[str, releases.Release]:
    """Decide figures as a decision run does: write lock, decision lock, commit."""
    db.rollback()
    begin_write(db)
    with releases.deciding(db) as decider:
        out = decider.decide(list(requests))
        db.commit()
    return out


@pytest.fixture(autouse=True)
def fresh_ledgers():
    ledger.clear_cache()
    yield
    ledger.clear_cache()


def test_a_survey_is_decided_once_when_it_closes(db, org, settings, box):
    survey = run_survey(db, settings, box, team="payments", at=AUG, rows=uniform(6))
    record = _record(db, f"survey:{survey.id}")  # recorded by the close itself
    assert record.allowed and record.kind == "sum"
    assert json.loads(record.cells) == [f"{survey.id}:observer"]  # everyone said "observer"
    assert json.loads(record.numbers)["n"] == 6
    first = results.survey_results(db, survey)
    assert first.decision.allowed and first.respondents == 6
    again = results.survey_results(db, survey)
    assert again.constructs == first.constructs
    assert _records(db) == 1  # reading it, twice, decided nothing more


def test_released_counts_are_the_sealed_totals_of_the_published_measures(db, org, settings,
                                                                         box):
    rows = uniform(3, involvement="direct") + uniform(3, involvement="unsaid", blame_system="1")
    survey = run_survey(db, settings, box, team="payments", at=AUG, rows=rows)
    found = releases.stored(db, releases.survey_subject(survey.id))
    sealed: dict[str, dict[int, int]] = {}
    for item, value, count in db.execute(select(SealedCount.item, SealedCount.value,
                                                SealedCount.count).where(
            SealedCount.survey_id == survey.id, SealedCount.cut == "all")):
        if item in found.measures and ledger.counted(item, value):
            sealed.setdefault(item, {})[value] = count
    assert found.counts == sealed
    # "lead_shared" was "Doesn't apply" for all six: nothing of it is published
    assert "lead_shared" not in found.measures and "blame_system" in found.measures


def test_a_difference_that_isolates_two_people_is_refused_in_plain_words(db, org, settings,
                                                                          box):
    big = run_survey(db, settings, box, team="payments", at=AUG, rows=uniform(5))
    small = run_survey(db, settings, box, team="payments", at=AUG + timedelta(days=1),
                       rows=uniform(2, blame_system="1"))
    assert releases.stored(db, releases.survey_subject(big.id)).allowed
    refused = decide(db, releases.Request("test:both", (big.id, small.id), 5))["test:both"]
    assert not refused.allowed and refused.decision.reason == release.Reason.DIFFERENCING
    assert "fewer than 5 people" in refused.message and refused.counts == {}
    record = _record(db, "test:both")
    assert not record.allowed and record.numbers is None
    ledger.clear_cache()  # a new process: rebuilt from the records, same answer
    again = decide(db, releases.Request("test:both-again", (big.id, small.id), 5))
    assert not again["test:both-again"].allowed


def test_refusals_by_threshold_are_recorded_too(db, org, settings, box):
    small = run_survey(db, settings, box, team="payments", at=AUG, rows=uniform(2))
    record = _record(db, releases.survey_subject(small.id))
    assert not record.allowed and record.reason == release.Reason.BELOW_MINIMUM
    assert record.numbers is None


def test_a_decided_subject_keeps_its_decision(db, org, settings, box):
    big = run_survey(db, settings, box, team="payments", at=AUG, rows=uniform(5))
    first = decide(db, releases.Request("test:x", (big.id,), 5))["test:x"]
    other = run_survey(db, settings, box, team="payments", at=AUG + timedelta(days=3),
                       rows=uniform(5))
    # Asked again with other surveys, the recorded figure is what it was: never re-decided.
    second = decide(db, releases.Request("test:x", (big.id, other.id), 5))["test:x"]
    assert second.n == first.n == 5


def test_the_ledger_catches_up_with_releases_of_another_process(db, org, settings, box):
    a = run_survey(db, settings, box, team="payments", at=AUG, rows=uniform(5))
    b = run_survey(db, settings, box, team="payments", at=AUG + timedelta(days=1),
                   rows=uniform(2))
    decide(db, releases.Request("test:warm", (a.id,), 5))
    # Another process records a + b; this process's ledgers have not seen it.
    db.rollback()
    cells = [f"{a.id}:observer", f"{b.id}:observer"]
    db.add(ReleaseRecord(subject="other:ab", kind="sum", allowed=True, reason="released", k=5,
                         cells=json.dumps(cells), numbers=None))
    db.commit()
    begin_write(db)
    with releases.deciding(db) as decider:
        assert decider.ledgers.get(5, ledger.RESPONDENTS).rank == 2
    db.rollback()
    # b alone is now computable from what was published; deciding b's people anew refuses.
    refused = decide(db, releases.Request("test:b", (b.id,), 5))["test:b"]
    assert refused.decision.reason == release.Reason.BELOW_MINIMUM


def test_hierarchy_hides_a_team_whose_difference_with_its_parent_is_small():
    # org 20 = platform group 12 (own 0: infra 9 + edge 3) + payments 8
    parents = {1: None, 2: 1, 3: 1, 4: None}
    own = {1: 0, 2: 9, 3: 3, 4: 8}
    shown = decisions.hierarchy_shown(parents, own, 20, 5)
    assert 3 not in shown  # 3 people
    # the platform group (12) minus infra (9) would leave edge's 3: infra is hidden too
    assert 2 not in shown and 4 in shown


def test_one_items_answerers_are_audited_apart_from_the_respondents(db, org, settings, box):
    """Five answer "sharing_free" in one survey; in a second, three of five say "Doesn't
    apply". The team's month (10 respondents, 7 answered it) would give the other two's
    answers by subtraction: the month is shown, that statement is not."""
    run_survey(db, settings, box, team="payments", at=AUG, rows=uniform(5, sharing_free="4"))
    rows = uniform(3, sharing_free="0") + uniform(2, sharing_free="1")
    second = run_survey(db, settings, box, team="payments", at=AUG + timedelta(days=2),
                        rows=rows)
    own = releases.stored(db, releases.survey_subject(second.id))
    assert own.allowed and "sharing_free" not in own.measures  # 2 answered it: below k
    decide_periods(db, settings, NOW)
    month = releases.stored(db, releases.team_subject(_team_id(db, "payments"), "2026-08"))
    assert month.allowed and month.n == 10
    assert "sharing_free" not in month.measures and "sharing_own" in month.measures
    assert "sharing_free" not in month.counts


def _answer(db, survey, tokens, n, comment=None, **answers):
    for token in tokens[:n]:
        answer(db, token, comment=comment, **answers)


def _small(db, settings, box, at, n, title, comment=None):
    return answer_and_close(db, settings, box, [{**ANSWERS, "comment": comment}] * n,
                            people=6, team="payments", now=at, title=title)


def test_small_incidents_pool_by_quarter_and_release_when_it_ends(db, org, settings, box):
    first = _small(db, settings, box, AUG, 3, "First small")
    second = _small(db, settings, box, AUG + timedelta(days=20), 3, "Second small")
    decide_periods(db, settings, NOW)
    listing = pools.team_pools(db, _manager(db), "payments", "quarter", NOW)
    assert [p.period for p in listing.pools] == ["2026-Q3"]
    assert {i.id for i in listing.pools[0].incidents} == {first.incident_id, second.incident_id}
    pool = pools.pool(db, _manager(db), "payments", "2026-Q3", "quarter", NOW, 5)
    assert pool.released and pool.result.n == 6
    assert next(c for c in pool.constructs if c.id == "blame").shown
    # each incident on its own still shows nothing
    assert not results.survey_results(db, first).decision.allowed


def test_a_pool_of_a_running_period_says_when_it_ends(db, org, settings, box):
    _small(db, settings, box, NOW - timedelta(days=15), 3, "a")
    _small(db, settings, box, NOW - timedelta(days=14), 3, "b")
    decide_periods(db, settings, NOW)
    pool = pools.pool(db, _manager(db), "payments", "2026-Q4", "quarter", NOW, 5)
    assert not pool.released
    assert pool.result.decision.reason == release.Reason.PERIOD_NOT_OVER
    assert pool.result.n is None and pool.constructs == ()


def test_an_ended_period_not_yet_decided_says_so(db, org, settings, box):
    _small(db, settings, box, AUG, 3, "a")
    pool = pools.pool(db, _manager(db), "payments", "2026-Q3", "quarter", NOW, 5)
    assert pool.result.decision.reason == release.Reason.PENDING
    assert "within a minute" in pool.result.message


def test_month_pools_follow_the_setting(db, org, settings, box):
    _small(db, settings, box, AUG, 3, "a")
    listing = pools.team_pools(db, _manager(db), "payments", "month", NOW)
    assert [p.period for p in listing.pools] == ["2026-08"]
    from surveys.errors import NotFound

    with pytest.raises(NotFound):
        pools.pool(db, _manager(db), "payments", "2026-Q3", "month", NOW, 5)


def test_another_teams_pool_is_refused(db, org, settings, box):
    from surveys.errors import NotFound

    with pytest.raises(NotFound) as other:  # another team's: read as no team at all
        pools.team_pools(db, _manager(db), "platform", "quarter", NOW)
    with pytest.raises(NotFound) as missing:
        pools.team_pools(db, _manager(db), "no-such-team", "quarter", NOW)
    assert other.value.message == missing.value.message


def test_comments_pooled_masked_and_shown_only_with_k_authors(db, org, settings, box):
    survey, tokens = open_survey(db, settings, box, team="payments", people=8, now=AUG)
    _answer(db, survey, tokens[:3], 3,
            comment="Payments3 said on 3 Aug at 14:05 that payments4@example.org was paged.")
    _answer(db, survey, tokens[3:6], 3, comment="More time to prepare the timeline.")
    lifecycle.close_survey(db, survey.id, survey.closes_at)
    assert results.released_comments(db, survey, "quarter") == ()  # not decided yet
    decide_periods(db, settings, NOW)
    shown = results.released_comments(db, survey, "quarter")
    assert len(shown) == 6
    masked = [c for c in shown if "[name]" in c]
    assert masked and all("Payments3" not in c and "payments4@" not in c for c in shown)
    assert all("2026 Q3" in c and "[time]" in c for c in masked)
    assert results.released_comments(db, survey, "quarter") == shown


def test_comments_of_fewer_than_k_people_stay_hidden(db, org, settings, box):
    survey, tokens = open_survey(db, settings, box, team="payments", people=8, now=AUG)
    _answer(db, survey, tokens[:4], 4, comment="Fine.")
    _answer(db, survey, tokens[4:7], 3)
    lifecycle.close_survey(db, survey.id, survey.closes_at)
    decide_periods(db, settings, NOW)
    assert results.survey_results(db, survey).decision.allowed
    assert results.released_comments(db, survey, "quarter") == ()
    found = releases.stored(db, releases.comments_subject(_team_id(db, "payments"), "2026-Q3"))
    assert found.decision.reason == release.Reason.FEW_COMMENTERS


def test_comment_authors_are_bounded_by_people_invited_to_several_surveys():
    # Two surveys with 3 comments each, the same people invited to both: perhaps 3 authors.
    assert release.distinct_authors_at_least({1: 3, 2: 3}, 2) == 3
    assert release.distinct_authors_at_least({1: 3, 2: 3}, 1) == 6
    assert not release.comments_release({1: 3, 2: 3}, 2, 5, period_over=True).allowed


def test_the_incident_list_reads_each_recorded_decision(db, org, settings, box):
    shown = run_survey(db, settings, box, team="payments", at=AUG, rows=uniform(6))
    small = run_survey(db, settings, box, team="payments", at=AUG + timedelta(days=1),
                       rows=uniform(2))
    legacy = run_survey(db, settings, box, team="platform", at=AUG + timedelta(days=2),
                        rows=uniform(6))
    # A survey sealed before decisions were recorded at close: the tick decides it.
    db.execute(delete(ReleaseRecord).where(
        ReleaseRecord.subject == releases.survey_subject(legacy.id)))
    db.commit()
    ledger.clear_cache()
    words = results.decisions_for(db, [shown, small, legacy])
    assert words[shown.id].allowed
    assert words[small.id].reason == release.Reason.BELOW_MINIMUM
    assert words[legacy.id].reason == release.Reason.PENDING
    assert decide_periods(db, settings, NOW).surveys == 1
    assert results.decisions_for(db, [legacy])[legacy.id].allowed


def test_a_survey_cannot_close_into_a_decided_period(db, org, settings, box):
    survey, tokens = open_survey(db, settings, box, team="payments", people=6,
                                 now=AUG - timedelta(days=10))
    _answer(db, survey, tokens, 5)
    run_survey(db, settings, box, team="platform", at=AUG + timedelta(days=30),
               rows=uniform(5))  # closes in September
    decide_periods(db, settings, NOW)  # a clock ahead: September and Q3 are decided
    closed = lifecycle.close_survey(db, survey.id, AUG)  # a clock behind, in August
    assert closed.closed_at >= decisions.closing_time(db, AUG) > AUG
    assert closed.closed_at.month == 10  # counted in the first undecided period


def _race(url: str) -> list[bool]:
    """Two requests, each safe alone, together exposing two people, decided at once by two
    threads with sessions of their own: the lock lets exactly one through."""
    import threading

    from support.app import make_app
    from surveys import db as dbmod
    from surveys.tokens import TokenBox

    app = make_app(url)
    try:
        with dbmod.session_scope(app) as session:
            from support import build_org

            build_org(session)
            box = TokenBox(app.config["SECRET_KEY"])
            config = app.extensions["aftercare.settings"]
            # a month apart: nobody is asked twice within the survey-fatigue window
            a, b, c = (run_survey(session, config, box, team="payments",
                                  at=AUG + timedelta(days=d), rows=uniform(3)).id
                       for d in (0, 31, 62))
        ledger.clear_cache()
        barrier = threading.Barrier(2)
        outcome: dict[str, bool] = {}

        def ask(subject: str, survey_ids) -> None:
            with dbmod.session_scope(app) as session:
                barrier.wait()
                outcome[subject] = decide(session, releases.Request(
                    subject, survey_ids, 5))[subject].allowed

        # a+b and a+b+c have 6 and 9 people; together they give c's 3 people.
        threads = [threading.Thread(target=ask, args=("race:ab", (a, b))),
                   threading.Thread(target=ask, args=("race:abc", (a, b, c)))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        ledger.clear_cache()  # a fresh process reads what was stored
        with dbmod.session_scope(app) as session:
            stored = releases.stored_many(session, ["race:ab", "race:abc"])
        assert {s: r.allowed for s, r in stored.items()} == outcome
        return list(outcome.values())
    finally:
        dbmod.get_engine(app).dispose()
        ledger.clear_cache()


def test_concurrent_decisions_cannot_both_pass_on_sqlite(sqlite_url):
    assert sorted(_race(sqlite_url)) == [False, True]


@pytest.mark.postgres
def test_concurrent_decisions_cannot_both_pass_on_postgres(postgres_url):
    assert sorted(_race(postgres_url)) == [False, True]


_DECIDER = """
import sys, time
from pathlib import Path
from app import create_app
from surveys import db as dbmod
from surveys.db import begin_write
from surveys.services import ledger, releases

url, subject, ids, go = sys.argv[1], sys.argv[2], sys.argv[3], Path(sys.argv[4])
app = create_app({"DATABASE_URL": url, "SECRET_KEY": "x" * 40})
wanted = tuple(int(i) for i in ids.split(","))
with dbmod.session_scope(app) as session:
    begin_write(session)
    with releases.deciding(session) as decider:  # each process builds its own ledgers first
        decider.ledgers.get(5, ledger.RESPONDENTS)
    session.rollback()
    while not go.exists():
        time.sleep(0.01)
    begin_write(session)
    with releases.deciding(session) as decider:
        decided = decider.decide([releases.Request(subject, wanted, 5)])[subject]
        session.commit()
print("allowed" if decided.allowed else decided.decision.reason.value)
"""


def _two_processes(url: str, tmp_path) -> list[str]:
    import subprocess
    import sys
    import time
    from pathlib import Path

    from support import build_org
    from support.app import make_app
    from surveys import db as dbmod
    from surveys.tokens import TokenBox

    app = make_app(url)
    try:
        with dbmod.session_scope(app) as session:
            build_org(session)
            box = TokenBox(app.config["SECRET_KEY"])
            config = app.extensions["aftercare.settings"]
            a, b, c = (run_survey(session, config, box, team="payments",
                                  at=AUG + timedelta(days=d), rows=uniform(3)).id
                       for d in (0, 31, 62))
    finally:
        dbmod.get_engine(app).dispose()
    go = tmp_path / "go"
    root = Path(__file__).resolve().parents[2]
    # a+b and a+b+c are each 6 or more people; together they give c's 3 people.
    processes = [
        subprocess.Popen([sys.executable, "-c", _DECIDER, url, subject,
                          ",".join(str(i) for i in ids), str(go)],
                         cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for subject, ids in (("proc:ab", (a, b)), ("proc:abc", (a, b, c)))]
    time.sleep(1.5)  # both have started and built their ledgers
    go.touch()
    outcomes = []
    for process in processes:
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err[-2000:]
        outcomes.append(out.strip().splitlines()[-1])
    return outcomes


def test_another_process_sees_the_release_and_refuses_the_difference_on_sqlite(sqlite_url,
                                                                             tmp_path):
    """Two processes, each with its ledgers built before either decides: whichever decides
    second catches up with the first one's record and refuses."""
    assert sorted(_two_processes(sqlite_url, tmp_path)) == ["allowed", "differencing"]


@pytest.mark.postgres
def test_another_process_sees_the_release_and_refuses_the_difference_on_postgres(
        postgres_url, tmp_path):
    assert sorted(_two_processes(postgres_url, tmp_path)) == ["allowed", "differencing"]
