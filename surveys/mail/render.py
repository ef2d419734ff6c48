"""The survey invitation and reminder as text and HTML, rendered at send time (so that no
link, and no token, is ever stored with a queued message)."""

from __future__ import annotations

from flask import render_template

from surveys.mail.outbox import Rendered


def render_email(kind: str, survey, link: str) -> Rendered:
    context = {"kind": kind, "survey": survey, "incident": survey.incident, "link": link}
    subject = (f"A two-minute question about {survey.incident.title}"
               if kind == "invitation"
               else f"Reminder: a two-minute question about {survey.incident.title}")
    return Rendered(subject=subject,
                    text=render_template("email/survey.txt", **context),
                    html=render_template("email/survey.html", **context))


def render_slack(kind: str, survey, link: str) -> Rendered:
    """The Slack direct message: mrkdwn text with the link and the anonymity notice."""
    context = {"kind": kind, "survey": survey, "incident": survey.incident, "link": link}
    subject = (f"A two-minute question about {survey.incident.title}"
               if kind == "invitation"
               else f"Reminder: a two-minute question about {survey.incident.title}")
    return Rendered(subject=subject, text=render_template("slack/survey.txt", **context),
                    html="")
