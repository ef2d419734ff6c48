"""An attacker against everything the release guard publishes, through the real services.

Hypothesis generates an organisation (teams, one of them under a parent team), incident
surveys answered by individual respondents, and a sequence of release requests as an HR user
would make them: a survey's results, a team's pool (by month or by quarter), team trends and
team periods (by month and by quarter), and the HR overview (heatmap, organisation trend,
incident kinds, involvement groups). Every figure the services show is turned into the set of
individual respondents it sums over, worked out by the attacker from what it knows
(which survey each person answered, its team, kind and closing date) -- not from the
release records -- and checked against the respondent count shown.

Then the attacker tries every linear combination of the released sums: exact rational
Gaussian elimination on their indicator vectors over individual respondents, and a
membership test for every set of 1 to k - 1 respondents that any combination could
isolate (every vector of the span is constant on the atoms the released sets induce, so
only unions of atoms need testing). The test fails if any such set is computable: that
group's answers (or one person's) would be derivable by differencing.

The default run is small and bounded (well under a minute); the ``slow`` run explores more.
The submission-order attack is tests/service/test_anonymity.py
(``check_order_unrecoverable``); it is not repeated here.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from adversary import derivable_small_groups
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from conftest import make_app
from support import ANSWERS, NOW, build_org, open_survey
from surveys import db as dbmod
from surveys import items
from surveys.errors import NotFound
from surveys.models import Survey, Team, User
from surveys.services import (
    admin,
    lifecycle,
    participant,
    periods,
    pools,
    releases,
    results,
    trends,
)
from surveys.tokens import TokenBox, hash_token

K = 5
TEAMS = ("payments", "platform", "data")  # data sits under platform
MONTHS = (6, 7, 8, 9, 10)  # all complete at NOW (2026-11-20), spanning three quarters
INVOLVEMENT = items.INVOLVEMENT_IDS


# --------------------------------------------------------------------------- the world


@dataclass(frozen=True)
class PlannedSurvey:
    team: str
    month: int
    day: int
    kind: str
    respondents: tuple[tuple[str, int], ...]  # (involvement, blame_system answer)


surveys_strategy = st.lists(
    st.builds(
        PlannedSurvey,
        team=st.sampled_from(TEAMS),
        month=st.sampled_from(MONTHS),
        day=st.integers(1, 20),
        kind=st.sampled_from(("availability", "security")),
        respondents=st.lists(
            st.tuples(st.sampled_from(INVOLVEMENT), st.integers(1, 5)), min_size=0, max_size=9
        ).map(tuple),
    ),
    min_size=2,
    max_size=7,
)

requests_strategy = st.lists(
    st.one_of(
        st.tuples(st.just("survey"), st.integers(0, 6)),
        st.tuples(st.just("pool"), st.sampled_from(TEAMS), st.sampled_from(("month",
                                                                              "quarter"))),
        st.tuples(st.just("trends"), st.sampled_from(TEAMS), st.sampled_from(("month",
                                                                                "quarter"))),
        st.tuples(st.just("periods"), st.sampled_from(TEAMS), st.sampled_from(("month",
                                                                                 "quarter"))),
        st.tuples(st.just("overview"), st.sampled_from(("2026-Q2", "2026-Q3", None))),
    ),
    min_size=1,
    max_size=10,
)


@dataclass
class World:
    """What the attacker knows: every respondent, the survey they answered, its metadata."""

    respondents: list[tuple[int, str, int]] = field(default_factory=list)  # survey, inv, value
    surveys: dict[int, tuple[str, str, datetime]] = field(default_factory=dict)  # team, kind
    incident_survey: dict[int, int] = field(default_factory=dict)

    def who(self, keep) -> frozenset[int]:
        return frozenset(i for i, (sid, inv, _v) in enumerate(self.respondents)
                         if keep(sid, inv))

    def in_period(self, sid: int, period: str) -> bool:
        grain = "quarter" if "-Q" in period else "month"
        return trends.period_of(self.surveys[sid][2], grain) == period


def build_world(session, settings_, box, plan: list[PlannedSurvey]) -> World:
    build_org(session)
    admin.add_team(session, "data", "Data", "platform")
    for i in range(12):
        admin.add_person(session, "data", f"Data{i}", f"data{i}@example.org")
    world = World()
    for n, planned in enumerate(plan):
        at = datetime(2026, planned.month, planned.day, 9, tzinfo=UTC)
        survey, tokens = open_survey(session, settings_, box, team=planned.team,
                                     people=max(len(planned.respondents), 1), now=at,
                                     kind=planned.kind, title=f"Incident {n}")
        # Fewer links than planned answers when people were asked too often lately.
        answered = list(zip(tokens, planned.respondents, strict=False))
        for token, (involvement, value) in answered:
            form = dict(ANSWERS, involvement=involvement, blame_system=str(value))
            participant.submit(session, hash_token(token),
                               participant.parse_submission(form, survey.practices))
        closed = lifecycle.close_survey(session, survey.id, survey.closes_at)
        world.surveys[closed.id] = (planned.team, planned.kind, closed.closed_at)
        world.incident_survey[closed.incident_id] = closed.id
        for _token, (involvement, value) in answered:
            world.respondents.append((closed.id, involvement, value))
    return world


# --------------------------------------------------------------------------- what is shown


def published(session, world: World, requests) -> list[tuple[str, frozenset[int], int]]:
    """Run the requests through the services; every shown sum as (what, people, n shown)."""
    hr = session.scalar(select(User).where(User.email == "hr@example.org"))
    team_ids = {t.slug: t.id for t in session.scalars(select(Team))}
    slug_of = {v: k for k, v in team_ids.items()}
    survey_ids = sorted(world.surveys)
    shown: list[tuple[str, frozenset[int], int]] = []

    def team_of(sid: int) -> str:
        return world.surveys[sid][0]

    for request in requests:
        kind = request[0]
        if kind == "survey":
            sid = survey_ids[request[1] % len(survey_ids)]
            result = results.survey_results(session, session.get(Survey, sid), now=NOW)
            if result.decision.allowed:
                shown.append((f"survey {sid}", world.who(lambda s, _i, sid=sid: s == sid),
                              result.respondents))
        elif kind == "pool":
            _, slug, grain = request
            for summary in pools.team_pools(session, hr, slug, grain, NOW).pools:
                try:
                    pool = pools.pool(session, hr, slug, summary.period, grain, NOW, K)
                except NotFound:
                    continue
                if pool.released:
                    members = {world.incident_survey[i.id] for i in pool.incidents}
                    shown.append((f"pool {slug} {summary.period}",
                                  world.who(lambda s, _i, m=members: s in m), pool.result.n))
        elif kind == "trends":
            _, slug, grain = request
            team = session.get(Team, team_ids[slug])
            view = trends.team_trends(session, team, grain, NOW, K)
            for p in view.periods:
                if p.shown:
                    shown.append((f"trend {slug} {p.period}", world.who(
                        lambda s, _i, p=p, slug=slug: team_of(s) == slug
                        and world.in_period(s, p.period)), p.n))
        elif kind == "periods":
            _, slug, grain = request
            data = periods.team_periods(session, slug, grain, K, now=NOW)
            for p in data.periods:
                if p.released:
                    shown.append((f"periods {slug} {p.period}", world.who(
                        lambda s, _i, p=p, slug=slug: team_of(s) == slug
                        and world.in_period(s, p.period)), p.respondents))
        elif kind == "overview":
            try:
                view = trends.overview(session, NOW, K, request[1])
            except ValueError:
                continue
            for row in view.heatmap:
                if row.shown:
                    slug = slug_of[row.team.id]
                    shown.append((f"heatmap {slug} {view.period}", world.who(
                        lambda s, _i, slug=slug, q=view.period: team_of(s) == slug
                        and world.in_period(s, q)), row.n))
            for p in view.org_trend:
                if p.shown:
                    shown.append((f"org {p.period}", world.who(
                        lambda s, _i, p=p: world.in_period(s, p.period)), p.n))
            span = set(view.span)

            def in_span(sid: int, span=span) -> bool:
                return any(world.in_period(sid, q) for q in span)

            for cut in view.kinds:
                if cut.shown:
                    shown.append((f"kind {cut.key}", world.who(
                        lambda s, _i, key=cut.key: in_span(s) and world.surveys[s][1] == key),
                        cut.n))
            for cut in view.involvement:
                if cut.shown:
                    shown.append((f"involvement {cut.key}", world.who(
                        lambda s, i, key=cut.key: in_span(s) and i == key), cut.n))
    return shown


def attack(world: World, shown) -> None:
    for what, people, n in shown:
        assert len(people) == n, f"{what}: shows {n} people, the attacker counts {len(people)}"
        assert n >= K, f"{what}: a figure over {n} people"
    groups = derivable_small_groups(len(world.respondents), [s for _, s, _ in shown], K)
    if groups:
        example = sorted(groups, key=len)[0]
        answers = sorted(world.respondents[p][2] for p in example)
        pytest.fail(f"{len(groups)} groups below {K} are derivable, e.g. {len(example)} "
                    f"people whose blame_system answers {answers} follow from: "
                    + "; ".join(what for what, _, _ in shown))


# --------------------------------------------------------------------------- the tests


def test_the_attacker_finds_a_planted_difference():
    """The attacker is not blind: a team period next to one of its surveys exposes two."""
    people = 7
    period = frozenset(range(7))
    survey = frozenset(range(5))
    assert derivable_small_groups(people, [period, survey], K) == [frozenset({5, 6})]
    # A tracker: {a, b} - {b, c} + {c, d} with a and d one person each, b and c five.
    a, b, c, d = {0}, set(range(1, 6)), set(range(6, 11)), {11}
    tracker = [frozenset(a | b), frozenset(b | c), frozenset(c | d)]
    assert frozenset(a | d) in derivable_small_groups(12, tracker, K)
    assert derivable_small_groups(12, tracker[:2], K) == []


def _run(plan, requests) -> None:
    releases.clear_cache()
    trends.clear_cache()
    with tempfile.TemporaryDirectory() as tmp:
        # No survey-fatigue limit: the same few people answer many generated surveys.
        app = make_app(f"sqlite:///{Path(tmp) / 'adversary.db'}", AFTERCARE_MAX_PULSES="0")
        try:
            with dbmod.session_scope(app) as session:
                world = build_world(session, app.extensions["aftercare.settings"],
                                    TokenBox(app.config["SECRET_KEY"]), plan)
                attack(world, published(session, world, requests))
        finally:
            dbmod.get_engine(app).dispose()
            releases.clear_cache()
            trends.clear_cache()


@settings(max_examples=12, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(plan=surveys_strategy, requests=requests_strategy)
def test_no_small_group_is_derivable_from_everything_released(plan, requests):
    _run(plan, requests)


@pytest.mark.slow
@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(plan=surveys_strategy, requests=requests_strategy)
def test_no_small_group_is_derivable_many_organisations(plan, requests):
    _run(plan, requests)


def test_the_classic_attacks_are_refused():
    """Hand-made: a period minus a survey, a quarter minus a month, a parent team minus a
    child, the organisation minus the shown teams, and a cut minus its complement."""
    plan = [
        PlannedSurvey("payments", 7, 3, "availability", (("direct", 4),) * 5),
        PlannedSurvey("payments", 7, 10, "availability", (("observer", 1),) * 2),
        PlannedSurvey("platform", 8, 3, "security", (("direct", 5),) * 6),
        PlannedSurvey("data", 8, 4, "availability", (("responder", 2),) * 3),
        PlannedSurvey("platform", 9, 3, "availability", (("unsaid", 3),) * 5),
    ]
    requests = [("survey", 0), ("survey", 2), ("survey", 4), ("periods", "payments", "month"),
                ("periods", "payments", "quarter"), ("pool", "payments", "quarter"),
                ("trends", "platform", "month"), ("trends", "data", "quarter"),
                ("overview", "2026-Q3"), ("periods", "platform", "quarter")]
    _run(plan, requests)


CROSS_TABLE = [
    PlannedSurvey("payments", 8, 3, "availability", (("direct", 4),) * 6),
    PlannedSurvey("platform", 8, 4, "security", (("observer", 5),) * 5),
    PlannedSurvey("data", 8, 5, "availability", (("direct", 1),) * 2),
]


def test_a_leak_across_tables_is_refused():
    """Heatmap suppression hides platform and data (data's 2 would be platform's subtree
    minus platform), but the incident-kind cut would show "security" = platform's 5, and
    then organisation 13 - payments 6 - security 5 = data's 2 people. The audit refuses."""
    _run(CROSS_TABLE, [("overview", "2026-Q3"), ("survey", 0), ("survey", 1)])


def test_without_the_audit_the_attacker_finds_that_leak(monkeypatch):
    """The attack is not blind: switch the differencing audit off and it finds the two."""
    from analysis import release

    decide = release.decide

    def no_audit(n, k, *, cells=None, ledger=None, suppressed=False, period_over=True,
                 record_as=None):
        return decide(n, k, suppressed=suppressed, period_over=period_over)

    monkeypatch.setattr(release, "decide", no_audit)
    with pytest.raises(pytest.fail.Exception, match="groups below 5 are derivable"):
        _run(CROSS_TABLE, [("overview", "2026-Q3"), ("survey", 0), ("survey", 1)])
