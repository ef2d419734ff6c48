"""Single sign-on against a real OpenID provider (oidc-provider under Node, on loopback):
sign-in with PKCE, state and nonce; accounts and roles from claims; the second-factor rule;
RP-initiated logout; and every way a sign-in can go wrong, each refused with a clear page,
an audit entry, no 500 and no signed-in session."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from support import NOW, totp_code
from support.app import make_app, migrate
from support.oidc import ACCOUNTS, CLIENT_ID, Provider, require_node, sign_in_at_provider
from surveys import db as dbmod
from surveys.models import AuditEvent, User
from surveys.services.sso import NO_PASSWORD

BASE = "http://127.0.0.1:5000"


@pytest.fixture(scope="module")
def provider():
    require_node()
    running = Provider(redirect_base=BASE).start()
    yield running
    running.stop()


@pytest.fixture
def own_provider():
    """A provider of this test alone (it may be stopped or restarted)."""
    require_node()
    running = Provider(redirect_base=BASE, accounts={k: dict(v) for k, v in ACCOUNTS.items()})
    running.start()
    yield running
    running.stop()


def sso_app(tmp_path, provider, **extra):
    from support import build_org

    url = f"sqlite:///{tmp_path / 'sso.db'}"
    migrate(url)
    plain = make_app(url)
    with dbmod.session_scope(plain) as session:
        build_org(session)
    dbmod.get_engine(plain).dispose()
    return make_app(url, **provider.app_config(**extra))


@pytest.fixture
def app_sso(tmp_path, provider):
    app = sso_app(tmp_path, provider)
    yield app
    dbmod.get_engine(app).dispose()


def start(client) -> str:
    response = client.get("/login/sso")
    assert response.status_code == 302, response.text
    return response.headers["Location"]


def sign_in(client, provider, login, *, mfa=False):
    """The whole round trip: Aftercare -> provider (sign in) -> Aftercare's callback."""
    callback = sign_in_at_provider(start(client), login, BASE, mfa=mfa)
    return client.get(callback.removeprefix(BASE)), callback


def signed_in(client) -> bool:
    with client.session_transaction() as session:
        return "_user_id" in session


def audit(app, action="auth.sso.refused") -> list[AuditEvent]:
    with dbmod.session_scope(app) as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)
                                    .order_by(AuditEvent.id)))


def account(app, email) -> User | None:
    with dbmod.session_scope(app) as session:
        user = session.scalar(select(User).where(User.email == email))
        if user is not None:
            _ = [t.slug for t in user.teams]
            session.expunge(user)
        return user


def assert_refused(response, app, status, words, detail):
    assert response.status_code == status, response.text
    assert "Not signed in" in response.text and words in response.text
    events = audit(app)
    assert events and not events[-1].allowed and detail in events[-1].detail
    return events[-1]


def test_authorization_request_uses_pkce_state_and_nonce(app_sso, provider):
    query = parse_qs(urlsplit(start(app_sso.test_client())).query)
    assert query["response_type"] == ["code"] and query["client_id"] == [CLIENT_ID]
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) >= 43
    assert len(query["state"][0]) >= 20 and len(query["nonce"][0]) >= 20
    assert query["redirect_uri"] == [f"{BASE}/login/sso/callback"]
    assert "openid" in query["scope"][0].split()


def test_a_manager_signs_in_and_gets_role_and_teams_from_groups(app_sso, provider):
    client = app_sso.test_client()
    response, _ = sign_in(client, provider, "maria")
    assert response.status_code == 302 and response.headers["Location"].endswith("/incidents")
    assert client.get("/incidents").status_code == 200
    user = account(app_sso, "maria@example.org")
    assert user.role == "manager" and sorted(t.slug for t in user.teams) == ["payments",
                                                                             "platform"]
    assert user.sso_issuer == provider.issuer and user.sso_subject == "maria"
    assert user.password_hash == NO_PASSWORD and user.name == "Maria"
    login = audit(app_sso, "auth.login")[-1]
    assert login.allowed and login.detail == "single sign-on"
    assert audit(app_sso) == []


def test_hr_with_the_providers_second_factor_needs_no_aftercare_code(app_sso, provider):
    client = app_sso.test_client()
    response, _ = sign_in(client, provider, "hana", mfa=True)
    assert response.headers["Location"].endswith("/hr")  # HR lands on the culture overview
    assert client.get("/hr").status_code == 200  # no detour to the two-factor set-up
    assert audit(app_sso, "auth.login")[-1].detail == (
        "single sign-on, second factor by the provider")


def test_hr_without_it_must_set_up_aftercares_code(app_sso, provider):
    client = app_sso.test_client()
    response, _ = sign_in(client, provider, "hana")
    assert signed_in(client)
    assert client.get("/hr").headers["Location"].endswith("/account/two-factor")


def test_an_existing_account_with_totp_is_taken_over_and_still_asks_the_code(tmp_path):
    require_node()
    accounts = {**ACCOUNTS, "hrlocal": {"email": "hr@example.org", "name": "HR Person",
                                        "groups": ["people-team"]}}
    provider = Provider(redirect_base=BASE, accounts=accounts).start()
    try:
        app = sso_app(tmp_path, provider)
        client = app.test_client()
        response, _ = sign_in(client, provider, "hrlocal")
        assert response.headers["Location"].endswith("/login/code")
        assert not signed_in(client)
        page = client.get("/login/code")
        from support import csrf_from

        response = client.post("/login/code", data={"code": totp_code(NOW),
                                                     "csrf_token": csrf_from(page.text)})
        assert response.status_code == 302 and signed_in(client)
        user = account(app, "hr@example.org")
        assert user.sso_subject == "hrlocal" and user.role == "hr"
        assert audit(app, "auth.login")[-1].detail == "single sign-on, Aftercare code"
        dbmod.get_engine(app).dispose()
    finally:
        provider.stop()


def test_removing_the_group_removes_the_role_at_the_next_sign_in(tmp_path, own_provider):
    app = sso_app(tmp_path, own_provider)
    first = app.test_client()
    sign_in(first, own_provider, "maria")
    assert first.get("/incidents").status_code == 200
    own_provider.stop()
    own_provider.accounts["maria"] = {**ACCOUNTS["maria"], "groups": ["everyone"]}
    own_provider.start()  # the provider's admin took Maria out of payments-leads
    second = app.test_client()
    response, _ = sign_in(second, own_provider, "maria")
    assert_refused(response, app, 403, "none of your groups gives access", "no role")
    assert not signed_in(second)
    user = account(app, "maria@example.org")
    assert user.role == "" and user.teams == []
    assert first.get("/incidents").status_code == 302  # her earlier session ended too
    dbmod.get_engine(app).dispose()


def test_no_role_is_refused_and_makes_no_account(app_sso, provider):
    client = app_sso.test_client()
    response, _ = sign_in(client, provider, "olga")
    event = assert_refused(response, app_sso, 403, "none of your groups gives access",
                           "no role")
    assert event.actor == "sso:olga@example.org"
    assert account(app_sso, "olga@example.org") is None and not signed_in(client)


def test_an_unverified_address_cannot_take_over_an_existing_account(app_sso, provider):
    client = app_sso.test_client()
    response, _ = sign_in(client, provider, "unverified")
    assert_refused(response, app_sso, 409, "did not confirm", "not verified")
    admin = account(app_sso, "admin@example.org")
    assert admin.sso_subject is None and admin.role == "admin" and not signed_in(client)


@pytest.mark.parametrize("login, detail", [("oddgroups", "claim groups is not a list"),
                                           ("noemail", "no usable email")])
def test_unexpected_claims_are_refused(app_sso, provider, login, detail):
    client = app_sso.test_client()
    response, _ = sign_in(client, provider, login)
    assert_refused(response, app_sso, 400, "not signed in", detail)
    assert not signed_in(client)


@pytest.mark.parametrize("mode, detail", [
    ("forged", "BadSignatureError"),
    ("expired", "ExpiredTokenError"),
    ("nonce", "InvalidClaimError (nonce)"),
    ("issuer", "InvalidClaimError (iss)"),
    ("audience", "InvalidClaimError (aud)"),
    ("unsigned", "ID token refused"),
    ("oversized", "ID token of"),
])
def test_a_bad_id_token_is_refused(app_sso, provider, mode, detail):
    client = app_sso.test_client()
    callback = sign_in_at_provider(start(client), "adam", BASE, mfa=True)
    provider.tamper(mode)
    response = client.get(callback.removeprefix(BASE))
    assert_refused(response, app_sso, 400, "cannot trust", detail)
    assert not signed_in(client) and account(app_sso, "adam@example.org") is None


def test_a_replayed_callback_is_refused(app_sso, provider):
    client = app_sso.test_client()
    response, callback = sign_in(client, provider, "maria")
    assert response.status_code == 302 and signed_in(client)
    again = client.get(callback.removeprefix(BASE))  # the same state a second time
    assert_refused(again, app_sso, 400, "already used", "state unknown or already used")
    assert not signed_in(client)  # bad input never leaves a session behind
    stranger = app_sso.test_client()  # someone who copied the address
    stolen = stranger.get(callback.removeprefix(BASE))
    assert_refused(stolen, app_sso, 400, "already used", "state unknown")
    assert not signed_in(stranger)


@pytest.mark.parametrize("query, status, detail", [
    ("", 400, "without a usable state"),
    ("?state=made-up&code=abc", 400, "state unknown"),
    ("?state=" + "s" * 5000 + "&code=abc", 400, "without a usable state"),
    ("?code=abc&state=%00%ff", 400, "state unknown"),
])
def test_malformed_callbacks_are_refused(app_sso, provider, query, status, detail):
    client = app_sso.test_client()
    response = client.get("/login/sso/callback" + query)
    assert_refused(response, app_sso, status, "not signed in", detail)


def test_the_providers_error_answer_is_refused(app_sso, provider):
    client = app_sso.test_client()
    state = parse_qs(urlsplit(start(client)).query)["state"][0]
    response = client.get(f"/login/sso/callback?state={state}&error=access_denied"
                          "&error_description=no")
    assert_refused(response, app_sso, 403, "access_denied", "provider said access_denied")


def test_a_code_for_another_state_is_refused(app_sso, provider):
    """Two sign-ins started in one browser: a code is only good with its own state."""
    client = app_sso.test_client()
    first = start(client)
    second_state = parse_qs(urlsplit(start(client)).query)["state"][0]
    callback = sign_in_at_provider(first, "maria", BASE)
    code = parse_qs(urlsplit(callback).query)["code"][0]
    response = client.get(f"/login/sso/callback?state={second_state}&code={code}")
    assert response.status_code in (400, 403) and "Not signed in" in response.text
    assert not signed_in(client) and not audit(app_sso)[-1].allowed


def test_a_provider_that_is_down(tmp_path, own_provider):
    app = sso_app(tmp_path, own_provider)
    client = app.test_client()
    callback = sign_in_at_provider(start(client), "maria", BASE)
    own_provider.stop()  # down between its sign-in page and the code exchange
    response = client.get(callback.removeprefix(BASE))
    assert_refused(response, app, 503, "could not be reached", "unreachable")
    cold = make_app(f"sqlite:///{tmp_path / 'sso.db'}", **own_provider.app_config())
    response = cold.test_client().get("/login/sso")  # down before it all starts
    assert_refused(response, cold, 503, "could not be reached", "provider unreachable")
    assert not signed_in(client)
    for each in (app, cold):
        dbmod.get_engine(each).dispose()


def test_a_discovery_document_naming_another_issuer_is_refused(tmp_path, provider):
    app = sso_app(tmp_path, provider,
                  AFTERCARE_OIDC_ISSUER=provider.issuer.replace("127.0.0.1", "localhost"))
    response = app.test_client().get("/login/sso")
    assert_refused(response, app, 502, "cannot trust", "names issuer")
    dbmod.get_engine(app).dispose()


def test_a_role_map_naming_an_unknown_team_refuses_sign_in_and_fails_the_check(tmp_path,
                                                                               provider):
    app = sso_app(tmp_path, provider,
                  AFTERCARE_OIDC_ROLE_MAP="payments-leads=manager:payments,no-such-team")
    client = app.test_client()
    response, _ = sign_in(client, provider, "maria")
    assert_refused(response, app, 503, "not set up correctly", "no-such-team")
    assert account(app, "maria@example.org") is None
    result = app.test_cli_runner().invoke(args=["sso", "check"])
    assert result.exit_code == 1 and "no-such-team" in result.output
    dbmod.get_engine(app).dispose()


def test_sso_check_reads_the_providers_documents(app_sso, provider):
    result = app_sso.test_cli_runner().invoke(args=["sso", "check"])
    assert result.exit_code == 0, result.output
    assert f"names issuer {provider.issuer}" in result.output
    assert "JWKS has 1 key(s)" in result.output and "RP-initiated logout: yes" in result.output


def test_logout_ends_the_providers_session_too(app_sso, provider):
    client = app_sso.test_client()
    sign_in(client, provider, "maria")
    from support import csrf_from

    page = client.get("/incidents")
    response = client.post("/logout", data={"csrf_token": csrf_from(page.text)})
    assert response.status_code == 303 and response.headers["Location"].endswith(
        "/logout/provider")
    assert not signed_in(client)
    onward = client.get("/logout/provider")
    target = re.search(r'url=([^"]+)"', onward.text).group(1).replace("&amp;", "&")
    query = parse_qs(urlsplit(target).query)
    assert target.startswith(f"{provider.issuer}/session/end?")
    assert query["post_logout_redirect_uri"] == [f"{BASE}/login"]
    assert query["client_id"] == [CLIENT_ID] and query["id_token_hint"][0].count(".") == 2
    assert client.get("/logout/provider").headers["Location"].endswith("/login")  # once


def csrf_for(app, client) -> str:
    """A valid CSRF token for ``client``'s session (for a page that shows no form)."""
    from flask import session
    from flask_wtf.csrf import generate_csrf

    with app.test_request_context():
        token = generate_csrf()
        raw = session["csrf_token"]
    with client.session_transaction() as stored:
        stored["csrf_token"] = raw
    return token


def test_local_passwords_can_be_switched_off(tmp_path, provider):
    from support import PASSWORD

    app = sso_app(tmp_path, provider, AFTERCARE_LOCAL_LOGIN="0")
    client = app.test_client()
    page = client.get("/login")
    assert "Sign in with your company account" in page.text and 'name="password"' not in page.text
    response = client.post("/login", data={"email": "manager@example.org", "password": PASSWORD,
                                           "csrf_token": csrf_for(app, client)})
    assert response.status_code == 400 and "switched off" in response.text
    assert not signed_in(client)
    assert client.get("/password/forgot").status_code == 404
    assert client.get("/password/reset/abc").status_code == 404
    dbmod.get_engine(app).dispose()


def test_without_sso_the_routes_are_absent(client):
    assert client.get("/login/sso").status_code == 404
    assert client.get("/login/sso/callback?state=x&code=y").status_code == 404
    assert "company account" not in client.get("/login").text
