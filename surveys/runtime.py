"""What a use case run by the application needs from it: the clock, the settings and the
token box, read from the running app (``current_app``).

Views, the API, the command line and the worker ask here; services never do (they take what
they need as arguments), so this is the one place that knows where the app keeps them.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import current_app

from surveys.config import Settings
from surveys.tokens import TokenBox


def settings() -> Settings:
    return current_app.extensions["aftercare.settings"]


def token_box() -> TokenBox:
    return current_app.extensions["aftercare.token_box"]


def now() -> datetime:
    """The clock; tests may set ``AFTERCARE_NOW`` in config to freeze it."""
    frozen = current_app.config.get("AFTERCARE_NOW")
    return frozen if frozen is not None else datetime.now(UTC)
