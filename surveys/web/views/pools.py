"""Pools of small incidents: ``/teams/<slug>/pools`` and ``/teams/<slug>/pools/<period>``.

Views parse the address, call ``surveys.services.pools`` and render. Every figure and
comment on these pages was allowed by the release guard inside the service; templates never
compare with k. Each view is audit-logged with the guard's decision.
"""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user

from analysis import items
from surveys.db import get_session
from surveys.runtime import now, settings
from surveys.services import pools as service
from surveys.services.access import RESULT_ROLES
from surveys.web.access import roles_required
from surveys.web.views.audit import audited, note_release

bp = Blueprint("pools", __name__)


@bp.get("/teams/<slug:slug>/pools")
@roles_required(*RESULT_ROLES)
@audited("pools.list", target="team:{slug}")
def team_pools(slug: str):
    view = service.team_pools(get_session(), current_user, slug, settings().pool_period, now())
    return render_template("pools/list.html", view=view)


@bp.get("/teams/<slug:slug>/pools/<period>")
@roles_required(*RESULT_ROLES)
@audited("pools.view", target="pool:{slug}:{period}")
def pool(slug: str, period: str):
    view = service.pool(get_session(), current_user, slug, period[:20], settings().pool_period,
                        now(), settings().min_group)
    note_release(view.result.allowed, view.result.decision.reason)
    return render_template("pools/pool.html", view=view, constructs=items.CONSTRUCTS)
