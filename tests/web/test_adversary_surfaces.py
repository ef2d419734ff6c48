"""The cross-surface adversary (tests/support/harvest.py) against generated organisations, on SQLite
and PostgreSQL: every page, export and API response each role can reach, harvested in two
random orders, must be the same both times, must not add a single release record, and the
exact-span attacker over everything harvested must find no group smaller than its k, for
the respondents or for any one question's answerers.

The default run is a few organisations; ``-m slow`` explores many more.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from analysis import items
from support.adversary import derivable_small_groups
from support.app import make_app, postgres_schema
from support.harvest import (
    INVOLVEMENT,
    KINDS,
    PRACTICE_VALUES,
    STATEMENT_VALUES,
    PlannedSurvey,
    attack,
    build_world,
    distinct,
    harvest,
    login_all,
    urls,
)
from surveys import db as dbmod
from surveys.models import ReleaseRecord
from surveys.services import ledger, overview
from surveys.tokens import TokenBox

TEAMS = ("payments", "platform", "data")  # data sits under platform

answers = st.tuples(*(st.sampled_from(STATEMENT_VALUES) for _ in items.STATEMENT_IDS),
                    *(st.sampled_from(PRACTICE_VALUES) for _ in items.PRACTICE_IDS))
plans = st.lists(
    st.builds(PlannedSurvey, team=st.sampled_from(TEAMS), month=st.integers(6, 12),
              day=st.integers(1, 20), kind=st.sampled_from(KINDS), k=st.integers(3, 10),
              respondents=st.lists(st.tuples(st.sampled_from(INVOLVEMENT), answers),
                                   min_size=0, max_size=12).map(tuple)),
    min_size=2, max_size=7)


def run(url: str, plan, pool_grain: str = "quarter") -> list[str]:
    """Build, harvest twice, attack; return the attacker's findings."""
    ledger.clear_cache()
    app = make_app(url, AFTERCARE_SURVEY_LIMIT="0", AFTERCARE_POOL_PERIOD=pool_grain)
    try:
        with dbmod.session_scope(app) as session:
            world = build_world(session, app.extensions["aftercare.settings"],
                                TokenBox(app.config["SECRET_KEY"]), plan)
            quarters = overview.decided_quarters(session)
            addresses = urls(session, world, manager_teams=("payments",),
                             quarters=quarters)
            records = session.scalar(select(func.count()).select_from(ReleaseRecord))
            session.rollback()
        clients = login_all(app, app.test_client)
        first = harvest(clients, addresses, world, seed=1)
        second = harvest(clients, addresses, world, seed=2)
        assert first.bodies.keys() == second.bodies.keys()
        for key, body in first.bodies.items():
            assert body == second.bodies[key], f"{key} differs with the order of looking"
        with dbmod.session_scope(app) as session:
            assert session.scalar(select(func.count()).select_from(ReleaseRecord)) == records
        return attack(world, distinct(first.figures + second.figures))
    finally:
        dbmod.get_engine(app).dispose()
        ledger.clear_cache()


def _sqlite(plan, pool_grain="quarter") -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        return run(f"sqlite:///{Path(tmp) / 'harvest.db'}", plan, pool_grain)


@settings(max_examples=4, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(plan=plans, pool_grain=st.sampled_from(("quarter", "month")))
def test_no_surface_in_any_order_exposes_a_small_group(plan, pool_grain):
    assert _sqlite(plan, pool_grain) == []


@pytest.mark.postgres
@settings(max_examples=2, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(plan=plans)
def test_no_surface_exposes_a_small_group_on_postgres(plan):
    with postgres_schema() as url:
        assert run(url, plan) == []


@pytest.mark.slow
@pytest.mark.timeout(900)  # a loaded machine; the examples, not the clock, bound the work
@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(plan=plans, pool_grain=st.sampled_from(("quarter", "month")))
def test_no_surface_exposes_a_small_group_many_organisations(plan, pool_grain):
    assert _sqlite(plan, pool_grain) == []


# --------------------------------------------------------------------------- hand-made cases

ALL_AGREE = (4,) * len(items.STATEMENT_IDS) + (items.NO,) * len(items.PRACTICE_IDS)


def _people(n: int, involvement: str = "direct", answers=ALL_AGREE):
    return ((involvement, answers),) * n


CROSS_TABLE = [
    PlannedSurvey("payments", 8, 3, "availability", 5, _people(6)),
    PlannedSurvey("platform", 8, 4, "security", 5, _people(5, "observer")),
    PlannedSurvey("data", 8, 5, "availability", 5, _people(2)),
]

DOES_NOT_APPLY = tuple(0 if s == "sharing_free" else 4 for s in items.STATEMENT_IDS) \
    + (items.NO,) * len(items.PRACTICE_IDS)
PER_ITEM = [
    PlannedSurvey("payments", 8, 3, "availability", 5, _people(5)),
    PlannedSurvey("payments", 8, 12, "availability", 5,
                  _people(3, answers=DOES_NOT_APPLY) + _people(2)),
]


def test_the_attacker_finds_a_planted_difference():
    """The attacker is not blind: a team period next to one of its surveys exposes two."""
    assert derivable_small_groups(7, [frozenset(range(7)), frozenset(range(5))], 5) == \
        [frozenset({5, 6})]
    # A tracker: {a, b} - {b, c} + {c, d} with a and d one person each, b and c five.
    a, b, c, d = {0}, set(range(1, 6)), set(range(6, 11)), {11}
    tracker = [frozenset(a | b), frozenset(b | c), frozenset(c | d)]
    assert frozenset(a | d) in derivable_small_groups(12, tracker, 5)


def test_a_leak_across_tables_is_refused():
    """Heatmap suppression hides platform and data (data's 2 would be platform's subtree
    minus platform), but the incident-kind cut would show "security" = platform's 5, and
    then organisation 13 - payments 6 - security 5 = data's 2 people. The audit refuses."""
    assert _sqlite(CROSS_TABLE) == []


def test_one_questions_answerers_cannot_be_differenced():
    """Three of the second survey's five said "Doesn't apply" to one statement; the month
    minus the first survey would give the other two's answers to it."""
    assert _sqlite(PER_ITEM, "month") == []


def test_without_the_audit_the_attacker_finds_that_leak(monkeypatch):
    """The attack is not blind: switch the differencing audit off and it finds the two."""
    from analysis import release

    decide = release.decide

    def no_audit(n, k, *, cells=None, ledger=None, suppressed=False, period_over=True,
                 record_as=None):
        return decide(n, k, suppressed=suppressed, period_over=period_over)

    monkeypatch.setattr(release, "decide", no_audit)
    found = _sqlite(CROSS_TABLE)
    assert any(problem.startswith("_n: 2 people") for problem in found), found


def test_without_the_per_question_audit_the_attacker_finds_two_answers(monkeypatch):
    """Audit the respondents only (each question's ledger forgets every earlier figure) and
    the two answers to the statement the others found not to apply are derivable."""
    from analysis.audit import ReleaseLedger

    prepare = ledger.Ledgers.prepare

    def respondents_only(self, kappa, measure, cells):
        audited = prepare(self, kappa, measure, cells)
        if measure == ledger.RESPONDENTS:
            return audited
        sizes = self.sizes({ledger.survey_of_cell(c) for c in cells}).get(measure, {})
        return ReleaseLedger({c: sizes.get(c, 0) for c in cells}, kappa)

    monkeypatch.setattr(ledger.Ledgers, "prepare", respondents_only)
    found = _sqlite(PER_ITEM, "month")
    assert any(problem.startswith("sharing_free: 2 people") for problem in found), found


def test_the_demo_organisation_exposes_no_small_group(tmp_path):
    """The demo (real dates, the real clock) through every surface, in two orders.

    Six months of the demo's history (its generator, teams and stories, two quarters and the
    current one): the full eighteen months has several hundred addresses per role, too many
    to crawl twice in the suite's time limit."""
    from datetime import UTC, datetime

    from support import TOTP_SECRET
    from support.harvest import world_from_database
    from surveys.cli.demo import DEMO_PASSWORD
    from surveys.models import User
    from surveys.services import auth

    ledger.clear_cache()
    app = make_app(f"sqlite:///{tmp_path / 'demo.db'}")
    app.config["AFTERCARE_NOW"] = None  # the demo lives on the real clock
    try:
        assert app.test_cli_runner().invoke(
            args=["demo", "--no-mail", "--months", "6"]).exit_code == 0
        with dbmod.session_scope(app) as session:
            hr = session.scalar(select(User).where(User.email == "hana@example.org"))
            auth.set_totp_secret(session, hr.id, TOTP_SECRET,
                                 auth.SecretBox(app.config["SECRET_KEY"]))
            world = world_from_database(session)
            addresses = urls(session, world, manager_teams=("payments", "platform"),
                             quarters=overview.decided_quarters(session))
            records = session.scalar(select(func.count()).select_from(ReleaseRecord))
        clients = login_all(app, app.test_client, datetime.now(UTC), hr="hana@example.org",
                            manager="maria@example.org", password=DEMO_PASSWORD)
        first = harvest(clients, addresses, world, seed=1)
        second = harvest(clients, addresses, world, seed=2)
        assert first.bodies == second.bodies
        assert len(first.figures) > 20  # the demo shows plenty
        with dbmod.session_scope(app) as session:
            assert session.scalar(select(func.count()).select_from(ReleaseRecord)) == records
        assert attack(world, distinct(first.figures)) == []
    finally:
        dbmod.get_engine(app).dispose()
        ledger.clear_cache()
