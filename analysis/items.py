"""The item bank: statements, practice checks, policies and answer scales.

Pure data, no Flask and no database, so that ``analysis/`` and the forms read the same
definitions. Item ids are also column names on staged answers and responses, so adding an
item is a schema change on purpose: answers are never free-form key/value bags.
"""

from __future__ import annotations

from dataclasses import dataclass

# Statement scale. 0 means "Doesn't apply" and is excluded from every score.
STATEMENT_SCALE: tuple[tuple[int, str], ...] = (
    (1, "Strongly disagree"),
    (2, "Disagree"),
    (3, "Neither"),
    (4, "Agree"),
    (5, "Strongly agree"),
    (0, "Doesn't apply"),
)
DOES_NOT_APPLY = 0
AGREE_VALUES = frozenset({4, 5})
DISAGREE_VALUES = frozenset({1, 2})

# Practice check scale.
PRACTICE_SCALE: tuple[tuple[int, str], ...] = ((1, "Yes"), (2, "No"), (3, "Not sure"))
YES, NO, NOT_SURE = 1, 2, 3

INVOLVEMENT: tuple[tuple[str, str], ...] = (
    ("direct", "I was directly involved"),
    ("responder", "I helped respond"),
    ("observer", "I observed or reviewed"),
    ("unsaid", "I prefer not to say"),
)

COMMENT_PROMPT = "What would have made this review feel safer or more useful?"
COMMENT_MAX_CHARS = 2000


@dataclass(frozen=True)
class Construct:
    id: str
    label: str
    description: str


@dataclass(frozen=True)
class Statement:
    id: str
    construct: str
    text: str
    reverse: bool  # True when agreeing is unfavourable


@dataclass(frozen=True)
class Practice:
    """A yes/no/not sure question asked only when its policy is declared in force."""

    id: str
    text: str


@dataclass(frozen=True)
class Policy:
    """A stated policy and the answer that contradicts it in practice.

    ``check`` names either a practice id or a statement id. ``contrary`` is the set of answer
    values that count as practice departing from the policy.
    """

    id: str
    text: str
    check: str
    contrary: frozenset[int]
    contrary_label: str


CONSTRUCTS: tuple[Construct, ...] = (
    Construct("blame", "Perceived blame",
              "Whether the review looked at systems rather than at a person."),
    Construct("social", "Social cost",
              "Whether being involved has cost people anything with colleagues."),
    Construct("sharing", "Comfort sharing mistakes",
              "Whether people feel safe saying what they did and did not know."),
    Construct("leadership", "Leadership modelling",
              "Whether leaders shared their own mistakes."),
)

STATEMENTS: tuple[Statement, ...] = (
    Statement("blame_system", "blame",
              "The review looked at what in our systems and processes made this incident "
              "possible.", reverse=False),
    Statement("blame_person", "blame",
              "The review, or the talk around it, pointed at a person as the cause.",
              reverse=True),
    Statement("blame_career", "blame",
              "Being part of this incident could count against someone at review or "
              "promotion time.", reverse=True),
    Statement("social_treated", "social",
              "People involved have been treated differently since: remarks, jokes, extra "
              "scrutiny, being left out.", reverse=True),
    Statement("social_hesitate", "social",
              "I would hesitate to say openly that I was involved in this incident.",
              reverse=True),
    Statement("social_support", "social",
              "People involved got support from peers and managers afterwards.",
              reverse=False),
    Statement("sharing_own", "sharing",
              "If I made a mistake like the one in this incident, I would feel safe "
              "describing it in a review.", reverse=False),
    Statement("sharing_free", "sharing",
              "In this review, people said what they knew and did not know without holding "
              "back.", reverse=False),
    Statement("lead_shared", "leadership",
              "A leader in the review talked about a mistake or decision of their own that "
              "went wrong.", reverse=False),
)

PRACTICES: tuple[Practice, ...] = (
    Practice("practice_author",
             "Was the review written mainly by the person most involved?"),
    Practice("practice_named",
             "Did the review name who did what, rather than what the system did?"),
    Practice("practice_followups",
             "Were follow-ups assigned to the people involved rather than framed as system "
             "changes?"),
    Practice("practice_root_cause", "Did the review look for a single root cause?"),
    Practice("practice_consequences",
             "Did the review discuss whether someone should face consequences?"),
)

POLICIES: tuple[Policy, ...] = (
    Policy("neutral_author",
           "A neutral person writes the review, not the people most involved.",
           "practice_author", frozenset({YES}), "Yes"),
    Policy("system_template",
           "Review templates describe system behaviour, not who did what.",
           "practice_named", frozenset({YES}), "Yes"),
    Policy("system_followups",
           "Follow-ups are system changes, not tasks for the people involved.",
           "practice_followups", frozenset({YES}), "Yes"),
    Policy("contributing_factors",
           "Reviews look for contributing factors, not one root cause.",
           "practice_root_cause", frozenset({YES}), "Yes"),
    Policy("blameless", "Reviews are blameless.",
           "blame_person", AGREE_VALUES, "Agree"),
    Policy("no_performance_impact",
           "Incident involvement is kept out of performance reviews.",
           "blame_career", AGREE_VALUES, "Agree"),
    Policy("leaders_share", "Leaders share their own mistakes in reviews.",
           "lead_shared", DISAGREE_VALUES, "Disagree"),
    Policy("support_offered", "People involved are offered support afterwards.",
           "social_support", DISAGREE_VALUES, "Disagree"),
    # The two-track review: whether someone broke a rule (rare, most often after security
    # incidents) is a separate process, often with HR, never part of the learning review.
    Policy("separate_tracks",
           "Whether someone broke a rule is reviewed separately from the learning review.",
           "practice_consequences", frozenset({YES}), "Yes"),
)

STATEMENT_IDS: tuple[str, ...] = tuple(s.id for s in STATEMENTS)
PRACTICE_IDS: tuple[str, ...] = tuple(p.id for p in PRACTICES)
ANSWER_IDS: tuple[str, ...] = STATEMENT_IDS + PRACTICE_IDS
INVOLVEMENT_IDS: tuple[str, ...] = tuple(code for code, _ in INVOLVEMENT)

STATEMENT_BY_ID = {s.id: s for s in STATEMENTS}
PRACTICE_BY_ID = {p.id: p for p in PRACTICES}
POLICY_BY_ID = {p.id: p for p in POLICIES}
CONSTRUCT_BY_ID = {c.id: c for c in CONSTRUCTS}


def statements_of(construct_id: str) -> tuple[Statement, ...]:
    return tuple(s for s in STATEMENTS if s.construct == construct_id)


def practices_for(policy_ids: frozenset[str] | set[str]) -> tuple[Practice, ...]:
    """Practice checks to ask, given the policies declared in force."""
    wanted = {POLICY_BY_ID[p].check for p in policy_ids if p in POLICY_BY_ID}
    return tuple(p for p in PRACTICES if p.id in wanted)
