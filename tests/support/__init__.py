"""Helpers that act like the people who use Aftercare; imported by tests as ``support``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pyotp
from sqlalchemy import select

from surveys.models import Invitation, Survey
from surveys.services import admin, auth, decisions, lifecycle, participant
from surveys.tokens import hash_token

SECRET = "test-secret-key-" + "x" * 32
PASSWORD = "correct horse battery"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
# HR and admin accounts need two-factor sign-in; build_org enrols them with this secret.
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


# The first moment at which every period up to 2026 Q4 has ended.
AFTER_Q4 = datetime(2027, 1, 1, 0, 5, tzinfo=UTC)


def decide_periods(session, settings, at: datetime = AFTER_Q4) -> decisions.RunReport:
    """Run the decisions the worker's tick makes at ``at`` (every period ended by then)."""
    return decisions.run(session, at, settings.min_group, settings.pool_period)


def totp_code(at: datetime = NOW) -> str:
    return pyotp.TOTP(TOTP_SECRET).at(at)


def enrol_totp(session, user_id: int) -> list[str]:
    """Turn two-factor on, as of one minute before NOW (so codes of NOW's step and the
    steps either side of it are each still unused); returns the recovery codes."""
    earlier = NOW - timedelta(seconds=60)
    return auth.enable_totp(session, user_id, TOTP_SECRET, totp_code(earlier),
                            auth.SecretBox(SECRET), earlier)


@dataclass
class Org:
    """A small organisation: two teams, their people, and one account of each role."""

    teams: tuple[str, str] = ("payments", "platform")

    def emails(self, team: str, n: int) -> list[str]:
        return [f"{team}{i}@example.org" for i in range(n)]


def build_org(session, size: int = 12) -> Org:
    org = Org()
    for slug in org.teams:
        admin.add_team(session, slug, slug.title())
        for email in org.emails(slug, size):
            admin.add_person(session, slug, email.split("@")[0].title(), email)
    admin.add_user(session, "manager@example.org", "Manager", PASSWORD, "manager", ["payments"])
    hr = admin.add_user(session, "hr@example.org", "HR", PASSWORD, "hr")
    boss = admin.add_user(session, "admin@example.org", "Admin", PASSWORD, "admin")
    enrol_totp(session, hr.id)
    enrol_totp(session, boss.id)
    return org


def open_survey(session, settings, box, team="payments", people=8, title="Queue stalled",
                now=NOW, kind="availability") -> tuple[Survey, list[str]]:
    """Create an incident whose survey opens at once; return it and its plain tokens."""
    data = lifecycle.NewIncident(
        team=team, title=title, kind=kind, severity="sev2",
        closed_at=now - timedelta(hours=1),
        participants=[f"{team}{i}@example.org" for i in range(people)],
    )
    survey = lifecycle.create_incident(session, data, settings, box, now)
    return survey, tokens_of(session, box, survey.id)


def tokens_of(session, box, survey_id: int) -> list[str]:
    ciphers = session.scalars(select(Invitation.token_cipher).where(
        Invitation.survey_id == survey_id).order_by(Invitation.id))
    return [box.open(c) for c in ciphers if c is not None]


ANSWERS = {
    "blame_system": "4", "blame_person": "2", "blame_career": "1", "social_treated": "2",
    "social_hesitate": "3", "social_support": "5", "sharing_own": "4", "sharing_free": "4",
    "lead_shared": "0", "involvement": "observer",
}

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def answer(session, token: str, form: dict[str, str] | None = None, **changes: str) -> int:
    """One participant answers through the service, as the form would post it: ``form``
    (default ``ANSWERS``) with ``changes``; returns the survey's id."""
    posted = {k: v for k, v in {**(form or ANSWERS), **changes}.items()
              if v is not None and k != "csrf_token"}
    return participant.answer(session, hash_token(token), posted)


def answer_and_close(session, settings, box, forms, *, close_at: datetime | None = None,
                     people: int | None = None, **opening) -> Survey:
    """Open a survey (``open_survey`` with ``opening``), let one participant answer each of
    ``forms`` (fewer when fewer were invited), and close it at ``close_at`` (default: when
    it is due)."""
    survey, tokens = open_survey(session, settings, box,
                                 people=people if people is not None else len(forms) + 1,
                                 **opening)
    for token, form in zip(tokens, forms, strict=False):
        answer(session, token, form)
    return lifecycle.close_survey(session, survey.id, close_at or survey.closes_at)


def csrf_from(html: str) -> str:
    match = _CSRF.search(html)
    if not match:
        raise AssertionError("page has no CSRF token")
    return match.group(1)


class Participant:
    """Answers a survey through the pages, as a person with a link would."""

    def __init__(self, client) -> None:
        self.client = client

    def open(self, token: str):
        return self.client.get(f"/s/{token}")

    def answer(self, token: str, **overrides: str):
        arrived = self.open(token)
        if arrived.status_code != 303:
            return arrived
        page = self.client.get("/s")
        if page.status_code != 200:
            return page
        form = dict(ANSWERS, csrf_token=csrf_from(page.text))
        form.update(overrides)
        return self.client.post("/s", data={k: v for k, v in form.items() if v is not None})


class Manager:
    """Signs in through the login page with CSRF on."""

    def __init__(self, client) -> None:
        self.client = client

    def login(self, email: str, password: str = PASSWORD, at: datetime = NOW):
        """Sign in; for an account with two-factor on, also enter a fresh TOTP code of the
        app's clock ``at`` (each time step is accepted once, so up to three sign-ins per
        account per test)."""
        page = self.client.get("/login")
        response = self.client.post("/login", data={
            "email": email, "password": password, "csrf_token": csrf_from(page.text)})
        if response.status_code != 302 or not response.headers["Location"].endswith(
                "/login/code"):
            return response
        form = self.client.get("/login/code")
        for offset in (-30, 0, 30):
            response = self.client.post("/login/code", data={
                "code": totp_code(at + timedelta(seconds=offset)),
                "csrf_token": csrf_from(form.text)})
            if response.status_code != 400:
                break
        return response

    def post(self, path: str, data: dict | None = None):
        page = self.client.get("/incidents")
        return self.client.post(path, data={**(data or {}), "csrf_token": csrf_from(page.text)})
