"""The route converters every URL uses: one for ids, one for team slugs."""

from __future__ import annotations

from werkzeug.routing import BaseConverter, IntegerConverter, Map

from surveys.models import MAX_ID
from surveys.services.admin import SLUG_PATTERN


class IdConverter(IntegerConverter):
    """``<id:name>``, the converter of every id in a route: 1 to ``MAX_ID`` in ASCII digits,
    written one way only (no leading zero). Anything else (0, 07, a sign, 2**63, a thousand
    digits, a full-width digit, which ``\\d`` and ``int`` would take) does not match the
    route, so it is the usual 404, never an overflow in the database."""

    regex = r"[1-9][0-9]{0,9}"

    def __init__(self, map: Map) -> None:
        super().__init__(map, min=1, max=MAX_ID)


class SlugConverter(BaseConverter):
    """``<slug:name>``, the converter of every team slug in a route: the shape teams are made
    with (``surveys.services.admin.SLUG``). Anything else (control characters, NUL, 10,000
    characters) is a 404 before any lookup."""

    regex = SLUG_PATTERN


CONVERTERS = {"id": IdConverter, "slug": SlugConverter}
