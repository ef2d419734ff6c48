"""Authentication through the pages, CSRF on: sessions, lock-out, two-factor, password reset,
headers and cookies."""

from __future__ import annotations

import email
import logging
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from support import NOW, PASSWORD, Manager, csrf_from, totp_code
from support.app import make_app
from surveys.models import PasswordReset, User
from surveys.services import admin, auth
from surveys.web.logs import MaskSurveyLinks
from surveys.web.views.auth import GENERIC_FAILURE, RESET_SENT

pytestmark = pytest.mark.usefixtures("org")


def at(app, delta: timedelta) -> None:
    app.config["AFTERCARE_NOW"] = NOW + delta


def signed_in(client) -> bool:
    response = client.get("/incidents")
    return response.status_code == 200


def user(db, email: str) -> User:
    db.rollback()
    return db.scalar(select(User).where(User.email == email))


# --- sessions -------------------------------------------------------------------------------


def test_login_gives_a_fresh_session(client):
    with client.session_transaction() as session:
        session["planted"] = "by someone else"
    response = Manager(client).login("manager@example.org")
    assert response.status_code == 302 and response.headers["Location"] == "/incidents"
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session["sv"] == 0


def test_logout_ends_the_session_on_the_server(app, client):
    Manager(client).login("manager@example.org")
    copied = client.get_cookie("session").value
    assert Manager(client).post("/logout").status_code == 302
    assert not signed_in(client)
    thief = app.test_client()
    thief.set_cookie("session", copied)
    response = thief.get("/incidents")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_session_times_out_after_inactivity(app, client):
    Manager(client).login("manager@example.org")
    at(app, timedelta(minutes=20))
    assert signed_in(client)  # activity keeps it alive
    at(app, timedelta(minutes=45))
    assert signed_in(client)
    at(app, timedelta(minutes=76))
    response = client.get("/incidents")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert "without activity" in client.get("/login").text


def test_session_ends_after_twelve_hours_even_when_active(app, client):
    Manager(client).login("manager@example.org")
    for minutes in range(25, 12 * 60, 25):
        at(app, timedelta(minutes=minutes))
        client.get("/incidents")
    at(app, timedelta(hours=12, minutes=5))
    assert not signed_in(client)


def test_next_never_leaves_the_site(client):
    page = client.get("/login")
    response = client.post("/login?next=//evil.example/x", data={
        "email": "manager@example.org", "password": PASSWORD,
        "csrf_token": csrf_from(page.text)})
    assert response.headers["Location"] == "/incidents"


# --- failures and lock-out --------------------------------------------------------------------


def test_failures_read_the_same_for_unknown_wrong_and_locked(client, db):
    manager = Manager(client)
    unknown = manager.login("nobody@example.org", "whatever password")
    wrong = manager.login("manager@example.org", "wrong password!!")
    for _ in range(5):
        manager.login("manager@example.org", "wrong password!!")
    assert user(db, "manager@example.org").locked_until is not None
    locked = manager.login("manager@example.org")  # right password, locked account
    for response in (unknown, wrong, locked):
        assert response.status_code == 400
        assert GENERIC_FAILURE in response.text


def test_lock_out_backs_off_and_lifts(app, client, db):
    manager = Manager(client)
    for _ in range(auth.LOCK_AFTER):
        manager.login("manager@example.org", "wrong password!!")
    assert manager.login("manager@example.org").status_code == 400
    at(app, timedelta(seconds=61))
    assert manager.login("manager@example.org").status_code == 302
    assert user(db, "manager@example.org").failed_logins == 0


def test_lock_period_doubles_up_to_an_hour():
    periods = [auth._lock_period(n) for n in range(auth.LOCK_AFTER, auth.LOCK_AFTER + 10)]
    assert periods[:3] == [timedelta(minutes=1), timedelta(minutes=2), timedelta(minutes=4)]
    assert periods[-1] == timedelta(hours=1)


# --- two-factor ---------------------------------------------------------------------------------


def _password_step(client, email_address: str):
    page = client.get("/login")
    return client.post("/login", data={"email": email_address, "password": PASSWORD,
                                       "csrf_token": csrf_from(page.text)})


def _code_step(client, code: str):
    page = client.get("/login/code")
    return client.post("/login/code", data={"code": code, "csrf_token": csrf_from(page.text)})


def test_five_wrong_codes_lock_the_account_whatever_passwords_come_between(app, client, db):
    """Finding: the right password cleared the failure count, so rounds of "right password,
    four wrong codes" never locked the account and the code could be guessed on and on."""
    statuses = []
    assert _password_step(client, "hr@example.org").headers["Location"] == "/login/code"
    statuses += [_code_step(client, "000000").status_code for _ in range(auth.LOCK_AFTER - 1)]
    assert user(db, "hr@example.org").failed_logins == auth.LOCK_AFTER - 1
    assert _password_step(client, "hr@example.org").headers["Location"] == "/login/code"
    assert user(db, "hr@example.org").failed_logins == auth.LOCK_AFTER - 1  # not cleared
    statuses.append(_code_step(client, "111111").status_code)
    assert statuses == [400] * auth.LOCK_AFTER
    assert user(db, "hr@example.org").locked_until is not None
    # locked: the right password and the right code both fail, with the usual words
    refused = _password_step(client, "hr@example.org")
    assert refused.status_code == 400 and GENERIC_FAILURE in refused.text
    assert not signed_in(client)
    at(app, timedelta(seconds=61))
    assert _password_step(client, "hr@example.org").headers["Location"] == "/login/code"
    assert _code_step(client, totp_code(NOW + timedelta(seconds=60))).status_code == 302
    assert signed_in(client) and user(db, "hr@example.org").failed_logins == 0


def test_passwords_and_codes_share_one_failure_count(client, db):
    manager = Manager(client)
    for _ in range(2):
        manager.login("hr@example.org", "wrong password!!")
    assert _password_step(client, "hr@example.org").headers["Location"] == "/login/code"
    for _ in range(auth.LOCK_AFTER - 2):
        assert _code_step(client, "000000").status_code == 400
    assert user(db, "hr@example.org").locked_until is not None
    assert _code_step(client, totp_code()).status_code == 400  # the right code, too late


def test_hr_needs_the_code_after_the_password(client):
    response = _password_step(client, "hr@example.org")
    assert response.headers["Location"] == "/login/code"
    assert not signed_in(client)  # the password alone signs no one in
    assert _code_step(client, "000000").status_code == 400
    assert _code_step(client, totp_code()).status_code == 302
    assert signed_in(client)


def test_a_code_is_accepted_once(app, client):
    _password_step(client, "hr@example.org")
    assert _code_step(client, totp_code()).status_code == 302
    other = app.test_client()
    _password_step(other, "hr@example.org")
    assert _code_step(other, totp_code()).status_code == 400  # replayed
    assert not signed_in(other)


def test_recovery_code_works_once(app, client, db):
    codes = auth.regenerate_recovery_codes(db, user(db, "admin@example.org").id)
    _password_step(client, "admin@example.org")
    assert _code_step(client, codes[0].upper()).status_code == 302
    other = app.test_client()
    _password_step(other, "admin@example.org")
    assert _code_step(other, codes[0]).status_code == 400
    assert auth.recovery_codes_left(db, user(db, "admin@example.org").id) == 9


def test_unfinished_code_step_expires(app, client):
    _password_step(client, "hr@example.org")
    at(app, timedelta(minutes=6))
    response = client.get("/login/code")
    assert response.status_code == 302 and response.headers["Location"] == "/login"


def test_hr_without_two_factor_must_set_it_up_first(app, client, db):
    admin.add_user(db, "newhr@example.org", "New HR", PASSWORD, "hr")
    response = _password_step(client, "newhr@example.org")
    assert response.headers["Location"] == "/account/two-factor"
    blocked = client.get("/hr")
    assert blocked.status_code == 302 and blocked.headers["Location"] == "/account/two-factor"
    page = client.get("/account/two-factor")
    assert page.status_code == 200 and "otpauth://totp/" in page.text
    with client.session_transaction() as session:
        secret = session["totp_setup"]
    import pyotp

    wrong = client.post("/account/two-factor", data={"code": "123456",
                                                     "csrf_token": csrf_from(page.text)})
    assert wrong.status_code == 400
    done = client.post("/account/two-factor", data={
        "code": pyotp.TOTP(secret).at(NOW), "csrf_token": csrf_from(page.text)})
    assert done.status_code == 200 and done.text.count("<li><code>") == auth.RECOVERY_CODES
    assert client.get("/hr").status_code == 200
    stored = user(db, "newhr@example.org")
    assert stored.totp_cipher is not None and secret.encode() not in stored.totp_cipher


def test_manager_may_turn_two_factor_on_and_off(client, db):
    Manager(client).login("manager@example.org")
    page = client.get("/account/two-factor")
    with client.session_transaction() as session:
        secret = session["totp_setup"]
    import pyotp

    client.post("/account/two-factor", data={"code": pyotp.TOTP(secret).at(NOW),
                                             "csrf_token": csrf_from(page.text)})
    assert auth.has_totp(user(db, "manager@example.org"))
    off = Manager(client).post("/account/two-factor/disable")
    assert off.status_code == 302
    assert not auth.has_totp(user(db, "manager@example.org"))


def test_hr_may_not_turn_two_factor_off(client, db):
    Manager(client).login("hr@example.org")
    response = Manager(client).post("/account/two-factor/disable")
    assert response.status_code == 403
    assert auth.has_totp(user(db, "hr@example.org"))


# --- password reset ----------------------------------------------------------------------------


@pytest.fixture
def mail_app(tmp_path):
    from support import build_org
    from surveys import db as dbmod

    outbox = tmp_path / "mail"
    app = make_app(f"sqlite:///{tmp_path / 'mail.db'}", AFTERCARE_MAIL=f"file://{outbox}")
    with dbmod.session_scope(app) as session:
        build_org(session, size=2)
    yield app, outbox
    dbmod.get_engine(app).dispose()


def _reset_link(outbox: Path) -> str:
    files = sorted(outbox.glob("*.eml"))
    assert len(files) == 1
    message = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
    text = message.get_body(("plain",)).get_content()
    return next(line.strip() for line in text.splitlines() if "/password/reset/" in line)


def _ask_reset(client, address: str):
    page = client.get("/password/forgot")
    return client.post("/password/forgot", data={"email": address,
                                                 "csrf_token": csrf_from(page.text)})


def test_password_reset_by_email(mail_app):
    app, outbox = mail_app
    client = app.test_client()
    old_session = app.test_client()
    Manager(old_session).login("manager@example.org")
    response = _ask_reset(client, "Manager@Example.org ")
    assert response.status_code == 303
    assert RESET_SENT in client.get("/login").text
    link = _reset_link(outbox)
    token = link.rsplit("/", 1)[1]
    arrived = client.get(link.removeprefix("http://127.0.0.1:5000"))
    assert arrived.status_code == 303 and arrived.headers["Location"] == "/password/reset"
    form = client.get("/password/reset")
    assert form.status_code == 200 and token not in form.text
    short = client.post("/password/reset", data={
        "password": "short", "confirm": "short", "csrf_token": csrf_from(form.text)})
    assert short.status_code == 400
    done = client.post("/password/reset", data={
        "password": "a new long passphrase", "confirm": "a new long passphrase",
        "csrf_token": csrf_from(form.text)})
    assert done.status_code == 303
    assert Manager(app.test_client()).login("manager@example.org").status_code == 400
    assert Manager(app.test_client()).login(
        "manager@example.org", "a new long passphrase").status_code == 302
    assert not signed_in(old_session)  # every earlier session ended
    again = app.test_client()
    assert again.get(f"/password/reset/{token}").status_code == 303
    assert again.get("/password/reset").status_code == 404  # single use


def test_reset_token_is_stored_hashed_and_expires(mail_app):
    app, outbox = mail_app
    client = app.test_client()
    _ask_reset(client, "hr@example.org")
    token = _reset_link(outbox).rsplit("/", 1)[1]
    from surveys import db as dbmod

    with dbmod.session_scope(app) as session:
        rows = list(session.scalars(select(PasswordReset)))
        assert len(rows) == 1 and rows[0].token_hash != token and token not in rows[0].token_hash
    at(app, timedelta(minutes=31))
    client.get(f"/password/reset/{token}")
    assert client.get("/password/reset").status_code == 404


def test_reset_for_an_unknown_address_reads_the_same_and_sends_nothing(mail_app):
    app, outbox = mail_app
    client = app.test_client()
    response = _ask_reset(client, "nobody@example.org")
    assert response.status_code == 303 and response.headers["Location"] == "/login"
    assert RESET_SENT in client.get("/login").text
    assert not outbox.exists() or not list(outbox.glob("*.eml"))


def test_reset_links_are_masked_in_logs():
    record = logging.LogRecord("werkzeug", logging.INFO, "", 0, '"GET %s HTTP/1.1" 303',
                               ("/password/reset/abcDEF123_-xyz",), None)
    MaskSurveyLinks().filter(record)
    assert record.args == ("/password/reset/[link]",)
    record = logging.LogRecord("werkzeug", logging.INFO, "", 0, "POST /optout/Mg.xm5Q HTTP/1.1",
                               (), None)
    MaskSurveyLinks().filter(record)
    assert record.msg == "POST /optout/[link] HTTP/1.1"


# --- headers and cookies ----------------------------------------------------------------------


def test_security_headers_on_every_kind_of_page(client):
    for path in ("/", "/login", "/s", "/nope", "/static/style.css"):
        response = client.get(path)
        csp = response.headers["Content-Security-Policy"]
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"
        assert "Strict-Transport-Security" not in response.headers  # plain http
        response.close()


def test_https_adds_hsts_and_secure_cookies(tmp_path):
    from surveys import db as dbmod

    app = make_app(f"sqlite:///{tmp_path / 'https.db'}",
                   AFTERCARE_BASE_URL="https://aftercare.example.org")
    try:
        with dbmod.session_scope(app) as session:
            from support import build_org

            build_org(session, size=1)
        client = app.test_client()
        response = client.get("/login", base_url="https://localhost")
        assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")
        cookie = response.headers["Set-Cookie"]
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    finally:
        dbmod.get_engine(app).dispose()


def test_session_cookie_is_httponly_and_lax(client):
    cookie = client.get("/login").headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie


def test_signed_in_pages_are_not_cached(client):
    Manager(client).login("manager@example.org")
    assert client.get("/incidents").headers["Cache-Control"] == "no-store"


def test_signed_in_charts_are_not_cached_either(client):
    """Finding: chart SVGs went out as "private, max-age=300" while every other signed-in
    answer was no-store; one place now sets Cache-Control for every answer."""
    Manager(client).login("hr@example.org")
    for path in ("/hr/charts/org-trend.svg", "/hr/charts/kinds.svg",
                 "/teams/payments/trend.svg"):
        response = client.get(path)
        assert response.status_code == 200 and response.mimetype == "image/svg+xml"
        assert response.headers["Cache-Control"] == "no-store", path
    static = client.get("/static/style.css")
    assert "no-store" not in static.headers.get("Cache-Control", "")  # public, revalidated
    static.close()


def test_moving_to_a_new_app_needs_the_old_factor(client, db):
    import pyotp

    Manager(client).login("hr@example.org")
    page = client.get("/account/two-factor")
    with client.session_transaction() as session:
        secret = session["totp_setup"]
    new_code = pyotp.TOTP(secret).at(NOW)
    refused = client.post("/account/two-factor", data={
        "code": new_code, "current": "000000", "csrf_token": csrf_from(page.text)})
    assert refused.status_code == 400
    assert auth.SecretBox(app_secret()).open(user(db, "hr@example.org").totp_cipher) != secret
    codes = auth.regenerate_recovery_codes(db, user(db, "hr@example.org").id)
    moved = client.post("/account/two-factor", data={
        "code": new_code, "current": codes[0], "csrf_token": csrf_from(page.text)})
    assert moved.status_code == 200
    assert auth.SecretBox(app_secret()).open(user(db, "hr@example.org").totp_cipher) == secret


def app_secret() -> str:
    from support import SECRET

    return SECRET
