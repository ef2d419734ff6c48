"""Log masking: no log line carries a participant, reset or opt-out token."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

_TOKEN_PATH = re.compile(r"/(s|password/reset|optout)/[^\s\"?]+")


def mask_links(text: str) -> str:
    """``/s/<token>`` (and reset and opt-out links) as ``/s/[link]``."""
    return _TOKEN_PATH.sub(r"/\1/[link]", text)


class MaskSurveyLinks(logging.Filter):
    """Access logs never carry a token: ``/s/<token>`` becomes ``/s/[link]``, and the same
    for ``/password/reset/<token>`` and ``/optout/<token>``."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, Mapping):  # gunicorn's access log: a dict of atoms
            record.args = {k: mask_links(v) if isinstance(v, str) else v
                           for k, v in record.args.items()}
        elif record.args:
            record.args = tuple(
                mask_links(a) if isinstance(a, str) else a
                for a in (record.args if isinstance(record.args, tuple) else (record.args,))
            )
        if isinstance(record.msg, str):
            record.msg = mask_links(record.msg)
        return True
