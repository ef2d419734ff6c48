"""Reports built from released figures: the lines of a trend chart and the one-page quarterly
PDF. Everything here reads an overview or period view that the release guard already decided;
nothing is computed from answers."""

from __future__ import annotations

from collections.abc import Sequence

from analysis import charts, items, words
from surveys.services import overview as overview_service


def chart_lines(rows: Sequence) -> tuple[list[str], list[charts.Line]]:
    """Period labels and one line per construct, for `analysis.charts` (hidden points are
    None: the line breaks there)."""
    labels = [p.label for p in rows]
    lines = [charts.Line(c.label, [p.pct(c.id) for p in rows]) for c in items.CONSTRUCTS]
    return labels, lines


SHORT = words.CONSTRUCTS_SHORT  # the PDF's construct names: the same words as the pages


def quarterly_report(view: overview_service.Overview) -> bytes:
    """The one-page quarterly report from an overview (released figures only)."""
    labels, lines = chart_lines(view.org_trend)
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
