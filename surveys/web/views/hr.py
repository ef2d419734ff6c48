"""HR and culture pages: the overview heatmap, team periods, the policy gap view, exports.

Views parse the query, call ``surveys.services.overview`` or ``surveys.services.periods`` and
render. Every figure they show is a decision the release guard recorded when its period
ended; templates never compare with k. Charts are SVG from ``analysis.charts``, each with a
text alternative and shown beside a table of the same numbers.
"""

from __future__ import annotations

from flask import Blueprint, Response, render_template, request
from flask_login import current_user
from sqlalchemy import select

from analysis import charts, items, periods, words
from surveys import csvsafe
from surveys.db import get_session
from surveys.errors import InvalidInput, NotFound
from surveys.models import Team
from surveys.runtime import now, settings
from surveys.services import admin as admin_service
from surveys.services import overview as overview_service
from surveys.services import periods as period_service
from surveys.services import results
from surveys.services.access import ORG_WIDE_ROLES, RESULT_ROLES
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


def _lines(rows) -> tuple[list[str], list[charts.Line]]:
    labels = [p.label for p in rows]
    lines = [charts.Line(c.label, [p.pct(c.id) for p in rows]) for c in items.CONSTRUCTS]
    return labels, lines


def _svg(body: str) -> Response:
    return Response(body, mimetype="image/svg+xml")  # Cache-Control: surveys.web


# --------------------------------------------------------------------------- overview


@bp.get("/hr")
@roles_required(*ORG_WIDE_ROLES)
@audited("hr.overview", target=lambda: request.args.get("period", "latest"))
def overview():
    view = _overview()
    note_release(True, "released")
    labels, lines = _lines(view.org_trend)
    return render_template(
        "hr/overview.html", view=view, constructs=items.CONSTRUCTS,
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
    labels, lines = _lines(view.org_trend)
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
    body = quarterly_report(view)
    name = f"aftercare-{view.period or 'none'}.pdf"
    return Response(body, mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


SHORT = words.CONSTRUCTS_SHORT  # the PDF's construct names: the same words as the pages


def quarterly_report(view: overview_service.Overview) -> bytes:
    """The one-page quarterly report from an overview (released figures only)."""
    labels, lines = _lines(view.org_trend)
    table = [["Team", "People", *(c.label for c in items.CONSTRUCTS)]]
    for row in view.heatmap:
        table.append([row.team.name, str(row.n) if row.shown else "not enough people",
                      *(f"{c.pct:.0f}%" if c.shown else "–" for c in row.cells)])
    if len(table) > 16:
        shown = [r for r in table[1:] if r[1] != "not enough people"]
        table = [table[0], *shown[:15]]
    flagged = [f for f in view.flags if f.state == "flag"]
    watched = [f for f in view.flags if f.state == "watch"]
    trend_lines = [s.words for s in view.org_series if s.method != "none"]
    learning = [f"{r.label}: {r.reviews} reviews; "
                + (f"{r.system_changes_per_review:.1f} system changes per review "
                   f"(recorded for {r.recorded_changes}); "
                   if r.system_changes_per_review is not None else
                   "no system changes recorded; ")
                + (f"repeat incidents {r.repeat_rate_pct:.0f}% (of {r.recorded_repeat})."
                   if r.repeat_rate_pct is not None else "repeats not recorded.")
                for r in view.learning.rows]
    kinds = [f"{c.label} ({c.n} people): " + ", ".join(
        f"{SHORT[con.id]} {c.pct(con.id):.0f}%" for con in items.CONSTRUCTS
        if c.pct(con.id) is not None) for c in view.kinds if c.shown]
    listed = (flagged + watched)[:2]
    flag_lines = [f.text() for f in listed] or ["No flags this quarter."]
    if len(flagged) + len(watched) > len(listed):
        flag_lines.append(f"{len(flagged) + len(watched) - len(listed)} more on the HR "
                          "overview page, each with how sure it is and a next step.")
    sections = [
        charts.ReportSection(f"Flags ({len(flagged)} flagged, {len(watched)} to watch)",
                             flag_lines),
        charts.ReportSection("Trends", trend_lines or ["Not enough quarters."]),
        charts.ReportSection("Learning outcomes",
                             learning or ["No reviews recorded in these quarters."]),
        charts.ReportSection("By incident kind",
                             kinds or ["Not enough people to compare kinds."]),
    ]
    return charts.report_pdf(
        f"Aftercare quarterly report: {view.label}",
        f"Percent favourable from released, anonymous post-incident surveys. Figures over "
        f"fewer than {view.k} people are never shown.",
        labels, lines, sections, table=table,
        footer="Percent favourable: agreeing with a positive statement or disagreeing with "
               "a negative one. No figure here describes a person, and teams are not ranked.",
    )


# --------------------------------------------------------------------------- team page


@bp.get("/teams/<slug:slug>")
@roles_required(*RESULT_ROLES)
@audited("results.team", target="team:{slug}")
def team(slug: str):
    db = get_session()
    team_row = _team(db, slug)
    view = period_service.team_periods(db, team_row, request.args.get("grain", "quarter"),
                                       now(), _k())
    note_release(True, "released")
    labels, lines = _lines(view.periods)
    return render_template(
        "hr/team.html", view=view, constructs=items.CONSTRUCTS,
        trend_alt=charts.describe_lines(labels, lines, what=f"{team_row.name}, percent "
                                                            "favourable"))


@bp.get("/teams/<slug:slug>/trend.svg")
@roles_required(*RESULT_ROLES)
def team_chart(slug: str):
    db = get_session()
    team_row = _team(db, slug)
    view = period_service.team_periods(db, team_row, request.args.get("grain", "quarter"),
                                       now(), _k())
    labels, lines = _lines(view.periods)
    alt = charts.describe_lines(labels, lines, what=f"{team_row.name}, percent favourable")
    return _svg(charts.to_svg(charts.trend_chart(labels, lines), alt))


def _team(db, slug: str) -> Team:
    team_row = db.scalar(select(Team).where(Team.slug == slug[:64]))
    if team_row is None:
        raise NotFound("No such team.")
    results.authorize_team(current_user, team_row.id, "team")
    return team_row
