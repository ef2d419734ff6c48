"""Single sign-on in Chromium against the real OpenID provider (oidc-provider on loopback):
from Aftercare's sign-in page to the provider's and back, signed in with the role the
groups grant; a refusal page; and sign-out ending the provider's session too. axe checks
Aftercare's pages on the way."""

from __future__ import annotations

import pytest

from support import build_org
from support.app import make_app
from support.browser import assert_accessible, serve
from support.oidc import PASSWORD, Provider, require_node
from support.smtp import free_port
from surveys import db as dbmod

pytestmark = pytest.mark.browser


@pytest.fixture
def sso_live(tmp_path):
    require_node()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    provider = Provider(redirect_base=base).start()
    app = make_app(f"sqlite:///{tmp_path / 'live.db'}")
    with dbmod.session_scope(app) as session:
        build_org(session)
    dbmod.get_engine(app).dispose()
    app = make_app(f"sqlite:///{tmp_path / 'live.db'}", AFTERCARE_NOW=None,
                   **provider.app_config())
    try:
        with serve(app, port) as url:
            yield url, provider
    finally:
        provider.stop()


def sign_in_at_provider(page, login: str, mfa: bool = False) -> None:
    page.get_by_label("Username").fill(login)
    page.get_by_label("Password").fill(PASSWORD)
    if mfa:
        page.get_by_label("used a second factor").check()
    page.get_by_role("button", name="Sign in").click()


def test_sign_in_through_the_provider_and_out_again(browser, sso_live):
    url, provider = sso_live
    page = browser.new_page()
    try:
        page.goto(f"{url}/login")
        assert_accessible(page, "sign-in page with single sign-on")
        page.get_by_role("link", name="Sign in with your company account").click()
        page.wait_for_url(f"{provider.issuer}/interaction/**")
        sign_in_at_provider(page, "hana", mfa=True)
        page.wait_for_url(f"{url}/hr")  # HR lands on the culture overview
        assert page.url == f"{url}/hr"  # HR, second factor met by the provider
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url(f"{provider.issuer}/session/end?**")
        page.get_by_role("button", name="Yes, sign me out").click()
        page.wait_for_url(f"{url}/login**")
        page.get_by_role("link", name="Sign in with your company account").click()
        page.wait_for_url(f"{provider.issuer}/interaction/**")  # the provider asks again
        assert page.get_by_label("Username").is_visible()
    finally:
        page.close()


def test_a_person_without_a_role_sees_a_clear_page(browser, sso_live):
    url, provider = sso_live
    page = browser.new_page()
    try:
        page.goto(f"{url}/login/sso")
        sign_in_at_provider(page, "olga")
        page.wait_for_url(f"{url}/login/sso/callback**")
        assert page.get_by_role("heading", name="Not signed in").is_visible()
        assert "none of your groups gives access" in page.content()
        assert_accessible(page, "single sign-on refusal page")
        page.goto(f"{url}/incidents")
        assert page.url.startswith(f"{url}/login")  # no session came of it
    finally:
        page.close()
