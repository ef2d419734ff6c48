"""Behaviour and measured quality of analysis.language, the review language check.

Quality is measured on labelled sentences in ``tests/data/``: each sentence is checked on its
own, with the corpus roster as ``names``, and the set of categories among its findings is
compared with the labelled set. Matching is per sentence and per category: a category both
found and labelled is a true positive, found but not labelled a false positive, labelled but
not found a false negative. Precision and recall are micro-averaged over all sentences and
categories (and reported per category). Print the tables with
``.venv/bin/python -m pytest -q -s tests/unit/test_language.py -k docs_quote``.
"""

from __future__ import annotations

import dataclasses
import doctest
import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from analysis import language
from analysis.language import (
    CATEGORIES,
    MAX_FINDINGS,
    NOTICE_BINARY,
    NOTICE_EMPTY,
    NOTICE_NOT_ENGLISH,
    SEVERITIES,
    Finding,
    Report,
    check,
    severity_at_least,
    severity_rank,
)

DATA = Path(__file__).resolve().parent.parent / "data"
DEVELOPMENT = DATA / "review_sentences.tsv"
HOLDOUT = DATA / "review_sentences_holdout.tsv"
HOLDOUT2 = DATA / "review_sentences_holdout2.tsv"

PRECISION_FLOOR = 0.85
RECALL_FLOOR = 0.80


# --------------------------------------------------------------------------------------------
# Corpus helpers
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Corpus:
    names: tuple[str, ...]
    rows: tuple[tuple[frozenset[str], str, str], ...]  # (expected categories, section, text)


def load_corpus(path: Path) -> Corpus:
    names: tuple[str, ...] = ()
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.startswith("# names:"):
            names = tuple(n.strip() for n in line[len("# names:"):].split(";") if n.strip())
            continue
        if not line.strip() or line.startswith("#"):
            continue
        labels, section, text = line.split("\t")
        expected = frozenset() if labels == "-" else frozenset(labels.split(","))
        unknown = expected - set(CATEGORIES)
        if unknown:
            raise ValueError(f"{path.name}:{number}: unknown categories {sorted(unknown)}")
        rows.append((expected, section, text))
    return Corpus(names, tuple(rows))


@dataclasses.dataclass(frozen=True)
class Scores:
    tp: Counter[str]
    fp: Counter[str]
    fn: Counter[str]

    @staticmethod
    def _ratio(hit: int, miss: int) -> float:
        return hit / (hit + miss) if hit + miss else float("nan")

    def precision(self, category: str | None = None) -> float:
        if category is None:
            return self._ratio(sum(self.tp.values()), sum(self.fp.values()))
        return self._ratio(self.tp[category], self.fp[category])

    def recall(self, category: str | None = None) -> float:
        if category is None:
            return self._ratio(sum(self.tp.values()), sum(self.fn.values()))
        return self._ratio(self.tp[category], self.fn[category])


def score(corpus: Corpus) -> Scores:
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    for expected, _section, text in corpus.rows:
        found = {f.category for f in check(text, corpus.names).findings}
        tp.update(found & expected)
        fp.update(found - expected)
        fn.update(expected - found)
    return Scores(tp, fp, fn)


def table(scores: Scores) -> str:
    lines = ["| category | TP | FP | FN | precision | recall |", "|---|---:|---:|---:|---:|---:|"]
    for category, label in CATEGORIES.items():
        lines.append(
            f"| {label} (`{category}`) | {scores.tp[category]} | {scores.fp[category]} | "
            f"{scores.fn[category]} | {scores.precision(category):.2f} | "
            f"{scores.recall(category):.2f} |"
        )
    lines.append(
        f"| **overall** | {sum(scores.tp.values())} | {sum(scores.fp.values())} | "
        f"{sum(scores.fn.values())} | **{scores.precision():.3f}** | **{scores.recall():.3f}** |"
    )
    return "\n".join(lines)


@pytest.fixture(scope="module")
def development() -> Corpus:
    return load_corpus(DEVELOPMENT)


@pytest.fixture(scope="module")
def holdout() -> Corpus:
    return load_corpus(HOLDOUT)


@pytest.fixture(scope="module")
def holdout2() -> Corpus:
    return load_corpus(HOLDOUT2)


def categories_of(text: str, names: tuple[str, ...] = ()) -> set[str]:
    return {f.category for f in check(text, names).findings}


# --------------------------------------------------------------------------------------------
# Measured quality
# --------------------------------------------------------------------------------------------


def test_corpus_is_big_enough_and_about_half_blame_loaded(development):
    assert len(development.rows) >= 300
    clean = sum(1 for expected, _, _ in development.rows if not expected)
    assert 0.35 <= clean / len(development.rows) <= 0.65
    assert {s for _, s, _ in development.rows} == {"T", "F", "A", "S"}
    labelled = Counter(c for expected, _, _ in development.rows for c in expected)
    assert all(labelled[c] >= 10 for c in CATEGORIES), labelled
    assert development.names


def test_development_corpus_meets_floors(development):
    scores = score(development)
    assert scores.precision() >= PRECISION_FLOOR, table(scores)
    assert scores.recall() >= RECALL_FLOOR, table(scores)


@pytest.mark.parametrize("name", ["holdout", "holdout2"])
def test_holdout_corpora_meet_floors(name, request):
    corpus = request.getfixturevalue(name)
    scores = score(corpus)
    assert len(corpus.rows) >= 100
    assert scores.precision() >= PRECISION_FLOOR, table(scores)
    assert scores.recall() >= RECALL_FLOOR, table(scores)


def overall_row(scores: Scores) -> str:
    return table(scores).splitlines()[-1]


def test_docs_quote_the_current_figures(development, holdout, holdout2):
    """docs/review-language.md must show what the checker measures now.

    Run with -s to print the tables to paste into the docs after a change to the rules.
    """
    docs = (DATA.parent.parent / "docs" / "review-language.md").read_text(encoding="utf-8")
    corpora = (("development", development), ("holdout", holdout), ("holdout2", holdout2))
    for name, corpus in corpora:
        print(f"\n{name}: {len(corpus.rows)} sentences\n{table(score(corpus))}")
    assert overall_row(score(development)) in docs
    assert overall_row(score(holdout2)) in docs


# --------------------------------------------------------------------------------------------
# Negation
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, category",
    [
        ("There was no single root cause; several conditions combined.", "cause_framing"),
        ("We did not look for a root cause.", "cause_framing"),
        ("The review avoids the term root cause.", "cause_framing"),
        ("Several factors rather than one root cause.", "cause_framing"),
        ("Nobody was careless here.", "blame_adjective"),
        ("The outage was not the result of carelessness.", "blame_adjective"),
        ("We did not look for someone to blame.", "fault_blame"),
        ("No one is to blame for the expired certificate.", "fault_blame"),
        ("It was nobody's fault.", "fault_blame"),
        ("This was not human error but a console that invited it.", "human_error"),
        ("It was not obvious from the dashboard.", "hindsight"),
        ("We will not retrain anyone; the console will change.", "person_fix"),
        ("We asked what enabled this rather than who deployed it.", "person_as_subject"),
    ],
)
def test_negation_reverses_the_phrase(text, category):
    assert category not in categories_of(text)


@pytest.mark.parametrize(
    "text, category",
    [
        ("The root cause was a missing index.", "cause_framing"),
        ("Nobody wants to say it, but the QA team is to blame.", "fault_blame"),
        ("The engineer was careless with the credentials.", "blame_adjective"),
        ("In short, this was human error.", "human_error"),
        # "should not have" is still a counterfactual: negation does not undo it
        ("The on-call should not have restarted the primary.", "counterfactual"),
        ("The on-call shouldn't have restarted the primary.", "counterfactual"),
    ],
)
def test_without_negation_the_phrase_is_found(text, category):
    assert category in categories_of(text)


# --------------------------------------------------------------------------------------------
# Quotation and Markdown
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        'At 14:02 someone asked in chat: "who deployed this?"',
        "At 14:02 someone asked in chat: \u201cwho broke it? the root cause is careless "
        "ops\u201d",
        "The phrase 'human error' does not appear here.",
        "A responder wrote \u2018I didn\u2019t check the canary, it\u2019s my fault\u2019.",
        "> 15:31 Whose fault is this? Someone should have checked.",
        "Run `should have checked` through the linter.",
        "```\nroot cause: a careless engineer forgot to check\n```",
        "See https://wiki.example/root-cause-careless-human-error for history.",
        'The chat said "the root cause\nwas human error" across a line break.',
    ],
)
def test_quotes_code_and_urls_are_not_the_author_speaking(text):
    assert check(text).findings == ()


def test_text_outside_quotes_is_still_checked():
    text = 'Sam wrote "don\'t blame anyone" but the root cause was human error.'
    found = categories_of(text, ("Sam",))
    assert found == {"named_individual", "cause_framing", "human_error"}


def test_apostrophes_do_not_open_quotes():
    text = "The engineers' laptops were fine, but the developer didn't check the lag."
    assert "person_as_subject" in categories_of(text)


def test_unclosed_fence_masks_to_the_end_and_closed_fence_does_not():
    assert check("Intro.\n```\nthe root cause\n").findings == ()
    report = check("```\nlog line\n```\nThe root cause was a timeout.")
    assert [f.text for f in report.findings] == ["root cause"]


# --------------------------------------------------------------------------------------------
# Case and inflection
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, category",
    [
        ("The engineer should've checked.", "counterfactual"),
        ("The engineer should\u2019ve checked.", "counterfactual"),
        ("The engineer SHOULD HAVE CHECKED.", "counterfactual"),
        ("The change should have been reviewed.", "counterfactual"),
        ("Someone ought to have tested the restore.", "counterfactual"),
        ("This could have been avoided.", "counterfactual"),
        ("Had the engineer run the tests, this would not have happened.", "counterfactual"),
        ("If only the runbook had been read.", "counterfactual"),
        ("The engineer failed to escalate.", "person_as_subject"),
        ("The engineer fails to escalate every time.", "person_as_subject"),
        ("He didn't check the replica.", "person_as_subject"),
        ("He did not check the replica.", "person_as_subject"),
        ("She had forgotten to renew it.", "person_as_subject"),
        ("Someone Forgot To renew it.", "person_as_subject"),
        ("ROOT CAUSE: disk.", "cause_framing"),
        ("After a root-cause analysis we knew more.", "cause_framing"),
        ("The RCA says so.", "cause_framing"),
        ("Operator errors piled up.", "human_error"),
        ("A fat-fingered value.", "human_error"),
        ("Sloppiness was to blame.", "blame_adjective"),
    ],
)
def test_case_and_inflection(text, category):
    assert category in categories_of(text)


@pytest.mark.parametrize(
    "text",
    [
        "The alert should page the on-call engineer.",
        "Every service should have a runbook link.",
        "Nobody should have to remember a manual step at 3 a.m.",
        "We should have a second approver for config changes.",
        "A canary stage would have caught this regression, so we are adding one.",
        "The deploy pipeline should block config changes that skip the canary.",
        "If the on-call engineer acknowledged the page, Beacon stops escalating.",
    ],
)
def test_forward_looking_should_is_a_requirement_not_a_judgement(text):
    assert check(text).findings == ()


# --------------------------------------------------------------------------------------------
# Names, people and systems
# --------------------------------------------------------------------------------------------


def test_systems_named_like_people_are_not_people_unless_listed():
    text = "Jenkins failed to run the migration step. Hermes the deploy bot skipped the canary."
    assert check(text).findings == ()
    assert check(text, ["Sam Okafor"]).findings == ()
    listed = categories_of(text, ("Jenkins",))
    assert listed == {"named_individual", "person_as_subject"}


def test_names_match_whole_words_parts_and_possessives():
    names = ["Sam Okafor", "priya"]
    text = "Sam Okafor paged Priya. Okafor's change; Samuel and Sam-bot are not Sam."
    report = check(text, names)
    named = [(f.text, f.start) for f in report.findings if f.category == "named_individual"]
    assert named == [
        ("Sam Okafor", 0),
        ("Priya", text.index("Priya")),
        ("Okafor", text.index("Okafor's")),
        ("Sam", text.rindex("Sam")),
    ]


def test_lower_case_words_are_not_names():
    # "Will" in the roster must not flag the auxiliary verb; names match case-sensitively.
    report = check("The alert will fire and Will acknowledges it.", ["Will"])
    assert [f.text for f in report.findings] == ["Will"]


def test_failure_verbs_need_a_person_as_subject():
    assert "person_as_subject" not in categories_of("The failover script did not check lag.")
    assert "person_as_subject" in categories_of("The operator did not check lag.")
    assert "person_as_subject" in categories_of("Dana did not check lag.", ("Dana",))
    assert "person_as_subject" not in categories_of("Jenkins, not a person, skipped the stage.")


def test_possessives_and_phrasal_verbs_are_not_failures():
    assert "person_as_subject" not in categories_of("Sam's laptop failed to boot.", ("Sam",))
    assert "person_as_subject" not in categories_of("A developer broke down the problem.")
    assert "person_as_subject" in categories_of("The engineer's mistake took it down.")
    assert "person_as_subject" in categories_of("The developer broke production.")


def test_relative_who_describes_and_question_who_asks():
    assert "person_as_subject" not in categories_of("The engineer who deployed it joined.")
    assert "person_as_subject" in categories_of("Who deployed this on a Friday?")
    assert "person_as_subject" in categories_of("The engineer who broke it joined.")


# --------------------------------------------------------------------------------------------
# Spans, ordering, output shape
# --------------------------------------------------------------------------------------------


REVIEW = """# Checkout errors, 14 March

## Timeline

- 09:12 Hermes the deploy bot promoted build 4812.
- 09:14 Sam asked in chat: "who deployed this?"
- 09:20 Priya forgot to update the status page.

```
09:21 ERROR root cause unknown, careless retry
```

## Contributing factors

There was no single root cause. The root cause was a missing timeout.
The engineer should have checked the canary.

## Action items

- The alert should page the on-call engineer.
- Owner: platform team.
"""


def test_a_whole_review_gives_exactly_the_expected_findings():
    report = check(REVIEW, ["Sam Okafor", "Priya Raman"])
    got = [(f.category, f.text) for f in report.findings]
    assert got == [
        ("named_individual", "Sam"),
        ("named_individual", "Priya"),
        ("person_as_subject", "Priya forgot"),
        ("cause_framing", "root cause"),
        ("counterfactual", "should have checked"),
        ("ownership_wording", "Owner"),
    ]
    assert report.findings[3].start == REVIEW.index("The root cause") + 4
    assert report.notice is None


def test_spans_index_the_original_text(development):
    text = "\n".join(t for _, _, t in development.rows)
    text = "\u00dcnic\u00f6de \u2014 \u4e2d\u6587 first. " + text  # non-ASCII before offsets
    report = check(text, development.names)
    assert report.findings
    for finding in report.findings:
        assert text[finding.start:finding.end] == finding.text
        assert finding.start < finding.end
    starts = [f.start for f in report.findings]
    assert starts == sorted(starts)


def test_person_span_runs_from_the_person_to_the_verb():
    text = "At 09:20 Priya forgot to update the status page."
    (finding,) = [f for f in check(text, ["Priya"]).findings if f.category == "person_as_subject"]
    assert finding.text == "Priya forgot"


def test_every_finding_explains_itself_and_suggests_a_rewrite(development):
    text = "\n".join(t for _, _, t in development.rows)
    report = check(text, development.names)
    seen = {f.category for f in report.findings}
    assert seen == set(CATEGORIES)
    for finding in report.findings:
        assert finding.explanation and "\n" not in finding.explanation
        assert finding.suggestions and all(finding.suggestions)
        assert finding.severity in SEVERITIES
        assert finding.category in CATEGORIES


def test_summary_counts_findings_per_category():
    text = "The root cause was human error. Another root cause: operator error."
    report = check(text)
    assert list(report.summary) == list(CATEGORIES)
    assert report.summary["cause_framing"] == 2
    assert report.summary["human_error"] == 2
    assert report.total == len(report.findings) == 4
    assert report.notice is None


def test_report_is_frozen_and_json_ready():
    report = check("Sam should have checked. The root cause was a typo.", ["Sam"])
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.notice = "x"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.findings[0].start = 0  # type: ignore[misc]
    data = json.loads(json.dumps(report.to_dict()))
    assert set(data) == {"findings", "summary", "total", "notice", "categories"}
    first = data["findings"][0]
    assert set(first) == {f.name for f in dataclasses.fields(Finding)}
    assert isinstance(first["suggestions"], list)
    assert data["categories"] == CATEGORIES


def test_severities_are_ordered():
    assert SEVERITIES == ("info", "warning", "high")
    assert [severity_rank(s) for s in SEVERITIES] == [0, 1, 2]
    assert severity_at_least("high", "warning")
    assert severity_at_least("warning", "warning")
    assert not severity_at_least("info", "warning")
    with pytest.raises(ValueError):
        severity_rank("critical")
    blame = [f for f in check("A careless push.").findings]
    assert blame[0].severity == "high"


# --------------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, b"root cause", 42, ["root cause"]])
def test_non_str_text_is_a_value_error(value):
    with pytest.raises(ValueError):
        check(value)  # type: ignore[arg-type]


@pytest.mark.parametrize("names", ["Sam", b"Sam", ["Sam", None], 5])
def test_bad_names_are_a_value_error(names):
    with pytest.raises(ValueError):
        check("Sam forgot.", names)  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["", "   \n\t  ", "\n\n"])
def test_empty_text_says_so(text):
    assert check(text) == Report((), dict.fromkeys(CATEGORIES, 0), NOTICE_EMPTY)


@pytest.mark.parametrize(
    "text",
    [
        "\x00\x01\x02root cause\x03\x04",
        "PK\x03\x04\x14\x00\x06\x00" * 200 + "root cause",
        "\ufffd\ufffd\ufffdroot cause\ufffd",
    ],
)
def test_binary_junk_is_not_checked(text):
    report = check(text)
    assert report.findings == ()
    assert report.notice == NOTICE_BINARY


def test_a_stray_control_character_in_real_text_is_tolerated():
    text = "The root cause was a timeout.\x00" + " The team rolled back and errors fell." * 30
    report = check(text)
    assert report.notice is None
    assert [f.category for f in report.findings] == ["cause_framing"]


@pytest.mark.parametrize(
    "text",
    [
        "Die Ursache war ein Fehler in der Konfiguration, und niemand hat den Alarm "
        "rechtzeitig gesehen, weil das Telefon stumm geschaltet war.",
        "\u969c\u5bb3\u306e\u6839\u672c\u539f\u56e0\u306f\u8a2d\u5b9a\u30df\u30b9\u3067\u3057"
        "\u305f\u3002\u62c5\u5f53\u8005\u304c\u78ba\u8a8d\u3092\u6020\u308a\u307e\u3057\u305f",
        "La causa ra\u00edz fue un error humano del operador, que no revis\u00f3 la "
        "configuraci\u00f3n antes de desplegar el cambio en producci\u00f3n.",
    ],
)
def test_other_languages_get_an_honest_notice(text):
    report = check(text)
    assert report.notice == NOTICE_NOT_ENGLISH
    assert report.findings == ()


def test_short_english_text_gets_no_language_notice():
    assert check("Root cause: disk.").notice is None
    assert check("ok").notice is None


def _five_megabytes(development: Corpus) -> str:
    block = "\n\n".join(f"- {t}" for _, _, t in development.rows)
    return (block * (5_000_000 // len(block) + 1))[:5_000_000]


def test_five_megabyte_paste_completes_and_caps_findings(development):
    text = _five_megabytes(development)
    start = time.perf_counter()
    report = check(text, development.names)
    elapsed = time.perf_counter() - start
    assert elapsed < 20, f"5 MB took {elapsed:.1f} s"
    assert len(report.findings) == MAX_FINDINGS
    assert report.total > MAX_FINDINGS
    assert report.notice is not None and "first 1,000" in report.notice


@pytest.mark.slow
@pytest.mark.parametrize(
    "unit",
    ['"', "'a ", "```\n", "don't ", "x. ", "should have ", "\u201c", "\u2018a ", "a" * 50 + " "],
)
def test_adversarial_five_megabytes_stay_linear(unit):
    text = unit * (5_000_000 // len(unit))
    start = time.perf_counter()
    check(text, ["Sam Okafor"])
    assert time.perf_counter() - start < 20


# --------------------------------------------------------------------------------------------
# Purity and documentation
# --------------------------------------------------------------------------------------------


def test_module_imports_neither_flask_nor_a_database():
    code = (
        "import sys, analysis.language; "
        "print(sorted(m for m in ('flask', 'sqlalchemy', 'surveys') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert out.stdout.strip() == "[]"


def test_docstring_example_runs():
    failures, tried = doctest.testmod(language, verbose=False)
    assert tried >= 1 and failures == 0
