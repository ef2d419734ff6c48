"""HR and culture pages: the overview heatmap, team periods, the policy gap view, exports.

Views parse the query, call ``surveys.services.overview`` or ``surveys.services.periods`` and
render. Every figure they show is a decision the release guard recorded when its period
ended; templates never compare with k. Charts are SVG from ``analysis.charts``, each with a
text alternative and shown beside a table of the same numbers.
"""

from __future__ import annotations

from flask import Blueprint, Response, render_template, request
from flask_login import current_user

from analysis import charts, items, periods
from surveys import csvsafe
from surveys.db import get_session
from surveys.errors import InvalidInput, NotFound
from surveys.runtime import now, settings
from surveys.services import actions as action_service
from surveys.services import admin as admin_service
from surveys.services import exposure as exposure_service
from surveys.services import overview as overview_service
from surveys.services import periods as period_service
from surveys.services import reports
from surveys.services.access import ORG_WIDE_ROLES, RESULT_ROLES, find_team
from surveys.web.access import roles_required
from surveys.web.views.audit import audited, note_release

bp = Blueprint("hr", __name__)


def _k() -> int:
    return settings().min_group


def _period_arg() -> str | None:
    """The ``period`` query argument: a quarter like 2026-Q3, or None for the latest."""
    raw = request.args.get("period", "").strip()
    if not raw:
        return None
    if not periods.valid_period(raw) or periods.grain_of(raw) != "quarter":
        raise InvalidInput("The period must be a quarter such as 2026-Q3.",
                           {"period": "a quarter such as 2026-Q3"})
    return raw


def _overview():
    period = _period_arg()
    try:
        return overview_service.overview(get_session(), _k(), period)
    except ValueError as exc:
        raise NotFound(str(exc)) from exc


def _svg(body: str) -> Response:
    return Response(body, mimetype="image/svg+xml")  # Cache-Control: surveys.web


# --------------------------------------------------------------------------- overview


@bp.get("/hr")
@roles_required(*ORG_WIDE_ROLES)
@audited("hr.overview", target=lambda: request.args.get("period", "latest"))
def overview():
    view = _overview()
    note_release(True, "released")
    labels, lines = reports.chart_lines(view.org_trend)
    return render_template(
        "hr/overview.html", view=view, constructs=items.CONSTRUCTS,
        actions_summary=action_service.summary(get_session(), now().date()),
        trend_alt=charts.describe_lines(labels, lines,
                                        what="Organisation, percent favourable by quarter"),
        heat_class=heat_class,
    )


def heat_class(pct: float | None) -> str:
    """A CSS class per ten points; a hidden cell has no colour class at all."""
    if pct is None:
        return "heat-none"
    return f"heat-{min(int(pct // 10), 9)}"


@bp.get("/hr/charts/org-trend.svg")
@roles_required(*ORG_WIDE_ROLES)
def org_trend_chart():
    view = _overview()
    labels, lines = reports.chart_lines(view.org_trend)
    alt = charts.describe_lines(labels, lines, what="Organisation, percent favourable")
    return _svg(charts.to_svg(charts.trend_chart(labels, lines), alt))


@bp.get("/hr/charts/kinds.svg")
@roles_required(*ORG_WIDE_ROLES)
def kinds_chart():
    view = _overview()
    categories = [c.label for c in view.kinds]
    groups = [charts.Line(con.label, [c.pct(con.id) for c in view.kinds])
              for con in items.CONSTRUCTS]
    alt = charts.describe_lines(categories, groups, what="Percent favourable by incident kind")
    return _svg(charts.to_svg(charts.bar_chart(categories, groups), alt))


@bp.get("/hr/policies")
@roles_required(*ORG_WIDE_ROLES)
@audited("hr.policies")
def policies():
    view = _overview()
    note_release(True, "released")
    register = admin_service.policy_register(get_session())
    gaps = {g.policy.id: g for g in view.policy_gaps}
    return render_template("hr/policies.html", view=view, register=register, gaps=gaps,
                           items=items)


# --------------------------------------------------------------------------- exports


@bp.get("/hr/export.csv")
@roles_required(*ORG_WIDE_ROLES)
@audited("hr.export.csv", target=lambda: request.args.get("period", "latest"))
def export_csv():
    view = _overview()
    note_release(True, "released")
    header, *rows = overview_service.export_rows(view)
    return _csv(f"aftercare-{view.period or 'none'}.csv", header, rows)


@bp.get("/hr/flags.csv")
@roles_required(*ORG_WIDE_ROLES)
@audited("hr.export.flags", target=lambda: request.args.get("period", "latest"))
def export_flags():
    view = _overview()
    note_release(True, "released")
    header, *rows = overview_service.flag_rows(view)
    return _csv(f"aftercare-flags-{view.period or 'none'}.csv", header, rows)


def _csv(name: str, header: list, rows: list) -> Response:
    return Response(csvsafe.to_csv(header, rows), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.get("/hr/report.pdf")
@roles_required(*ORG_WIDE_ROLES)
@audited("hr.export.pdf", target=lambda: request.args.get("period", "latest"))
def report_pdf():
    view = _overview()
    note_release(True, "released")
    body = reports.quarterly_report(view)
    name = f"aftercare-{view.period or 'none'}.pdf"
    return Response(body, mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


# --------------------------------------------------------------------------- team page


@bp.get("/teams/<slug:slug>")
@roles_required(*RESULT_ROLES)
@audited("results.team", target="team:{slug}")
def team(slug: str):
    db = get_session()
    team_row = find_team(db, slug, current_user)
    view = period_service.team_periods(db, team_row, request.args.get("grain", "quarter"),
                                       now(), _k())
    note_release(True, "released")
    labels, lines = reports.chart_lines(view.periods)
    return render_template(
        "hr/team.html", view=view, constructs=items.CONSTRUCTS,
        exposure=exposure_service.team_exposure(db, team_row.id, view.grain),
        team_actions=action_service.team_actions(db, team_row.id, now(), view.grain),
        answerable=action_service.team_flags(db, team_row.id, view.grain),
        action_statuses=action_service.STATUS_LABELS,
        trend_alt=charts.describe_lines(labels, lines, what=f"{team_row.name}, percent "
                                                            "favourable"))


@bp.get("/teams/<slug:slug>/trend.svg")
@roles_required(*RESULT_ROLES)
def team_chart(slug: str):
    db = get_session()
    team_row = find_team(db, slug, current_user)
    view = period_service.team_periods(db, team_row, request.args.get("grain", "quarter"),
                                       now(), _k())
    labels, lines = reports.chart_lines(view.periods)
    alt = charts.describe_lines(labels, lines, what=f"{team_row.name}, percent favourable")
    return _svg(charts.to_svg(charts.trend_chart(labels, lines), alt))


