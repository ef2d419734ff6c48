"""The flags decided with a released figure: one false-discovery family per figure.

A family is every check run on one figure: a survey's own results, a team's calendar period,
or the organisation's quarter. Its findings are resolved together (Benjamini-Hochberg at
``analysis.flags.FDR_Q``) when the figure is decided and stored with it, so every page, the
PDF, the CSV and the API show the same verdict, numbers and period for the same finding.

* Survey: a policy-practice gap for each policy in force whose check the survey asked.
* Team period: policy-practice gaps, the social-cost check, and a worsening trend per
  construct over the team's released periods of the same grain up to this one.
* Organisation quarter: policy-practice gaps, people directly involved against observers
  (when both groups were released), and a worsening trend per construct.

Apart from the families, :func:`checkin_notice` says that someone asked for a confidential
check-in after an incident of a team's period, whether or not its figures were released, but
only when the period's surveys invited at least k people, and never per incident.

Everything here reads released counts only (``releases.Release.counts``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from analysis import flags, items, stats
from analysis.periods import period_index, period_label
from surveys.services import scores
from surveys.services.releases import Release

INVOLVED, OBSERVERS = "direct", "observer"


@dataclass(frozen=True)
class ShownFlag:
    """A stored flag as pages show it: the flag itself (its words are
    ``analysis.flags.Flag``'s own) and what its family was about (``about``, e.g.
    "Payments, 2026 Q3", and ``period``; "" for one survey)."""

    flag: flags.Flag
    about: str
    period: str

    kind = property(lambda self: self.flag.kind)
    state = property(lambda self: self.flag.state)
    subject = property(lambda self: self.flag.subject)
    what_was_seen = property(lambda self: self.flag.what_was_seen)
    how_sure = property(lambda self: self.flag.how_sure)
    next_step = property(lambda self: self.flag.next_step)
    numbers = property(lambda self: self.flag.numbers)
    label = property(lambda self: self.flag.label)

    def text(self) -> str:
        return f"{self.about}: {self.flag.text()}" if self.about else self.flag.text()

    def to_dict(self) -> dict[str, object]:
        return {**self.flag.to_dict(), "about": self.about, "period": self.period}


_FLAG_FIELDS = tuple(f.name for f in dataclasses.fields(flags.Flag))


def shown(findings: Sequence[Mapping[str, object]]) -> tuple[ShownFlag, ...]:
    """Stored findings as pages show them, flags before watches."""
    out = [ShownFlag(flags.Flag(**{name: f[name] for name in _FLAG_FIELDS if name in f}),
                     str(f.get("about", "")), str(f.get("period", "")))
           for f in findings]
    return tuple(sorted(out, key=lambda f: f.state != flags.FLAG))


def _stored(resolved: Sequence[flags.Flag], about: str, period: str
            ) -> list[dict[str, object]]:
    out = []
    for flag in resolved:
        data = flag.to_dict()
        data["numbers"] = {k: float(v) for k, v in dict(data["numbers"]).items()}
        data.update(about=about, period=period)
        out.append(data)
    return out


# --------------------------------------------------------------------------- checks


def _gap_findings(policies: Sequence[items.Policy], counts: scores.Counts
                  ) -> tuple[list[flags.Finding], dict[str, dict[str, float]]]:
    """Gap findings for the policies whose check was released, and the numbers of every
    policy checked (empty when not shown), for the practice table that must agree with the
    flags."""
    found: list[flags.Finding] = []
    numbers: dict[str, dict[str, float]] = {}
    for policy in policies:
        finding = flags.policy_gap_finding(policy, counts.get(policy.check, {}))
        numbers[policy.id] = {}
        if finding is not None:
            found.append(finding)
            numbers[policy.id] = {k: float(v) for k, v in finding.numbers.items()}
    return found, numbers


def construct_pcts(released: Release) -> dict[str, float | None]:
    """A released figure's percent favourable per construct (None where not shown)."""
    k = released.decision.k
    return {c.id: scores.construct_pct(released.counts, k, c.id) for c in items.CONSTRUCTS}


def trend_findings(label: str, history: Sequence[tuple[str, Mapping[str, float | None]]]
                   ) -> list[flags.Finding | None]:
    """A worsening-trend check per construct over released figures ``(period, percent
    favourable per construct)``, oldest first."""
    out: list[flags.Finding | None] = []
    for construct in items.CONSTRUCTS:
        points = [(p, pct) for p, pcts in history
                  if (pct := pcts.get(construct.id)) is not None]
        out.append(flags.worsening_trend_finding(
            f"{label}: {construct.label.lower()}", [v for _, v in points],
            [period_index(p) for p, _ in points]))
    return out


# --------------------------------------------------------------------------- families


@dataclass(frozen=True)
class Family:
    """The findings decided with one figure, and the practice numbers behind them."""

    findings: list[dict[str, object]]
    practices: dict[str, dict[str, float]]

    def extra(self, **more: object) -> dict[str, object]:
        return {"practices": self.practices, **more}


def survey_family(survey_label: str, released: Release, policies: Sequence[items.Policy]
                  ) -> Family:
    gaps, numbers = _gap_findings(policies, released.counts)
    return Family(_stored(flags.resolve(gaps), survey_label, ""), numbers)


History = Sequence[tuple[str, Mapping[str, float | None]]]


def team_family(team_name: str, period: str, released: Release,
                policies: Sequence[items.Policy], history: History) -> Family:
    """``history``: the team's released periods of this grain up to and including this one."""
    about = f"{team_name}, {period_label(period)}"
    gaps, numbers = _gap_findings(policies, released.counts)
    found: list[flags.Finding | None] = list(gaps)
    if "construct:social" in released.measures:
        found.append(flags.social_cost_finding(about, scores.histogram(released.counts,
                                                                       "social")))
    found.extend(trend_findings(team_name, history))
    return Family(_stored(flags.resolve(found), about, period), numbers)


def checkin_notice(team_name: str, period: str, requests: int, invited: int, k: int
                   ) -> list[dict[str, object]]:
    """The check-in flag of a team's period, or nothing: only when someone asked and the
    period's surveys invited at least ``k`` people (fewer would point at someone)."""
    if requests <= 0 or invited < k:
        return []
    about = f"{team_name}, {period_label(period)}"
    return _stored(flags.resolve([flags.checkin_finding(f"an incident of {about}",
                                                        requests)]), about, period)


def org_family(period: str, released: Release, policies: Sequence[items.Policy],
               history: History, involvement: Mapping[str, Release], k: int) -> Family:
    about = f"Organisation, {period_label(period)}"
    gaps, numbers = _gap_findings(policies, released.counts)
    found: list[flags.Finding | None] = list(gaps)
    direct, observers = involvement.get(INVOLVED), involvement.get(OBSERVERS)
    if direct is not None and observers is not None and direct.allowed and observers.allowed \
            and "construct:social" in direct.measures \
            and "construct:social" in observers.measures:
        found.append(flags.involved_cost_finding(
            scores.histogram(direct.counts, "social"),
            scores.histogram(observers.counts, "social"), min_group=k))
    found.extend(trend_findings("Organisation", history))
    return Family(_stored(flags.resolve(found), about, period), numbers)


# --------------------------------------------------------------------------- kinds

BASE_KIND = "availability"


def compare_kinds(kinds: Mapping[str, Release]) -> list[dict[str, object]]:
    """Is a security or data incident reviewed with more blame than an outage?

    Respondent-level "perceived blame" scores of each released kind against availability
    incidents: two-sided Mann-Whitney U with Cliff's delta (``stats.mann_whitney``),
    Benjamini-Hochberg across the comparisons. A difference is called clear when it passes
    the false-discovery check and |delta| reaches the flags' medium effect (0.33); a smaller
    one that passes is called slight.
    """
    def blame(r: Release) -> dict[float, int]:
        return scores.histogram(r.counts, "blame") if "construct:blame" in r.measures else {}

    base = kinds.get(BASE_KIND)
    if base is None or not base.allowed or not blame(base):
        return []
    tests = []
    for key in sorted(kinds):
        other = kinds[key]
        if key == BASE_KIND or not other.allowed or not blame(other):
            continue
        tests.append((key, stats.mann_whitney(blame(other), blame(base))))
    fdr = stats.benjamini_hochberg([t.pvalue for _, t in tests], flags.FDR_Q)
    out = []
    for (key, test), p_adj, rejected in zip(tests, fdr.adjusted, fdr.rejected, strict=True):
        label = key.title()
        delta = test.cliffs_delta
        direction = "more" if delta < 0 else "less"  # blame scores are favourable high
        if rejected and abs(delta) >= flags.MIN_CLIFFS_DELTA:
            words = (f"{label} incidents were reviewed with clearly {direction} blame than "
                     "availability incidents.")
        elif rejected:
            words = (f"{label} incidents were reviewed with slightly {direction} blame than "
                     "availability incidents (a small difference).")
        else:
            words = (f"No clear difference in blame between {label.lower()} and availability "
                     "incidents.")
        out.append({"kind": key, "label": label, "cliffs_delta": float(delta),
                    "adjusted_pvalue": float(p_adj), "words": words})
    return out


TWO_TRACK_POLICY = "separate_tracks"
TWO_TRACK_KIND = "security"


def compare_two_track(kinds: Mapping[str, Release]) -> dict[str, object] | None:
    """Does the learning review discuss consequences more after security incidents than
    after availability incidents?

    The share of "Yes" among yes/no answers to the two-track practice check of each kind's
    released figure, security against availability, by Fisher's exact test
    (``stats.compare_shares``). A difference is called clear at ``flags.FDR_Q``. None when
    either kind, or the check in either, was not released.
    """
    policy = items.POLICY_BY_ID[TWO_TRACK_POLICY]
    check = policy.check

    def yes_no(r: Release | None) -> tuple[int, int] | None:
        if r is None or not r.allowed or check not in r.measures:
            return None
        values = r.counts.get(check, {})
        yes = sum(c for v, c in values.items() if v in policy.contrary)
        answered = yes + values.get(items.NO, 0)
        return (yes, answered) if answered >= 2 else None

    other, base = yes_no(kinds.get(TWO_TRACK_KIND)), yes_no(kinds.get(BASE_KIND))
    if other is None or base is None:
        return None
    test = stats.compare_shares(other[0], other[1], base[0], base[1])
    other_pct, base_pct = 100 * test.share_x, 100 * test.share_y
    if test.pvalue <= flags.FDR_Q:
        direction = "more" if test.difference > 0 else "less"
        words = (f"Reviews of security incidents discussed consequences for someone "
                 f"clearly {direction} often than reviews of availability incidents "
                 f"({other_pct:.0f}% against {base_pct:.0f}% of answers).")
    else:
        words = (f"No clear difference between security and availability incidents in how "
                 f"often the review discussed consequences for someone ({other_pct:.0f}% "
                 f"against {base_pct:.0f}% of answers).")
    return {"policy": policy.id, "kind": TWO_TRACK_KIND, "base": BASE_KIND,
            "kind_pct": float(other_pct), "base_pct": float(base_pct),
            "kind_answers": other[1], "base_answers": base[1],
            "difference_points": float(100 * test.difference),
            "pvalue": float(test.pvalue), "clear": bool(test.pvalue <= flags.FDR_Q),
            "words": words}
