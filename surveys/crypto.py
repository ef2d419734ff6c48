"""Secrets kept in the database, encrypted with keys derived from the application secret.

One construction for every such secret: AES-256-GCM under a key derived with HKDF-SHA256
from ``AFTERCARE_SECRET_KEY`` and a purpose label, so a key for one purpose opens nothing
else. Unlike Fernet, the ciphertext carries no timestamp: nothing about when a secret was
stored leaks from it. The application secret itself never enters the database.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_NONCE = 12


class SecretBox:
    """Seal and open short text secrets for one ``purpose``."""

    def __init__(self, secret_key: str, purpose: str) -> None:
        if not purpose:
            raise ValueError("a purpose label is required")
        self.purpose = purpose
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                   info=f"aftercare {purpose}".encode()).derive(secret_key.encode("utf-8"))
        self._aead = AESGCM(key)
        self._aad = purpose.encode()

    def seal(self, text: str) -> bytes:
        nonce = os.urandom(_NONCE)
        return nonce + self._aead.encrypt(nonce, text.encode("utf-8"), self._aad)

    def open(self, cipher: bytes) -> str:
        try:
            return self._aead.decrypt(cipher[:_NONCE], cipher[_NONCE:], self._aad).decode("utf-8")
        except (InvalidTag, ValueError) as exc:
            raise ValueError(f"{self.purpose} cannot be decrypted with this secret key") from exc
