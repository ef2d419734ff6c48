"""Plain words for the codes Aftercare stores: audit actions, outcomes and details, roles,
constructs and release reasons. One mapping, used by the audit log page, the audit CSV, the
HR CSV and the PDF report, so that every place says the same thing in the same words.

Pure data and lookups; an unknown code is shown as itself rather than hidden.
"""

from __future__ import annotations

from analysis import items

ACTIONS: dict[str, str] = {
    "action.form": "Opened the form for an action from a flag",
    "action.record": "Recorded an action from a flag",
    "action.status": "Changed an action's status",
    "action.status.form": "Sent a change of an action's status",
    "admin.apikey.create": "Created an API key",
    "admin.apikey.revoke": "Revoked an API key",
    "admin.delivery.set": "Changed how invitations go out",
    "admin.person.save": "Saved someone to a team's roster",
    "admin.policies.set": "Changed the policies in force",
    "admin.team.add": "Added a team",
    "admin.user.add": "Added an account",
    "admin.user.deactivate": "Deactivated an account",
    "admin.user.reactivate": "Reactivated an account",
    "audit.export": "Downloaded the audit log (CSV)",
    "audit.view": "Read the audit log",
    "auth.code.failed": "Entered a wrong two-factor code",
    "auth.login": "Signed in",
    "auth.login.failed": "Failed to sign in",
    "auth.password.reset": "Reset their password",
    "auth.reset.requested": "Asked for a password reset link",
    "auth.logout": "Signed out",
    "auth.recovery_codes.renewed": "Renewed their recovery codes",
    "auth.sso.refused": "Single sign-on refused",
    "auth.totp.disabled": "Turned off two-factor sign-in",
    "auth.totp.enabled": "Turned on two-factor sign-in",
    "hr.export.csv": "Downloaded the released figures (CSV)",
    "hr.export.flags": "Downloaded the flags (CSV)",
    "hr.export.pdf": "Downloaded the quarterly report (PDF)",
    "hr.overview": "Opened the culture overview",
    "hr.policies": "Opened the policy register and gaps",
    "incident.add": "Added an incident",
    "incident.learning": "Recorded learning outcomes",
    "pools.list": "Opened a team's pooled small incidents",
    "pools.view": "Opened a pool of small incidents",
    "results.list": "Opened the incident list",
    "results.team": "Opened a team's trends",
    "results.view": "Opened an incident's results",
    "survey.close": "Closed a survey early",
}

# Release reasons (analysis.release.Reason values) and other details an event may carry.
DETAILS: dict[str, str] = {
    "released": "figures shown",
    "not_open_yet": "nothing shown: the survey had not opened",
    "still_open": "nothing shown: the survey was open",
    "below_minimum": "nothing shown: too few answers",
    "no_responses": "nothing shown: no answers",
    "small_team": "nothing shown: the team has fewer people than the minimum",
    "suppressed": "nothing shown: a cell was too small",
    "differencing": "nothing shown: it could be subtracted from another figure",
    "audit_limit": "nothing shown: too many looks at small figures",
    "period_not_over": "nothing shown: the period had not ended",
    "few_commenters": "comments held back: too few people commented",
    "pending": "nothing shown yet: being decided",
    "not confirmed": "not done: the confirm step was skipped",
    "locked": "the account was locked",
    "refused: 401": "refused: not signed in",
    "refused: 403": "refused: not allowed for this role",
    "refused: 404": "refused: no such page, or another team's",
    "refused: not_found": "refused: no such item, or another team's",
    "refused: invalid_input": "refused: the request was not valid",
    "refused: forbidden": "refused: not allowed",
    "refused: conflict": "refused: it conflicts with the current state",
}

ROLES: dict[str, str] = {"manager": "manager", "hr": "HR", "admin": "admin",
                         "": "no role", "anonymous": "not signed in"}

CONSTRUCTS: dict[str, str] = {c.id: c.label for c in items.CONSTRUCTS}
# The constructs in a few words, where a sentence lists several (the PDF's kind lines).
CONSTRUCTS_SHORT: dict[str, str] = {"blame": "perceived blame", "social": "social cost",
                                    "sharing": "comfort sharing mistakes",
                                    "leadership": "leadership modelling"}

OUTCOMES: dict[bool, str] = {True: "allowed", False: "refused"}


def action(code: str) -> str:
    """An audit action in words (the code itself when unknown)."""
    return ACTIONS.get(code, code)


def detail(text: str) -> str:
    """An event's detail in words: a known code translated, anything else as recorded."""
    return DETAILS.get(text, text)


def role(code: str | None) -> str:
    return ROLES.get(code or "", code or "")


def construct(code: str) -> str:
    return CONSTRUCTS.get(code, code)
