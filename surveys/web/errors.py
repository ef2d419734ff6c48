"""Error pages: a domain refusal, a stale form, an HTTP error (JSON under ``/api/``) and an
unreachable database (503, never 500), one page each for every view."""

from __future__ import annotations

import json
import logging

from flask import Flask, current_app, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from surveys.db import discard_session
from surveys.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound

log = logging.getLogger("surveys.web")

RETRY_AFTER_S = 5


def database_unavailable_response():
    """503 with Retry-After: JSON under /api/, a page that renders without the database
    (no account lookup, no flashed messages) elsewhere."""
    message = ("Aftercare cannot reach its database just now. Nothing was lost: "
               "please try again in a minute.")
    if request.path.startswith("/api/"):
        response = current_app.response_class(
            json.dumps({"error": {"code": "database_unavailable", "message": message,
                                  "fields": {}}}), status=503, mimetype="application/json")
    else:
        response = current_app.response_class(
            render_template("errors/unavailable.html", message=message), status=503)
    response.headers["Retry-After"] = str(RETRY_AFTER_S)
    response.headers["Cache-Control"] = "no-store"
    return response


_DOMAIN_PAGES = {
    Forbidden: (403, "Not your team"),
    NotFound: (404, "Not found"),
    InvalidInput: (400, "Check the address"),
    Conflict: (409, "Not possible now"),
}



def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf_error(error: CSRFError):
        return render_template("errors/error.html", status=400, title="Please try again",
                               message="This form expired or was sent from somewhere else. "
                                       "Go back, reload the page and send it again."), 400

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        if request.path.startswith("/api/"):
            return {"error": {"code": error.name.lower().replace(" ", "_"),
                              "message": error.description, "fields": {}}}, error.code
        return render_template("errors/error.html", status=error.code, title=error.name,
                               message=error.description), error.code

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    @app.errorhandler(PoolTimeout)
    def _database_unavailable(error: Exception):
        """The database is unreachable (restarting, down, or SQLite locked past the busy
        timeout): a clear 503 that asks to try again, never a 500. Nothing was stored by the
        failed transaction. The session is dropped; the pool replaces dead connections."""
        orig = getattr(error, "orig", None) or error
        log.warning("database unavailable: %s", type(orig).__name__)
        discard_session()
        return database_unavailable_response()

    @app.errorhandler(DomainError)
    def _domain_error(error: DomainError):
        """A service refused: one page for every view (the API maps these to JSON itself)."""
        for kind, (status, title) in _DOMAIN_PAGES.items():
            if isinstance(error, kind):
                return render_template("errors/error.html", status=status, title=title,
                                       message=error.message), status
        raise error
