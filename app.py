"""Aftercare: ``flask --app app ...`` and ``gunicorn 'app:create_app()'``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    instance = Path(app.instance_path)
    app.config.from_mapping(
        DATABASE_URL=f"sqlite:///{instance / 'aftercare.db'}",
        AFTERCARE_BASE_URL="http://127.0.0.1:5000",
        AFTERCARE_MAIL="console",
        AFTERCARE_MAIL_FROM="aftercare@localhost",
        AFTERCARE_MIN_GROUP=5,
        AFTERCARE_OPEN_DELAY="24h",
        AFTERCARE_SURVEY_DURATION="7d",
        AFTERCARE_REDIS_URL=None,
        AFTERCARE_SUPPORT_CONTACT=None,
        AFTERCARE_TRUSTED_PROXIES="0",
        AFTERCARE_SESSION_IDLE="30m",
        AFTERCARE_SESSION_MAX="12h",
        AFTERCARE_RETENTION_DAYS=None,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        MAX_CONTENT_LENGTH=1024 * 1024,
        WTF_CSRF_TIME_LIMIT=None,
    )
    from surveys.config import from_environment

    app.config.update(from_environment(os.environ))
    if test_config:
        app.config.update(test_config)
    if not app.config.get("SECRET_KEY"):
        from surveys.config import load_secret_key

        app.config["SECRET_KEY"] = load_secret_key(instance)
    app.config["SESSION_COOKIE_SECURE"] = app.config["AFTERCARE_BASE_URL"].startswith("https:")

    register_extensions(app)
    register_blueprints(app)
    register_cli(app)
    return app


def register_extensions(app: Flask) -> None:
    from surveys import db, web
    from surveys.mail import slack
    from surveys.web import sso

    db.init_app(app)
    web.init_app(app)
    sso.init_app(app)
    slack.init_app(app)


def register_blueprints(app: Flask) -> None:
    from surveys import api
    from surveys.web.views import (
        actions,
        admin,
        audit,
        auth,
        checkin,
        delivery,
        health,
        hr,
        participant,
        pools,
        results,
        review,
    )
    from surveys.web.views import api_keys as api_admin

    for blueprint in (participant.bp, checkin.bp, auth.bp, results.bp, review.bp, hr.bp,
                      pools.bp, audit.bp, admin.bp, delivery.bp, health.bp, actions.bp):
        app.register_blueprint(blueprint)
    api.init_app(app)
    api_admin.init_app(app)


def register_cli(app: Flask) -> None:
    from surveys import cli

    cli.init_app(app)
