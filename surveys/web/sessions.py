"""Accounts' sessions: Flask-Login, the server-side session version that ends a session
on sign-out or a password or second-factor change, and the idle and total time-outs."""

from __future__ import annotations

from flask import Flask, current_app, flash, session
from flask_login import LoginManager

from surveys.db import get_session
from surveys.models import User
from surveys.runtime import now

login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "Please sign in to see this page."
login_manager.login_message_category = "info"

# Session keys of a signed-in account (participants' sessions carry none of them).
SESSION_VERSION = "sv"
SESSION_SEEN = "seen"
SESSION_SINCE = "since"


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    """The signed-in account, if its session is still current on the server side."""
    if not user_id.isdigit():
        return None
    user = get_session().get(User, int(user_id))
    if user is None or not user.active:
        return None
    if session.get(SESSION_VERSION) != user.session_version:
        return None  # signed out (or password/two-factor changed) since this cookie was made
    return user


def start_session(user: User) -> None:
    """A fresh session for a signed-in account (call after session.clear() + login_user)."""
    stamp = now().timestamp()
    session[SESSION_VERSION] = user.session_version
    session[SESSION_SEEN] = stamp
    session[SESSION_SINCE] = stamp



def init_app(app: Flask) -> None:
    login_manager.init_app(app)

    @app.before_request
    def _session_timeout():
        """Sign out after ``AFTERCARE_SESSION_IDLE`` without a request, or after
        ``AFTERCARE_SESSION_MAX`` in all; participants' sessions are left alone."""
        if "_user_id" not in session and "pending_2fa" not in session:
            return None
        stamp = now().timestamp()
        seen, since = session.get(SESSION_SEEN), session.get(SESSION_SINCE)
        idle = current_app.config["AFTERCARE_SESSION_IDLE"].total_seconds()
        longest = current_app.config["AFTERCARE_SESSION_MAX"].total_seconds()
        if (not isinstance(seen, int | float) or not isinstance(since, int | float)
                or stamp - seen > idle or stamp - since > longest):
            session.clear()
            flash("You were signed out after a period without activity.", "info")
            return None
        session[SESSION_SEEN] = stamp
        return None
