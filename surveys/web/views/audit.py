"""The audit log page for HR and admins, its CSV export, and the request-side audit API.

Call from any view (docs/security.md, "Audit log"):

* ``@audited("results.view", target="incident:{incident_id}")`` under the route decorator
  and the access decorator: records one event per request, ``allowed=False`` when the view
  refuses (403/404, ``Forbidden``/``NotFound``; another team's object is a 404 to the
  visitor and "refused: another team's" here), else allowed unless the view called
  :func:`note_release` with the release guard's decision.
* ``note_release(decision.allowed, decision.reason)`` inside such a view: notes the release
  decision for this request's event.
* ``record("admin.team.add", target=slug, detail=...)``: one event, now, for the signed-in
  account (for changes inside a view that the decorator does not describe well).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import Blueprint, Response, g, render_template, request
from flask_login import current_user
from werkzeug.exceptions import HTTPException

from surveys.db import get_session
from surveys.errors import DomainError
from surveys.runtime import now
from surveys.services import audit as service
from surveys.services.access import AUDIT_ROLES
from surveys.web.access import roles_required

bp = Blueprint("audit", __name__)

PAGE_SIZE = 100


def _actor():
    return current_user if getattr(current_user, "is_authenticated", False) else None


def record(action: str, target: str = "", allowed: bool = True, detail: str = "") -> None:
    """Record one event for the signed-in account (or "anonymous"), now."""
    actor = _actor()
    service.record(get_session(), actor=actor, action=action, now=now(), target=target,
                   allowed=allowed, detail=detail,
                   actor_label=None if actor else "anonymous")


def note_release(allowed: bool, detail: object = "") -> None:
    """Note the release guard's decision for this request's audit event."""
    g.audit_guard = (bool(allowed), str(getattr(detail, "value", detail)))


def _target(target: str | Callable[..., str], kwargs: dict) -> str:
    """``target`` formatted with the view's URL arguments, or called with them (or with
    none, for a callable that reads ``request`` itself)."""
    if callable(target):
        try:
            return str(target(**kwargs))
        except TypeError:
            return str(target())
    try:
        return target.format(**kwargs)
    except (KeyError, IndexError):
        return target


def audited(action: str, target: str | Callable[..., str] = "") -> Callable:
    """Decorator: one audit event per call of the view (see the module docstring)."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args, **kwargs):
            where = _target(target, kwargs)
            try:
                response = view(*args, **kwargs)
            except DomainError as exc:  # refused: not visible, not found, invalid input
                record(action, where, allowed=False,
                       detail=getattr(exc, "audit_detail", f"refused: {exc.code}"))
                raise
            except HTTPException as exc:
                if exc.code in (401, 403, 404):
                    record(action, where, allowed=False, detail=f"refused: {exc.code}")
                raise
            status = getattr(response, "status_code", None)
            if status is None and isinstance(response, tuple) and len(response) > 1:
                status = response[1]
            allowed, detail = g.pop("audit_guard", (True, ""))
            if isinstance(status, int) and status in (401, 403, 404):
                allowed, detail = False, f"refused: {status}"
            record(action, where, allowed=allowed, detail=detail)
            return response

        return wrapper

    return decorator


def _action_filter() -> str | None:
    value = request.args.get("action", "").strip()[:64]
    return value or None


@bp.get("/audit")
@roles_required(*AUDIT_ROLES)
@audited("audit.view")
def log():
    try:
        page = max(1, min(int(request.args.get("page", "1")), 100000))
    except ValueError:
        page = 1
    action = _action_filter()
    db = get_session()
    total = service.count(db, action)
    events = service.events(db, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE, action=action)
    return render_template("audit/log.html", events=events, page=page, total=total,
                           action=action or "", pages=max(1, -(-total // PAGE_SIZE)))


@bp.get("/audit.csv")
@roles_required(*AUDIT_ROLES)
@audited("audit.export")
def export():
    body = service.as_csv(get_session(), _action_filter())
    return Response(body, mimetype="text/csv", headers={
        "Content-Disposition": 'attachment; filename="aftercare-audit.csv"'})
