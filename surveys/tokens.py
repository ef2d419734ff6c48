"""Single-use survey tokens: generation, hashing, and encryption for reminders.

A token is 256 random bits (``secrets.token_urlsafe(32)``). The database stores only its
SHA-256 (on the ballot) and, on the invitation, the token encrypted under a key derived from
the application secret, which never enters the database. A copy of the database therefore
holds no usable link and cannot join an invitation to a ballot.
"""

from __future__ import annotations

import hashlib
import re
import secrets

from surveys.crypto import SecretBox

TOKEN_BYTES = 32
# token_urlsafe(32) gives 43 characters of the URL-safe base64 alphabet.
_TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{43}$")
_HASH_SHAPE = re.compile(r"^[0-9a-f]{64}$")


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def looks_like_token(value: str) -> bool:
    return bool(_TOKEN_SHAPE.match(value))


def looks_like_hash(value: str) -> bool:
    return bool(_HASH_SHAPE.match(value))


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


class TokenBox(SecretBox):
    """Encrypts tokens for storage on invitations, with a key derived from the app secret."""

    def __init__(self, secret_key: str) -> None:
        super().__init__(secret_key, "invitation token")
