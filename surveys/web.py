"""Web plumbing bound with ``init_app``: settings, CSRF, login, headers, errors, log masking."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime

from flask import Flask, current_app, g, render_template, request
from flask_login import LoginManager
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException

from surveys.config import Settings
from surveys.db import get_session
from surveys.models import User
from surveys.tokens import TokenBox

csrf = CSRFProtect()
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "Please sign in to see this page."
login_manager.login_message_category = "info"

_TOKEN_PATH = re.compile(r"/s/[^\s\"?]+")


class MaskSurveyLinks(logging.Filter):
    """Access logs never carry a survey token: ``/s/<token>`` becomes ``/s/[link]``."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.args = tuple(
                _TOKEN_PATH.sub("/s/[link]", a) if isinstance(a, str) else a
                for a in (record.args if isinstance(record.args, tuple) else (record.args,))
            )
        if isinstance(record.msg, str):
            record.msg = _TOKEN_PATH.sub("/s/[link]", record.msg)
        return True


def settings() -> Settings:
    return current_app.extensions["aftercare.settings"]


def token_box() -> TokenBox:
    return current_app.extensions["aftercare.token_box"]


def now() -> datetime:
    """The clock; tests may set ``AFTERCARE_NOW`` in config to freeze it."""
    frozen = current_app.config.get("AFTERCARE_NOW")
    return frozen if frozen is not None else datetime.now(UTC)


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    if not user_id.isdigit():
        return None
    user = get_session().get(User, int(user_id))
    return user if user is not None and user.active else None


def init_app(app: Flask) -> None:
    app.extensions["aftercare.settings"] = Settings.from_config(app.config)
    app.extensions["aftercare.token_box"] = TokenBox(app.config["SECRET_KEY"])
    csrf.init_app(app)
    login_manager.init_app(app)
    for name in ("werkzeug", "gunicorn.access"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, MaskSurveyLinks) for f in logger.filters):
            logger.addFilter(MaskSurveyLinks())

    @app.after_request
    def _headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        )
        response.headers.setdefault("X-Frame-Options", "DENY")
        if request.path.startswith("/s"):
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.errorhandler(CSRFError)
    def _csrf_error(error: CSRFError):
        return render_template("errors/error.html", status=400, title="Please try again",
                               message="This form expired or was sent from somewhere else. "
                                       "Go back, reload the page and send it again."), 400

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        if request.path.startswith("/api/"):
            return {"error": {"code": error.name.lower().replace(" ", "_"),
                              "message": error.description, "fields": {}}}, error.code
        return render_template("errors/error.html", status=error.code, title=error.name,
                               message=error.description), error.code

    @app.context_processor
    def _globals():
        return {"now": g.get("now") or now()}
