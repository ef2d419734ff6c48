"""The cross-surface adversary: build an organisation through the real services with the
worker's ticks across period ends, harvest every surface each role can reach over HTTP, and
try every linear combination of what was published.

* :func:`build_world` plays a generated plan in time order: each survey is scheduled, gets
  its own k (3 to 10) before its invitations go out, opens, is answered (any involvement,
  "Doesn't apply", "Not sure" and skipped questions included) and closes; before every event
  the tick decides what has ended. The world remembers who answered what, as the attacker
  is assumed to know it (the worst case: the attacker knows everyone's answers but for the
  few it tries to learn).
* :func:`harvest` fetches, in a given order, every page, export and API response a manager,
  an HR user and an API key can reach. Every figure a page shows carries its release subject
  (``data-figure``), its people (``data-n``) and the measures it publishes
  (``data-measures``); the API's JSON says the same in its own fields; the CSV and the PDF
  are checked against the pages.
* :func:`attack` maps each harvested figure to the set of respondents it sums over, worked
  out from what the attacker knows (the survey's team, kind and closing date, each
  respondent's involvement and answers), never from the release records; checks the shown
  count against it; and, per measure (respondents, each statement's, practice check's and
  construct's answerers), searches the exact span of the published sets for a group smaller
  than the largest k of the surveys its people answered.
"""

from __future__ import annotations

import csv
import io
import random
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from analysis import items, periods
from support import NOW, Manager, decide_periods, tokens_of
from support.adversary import derivable_small_groups
from surveys.models import Survey, Team
from surveys.services import admin, lifecycle, participant
from surveys.tokens import hash_token

INVOLVEMENT = items.INVOLVEMENT_IDS
KINDS = ("availability", "security", "data", "other")
STATEMENT_VALUES = (0, 1, 2, 3, 4, 5)  # "Doesn't apply", the scale
PRACTICE_VALUES = (items.YES, items.NO, items.NOT_SURE)
POLICIES = {"neutral_author", "contributing_factors", "blameless"}
FINAL = datetime(2027, 1, 4, 12, tzinfo=UTC)  # every period of 2026 has ended


@dataclass(frozen=True)
class PlannedSurvey:
    team: str
    month: int
    day: int
    kind: str
    k: int
    respondents: tuple[tuple[str, tuple[int | None, ...]], ...]  # involvement, answers


@dataclass
class World:
    """What the attacker knows."""

    respondents: list[tuple[int, str, dict[str, int | None]]] = field(default_factory=list)
    surveys: dict[int, tuple[int, str, datetime, int]] = field(default_factory=dict)
    team_ids: dict[str, int] = field(default_factory=dict)  # slug -> id
    team_names: dict[str, int] = field(default_factory=dict)  # name -> id

    def who(self, survey_ids: Iterable[int], code: str | None = None) -> frozenset[int]:
        wanted = set(survey_ids)
        return frozenset(i for i, (sid, inv, _a) in enumerate(self.respondents)
                         if sid in wanted and (code is None or inv == code))

    def closed_in(self, period: str) -> set[int]:
        grain = periods.grain_of(period)
        return {sid for sid, (_t, _k, closed, _m) in self.surveys.items()
                if periods.calendar_period(closed, grain) == period}

    def answered(self, person: int, measure: str) -> bool:
        answers = self.respondents[person][2]
        if measure == "_n":
            return True
        if measure in items.STATEMENT_BY_ID:
            return answers.get(measure) in (1, 2, 3, 4, 5)
        if measure in items.PRACTICE_BY_ID:
            return answers.get(measure) in (items.YES, items.NO)
        construct = measure.split(":", 1)[1]
        return any(answers.get(s.id) in (1, 2, 3, 4, 5) for s in items.statements_of(construct))

    def k_of(self, group: Iterable[int]) -> int:
        return max(self.surveys[self.respondents[p][0]][3] for p in group)


def build_world(session, settings, box, plan: Sequence[PlannedSurvey]) -> World:
    """Play the plan in time order through the services, with the tick before each event."""
    from support import build_org

    build_org(session, size=12)
    admin.add_team(session, "data", "Data", "platform")
    for i in range(12):
        admin.add_person(session, "data", f"Data{i}", f"data{i}@example.org")
    admin.set_policies(session, POLICIES, datetime(2026, 1, 1, tzinfo=UTC))
    teams = list(session.scalars(select(Team)))
    world = World(team_ids={t.slug: t.id for t in teams},
                  team_names={t.name: t.id for t in teams})
    events: list[tuple[datetime, int, str, int]] = []
    for n, planned in enumerate(plan):
        opens = datetime(2026, planned.month, planned.day, 9, tzinfo=UTC)
        events.append((opens, 0, "open", n))
        events.append((opens + timedelta(days=7), 1, "close", n))
    opened: dict[int, tuple[int, list[str]]] = {}
    for at, _order, what, n in sorted(events):
        decide_periods(session, settings, at)
        planned = plan[n]
        if what == "open":
            people = max(len(planned.respondents), 1)
            data = lifecycle.NewIncident(
                team=planned.team, title=f"Incident {n}", kind=planned.kind, severity="sev3",
                closed_at=at - timedelta(hours=3),
                participants=[f"{planned.team}{i}@example.org" for i in range(people)],
                open_delay=timedelta(hours=3))
            survey = lifecycle.create_incident(session, data, settings, box,
                                               at - timedelta(hours=2))
            lifecycle.set_min_group(session, survey.id, planned.k)
            lifecycle.open_survey(session, survey.id, box, at)
            tokens = tokens_of(session, box, survey.id)
            for token, (involvement, answers) in zip(tokens, planned.respondents,
                                                     strict=False):
                form = _form(involvement, answers, survey.practices)
                participant.submit(session, hash_token(token),
                                   participant.parse_submission(form, survey.practices))
            opened[n] = (survey.id, tokens)
        else:
            survey_id, tokens = opened[n]
            closed = lifecycle.close_survey(session, survey_id, at)
            answered = planned.respondents[:len(tokens)]
            world.surveys[closed.id] = (closed.team_id, planned.kind, closed.closed_at,
                                        closed.min_group)
            practices = set(closed.practices)
            for involvement, answers in answered:
                row = dict(zip(items.ANSWER_IDS, answers, strict=True))
                row = {k: (v if k in items.STATEMENT_BY_ID or k in practices else None)
                       for k, v in row.items()}
                world.respondents.append((closed.id, involvement, row))
    decide_periods(session, settings, FINAL)
    return world


def world_from_database(session) -> World:
    """The attacker's knowledge of an existing organisation (the demo): every sealed response
    with its answers, and every closed survey's team, kind, closing time and k."""
    from surveys.models import Incident, Response, SurveyStatus

    teams = list(session.scalars(select(Team)))
    world = World(team_ids={t.slug: t.id for t in teams},
                  team_names={t.name: t.id for t in teams})
    for sid, team, kind, closed, k in session.execute(
            select(Survey.id, Survey.team_id, Incident.kind, Survey.closed_at, Survey.min_group)
            .join(Incident, Incident.id == Survey.incident_id)
            .where(Survey.status == SurveyStatus.CLOSED)):
        world.surveys[sid] = (team, kind, closed, k)
    for row in session.scalars(select(Response).order_by(Response.survey_id, Response.id)):
        world.respondents.append((row.survey_id, row.involvement,
                                  {item: getattr(row, item) for item in items.ANSWER_IDS}))
    return world


def _form(involvement: str, answers: Sequence[int | None], asked: Sequence[str]
          ) -> dict[str, str]:
    form = {"involvement": involvement}
    for item, value in zip(items.ANSWER_IDS, answers, strict=True):
        if value is not None and (item in items.STATEMENT_BY_ID or item in asked):
            form[item] = str(value)
    return form


# --------------------------------------------------------------------------- harvesting


_FIGURE = re.compile(r'data-figure="([^"]+)" data-n="(\d+)" data-measures="([^"]*)"'
                     r'(?: data-members="([^"]*)")?')
_CSRF = re.compile(r'(name="csrf_token" value=")[^"]+(")')


@dataclass(frozen=True)
class Figure:
    subject: str
    n: int
    measures: frozenset[str]
    members: tuple[int, ...] = ()  # a pool's surveys, as its page lists them
    where: str = ""


@dataclass
class Harvest:
    bodies: dict[str, bytes] = field(default_factory=dict)
    figures: list[Figure] = field(default_factory=list)


def urls(session, world: World, *, manager_teams: Sequence[str], grains=("month", "quarter"),
         quarters: Sequence[str] = ()) -> dict[str, list[str]]:
    """Every address each role can reach (pool and quarter addresses included)."""
    slugs = sorted(world.team_ids)
    incidents = [s.incident_id for s in session.scalars(select(Survey))]
    own = [s.incident_id for s in session.scalars(select(Survey).where(
        Survey.team_id.in_([world.team_ids[t] for t in manager_teams])))]
    hr = ["/incidents", "/hr", *(f"/incidents/{i}" for i in incidents)]
    for slug in slugs:
        hr += [f"/teams/{slug}?grain={g}" for g in grains] + [f"/teams/{slug}/pools"]
    for q in quarters:
        hr += [f"/hr?period={q}", f"/hr/policies?period={q}", f"/hr/export.csv?period={q}",
               f"/hr/report.pdf?period={q}"]
    manager = ["/incidents", *(f"/incidents/{i}" for i in own)]
    for slug in manager_teams:
        manager += [f"/teams/{slug}?grain={g}" for g in grains] + [f"/teams/{slug}/pools"]
    api = [f"/api/v1/surveys/{s.id}/results" for s in session.scalars(select(Survey))]
    api += [f"/api/v1/teams/{slug}/periods?grain={g}" for slug in slugs for g in grains]
    return {"hr": hr, "manager": manager, "api": api}


def harvest(clients: Mapping[str, object], addresses: Mapping[str, list[str]], world: World,
            seed: int) -> Harvest:
    """Fetch every address of every role in a shuffled order (pool pages found on the
    way); return the bodies (CSRF tokens blanked) and every figure they publish."""
    rng = random.Random(seed)
    queue = [(role, url) for role, urls_ in addresses.items() for url in urls_]
    rng.shuffle(queue)
    out = Harvest()
    seen = set()
    while queue:
        role, url = queue.pop(0)
        if (role, url) in seen:
            continue
        seen.add((role, url))
        response = clients[role].get(url)  # type: ignore[attr-defined]
        assert response.status_code in (200, 404), (role, url, response.status_code)
        body = _CSRF.sub(r"\1-\2", response.get_data(as_text=True)) \
            if response.mimetype != "application/pdf" else response.data.decode("latin-1")
        out.bodies[f"{role} {url}"] = body.encode("latin-1", "replace") \
            if isinstance(body, str) else body
        if response.status_code != 200:
            continue
        if response.mimetype == "text/html":
            for subject, n, measures, members in _FIGURE.findall(body):
                out.figures.append(Figure(subject, int(n), frozenset(measures.split()),
                                          tuple(int(m) for m in members.split()),
                                          f"{role} {url}"))
            for pool in re.findall(r'href="(/teams/[a-z-]+/pools/[0-9A-Q-]+)"', body):
                position = rng.randrange(len(queue) + 1)
                queue.insert(position, (role, pool))
        elif response.mimetype == "application/json":
            out.figures.extend(_api_figures(url, response.json, world, f"{role} {url}"))
        elif response.mimetype == "text/csv":
            out.figures.extend(_csv_figures(response.get_data(as_text=True), world, url))
    return out


def _item_measures(items_json: Mapping[str, Mapping[str, object]]) -> set[str]:
    return {item for item, shown in items_json.items() if shown.get("shown")}


def _api_figures(url: str, body: Mapping, world: World, where: str) -> list[Figure]:
    if "/surveys/" in url:
        if not body.get("released"):
            return []
        survey_id = int(url.split("/")[4])
        measures = _item_measures(body["items"]) | {"_n"}
        measures |= {p for p, row in body["practices"].items() if row["shown"]
                     for p in [items.POLICY_BY_ID[p].check]}
        measures |= {f"construct:{c}" for c, row in body["constructs"].items()
                     if row.get("mean") is not None}
        return [Figure(f"survey:{survey_id}", body["n"], frozenset(measures), where=where)]
    team_id = world.team_ids[body["team"]]
    found = []
    for period in body["periods"]:
        if period["released"]:
            shown = set()
            for construct in period["constructs"].values():
                shown |= _item_measures(construct["items"])
            found.append(Figure(f"team:{team_id}:{period['period']}", period["respondents"],
                                frozenset(shown | {"_n"}), where=where))
    return found


_SCOPES = {"team": "team", "organisation": "org", "incident kind": "kind",
           "involvement": "involvement"}


def _csv_figures(text: str, world: World, where: str) -> list[Figure]:
    """CSV rows as figures (their measures are what the pages show: only ``_n`` here, the
    pages' own figures carry the rest)."""
    labels = {**{code: code for code in INVOLVEMENT},
              **{label: code for code, label in items.INVOLVEMENT}}
    found = []
    for row in list(csv.reader(io.StringIO(text)))[1:]:
        scope, name, period, _construct, n, _pct = row
        if scope == "team":
            subject = f"team:{world.team_names[name]}:{period}"
        elif scope == "organisation":
            subject = f"org:{period}"
        elif scope == "incident kind":
            subject = f"kind:{name.lower()}:{period}"
        else:
            subject = f"involvement:{labels[name]}:{period}"
        found.append(Figure(subject, int(n), frozenset({"_n"}), where=where))
    return found


# --------------------------------------------------------------------------- the attack


def people_of(figure: Figure, world: World) -> frozenset[int]:
    """The respondents a published figure sums over, from what the attacker knows."""
    kind, rest = figure.subject.split(":", 1)
    if kind == "survey":
        return world.who([int(rest)])
    if kind == "org":
        return world.who(world.closed_in(rest))
    key, period = rest.rsplit(":", 1)
    closed = world.closed_in(period)
    if kind == "pool":
        return world.who(set(figure.members) & closed)
    if kind == "team":
        return world.who(s for s in closed if world.surveys[s][0] == int(key))
    if kind == "kind":
        return world.who(s for s in closed if world.surveys[s][1] == key)
    if kind == "involvement":
        return world.who(closed, code=key)
    raise AssertionError(f"unknown figure {figure.subject}")


def attack(world: World, figures: Sequence[Figure]) -> list[str]:
    """Problems found: a count that does not match its people, a figure under its k, or a
    group smaller than its k derivable from the published sums, per measure."""
    problems = []
    published: dict[str, dict[str, frozenset[int]]] = {}
    for figure in figures:
        people = people_of(figure, world)
        if len(people) != figure.n:
            problems.append(f"{figure.where}: {figure.subject} shows {figure.n}, "
                            f"the attacker counts {len(people)}")
        for measure in figure.measures | {"_n"}:
            group = frozenset(p for p in people if world.answered(p, measure))
            if group:
                published.setdefault(measure, {})[figure.subject] = group
    if not world.respondents:
        return problems
    most = max(k for *_x, k in world.surveys.values())
    for measure, sets in sorted(published.items()):
        for group in derivable_small_groups(len(world.respondents), list(sets.values()),
                                            most):
            if len(group) < world.k_of(group):
                problems.append(
                    f"{measure}: {len(group)} people (k {world.k_of(group)}) derivable from "
                    + "; ".join(sorted(sets)))
    return problems


def distinct(figures: Iterable[Figure]) -> list[Figure]:
    """One figure per subject and measures (the same figure harvested on several pages)."""
    seen: dict[tuple[str, frozenset[str]], Figure] = {}
    for figure in figures:
        seen.setdefault((figure.subject, figure.measures), figure)
    return list(seen.values())


def login_all(app, client_factory, at: datetime = FINAL, *, hr: str = "hr@example.org",
              manager: str = "manager@example.org", password: str | None = None
              ) -> dict[str, object]:
    """A signed-in client per role (the app's clock at ``at``) and an API client."""
    from support import PASSWORD
    from support.api import Api, make_key

    app.config["AFTERCARE_NOW"] = at
    clients = {"hr": client_factory(), "manager": client_factory()}
    for role, email in (("hr", hr), ("manager", manager)):
        signed_in = Manager(clients[role]).login(email, password or PASSWORD, at=at)
        assert signed_in.status_code == 302, (email, signed_in.status_code)
    api = Api(client_factory(), make_key(app, ["results:read"]))
    return {**clients, "api": api}


__all__ = ["FINAL", "NOW", "PlannedSurvey", "World", "attack", "build_world", "distinct",
           "harvest", "login_all", "people_of", "urls", "world_from_database"]
