"""Single-use survey tokens: generation, hashing, and encryption for reminders.

A token is 256 random bits (``secrets.token_urlsafe(32)``). The database stores only its
SHA-256 (on the ballot) and, on the invitation, the token encrypted under a key derived from
the application secret, which never enters the database. A copy of the database therefore
holds no usable link and cannot join an invitation to a ballot.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

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


class TokenBox:
    """Encrypts tokens for storage on invitations, with a key derived from the app secret."""

    def __init__(self, secret_key: str) -> None:
        key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"aftercare invitation token"
        ).derive(secret_key.encode("utf-8"))
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def seal(self, token: str) -> bytes:
        return self._fernet.encrypt(token.encode("ascii"))

    def open(self, cipher: bytes) -> str:
        try:
            return self._fernet.decrypt(cipher).decode("ascii")
        except InvalidToken as exc:
            raise ValueError("token cannot be decrypted with this secret key") from exc
