"""``flask --app app demo``: a demo organisation that goes through the real code paths, and
``flask --app app demo-links``: the short block ``make run`` prints (address, accounts and
three unanswered survey links).

Incidents are created, opened, answered and closed by the same services production uses,
with the clock set to the past; the release decisions are recorded as the worker records
them (``decisions.run`` at each incident's time, as periods end, and once more now), so every
figure the demo shows was produced the way a real one would be.

Six teams over eighteen months, with stories a reader can see (``STORIES``): Payments
improving after its leaders began sharing their own mistakes in reviews; Platform, where the
social cost of being involved is rising; Data, where "a neutral person writes the review"
is the policy but the people most involved still write it. Plus pooled small incidents,
comments, learning outcomes, check-in requests, a bounced invitation, audit entries and one
open survey.
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from analysis import items
from surveys import db as dbmod
from surveys.cli import demo_actions, demo_extras
from surveys.models import Ballot, Invitation, Person, Survey
from surveys.runtime import settings, token_box
from surveys.services import admin, auth, decisions, lifecycle, participant
from surveys.tokens import hash_token

DEMO_PASSWORD = "aftercare-demo"
# HR and admin accounts need a second factor. The demo's is published on purpose (README):
# add it to any authenticator app, or print the current code with pyotp.
DEMO_TOTP_SECRET = "AFTERCAREDEMOAFTERCAREDEMO234567"
LINKS_FILE = "demo-links.json"  # under instance/: the open survey's unanswered links
ACCOUNTS = (("maria@example.org", "manager", "Payments and Platform"),
            ("hana@example.org", "HR", "every team"),
            ("adam@example.org", "admin", "every team, accounts and keys"))
MONTHS = 18
TEAMS = (
    # slug, name, people
    ("payments", "Payments", 16),
    ("platform", "Platform", 20),
    ("data", "Data", 14),
    ("identity", "Identity", 12),
    ("mobile", "Mobile", 18),
    ("support-tools", "Support tools", 24),
)
FIRST = ("Ana", "Ben", "Chen", "Dara", "Eli", "Femi", "Gus", "Hana", "Ines", "Jon", "Kai",
         "Lena", "Mo", "Nia", "Oskar", "Priya", "Quinn", "Ravi", "Sara", "Tomas", "Uma",
         "Vik", "Wen", "Yara", "Zoe", "Ada", "Bo", "Cyd", "Dev", "Eva", "Finn", "Gia",
         "Hugo", "Ivo", "Jade", "Kim")
TITLES = {
    "availability": (
        "Card authorisations timed out after a config push",
        "Cluster autoscaler removed nodes under load",
        "Refund queue stalled for four hours",
        "DNS change sent traffic to a drained region",
        "Schema migration locked the orders table",
        "Webhook retries flooded a partner",
        "Certificate expired on the internal registry",
        "Push notifications delayed by a full queue",
        "Search index rebuild starved the API of memory",
        "Deploy rolled out to every region at once",
    ),
    "data": (
        "Nightly export wrote duplicate rows",
        "Currency rounding error in invoices",
        "Backfill overwrote a week of events",
        "Report totals double-counted refunds",
    ),
    "security": (
        "Login tokens accepted after expiry",
        "Analytics bucket briefly public",
        "Support tool showed another customer's address",
        "Debug endpoint left open in staging",
    ),
}
KIND_CYCLE = ("availability", "data", "availability", "security", "availability", "data",
              "availability", "security")
SEVERITY_CYCLE = ("sev2", "sev3", "sev1", "sev3", "sev2", "sev4")
GAP_PRACTICE = "practice_author"  # "A neutral person writes the review" (neutral_author)
COMMENTS = {
    "payments": (
        ("I would have liked the manager to say what they would have done differently.",
         "People kept asking who approved the change. That question made everyone go quiet.",
         "I was worried this would come up in my review."),
        ("When our lead walked through her own wrong call first, everyone relaxed.",
         "It felt like a real conversation about the system for once.",
         "Hearing the director say she missed the same alert made it easier to speak.",
         "Writing up what the dashboards did not show us was the most useful part."),
    ),
    "platform": (
        ("Having someone from another team facilitate helped a lot.",
         "The timeline was great; more time to prepare it would help."),
        ("Since the outage, people joke about who is on call when things break.",
         "I noticed I was left off the follow-up thread after the review.",
         "I would not say I was involved next time; it follows you around.",
         "The review was fine, the chat afterwards was not."),
    ),
    "data": (
        ("The person who ran the migration wrote the review; it read like a defence.",
         "Again the on-call wrote the review. Someone outside would see more.",
         "The action items felt like homework for the on-call."),
    ),
    "other": (
        ("More time to prepare the timeline before the meeting.",
         "Good review; the follow-ups were real system changes.",
         "Short and useful. Thanks for keeping it about the system.",
         "I would have liked the support contact mentioned at the start."),
    ),
}


@dataclass(frozen=True)
class Levels:
    """How favourable a team's answers are on each construct (0 = bad, 1 = healthy), and
    how often the review departs from the ``neutral_author`` policy."""

    blame: float
    social: float
    sharing: float
    leadership: float
    gap: float = 0.15

    def of(self, construct: str) -> float:
        return float(getattr(self, construct))


def _ramp(t: float, start: float, end: float, low: float, high: float) -> float:
    """``low`` before ``start``, ``high`` after ``end``, a straight line between."""
    if t <= start:
        return low
    if t >= end:
        return high
    return low + (high - low) * (t - start) / (end - start)


def story(team: str, t: float) -> Levels:
    """A team's culture at time ``t`` (0 = eighteen months ago, 1 = now)."""
    if team == "payments":  # leaders began sharing their own mistakes about a year ago
        return Levels(blame=_ramp(t, 0.35, 0.8, 0.5, 0.8),
                      social=_ramp(t, 0.4, 0.9, 0.55, 0.75),
                      sharing=_ramp(t, 0.35, 0.75, 0.45, 0.85),
                      leadership=_ramp(t, 0.3, 0.5, 0.35, 0.9))
    if team == "platform":  # being involved costs more and more with colleagues
        return Levels(blame=0.72, social=_ramp(t, 0.1, 1.0, 0.9, 0.15), sharing=0.7,
                      leadership=0.65)
    if team == "data":  # the people most involved still write the review
        return Levels(blame=0.68, social=0.7, sharing=0.65, leadership=0.6, gap=0.8)
    steady = {"identity": 0.78, "mobile": 0.66, "support-tools": 0.72}[team]
    return Levels(steady, steady + 0.05, steady, steady - 0.1)


def _answer(rng: random.Random, levels: Levels, involvement: str, practices) -> dict:
    """Answers drawn around a team's levels; people directly involved feel the social cost
    more."""
    answers: dict[str, int] = {}
    for statement in items.STATEMENTS:
        if statement.id == "lead_shared" and rng.random() < 0.08:
            answers[statement.id] = items.DOES_NOT_APPLY
            continue
        level = levels.of(statement.construct)
        if involvement == "direct" and statement.construct == "social":
            level -= 0.15
        favourable = min(max(rng.gauss(1 + 4 * level, 0.75), 1), 5)
        value = round(6 - favourable if statement.reverse else favourable)
        answers[statement.id] = int(min(max(value, 1), 5))
    for practice in practices:
        odds = levels.gap if practice == GAP_PRACTICE else 0.6 - 0.5 * levels.blame
        contrary = rng.random() < odds
        answers[practice] = items.YES if contrary else rng.choice((items.NO, items.NO,
                                                                    items.NOT_SURE))
    return answers


def _comment(rng: random.Random, team: str, t: float) -> str:
    stages = COMMENTS.get(team, COMMENTS["other"])
    stage = stages[min(int(t * len(stages) * 0.999 + (0.3 if len(stages) > 1 else 0)),
                       len(stages) - 1)]
    return rng.choice(stage)


def _answer_survey(session, survey: Survey, count: int, team: str, t: float,
                   rng: random.Random) -> list[str]:
    """``count`` invited people answer; returns the tokens left unanswered."""
    box = token_box()
    ciphers = list(session.scalars(select(Invitation.token_cipher).where(
        Invitation.survey_id == survey.id, Invitation.token_cipher.is_not(None))
        .order_by(Invitation.id)))
    rng.shuffle(ciphers)
    tokens = [box.open(cipher) for cipher in ciphers]
    levels = story(team, t)
    for token in tokens[:count]:
        involvement = rng.choice(("direct", "direct", "responder", "responder", "observer",
                                  "observer", "unsaid", "unsaid"))
        form = {k: str(v) for k, v in _answer(rng, levels, involvement,
                                               survey.practices).items()}
        form["involvement"] = involvement
        if rng.random() < 0.85:
            form["comment"] = _comment(rng, team, t)
        submission = participant.parse_submission(form, survey.practices)
        participant.submit(session, hash_token(token), submission)
    return tokens[count:]


@dataclass(frozen=True)
class Planned:
    team: str
    days_ago: int
    title: str
    kind: str
    severity: str
    invited: int
    answered: int


def _quarter_start(when: datetime) -> datetime:
    return datetime(when.year, 3 * ((when.month - 1) // 3) + 1, 1, 9, 0, tzinfo=UTC)


def _months_back(start: datetime, months: int) -> datetime:
    index = start.year * 12 + start.month - 1 - months
    return start.replace(year=index // 12, month=index % 12 + 1)


def plan(rng: random.Random, now: datetime, months: int = MONTHS) -> list[Planned]:
    """One incident per team in each of the last six quarters and in this one (each
    quarter's incidents close early enough that their surveys close in it), a second one in
    some quarters, and two small incidents that can only be shown pooled: so that every
    team's quarter has enough people behind it, and no figure has to be held back to
    protect a small one."""
    out = []
    used: dict[str, int] = {}
    current = _quarter_start(now)
    starts = [_months_back(current, 3 * back) for back in range(months // 3, -1, -1)]
    pooled_quarter = max(0, len(starts) - 4)
    for q, start in enumerate(starts):
        for index, (slug, _name, size) in enumerate(TEAMS):
            extra = (slug == "payments" and q % 2 == 1) or (slug == "platform" and q >= 4)
            for second in ((0, 1) if extra else (0,)):
                day = start + timedelta(days=8 + 7 * index + 30 * second)
                if day > now - timedelta(days=10):
                    continue
                kind = KIND_CYCLE[(q + index + second) % len(KIND_CYCLE)]
                titles = TITLES[kind]
                title = titles[used.get(kind, 0) % len(titles)]
                used[kind] = used.get(kind, 0) + 1
                invited = min(size - 2, rng.randint(10, 13))
                out.append(Planned(slug, (now - day).days, title, kind,
                                   SEVERITY_CYCLE[(q + index) % len(SEVERITY_CYCLE)],
                                   invited, invited - rng.randint(1, 2)))
        if q == pooled_quarter:  # two small incidents of Identity, pooled for the quarter
            for n, title in enumerate(("Password reset emails delayed",
                                       "Admin console slow for an hour")):
                day = start + timedelta(days=40 + 9 * n)
                out.append(Planned("identity", (now - day).days, title, "availability",
                                   "sev4", 3, 3))
    return sorted(out, key=lambda p: -p.days_ago)


OPEN_INCIDENT = Planned("payments", 1, "Payouts paused by a stuck feature flag",
                        "availability", "sev2", 9, 3)
CHECKIN_TEAMS = ("platform",)  # people asked for a confidential check-in after these


@click.command("demo")
@click.option("--reset", is_flag=True, help="Delete the existing database first.")
@click.option("--no-mail", is_flag=True, help="Do not send the open survey's invitations.")
@click.option("--months", type=click.IntRange(3, 36), default=MONTHS, show_default=True,
              help="How many months of history (whole quarters).")
@with_appcontext
def demo_command(reset: bool, no_mail: bool, months: int) -> None:
    """Load a demo organisation: six teams, eighteen months of incidents, one open survey."""
    engine = dbmod.get_engine(current_app)
    if reset:
        dbmod.drop_everything(engine)
    dbmod.upgrade(engine)
    session = dbmod.get_session()
    if session.scalar(select(Survey.id).limit(1)) is not None:
        raise click.ClickException("The database already holds data; use --reset to start over.")
    rng = random.Random(20261127)
    real_now = datetime.now(UTC).replace(microsecond=0)
    start = real_now - timedelta(days=months * 31 + 40)
    admin.set_policies(session, {"neutral_author", "contributing_factors", "blameless",
                                 "no_performance_impact", "leaders_share"}, start)
    names = iter(f"{first}{'' if round_ == 0 else round_ + 1}"
                 for round_ in range(4) for first in FIRST)
    roster: dict[str, list[str]] = {}
    admin.add_team(session, "engineering", "Engineering")
    for slug, name, size in TEAMS:
        admin.add_team(session, slug, name, "engineering")
        roster[slug] = []
        for _ in range(size):
            first = next(names)
            email = f"{first.lower()}.{slug}@example.org"
            admin.add_person(session, slug, f"{first} ({name})", email)
            roster[slug].append(email)
    accounts = {"manager": admin.add_user(session, "maria@example.org", "Maria (manager)",
                                          DEMO_PASSWORD, "manager", ["payments", "platform"])}
    for email, name, role in (("hana@example.org", "Hana (HR)", "hr"),
                              ("adam@example.org", "Adam (admin)", "admin")):
        user = accounts[role] = admin.add_user(session, email, name, DEMO_PASSWORD, role)
        auth.set_totp_secret(session, user.id, DEMO_TOTP_SECRET,
                             auth.SecretBox(current_app.config["SECRET_KEY"]))
    config = settings()
    horizon = max(p.days_ago for p in plan(random.Random(0), real_now, months)) + 1
    planned = plan(rng, real_now, months)
    story = demo_actions.Story(session, config, token_box(), real_now, rng)
    for number, incident in enumerate(planned):
        closed_at = real_now - timedelta(days=incident.days_ago)
        story.catch_up(closed_at)  # roles, exposure and two-track incidents, in time
        # what the worker's tick would have decided by now: every period that has ended
        decisions.run(session, closed_at, config.min_group, config.pool_period)
        survey = _create(session, incident, roster, closed_at, rng)
        lifecycle.open_survey(session, survey.id, token_box(), survey.opens_at)
        t = 1 - incident.days_ago / horizon
        left = _answer_survey(session, survey, incident.answered, incident.team, t, rng)
        if incident.team in CHECKIN_TEAMS and number % 4 == 1 and left:
            demo_extras.add_checkins(session, current_app.config["SECRET_KEY"], config,
                                     survey, ["+44 20 7946 0000"])
        lifecycle.close_survey(session, survey.id, survey.closes_at)
    demo_extras.add_learning_outcomes(session, accounts["hr"], rng)
    story.finish()
    # the open survey, as a manager adds it today: invitations go out, three people answer
    open_at = real_now - timedelta(days=OPEN_INCIDENT.days_ago, hours=2)
    survey = _create(session, OPEN_INCIDENT, roster, open_at, rng, now=real_now)  # opens now
    left = _answer_survey(session, survey, OPEN_INCIDENT.answered, OPEN_INCIDENT.team,
                          1.0, rng)
    if not no_mail:
        invited = session.scalars(select(Person.email).join(
            Invitation, Invitation.person_id == Person.id).where(
            Invitation.survey_id == survey.id).order_by(Person.email)).all()
        bounced = demo_extras.send_invitations(current_app, session, real_now,
                                               bounce=invited[-1])
        click.echo(f"Invitations for the open survey sent; one bounced ({bounced}).")
    demo_extras.add_audit_trail(session, accounts, real_now)
    _store_links(survey, left[:3])
    click.echo(f"Demo organisation loaded: {len(TEAMS)} teams, {len(planned) + 1} incidents "
               f"over {months} months.")
    print_block()


def _create(session, incident: Planned, roster: dict[str, list[str]], closed_at: datetime,
            rng: random.Random, now: datetime | None = None) -> Survey:
    people = rng.sample(roster[incident.team], min(incident.invited,
                                                   len(roster[incident.team])))
    data = lifecycle.NewIncident(team=incident.team, title=incident.title, kind=incident.kind,
                                 severity=incident.severity, closed_at=closed_at,
                                 participants=people, open_delay=timedelta(hours=24),
                                 duration=timedelta(days=7))
    return lifecycle.create_incident(session, data, settings(), token_box(), now or closed_at)


def _links_path() -> Path:
    """Beside the SQLite database file (so each database has its own), else in instance/."""
    url = dbmod.get_engine(current_app).url
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database).with_name(Path(url.database).name + "." + LINKS_FILE)
    return Path(current_app.instance_path) / LINKS_FILE


def _store_links(survey: Survey, tokens: list[str]) -> None:
    """Keep the open survey's unanswered links for ``demo-links`` (instance/, owner only):
    the demo answered the others itself, so these are known to be unanswered."""
    path = _links_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump({"survey_id": survey.id, "tokens": tokens}, handle)


def unanswered_links() -> tuple[list[str], Survey | None]:
    """The stored links whose survey is still open and which nobody has used yet."""
    path = _links_path()
    if not path.exists():
        return [], None
    stored = json.loads(path.read_text())
    session = dbmod.get_session()
    survey = session.get(Survey, stored.get("survey_id"))
    if survey is None or not survey.is_open:
        return [], survey
    tokens = [t for t in stored.get("tokens", []) if isinstance(t, str)]
    spent = set(session.scalars(select(Ballot.token_hash).where(
        Ballot.survey_id == survey.id, Ballot.spent.is_(True),
        Ballot.token_hash.in_([hash_token(t) for t in tokens]))))
    base = settings().base_url
    return [f"{base}/s/{t}" for t in tokens if hash_token(t) not in spent], survey


def print_block() -> None:
    """The short block: where to go, who to sign in as, three links to answer."""
    links, survey = unanswered_links()
    width = 72
    click.echo("=" * width)
    click.echo(f"Aftercare is at {settings().base_url}")
    click.echo(f"Demo accounts (password {DEMO_PASSWORD!r}):")
    for email, role, sees in ACCOUNTS:
        click.echo(f"  {email:20} {role:8} {sees}")
    click.echo(f"  HR and admin also need a code: add the key {DEMO_TOTP_SECRET} to an")
    click.echo("  authenticator app (or: python -c \"import pyotp; print(pyotp.TOTP("
               f"'{DEMO_TOTP_SECRET}').now())\").")
    if links:
        click.echo(f"Unanswered links to the open survey (closes "
                   f"{survey.closes_at:%d %b %Y %H:%M} UTC), one person each:")
        for link in links[:3]:
            click.echo(f"  {link}")
    elif survey is not None:
        click.echo("The demo's open survey is closed or its links were used; "
                   "`make demo` builds a fresh demo.")
    click.echo("=" * width)


@click.command("demo-links")
@with_appcontext
def demo_links_command() -> None:
    """Print the demo's address, accounts and unanswered survey links again."""
    if not _links_path().exists():
        return
    print_block()
