"""AFTERCARE_OIDC_*, AFTERCARE_LOCAL_LOGIN and AFTERCARE_SLACK_API_URL: parsed once, every
mistake a start-up error naming the variable."""

from __future__ import annotations

import pytest

from surveys.config import (
    ConfigError,
    RoleGrant,
    parse_local_login,
    parse_mfa,
    parse_oidc,
    parse_role_map,
    parse_slack_api_url,
)

BASE = {"AFTERCARE_OIDC_ISSUER": "https://login.example.org/realms/acme",
        "AFTERCARE_OIDC_CLIENT_ID": "aftercare", "AFTERCARE_OIDC_CLIENT_SECRET": "s",
        "AFTERCARE_OIDC_ROLE_MAP": "admins=admin"}


def test_role_map_entries():
    assert parse_role_map("a=admin; /kc/hr = hr\nleads=manager:payments, platform;"
                          "email:Hana@Example.org=hr") == (
        ("a", RoleGrant("admin")), ("/kc/hr", RoleGrant("hr")),
        ("leads", RoleGrant("manager", ("payments", "platform"))),
        ("email:hana@example.org", RoleGrant("hr")))
    assert parse_role_map("cn=x,ou=y=admin") == (("cn=x,ou=y", RoleGrant("admin")),)


@pytest.mark.parametrize("raw, words", [
    ("", "is empty"), ("admins", "is not GROUP=ROLE"), ("a=owner", "unknown role"),
    ("a=manager", "needs teams"), ("a=hr:payments", "only manager entries"),
    ("a=admin; a=hr", "appears twice"), ("=admin", "is not GROUP=ROLE"),
])
def test_role_map_mistakes_name_the_variable(raw, words):
    with pytest.raises(ConfigError, match="AFTERCARE_OIDC_ROLE_MAP") as caught:
        parse_role_map(raw)
    assert words in str(caught.value)


def test_second_factor_claims():
    assert parse_mfa(None) == (("amr", "mfa"),)
    assert parse_mfa("amr:hwk, acr:urn:okta:loa:2fa:any") == (
        ("amr", "hwk"), ("acr", "urn:okta:loa:2fa:any"))
    assert parse_mfa("off") == ()
    for bad in ("mfa", "amr:", "foo:bar"):
        with pytest.raises(ConfigError, match="AFTERCARE_OIDC_MFA"):
            parse_mfa(bad)


def test_oidc_settings_and_their_mistakes():
    assert parse_oidc({}) is None
    oidc = parse_oidc(BASE)
    assert oidc.scopes == "openid email profile" and oidc.groups_claim == "groups"
    assert "client_secret" not in repr(oidc)  # the secret stays out of reprs and logs
    cases = [
        ({"AFTERCARE_OIDC_ISSUER": "http://login.example.org"}, "https"),
        ({"AFTERCARE_OIDC_ISSUER": "ftp://x"}, "https"),
        ({"AFTERCARE_OIDC_CLIENT_ID": ""}, "CLIENT_ID is required"),
        ({"AFTERCARE_OIDC_CLIENT_SECRET": ""}, "CLIENT_SECRET is required"),
        ({"AFTERCARE_OIDC_SCOPES": "email"}, "must include openid"),
        ({"AFTERCARE_OIDC_GROUPS_CLAIM": "bad claim"}, "a claim name"),
    ]
    for change, words in cases:
        with pytest.raises(ConfigError, match=words):
            parse_oidc({**BASE, **change})
    assert parse_oidc({**BASE, "AFTERCARE_OIDC_ISSUER": "http://127.0.0.1:8080"})
    with pytest.raises(ConfigError, match="AFTERCARE_OIDC_ISSUER is not"):
        parse_oidc({"AFTERCARE_OIDC_CLIENT_ID": "x"})


def test_local_login_off_needs_sso():
    assert parse_local_login({}) is True
    assert parse_local_login({**BASE, "AFTERCARE_LOCAL_LOGIN": "0"}) is False
    with pytest.raises(ConfigError, match="AFTERCARE_LOCAL_LOGIN=0 needs single sign-on"):
        parse_local_login({"AFTERCARE_LOCAL_LOGIN": "0"})
    with pytest.raises(ConfigError, match="AFTERCARE_LOCAL_LOGIN"):
        parse_local_login({"AFTERCARE_LOCAL_LOGIN": "maybe"})


def test_slack_api_url():
    assert parse_slack_api_url(None) == "https://slack.com/api/"
    assert parse_slack_api_url("https://slack-gov.com/api") == "https://slack-gov.com/api/"
    with pytest.raises(ConfigError, match="AFTERCARE_SLACK_API_URL"):
        parse_slack_api_url("http://slack.example.org/api/")
