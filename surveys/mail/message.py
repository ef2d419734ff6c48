"""Messages: what one email is (:class:`Mail`), its Message-ID and unsubscribe headers,
and the RFC 5322 message built from it (:func:`build_message`), refusing header injection.
No Flask, no database."""

from __future__ import annotations

import email.policy
import email.utils
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from types import MappingProxyType

DEFAULT_MAIL_URL = "console"
DEFAULT_MAIL_FROM = "aftercare@localhost"

# Headers that build_message sets itself; a caller may not pass them in Mail.headers.
_RESERVED_HEADERS = frozenset(
    {"from", "to", "cc", "bcc", "subject", "message-id", "date", "mime-version", "sender"}
)
_HEADER_NAME = re.compile(r"[!-9;-~]+")  # printable ASCII without ':' (RFC 5322 ftext)
_MESSAGE_ID = re.compile(r"<[^<>@\s]+@[^<>@\s]+>")
_ID_PART = re.compile(r"[A-Za-z0-9_-]+")
_DOMAIN = re.compile(r"[A-Za-z0-9.-]+")


# --- messages -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Mail:
    """One message to one recipient, as the outbox hands it over.

    ``message_id`` is the full ``<...@...>`` form, best made with :func:`make_message_id`.
    ``headers`` holds extra headers such as those from :func:`unsubscribe_headers`; it is
    copied into a read-only mapping.
    """

    to: str
    subject: str
    text: str
    html: str | None
    message_id: str
    headers: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "headers", MappingProxyType(dict(self.headers)))

    def __repr__(self) -> str:
        # The body and header values may carry survey tokens: keep them out of reprs,
        # which end up in tracebacks and debug logs.
        return f"Mail(message_id={self.message_id!r})"


def make_message_id(outbox_id: int | str, seed: str | bytes, domain: str = "aftercare") -> str:
    """Return the deterministic Message-ID ``<outbox-<id>.<hash>@<domain>>``.

    The same outbox id and seed always give the same Message-ID, so a message sent twice
    (say, the connection dropped after the server took it) is recognisable as a duplicate.
    ``hash`` is the first 16 hex digits of HMAC-SHA256 keyed with ``seed`` over the id, so
    two installations do not produce colliding ids and the seed (it may be derived from the
    application secret) cannot be recovered from it.

    Raises
    ------
    ValueError
        If the id or domain holds characters not allowed in a Message-ID.
    """
    ident = str(outbox_id)
    if isinstance(outbox_id, bool) or not _ID_PART.fullmatch(ident):
        raise ValueError("outbox id must be an integer or letters, digits, '-' and '_'")
    if not _DOMAIN.fullmatch(domain):
        raise ValueError("Message-ID domain must be letters, digits, '.' and '-'")
    key = seed.encode() if isinstance(seed, str) else bytes(seed)
    digest = hmac.new(key, f"outbox-{ident}".encode(), hashlib.sha256).hexdigest()[:16]
    return f"<outbox-{ident}.{digest}@{domain}>"


def unsubscribe_headers(url: str, *, one_click: bool = True) -> dict[str, str]:
    """Return ``List-Unsubscribe`` (and, for https with ``one_click``, RFC 8058's
    ``List-Unsubscribe-Post: List-Unsubscribe=One-Click``) for ``Mail.headers``.

    Only ask for one-click when ``url`` accepts a POST without further confirmation.
    """
    scheme = url.split(":", 1)[0].lower()
    if scheme not in {"https", "http", "mailto"} or any(c in url for c in "<>\r\n\0 "):
        raise ValueError("unsubscribe link must be an http(s) or mailto URI without spaces")
    headers = {"List-Unsubscribe": f"<{url}>"}
    if one_click and scheme == "https":
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return headers


class InvalidMail(ValueError):
    """Raised by build_message's own checks; the message names a field, never a value."""


def _check_header_value(name: str, value: object) -> None:
    if not isinstance(value, str):
        raise InvalidMail(f"header {name} must be a string")
    if any(c in value for c in "\r\n\0"):
        raise InvalidMail(f"header {name} must not contain line breaks")


def envelope_address(value: str, what: str) -> str:
    if not isinstance(value, str) or any(c in value for c in "\r\n\0"):
        raise InvalidMail(f"{what} must be a single-line string")
    _name, address = email.utils.parseaddr(value)
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain or any(c.isspace() for c in address):
        raise InvalidMail(f"{what} is not an email address")
    return address


def build_message(mail: Mail, sender: str) -> EmailMessage:
    """Build the MIME message: text part, optional HTML alternative, standard headers.

    Sets From, To, Subject, Date, Message-ID, ``Auto-Submitted: auto-generated`` (RFC 3834,
    so out-of-office robots stay quiet) and then ``mail.headers``.

    Raises
    ------
    ValueError
        If an address, the Message-ID or a header is malformed, or ``mail.headers`` tries to
        set a header this function owns. Messages name the field, never its value.
    """
    envelope_address(sender, "sender")
    envelope_address(mail.to, "recipient")
    if not isinstance(mail.message_id, str) or not _MESSAGE_ID.fullmatch(mail.message_id):
        raise InvalidMail("message_id must look like <local@domain>")
    _check_header_value("Subject", mail.subject)
    if not isinstance(mail.text, str) or not (mail.html is None or isinstance(mail.html, str)):
        raise InvalidMail("text and html must be strings")
    for name, value in mail.headers.items():
        if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
            raise InvalidMail("extra header names must be printable ASCII without ':'")
        lowered = name.lower()
        if lowered in _RESERVED_HEADERS or lowered.startswith("content-"):
            raise InvalidMail(f"header {name} is set by build_message, not by Mail.headers")
        _check_header_value(name, value)

    msg = EmailMessage(policy=email.policy.default)
    msg["From"] = sender
    msg["To"] = mail.to
    msg["Subject"] = mail.subject
    msg["Date"] = email.utils.formatdate(usegmt=True)
    msg["Message-ID"] = mail.message_id
    if "auto-submitted" not in {name.lower() for name in mail.headers}:
        msg["Auto-Submitted"] = "auto-generated"
    for name, value in mail.headers.items():
        msg[name] = value
    msg.set_content(mail.text)
    if mail.html is not None:
        msg.add_alternative(mail.html, subtype="html")
    return msg


