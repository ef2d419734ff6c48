"""Blame-loaded language in incident review drafts.

``check(text, names)`` reads a review (Markdown or plain text) and returns the wording that
puts a person forward as the explanation of an incident instead of what made the failure
possible: a person, role, team, pronoun or name as the doer of an error ("the on-call engineer
restarted the wrong cluster"), a cause pinned on a person ("a slip by the DBA"), "human error"
given as the cause, counterfactuals about people (never "the alert should have fired"),
self-blame, disciplinary wording, fault-finding questions and asides, blame adjectives,
hindsight, fault words, rule-breaking framing and follow-ups aimed at people; and, as framing
advice, single-cause wording ("root cause"), ownership wording and rostered names.

Method
------
Each category is a small set of hand-written regular expressions, compiled once and run over
an ASCII-lowercased copy of the text with ``finditer``; every match is then filtered by local
context checks, each looking at a bounded window, so the whole check is linear in the length
of the text:

* quotation: matches inside quoted speech ("...", curly quotes, '...'), Markdown code spans,
  fenced code blocks, block quotes (lines starting with ``>``) and URLs are dropped, because
  a timeline that records what was said is not the author's framing;
* negation: for categories where negation reverses the meaning ("there was no single root
  cause", "nobody was careless", "you don't fire someone for one mistake"), a negator between
  the start of the clause and the match drops it;
* actors: error wording counts only with a person as its doer, looked for back to the start
  of the sentence: a rostered name (:class:`analysis.language_names.Roster`, one automaton
  for all names), a guessed first name (:func:`analysis.language_names.guessed_names`, only
  for unmistakable errors), a pronoun, "I" or "we" (self-blame), a role noun or a team; a
  system noun phrase right before the verb is its subject instead ("... and the job failed
  to start"); "human error" counts only where the sentence gives it as the cause, not where
  it says the safeguards were missing.

``check`` takes an optional ``deadline`` and raises :class:`CheckTimeout` past it, so that a
server can bound the work of one request.

The word lists follow the blameless-review literature: counterfactuals and hindsight bias
(Dekker, *The Field Guide to Understanding 'Human Error'*, 3rd ed., 2014, ch. 2-3), "human
error" as a starting point, not a conclusion (ibid.; Reason, *Human Error*, 1990), and the
move from "root cause" to contributing factors (Allspaw, "The Infinite Hows", 2014; Cook,
"How Complex Systems Fail", 1998). Sentence-level precision and recall on published incident
text and on invented sentences are in ``docs/review-language.md``.

This module is pure: no Flask, no database, no I/O.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import re
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from analysis.language_names import Roster, guessed_names

__all__ = [
    "CATEGORIES",
    "CheckTimeout",
    "FRAMING_CATEGORIES",
    "LIMITS",
    "MAX_FINDINGS",
    "NOTICE_BINARY",
    "NOTICE_EMPTY",
    "NOTICE_NOT_ENGLISH",
    "PHRASES",
    "SEVERITIES",
    "Finding",
    "Report",
    "check",
    "severity_at_least",
    "severity_rank",
]

CATEGORIES: dict[str, str] = {
    "cause_framing": "Single-cause framing",
    "counterfactual": "Counterfactual judgement",
    "person_as_subject": "Person as the subject of a failure",
    "person_as_cause": "A person named as the cause",
    "self_blame": "Self-blame",
    "named_individual": "Named individual",
    "blame_adjective": "Blame adjective",
    "ownership_wording": "Ownership wording",
    "human_error": "\u201cHuman error\u201d as an explanation",
    "hindsight": "Hindsight and minimising",
    "fault_blame": "Fault, blame and punishment",
    "disciplinary": "Disciplinary wording",
    "procedure_violation": "Rule-breaking framing",
    "person_fix": "Follow-up aimed at a person",
    "fault_question": "Fault-finding question or aside",
}
"""Category id -> human label, in the order a report lists them."""

FRAMING_CATEGORIES: frozenset[str] = frozenset(
    {"cause_framing", "ownership_wording", "named_individual"}
)
"""Categories about framing rather than blame: single-cause and ownership wording (advice on
how a review reads) and named individuals (a name is not blame by itself). Every other
category points at a person as the explanation; :attr:`Report.blame_total` counts those."""

SEVERITIES: tuple[str, ...] = ("info", "warning", "high")
"""Severities from least to most severe."""

MAX_FINDINGS = 1000
"""At most this many findings are returned; ``Report.summary`` still counts all of them."""

NOTICE_EMPTY = "There is no text to check."
NOTICE_BINARY = "This does not look like text, so it was not checked."
NOTICE_NOT_ENGLISH = (
    "This check understands English only; no findings does not mean no blame."
)

class CheckTimeout(Exception):
    """The check did not finish before its deadline (see :func:`check`)."""


_SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}


def severity_rank(severity: str) -> int:
    """Position of ``severity`` in :data:`SEVERITIES` (0 is least severe).

    Raises
    ------
    ValueError
        If ``severity`` is not one of :data:`SEVERITIES`.
    """
    try:
        return _SEVERITY_RANK[severity]
    except KeyError:
        raise ValueError(f"unknown severity {severity!r}; expected one of {SEVERITIES}") from None


def severity_at_least(severity: str, threshold: str) -> bool:
    """Whether ``severity`` is as severe as ``threshold`` or more."""
    return severity_rank(severity) >= severity_rank(threshold)


@dataclass(frozen=True)
class Finding:
    """One phrase worth a second look.

    Attributes
    ----------
    start, end : int
        Character offsets into the checked text; ``text[start:end] == finding.text``.
    text : str
        The matched words.
    category : str
        A key of :data:`CATEGORIES`.
    severity : str
        One of :data:`SEVERITIES`.
    explanation : str
        One line saying why the phrase matters in a blameless review.
    suggestions : tuple of str
        One or more ways to say it instead.
    id : str
        Names the finding within its draft: the category, a digest of the matched words and
        which occurrence of them it is ("person_as_subject-3f2a9c1d-2"). It stays the same
        when other parts of the draft change, so a dismissal survives an edit elsewhere.
    """

    start: int
    end: int
    text: str
    category: str
    severity: str
    explanation: str
    suggestions: tuple[str, ...]
    id: str = ""

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-ready mapping (suggestions as a list)."""
        data = asdict(self)
        data["suggestions"] = list(self.suggestions)
        return data


@dataclass(frozen=True)
class Report:
    """Result of :func:`check`.

    Attributes
    ----------
    findings : tuple of Finding
        In text order, at most :data:`MAX_FINDINGS`.
    summary : dict of str to int
        Number of findings per category id, every category present (zeros included).
    notice : str or None
        An honest message when the result needs one: empty text, text that is not text,
        text that does not look like English, or findings cut at :data:`MAX_FINDINGS`.
    roster : bool
        Whether names were given, which makes name detection exact (see :attr:`limits`).
    dismissed : int
        How many findings :meth:`dismiss` removed.
    """

    findings: tuple[Finding, ...]
    summary: dict[str, int] = field(default_factory=dict)
    notice: str | None = None
    roster: bool = False
    dismissed: int = 0

    @property
    def total(self) -> int:
        """Number of findings before any cut at :data:`MAX_FINDINGS`."""
        return sum(self.summary.values())

    @property
    def blame_total(self) -> int:
        """Findings in categories that point at a person (not :data:`FRAMING_CATEGORIES`)."""
        return sum(n for c, n in self.summary.items() if c not in FRAMING_CATEGORIES)

    @property
    def limits(self) -> tuple[str, ...]:
        """Plain sentences saying what the check can and cannot see, for this report."""
        names = LIMIT_ROSTER if self.roster else LIMIT_NO_ROSTER
        return (names, *LIMITS)

    def dismiss(self, ids: Sequence[str]) -> Report:
        """The same report without the findings whose :attr:`Finding.id` is in ``ids``.

        Unknown ids are ignored (the draft may have changed). The summary no longer counts
        the dismissed findings, and :attr:`dismissed` says how many there were.
        """
        wanted = set(ids)
        gone = [f for f in self.findings if f.id in wanted]
        if not gone:
            return self
        summary = dict(self.summary)
        for finding in gone:
            summary[finding.category] -= 1
        kept = tuple(f for f in self.findings if f.id not in wanted)
        return Report(kept, summary, self.notice, self.roster, self.dismissed + len(gone))

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-ready mapping, with category labels for display."""
        return {
            "findings": [f.to_dict() for f in self.findings],
            "summary": dict(self.summary),
            "total": self.total,
            "blame_total": self.blame_total,
            "dismissed": self.dismissed,
            "notice": self.notice,
            "limits": list(self.limits),
            "categories": dict(CATEGORIES),
        }


LIMIT_ROSTER = (
    "Names come from the roster given, so every listed name is found exactly; a person "
    "not on the roster is still found when a capitalised first name is the subject of an "
    "error."
)
LIMIT_NO_ROSTER = (
    "No roster was given, so names are guessed: a capitalised word counts as a person only "
    "where it is the subject of an error, and a bot named like a person can be mistaken for "
    "one. Give a roster to make name detection exact."
)
LIMITS: tuple[str, ...] = (
    "It reads sentences, not the review as a whole: it does not see tone, sarcasm, or a "
    "timeline in which only one person's actions are listed.",
    "Quoted words (in quotation marks, code or block quotes) are taken as someone's words on "
    "record and are not checked.",
    "\u201cShould have\u201d about a system (\u201cthe alert should have fired\u201d), "
    "\u201chuman error\u201d in a sentence about missing safeguards, and questions about "
    "design are not flagged.",
    "English only. No findings does not mean no blame: on published incident text it finds "
    "about four in five blaming sentences.",
)
"""What the check cannot see, stated for every report (see :attr:`Report.limits`)."""


# --------------------------------------------------------------------------------------------
# Vocabulary
# --------------------------------------------------------------------------------------------

_APOS = "['\u2019]"
_NOT = rf"(?:\s+not|n{_APOS}t)"
# Past participles after "should have" / "had": regular -ed forms plus the common irregulars.
# "should have a runbook" or "should have to" are requirements, not judgements, and do not match.
_PARTICIPLE = (
    r"(?:[a-z]+ed|been|done|known|seen|caught|run|gone|taken|written|made|built|sent|put|set|"
    r"held|kept|read|told|thought|brought|had|given|shown|found|got|gotten|left|let|begun|"
    r"understood|chosen|driven|hit|shut|spent|stood|woken|rolled|paid|said|spotted|stopped)\b"
)
_ROLE = (
    r"(?:(?:software\s+|site\s+reliability\s+|network\s+|support\s+|release\s+)?engineer|"
    r"developer|dev|operator|sre|dba|admin|administrator|sysadmin|on-?call|on\s+call|"
    r"responder|intern|new\s+hire|contractor|reviewer|deployer|release\s+manager|manager|"
    r"person|team\s+member|teammate|colleague|co-?worker|programmer|technician|employee|"
    r"staffer|staff|worker|crew|captain|pilot|first\s+officer|co-?pilot|driver|"
    r"air\s+traffic\s+controller|electrician|aide|officer|supervisor|dispatcher|guy|man|woman|"
    r"team\s+[a-z]|(?:ops|operations|it|qa|sre|dev|devops|network|platform|support|database|"
    r"security|infrastructure|infra|release|on-?call|outsourced\s+operations)\s+(?:team|group|"
    r"crew)|members?\s+of\s+staff|team)s?(?!\s+(?:errors?|teams?)\b)(?![\w-])"
)
_PRONOUN = r"(?:he|she|someone|somebody|they|you)"
_SELF = r"(?:i(?![.\w-])|we)"
_NEGATOR = re.compile(
    rf"\b(?:no|not|never|nor|none|nobody|no[\s-]one|neither|without|rather\s+than|"
    rf"instead\s+of|avoid(?:s|ed|ing)?\s+(?:the\s+(?:term|phrase|word|label)|asking|using|"
    rf"saying|naming|looking|blaming|assigning)|n{_APOS}t|cannot|hardly|stop(?:ped)?\s+using|"
    rf"move[sd]?\s+away\s+from)\b|n{_APOS}t\b"
)
# The clause a match belongs to starts after the last of these.
_CLAUSE_BREAK = re.compile(r"[.;:!?\n\u2013\u2014]|\s-\s|\bbut\b")
_WINDOW = 72
_DENIED_ACTOR = re.compile(r"\b(?:not|no)\s+(?:a\s+|an\s+|the\s+)?$")

_INFO, _WARN, _HIGH = SEVERITIES


@dataclass(frozen=True)
class _Rule:
    category: str
    pattern: str
    explanation: str
    suggestions: tuple[str, ...]
    negatable: bool = False
    needs_actor: bool = False
    relative_ok: bool = False  # "the engineer who deployed it" describes; it does not ask
    severity: str | None = None
    # Which first-person subjects count as actors (then the finding is self-blame): "" none,
    # "i" the singular only, "iwe" "I" and "we" (only for unmistakable errors, since "we" is
    # usually the collective voice a review wants).
    self_ok: str = "i"
    guess_ok: bool = True  # whether a guessed (not rostered) name counts as a person


_CATEGORY_SEVERITY = {
    "cause_framing": _WARN,
    "counterfactual": _WARN,
    "person_as_subject": _WARN,
    "person_as_cause": _WARN,
    "self_blame": _WARN,
    "named_individual": _INFO,
    "blame_adjective": _HIGH,
    "ownership_wording": _INFO,
    "human_error": _WARN,
    "hindsight": _INFO,
    "fault_blame": _HIGH,
    "disciplinary": _HIGH,
    "procedure_violation": _WARN,
    "person_fix": _WARN,
    "fault_question": _WARN,
}

_RULES: tuple[_Rule, ...] = (
    # --- cause framing -----------------------------------------------------------------
    _Rule(
        "cause_framing",
        r"\broot[\s-]+caus(?:e|es|ed|ing)\b|\brcas?\b",
        "\u201cRoot cause\u201d suggests one cause to find and fix; incidents in complex "
        "systems come from several conditions together.",
        ("contributing factors", "what conditions made this possible"),
        negatable=True,
    ),
    _Rule(
        "cause_framing",
        r"\b(?:single|real|actual|main|primary|underlying|true|ultimate|sole|direct)\s+"
        r"causes?\b|\bthe\s+cause\s+(?:of\s+(?:the|this|that)\s+(?:outage|incident|failure|"
        r"problem|issue|downtime|data\s+loss|regression|degradation|breach)\s+)?(?:was|is)\b"
        r"|\broot\s+of\s+the\s+(?:problem|issue|incident|outage|failure)\b"
        r"|\bat\s+(?:its|the)\s+(?:core|heart)\b|\b(?:was|is)\s+the\s+trigger\b",
        "Naming one cause closes the inquiry early and hides the other conditions involved.",
        ("one contributing factor was", "among the conditions that made this possible was"),
        negatable=True,
    ),
    # --- counterfactual judgement ------------------------------------------------------
    _Rule(
        "counterfactual",
        rf"\bshould(?:{_NOT}|\s+never)?\s+have\s+(?:(?:[a-z]+ly|just|really|at\s+least)\s+)?"
        rf"{_PARTICIPLE}"
        rf"|\bshould(?:n{_APOS}t)?{_APOS}ve\b|\bshould\s+of\s+[a-z]+ed\b"
        rf"|\bought{_NOT}?\s+(?:to\s+)?have\s+{_PARTICIPLE}",
        "\u201cShould have\u201d judges a past decision by what we know now, not by what "
        "people saw at the time.",
        (
            "describe what the person saw and knew at that moment",
            "what made this course of action look reasonable at the time?",
        ),
        needs_actor=True,
        self_ok="iwe",
    ),
    _Rule(
        "counterfactual",
        rf"\bif\s+only\b|\bcould(?:{_NOT})?\s+(?:easily\s+)?have\s+been\s+(?:easily\s+)?"
        r"(?:avoided|prevented|caught|stopped|spotted|averted)\b"
        rf"|\bwould(?:\s+never|{_NOT})\s+have\s+(?:happened|occurred)\b"
        r"|\b(?:careful|competent|decent|experienced|reasonable|attentive|proper|thorough)\s+"
        r"(?:engineer|developer|operator|person|reviewer|review|check|look)\s+would\s+have\b",
        "Counterfactuals describe a world that did not happen instead of the one that did.",
        (
            "what made the failure possible?",
            "what would have made the safer action easier at the time?",
        ),
    ),
    _Rule(
        "counterfactual",
        rf"\bcould(?:{_NOT})?\s+(?:easily\s+)?have\s+(?:prevented|avoided|caught|stopped|"
        r"spotted|noticed|checked|seen)\b",
        "Saying a person could have prevented it judges them by what we know now.",
        ("what made the signal hard to see at the time?",),
        needs_actor=True,
    ),
    # --- person as subject of a failure -------------------------------------------------
    _Rule(
        "person_as_subject",
        rf"\b(?:fail(?:ed|s)?\s+to|forg[eo]t(?:s|ten)?|forgetting|neglect(?:ed|s|ing)?|"
        rf"ignor(?:ed|es|ing)|miss(?:ed|es)|overlook(?:ed|s|ing)?|botch(?:ed|es)|messed\s+up|"
        rf"screwed\s+up|rubber-?stamp(?:ed|s)?|dismiss(?:ed|es)\s+the\s+(?:alert|page|warning)|"
        rf"(?:finally\s+)?(?:got|get)\s+(?:a)?round\s+to|bothered\s+to|"
        rf"slept\s+through|fat[\s-]?finger(?:ed|s)?|dropped\s+the\s+ball|skip(?:ped|s)|"
        rf"bypass(?:ed|es)|(?:broke|breaks)(?!\s+down)|finally\s+(?:noticed|responded|acknowledged|"
        rf"escalated|looked)|made\s+(?:a|an)\s+(?:\w+\s+)?(?:mistake|error|typo|blunder)|"
        rf"made\s+(?:a|an)\s+(?:wrong|bad|incorrect|poor)\s+(?:assumption|call|decision|choice)|"
        rf"not\s+(?:check|test|verify|notic|follow|read|review|escalat|respond|wait|ask|updat|"
        rf"monitor|watch)ing|"
        rf"(?:did{_NOT}|never|was{_NOT}|were{_NOT}|had{_NOT})\s+(?:(?:even|always|properly|"
        rf"actually|been)\s+)?(?:check|test|verify|notice|follow|read|review|look|run|see|"
        rf"realise|realize|escalate|respond|wait|ask|update|communicate|tell|bother|pay|"
        rf"paying|double-check|confirm|validate|monitor|turn|re-enable|restart|watch|"
        rf"understand)\w*|"
        rf"(?:accidentally|mistakenly|inadvertently|carelessly|wrongly|incorrectly)\s+\w+|"
        rf"by\s+mistake|(?:pushed|deployed|merged|shipped)\s+(?:a|an)\s+(?:bad|broken|"
        rf"untested|faulty|buggy)\b|(?:deleted|removed|edited|drained|restarted|promoted|ran|"
        rf"picked|used|changed)\s+the\s+wrong\b|(?:deployed|merged|pushed|shipped|released|"
        rf"promoted|ran|changed)\s+(?:\w+\s+){{0,3}}?without\s+(?:waiting|a\s+review|review|"
        rf"tests|testing|checking|approval|asking|telling))",
        "A person is the subject of a failure verb: the sentence is about what someone did "
        "wrong, not about what the system made easy.",
        (
            "make the system the subject: \u201cthe page was not acknowledged; the phone's "
            "silent mode suppressed it\u201d",
            "describe what the person saw and why the action made sense then",
        ),
        needs_actor=True,
        guess_ok=False,
    ),
    _Rule(
        "person_as_subject",
        r"\bwho(?:ever)?(?:'s|\u2019s|\s+has|\s+had)?\s+(?:just\s+)?(?:deployed|pushed|merged|"
        r"approved|changed|made\s+the\s+change|ran|wrote|touched|shipped|released|introduced|"
        r"signed\s+off|let)\b",
        "\u201cWho did it\u201d looks for a person; \u201cwhat happened\u201d looks for the "
        "conditions.",
        ("which change was deployed?", "what did the change look like at the time?"),
        negatable=True,
        relative_ok=True,
    ),
    _Rule(
        "person_as_subject",
        r"\bwho(?:ever)?(?:'s|\u2019s|\s+has|\s+had)?\s+(?:just\s+)?(?:broke|caused|did\s+"
        r"(?:this|that|it)|forgot|missed|screwed\s+up|messed\s+up)\b"
        r"|\bwhose\s+(?:commit|change|deploy|deployment|pr|pull\s+request|code|push|merge|"
        r"config|mistake|error)\b",
        "\u201cWho broke it\u201d looks for a person to blame; ask what made the failure "
        "possible.",
        ("what made the failure possible?", "which change was involved?"),
        negatable=True,
    ),
    _Rule(
        "person_as_subject",
        r"(?:'s|\u2019s)\s+(?:\w+\s+)?(?:mistake|error|blunder|slip|oversight|misjudge?ment|"
        r"decision\s+to\s+(?:skip|ignore|bypass))\b",
        "Attributing the failure to one person's mistake stops the look at the system.",
        ("what made that step easy to get wrong?",),
        needs_actor=True,
    ),
    _Rule(
        "person_as_subject",
        r"\b(?:caused|triggered|introduced|broken|started|(?:oversight|mistake|error|typo|slip|"
        r"misjudge?ment|blunder)s?|(?:bad|poor|wrong)\s+decisions?)\s+by\b(?=\s+(?:the\s+|a\s+|an\s+|"
        rf"our\s+|one\s+)?(?:[\w-]+\s+)?(?:{_ROLE}|{_PRONOUN})\b|\s+(?P<name_after>[a-z]))",
        "The sentence makes a person the cause of the incident.",
        ("the change that introduced it", "what conditions let the change through?"),
        negatable=True,
    ),
    # --- blame adjectives ---------------------------------------------------------------
    _Rule(
        "blame_adjective",
        r"\b(?:careless(?:ly|ness)?|negligen(?:t|tly|ce)|slopp(?:y|ily|iness)|laz(?:y|ily|iness)|"
        r"reckless(?:ly|ness)?|incompeten(?:t|tly|ce)|irresponsib(?:le|ly|ility)|"
        r"inattenti(?:ve|on)|clums(?:y|ily)|stupid(?:ity)?|dumb|foolish(?:ly)?|idiotic|rookie|"
        r"amateur(?:ish)?|inexperienced|complacen(?:t|cy)|unprofessional(?:ly)?|boneheaded|"
        r"(?:poor|bad)\s+judge?ment|lapse\s+(?:in|of)\s+(?:judge?ment|attention|concentration|"
        r"focus)|rubber-?stamp(?:ed|ing|s)?|lack\s+of\s+(?:attention|care|"
        r"diligence|discipline|rigou?r|focus|professionalism)|dropped\s+the\s+ball|"
        r"asleep\s+at\s+the\s+wheel|cowboy)\b",
        "A judgement of character or competence invites defence, not explanation.",
        (
            "describe the action and the conditions around it",
            "what pressures or gaps made this the path of least resistance?",
        ),
        negatable=True,
    ),
    # --- ownership ----------------------------------------------------------------------
    _Rule(
        "ownership_wording",
        r"\b(?:owner(?:s|ship)?|owns|owned\s+by|assignee|assigned\s+to|responsible(?=\s*:))"
        r"(?:\b|(?<=:))|(?<!held\s)\baccountable\b",
        "\u201cOwner\u201d on a follow-up can read as who answers for the incident; name the "
        "area of focus and the team tracking it.",
        ("area of focus", "tracked by the team", "point of contact"),
        negatable=True,
    ),
    # --- human error --------------------------------------------------------------------
    _Rule(
        "human_error",
        r"\b(?:human\s+(?:error|mistake|failure|fault)s?|operator\s+errors?|user\s+errors?|"
        r"pilot\s+errors?|fat[\s-]?finger(?:ed|ing|s)?|pebkac|people\s+(?:problem|issue|failure)s?)"
        r"\b",
        "\u201cHuman error\u201d is where an inquiry should start, not where it ends.",
        (
            "what made the error easy to make and hard to notice?",
            "describe the interface or step that allowed it",
        ),
        negatable=True,
    ),
    # --- hindsight and minimising -------------------------------------------------------
    _Rule(
        "hindsight",
        r"\b(?:obvious(?:ly)?|should\s+have\s+known|(?:easily\s+)?(?:preventable|avoidable)|"
        r"easily\s+(?:avoided|prevented|caught|spotted|fixed)|easy\s+to\s+(?:spot|see|catch|"
        r"avoid|prevent|notice)|(?:simple|basic|silly|trivial|elementary)\s+(?:mistake|error|"
        r"oversight|slip)|simply\s+(?:forgot|ignored|missed|didn't|did\s+not|failed|had\s+to|"
        r"needed\s+to|neglected)|just\s+(?:had|needed)\s+to|(?:had|have)\s+just\s+(?:followed|"
        r"checked|read|looked|tested|asked|waited|run|used)|anyone\s+could\s+(?:see|have\s+"
        r"seen|tell)|(?:simple|basic|silly|trivial)\s+typo|(?:was|is|seems|seemed)\s+trivial|"
        r"clearly\s+(?:did\s+not|didn't|never|wasn't|was\s+not|should|failed|missed|forgot|"
        r"ignored)|(?:^|(?<=[.!?]\s))clearly\b|hard\s+to\s+(?:understand|believe|see)\s+(?:how|"
        r"why)|how\s+could\s+(?:anyone|anybody|they|he|she)|should\s+know\s+(?:better|not\s+"
        r"to))\b",
        "Hindsight makes the path to failure look obvious; it was not obvious at the time.",
        (
            "at the time, the signals available were ...",
            "what made this hard to see as it happened?",
        ),
        negatable=True,
    ),
    # --- fault and blame ----------------------------------------------------------------
    _Rule(
        "fault_blame",
        r"\b(?:at\s+fault|(?:whose|his|her|their|my|your)\s+fault|fault\s+of|culprits?|guilty|"
        r"blam(?:e|es|ed|ing|eworthy)|held\s+accountable|hold\s+\w+\s+accountable|"
        r"responsib(?:le|ility)\s+for\s+(?:the|this|that)\s+(?:outage|incident|failure|"
        r"breakage|downtime|data\s+loss|mistake|error|problem|regression|(?:expired|missing|"
        r"broken|failed|bad|wrong|lost)\s+\w+)|own(?:s|ed)?\s+(?:this|the)\s+(?:outage|"
        r"incident|failure|mistake)|explain\s+(?:themselves|himself|herself)|"
        r"performance\s+(?:reviews?|improvement\s+plan)|(?:moved|taken)\s+off\s+the\s+(?:team|"
        r"rotation|project)|removed\s+from\s+the\s+(?:team|rotation|on-?call)|"
        r"(?:person|engineer|developer|team\s+member|party|individual)\s+responsible|"
        r"disciplinary|written\s+warning|punish\w*|reprimand\w*)\b"
        r"|(?:'s|\u2019s)\s+fault\b",
        "Fault and punishment words make people hide what they know next time.",
        (
            "what made this possible?",
            "the conditions that contributed were ...",
        ),
        negatable=True,
    ),
    # --- rule-breaking framing ----------------------------------------------------------
    _Rule(
        "procedure_violation",
        rf"\b(?:(?:did{_NOT}|failed\s+to|failure\s+to|refused\s+to|neglected\s+to|"
        r"had\s+(?:just\s+)?)\s*follow(?:ed)?\s+(?:the\s+|our\s+)?(?:[\w-]+\s+)?(?:process|"
        r"procedure|runbook|playbook|policy|checklist|rules?|protocol|guidelines?)|"
        r"violat(?:ed|es|ing|ion)|non-?complian(?:ce|t)|bypass(?:ed|ing|es)?\s+(?:the\s+)?"
        r"(?:[\w-]+\s+)?(?:process|review|approval|checks?|policy|procedure|freeze|controls?)|"
        r"(?:process|procedure|policy|checklist)\s+was\s+(?:bypassed|ignored|not\s+followed|"
        r"skipped)|ignor(?:ed|ing|es)\s+(?:the\s+)?(?:[\w-]+\s+)?(?:runbook|process|procedure|"
        r"policy|checklist|rules?)|deviat(?:ed|ing|ion)\s+from|against\s+(?:the\s+)?(?:[\w-]+\s+)?"
        r"(?:policy|process|procedure|rules)|unauthori[sz]ed|went\s+around\s+the\s+process|"
        r"(?:nobody|no\s+one)\s+followed|in\s+breach\s+of|breach(?:ed|ing)\s+(?:the\s+)?"
        r"(?:freeze|policy|process|procedure))\b",
        "Framing the incident as rule-breaking hides why the rule was hard to follow, or "
        "why breaking it looked sensible.",
        (
            "what made the documented path hard to follow at the time?",
            "the process did not cover this situation",
        ),
        negatable=True,
    ),
    # --- follow-ups aimed at people -----------------------------------------------------
    _Rule(
        "person_fix",
        r"\b(?:be(?:ing)?\s+(?:more|extra)\s+(?:careful|vigilant|diligent|attentive|cautious)|"
        r"(?:are|were|is)\s+(?:more|extra)\s+(?:careful|vigilant|diligent)|"
        r"pay(?:ing)?\s+(?:more|closer|better|extra)\s+attention|re-?train(?:ed|ing|s)?|"
        r"(?:attend|complete|take|do|receive|undergo)\w*\s+(?:a\s+|the\s+)?(?:[\w-]+\s+){0,2}?"
        r"(?:training|refresher|course)|refresher\s+(?:training|course)|"
        r"remind(?:ed|s|ing)?\s+(?:\w+\s+){0,2}?to\b|"
        r"(?:must|should|need\s+to|needs\s+to)\s+(?:always\s+)?read\s+the\s+runbook|"
        r"ensure\s+(?:that\s+)?(?:the\s+)?(?:team|engineers|everyone|people|staff|developers|"
        r"operators)\s+(?:always\s+)?(?:follow|read|check|verify|remember|use)\w*|"
        r"make\s+sure\s+(?:that\s+)?(?:people|everyone|engineers|the\s+team|developers|staff|"
        r"he|she|they)|(?:be|get|are|were|being|is)\s+(?:re-?)?trained|reinforce\s+with|"
        r"reminders?\s+to\s+(?:all\s+)?(?:engineers|the\s+team|everyone|people|staff|developers)|"
        r"slow\s+down\s+and|need\w*\s+(?:\w+\s+)?more\s+(?:care|attention|vigilance|"
        r"diligence))\b",
        "A follow-up that asks people to try harder leaves the system as it was; the next "
        "person meets the same trap.",
        (
            "change the tool or process so the safe action is the easy one",
            "add a check, a default or a guard rail",
        ),
        negatable=True,
    ),
    # --- errors with a person as their doer (unmistakable wording) -----------------------
    _Rule(
        "person_as_subject",
        r"\b(?:(?:accidentally|mistakenly|inadvertently|unintentionally|erroneously)\s+\w+|"
        r"by\s+(?:accident|mistake)|in\s+error\b|"
        r"(?:made|make|makes|making)\s+(?:a|an|the\s+same|one|another)\s+(?:\w+\s+)?"
        r"(?:mistake|error|typo|blunder|slip)|committed\s+(?:a|an|the\s+same)\s+(?:\w+\s+)?"
        r"(?:mistake|error|blunder)|"
        r"(?:hit|pressed|clicked|flipped|cut|selected|picked|restarted|deleted|removed|edited|"
        r"drained|rebooted|used|changed|typed|entered|pushed|deployed|opened|touched|pulled|"
        r"unplugged|killed|dropped|wiped|shut\s+down|upgraded|patched)\s+(?:\w+\s+){0,2}?the\s+"
        r"wrong\b|(?:on|in|against|to)\s+the\s+wrong\s+(?:host|server|tab|terminal|window|"
        r"database|db|cluster|machine|box|region|environment|account|system|node|instance|"
        r"branch|table|site|switch|button|console)|"
        r"(?:on|against|in)\s+(?:the\s+)?(?:production|prod|the\s+primary)\b(?:\s+\w+){0,3}?\s+"
        r"instead\s+of|instead\s+of\s+the\s+(?:replica|secondary|staging|test|standby|dev)|"
        r"mistook|misread|misplaced|misconfigured|misjudged|misunderstood|"
        r"confused\s+(?:which|real|the\s+\w+\s+(?:with|for)|drills?)|"
        r"(?:messed|screwed|cocked|fucked|mucked|stuffed)[\s-]up|"
        r"dropped\s+(?:prod|production|the\s+(?:production|prod|live)\b)|"
        r"(?:broke|nuked|wiped)\s+(?:prod\b|production|the\s+(?:site|portal|database|"
        r"production|internet|network))|"
        r"(?:caused|triggered)\s+(?:(?:an?|the|this|that)\s+)?(?:[\w-]+\s+){0,2}?(?:outage|wreck|"
        r"crash|incident|blackout|collision|accident|disaster)|"
        r"deleted\s+(?:the\s+(?:whole|entire|production|prod|live)|our|all\s+(?:the\s+)?(?:users|"
        r"data|records|rows)|roughly|(?:a\s+|the\s+)?production|data\s+from\s+a\s+production|"
        r"his|her|their)|"
        r"ran\s+a\s+(?:red\s+light|stop\s+signal|red\s+signal)|(?:had\s+been|was|were)\s+"
        r"texting|"
        r"(?:entered|typed|issued|ran|executed|pushed|deployed|shipped|merged|sent|issued|"
        r"published|posted)\s+(?:an?\s+|the\s+|some\s+)?(?:errant|incorrect|wrong|bad|faulty|"
        r"mistyped|broken|untested|bogus|erroneous)(?=\s)|"
        r"ran\s+(?:drop\s+(?:table|database)|truncate|delete\s+from|rm\s+-[rf]{2})\b|"
        r"without\s+(?:a|any)\s+(?:safety\s+net|backup|second\s+(?:pair|check|look)|review|"
        r"approval|peer\s+review|test)|"
        r"without\s+(?:first\s+)?(?:realizing|realising|noticing|double-checking|verifying|"
        r"testing\s+the\s+consequences)|"
        r"(?:just\s+)?sat\s+there|refus(?:ed|ing|es)\s+to\s+(?:talk|cooperate|be\s+interviewed)|"
        r"switch(?:ed|ing)[\s-]+off\s+(?:their|his|her)\s+(?:official\s+)?(?:mobile\s+)?"
        r"(?:phones?|pagers?|cellphones?)|(?:has|had|have)\s+not\s+taken\s+any\s+action|"
        r"could\s+not\s+discharge|did\s+something\s+(?:he|she|they)\s+(?:wasn't|was\s+not|"
        r"weren't)\s+supposed|was\s+(?:lazy|careless|half-asleep|sloppy|drunk|distracted)|"
        r"rushed\s+(?:the|it|a|out|through)\b|took\s+down\s+a\s+(?:large|whole)|"
        r"(?:were|was)\s+the\s+ones?\s+who\s+(?:broke|caused|deleted|pushed))",
        "A person is the doer of an error: the sentence is about what someone did wrong, not "
        "about what made the wrong step easy to take.",
        (
            "make the system the subject: \u201cthe command ran against the primary; both "
            "terminals looked the same\u201d",
            "describe what the person saw and why the action made sense then",
        ),
        needs_actor=True,
        self_ok="iwe",
    ),
    _Rule(
        "person_as_subject",
        r"\b(?:nobody|no\s+one|no-one)\s+(?:had\s+|was\s+|ever\s+|even\s+)?(?:\w+ly\s+)?"
        r"(?:thought\s+to|bothered|checked|tested|testing|watching|questioned)\b",
        "\u201cNobody noticed\u201d still points at people; say what would have made the "
        "signal visible.",
        ("nothing in the process surfaced it", "what would have made the signal visible?"),
    ),
    # --- a person named as the cause ------------------------------------------------------
    _Rule(
        "person_as_cause",
        rf"\b(?:(?:typo|mistake|error|slip|blunder|misunderstanding|oversight|lapse|"
        rf"fat[\s-]?finger|miscommunication|mistakes|errors|failure|misjudge?ment)s?\s+(?:made\s+|"
        rf"committed\s+)?(?:by|from|of)\s+(?:a|an|the|one|our|their|his|her|two|some|this)?\s*"
        rf"(?:[\w-]+\s+){{0,3}}?(?:{_ROLE}|him|her|them)\b|"
        rf"{_ROLE}(?:'s|\u2019s|s'|s\u2019)\s+(?:\w+\s+){{0,2}}?(?:typo|mistake|error|slip|"
        rf"blunder|failure|fault|misunderstanding|oversight|lapse|design\s+flaw|negligence|"
        rf"inability|mismanagement|conduct|decision|misjudge?ment|carelessness)s?|"
        rf"(?:his|her|their|your)\s+(?:own\s+)?(?:mistake|fault|error|blunder|screw-?up|failure)s?"
        rf"\b|(?:an?\s+)?(?:error|mistake)s?\s+(?:of|on)\s+(?:our|their|his|her)\s+(?:own\s+"
        rf"making|part)|(?:blam(?:e|es|ed|ing)|pinned)\s+(?:\w+\s+){{0,6}}?on\s+(?:a|an|the|one|"
        rf"two|some)?\s*(?:[\w-]+\s+){{0,3}}?{_ROLE}|(?:caused|triggered)\s+by\s+(?:a|an|the|"
        rf"one)\s+(?:[\w-]+\s+){{0,3}}?{_ROLE}|(?:one|a|this|some)\s+(?:guy|man|person|employee|"
        rf"worker)\s+caused)\b",
        "The sentence makes a person, or a person's slip, the cause of the incident.",
        ("the change that introduced it", "what let a single slip reach production?"),
        negatable=True,
    ),
    # --- self-blame ------------------------------------------------------------------------
    _Rule(
        "self_blame",
        r"\b(?:(?:this|that|it)(?:\s+one)?\s+(?:is|was)\s+(?:all\s+)?on\s+me|my\s+(?:own\s+)?"
        r"(?:bad|mistake|fault|error|blunder|screw-?up)|i\s+(?:really\s+)?(?:screwed|messed|cocked|"
        r"fucked|mucked)\s+up|that\s+someone\s+was\s+me|i\s+was\s+(?:an?\s+)?(?:lazy|careless|"
        r"sloppy|idiot|stupid|fool)|i\s+rushed|i\s+(?:have|had|'ve)\s+dropped\s+prod|"
        r"i\s+(?:caused|broke)\b|i\s+made\s+(?:a|the)\s+(?:\w+\s+)?(?:mistake|error|call)|"
        r"i\s+(?:now\s+)?(?:triple|double)-check|i\s+(?:should|could)\s+have|"
        r"(?:our|my)\s+(?:own\s+)?(?:mistake|fault))\b",
        "Self-blame in a review tells readers that whoever was closest pays; describe the "
        "situation instead, so the next person can learn from it.",
        (
            "describe what you saw and why the step made sense at the time",
            "what would have caught this before it reached production?",
        ),
        negatable=True,
    ),
    # --- disciplinary wording -----------------------------------------------------------------
    _Rule(
        "disciplinary",
        r"\b(?:(?:was|were|been|be|being|get|got|is|are)\s+(?:\w+\s+)?(?:fired|sacked|"
        r"dismissed|suspended|terminated|disciplined|reprimanded|written\s+up|demoted|let\s+go|"
        r"reassigned|spoken\s+to|counsel+ed|punished|censured)|suspend(?:ed|s)?\s+(?:the\s+two|"
        r"two|the\s+(?:employee|engineer|worker|staffer|officer|operator)|him|her|them)|"
        r"(?:fire|sack|suspend|discipline|punish)\s+(?:the|his|him|her|them|someone|people|an?\s+"
        r"(?:employee|engineer))|firing\s+(?:decision|someone|people|the)|cause\s+for\s+firing|"
        r"disciplinary|cost\s+(?:\w+\s+){0,8}?(?:their|his|her|my)\s+jobs?|lost\s+(?:their|his|"
        r"her)\s+jobs?|employment\s+future|(?:not|n't|never)\s+(?:been\s+)?(?:authori[sz]ed|"
        r"cleared|allowed|supposed|permitted|qualified|certified)\s+to|(?:does|did|do)\s+not\s+"
        r"have\s+the\s+authority|taken\s+(?:full\s+)?responsibility|reassigned\s+the\s+"
        r"(?:employee|engineer|worker)|resigned\b|held\s+(?:personally\s+)?accountable|"
        r"(?:faces?|facing)\s+(?:charges|discipline|dismissal)|(?:will|would)\s+be\s+dealt\s+with"
        rf"|(?:lose|losing)\s+(?:my|his|her|their)\s+jobs?|{_ROLE}\s+(?:fired|sacked|suspended|"
        rf"disciplined|dismissed|reprimanded))",
        "Disciplinary wording tells readers that speaking up costs jobs; the next review gets "
        "less candour.",
        (
            "leave personnel matters out of the review",
            "say what changes in the system, not what happened to a person",
        ),
        negatable=True,
    ),
    # --- fault-finding questions and asides ---------------------------------------------
    _Rule(
        "fault_question",
        rf"\b(?:who\s+(?:in\s+\w+\s+\w+\s+)?(?:even\s+)?(?:requested|approved|did|pushed|deployed|"
        rf"broke|caused|let|signed\s+off|merged|ran|touched|changed|made|has\s+access|had\s+access|"
        rf"is\s+responsible|was\s+responsible|was\s+watching|forgot|missed|allowed|thought)|"
        rf"how\s+(?:on\s+earth\s+)?(?:did|could|can|do|does|would)\s+(?:someone|anyone|anybody|"
        rf"nobody|he|she|they|you|the\s+(?:[\w-]+\s+)?{_ROLE})|"
        rf"(?:was|is|were)\s+(?:nobody|no\s+one|anyone|anybody)\s+(?:\w+\s+)?(?:watching|checking|"
        rf"looking|paying|monitoring|reading|awake)|why\s+(?:isn't|wasn't|didn't|did\s+not|is\s+not|"
        rf"was\s+not|hasn't|haven't|weren't|aren't|doesn't|don't)\s+(?:the\s+)?(?:[\w-]+\s+)?"
        rf"(?:{_ROLE}|he|she|they|anyone|you)|why\s+(?:did|would|do)\s+(?:he|she|they|you|someone|"
        rf"anyone|the\s+(?:[\w-]+\s+)?{_ROLE})\s+)(?=[^.!?\n]{{0,200}}\?)|"
        rf"\b(?:you(?:'d|\u2019d|\s+would)\s+think|how\s+hard\s+(?:is|was|can|could)\s+it|"
        rf"easy\s+(?:thing\s+)?to\s+(?:catch|spot|see|avoid)|of\s+all\s+people|"
        rf"hard\s+to\s+believe\s+(?:\w+\s+){{0,4}}?(?:could|would)|how\s+could\s+(?:anyone|"
        rf"anybody|they|he|she|you)\s+(?:miss|forget|not)|remember\s+that\s+(?:day|time)\s+you)\b",
        "A question or aside that looks for who erred invites defence; ask what made the "
        "failure possible.",
        (
            "what made this hard to see at the time?",
            "which safeguard would have caught it?",
        ),
    ),
    # --- advice aimed at people -----------------------------------------------------------
    _Rule(
        "person_fix",
        r"\b(?:(?:always\s+)?(?:double|triple)[\s-]check\s+(?:the|your|you|each|every|all)|"
        r"(?:don't|do\s+not|never|don\u2019t)\s+(?:get\s+distracted|delete\s+production|"
        r"rush|panic|deviate)|you\s+need\s+to\s+be\s+(?:\S+\s+)?sure|(?:can't|cannot|"
        r"can\u2019t)\s+allow\s+(?:\w+\s+){0,3}?to\s+cloud|must\s+get\s+better\s+at|"
        r"(?:need|needs)\s+to\s+(?:get\s+better|try\s+harder|focus\s+more)|handle\s+them\s+as\s+"
        r"professionally|never\s+try\s+to\s+cover|be\s+(?:\d[\d,]*%|100%)\s+sure)",
        "Advice that asks people to try harder leaves the trap in place for the next person.",
        (
            "change the tool or process so the safe action is the easy one",
            "add a check, a default or a guard rail",
        ),
    ),
    _Rule(
        "blame_adjective",
        r"\b(?:troubled\s+(?:employee|worker|engineer|staffer|officer)|source\s+of\s+concern|"
        r"poor\s+(?:history|record|track\s+record|performance)|unable\s+to\s+comprehend|"
        r"substandard\s+(?:\w+\s+)?skills|had\s+problems\s+performing|a\s+bit\s+of\s+a\s+fool|"
        r"yahoo|idiot|moron|clueless|pattern\s+of\s+(?:incompetence|poor|mistakes|ignorance)|"
        r"(?:can't|cannot)\s+be\s+trusted|not\s+fit\s+for|(?:fuck|screw|cock|balls)[\s-]?ups?)\b",
        "A judgement of a person's competence invites defence, not explanation.",
        (
            "describe the action and the conditions around it",
            "what support or safeguard was missing?",
        ),
    ),
    _Rule(
        "counterfactual",
        rf"\b(?:(?:correct|right|proper|sensible)\s+(?:course\s+of\s+action|thing\s+to\s+do|move)"
        rf"\s+would\s+have\s+been|(?:better|more|greater)\s+(?:judge?ment|care|attention|caution|"
        rf"diligence)\s+(?:should|could|would|ought)|if\s+(?:he|she|they|you)(?:'d|\u2019d)\s+(?:\w+\s+)?"
        rf"{_PARTICIPLE}|could\s+have\s+(?:actually\s+)?(?:avoided|made|stopped|prevented|caught)"
        rf"\s+(?:the|that|this)\s+(?:collision|mistake|crash|accident|outage|error))",
        "Counterfactuals about a person judge them by what we know now.",
        ("what did the person see at that point?", "what made the safer step harder?"),
    ),
)

PHRASES: tuple[str, ...] = (
    "root cause", "rca", "real cause", "main cause", "primary cause", "underlying cause",
    "should have", "should've", "shouldn't have", "ought to have", "if only",
    "could have been avoided", "could have prevented", "failed to", "forgot", "neglected",
    "ignored", "missed", "overlooked", "didn't check", "did not check", "did not follow",
    "accidentally", "by mistake", "made a mistake", "who deployed", "who pushed", "who broke",
    "whose commit", "caused by", "careless", "negligent", "negligence", "sloppy", "lazy",
    "reckless", "incompetent", "irresponsible", "inexperienced", "rookie", "dropped the ball",
    "lack of attention", "owner", "ownership", "owns", "accountable", "human error",
    "operator error", "user error", "fat-finger", "obvious", "obviously", "preventable",
    "avoidable", "simple mistake", "at fault", "to blame", "blamed", "culprit", "guilty",
    "responsible for the outage", "disciplinary", "violated", "non-compliance", "bypassed",
    "unauthorised", "be more careful", "pay more attention", "retrain", "remind",
)
"""Plain trigger phrases, for comparison with a bare regular-expression scan (see bench/)."""


# --------------------------------------------------------------------------------------------
# Masking: quotations, code and URLs
# --------------------------------------------------------------------------------------------
# Every pattern here is linear: the repeated parts are possessive (``*+``) or bounded, and
# none can match the character that ends it, so a failed attempt never backtracks.

_MASKS = re.compile(
    r"^[ \t]{0,3}>[^\n]*+"  # block quote line
    r"|`[^`\n]{1,400}+`"  # code span
    r"|https?://\S++"  # URL
    r'|"[^"\n]*+(?:\n(?![ \t]*\n)[^"\n]*+)*+"'  # "straight", within one paragraph
    "|\u201c[^\u201c\u201d\n]*+(?:\n(?![ \t]*\n)[^\u201c\u201d\n]*+)*+\u201d"  # “curly”
    "|\u2018[^\u2018\u2019\n]{0,400}+(?:\u2019\\w[^\u2018\u2019\n]{0,400}+){0,4}+\u2019(?!\\w)"
    r"|(?<![\w'])'(?=[^\s'])[^'\n]{0,400}+(?:'\w[^'\n]{0,400}+){0,4}+(?<=\S)'(?!\w)",
    re.MULTILINE,
)
_FENCE = re.compile(r"^[ \t]{0,3}(?:```|~~~)[^\n]*+", re.MULTILINE)

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f\ufffd]")
_WORD = re.compile(r"[^\W\d_]+")
_ASCII_WORD = re.compile(r"[A-Za-z]+")
_STOPWORDS = frozenset(
    "the a an and or of to in on at for with was is were are be been it this that we he she "
    "they not no by from as but had has have did do our after before when which who i you so "
    "then there all any its their his her into out up what if would should could will".split()
)
_LANGUAGE_SAMPLE = 100_000


def _mask_intervals(text: str) -> tuple[list[int], list[int]]:
    """Sorted, non-overlapping (start, end) spans of quoted text, code and URLs."""
    spans: list[tuple[int, int]] = []
    fences = [(m.start(), m.end()) for m in _FENCE.finditer(text)]
    for i in range(0, len(fences) - 1, 2):  # fences open and close in turn
        spans.append((fences[i][0], fences[i + 1][1]))
    if len(fences) % 2:  # an unclosed fence runs to the end, as in CommonMark
        spans.append((fences[-1][0], len(text)))
    pos = 0
    for start, end in spans + [(len(text), len(text))]:
        for m in _MASKS.finditer(text, pos, start):
            spans.append((m.start(), m.end()))
        pos = end
    spans.sort()
    return [s for s, _ in spans], [e for _, e in spans]


def _masked(starts: list[int], ends: list[int], pos: int) -> bool:
    i = bisect.bisect_right(starts, pos) - 1
    return i >= 0 and pos < ends[i]


# --------------------------------------------------------------------------------------------
# Names and actors
# --------------------------------------------------------------------------------------------

_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
# Rules run on an ASCII-lowercased copy of the text (same length, same offsets) without
# IGNORECASE, which lets the regular-expression engine skip ahead much faster.

_RULE_RES = tuple(re.compile(rule.pattern) for rule in _RULES)
_HAD_OR_IF = re.compile(r"\b(?:had|if)\s+(?:only\s+)?(?:(?:the|a|an|our)\s+)?")
_PERSON = re.compile(rf"\b(?:{_PRONOUN}|(?:[\w-]+\s+)?{_ROLE})\b")
_SELF_RE = re.compile(rf"\b{_SELF}\b")
_HAD_TAIL = re.compile(
    rf"(?P<who>{_PRONOUN}|(?:[\w-]+\s+)?{_ROLE}|anyone|anybody|[\w'\u2019-]+)\s+"
    rf"(?P<had>had\s+)?(?:just\s+|only\s+|simply\s+|properly\s+)?"
    rf"(?:been\s+(?:\w+ly\s+)?(?:{_PARTICIPLE}|[a-z]+ing\b)|{_PARTICIPLE})"
)
# Where the subject of a verb is looked for: back to the start of the sentence (or a colon,
# a dash or a line break), at most this many characters.
_SUBJECT_BREAK = re.compile(r"[.;:!?\n\u2013\u2014]|\s-\s")
_SUBJECT_WINDOW = 150
# A system noun phrase right before the verb is its subject, whoever came earlier ("the
# engineer ran the playbook and the job failed to start").
_SYSTEM_SUBJECT = re.compile(
    r"\b(?:the|a|an|its|our|this|that|each|every)\s+(?:[\w-]+\s+){0,2}?(?:script|job|tool|bot|"
    r"pipeline|system|process|service|server|alert|check|test|code|command|config|"
    r"configuration|change|migration|deploy|deployment|rule|query|function|cron|backup|api|"
    r"software|update|upgrade|program|app|application|device|switch|router|database|cluster|"
    r"disk|node|host|machine|monitor|dashboard|page|pager|runbook|procedure|policy|form|"
    r"message|recording|screen|menu|prompt|terminal|interface|ui|feature|loop|handler|"
    r"worker\s+pool|team\s+process)s?\s+(?:\w+ly\s+)?(?:(?:had|has|have|was|were|is|then|"
    r"also|still|just)\s+)?$"
)
# ... and only when it is a subject: at the start of the clause or after a conjunction, not
# the object of a verb ("the DBA ran the upgrade script on the wrong host").
_SUBJECT_POSITION = re.compile(
    r"(?:^|[,;:(]\s*|\b(?:and|but|so|then|when|because|while|after|since|that|which|as|"
    r"until|once|before|where|if)\s+)$"
)
_DEVICE_BEFORE_DRIVER = re.compile(
    r"\b(?:nic|network|gpu|disk|kernel|device|database|jdbc|odbc|storage|graphics|usb|printer|"
    r"video|audio|raid|nvme|csi|the\s+new|the\s+old)\s+$"
)


@dataclass(frozen=True)
class _Compiled:
    roster: Roster


# A compiled roster of 2,000 names of 120 characters takes about 10 MiB; eight of them bound
# what a caller sending a new roster with every request can make the cache hold.
@functools.lru_cache(maxsize=8)
def _compile_for(names: tuple[str, ...]) -> _Compiled:
    return _Compiled(Roster(names))


@dataclass(frozen=True)
class _Context:
    """What the context checks of one call share: the text, its lowered copy, the spans of
    rostered and guessed names (sorted by start) and the masked spans."""

    text: str
    low: str
    names: list[tuple[int, int]]
    guesses: list[tuple[int, int]]
    mask_starts: list[int]
    mask_ends: list[int]

    def masked(self, pos: int) -> bool:
        return _masked(self.mask_starts, self.mask_ends, pos)


def _spans_between(spans: list[tuple[int, int]], lo: int, hi: int) -> list[tuple[int, int]]:
    i = bisect.bisect_left(spans, (lo, -1))
    out = []
    while i < len(spans) and spans[i][0] < hi:
        if spans[i][1] <= hi:
            out.append(spans[i])
        i += 1
    return out


def _word_start(text: str, pos: int) -> bool:
    return pos == 0 or not (text[pos - 1].isalnum() or text[pos - 1] in "_-")


def _back_to(breaks: re.Pattern[str], window: int, low: str, pos: int) -> int:
    """Offset just after the last match of ``breaks`` in the ``window`` characters before
    ``pos`` (or the start of that window)."""
    lo = max(0, pos - window)
    start = lo
    for m in breaks.finditer(low, lo, pos):
        start = m.end()
    return start


def _clause_start(low: str, pos: int) -> int:
    """Start of the clause holding ``pos``, looking back at most ``_WINDOW`` characters."""
    return _back_to(_CLAUSE_BREAK, _WINDOW, low, pos)


def _subject_start(low: str, pos: int) -> int:
    """Where the subject of the verb at ``pos`` is looked for: the sentence, colon or dash."""
    return _back_to(_SUBJECT_BREAK, _SUBJECT_WINDOW, low, pos)


def _negated(low: str, pos: int) -> bool:
    return _NEGATOR.search(low, _clause_start(low, pos), pos) is not None


# Actor kinds: a person (role, pronoun or rostered name), a guessed name, "I", "we".
_PERSON_ACTOR, _GUESSED_ACTOR, _I_ACTOR, _WE_ACTOR = "person", "guess", "i", "we"


def _actor_before(ctx: _Context, pos: int, rule: _Rule) -> tuple[int, str] | None:
    """Start and kind of the nearest person who is the subject of the verb at ``pos``.

    Looks back to the start of the sentence. A person mentioned only to be denied ("Jenkins,
    not a person, skipped ...") or only as a possessive ("Sam's laptop failed to boot") does
    not count, and neither does anyone when a system noun phrase stands right before the
    verb ("... and the job failed to start").
    """
    text, low = ctx.text, ctx.low
    lo = _subject_start(low, pos)
    system = _SYSTEM_SUBJECT.search(low, max(lo, pos - 60), pos)
    if system is not None and _SUBJECT_POSITION.search(low, lo, system.start()) is not None:
        return None
    candidates: list[tuple[int, int, str]] = []
    for m in _PERSON.finditer(low, lo, pos):
        if low.startswith("driver", m.end() - 7 if low[m.end() - 1] == "s" else m.end() - 6) \
                and _DEVICE_BEFORE_DRIVER.search(low, max(0, m.start() - 12), m.start()):
            continue
        candidates.append((m.start(), m.end(), _PERSON_ACTOR))
    if rule.self_ok:
        for m in _SELF_RE.finditer(low, lo, pos):
            kind = _I_ACTOR if low[m.start()] == "i" else _WE_ACTOR
            if kind == _I_ACTOR or rule.self_ok == "iwe":
                candidates.append((m.start(), m.end(), kind))
    candidates.extend((s, e, _PERSON_ACTOR) for s, e in _spans_between(ctx.names, lo, pos))
    if rule.guess_ok:
        candidates.extend((s, e, _GUESSED_ACTOR) for s, e in _spans_between(ctx.guesses, lo, pos))
    for start, end, kind in sorted(candidates, reverse=True):
        if ctx.masked(start):
            continue
        if _DENIED_ACTOR.search(low, max(0, start - 12), start) is not None:
            continue
        if end != pos and text.startswith(("'s ", "\u2019s "), end):
            continue  # "Sam's laptop failed to boot": the laptop is the subject
        return start, kind
    return None


def _after_person(ctx: _Context, pos: int) -> bool:
    """Whether ``pos`` directly follows a person noun, as in "the engineer who ..."."""
    lo = max(0, pos - 40)
    if any(ctx.text[m.end():pos].isspace() for m in _PERSON.finditer(ctx.low, lo, pos)):
        return True
    return any(ctx.text[e:pos].isspace() for _s, e in _spans_between(ctx.names, lo, pos))


def _pronoun_antecedent(ctx: _Context, start: int) -> str | None:
    """The name a pronoun at ``start`` most likely points back to: the nearest rostered or
    guessed name in the 300 characters before it."""
    word = ctx.low[start:start + 4].split(" ")[0]
    if word not in ("he", "she", "they", "him", "her"):
        return None
    lo = max(0, start - 300)
    found = _spans_between(ctx.names, lo, start) or _spans_between(ctx.guesses, lo, start)
    if not found:
        return None
    s, e = found[-1]
    return ctx.text[s:e]


# --------------------------------------------------------------------------------------------
# The check
# --------------------------------------------------------------------------------------------

_NAMED_EXPLANATION = (
    "Names a person; a role (\u201cthe on-call engineer\u201d) keeps the reader on the "
    "situation, not on who was in it."
)
_NAMED_SUGGESTIONS = ("the on-call engineer", "a responder", "the person deploying")
_HAD_EXPLANATION = (
    "\u201cHad they only ...\u201d replays the incident with a different person in it, not "
    "the one that happened."
)
_SELF_EXPLANATION = (
    "Self-blame in a review tells readers that whoever was closest pays; describe the "
    "situation instead, so the next person can learn from it."
)
_HAD_SUGGESTIONS = ("what did the person see at that point?", "what made that step easy to skip?")
_CATEGORY_ORDER = {category: i for i, category in enumerate(CATEGORIES)}
_CATEGORY_IDS = tuple(CATEGORIES)

# A raw hit before it becomes a Finding: (start, end, category order, rule index); rule index
# -1 is a named individual, -2 a "had X done" counterfactual.
_Hit = tuple[int, int, int, int, str | None]
_NAMED, _HAD = -1, -2


def _looks_binary(text: str) -> bool:
    junk = _CONTROL.subn("", text)[1]
    return junk > 0 and junk >= max(1, len(text) // 100)


def _looks_english(text: str) -> bool:
    sample = text[:_LANGUAGE_SAMPLE]
    words = _WORD.findall(sample)
    if not words:
        return True
    letters = sum(len(w) for w in words)
    ascii_letters = sum(len(w) for w in _ASCII_WORD.findall(sample))
    if letters >= 12 and ascii_letters < 0.6 * letters:
        return False
    if len(words) < 12:
        return True
    common = sum(1 for w in words if w.lower() in _STOPWORDS)
    return common >= 0.12 * len(words)


def _validate_names(names: Sequence[str]) -> tuple[str, ...]:
    if isinstance(names, (str, bytes)):
        raise ValueError("names must be a sequence of names, not a single string")
    try:
        items = tuple(names)
    except TypeError:
        raise ValueError("names must be a sequence of str") from None
    for name in items:
        if not isinstance(name, str):
            raise ValueError(f"each name must be a str, got {type(name).__name__}")
    return items


def _empty_summary() -> dict[str, int]:
    return dict.fromkeys(CATEGORIES, 0)


def check(text: str, names: Sequence[str] = (), *, deadline: float | None = None) -> Report:
    """Find blame-loaded phrases in an incident review.

    Parameters
    ----------
    text : str
        The review, Markdown or plain text, of any length. Offsets in the findings index
        into this string as given.
    names : sequence of str, optional
        People's names (team roster, incident participants). Each name, and each part of a
        multi-part name, is flagged where it appears outside quotations, and counts as a
        person for every rule about a person's errors. Names match case-sensitively (a name
        given in lower case also matches capitalised). Without a roster, capitalised words
        that may be first names still count as people when they are the subject of an
        error ("Root cause: John pushed a bad config"), but are not flagged on their own.
    deadline : float, optional
        A :func:`time.monotonic` value. If the check is still running then, it stops and
        raises :class:`CheckTimeout`; callers that serve requests use it to bound the work
        one request can cause.

    Returns
    -------
    Report
        Findings in text order (at most :data:`MAX_FINDINGS`), counts per category and an
        optional notice for empty, binary, non-English or over-long results.

    Raises
    ------
    ValueError
        If ``text`` is not a str, or ``names`` is not a sequence of str.
    CheckTimeout
        If ``deadline`` passed before the check finished.

    Notes
    -----
    Every rule is a precompiled regular expression whose repetitions are bounded or cannot
    backtrack, every context check reads a window of at most a few hundred characters, and
    the roster is one Aho-Corasick automaton over words (:mod:`analysis.language_names`),
    so the time grows linearly with ``len(text)`` whatever the number of names.

    Examples
    --------
    >>> report = check("The root cause was that Sam forgot to renew the cert.", ["Sam"])
    >>> sorted(c for c, n in report.summary.items() if n)
    ['cause_framing', 'named_individual', 'person_as_subject']
    """
    if not isinstance(text, str):
        raise ValueError(f"text must be a str, got {type(text).__name__}")
    name_tuple = _validate_names(names)
    if not text.strip():
        return Report((), _empty_summary(), NOTICE_EMPTY)
    if _looks_binary(text):
        return Report((), _empty_summary(), NOTICE_BINARY)

    def on_time() -> None:
        if deadline is not None and time.monotonic() > deadline:
            raise CheckTimeout("the check ran out of time")

    compiled = _compile_for(name_tuple)
    on_time()
    low = text.translate(_LOWER)
    mask_starts, mask_ends = _mask_intervals(text)
    ctx = _Context(text, low, compiled.roster.spans(text), guessed_names(text), mask_starts,
                   mask_ends)
    on_time()
    hits: list[_Hit] = []
    human_error = _CATEGORY_ORDER["human_error"]

    for index, (rule, pattern) in enumerate(zip(_RULES, _RULE_RES, strict=True)):
        on_time()
        order = _CATEGORY_ORDER[rule.category]
        checks_name = "name_after" in pattern.groupindex
        for count, m in enumerate(pattern.finditer(low)):
            if count & 1023 == 1023:
                on_time()
            start = m.start()
            if ctx.masked(start):
                continue
            if checks_name and m.group("name_after") is not None:
                at = m.start("name_after")
                if not any(s == at for s, _e in _spans_between(ctx.names, at, at + 200)) and \
                        not any(s == at for s, _e in _spans_between(ctx.guesses, at, at + 200)):
                    continue
            if rule.negatable and _negated(low, start):
                continue
            if rule.relative_ok and _after_person(ctx, start):
                continue
            if order == human_error and not _human_error_blames(low, start):
                continue
            note = None
            hit_order = order
            if rule.needs_actor:
                actor = _actor_before(ctx, start, rule)
                if actor is None:
                    continue
                start, kind = actor
                if kind in (_I_ACTOR, _WE_ACTOR) and rule.category == "person_as_subject":
                    hit_order = _CATEGORY_ORDER["self_blame"]
                note = _pronoun_antecedent(ctx, start)
            hits.append((start, m.end(), hit_order, index, note))

    on_time()
    counterfactual = _CATEGORY_ORDER["counterfactual"]
    for m in _HAD_OR_IF.finditer(low):
        if ctx.masked(m.start()):
            continue
        tail = _HAD_TAIL.match(low, m.end())
        if tail is None or not (tail.group("had") or low.startswith("had", m.start())):
            continue
        who_start, who_end = tail.span("who")
        if _PERSON.fullmatch(low, who_start, who_end) or tail.group("who") in (
                "anyone", "anybody") or any(s == who_start for s, _e in _spans_between(
                    ctx.names + ctx.guesses, who_start, who_end)):
            hits.append((m.start(), tail.end(), counterfactual, _HAD, None))

    on_time()
    named = _CATEGORY_ORDER["named_individual"]
    for start, end in ctx.names:
        if not ctx.masked(start):
            hits.append((start, end, named, _NAMED, None))

    hits = _dedupe(hits)
    summary = _empty_summary()
    categories = list(CATEGORIES)
    for hit in hits:
        summary[categories[hit[2]]] += 1

    notices = []
    if not _looks_english(text):
        notices.append(NOTICE_NOT_ENGLISH)
    if len(hits) > MAX_FINDINGS:
        notices.append(
            f"Showing the first {MAX_FINDINGS:,} of {len(hits):,} findings; "
            "the summary counts all of them."
        )
        hits = hits[:MAX_FINDINGS]
    seen: Counter[tuple[int, str]] = Counter()
    findings = tuple(_finding(text, hit, seen) for hit in hits)
    return Report(findings, summary, " ".join(notices) or None, roster=bool(name_tuple))


# "Human error" named as the cause, as opposed to a sentence that says the safeguards were
# missing ("the tool let a single human error take down the region"), rejects the label
# ("most 'human error' is really a design issue") or speaks of people in general.
_HUMAN_ERROR_ASSERTED = re.compile(
    r"\b(?:cause|trigger|culprit|reason|explanation)\s+(?:\w+\s+){0,3}?(?:was|is|were)\b|"
    r"\bto\s+blame\b|\bblam\w*\b|\battribut\w*\b|\bcaused\s+by\b|\bresult\s+of\b|\bdue\s+to\b|"
    r"\bdown\s+to\b|\bbecause\s+of\b|\bwas\s+(?:a\s+|an\s+)?(?:simple\s+)?(?:human|operator|"
    r"user|pilot|driver)\b"
)
_HUMAN_ERROR_SYSTEMIC = re.compile(
    r"\b(?:safeguards?|guard\s?rails?|systemic|design|allow(?:s|ed)?|let|permitted|enabled|"
    r"made\s+it\s+(?:easy|possible)|really|should\s+not\s+be|starting\s+point|beginning|"
    r"contributors?\s+to|lead\s+to|leads\s+to|trap|symptom|effect|any|most|inevitabl\w*|"
    r"will\s+at\s+some\s+point|not\s+the\s+(?:cause|end)|isn't|is\s+not|cannot|can't|"
    r"tempting|call\s+(?:it|this|that))\b"
)


def _sentence_bounds(low: str, pos: int) -> tuple[int, int]:
    lo = max(0, pos - 300)
    start = lo
    for m in re.finditer(r"[.!?\n]\s", low[lo:pos]):
        start = lo + m.end()
    end_match = re.compile(r"[.!?](?:\s|$)|\n").search(low, pos, min(len(low), pos + 300))
    return start, end_match.end() if end_match else min(len(low), pos + 300)


def _human_error_blames(low: str, pos: int) -> bool:
    start, end = _sentence_bounds(low, pos)
    if _HUMAN_ERROR_ASSERTED.search(low, start, end):
        return True
    return _HUMAN_ERROR_SYSTEMIC.search(low, start, end) is None


def _finding(text: str, hit: _Hit, seen: Counter[tuple[int, str]]) -> Finding:
    start, end, order, index, note = hit
    category = _CATEGORY_IDS[order]
    words = " ".join(text[start:end].lower().split())
    seen[(order, words)] += 1
    digest = hashlib.sha256(words.encode("utf-8")).hexdigest()[:8]
    if index == _NAMED:
        explanation, suggestions, severity = _NAMED_EXPLANATION, _NAMED_SUGGESTIONS, None
    elif index == _HAD:
        explanation, suggestions, severity = _HAD_EXPLANATION, _HAD_SUGGESTIONS, None
    else:
        rule = _RULES[index]
        explanation, suggestions, severity = rule.explanation, rule.suggestions, rule.severity
        if category == "self_blame" and rule.category != "self_blame":
            explanation = _SELF_EXPLANATION
    if note:
        pronoun = text[start:end].split(None, 1)[0]
        explanation = f"\u201c{pronoun}\u201d points back to {note}. {explanation}"
    return Finding(
        start=start,
        end=end,
        text=text[start:end],
        category=category,
        severity=severity or _CATEGORY_SEVERITY[category],
        explanation=explanation,
        suggestions=suggestions,
        id=f"{category}-{digest}-{seen[(order, words)]}",
    )


def _dedupe(hits: list[_Hit]) -> list[_Hit]:
    """Drop hits that overlap an earlier, longer one of the same category, and generic
    person-as-subject hits inside a more specific blame hit; text order."""
    hits.sort(key=lambda h: (h[2], h[0], h[0] - h[1]))
    kept: list[_Hit] = []
    last_end: dict[int, int] = {}
    for hit in hits:
        if hit[0] < last_end.get(hit[2], -1):
            continue
        kept.append(hit)
        last_end[hit[2]] = hit[1]
    # A generic "person as subject" finding lying wholly inside a more specific blame finding
    # says the same thing twice ("Was nobody watching" and "nobody watching"): keep the
    # specific one.
    generic = _CATEGORY_ORDER["person_as_subject"]
    kept.sort(key=lambda h: (h[0], h[0] - h[1], h[2] == generic))
    out: list[_Hit] = []
    outer_end = -1
    for hit in kept:
        if hit[2] == generic and hit[1] <= outer_end:
            continue
        out.append(hit)
        if hit[2] != generic and _CATEGORY_IDS[hit[2]] not in FRAMING_CATEGORIES:
            outer_end = max(outer_end, hit[1])
    out.sort(key=lambda h: (h[0], h[1], h[2]))
    return out
