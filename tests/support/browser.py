"""Helpers for the browser tests: serve an app on a free port, answer the survey, run axe."""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from axe_playwright_python.sync_playwright import Axe
from werkzeug.serving import make_server

from analysis import items
from support import PASSWORD
from surveys import db as dbmod

_axe = Axe()

# The docs' screenshots are refreshed only on purpose (`make screenshots`); an ordinary test
# run still takes them, into a scratch folder, so a test run leaves the tree as it found it.
DOCS_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
SCREENSHOTS = (DOCS_SCREENSHOTS if os.environ.get("AFTERCARE_SCREENSHOTS") == "docs"
               else Path(tempfile.gettempdir()) / "aftercare-screenshots")
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 360, "height": 740}


@contextmanager
def serve(app, port: int = 0) -> Iterator[str]:
    """Serve ``app`` on ``port`` (a free loopback port by default); yield its base URL; stop
    and dispose after."""
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)
        dbmod.get_engine(app).dispose()


def assert_accessible(page, what: str) -> None:
    """Fail with every axe violation on the page, named by rule, impact and element."""
    results = _axe.run(page)
    problems = [f"{v['id']} ({v['impact']}): {v['help']} — "
                f"{[n['target'] for n in v['nodes']][:3]}"
                for v in results.response["violations"]]
    assert not problems, f"{what}: " + "; ".join(problems)


def answer_every_question(page) -> None:
    """Agree with every statement and say "I observed or reviewed", by label, as a person would."""
    for statement in items.STATEMENTS:
        page.get_by_role("group", name=statement.text).get_by_label("Agree", exact=True).check()
    page.get_by_label("I observed or reviewed").check()


def page_width(page) -> int:
    """How wide the page is laid out: more than the viewport means sideways scrolling."""
    return int(page.evaluate("document.documentElement.scrollWidth"))


def save_screenshot(page, name: str) -> Path:
    """Save what the viewport shows as <name>.png: into docs/screenshots/ (linked from
    docs/) with ``AFTERCARE_SCREENSHOTS=docs``, else into a scratch folder."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), animations="disabled", caret="hide")
    return path


def sign_in(page, url: str, email: str, password: str = PASSWORD,
            code: str | None = None) -> None:
    """Sign in through the login page; ``code`` is the second factor when the role needs one."""
    page.goto(f"{url}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    if code is not None:
        page.get_by_label("Code").fill(code)
        page.get_by_role("button").first.click()
