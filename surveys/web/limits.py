"""Rate limits, keyed by the client address only, kept in the limiter's store (memory, or
Redis when ``AFTERCARE_REDIS_URL`` is set), never in the database, never logged; and the
proxy count that makes the client address the real one."""

from __future__ import annotations

import logging

from flask import Flask, current_app, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from werkzeug.middleware.proxy_fix import ProxyFix

from surveys.config import parse_trusted_proxies

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


def trust_proxies(app: Flask) -> None:
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
