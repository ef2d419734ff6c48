"""A live Aftercare on a free loopback port, and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from support import build_org, open_survey
from support.app import make_app
from support.browser import serve
from surveys import db as dbmod

CHROMIUM = os.environ.get("AFTERCARE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


@pytest.fixture
def live(tmp_path):
    """Serve a fresh app with an organisation and one open survey; yield (url, tokens, app)."""
    app = make_app(f"sqlite:///{tmp_path / 'live.db'}")
    with dbmod.session_scope(app) as session:
        build_org(session)
        _survey, tokens = open_survey(session, app.extensions["aftercare.settings"],
                                      app.extensions["aftercare.token_box"])
    with serve(app) as url:
        yield url, tokens, app


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"Chromium not found at {CHROMIUM}; `make test` installs it")
        pytest.skip(f"Chromium not found at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
