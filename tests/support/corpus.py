"""Sentence-level precision and recall of the review language check on the labelled corpora.

Run ``.venv/bin/python tests/support/corpus.py`` to print the table quoted in
docs/review-language.md (add ``--misses`` to list the sentences the check gets wrong in the
tuned and invented parts; the held-out part is only ever counted, never listed).

A sentence counts as flagged when the check reports at least one finding about blame in it:
findings in ``FRAMING_CATEGORIES`` alone (single-cause and ownership wording, a rostered
name) do not count, since they are advice on framing, not a person put forward as the
explanation; a sentence of the invented corpora counts as blameful when it is labelled with a
category outside that set. The real corpus is checked without a
roster, as a first draft would be; the invented corpora with the roster in their header.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from analysis.language import FRAMING_CATEGORIES, check  # noqa: E402

DATA = ROOT / "tests" / "data"
REAL = DATA / "review_sentences_real.tsv"
INVENTED = (
    DATA / "review_sentences.tsv",
    DATA / "review_sentences_holdout.tsv",
    DATA / "review_sentences_holdout2.tsv",
)
NOT_BLAME = FRAMING_CATEGORIES


@dataclasses.dataclass(frozen=True)
class Sentence:
    blameful: bool
    text: str
    names: tuple[str, ...] = ()
    source: str = ""


@dataclasses.dataclass(frozen=True)
class Score:
    tp: int
    fp: int
    fn: int
    tn: int
    misses: tuple[tuple[str, Sentence], ...]  # ("FP" or "FN", sentence)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else float("nan")

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else float("nan")

    @property
    def n(self) -> int:
        return self.tp + self.fp + self.fn + self.tn


def real_part(part: str) -> list[Sentence]:
    """Sentences of the real corpus in ``part`` ("tune" or "held"), without names."""
    if part not in ("tune", "held"):
        raise ValueError("part must be 'tune' or 'held'")
    rows = []
    for line in REAL.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        label, split, source, text = line.split("\t")
        if split == part:
            rows.append(Sentence(label == "B", text, (), source))
    return rows


def invented_rows(path: Path) -> tuple[tuple[str, ...], list[tuple[frozenset[str], str, str]]]:
    """The roster in the header of an invented corpus file, and its rows as
    (labelled categories, section, sentence)."""
    names: tuple[str, ...] = ()
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# names:"):
            names = tuple(n.strip() for n in line[len("# names:"):].split(";") if n.strip())
        elif line.strip() and not line.startswith("#"):
            labels, section, text = line.split("\t")
            rows.append((frozenset() if labels == "-" else frozenset(labels.split(",")),
                         section, text))
    return names, rows


def invented() -> list[Sentence]:
    """All sentences of the three invented corpora, each with its file's roster."""
    sentences = []
    for path in INVENTED:
        names, rows = invented_rows(path)
        sentences.extend(Sentence(bool(expected - NOT_BLAME), text, names, path.name)
                         for expected, _section, text in rows)
    return sentences


def flagged(sentence: Sentence) -> bool:
    return any(f.category not in NOT_BLAME for f in check(sentence.text, sentence.names).findings)


def score(sentences: list[Sentence]) -> Score:
    tp = fp = fn = tn = 0
    misses = []
    for sentence in sentences:
        found = flagged(sentence)
        if found and sentence.blameful:
            tp += 1
        elif found:
            fp += 1
            misses.append(("FP", sentence))
        elif sentence.blameful:
            fn += 1
            misses.append(("FN", sentence))
        else:
            tn += 1
    return Score(tp, fp, fn, tn, tuple(misses))


PARTS = {
    "held": ("Real, held out (no roster)", lambda: real_part("held")),
    "tune": ("Real, tuned on (no roster)", lambda: real_part("tune")),
    "invented": ("Invented, all three files (with roster)", invented),
}


def table(parts: tuple[str, ...] = ("held", "tune", "invented")) -> str:
    lines = [
        "| part | sentences | blameful | TP | FP | FN | precision | recall |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for part in parts:
        label, load = PARTS[part]
        s = score(load())
        lines.append(f"| {label} | {s.n} | {s.tp + s.fn} | {s.tp} | {s.fp} | {s.fn} | "
                     f"{s.precision:.3f} | {s.recall:.3f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--misses", action="store_true",
                        help="list the wrong calls in the tuned and invented parts")
    args = parser.parse_args(argv)
    print(table())
    if args.misses:
        for part in ("tune", "invented"):
            for kind, sentence in score(PARTS[part][1]()).misses:
                print(f"{part}\t{kind}\t{sentence.text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
