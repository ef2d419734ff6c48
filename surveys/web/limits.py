"""Rate limits, keyed by the client address only, kept in the limiter's store (memory, or
Redis when ``AFTERCARE_REDIS_URL`` is set), never in the database, never logged; and the
proxy count that makes the client address the real one."""

from __future__ import annotations

import logging
import threading

from flask import Flask, current_app, g, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits.storage import MemoryStorage
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

class SweptMemoryStorage(MemoryStorage):
    """The limits library's in-memory store, sweeping old entries once a second.

    The library's store starts a timer thread 10 ms after every hit, and that thread walks
    every key seen within the longest window (the hourly link limit: every address of the
    last hour). Under a load of distinct addresses that was a thread start per arrival and
    a sweep of thousands of keys a hundred times a second in every worker. Counting is
    unchanged: a limit is checked against the entries' own times, the sweep only frees
    memory. Used when no Redis is configured (``aftercare-memory://``).
    """

    STORAGE_SCHEME = ["aftercare-memory"]
    SWEEP_EVERY_S = 1.0

    def _MemoryStorage__schedule_expiry(self) -> None:  # the library's private hook
        if not self.timer.is_alive():
            self.timer = threading.Timer(self.SWEEP_EVERY_S, self._MemoryStorage__expire_events)
            self.timer.daemon = True
            self.timer.start()


MEMORY_STORAGE = "aftercare-memory://"


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
                          app.config.get("AFTERCARE_REDIS_URL") or MEMORY_STORAGE)
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
    # A request with no limit of its own (the participant form, submit and thank-you page,
    # every page of a signed-in account) skips the limiter at once, before it resolves
    # limits and scopes for nothing: a third of a participant request's time went there.
    # Not while ``count_link_miss`` counts a miss: that check runs through the same path.
    limiter.request_filter(lambda: _limit_config_key() is None and "_counting_miss" not in g)
    limiter.init_app(app)

    # Registered after the limiter's own, so it runs before the limiter writes its headers.
    @app.after_request
    def _no_limit_headers_on_a_link(response):
        """The 303 of a participant link carries no ``X-RateLimit-*`` headers: a browser
        following it ignores them, and with Redis reading the window for them was a third
        round trip per arrival. Over the limit the 429 keeps them, ``Retry-After`` with it."""
        if request.endpoint == "participant.arrive" and response.status_code != 429:
            limiter.context.view_rate_limit = None
        return response

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
    g._counting_miss = True
    try:
        with limiter().shared_limit(lambda: str(current_app.config[LINK_MISS_LIMIT]),
                                    scope="link-miss", key_func=get_remote_address):
            pass
    finally:
        g.pop("_counting_miss", None)
