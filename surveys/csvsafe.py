"""CSV cells that a spreadsheet will not run as formulas (OWASP "CSV injection").

The one CSV-safety rule, used by every export (``to_csv``). A text cell is prefixed with an
apostrophe, so Excel, LibreOffice and Google Sheets show it as text, when it starts with

* a formula trigger, ``=``, ``+``, ``-`` or ``@``, or any character that Unicode
  compatibility folding (NFKC) turns into one: the full-width ``＝ ＋ － ＠``, the small
  ``﹦ ﹢ ﹣ ﹫``, the super- and subscript signs; or
* white space or an invisible character of any kind (space, tab, carriage return, line
  feed, no-break space, zero-width space, byte order mark, other control and format
  characters), which spreadsheets may skip before looking for a formula.

Numbers (given as ``int`` or ``float``) are written as they are, so -0.5 stays a number.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Iterable

FORMULA_TRIGGERS = frozenset("=+-@")
# Separators (Zs, Zl, Zp), control characters (Cc: tab, CR, LF, ...) and format characters
# (Cf: zero-width space, byte order mark, bidi marks).
_INVISIBLE_CATEGORIES = frozenset({"Zs", "Zl", "Zp", "Cc", "Cf"})


def needs_quoting(text: str) -> bool:
    """Whether a spreadsheet could read ``text`` as a formula (see the module docstring)."""
    if not text:
        return False
    first = text[0]
    return (unicodedata.normalize("NFKC", first)[:1] in FORMULA_TRIGGERS
            or first.isspace()
            or unicodedata.category(first) in _INVISIBLE_CATEGORIES)


def cell(value: object) -> str:
    """The cell's text; numbers (int, float) pass as they are, so -0.5 stays a number."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    text = "" if value is None else str(value)
    return "'" + text if needs_quoting(text) else text


def to_csv(header: Iterable[object], rows: Iterable[Iterable[object]]) -> str:
    """The whole table as CSV text, every cell neutralised."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([cell(v) for v in header])
    for row in rows:
        writer.writerow([cell(v) for v in row])
    return out.getvalue()
