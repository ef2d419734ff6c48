"""Demo additions for incident roles and exposure, the two-track review and actions from
flags (issue 18). Called with one line from ``surveys/cli/demo.py`` once its incidents are
closed; everything goes through the services production uses.

The story:

* **Roles.** Every demo incident gets roles: Platform rotates the incident commander, while
  Payments' commander is always the same person, and in each of the last two ended months
  the same two Payments engineers carried four small pages between them. Payments' exposure
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


def add_story(session: Session, settings: Settings, box: TokenBox, now: datetime,
              rng: random.Random) -> None:
    """Roles, exposure, the two-track incidents, the period decisions and the actions."""
    settings = dataclasses.replace(settings, survey_limit=None)  # the story's extra pages
    _roles_on_demo_incidents(session)
    _payments_pages(session, settings, box, now, rng)
    _two_track_incidents(session, settings, box, now, rng)
    decisions.run(session, now, settings.min_group, settings.pool_period)
    _actions(session, now)


# --------------------------------------------------------------------------- roles


def _roles_on_demo_incidents(session: Session) -> None:
    rows = session.execute(
        select(IncidentParticipant.incident_id, Person.email, Team.slug)
        .join(Person, Person.id == IncidentParticipant.person_id)
        .join(Survey, Survey.incident_id == IncidentParticipant.incident_id)
        .join(Team, Team.id == Survey.team_id)
        .order_by(IncidentParticipant.incident_id, Person.id)).all()
    session.rollback()
    by_incident: dict[int, tuple[str, list[str]]] = {}
    for incident_id, email, slug in rows:
        by_incident.setdefault(incident_id, (slug, []))[1].append(email)
    for turn, (incident_id, (slug, emails)) in enumerate(sorted(by_incident.items())):
        team = [e for e in emails if e.endswith("@example.org")]
        if len(team) < 3:
            continue
        # Payments: always the same commander; elsewhere the role rotates.
        commander = team[0] if slug == "payments" else team[turn % len(team)]
        others = [e for e in team if e != commander]
        roles = {commander: "commander", others[0]: "author"}
        roles.update({e: "responder" for e in others[1:3]})
        lifecycle.record_roles(session, incident_id, roles)


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
              answers: int, rng: random.Random, culture: float, contrary: float) -> None:
    data = lifecycle.NewIncident(team=team, title=title, kind=kind, severity="sev3",
                                 closed_at=closed_at, participants=people, roles=roles,
                                 open_delay=timedelta(hours=24), duration=timedelta(days=5))
    survey = lifecycle.create_incident(session, data, settings, box, closed_at)
    lifecycle.open_survey(session, survey.id, box, survey.opens_at)
    _answer(session, box, survey, answers, rng, culture, contrary)
    lifecycle.close_survey(session, survey.id, survey.closes_at)


def _roster(session: Session, slug: str) -> list[str]:
    emails = list(session.scalars(select(Person.email).join(Team).where(Team.slug == slug)
                                  .order_by(Person.id)))
    session.rollback()
    return emails


def _payments_pages(session: Session, settings: Settings, box: TokenBox, now: datetime,
                    rng: random.Random) -> None:
    """Four small pages in each of the last two ended months, all carried by two people."""
    roster = _roster(session, "payments")
    pair = roster[:2]
    this_month = periods.period_start(periods.calendar_period(now, "month"))
    for back in (2, 1):
        start = this_month
        for _ in range(back):
            start = periods.period_start(periods.calendar_period(start - timedelta(days=1),
                                                                 "month"))
        for day in (2, 7, 12, 17):
            closed_at = start + timedelta(days=day, hours=3)
            _incident(session, settings, box, "payments",
                      f"Paged: settlement batch late ({closed_at:%d %b})", "availability",
                      closed_at, pair, {pair[0]: "commander", pair[1]: "responder"}, 2, rng,
                      0.35, 0.3)


def _two_track_incidents(session: Session, settings: Settings, box: TokenBox, now: datetime,
                         rng: random.Random) -> None:
    """The two-track policy in force, then one security and one availability incident in
    the last ended quarter, whose reviews differ on discussing consequences."""
    admin.set_policies(session, set(policies_in_force(session)) | {"separate_tracks"},
                       now - timedelta(days=200))
    quarter = periods.calendar_period(now, "quarter")
    last = periods.calendar_period(periods.period_start(quarter) - timedelta(days=1),
                                   "quarter")
    start = periods.period_start(last)
    identity, platform = _roster(session, "identity"), _roster(session, "platform")
    _incident(session, settings, box, "identity", "Support tool exposed session tokens",
              "security", start + timedelta(days=20), identity,
              {identity[1]: "commander", identity[2]: "author"}, len(identity), rng, 0.55,
              0.75)
    _incident(session, settings, box, "platform", "Load balancer drained the wrong pool",
              "availability", start + timedelta(days=34), platform,
              {platform[3]: "commander", platform[4]: "author"}, len(platform) - 1, rng,
              0.8, 0.1)


# --------------------------------------------------------------------------- actions


def _actions(session: Session, now: datetime) -> None:
    maria = session.scalar(select(User).where(User.email == STORY_MANAGER))
    hr = session.scalar(select(User).where(User.role == "hr"))
    teams = {t.slug: t for t in session.scalars(select(Team))}
    session.rollback()
    if maria is None or hr is None:
        return
    payments = actions.team_flags(session, teams["payments"].id)
    quarter = periods.calendar_period(now, "quarter")
    last = periods.calendar_period(periods.period_start(quarter) - timedelta(days=1),
                                   "quarter")
    earlier = periods.calendar_period(periods.period_start(last) - timedelta(days=1),
                                      "quarter")
    # From a flag of the quarter before last, recorded early in the last quarter and done
    # on time: the team page shows how its construct moved from that quarter to the last.
    old = next((f for f in payments if f.period == earlier and f.record.startswith("team:")),
               None)
    if old is not None:
        at = periods.period_start(last) + timedelta(days=6, hours=10)
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

