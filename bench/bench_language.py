"""Review language check: time for a 20-page review against a bare regular-expression scan.

The review is built from the labelled sentences in ``tests/data/review_sentences.tsv``, laid
out as a Markdown review (summary, timeline, contributing factors, action items) and repeated
until it holds about 10,000 words. ``check()`` runs with the corpus roster as names. The
baseline is the least any phrase check must do: one precompiled, case-insensitive alternation
of ``analysis.language.PHRASES`` scanned with ``finditer`` over the same text, in the same run.

A second figure is the worst request the API accepts (issue 16): 500,000 characters of the same
review with 2,000 names of 120 characters, each name made of words that occur in the text so
that the name automaton has work to do at every word. The roster cache is cleared before each
run, as an attacker sending new names each time would force. Its baseline is the same text
checked without names, in the same run.

Run with ``.venv/bin/python -m bench language``.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

from analysis import language
from analysis.language import PHRASES, check
from bench.harness import Result, median_seconds

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "data" / "review_sentences.tsv"
SECTIONS = (
    ("S", "## Summary"),
    ("T", "## Timeline"),
    ("F", "## Contributing factors"),
    ("A", "## Action items"),
)


def _corpus() -> tuple[list[str], dict[str, list[str]]]:
    names: list[str] = []
    by_section: dict[str, list[str]] = {}
    for line in CORPUS.read_text(encoding="utf-8").splitlines():
        if line.startswith("# names:"):
            names = [n.strip() for n in line[len("# names:"):].split(";") if n.strip()]
        elif line.strip() and not line.startswith("#"):
            _labels, section, text = line.split("\t")
            by_section.setdefault(section, []).append(text)
    return names, by_section


def review_text(words: int) -> str:
    """A Markdown review of about ``words`` words, cycling through the corpus sentences."""
    _names, by_section = _corpus()
    parts = ["# Incident review: checkout errors after a config change", ""]
    count = 0
    round_ = 0
    while count < words:
        for key, heading in SECTIONS:
            parts.extend([heading if round_ == 0 else f"{heading} (continued)", ""])
            for sentence in by_section[key]:
                if count >= words:
                    break
                parts.append(f"- {sentence}" if key in "TA" else sentence)
                count += len(sentence.split())
            parts.append("")
        round_ += 1
    return "\n".join(parts)


def _baseline() -> re.Pattern[str]:
    alternation = "|".join(re.escape(p) for p in sorted(PHRASES, key=len, reverse=True))
    return re.compile(rf"\b(?:{alternation})\b", re.IGNORECASE)


def _measure(name: str, text: str, names: list[str], target: str, unit_scale: float,
             unit: str, repeat: int, warmup: int) -> Result:
    scan = _baseline()
    value = median_seconds(lambda: check(text, names), repeat=repeat, warmup=warmup)
    base = median_seconds(lambda: sum(1 for _ in scan.finditer(text)), repeat=repeat,
                          warmup=warmup)
    return Result(
        name=name,
        value=value * unit_scale,
        unit=unit,
        baseline=base * unit_scale,
        ratio=value / base,
        target=target,
    )


def attack_names(text: str, count: int = 2000, length: int = 120) -> list[str]:
    """``count`` names of ``length`` characters built from capitalised words of ``text``."""
    words = sorted({w.capitalize() for w in re.findall(r"[A-Za-z]{3,}", text)})
    rng = random.Random(16)
    names = []
    for _ in range(count):
        name = ""
        while len(name) < length:
            name += rng.choice(words) + " "
        names.append(name[:length].strip())
    return names


def _worst_case(repeat: int) -> Result:
    text = review_text(100_000)
    text = (text * (500_000 // len(text) + 1))[:500_000]
    names = attack_names(text)

    def fresh_roster() -> object:
        language._compile_for.cache_clear()
        return check(text, names)

    value = median_seconds(fresh_roster, repeat=repeat, warmup=0)
    base = median_seconds(lambda: check(text), repeat=repeat, warmup=0)
    return Result(
        name="language_check_500k_chars_2000_names",
        value=value,
        unit="s",
        baseline=base,
        ratio=value / base,
        target="median <= 2 s (baseline: the same text without names)",
    )


def run() -> list[Result]:
    names, _ = _corpus()
    review = review_text(10_000)
    return [
        _measure("language_check_10k_words", review, names, "median <= 200 ms", 1000.0, "ms",
                 repeat=15, warmup=2),
        _worst_case(repeat=5),
    ]
