"""Web plumbing bound with ``init_app``: settings, CSRF, login, sessions, route converters,
rate limits, headers, errors, log masking, and the access decorators whose metadata the
access-matrix test reads.

See docs/security.md for the rules and how each is tested.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import wraps

from flask import Flask, abort, current_app, flash, g, render_template, request, session
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import BaseConverter, IntegerConverter, Map

from analysis import periods
from surveys.config import Settings, parse_duration, parse_trusted_proxies
from surveys.db import discard_session, get_session
from surveys.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from surveys.models import MAX_ID, User
from surveys.runtime import now
from surveys.services.admin import SLUG_PATTERN
from surveys.tokens import TokenBox

csrf = CSRFProtect()
log = logging.getLogger(__name__)
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "Please sign in to see this page."
login_manager.login_message_category = "info"

# Session keys of a signed-in account (participants' sessions carry none of them).
SESSION_VERSION = "sv"
SESSION_SEEN = "seen"
SESSION_SINCE = "since"

# Rate limits: (endpoint or "blueprint:<name>", method) -> config key with the limit string,
# checked before the view runs. Keys are the client address only (Flask-Limiter's
# get_remote_address), kept in the limiter's store (memory, or Redis when AFTERCARE_REDIS_URL
# is set), never in the database, never logged.
RATE_LIMITS: dict[tuple[str, str], str] = {
    ("auth.login", "POST"): "AFTERCARE_LIMIT_LOGIN",
    ("auth.login_code", "POST"): "AFTERCARE_LIMIT_LOGIN",
    ("auth.sso_start", "GET"): "AFTERCARE_LIMIT_LOGIN",
    ("auth.sso_callback", "GET"): "AFTERCARE_LIMIT_LOGIN",
    ("auth.forgot", "POST"): "AFTERCARE_LIMIT_RESET",
    ("auth.reset", "POST"): "AFTERCARE_LIMIT_RESET",
    ("participant.arrive", "GET"): "AFTERCARE_LIMIT_LINK",
}
# Participant-link misses are not a limit on an endpoint: the participant views call
# ``count_link_miss`` after a lookup found no ballot, so a link that finds its ballot is never
# refused, however many misses came from the same address before.
LINK_MISS_LIMIT = "AFTERCARE_LIMIT_LINK_MISS"
API_LIMIT = "AFTERCARE_LIMIT_API"  # every route under /api/
LIMIT_DEFAULTS = {
    "AFTERCARE_LIMIT_LOGIN": "10 per minute;100 per hour",
    "AFTERCARE_LIMIT_RESET": "5 per minute;20 per hour",
    "AFTERCARE_LIMIT_LINK": "60 per minute;600 per hour",
    "AFTERCARE_LIMIT_LINK_MISS": "10 per minute;50 per hour",
    "AFTERCARE_LIMIT_API": "300 per minute",
}

_TOKEN_PATH = re.compile(r"/(s|password/reset|optout)/[^\s\"?]+")


def mask_links(text: str) -> str:
    """``/s/<token>`` (and reset and opt-out links) as ``/s/[link]``."""
    return _TOKEN_PATH.sub(r"/\1/[link]", text)


class MaskSurveyLinks(logging.Filter):
    """Access logs never carry a token: ``/s/<token>`` becomes ``/s/[link]``, and the same
    for ``/password/reset/<token>`` and ``/optout/<token>``."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, Mapping):  # gunicorn's access log: a dict of atoms
            record.args = {k: mask_links(v) if isinstance(v, str) else v
                           for k, v in record.args.items()}
        elif record.args:
            record.args = tuple(
                mask_links(a) if isinstance(a, str) else a
                for a in (record.args if isinstance(record.args, tuple) else (record.args,))
            )
        if isinstance(record.msg, str):
            record.msg = mask_links(record.msg)
        return True


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


# --- access decorators: behaviour plus metadata for tests/web/test_access_matrix.py -------


@dataclass(frozen=True)
class Access:
    """Who may call a view: ``public``, ``roles`` (signed in with one of ``roles``) or
    ``api_key`` (a valid API key, no cookies)."""

    kind: str
    roles: tuple[str, ...] = ()


def access_of(view: Callable) -> Access | None:
    return getattr(view, "aftercare_access", None)


def public(view: Callable) -> Callable:
    """Mark a view as reachable without an account (login page, participant pages)."""
    view.aftercare_access = Access("public")  # type: ignore[attr-defined]
    return view


def roles_required(*roles: str) -> Callable[[Callable], Callable]:
    """Signed in with one of ``roles``, else a login redirect (anonymous) or 403."""
    if not roles:
        raise ValueError("name at least one role")

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        wrapper.aftercare_access = Access("roles", tuple(roles))  # type: ignore[attr-defined]
        return wrapper

    return decorator


def api_key_access(view: Callable) -> Callable:
    """Metadata only, for views that check an API key themselves: "no key → 401"."""
    view.aftercare_access = Access("api_key")  # type: ignore[attr-defined]
    return view


# --- rate limits --------------------------------------------------------------------------


def _limit_config_key() -> str | None:
    if request.path.startswith("/api/"):
        return API_LIMIT
    return RATE_LIMITS.get((request.endpoint or "", request.method))


def _current_limit() -> str:
    key = _limit_config_key()
    return str(current_app.config[key]) if key else ""


def make_limiter(app: Flask) -> Limiter:
    for key, value in LIMIT_DEFAULTS.items():
        app.config.setdefault(key, value)
    app.config.setdefault("RATELIMIT_STORAGE_URI",
                          app.config.get("AFTERCARE_REDIS_URL") or "memory://")
    app.config.setdefault("RATELIMIT_STRATEGY", "moving-window")
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    # If Redis goes away, keep limiting per process rather than failing every request.
    app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    app.config.setdefault("RATELIMIT_KEY_PREFIX", "aftercare")
    limiter = Limiter(
        get_remote_address,
        default_limits=[_current_limit],
        default_limits_exempt_when=lambda: _limit_config_key() is None,
    )
    limiter.init_app(app)
    # The limiter logs a breach with its key (the client address): keep that out of the logs.
    logging.getLogger("flask-limiter").setLevel(logging.WARNING)
    return limiter


def _trust_proxies(app: Flask) -> None:
    """Behind a reverse proxy, AFTERCARE_TRUSTED_PROXIES=1 (the number of proxies in front)
    makes the client address (for rate limits) and the scheme come from X-Forwarded-*;
    without it every client would share the proxy's address and its limits."""
    hops = parse_trusted_proxies(app.config.get("AFTERCARE_TRUSTED_PROXIES"))
    if hops and not isinstance(app.wsgi_app, ProxyFix):
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)


def limiter() -> Limiter:
    return current_app.extensions["aftercare.limiter"]


def count_link_miss() -> None:
    """Count one participant-link miss for this client address: a request that asked for a
    ballot (a link in the session, or none at all) and found none. From the first miss over
    ``AFTERCARE_LIMIT_LINK_MISS`` this raises 429 (with ``Retry-After``) instead of letting
    the view answer "link not valid".

    Call it only where a lookup missed, never before one: a valid link is then never refused
    because of misses from the same address (an office behind one address), whatever page
    the miss would have shown (not valid, or the closed page of an earlier form).
    """
    # Flask-Limiter's limit as a context manager: one hit now, on the shared "link-miss"
    # counter of GET /s and POST /s; a breach raises its 429 (RateLimitExceeded).
    with limiter().shared_limit(lambda: str(current_app.config[LINK_MISS_LIMIT]),
                                scope="link-miss", key_func=get_remote_address):
        pass


# --- route converters ---------------------------------------------------------------------


class IdConverter(IntegerConverter):
    """``<id:name>``, the converter of every id in a route: 1 to ``MAX_ID`` in ASCII digits,
    written one way only (no leading zero). Anything else (0, 07, a sign, 2**63, a thousand
    digits, a full-width digit, which ``\\d`` and ``int`` would take) does not match the
    route, so it is the usual 404, never an overflow in the database."""

    regex = r"[1-9][0-9]{0,9}"

    def __init__(self, map: Map) -> None:
        super().__init__(map, min=1, max=MAX_ID)


class SlugConverter(BaseConverter):
    """``<slug:name>``, the converter of every team slug in a route: the shape teams are made
    with (``surveys.services.admin.SLUG``). Anything else (control characters, NUL, 10,000
    characters) is a 404 before any lookup."""

    regex = SLUG_PATTERN


CONVERTERS = {"id": IdConverter, "slug": SlugConverter}


def cache_control(response):
    """The one place that sets ``Cache-Control``: every answer but a static file is
    ``no-store`` (pages of signed-in accounts with their CSV, PDF and SVG, participant pages,
    the API), whatever a view set. Static files keep Flask's revalidation."""
    if request.endpoint != "static":
        response.headers["Cache-Control"] = "no-store"
    return response


RETRY_AFTER_S = 5


def database_unavailable_response():
    """503 with Retry-After: JSON under /api/, a page that renders without the database
    (no account lookup, no flashed messages) elsewhere."""
    message = ("Aftercare cannot reach its database just now. Nothing was lost: "
               "please try again in a minute.")
    if request.path.startswith("/api/"):
        response = current_app.response_class(
            json.dumps({"error": {"code": "database_unavailable", "message": message,
                                  "fields": {}}}), status=503, mimetype="application/json")
    else:
        response = current_app.response_class(
            render_template("errors/unavailable.html", message=message), status=503)
    response.headers["Retry-After"] = str(RETRY_AFTER_S)
    response.headers["Cache-Control"] = "no-store"
    return response


_DOMAIN_PAGES = {
    Forbidden: (403, "Not your team"),
    NotFound: (404, "Not found"),
    InvalidInput: (400, "Check the address"),
    Conflict: (409, "Not possible now"),
}


def init_app(app: Flask) -> None:
    app.extensions["aftercare.settings"] = Settings.from_config(app.config)
    app.extensions["aftercare.token_box"] = TokenBox(app.config["SECRET_KEY"])
    app.url_map.converters.update(CONVERTERS)  # before any blueprint adds its rules
    csrf.init_app(app)
    login_manager.init_app(app)
    for key, default in (("AFTERCARE_SESSION_IDLE", "30m"), ("AFTERCARE_SESSION_MAX", "12h")):
        value = app.config.get(key) or default
        app.config[key] = value if isinstance(value, timedelta) else parse_duration(key, value)
    _trust_proxies(app)
    app.extensions["aftercare.limiter"] = make_limiter(app)
    hsts = str(app.config["AFTERCARE_BASE_URL"]).startswith("https:")
    for name in ("werkzeug", "gunicorn.access"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, MaskSurveyLinks) for f in logger.filters):
            logger.addFilter(MaskSurveyLinks())

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

    @app.after_request
    def _headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "object-src 'none'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        )
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if hsts:
            response.headers.setdefault("Strict-Transport-Security",
                                        "max-age=31536000; includeSubDomains")
        return cache_control(response)

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

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    @app.errorhandler(PoolTimeout)
    def _database_unavailable(error: Exception):
        """The database is unreachable (restarting, down, or SQLite locked past the busy
        timeout): a clear 503 that asks to try again, never a 500. Nothing was stored by the
        failed transaction. The session is dropped; the pool replaces dead connections."""
        orig = getattr(error, "orig", None) or error
        log.warning("database unavailable: %s", type(orig).__name__)
        discard_session()
        return database_unavailable_response()

    @app.errorhandler(DomainError)
    def _domain_error(error: DomainError):
        """A service refused: one page for every view (the API maps these to JSON itself)."""
        for kind, (status, title) in _DOMAIN_PAGES.items():
            if isinstance(error, kind):
                return render_template("errors/error.html", status=status, title=title,
                                       message=error.message), status
        raise error

    @app.context_processor
    def _globals():
        return {"now": g.get("now") or now()}

    app.jinja_env.globals["period_label"] = periods.period_label
