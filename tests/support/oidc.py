"""A real OpenID Connect provider for the single sign-on tests: the npm package
``oidc-provider`` (tests/oidc/, installed by ``make test`` with ``npm ci``) run by Node on a
free loopback port, with a small config written per start, and a person signing in at it.

Nothing here stands in for Authlib or the provider: the app under test fetches the real
discovery document and JWKS, and exchanges real codes. The provider's one test hook
(``Provider.tamper``) makes its next token response carry a changed ID token, for the tests
of a provider that misbehaves (tests/oidc/provider.mjs).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess  # nosec B404: starts the test provider (node), a fixed command
import tempfile
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests

from support.smtp import free_port

ROOT = Path(__file__).resolve().parents[1] / "oidc"
CLIENT_ID = "aftercare"
CLIENT_SECRET = "test-client-secret-for-the-loopback-provider"
PASSWORD = "provider-password"

# Who can sign in at the test provider, and their groups.
ACCOUNTS = {
    "maria": {"email": "maria@example.org", "name": "Maria", "groups": ["payments-leads"]},
    "hana": {"email": "hana@example.org", "name": "Hana", "groups": ["people-team"]},
    "adam": {"email": "adam@example.org", "name": "Adam", "groups": ["aftercare-admins"]},
    "olga": {"email": "olga@example.org", "name": "Olga", "groups": ["everyone"]},
    "unverified": {"email": "admin@example.org", "name": "Not Adam", "groups": ["everyone"],
                   "email_verified": False},
    "oddgroups": {"email": "odd@example.org", "name": "Odd", "groups": {"not": "a list"}},
    "noemail": {"name": "No Email", "groups": ["payments-leads"]},
}
ROLE_MAP = ("aftercare-admins=admin; people-team=hr; "
            "payments-leads=manager:payments,platform")


def node_ready() -> bool:
    return (ROOT / "node_modules" / "oidc-provider").is_dir() and shutil.which("node") is not None


def require_node() -> None:
    if node_ready():
        return
    message = ("the test OpenID provider is not installed: run `make test` (it runs `npm ci` "
               "in tests/oidc)")
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@dataclass
class Provider:
    """oidc-provider on 127.0.0.1; ``issuer`` is its address."""

    redirect_base: str
    accounts: dict = field(default_factory=lambda: dict(ACCOUNTS))
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def config(self) -> dict:
        return {
            "port": self.port,
            "issuer": self.issuer,
            "clients": [{
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "client_name": "Aftercare",
                "redirect_uris": [f"{self.redirect_base}/login/sso/callback"],
                "post_logout_redirect_uris": [f"{self.redirect_base}/login"],
                "grant_types": ["authorization_code"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "client_secret_basic",
            }],
            "accounts": {
                login: {"password": PASSWORD,
                        "claims": {"email_verified": True, **claims}}
                for login, claims in self.accounts.items()
            },
        }

    def start(self) -> Provider:
        folder = Path(tempfile.mkdtemp(prefix="aftercare-oidc-"))
        path = folder / "config.json"
        path.write_text(json.dumps(self.config()))
        self.process = subprocess.Popen(  # nosec B603 B607: node, our own script
            ["node", str(ROOT / "provider.mjs"), str(path)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        deadline = time.monotonic() + 30
        assert self.process.stdout is not None
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if line.startswith("ready"):
                break
            if not line and self.process.poll() is not None:
                raise RuntimeError("the test OpenID provider exited at start")
        else:
            self.stop()
            raise RuntimeError("the test OpenID provider did not start")
        shutil.rmtree(folder, ignore_errors=True)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()
        self.process = None

    def tamper(self, mode: str) -> None:
        """Make the next token response carry an ID token changed as ``mode`` says."""
        requests.post(f"{self.issuer}/__test/tamper", data={"mode": mode},
                      timeout=5).raise_for_status()

    def app_config(self, **extra) -> dict:
        return {
            "AFTERCARE_OIDC_ISSUER": self.issuer,
            "AFTERCARE_OIDC_CLIENT_ID": CLIENT_ID,
            "AFTERCARE_OIDC_CLIENT_SECRET": CLIENT_SECRET,
            "AFTERCARE_OIDC_ROLE_MAP": ROLE_MAP,
            # Like Okta: the groups claim comes with a scope of its own.
            "AFTERCARE_OIDC_SCOPES": "openid email profile groups",
            "AFTERCARE_BASE_URL": self.redirect_base,
            **extra,
        }


class _Form(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "form" and self.action is None:
            self.action = dict(attrs).get("action")


def sign_in_at_provider(authorize_url: str, login: str, redirect_base: str, *,
                        mfa: bool = False, password: str = PASSWORD,
                        browser: requests.Session | None = None) -> str:
    """Do what a person does at the provider: follow the authorization request to its sign-in
    form, sign in, and follow the redirects until the provider sends the browser back to
    Aftercare; return that callback address (not fetched)."""
    browser = browser or requests.Session()
    url = authorize_url
    for _ in range(20):
        if url.startswith(redirect_base):
            return url
        response = browser.get(url, allow_redirects=False, timeout=10)
        if response.is_redirect:
            url = urljoin(url, response.headers["Location"])
            continue
        form = _Form()
        form.feed(response.text)
        if response.status_code != 200 or form.action is None:
            raise AssertionError(f"provider page {response.status_code}: {response.text[:300]}")
        data = {"login": login, "password": password}
        if mfa:
            data["mfa"] = "1"
        posted = browser.post(urljoin(url, form.action), data=data, allow_redirects=False,
                              timeout=10)
        if not posted.is_redirect:
            raise AssertionError(f"provider sign-in {posted.status_code}: {posted.text[:300]}")
        url = urljoin(url, posted.headers["Location"])
    raise AssertionError("the provider never sent the browser back")
