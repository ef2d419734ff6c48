"""The web application's wiring, bound with ``init_app``: settings, CSRF, sessions, route
converters, rate limits, headers, error pages, log masking; and ``views/``, one blueprint per
page family.

Modules: ``sessions`` (accounts' sessions), ``access`` (who may call a view), ``limits``
(rate limits), ``converters`` (ids and slugs in URLs), ``headers``, ``errors``, ``logs``,
``sso`` (the OpenID Connect client) and ``serving`` (gunicorn's access log). The web layer
may import services, the domain (models, errors, config), ``analysis`` and
``surveys.runtime``; services never import it. See docs/security.md for the rules and how
each is tested.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import Flask, g
from flask_wtf.csrf import CSRFProtect

from analysis import glance, periods, words
from surveys.config import Settings, parse_duration
from surveys.runtime import now
from surveys.tokens import TokenBox
from surveys.web import errors, headers, sessions
from surveys.web.converters import CONVERTERS
from surveys.web.limits import make_limiter, trust_proxies
from surveys.web.logs import MaskSurveyLinks

csrf = CSRFProtect()


def init_app(app: Flask) -> None:
    app.extensions["aftercare.settings"] = Settings.from_config(app.config)
    app.extensions["aftercare.token_box"] = TokenBox(app.config["SECRET_KEY"])
    app.url_map.converters.update(CONVERTERS)  # before any blueprint adds its rules
    csrf.init_app(app)
    for key, default in (("AFTERCARE_SESSION_IDLE", "30m"), ("AFTERCARE_SESSION_MAX", "12h")):
        value = app.config.get(key) or default
        app.config[key] = value if isinstance(value, timedelta) else parse_duration(key, value)
    sessions.init_app(app)
    trust_proxies(app)
    app.extensions["aftercare.limiter"] = make_limiter(app)
    for name in ("werkzeug", "gunicorn.access"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, MaskSurveyLinks) for f in logger.filters):
            logger.addFilter(MaskSurveyLinks())
    headers.init_app(app)
    errors.init_app(app)

    @app.context_processor
    def _globals():
        return {"now": g.get("now") or now()}

    app.jinja_env.globals["period_label"] = periods.period_label
    app.jinja_env.globals["diverging"] = glance.diverging
    app.jinja_env.globals["words"] = words
    app.jinja_env.globals["bar_legend"] = glance.LEGEND

