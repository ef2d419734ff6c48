"""Probes for a load balancer or an orchestrator: ``/healthz`` and ``/readyz``.

``/healthz`` says the process is alive and serving; it touches nothing else, so a database
outage never gets healthy processes restarted. ``/readyz`` says this process can do its
work: the database answers and its schema is at the newest revision (after a deploy whose
``db upgrade`` has not run yet, it is not ready). Both are JSON, set no cookie, are not rate
limited, and say nothing about surveys or answers.
"""

from __future__ import annotations

from flask import Blueprint, current_app
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from surveys import db as dbmod
from surveys.web.access import public

bp = Blueprint("health", __name__)

_HEAD = "aftercare.head_revision"


def _head() -> str:
    """The newest revision of the code, read from migrations/ once per process."""
    if _HEAD not in current_app.extensions:
        current_app.extensions[_HEAD] = dbmod.head_revision()
    return current_app.extensions[_HEAD]


def _answer(body: dict, status: int):
    response = current_app.response_class(
        current_app.json.dumps(body), status=status, mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/healthz")
@public
def healthz():
    return _answer({"status": "ok"}, 200)


@bp.get("/readyz")
@public
def readyz():
    head = _head()
    try:
        with dbmod.get_engine(current_app).connect() as connection:
            connection.execute(text("SELECT 1"))
            current = dbmod.current_revision(connection)
    except SQLAlchemyError as exc:
        current_app.logger.warning("readyz: database unreachable (%s)",
                                   type(getattr(exc, "orig", None) or exc).__name__)
        return _answer({"status": "unavailable", "reason": "database unreachable"}, 503)
    if current != head:
        return _answer({"status": "unavailable",
                        "reason": f"database at revision {current or 'none'}, code needs "
                                  f"{head}: run `flask --app app db upgrade`",
                        "revision": current}, 503)
    return _answer({"status": "ready", "revision": current}, 200)
