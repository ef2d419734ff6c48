"""People's names in a review draft: a roster matched in one pass, and names guessed without one.

``Roster(names).spans(text)`` finds every listed name, and every part of a multi-part name,
as whole words. The names are compiled once into a single Aho-Corasick automaton over word
tokens (Aho and Corasick, "Efficient string matching", CACM 18(6), 1975): each word of the
text moves the automaton one step, so the scan is linear in the length of the text whatever
the number or length of the names. (A regular-expression alternation of the names is not:
Python's engine tries every alternative at every position, which made 2,000 names of 120
characters over 500,000 characters take minutes.)

``guessed_names(text)`` finds capitalised words that may be a person's first name when no
roster lists them: a capitalised word that is not a common English function word, a month or
a day, not an acronym, not after an article ("the Jenkins job") and not followed by an
apposition naming a system ("Hermes, the deploy bot"). It is a guess, and the language check
uses it only where a guessed name is the subject of an error; a roster makes names exact.

This module is pure: no Flask, no database, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["Roster", "guessed_names"]

# A word: letters and digits, with inner hyphens and apostrophes ("Anne-Marie", "O'Brien").
# The possessive "'s" is part of the word and is stripped before lookup.
_TOKEN = re.compile(r"[^\W_]+(?:[-'\u2019][^\W_]+)*")
_POSSESSIVE = ("'s", "\u2019s")


def _key(word: str) -> str:
    for suffix in _POSSESSIVE:
        if word.endswith(suffix) and len(word) > len(suffix):
            return word[: -len(suffix)]
    return word


def _variants(names: Iterable[str]) -> set[tuple[str, ...]]:
    variants: set[tuple[str, ...]] = set()
    for raw in names:
        words = tuple(_TOKEN.findall(raw))
        if not words or not any(c.isalpha() for c in "".join(words)):
            continue
        variants.add(words)
        if len(words) > 1:
            variants.update((w,) for w in words if len(w) >= 2 and any(c.isalpha() for c in w))
    capitalised = {(v[0][:1].upper() + v[0][1:],) + v[1:] for v in variants}
    return variants | capitalised


class Roster:
    """Names compiled into one word-level Aho-Corasick automaton.

    Parameters
    ----------
    names : iterable of str
        People's names. Each name and each part of a multi-part name (two letters or more)
        matches as a whole word, case-sensitively; a name given in lower case also matches
        with a capital first letter. Possessives ("Okafor's") match.
    """

    def __init__(self, names: Iterable[str]) -> None:
        # Parallel lists, one entry per node: transitions, failure link, depth, and the length
        # in words of the longest name ending at the node (0: none).
        goto: list[dict[str, int]] = [{}]
        depth = [0]
        out = [0]
        for words in _variants(names):
            state = 0
            for word in words:
                nxt = goto[state].get(word)
                if nxt is None:
                    nxt = len(goto)
                    goto.append({})
                    depth.append(depth[state] + 1)
                    out.append(0)
                    goto[state][word] = nxt
                state = nxt
            out[state] = len(words)
        fail = [0] * len(goto)
        queue = list(goto[0].values())
        head = 0
        while head < len(queue):
            state = queue[head]
            head += 1
            for word, child in goto[state].items():
                queue.append(child)
                f = fail[state]
                while f and word not in goto[f]:
                    f = fail[f]
                target = goto[f].get(word, 0)
                fail[child] = target if target != child else 0
                if not out[child]:
                    out[child] = out[fail[child]]
        self._goto, self._fail, self._out = goto, fail, out
        self._words = frozenset(w for table in goto for w in table)
        self._window = max(depth) + 1

    def __bool__(self) -> bool:
        return bool(self._goto[0])

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Start and end offsets of every name in ``text``, longest first, not overlapping.

        Words of a multi-word name must be separated by white space only; punctuation between
        two words resets the automaton. A word joined to another by a hyphen is one word, so
        "Sam" does not match "Sam-bot". A possessive "'s" is not part of the span.
        """
        if not self:
            return []
        goto, fail, out, words = self._goto, self._fail, self._out, self._words
        found: list[tuple[int, int]] = []
        starts: list[int] = []  # start offset of each word in the current run
        state = 0
        last_end = 0
        for m in _TOKEN.finditer(text):
            word = m.group()
            if word not in words:
                if word[-2:] not in ("'s", "\u2019s"):
                    state = 0  # no name holds this word: back to the root
                    continue
                word = word[:-2]
                if word not in words:
                    state = 0
                    continue
            if state and not text[last_end:m.start()].isspace():
                state = 0
            if not state:
                starts.clear()
            last_end = m.end()
            starts.append(m.start())
            while state and word not in goto[state]:
                state = fail[state]
            state = goto[state].get(word, 0)
            if len(starts) > 2 * self._window:  # no name is longer than the deepest node
                del starts[:-self._window]
            length = out[state]
            if length:
                found.append((starts[-length], m.start() + len(word)))
        found.sort(key=lambda s: (s[0], -s[1]))
        kept: list[tuple[int, int]] = []
        for start, end in found:
            if kept and start < kept[-1][1]:
                continue
            kept.append((start, end))
        return kept


# ---------------------------------------------------------------------------------------------
# Guessing names without a roster
# ---------------------------------------------------------------------------------------------

_NOT_NAMES = frozenset("""
a about after again all also although an and another any are as at be because before being
both but by can could did do does during each either even every few for from had has have
he her here hers him his how however i if in into is it its just later least less many may
me meanwhile might more most much must my neither no nobody none nor not now of off often on
once one only or other our out over per perhaps please rather same several she should since
so some someone somebody still such than that the their them then there these they this
those though through thus to too under unfortunately until up upon us very was we were what
whatever when where whether which while who whom whose why will with within without would
yes yet you your everyone everybody anyone anybody nothing something anything everything
root cause summary timeline impact background lessons lesson action actions item items
update note notes resolution detection contributing factors factor trigger follow-up
january february march april may june july august september october november december
monday tuesday wednesday thursday friday saturday sunday today yesterday tomorrow tonight
morning evening afternoon night utc gmt am pm
team teams engineer engineers engineering operator operators admin employee employees staff
customer customers user users people person manager managers company
internet web cloud server servers database service services system systems network
""".split())
_SYSTEM_APPOSITION = re.compile(
    r"(?:,\s*|\s+)(?:the|our|a|an)\s+(?:[\w-]+\s+){0,3}?(?:bot|scheduler|orchestrator|service|"
    r"job|pipeline|tool|system|server|daemon|runner|agent|monitor|cluster|app|api|platform|"
    r"proxy|balancer|queue|database|cron|script|workflow|robot)s?\b",
)
_ARTICLE_BEFORE = re.compile(r"(?:\b(?:the|a|an|our|their|its|this|that|of)\s+)$", re.IGNORECASE)
_CAPITALISED = re.compile(r"(?<![\w'\u2019.@/#-])[A-Z][a-z]+(?:[-'\u2019][A-Z]?[a-z]+)?(?![\w@/-])")
_WORD_SUFFIXES = ("ing", "ed", "ly", "tion", "ment", "ness", "ity", "ies", "ous", "ful", "able")


def guessed_names(text: str) -> list[tuple[int, int]]:
    """Offsets of capitalised words that may be people's first names (a heuristic).

    Returns spans in text order. Words in ``_NOT_NAMES`` (function words, pronouns, months,
    days, section headings, role nouns), words with common English suffixes ("Restarting",
    "Unfortunately"), words after an article or possessive determiner ("the Jenkins job"),
    and words followed by an apposition that names a system ("Hermes, the deploy bot") are
    not guessed.
    """
    spans = []
    for m in _CAPITALISED.finditer(text):
        word = _key(m.group())
        lower = word.lower()
        if lower in _NOT_NAMES or len(word) < 2 or lower.endswith(_WORD_SUFFIXES):
            continue
        if _ARTICLE_BEFORE.search(text, max(0, m.start() - 8), m.start()):
            continue
        if _SYSTEM_APPOSITION.match(text, m.end(), min(len(text), m.end() + 60)):
            continue
        if _sentence_initial(text, m.start()) and not _VERB_AFTER.match(text, m.end()):
            continue  # "Power officials say ...": a capital that only starts a sentence
        spans.append((m.start(), m.start() + len(word)))
    return spans


_VERB_AFTER = re.compile(
    r"(?:'s|\u2019s)?\s+(?:[a-z]+ed|was|is|had|has|did|does|ran|made|forgot|sent|took|put|hit|"
    r"broke|should|could|would|will|can|never|just|then|also|left|wrote|went|got|set|let|saw|"
    r"said|told|thought|deleted|pushed|didn't|wasn't|isn't|doesn't|did\s+not|was\s+not)\b"
)


def _sentence_initial(text: str, pos: int) -> bool:
    before = text[max(0, pos - 3):pos].rstrip(" \t\"'\u201c\u2018*_#>-")
    return not before or before[-1] in ".!?:\n"
