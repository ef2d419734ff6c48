"""Masking free-text comments before they are shown: names, email addresses, dates and times.

Pure functions, no Flask and no database. A comment is shown only pooled by team and calendar
period (see :func:`analysis.release.comments_release`); before that, this module removes what
would tie it to a person or a moment finer than the period:

* email addresses (any address, and every address of the roster and of the incident's
  participant list, also when written without the domain) become ``[email]``;
* names from the roster and the participant list (the full name and each part of it of two
  letters or more, as whole words, in any letter case, with a possessive ``'s``) become
  ``[name]``; ``@handles`` become ``[name]`` as well;
* dates (``2026-11-03``, ``03/11/2026``, ``3 Nov``, ``November 3rd``, ``Tuesday``,
  ``yesterday``, ``last week`` ...) become the period's label, and clock times (``14:05``,
  ``2pm``, ``at noon``) become ``[time]``.

Masking errs on the side of hiding: a word that is also a roster name is masked even where
it was meant as an ordinary word. It cannot hide writing style, or facts only the people
involved know ("the person who approved the change"); docs/threat-model.md says so.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = ["Masker", "mask_comment", "shuffled"]

EMAIL_MASK = "[email]"
NAME_MASK = "[name]"
TIME_MASK = "[time]"

_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
_HANDLE = re.compile(r"(?<![\w@])@[A-Za-z0-9_.\-]{2,}")
_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
_DAYS = (
    "monday|tuesday|wednesday|thursday|friday|saturday|sunday|"
    "mon|tue|tues|thu|thur|thurs|fri"
)
_ORD = r"(?:st|nd|rd|th)?"
_DATE_PATTERNS = (
    r"\b\d{4}-\d{1,2}-\d{1,2}(?:[T ]\d{1,2}:\d{2}(?::\d{2})?(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?)?",
    r"\b\d{1,2}[/.]\d{1,2}[/.]\d{2,4}\b",
    r"\b\d{1,2}[/.]\d{1,2}\b(?![/.]\d)",
    rf"\b(?:(?:{_DAYS})\.?,?\s+)?(?:the\s+)?\d{{1,2}}{_ORD}(?:\s+of)?\s+(?:{_MONTHS})\.?"
    r"(?:,?\s+\d{4})?\b",
    rf"\b(?:(?:{_DAYS})\.?,?\s+)?(?:{_MONTHS})\.?\s+(?:the\s+)?\d{{1,2}}{_ORD}"
    r"(?:,?\s+\d{4})?\b",
    rf"\b(?:{_MONTHS})\s+\d{{4}}\b",
    rf"\b(?:{_DAYS})(?:day)?s?\b",
    r"\b(?:yesterday|today|tonight|tomorrow|the day before|the other day)\b",
    r"\b(?:last|this|next|that)\s+(?:week|weekend|night|morning|afternoon|evening)\b",
)
_TIME_PATTERNS = (
    r"\b\d{1,2}:\d{2}(?::\d{2})?(?:\s*[ap]\.?m\.?)?(?:\s*(?:utc|gmt))?(?!\w)",
    r"\b\d{1,2}\s*[ap]\.?m\.?(?!\w)",
    r"\b(?:at\s+)?(?:noon|midnight)\b",
)
_DATE = re.compile("|".join(f"(?:{p})" for p in _DATE_PATTERNS), re.IGNORECASE)
_TIME = re.compile("|".join(f"(?:{p})" for p in _TIME_PATTERNS), re.IGNORECASE)
_NAME_PART = re.compile(r"[^\W\d_][\w'\-]*", re.UNICODE)


@dataclass(frozen=True)
class Masker:
    """Masks comments of one pool.

    Parameters
    ----------
    names : names from the roster and the participant list
    emails : their email addresses
    period_label : what a date becomes, e.g. ``"Q4 2026"``
    """

    names: tuple[str, ...]
    emails: tuple[str, ...]
    period_label: str

    @classmethod
    def build(cls, names: Iterable[str], emails: Iterable[str], period_label: str) -> Masker:
        if not isinstance(period_label, str) or not period_label.strip():
            raise ValueError("a period label is needed to coarsen dates")
        clean_names = tuple(sorted({n.strip() for n in names if n and n.strip()}))
        clean_emails = tuple(sorted({e.strip().lower() for e in emails if e and e.strip()}))
        return cls(clean_names, clean_emails, period_label.strip())

    def _words(self) -> list[str]:
        """Whole words to mask: full names, name parts, and email local parts."""
        words = set()
        for name in self.names:
            words.add(name)
            for part in _NAME_PART.findall(name):
                part = part.strip("'-")
                if len(part) >= 2:
                    words.add(part)
        for email in self.emails:
            local = email.split("@", 1)[0]
            if len(local) >= 2:
                words.add(local)
            for part in re.split(r"[._+\-]", local):
                if len(part) >= 3 and not part.isdigit():
                    words.add(part)
        # Longest first, so that a full name is masked as one.
        return sorted(words, key=lambda w: (-len(w), w.lower()))

    def pattern(self) -> re.Pattern[str] | None:
        words = self._words()
        if not words:
            return None
        alternatives = "|".join(re.escape(w) for w in words)
        return re.compile(rf"(?<![\w@])(?:{alternatives})(?:'s|’s)?(?![\w@])", re.IGNORECASE)

    def mask(self, text: str) -> str:
        return mask_comment(text, self)


def mask_comment(text: str, masker: Masker) -> str:
    """One comment with emails, names, handles, dates and times masked (see the module)."""
    if not isinstance(text, str):
        raise ValueError("a comment must be text")
    out = _EMAIL.sub(EMAIL_MASK, text)
    for email in masker.emails:
        out = re.sub(re.escape(email), EMAIL_MASK, out, flags=re.IGNORECASE)
    out = _HANDLE.sub(NAME_MASK, out)
    names = masker.pattern()
    if names is not None:
        out = names.sub(NAME_MASK, out)
    out = _DATE.sub(masker.period_label, out)
    out = _TIME.sub(TIME_MASK, out)
    return out


def shuffled(comments: Sequence[str], rng: random.Random | None = None) -> list[str]:
    """The comments in a random order (``secrets``-grade by default): the order in which
    they were stored or written tells nothing."""
    order = list(comments)
    (rng or random.SystemRandom()).shuffle(order)
    return order
