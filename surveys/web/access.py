"""Who may call a view: the access decorators, with the metadata the access-matrix test
reads (``tests/web/test_access_matrix.py``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

from flask import abort
from flask_login import current_user

from surveys.web.sessions import login_manager


@dataclass(frozen=True)
class Access:
    """Who may call a view: ``public``, ``roles`` (signed in with one of ``roles``) or
    ``api_key`` (a valid API key, no cookies)."""

    kind: str
    roles: tuple[str, ...] = ()


def access_of(view: Callable) -> Access | None:
    return getattr(view, "aftercare_access", None)


def public(view: Callable) -> Callable:
    """Mark a view as reachable without an account (login page, participant pages)."""
    view.aftercare_access = Access("public")  # type: ignore[attr-defined]
    return view


def roles_required(*roles: str) -> Callable[[Callable], Callable]:
    """Signed in with one of ``roles``, else a login redirect (anonymous) or 403."""
    if not roles:
        raise ValueError("name at least one role")

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        wrapper.aftercare_access = Access("roles", tuple(roles))  # type: ignore[attr-defined]
        return wrapper

    return decorator


def api_key_access(view: Callable) -> Callable:
    """Metadata only, for views that check an API key themselves: "no key → 401"."""
    view.aftercare_access = Access("api_key")  # type: ignore[attr-defined]
    return view
