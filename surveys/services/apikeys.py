"""API keys for the JSON API: creation, revocation, listing, and checking a request.

A key is shown once, when it is created, and stored only as its SHA-256 (a key has 256
random bits, so a fast hash is enough: nothing can be guessed). A key may carry scopes
(``incidents:write``, ``results:read``) and an optional signing secret. With a signing
secret, every request must carry

* ``X-Aftercare-Timestamp``: Unix seconds, within five minutes of the server's clock, and
* ``X-Aftercare-Signature``: ``sha256=<hex HMAC-SHA256(secret, message)>`` where ``message``
  is ``timestamp "\n" METHOD "\n" target "\n" body``: the method, the path with its query
  string (:func:`signing_target`) and the exact body bytes. A signature is therefore good for
  one request only: the same headers on another method, path or query do not match.

An accepted signature is remembered (its hash, until it leaves the window), so a replayed
request is refused. The signing secret has to be read back to check HMACs, so it is stored
encrypted under a key derived from the application secret, which never enters the database.

The first scheme signed ``timestamp + "." + body`` only, which let a signed request be
replayed on another path, query or method; it is refused now, with a message that says so
(docs/api.md, "Changelog").
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote, quote_from_bytes

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from surveys import crypto
from surveys.db import begin_write
from surveys.errors import DomainError, Forbidden, InvalidInput, NotFound
from surveys.models import API_SCOPES, MAX_ID, ApiKey, SeenSignature

KEY_PREFIX = "ack_"
SIGNING_PREFIX = "acs_"
SIGNATURE_WINDOW = timedelta(minutes=5)
TIMESTAMP_HEADER = "X-Aftercare-Timestamp"
SIGNATURE_HEADER = "X-Aftercare-Signature"
_KEY_SHAPE = re.compile(r"^ack_[A-Za-z0-9_-]{43}$")
_SIGNATURE_SHAPE = re.compile(r"^sha256=([0-9a-fA-F]{64})$")
_LAST_USED_PRECISION = timedelta(minutes=5)
# The signed target holds no white space, so the signed message splits one way only: the
# path is percent-encoded except for RFC 3986's path characters ("?", "#" and "%" are
# encoded, so no two paths sign alike); the query keeps its printable ASCII as sent.
_PATH_SAFE = "/!$&'()*+,;=:@"
_QUERY_SAFE = "".join(chr(c) for c in range(0x21, 0x7F))


class Unauthorized(DomainError):
    """A valid API key is required."""

    code = "unauthorized"


class BadSignature(Unauthorized):
    """The request signature is missing, malformed, expired, replayed or wrong."""

    code = "bad_signature"


class SecretBox(crypto.SecretBox):
    """Encrypts signing secrets with a key derived from the application secret."""

    def __init__(self, app_secret: str) -> None:
        super().__init__(app_secret, "api signing secret")


@dataclass(frozen=True)
class CreatedKey:
    """The stored key and the secrets, which are never shown again."""

    key: ApiKey
    secret: str
    signing_secret: str | None


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def signing_target(path: str, query: bytes = b"") -> str:
    """The request target as signed: ``path`` (as routed, e.g. ``/api/v1/surveys/7``) and,
    when there is a query string, ``?`` and the query as sent (``grain=quarter``).

    Plain paths and queries come out exactly as a client writes them in its URL.
    """
    target = quote(path, safe=_PATH_SAFE)
    if query:
        target += "?" + quote_from_bytes(query, safe=_QUERY_SAFE)
    return target


def signed_message(timestamp: int | str, method: str, target: str, body: bytes) -> bytes:
    """What the signature covers: ``timestamp \n METHOD \n target \n body``."""
    return f"{timestamp}\n{method.upper()}\n{target}\n".encode() + body


def sign(signing_secret: str, timestamp: int | str, method: str, target: str,
         body: bytes) -> str:
    """The ``X-Aftercare-Signature`` value for one request: ``method`` on ``target`` (see
    :func:`signing_target`) with ``body``, sent at ``timestamp``."""
    return _hmac(signing_secret, signed_message(timestamp, method, target, body))


def _hmac(signing_secret: str, message: bytes) -> str:
    return "sha256=" + hmac.new(signing_secret.encode("utf-8"), message,
                                hashlib.sha256).hexdigest()


def _retired_scheme(signing_secret: str, timestamp: str, body: bytes) -> str:
    """The first scheme's signature, over ``timestamp + "." + body`` only: recognised to say
    why it is refused, never accepted."""
    return _hmac(signing_secret, timestamp.encode("ascii") + b"." + body)


def create_key(session: Session, name: str, scopes: tuple[str, ...] | list[str],
               signing: bool, box: SecretBox, now: datetime) -> CreatedKey:
    """Create a key named ``name`` with ``scopes`` (all scopes when empty)."""
    begin_write(session)
    problems = {}
    name = name.strip()
    if not 0 < len(name) <= 80:
        problems["name"] = "give the key a name of 1 to 80 characters"
    unknown = sorted(set(scopes) - set(API_SCOPES))
    if unknown:
        problems["scope"] = f"unknown scope {', '.join(unknown)}; use {', '.join(API_SCOPES)}"
    if problems:
        session.rollback()
        raise InvalidInput("The API key could not be created.", problems)
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    signing_secret = SIGNING_PREFIX + secrets.token_urlsafe(32) if signing else None
    key = ApiKey(
        name=name,
        prefix=secret[:12],
        key_hash=hash_key(secret),
        scopes=" ".join(s for s in API_SCOPES if s in (scopes or API_SCOPES)),
        signing_cipher=box.seal(signing_secret) if signing_secret else None,
        created_at=now,
    )
    session.add(key)
    session.commit()
    return CreatedKey(key, secret, signing_secret)


def list_keys(session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.id)))


def revoke_key(session: Session, ident: str, now: datetime) -> ApiKey:
    """Revoke the key whose id or prefix is ``ident``; revoking twice changes nothing."""
    begin_write(session)
    query = select(ApiKey).where(ApiKey.prefix == ident)
    if ident.isascii() and ident.isdigit() and len(ident) <= 10 and int(ident) <= MAX_ID:
        query = select(ApiKey).where(ApiKey.id == int(ident))
    key = session.scalar(query)
    if key is None:
        session.rollback()
        raise NotFound(f"No API key {ident!r}.")
    if key.revoked_at is None:
        key.revoked_at = now
    session.commit()
    return key


def authenticate(
    session: Session,
    authorization: str | None,
    scope: str | None,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    box: SecretBox,
    now: datetime,
    *,
    method: str,
    target: str,
) -> ApiKey:
    """Check a request's key, scope (``None``: any) and, for keys with a signing secret,
    its signature over the timestamp, ``method``, ``target`` (:func:`signing_target` of the
    request's path and query) and ``body``.

    One short write transaction: records the accepted signature (refusing a replay) and,
    at most every few minutes, when the key was last used.

    Raises ``Unauthorized`` (401), ``BadSignature`` (401) or ``Forbidden`` (403, scope).
    """
    if not authorization or not authorization.startswith("Bearer "):
        raise Unauthorized("Send the API key as 'Authorization: Bearer <key>'.")
    secret = authorization[len("Bearer "):].strip()
    if not _KEY_SHAPE.match(secret):
        raise Unauthorized("The API key is not valid.")
    begin_write(session)
    key = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(secret)))
    if key is None or key.revoked_at is not None:
        session.rollback()
        raise Unauthorized("The API key is not valid or has been revoked.")
    if scope is not None and scope not in key.scopes.split():
        session.rollback()
        raise Forbidden(f"This API key does not have the {scope} scope.")
    if key.signing_cipher is not None:
        try:
            _check_signature(session, box.open(key.signing_cipher), timestamp, signature,
                             signed_message(timestamp or "", method, target, body), body, now)
        except BadSignature:
            session.rollback()
            raise
    if key.last_used_at is None or now - key.last_used_at > _LAST_USED_PRECISION:
        key.last_used_at = now
    try:
        session.commit()
    except IntegrityError as exc:  # the same signature accepted concurrently
        session.rollback()
        raise BadSignature("This signature was used before: a replayed request.") from exc
    return key


def _check_signature(session: Session, signing_secret: str, timestamp: str | None,
                     signature: str | None, message: bytes, body: bytes,
                     now: datetime) -> None:
    if not timestamp or not signature:
        raise BadSignature(f"This API key signs requests: send {TIMESTAMP_HEADER} and "
                           f"{SIGNATURE_HEADER}.")
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        raise BadSignature(f"{TIMESTAMP_HEADER} must be Unix seconds.")
    sent = int(timestamp)
    if abs(now.timestamp() - sent) > SIGNATURE_WINDOW.total_seconds():
        raise BadSignature(f"{TIMESTAMP_HEADER} is more than 5 minutes from the server's "
                           "clock; sign the request when you send it.")
    match = _SIGNATURE_SHAPE.match(signature.strip())
    if not match:
        raise BadSignature(f"{SIGNATURE_HEADER} must be sha256=<64 hex digits>.")
    given = "sha256=" + match.group(1).lower()
    if not hmac.compare_digest(_hmac(signing_secret, message), given):
        if hmac.compare_digest(_retired_scheme(signing_secret, timestamp, body), given):
            raise BadSignature("This signature covers only the timestamp and the body, which "
                               "could be replayed on another path; sign the timestamp, "
                               "method, path with query, and body (docs/api.md).")
        raise BadSignature("The signature does not match this request: sign the timestamp, "
                           "method, path with query, and body as sent.")
    seen = hashlib.sha256(given.encode()).hexdigest()
    session.execute(delete(SeenSignature).where(SeenSignature.expires_at < now))
    if session.get(SeenSignature, seen) is not None:
        raise BadSignature("This signature was used before: a replayed request.")
    expires = datetime.fromtimestamp(sent, tz=now.tzinfo) + SIGNATURE_WINDOW
    session.add(SeenSignature(signature_hash=seen, expires_at=max(expires, now)))
