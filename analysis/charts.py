"""Charts for the results pages and the quarterly report: matplotlib's ``Figure`` API only.

Pure functions: numbers in, a ``matplotlib.figure.Figure`` (or SVG text, or PDF bytes) out.
No pyplot (its global state does not belong in a server), no Flask, no database, no files.
Every chart comes with a text alternative (`describe_lines`) and is shown beside a table of
the same numbers, so nothing is only in a picture; missing points (not enough people) are
gaps in a line, never a guessed value.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import matplotlib
from matplotlib.backends.backend_pdf import FigureCanvasPdf
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure

# Colour-blind safe (Okabe-Ito), distinguishable in greyscale by marker and line style too.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")
MARKERS = ("o", "s", "^", "D", "v", "P")
LINESTYLES = ("-", "--", "-.", ":", "-", "--")


@dataclass(frozen=True)
class Line:
    """One series: a label and a value per x position (None where nothing may be shown)."""

    label: str
    values: Sequence[float | None]


@dataclass(frozen=True)
class ReportSection:
    """A block of text lines in the quarterly report."""

    heading: str
    lines: Sequence[str] = field(default_factory=tuple)


def _check_lines(x_labels: Sequence[str], lines: Sequence[Line]) -> None:
    for line in lines:
        if len(line.values) != len(x_labels):
            raise ValueError(f"{line.label!r} has {len(line.values)} values for "
                             f"{len(x_labels)} periods")
        for value in line.values:
            if value is not None and not math.isfinite(value):
                raise ValueError(f"{line.label!r} has a value that is not finite")


def _draw_lines(ax, x_labels: Sequence[str], lines: Sequence[Line], ylabel: str) -> None:
    positions = list(range(len(x_labels)))
    for i, line in enumerate(lines):
        ys = [math.nan if v is None else v for v in line.values]
        ax.plot(positions, ys, label=line.label, color=PALETTE[i % len(PALETTE)],
                marker=MARKERS[i % len(MARKERS)], linestyle=LINESTYLES[i % len(LINESTYLES)],
                linewidth=1.8, markersize=5)
    ax.set_xticks(positions, list(x_labels), rotation=0 if len(x_labels) <= 8 else 45,
                  ha="center" if len(x_labels) <= 8 else "right")
    ax.set_ylim(0, 100)
    ax.set_ylabel(ylabel)
    ax.grid(axis="y", color="#cccccc", linewidth=0.6)
    ax.spines[["top", "right"]].set_visible(False)
    if lines:
        ax.legend(loc="lower left", fontsize=8, frameon=False, ncols=min(len(lines), 4))


def trend_chart(x_labels: Sequence[str], lines: Sequence[Line], *, title: str = "",
                ylabel: str = "% favourable", width: float = 7.0, height: float = 3.2
                ) -> Figure:
    """Percent favourable over periods, one line per construct (gaps where not shown).

    Parameters
    ----------
    x_labels : sequence of str
        Period labels, oldest first.
    lines : sequence of Line
        One value per period, or None where the release guard hid the figure.
    """
    _check_lines(x_labels, lines)
    fig = Figure(figsize=(width, height), layout="constrained")
    ax = fig.add_subplot()
    _draw_lines(ax, x_labels, lines, ylabel)
    if title:
        ax.set_title(title, fontsize=11, loc="left")
    return fig


def bar_chart(categories: Sequence[str], groups: Sequence[Line], *, title: str = "",
              ylabel: str = "% favourable") -> Figure:
    """Grouped bars: one group per category (e.g. incident kind), one bar per line."""
    _check_lines(categories, groups)
    fig = Figure(figsize=(7.0, 3.2), layout="constrained")
    ax = fig.add_subplot()
    width = 0.8 / max(len(groups), 1)
    hatches = ("", "//", "..", "xx", "\\\\", "--")
    for i, group in enumerate(groups):
        xs = [j + (i - (len(groups) - 1) / 2) * width for j in range(len(categories))]
        heights = [0 if v is None else v for v in group.values]
        bars = ax.bar(xs, heights, width, label=group.label, color=PALETTE[i % len(PALETTE)],
                      hatch=hatches[i % len(hatches)], edgecolor="white")
        for bar, value in zip(bars, group.values, strict=True):
            if value is None:
                bar.set_visible(False)
                ax.text(bar.get_x() + bar.get_width() / 2, 2, "n/a", ha="center",
                        fontsize=7, rotation=90)
    ax.set_xticks(range(len(categories)), list(categories))
    ax.set_ylim(0, 100)
    ax.set_ylabel(ylabel)
    ax.spines[["top", "right"]].set_visible(False)
    if groups:
        ax.legend(loc="upper left", fontsize=8, frameon=False, ncols=min(len(groups), 4),
                  bbox_to_anchor=(0, 1.15))
    if title:
        ax.set_title(title, fontsize=11, loc="left")
    return fig


def describe_lines(x_labels: Sequence[str], lines: Sequence[Line], *, what: str) -> str:
    """A text alternative: for each line, first and last shown value and the range."""
    _check_lines(x_labels, lines)
    if not x_labels or not lines:
        return f"{what}: no figures to show yet."
    parts = [f"{what}, {x_labels[0]} to {x_labels[-1]}."]
    for line in lines:
        shown = [(x, v) for x, v in zip(x_labels, line.values, strict=True) if v is not None]
        if not shown:
            parts.append(f"{line.label}: not enough people in any period.")
        elif len(shown) == 1:
            parts.append(f"{line.label}: {shown[0][1]:.0f}% in {shown[0][0]}.")
        else:
            low = min(v for _, v in shown)
            high = max(v for _, v in shown)
            parts.append(f"{line.label}: {shown[0][1]:.0f}% in {shown[0][0]}, "
                         f"{shown[-1][1]:.0f}% in {shown[-1][0]} (range {low:.0f}% to "
                         f"{high:.0f}%).")
    return " ".join(parts)


def to_svg(fig: Figure, alt: str = "") -> str:
    """The figure as SVG text, with the text alternative as its <title>.

    The same figure always gives the same bytes (a fixed salt for the ids matplotlib gives
    clip paths), so a chart shown twice is the same chart."""
    buffer = io.StringIO()
    FigureCanvasSVG(fig)
    with matplotlib.rc_context({"svg.hashsalt": "aftercare"}):
        fig.savefig(buffer, format="svg", metadata={"Title": alt or None, "Date": None})
    return buffer.getvalue()


def report_pdf(title: str, subtitle: str, x_labels: Sequence[str], lines: Sequence[Line],
               sections: Sequence[ReportSection], *, table: Sequence[Sequence[str]] = (),
               footer: str = "") -> bytes:
    """A one-page A4 report: title, a trend chart, a table of figures, text sections.

    Black on white, 9-10 pt text, lines told apart by marker and style as well as colour, so
    that it reads on a greyscale printout.
    """
    _check_lines(x_labels, lines)
    fig = Figure(figsize=(8.27, 11.69))  # A4 portrait, inches
    FigureCanvasPdf(fig)
    fig.text(0.07, 0.955, title, fontsize=17, weight="bold", va="top")
    y = 0.925
    for wrapped in _wrap(subtitle, 105):
        fig.text(0.07, y, wrapped, fontsize=9.5, va="top", color="#222222")
        y -= 0.016
    ax = fig.add_axes((0.1, y - 0.185, 0.84, 0.155))
    _draw_lines(ax, x_labels, lines, "% favourable")
    ax.set_title("Organisation: percent favourable by quarter", fontsize=10, loc="left")
    y -= 0.225
    if table:
        header, *body = table
        height = 0.019 * (len(body) + 2)
        tab = fig.add_axes((0.07, y - height, 0.86, height))
        tab.axis("off")
        first = 0.24
        rest = (1 - first - 0.1) / max(len(header) - 2, 1)
        t = tab.table(cellText=[list(r) for r in body] or [[""] * len(header)],
                      colLabels=[_wrap(h, 16)[0] if len(h) <= 16 else "\n".join(_wrap(h, 16))
                                 for h in header],
                      colWidths=[first, 0.1] + [rest] * (len(header) - 2),
                      loc="upper left", cellLoc="left", colLoc="left", edges="horizontal")
        t.auto_set_font_size(False)
        t.set_fontsize(8)
        for (row, _col), cell in t.get_celld().items():
            cell.set_height(1 / (len(body) + 2) * (2 if row == 0 else 1))
        y -= height + 0.03
    for section in sections:
        if y < 0.08:
            break
        fig.text(0.07, y, section.heading, fontsize=11, weight="bold", va="top")
        y -= 0.02
        for line in section.lines:
            wrapped = _wrap(line, 116)
            if y - 0.0145 * len(wrapped) < 0.052:
                fig.text(0.085, y, "More in the HR overview.", fontsize=8.5, va="top",
                         style="italic")
                y -= 0.0145
                break
            for part in wrapped:
                fig.text(0.085, y, part, fontsize=8.5, va="top")
                y -= 0.0145
            y -= 0.003
        y -= 0.012
    if footer:
        for i, wrapped in enumerate(_wrap(footer, 130)):
            fig.text(0.07, 0.032 - 0.013 * i, wrapped, fontsize=7.5, color="#333333")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="pdf", metadata={"Title": title, "CreationDate": None})
    return buffer.getvalue()


def _wrap(text: str, width: int) -> list[str]:
    words, lines, current = text.split(), [], ""
    for word in words:
        if current and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}".strip()
    if current:
        lines.append(current)
    return lines or [""]
