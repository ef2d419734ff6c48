"""``flask --app app demo``: a demo organisation that goes through the real code paths.

Incidents are created, opened, answered and closed by the same services production uses,
with the clock set to the past, so every sealed figure the demo shows was produced the way a
real one would be.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from analysis import items
from surveys import db as dbmod
from surveys.cli import demo_actions, demo_extras
from surveys.cli.sending import flush_outbox
from surveys.models import Invitation, Survey
from surveys.runtime import settings, token_box
from surveys.services import admin, auth, decisions, lifecycle, participant
from surveys.tokens import hash_token

DEMO_PASSWORD = "aftercare-demo"
# HR and admin accounts need a second factor. The demo's is published on purpose (README):
# add it to any authenticator app, or print the current code with pyotp.
DEMO_TOTP_SECRET = "AFTERCAREDEMOAFTERCAREDEMO234567"
TEAMS = (
    # slug, name, culture (0 = blame-heavy .. 1 = healthy), people
    ("engineering", "Engineering", None, 0),
    ("payments", "Payments", 0.35, 9),
    ("platform", "Platform", 0.8, 10),
    ("data", "Data", 0.55, 8),
    ("identity", "Identity", 0.65, 7),
)
FIRST = ("Ana", "Ben", "Chen", "Dara", "Eli", "Femi", "Gus", "Hana", "Ines", "Jon", "Kai",
         "Lena", "Mo", "Nia", "Oskar", "Priya", "Quinn", "Ravi", "Sara", "Tomas", "Uma",
         "Vik", "Wen", "Yara", "Zoe", "Ada", "Bo", "Cyd", "Dev", "Eva", "Finn", "Gia",
         "Hugo", "Ivo", "Jade", "Kim")
INCIDENTS = (
    # team, days ago, title, kind, severity, participants, respondents
    ("payments", 170, "Card authorisations timed out after a config push", "availability",
     "sev2", 8, 7),
    ("platform", 160, "Cluster autoscaler removed nodes under load", "availability", "sev2",
     9, 8),
    ("data", 150, "Nightly export wrote duplicate rows", "data", "sev3", 7, 6),
    ("identity", 140, "Login tokens accepted after expiry", "security", "sev1", 6, 6),
    ("payments", 120, "Refund queue stalled for four hours", "availability", "sev3", 8, 6),
    ("platform", 110, "Certificate expired on the internal registry", "availability",
     "sev3", 4, 3),
    ("data", 95, "Schema migration locked the orders table", "availability", "sev2", 7, 5),
    ("identity", 80, "Password reset emails delayed", "availability", "sev4", 3, 2),
    ("payments", 60, "Currency rounding error in invoices", "data", "sev2", 9, 8),
    ("platform", 45, "DNS change sent traffic to a drained region", "availability", "sev1",
     10, 9),
    ("data", 30, "Analytics bucket briefly public", "security", "sev1", 6, 4),
    ("payments", 14, "Webhook retries flooded a partner", "availability", "sev3", 7, 6),
)
CHECKIN_DAYS_AGO = (120, 45)  # two incidents where people asked for a confidential check-in
OPEN_INCIDENT = ("platform", "Deploy pipeline stuck on a lock file", "availability", "sev3", 8)
COMMENTS = (
    "Having someone from another team facilitate helped a lot.",
    "The timeline was great, the action items felt like homework for the on-call.",
    "I would have liked the manager to say what they would have done differently.",
    "People kept asking who approved the change. That question made everyone go quiet.",
    "Writing up what the dashboards did not show us was the most useful part.",
    "More time to prepare the timeline before the meeting.",
    "I was worried this would come up in my review.",
    "It felt like a real conversation about the system for once.",
)


def _answer(rng: random.Random, culture: float, involvement: str, practices) -> dict:
    """Answers drawn around a team's culture; people directly involved feel it more."""
    answers: dict[str, int] = {}
    strain = 0.15 if involvement == "direct" else 0.0
    for statement in items.STATEMENTS:
        if statement.id == "lead_shared" and rng.random() < 0.1:
            answers[statement.id] = 0
            continue
        favourable = min(max(rng.gauss(1 + 4 * (culture - strain), 1.0), 1), 5)
        value = round(6 - favourable if statement.reverse else favourable)
        answers[statement.id] = int(min(max(value, 1), 5))
    for practice in practices:
        contrary = rng.random() < (0.7 - 0.6 * culture)
        answers[practice] = items.YES if contrary else rng.choice((items.NO, items.NO,
                                                                    items.NOT_SURE))
    return answers


def _answer_survey(session, survey: Survey, count: int, culture: float,
                   rng: random.Random) -> None:
    box = token_box()
    ciphers = list(session.scalars(select(Invitation.token_cipher).where(
        Invitation.survey_id == survey.id, Invitation.token_cipher.is_not(None))))
    rng.shuffle(ciphers)
    for cipher in ciphers[:count]:
        involvement = rng.choice(("direct", "direct", "responder", "responder", "observer",
                                  "unsaid"))
        form = {k: str(v) for k, v in _answer(rng, culture, involvement,
                                               survey.practices).items()}
        form["involvement"] = involvement
        if rng.random() < 0.35:
            form["comment"] = rng.choice(COMMENTS)
        submission = participant.parse_submission(form, survey.practices)
        participant.submit(session, hash_token(box.open(cipher)), submission)


@click.command("demo")
@click.option("--reset", is_flag=True, help="Delete the existing database first.")
@click.option("--no-mail", is_flag=True, help="Do not flush the outbox at the end.")
@with_appcontext
def demo_command(reset: bool, no_mail: bool) -> None:
    """Load a demo organisation: teams, people, accounts, six months of incidents."""
    engine = dbmod.get_engine(current_app)
    if reset:
        dbmod.drop_everything(engine)
    dbmod.upgrade(engine)
    session = dbmod.get_session()
    if session.scalar(select(Survey.id).limit(1)) is not None:
        raise click.ClickException("The database already holds data; use --reset to start over.")
    rng = random.Random(20261127)
    real_now = datetime.now(UTC).replace(microsecond=0)
    admin.set_policies(session, {"neutral_author", "contributing_factors", "blameless",
                                 "no_performance_impact", "leaders_share"}, real_now)
    names = iter(FIRST)
    roster: dict[str, list[str]] = {}
    culture = {}
    for slug, name, team_culture, size in TEAMS:
        admin.add_team(session, slug, name, None if slug == "engineering" else "engineering")
        culture[slug] = team_culture
        roster[slug] = []
        for _ in range(size):
            first = next(names)
            email = f"{first.lower()}@example.org"
            admin.add_person(session, slug, f"{first} {slug.title()}", email)
            roster[slug].append(email)
    admin.add_user(session, "maria@example.org", "Maria (manager)", DEMO_PASSWORD, "manager",
                   ["payments", "platform"])
    accounts = {}
    for email, name, role in (("hana@example.org", "Hana (HR)", "hr"),
                              ("adam@example.org", "Adam (admin)", "admin")):
        user = accounts[role] = admin.add_user(session, email, name, DEMO_PASSWORD, role)
        auth.set_totp_secret(session, user.id, DEMO_TOTP_SECRET,
                             auth.SecretBox(current_app.config["SECRET_KEY"]))
    config = settings()
    for team, days_ago, title, kind, severity, invited, answered in INCIDENTS:
        closed_at = real_now - timedelta(days=days_ago)
        people = rng.sample(roster[team], min(invited, len(roster[team])))
        people += [e for other in roster if other != team for e in roster[other]][
            : invited - len(people)]
        data = lifecycle.NewIncident(team=team, title=title, kind=kind, severity=severity,
                                     closed_at=closed_at, participants=people,
                                     open_delay=timedelta(hours=24),
                                     duration=timedelta(days=7))
        survey = lifecycle.create_incident(session, data, config, token_box(), closed_at)
        lifecycle.open_survey(session, survey.id, token_box(), survey.opens_at)
        _answer_survey(session, survey, answered, culture[team], rng)
        if days_ago in CHECKIN_DAYS_AGO:
            demo_extras.add_checkins(session, current_app.config["SECRET_KEY"], config, survey,
                                     people[:2])
        lifecycle.close_survey(session, survey.id, survey.closes_at)
    team, title, kind, severity, invited = OPEN_INCIDENT
    closed_at = real_now - timedelta(days=1, hours=2)
    data = lifecycle.NewIncident(team=team, title=title, kind=kind, severity=severity,
                                 closed_at=closed_at, participants=roster[team][:invited],
                                 open_delay=timedelta(hours=24), duration=timedelta(days=7))
    survey = lifecycle.create_incident(session, data, config, token_box(), real_now)
    _answer_survey(session, survey, 2, culture[team], rng)
    demo_extras.add_learning_outcomes(session, accounts["hr"], rng)
    demo_actions.add_story(session, config, token_box(), real_now, rng)
    decisions.run(session, real_now, config.min_group, config.pool_period)
    click.echo(f"Demo organisation loaded: {len(TEAMS)} teams, {len(INCIDENTS) + 1} incidents.")
    click.echo(f"Sign in as maria@example.org (manager), hana@example.org (HR) or "
               f"adam@example.org (admin), password {DEMO_PASSWORD!r}.")
    click.echo(f"HR and admin also need a code from an authenticator app with the key "
               f"{DEMO_TOTP_SECRET}.")
    if not no_mail:
        click.echo("Invitations for the open survey, printed by the console mail backend:")
        flush_outbox(current_app)
