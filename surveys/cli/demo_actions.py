"""Demo additions for incident roles and exposure, the two-track review and actions from
flags (issue 18). Called with one line from ``surveys/cli/demo.py`` once its incidents are
closed; everything goes through the services production uses.

The story:

* **Roles.** Every demo incident gets roles: Platform rotates the incident commander, while
  Payments' commander is always the same person, and in each of the last two ended months
  the same two Payments engineers carried eight small pages between them. Payments' exposure
  is flagged ("the most involved fifth carried most involvements two months running").
* **Two-track review.** HR declares the two-track policy in force; in the last ended
  quarter an Identity security incident's review discussed consequences for someone (most
  say Yes), a Platform outage's did not. The HR overview compares the two kinds.
* **Actions.** Maria records actions for Payments: one from an earlier quarter's flag, done
  on time, whose construct's change the team page shows; one from the exposure flag, open;
  Platform gets one that is due, so the worker's tick queues its reminder.
"""

from __future__ import annotations

import dataclasses
import random
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from analysis import items, periods
from surveys.config import Settings
from surveys.models import (
    IncidentParticipant,
    Invitation,
    Person,
    Survey,
    Team,
    User,
)
from surveys.services import actions, admin, decisions, lifecycle, participant
from surveys.services.policies import policies_in_force
from surveys.tokens import TokenBox, hash_token

STORY_MANAGER = "maria@example.org"


class Story:
    """The story's incidents and roles, played in time with the demo's own incidents: the
    demo calls `catch_up` before each tick it runs, so every incident and role is in place
    before the period it belongs to is decided (exposure is recorded once, at period end),
    then `finish` for the actions."""

    def __init__(self, session: Session, settings: Settings, box: TokenBox, now: datetime,
                 rng: random.Random) -> None:
        self.session, self.box, self.now, self.rng = session, box, now, rng
        self.settings = dataclasses.replace(settings, survey_limit=None)  # the extra pages
        self.turn = 0
        self.roled: set[int] = set()
        # HR declared the two-track policy in force well before the story's quarter
        admin.set_policies(session, set(policies_in_force(session)) | {"separate_tracks"},
                           now - timedelta(days=200))
        self.pending = sorted(_payments_pages(session, now) + _two_track_incidents(session, now),
                              key=lambda planned: planned["closed_at"])

    def catch_up(self, until: datetime) -> None:
        """Every story incident closed before ``until``, and roles on every incident so far."""
        while self.pending and self.pending[0]["closed_at"] < until:
            incident_id = _incident(self.session, self.settings, self.box, rng=self.rng,
                                    **self.pending.pop(0))
            self.roled.add(incident_id)  # its roles are the story's own
        self.turn = _roles_on_demo_incidents(self.session, self.roled, self.turn)

    def finish(self) -> None:
        """The rest of the story, the decisions up to now, then the actions."""
        self.catch_up(self.now)
        decisions.run(self.session, self.now, self.settings.min_group,
                      self.settings.pool_period)
        _actions(self.session, self.now)


# --------------------------------------------------------------------------- roles


def _roles_on_demo_incidents(session: Session, roled: set[int], turn: int) -> int:
    """Roles for the demo's incidents not yet given any; returns the commander rotation's
    next turn."""
    rows = session.execute(
        select(IncidentParticipant.incident_id, Person.email, Team.slug)
        .join(Person, Person.id == IncidentParticipant.person_id)
        .join(Survey, Survey.incident_id == IncidentParticipant.incident_id)
        .join(Team, Team.id == Survey.team_id)
        .where(IncidentParticipant.incident_id.not_in(roled))
        .order_by(IncidentParticipant.incident_id, Person.id)).all()
    session.rollback()
    by_incident: dict[int, tuple[str, list[str]]] = {}
    for incident_id, email, slug in rows:
        by_incident.setdefault(incident_id, (slug, []))[1].append(email)
    for incident_id, (slug, emails) in sorted(by_incident.items()):
        roled.add(incident_id)
        team = [e for e in emails if e.endswith("@example.org")]
        if len(team) < 3:
            continue
        # Payments: always the same commander; elsewhere the role rotates.
        commander = team[0] if slug == "payments" else team[turn % len(team)]
        turn += 1
        others = [e for e in team if e != commander]
        roles = {commander: "commander", others[0]: "author"}
        roles.update({e: "responder" for e in others[1:3]})
        lifecycle.record_roles(session, incident_id, roles)
    return turn


def _answer(session: Session, box: TokenBox, survey: Survey, count: int, rng: random.Random,
            culture: float, contrary: float) -> None:
    ciphers = list(session.scalars(select(Invitation.token_cipher).where(
        Invitation.survey_id == survey.id, Invitation.token_cipher.is_not(None))))
    rng.shuffle(ciphers)
    for cipher in ciphers[:count]:
        form = {"involvement": rng.choice(("direct", "responder", "responder", "observer"))}
        for statement in items.STATEMENTS:
            favourable = min(max(round(rng.gauss(1 + 4 * culture, 1.0)), 1), 5)
            form[statement.id] = str(6 - favourable if statement.reverse else favourable)
        for practice in survey.practices:
            form[practice] = str(items.YES if rng.random() < contrary
                                 else rng.choice((items.NO, items.NO, items.NOT_SURE)))
        submission = participant.parse_submission(form, survey.practices)
        participant.submit(session, hash_token(box.open(cipher)), submission)


def _incident(session: Session, settings: Settings, box: TokenBox, team: str, title: str,
              kind: str, closed_at: datetime, people: list[str], roles: dict[str, str],
              answers: int, rng: random.Random, culture: float, contrary: float) -> int:
    data = lifecycle.NewIncident(team=team, title=title, kind=kind, severity="sev3",
                                 closed_at=closed_at, participants=people, roles=roles,
                                 open_delay=timedelta(hours=24), duration=timedelta(days=5))
    survey = lifecycle.create_incident(session, data, settings, box, closed_at)
    lifecycle.open_survey(session, survey.id, box, survey.opens_at)
    _answer(session, box, survey, answers, rng, culture, contrary)
    lifecycle.close_survey(session, survey.id, survey.closes_at)
    return survey.incident_id


def _roster(session: Session, slug: str) -> list[str]:
    emails = list(session.scalars(select(Person.email).join(Team).where(Team.slug == slug)
                                  .order_by(Person.id)))
    session.rollback()
    return emails


def _payments_pages(session: Session, now: datetime) -> list[dict]:
    """Eight small pages in each of the last two ended months, all carried by two people
    (enough that they carry most of the team's involvements beside its larger incidents)."""
    roster = _roster(session, "payments")
    pair = roster[:2]
    this_month = periods.period_start(periods.calendar_period(now, "month"))
    planned = []
    for back in (2, 1):
        start = this_month
        for _ in range(back):
            start = periods.period_start(periods.calendar_period(start - timedelta(days=1),
                                                                 "month"))
        for day in (2, 5, 8, 11, 14, 17, 20, 23):
            closed_at = start + timedelta(days=day, hours=3)
            planned.append(dict(
                team="payments", title=f"Paged: settlement batch late ({closed_at:%d %b})",
                kind="availability", closed_at=closed_at, people=pair,
                roles={pair[0]: "commander", pair[1]: "responder"}, answers=2,
                culture=0.75, contrary=0.1))
    return planned


def _two_track_incidents(session: Session, now: datetime) -> list[dict]:
    """One security and one availability incident in the last ended quarter, whose reviews
    differ on discussing consequences (the policy is in force since `Story` began)."""
    quarter = periods.calendar_period(now, "quarter")
    last = periods.calendar_period(periods.period_start(quarter) - timedelta(days=1),
                                   "quarter")
    start = periods.period_start(last)
    identity, platform = _roster(session, "identity"), _roster(session, "platform")
    return [
        dict(team="identity", title="Support tool exposed session tokens", kind="security",
             closed_at=start + timedelta(days=20), people=identity,
             roles={identity[1]: "commander", identity[2]: "author"}, answers=len(identity),
             culture=0.55, contrary=0.75),
        dict(team="platform", title="Load balancer drained the wrong pool",
             kind="availability", closed_at=start + timedelta(days=34), people=platform,
             roles={platform[3]: "commander", platform[4]: "author"},
             answers=len(platform) - 1, culture=0.3, contrary=0.1),  # Platform's mood
    ]


# --------------------------------------------------------------------------- actions


def _next_quarter(quarter: str) -> str:
    return periods.calendar_period(periods.period_end(quarter), "quarter")


def _actions(session: Session, now: datetime) -> None:
    maria = session.scalar(select(User).where(User.email == STORY_MANAGER))
    hr = session.scalar(select(User).where(User.role == "hr"))
    teams = {t.slug: t for t in session.scalars(select(Team))}
    session.rollback()
    if maria is None or hr is None:
        return
    payments = actions.team_flags(session, teams["payments"].id)
    quarter = periods.calendar_period(now, "quarter")
    # From the latest quarterly flag whose next quarter has ended, recorded early in that
    # next quarter and done on time: the team page shows how its construct moved from the
    # flag's quarter to the next.
    quarterly = [f for f in payments if f.record.startswith("team:") and "Q" in f.period
                 and _next_quarter(f.period) < quarter]
    old = max(quarterly, key=lambda f: f.period, default=None)
    if old is not None:
        at = periods.period_start(_next_quarter(old.period)) + timedelta(days=6, hours=10)
        done = actions.record_action(session, maria, actions.NewAction(
            team="payments", flag=old.key, owner="role:review facilitators",
            text="Have a facilitator from another team run every review this quarter, "
                 "steering talk from who did it to what made it possible.",
            due_on=(at + timedelta(days=30)).date(), construct=old.construct), at)
        actions.set_status(session, maria, done.id, "done", at + timedelta(days=24))
    exposure = next((f for f in payments if f.flag.kind == "exposure_concentration"), None)
    if exposure is not None:
        actions.record_action(session, maria, actions.NewAction(
            team="payments", flag=exposure.key, owner="role:incident commander rota",
            text="Rotate the incident commander role weekly through the whole team, and pair "
                 "each page's responder with someone who has not been paged yet.",
            due_on=(now + timedelta(days=21)).date(), construct="social"), now)
    platform = actions.team_flags(session, teams["platform"].id)
    if platform:
        at = now - timedelta(days=12)
        actions.record_action(session, hr, actions.NewAction(
            team="platform", flag=platform[0].key, owner="team:platform",
            text="Add the drained-pool check to the load balancer runbook and the deploy "
                 "pipeline, so the safe action is the default one.",
            due_on=(at + timedelta(days=10)).date(), construct=platform[0].construct), at)
    session.rollback()

