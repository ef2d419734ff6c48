"""Slack transport: survey invitations and reminders as direct messages, with ``slack_sdk``.

A backend like the mail backends (:class:`surveys.mail.MailBackend`): the outbox claims,
renders and records each outcome exactly as for email (``surveys/outbox.py``); this module
only turns one message into Web API calls and tells how each went. For each message:
``users.lookupByEmail`` (the participant's address), ``conversations.open`` (the direct
message channel with the app's bot user), ``chat.postMessage`` with link previews off, so
that Slack's servers never fetch the survey link.

How outcomes map onto the outbox's rules:

- ``users_not_found`` (and a deactivated account or a bot): :attr:`Status.NOT_FOUND`, and
  the outbox sends the message by email instead.
- HTTP 429: not attempted, with ``retry_after`` from Slack's ``Retry-After``; the rest of the
  batch is not sent either, so nothing reaches Slack before that time has passed.
- A refused token or a missing scope (``invalid_auth``, ``missing_scope``, ...), or Slack
  unreachable: about the configuration or the service, not the message: not attempted, the
  messages wait (as with an SMTP server that is down or refuses the login).
- Slack's own trouble (5xx, ``internal_error``), or the connection lost while a message was
  being posted: temporary, retried with backoff. What cannot be avoided (as with SMTP): a
  post that Slack took but whose answer was lost is posted again at the retry.
- Anything else about one message: permanent.

No request is retried by the SDK itself (the outbox owns retries). The SDK's own logger is
kept at WARNING, so request bodies (the message, with its link) never reach a log; this
module logs message ids, outcomes and Slack's error codes, never an address, a link or a
token.
"""

from __future__ import annotations

import http.client
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from surveys.mail.backends import MailBackend, Outcome, Status, log_outcome
from surveys.mail.message import Mail

log = logging.getLogger(__name__)
_sdk_log = logging.getLogger("surveys.mail.slack.sdk")
_sdk_log.setLevel(logging.WARNING)

# Scopes the app's bot token needs (docs/slack.md).
SCOPES = ("chat:write", "im:write", "users:read", "users:read.email")
DEFAULT_RETRY_AFTER = 60.0
MAX_RETRY_AFTER = 3600.0
# The recipient is not reachable in Slack: send by email instead.
_ELSEWHERE = frozenset({"users_not_found", "user_not_found", "user_disabled",
                        "cannot_dm_bot", "user_is_bot"})
# About the token, the app or the workspace: every message waits until it is fixed.
_CONFIGURATION = frozenset({"invalid_auth", "not_authed", "account_inactive", "token_revoked",
                            "token_expired", "missing_scope", "no_permission",
                            "not_allowed_token_type", "ekm_access_denied",
                            "team_access_not_granted", "org_login_required",
                            "access_denied", "enterprise_is_restricted"})
_SLACK_TROUBLE = frozenset({"internal_error", "fatal_error", "service_unavailable",
                            "request_timeout", "ratelimited"})
_CONNECTION = (SlackClientError, URLError, OSError, http.client.HTTPException)


def escape_mrkdwn(text: object) -> str:
    """Text for Slack's mrkdwn: ``&``, ``<`` and ``>`` escaped, so that an incident title
    cannot make a link or a mention such as ``<!channel>``."""
    return (str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))


def init_app(app) -> None:
    """The ``slack_escape`` template filter (templates/slack/)."""
    app.jinja_env.filters["slack_escape"] = escape_mrkdwn


class _Stop(Exception):
    """This message and the rest of the batch are not sent now."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason, self.retry_after = reason, retry_after


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    lines: tuple[tuple[bool, str], ...]


def _retry_after(error: SlackApiError) -> float:
    headers = {k.lower(): v for k, v in (error.response.headers or {}).items()}
    raw = headers.get("retry-after")
    if isinstance(raw, list):
        raw = raw[0] if raw else None
    try:
        seconds = float(str(raw).strip())
    except (TypeError, ValueError):
        return DEFAULT_RETRY_AFTER
    return min(max(seconds, 1.0), MAX_RETRY_AFTER)


def _error_code(error: SlackApiError) -> str:
    data = error.response.data if isinstance(error.response.data, dict) else {}
    code = data.get("error")
    return code[:60] if isinstance(code, str) and code.replace("_", "").isalnum() else \
        f"http {error.response.status_code}"


class SlackBackend(MailBackend):
    """Sends :class:`Mail` as Slack direct messages (``to`` is the person's email address,
    ``text`` the message in Slack's mrkdwn; ``html`` and headers are not used).

    ``sender`` is ``AFTERCARE_MAIL_FROM`` (a MailBackend needs one; Slack shows the app's
    bot user instead). ``base_url`` is the Web API's address (``AFTERCARE_SLACK_API_URL``).
    """

    def __init__(self, token: str, sender: str, *, base_url: str = "https://slack.com/api/",
                 timeout: float = 10.0) -> None:
        super().__init__(sender)
        if not token or not token.strip():
            raise ValueError("AFTERCARE_SLACK_TOKEN is empty")
        self.base_url = base_url
        self._client = WebClient(token=token.strip(), base_url=base_url,
                                 timeout=max(1, int(timeout)), logger=_sdk_log,
                                 retry_handlers=[])

    def __repr__(self) -> str:
        return f"SlackBackend({self.base_url!r})"

    def send_batch(self, mails: Sequence[Mail]) -> list[Outcome]:
        return list(self.send_each(mails))

    def send_each(self, mails: Sequence[Mail]) -> Iterator[Outcome]:
        for index, mail in enumerate(mails):
            try:
                outcome = self._send_one(mail)
            except _Stop as stop:
                for rest in mails[index:]:
                    outcome = Outcome(rest.message_id, Status.TEMPORARY, None, stop.reason,
                                      attempted=False, retry_after=stop.retry_after)
                    log_outcome(outcome)
                    yield outcome
                return
            log_outcome(outcome)
            yield outcome

    def _call(self, method: str, **params):
        """One Web API call; raises :class:`_Stop` when nothing should be sent now."""
        try:
            return self._client.api_call(method, params=params)
        except SlackApiError as exc:
            code = _error_code(exc)
            if exc.response.status_code == 429 or code == "ratelimited":
                raise _Stop(f"slack {method}: rate limited", _retry_after(exc)) from None
            if code in _CONFIGURATION:
                log.error("slack refused the token or its scopes (%s); see docs/slack.md",
                          code)
                raise _Stop(f"slack {method}: {code}") from None
            raise
        except _CONNECTION as exc:
            raise _Stop(f"slack {method}: unreachable ({type(exc).__name__})") from None

    def _send_one(self, mail: Mail) -> Outcome:
        mid = mail.message_id
        try:
            found = self._call("users.lookupByEmail", email=mail.to)
            user = found.get("user") or {}
            if user.get("deleted") or user.get("is_bot"):
                return Outcome(mid, Status.NOT_FOUND, None, "slack: account not usable")
            opened = self._call("conversations.open", users=str(user.get("id", "")))
            channel = (opened.get("channel") or {}).get("id")
            if not isinstance(channel, str) or not channel:
                return Outcome(mid, Status.TEMPORARY, None, "slack: no direct message channel")
        except SlackApiError as exc:
            return self._refused(mid, exc, posting=False)
        try:
            self._client.api_call("chat.postMessage", json={
                "channel": channel, "text": mail.text, "mrkdwn": True,
                "unfurl_links": False, "unfurl_media": False})
        except SlackApiError as exc:
            if exc.response.status_code == 429 or _error_code(exc) == "ratelimited":
                raise _Stop("slack chat.postMessage: rate limited", _retry_after(exc)) from None
            if _error_code(exc) in _CONFIGURATION:
                raise _Stop(f"slack chat.postMessage: {_error_code(exc)}") from None
            return self._refused(mid, exc, posting=True)
        except _CONNECTION as exc:
            # The post may or may not have reached Slack: this one is an attempt.
            return Outcome(mid, Status.TEMPORARY, None,
                           f"slack chat.postMessage: connection lost ({type(exc).__name__})")
        return Outcome(mid, Status.SENT)

    @staticmethod
    def _refused(mid: str, exc: SlackApiError, posting: bool) -> Outcome:
        code = _error_code(exc)
        step = "chat.postMessage" if posting else "lookup"
        if code in _ELSEWHERE:
            return Outcome(mid, Status.NOT_FOUND, None, f"slack {step}: {code}")
        if code in _SLACK_TROUBLE or exc.response.status_code >= 500:
            return Outcome(mid, Status.TEMPORARY, exc.response.status_code,
                           f"slack {step}: {code}")
        return Outcome(mid, Status.PERMANENT, None, f"slack {step}: {code}")

    def check(self, email: str) -> CheckResult:
        """``flask slack check EMAIL``: the token, its scopes, and whether EMAIL is found.
        Sends nothing."""
        lines: list[tuple[bool, str]] = []
        try:
            auth = self._client.api_call("auth.test")
        except SlackApiError as exc:
            return CheckResult(False, ((False, f"token refused: {_error_code(exc)}"),))
        except _CONNECTION as exc:
            return CheckResult(False, ((False, f"Slack unreachable at {self.base_url}: "
                                               f"{type(exc).__name__}"),))
        lines.append((True, f"token accepted for workspace {auth.get('team', '?')!s} "
                            f"as {auth.get('user', '?')!s}"))
        headers = {k.lower(): v for k, v in (auth.headers or {}).items()}
        granted = headers.get("x-oauth-scopes")
        if isinstance(granted, list):
            granted = ",".join(granted)
        if isinstance(granted, str):
            missing = [s for s in SCOPES if s not in {g.strip() for g in granted.split(",")}]
            lines.append((not missing, "scopes " + (f"missing: {', '.join(missing)}" if missing
                                                    else "granted: " + ", ".join(SCOPES))))
        try:
            found = self._client.api_call("users.lookupByEmail", params={"email": email})
        except SlackApiError as exc:
            code = _error_code(exc)
            text = ("not found in Slack: invitations to this address go by email"
                    if code == "users_not_found" else f"lookup refused: {code}")
            lines.append((False, f"{email}: {text}"))
        except _CONNECTION as exc:
            lines.append((False, f"lookup failed: {type(exc).__name__}"))
        else:
            user = found.get("user") or {}
            lines.append((True, f"{email}: Slack user {user.get('id', '?')!s}"))
        return CheckResult(all(ok for ok, _ in lines), tuple(lines))
