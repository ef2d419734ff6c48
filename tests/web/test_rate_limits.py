"""Rate limits (Flask-Limiter): sign-in, password reset, participant links, the API; in
memory by default, shared through Redis when AFTERCARE_REDIS_URL is set."""

from __future__ import annotations

import math
import secrets

import pytest

from support import ANSWERS, NOW, PASSWORD, Participant, csrf_from, open_survey
from support.app import make_app
from surveys import db as dbmod
from surveys.services import lifecycle
from surveys.web.limits import LIMIT_DEFAULTS, MEMORY_STORAGE, SweptMemoryStorage

pytestmark = pytest.mark.usefixtures("org")

def _post_login(client, token: str, email: str = "manager@example.org"):
    return client.post("/login", data={"email": email, "password": "wrong password!!",
                                       "csrf_token": token})


def test_login_is_limited_per_address(client):
    token = csrf_from(client.get("/login").text)
    codes = [_post_login(client, token, f"guess{i}@example.org").status_code for i in range(11)]
    assert codes[:10] == [400] * 10
    assert codes[10] == 429
    page = _post_login(client, token)
    assert page.status_code == 429 and "Retry-After" in page.headers


def test_login_page_itself_is_not_limited(client):
    for _ in range(30):
        assert client.get("/login").status_code == 200


def test_password_reset_is_limited(client):
    token = csrf_from(client.get("/password/forgot").text)
    codes = [client.post("/password/forgot", data={"email": f"x{i}@example.org",
                                                   "csrf_token": token}).status_code
             for i in range(6)]
    assert codes == [303] * 5 + [429]


def test_guessing_participant_links_gets_429_long_before_a_guess_could_succeed(client):
    statuses = []
    for _ in range(12):
        client.get(f"/s/{secrets.token_urlsafe(32)}")
        statuses.append(client.get("/s").status_code)
    assert statuses[:10] == [404] * 10
    assert statuses[10:] == [429, 429]
    # Every guess needs an arrival at /s/<token>, and every arrival counts: at that hourly
    # cap, one address tries 600 tokens an hour in a 256-bit space (a guess that hit would
    # be served even over the miss limit, since valid links are never refused):
    per_hour = int(LIMIT_DEFAULTS["AFTERCARE_LIMIT_LINK"].split(";")[1].split()[0])
    years_for_even_odds = math.log(2) * 2 ** 256 / (per_hour * 24 * 365)
    assert years_for_even_odds > 1e70


def test_every_arrival_counts_towards_the_link_limit(client):
    """The hard bound on guessing: every guess is an arrival at /s/<token>."""
    per_minute = int(LIMIT_DEFAULTS["AFTERCARE_LIMIT_LINK"].split(";")[0].split()[0])
    statuses = [client.get(f"/s/{secrets.token_urlsafe(32)}").status_code
                for _ in range(per_minute + 1)]
    assert statuses == [303] * per_minute + [429]


def test_answering_with_valid_links_never_meets_the_miss_limit(client, db, settings, box):
    _, tokens = open_survey(db, settings, box, people=12)
    for token in tokens:
        assert Participant(client).answer(token).status_code == 303


def _miss_limit_per_minute() -> int:
    return int(LIMIT_DEFAULTS["AFTERCARE_LIMIT_LINK_MISS"].split(";")[0].split()[0])


def test_misses_from_an_office_never_lock_out_a_colleague_with_a_valid_link(app, db, settings,
                                                                            box):
    """Finding: ten GET /s without a cookie from one address, then a real participant from
    the same address got 429 on the form. Misses are counted where a lookup misses, so they
    only ever refuse misses."""
    _, tokens = open_survey(db, settings, box, people=6)
    prankster = app.test_client()  # same address as everyone in the test client: one office
    limit = _miss_limit_per_minute()
    statuses = [prankster.get("/s").status_code for _ in range(limit + 2)]
    assert statuses == [404] * limit + [429, 429]
    assert "Retry-After" in prankster.get("/s").headers
    for token in tokens[:3]:
        colleague = app.test_client()
        assert colleague.get(f"/s/{token}").status_code == 303
        form = colleague.get("/s")
        assert form.status_code == 200 and 'name="csrf_token"' in form.text
        page = colleague.post("/s", data={**ANSWERS, "csrf_token": csrf_from(form.text)})
        assert page.status_code == 303 and page.headers["Location"].endswith("/s/thanks")
    # the prankster's own misses stay limited all along
    assert prankster.post("/s", data={}).status_code in (400, 429)  # CSRF first, then 429
    assert prankster.get("/s").status_code == 429


def test_guesses_from_a_session_whose_survey_closed_are_still_limited(app, client, db,
                                                                      settings, box):
    """Finding: once the survey of a session's form closed, a miss showed the "survey closed"
    page (409) and was never counted, so that session could guess on without limit."""
    survey, tokens = open_survey(db, settings, box, people=6)
    assert client.get(f"/s/{tokens[0]}").status_code == 303
    form = client.get("/s")
    assert form.status_code == 200
    token = csrf_from(form.text)
    lifecycle.close_survey(db, survey.id, NOW)
    closed = client.post("/s", data={**ANSWERS, "csrf_token": token})
    assert closed.status_code == 409 and "closed" in closed.text  # still a friendly page
    statuses = []
    for _ in range(_miss_limit_per_minute() + 1):
        assert client.get(f"/s/{secrets.token_urlsafe(32)}").status_code == 303
        statuses.append(client.post("/s", data={**ANSWERS, "csrf_token": token}).status_code)
    # the closed page above was the first miss; nine guesses more are "not valid", then 429
    limit = _miss_limit_per_minute()
    assert statuses[:limit - 1] == [404] * (limit - 1)
    assert set(statuses[limit - 1:]) == {429}


def test_api_is_limited_and_answers_json(tmp_path):
    app = make_app(f"sqlite:///{tmp_path / 'api.db'}", AFTERCARE_LIMIT_API="5 per minute")
    try:
        client = app.test_client()
        codes = [client.get("/api/v1/surveys/1").status_code for _ in range(6)]
        assert codes == [401] * 5 + [429]
        body = client.get("/api/v1/surveys/1").get_json()
        assert body["error"]["code"] == "too_many_requests"
    finally:
        dbmod.get_engine(app).dispose()


def test_limits_can_be_switched_off_for_load_tests(tmp_path):
    app = make_app(f"sqlite:///{tmp_path / 'off.db'}", RATELIMIT_ENABLED=False)
    try:
        client = app.test_client()
        for _ in range(15):
            client.get(f"/s/{secrets.token_urlsafe(32)}")
            assert client.get("/s").status_code == 404
    finally:
        dbmod.get_engine(app).dispose()


def test_limiter_uses_memory_without_redis(app):
    assert app.config["RATELIMIT_STORAGE_URI"] == MEMORY_STORAGE
    assert isinstance(app.extensions["aftercare.limiter"].storage, SweptMemoryStorage)


def test_memory_store_sweeps_in_the_background_not_after_every_hit():
    """The library's store started a thread after every hit, and each walked every address
    of the last hour; ours sweeps at most once a second, and limits count the same."""
    import threading
    import time

    from limits import parse
    from limits.strategies import MovingWindowRateLimiter

    store = SweptMemoryStorage("aftercare-memory://")
    store.SWEEP_EVERY_S = 0.05
    limiter = MovingWindowRateLimiter(store)
    per_second = parse("3/second")
    started = threading.active_count()
    hits = [limiter.hit(per_second, f"10.0.0.{i % 50}", "arrive") for i in range(200)]
    assert threading.active_count() <= started + 2  # not one thread per hit
    assert hits.count(False) == 50  # four hits per address, the fourth refused
    assert limiter.hit(per_second, "10.0.0.1", "arrive") is False
    time.sleep(1.1)  # the window has passed: allowed again, and the old entries swept
    assert limiter.hit(per_second, "10.0.0.1", "arrive") is True
    time.sleep(0.2)
    assert sum(len(entries) for entries in store.events.values()) == 1


# --- Redis: limits shared between processes ---------------------------------------------------


@pytest.mark.redis
def test_two_processes_share_limits_through_redis(tmp_path, redis_url):
    import redis

    prefix = "aftercare-test-" + secrets.token_hex(4)
    apps = [make_app(f"sqlite:///{tmp_path / f'p{i}.db'}", AFTERCARE_REDIS_URL=redis_url,
                     RATELIMIT_KEY_PREFIX=prefix) for i in range(2)]
    try:
        assert apps[0].config["RATELIMIT_STORAGE_URI"] == redis_url
        clients = [a.test_client() for a in apps]
        tokens = [csrf_from(c.get("/login").text) for c in clients]
        codes = [_post_login(clients[i % 2], tokens[i % 2], f"g{i}@example.org").status_code
                 for i in range(11)]
        assert codes[:10] == [400] * 10  # five on each "process"
        assert codes[10] == 429  # the eleventh, wherever it lands
        store = redis.Redis.from_url(redis_url)
        keys = list(store.scan_iter(f"*{prefix}*"))
        assert keys, "limits were not kept in Redis"
        assert not any(PASSWORD.encode() in k for k in keys)
    finally:
        store = redis.Redis.from_url(redis_url)
        for key in store.scan_iter(f"*{prefix}*"):
            store.delete(key)
        for a in apps:
            dbmod.get_engine(a).dispose()


@pytest.mark.redis
def test_link_misses_are_shared_through_redis_too(tmp_path, redis_url):
    import redis

    prefix = "aftercare-test-" + secrets.token_hex(4)
    apps = [make_app(f"sqlite:///{tmp_path / f'm{i}.db'}", AFTERCARE_REDIS_URL=redis_url,
                     RATELIMIT_KEY_PREFIX=prefix) for i in range(2)]
    try:
        clients = [a.test_client() for a in apps]
        limit = _miss_limit_per_minute()
        codes = [clients[i % 2].get("/s").status_code for i in range(limit + 1)]
        assert codes == [404] * limit + [429]
    finally:
        store = redis.Redis.from_url(redis_url)
        for key in store.scan_iter(f"*{prefix}*"):
            store.delete(key)
        for a in apps:
            dbmod.get_engine(a).dispose()


def test_behind_a_proxy_limits_key_on_the_forwarded_address(tmp_path):
    app = make_app(f"sqlite:///{tmp_path / 'proxy.db'}", AFTERCARE_TRUSTED_PROXIES="1")
    try:
        client = app.test_client()
        for i in range(11):
            client.get(f"/s/{secrets.token_urlsafe(32)}")
            assert client.get("/s", headers={"X-Forwarded-For": f"10.0.0.{i}"}
                              ).status_code == 404  # each client has its own count
    finally:
        dbmod.get_engine(app).dispose()


def test_bad_proxy_setting_is_refused(tmp_path):
    from surveys.config import ConfigError

    with pytest.raises(ConfigError, match="AFTERCARE_TRUSTED_PROXIES"):
        make_app(f"sqlite:///{tmp_path / 'bad.db'}", AFTERCARE_TRUSTED_PROXIES="many")


def test_a_link_arrival_carries_no_limit_headers_but_its_429_says_when_to_retry(tmp_path):
    app = make_app(f"sqlite:///{tmp_path / 'link.db'}", AFTERCARE_LIMIT_LINK="2 per minute")
    client = app.test_client()
    arrivals = [client.get(f"/s/{secrets.token_urlsafe(32)}") for _ in range(3)]
    assert [a.status_code for a in arrivals] == [303, 303, 429]
    assert not [h for a in arrivals[:2] for h in a.headers.keys()
                if h.lower().startswith("x-ratelimit")]
    assert "Retry-After" in arrivals[2].headers and "X-RateLimit-Limit" in arrivals[2].headers
