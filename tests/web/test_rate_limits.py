"""Rate limits (Flask-Limiter): sign-in, password reset, participant links, the API; in
memory by default, shared through Redis when AFTERCARE_REDIS_URL is set."""

from __future__ import annotations

import math
import secrets

import pytest

from conftest import make_app
from support import PASSWORD, Participant, csrf_from, open_survey
from surveys import db as dbmod
from surveys.web import LIMIT_DEFAULTS

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
    # At the hourly cap, one address gets 50 guesses an hour at a 256-bit token space:
    per_hour = int(LIMIT_DEFAULTS["AFTERCARE_LIMIT_LINK_MISS"].split(";")[1].split()[0])
    years_for_even_odds = math.log(2) * 2 ** 256 / (per_hour * 24 * 365)
    assert years_for_even_odds > 1e70


def test_answering_with_valid_links_never_meets_the_miss_limit(client, db, settings, box):
    _, tokens = open_survey(db, settings, box, people=12)
    for token in tokens:
        assert Participant(client).answer(token).status_code == 303


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
    assert app.config["RATELIMIT_STORAGE_URI"] == "memory://"


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
