"""The differencing attacker against the pages and the JSON API of the demo organisation.

The demo (``flask demo``) is loaded once per test; then a hypothesis-driven attacker with an
API key (``results:read``) and an HR account asks for released results in any order:
``GET /api/v1/surveys/{id}/results``, ``GET /api/v1/teams/{slug}/periods`` by month and by
quarter, the HR overview's CSV export (``/hr/export.csv``: teams, organisation, incident
kinds, involvement groups) for any quarter, and the pool pages. It reads the respondent
counts it is shown, turns each figure into the set of individual respondents it sums
(from the sealed responses: which survey each one answered, its team, kind and closing
date), and keeps everything it has ever seen. After each example it tries every linear
combination of all of it (tests/adversary.py) and fails if a group of 1 to k - 1
respondents is derivable.
"""

from __future__ import annotations

import csv
import io
import re

import pytest
from adversary import derivable_small_groups
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from api_support import Api, make_key
from routewalk import sign_in
from support import enrol_totp
from surveys import items
from surveys.models import Incident, Response, Survey, Team, User
from surveys.services import releases, trends

K = 5
INVOLVEMENT_BY_LABEL = {label: code for code, label in items.INVOLVEMENT}
_POOL_N = re.compile(r"Pooled results from (\d+) people")
_POOL_LINK = re.compile(r'href="(/teams/[^/"]+/pools/[^"]+)"')


class Attacker:
    """Everything the attacker has seen, and what it knows about the respondents."""

    def __init__(self, app, db) -> None:
        self.app = app
        self.db = db
        db.rollback()
        meta = {sid: (slug, kind, closed)
                for sid, slug, kind, closed in db.execute(
                    select(Survey.id, Team.slug, Incident.kind, Survey.closed_at)
                    .join(Team, Team.id == Survey.team_id)
                    .join(Incident, Incident.id == Survey.incident_id)
                    .where(Survey.status == "closed"))}
        self.meta = meta
        self.respondents = [(sid, inv) for sid, inv in db.execute(
            select(Response.survey_id, Response.involvement).order_by(Response.id))]
        self.team_names = {name: slug for slug, name in db.execute(
            select(Team.slug, Team.name))}
        self.seen: dict[str, tuple[frozenset[int], int]] = {}
        self.api = Api(app.test_client(), make_key(app, scopes=["results:read"]))
        self.web = app.test_client()
        hana = db.scalar(select(User).where(User.email == "hana@example.org"))
        enrol_totp(db, hana.id)  # HR accounts need two-factor sign-in
        sign_in(self.web, db, "hana@example.org")

    # -- knowledge ----------------------------------------------------------------------

    def who(self, keep) -> frozenset[int]:
        return frozenset(i for i, (sid, inv) in enumerate(self.respondents)
                         if keep(sid, self.meta[sid], inv))

    @staticmethod
    def in_period(closed, period: str) -> bool:
        grain = "quarter" if "-Q" in period else "month"
        return trends.period_of(closed, grain) == period

    def saw(self, what: str, people: frozenset[int], n: int) -> None:
        assert len(people) == n, f"{what}: shows {n} people, the attacker counts {len(people)}"
        assert n >= K, f"{what}: a figure over {n} people"
        self.seen[what] = (people, n)

    # -- asking -------------------------------------------------------------------------

    def survey_results(self, index: int) -> None:
        sid = sorted(self.meta)[index % len(self.meta)]
        body = self.api.get(f"/api/v1/surveys/{sid}/results").json
        if body["released"]:
            self.saw(f"survey {sid}", self.who(lambda s, _m, _i: s == sid), body["n"])

    def team_periods(self, slug: str, grain: str) -> None:
        response = self.api.get(f"/api/v1/teams/{slug}/periods?grain={grain}")
        assert response.status_code == 200, response.json
        for p in response.json["periods"]:
            if p["released"]:
                self.saw(f"team {slug} {p['period']}", self.who(
                    lambda _s, m, _i, period=p["period"]: m[0] == slug
                    and self.in_period(m[2], period)), p["respondents"])

    def overview(self, period: str | None) -> None:
        response = self.web.get("/hr/export.csv" + (f"?period={period}" if period else ""))
        if response.status_code == 404:
            return
        assert response.status_code == 200
        rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))[1:]
        for scope, name, when, _construct, n, _pct in rows:
            n = int(n)
            if scope == "team":
                slug = self.team_names[name]
                people = self.who(lambda _s, m, _i, slug=slug, when=when: m[0] == slug
                                  and self.in_period(m[2], when))
            elif scope == "organisation":
                people = self.who(lambda _s, m, _i, when=when: self.in_period(m[2], when))
            else:
                first, last = when.split("..")
                span = [q for q in ("2025-Q1", "2025-Q2", "2025-Q3", "2025-Q4", "2026-Q1",
                                    "2026-Q2", "2026-Q3", "2026-Q4") if first <= q <= last]

                def in_span(closed, span=span) -> bool:
                    return any(self.in_period(closed, q) for q in span)

                if scope == "incident kind":
                    kind = name.lower()
                    people = self.who(lambda _s, m, _i, kind=kind, f=in_span:
                                      m[1] == kind and f(m[2]))
                else:
                    code = INVOLVEMENT_BY_LABEL[name]
                    people = self.who(lambda _s, m, i, code=code, f=in_span:
                                      i == code and f(m[2]))
            self.saw(f"{scope} {name} {when}", people, n)

    def pools(self, slug: str) -> None:
        listing = self.web.get(f"/teams/{slug}/pools")
        assert listing.status_code == 200
        for path in _POOL_LINK.findall(listing.get_data(as_text=True)):
            page = self.web.get(path)
            assert page.status_code == 200
            text = page.get_data(as_text=True)
            found = _POOL_N.search(text)
            if not found:
                continue
            titles = set(re.findall(r'href="/incidents/(\d+)"', text))
            members = {sid for sid in self.meta
                       if str(self.db.get(Survey, sid).incident_id) in titles}
            self.saw(f"pool {path}", self.who(lambda s, _m, _i, m=members: s in m),
                     int(found.group(1)))

    def attack(self) -> None:
        released = [people for people, _ in self.seen.values()]
        groups = derivable_small_groups(len(self.respondents), released, K)
        assert not groups, (f"{len(groups)} groups below {K} derivable from "
                            + "; ".join(self.seen))


@pytest.fixture
def demo(app, db, runner):
    result = runner.invoke(args=["demo", "--no-mail"])
    assert result.exit_code == 0, result.output
    releases.clear_cache()
    trends.clear_cache()
    return Attacker(app, db)


TEAMS = ("payments", "platform", "data", "identity", "engineering")

web_requests = st.lists(
    st.one_of(
        st.tuples(st.just("results"), st.integers(0, 20)),
        st.tuples(st.just("periods"), st.sampled_from(TEAMS),
                  st.sampled_from(("month", "quarter"))),
        st.tuples(st.just("overview"), st.sampled_from((None, "2026-Q2", "2026-Q3"))),
        st.tuples(st.just("pools"), st.sampled_from(TEAMS)),
    ),
    min_size=1, max_size=8,
)


def _ask(attacker: Attacker, request) -> None:
    kind, *args = request
    if kind == "results":
        attacker.survey_results(*args)
    elif kind == "periods":
        attacker.team_periods(*args)
    elif kind == "overview":
        attacker.overview(*args)
    else:
        attacker.pools(*args)


def test_everything_the_demo_publishes_keeps_every_small_group_hidden(demo):
    """Ask for everything, in a fixed order, then attack it all."""
    for index in range(len(demo.meta)):
        demo.survey_results(index)
    for slug in TEAMS:
        for grain in ("month", "quarter"):
            demo.team_periods(slug, grain)
        demo.pools(slug)
    for period in (None, "2026-Q2", "2026-Q3"):
        demo.overview(period)
    assert len(demo.seen) >= 5, "the demo should publish something"
    demo.attack()


def test_asking_again_shows_the_same_numbers(demo):
    demo.team_periods("payments", "month")
    first = dict(demo.seen)
    demo.team_periods("payments", "month")
    assert demo.seen == first
    sid = sorted(demo.meta)[0]
    one = demo.api.get(f"/api/v1/surveys/{sid}/results").json
    assert demo.api.get(f"/api/v1/surveys/{sid}/results").json == one


@settings(max_examples=6, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(requests=web_requests)
def test_any_order_of_requests_keeps_every_small_group_hidden(demo, requests):
    """The demo is loaded once; the attacker keeps everything it ever saw across examples,
    so later examples attack the sum of all earlier releases too."""
    for request in requests:
        _ask(demo, request)
    demo.attack()
