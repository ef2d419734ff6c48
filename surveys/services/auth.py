"""Authentication use cases: passwords, lock-out, two-factor codes, sessions, password reset.

Rules (docs/security.md):

* Passwords are hashed with argon2id. Signing in does the same work whether or not the
  account exists, and every failure reads the same to the person signing in.
* One failure counter per account (``User.failed_logins``) covers both steps of signing in:
  wrong passwords and wrong second-factor codes. After ``LOCK_AFTER`` consecutive failures
  of either kind the account is locked for a period that doubles with each further failure
  (1 minute, 2, 4, ... at most ``LOCK_MAX``). While locked, even the right password is
  refused, with the same generic message. Only a completed sign-in clears the counter: the
  right password alone does for an account without a second factor; with one, only the
  right code does, so a known password does not buy fresh guesses at the code. The account
  row is locked while the counter changes, so parallel attempts cannot lose a count.
* ``User.session_version`` is copied into the browser session at sign-in and compared on
  every request; signing out bumps it, so a copied cookie stops working everywhere.
* TOTP (RFC 6238, pyotp) is required for HR and admin accounts, optional for managers. The
  secret is stored encrypted with a key derived from the application secret; a code is
  accepted once (replays of the same time step are refused). Ten single-use recovery codes
  are stored as SHA-256 hashes.
* A password reset token is 256 random bits, stored only as a SHA-256 hash, expires after
  ``RESET_TTL`` and is spent by a conditional DELETE (exactly once).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from surveys import crypto
from surveys.db import begin_write
from surveys.errors import InvalidInput
from surveys.models import PasswordReset, RecoveryCode, User
from surveys.services.lifecycle import normalise_email

MIN_PASSWORD = 12
MAX_PASSWORD = 1024
LOCK_AFTER = 5
LOCK_BASE = timedelta(minutes=1)
LOCK_MAX = timedelta(hours=1)
RESET_TTL = timedelta(minutes=30)
RECOVERY_CODES = 10
TOTP_STEP = 30
TOTP_REQUIRED_ROLES = frozenset({"hr", "admin"})
ISSUER = "Aftercare"

_hasher = PasswordHasher()


# --- passwords ----------------------------------------------------------------------------


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


_dummy: tuple[PasswordHasher, str] | None = None


def _dummy_hash() -> str:
    """A hash made with the current hasher's parameters, checked when there is no account so
    that a miss costs the same as a wrong password."""
    global _dummy
    if _dummy is None or _dummy[0] is not _hasher:
        _dummy = (_hasher, _hasher.hash("not a real password, used to even out timing"))
    return _dummy[1]


def check_new_password(password: str) -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidInput("Choose another password.",
                           {"password": f"use {MIN_PASSWORD} to {MAX_PASSWORD} characters"})


def locked(user: User, now: datetime) -> bool:
    return user.locked_until is not None and user.locked_until > now


def _lock_period(failures: int) -> timedelta:
    return min(LOCK_BASE * 2 ** max(failures - LOCK_AFTER, 0), LOCK_MAX)


def _failed(user: User, now: datetime | None) -> None:
    """One more failure (a wrong password or a wrong code) on the account's one counter."""
    user.failed_logins = (user.failed_logins or 0) + 1
    if now is not None and user.failed_logins >= LOCK_AFTER:
        user.locked_until = now + _lock_period(user.failed_logins)


def _signed_in(user: User) -> None:
    """A completed sign-in clears the counter and any lock."""
    user.failed_logins, user.locked_until = 0, None


def _account_for_update(session: Session, *where) -> User | None:
    """The account row, locked until the commit on PostgreSQL (SQLite's write lock, taken by
    ``begin_write``, already serialises), so that the failure count is exact."""
    return session.scalar(select(User).where(*where).with_for_update())


def authenticate(session: Session, email: str, password: str,
                 now: datetime | None = None) -> User | None:
    """The active, unlocked user with these credentials, or None; the same work either way.

    A wrong password counts one failure (``_failed``). The right one clears the count only
    when it completes the sign-in, i.e. the account has no second factor; otherwise the code
    step decides (``verify_second_factor``). Owns its commit.
    """
    begin_write(session)
    user = _account_for_update(session, User.email == normalise_email(email))
    if user is None or not user.active:
        verify_password(_dummy_hash(), password)
        session.rollback()
        return None
    if now is not None and locked(user, now):
        verify_password(_dummy_hash(), password)
        session.rollback()
        return None
    if not verify_password(user.password_hash, password):
        _failed(user, now)
        session.commit()
        return None
    if not has_totp(user) and (user.failed_logins or user.locked_until):
        _signed_in(user)
        session.commit()
    else:
        session.rollback()
    return user


def set_password(session: Session, user: User, password: str) -> None:
    begin_write(session)
    check_new_password(password)
    user = session.get(User, user.id)
    user.password_hash = hash_password(password)
    user.session_version = (user.session_version or 0) + 1
    user.failed_logins, user.locked_until = 0, None
    session.commit()


# --- sessions -----------------------------------------------------------------------------


def end_sessions(session: Session, user_id: int) -> None:
    """Invalidate every session of this account (sign-out, password or two-factor change)."""
    begin_write(session)
    user = session.get(User, user_id)
    if user is not None:
        user.session_version = (user.session_version or 0) + 1
    session.commit()


# --- two-factor ---------------------------------------------------------------------------


class SecretBox(crypto.SecretBox):
    """Encrypts TOTP secrets with a key derived from the application secret."""

    def __init__(self, secret_key: str) -> None:
        super().__init__(secret_key, "totp secret")


def totp_required(user: User) -> bool:
    return user.role in TOTP_REQUIRED_ROLES


def has_totp(user: User) -> bool:
    return user.totp_cipher is not None


def new_totp_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def _matching_step(secret: str, code: str, now: datetime, after: int | None) -> int | None:
    """The time step (within one step of ``now``) whose code is ``code``, if newer than
    ``after``."""
    code = "".join(code.split())
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    step = int(now.timestamp()) // TOTP_STEP
    for candidate in (step - 1, step, step + 1):
        if after is not None and candidate <= after:
            continue
        if hmac.compare_digest(totp.at(candidate * TOTP_STEP), code):
            return candidate
    return None


def _hash_code(code: str) -> str:
    return hashlib.sha256("".join(code.lower().split()).encode()).hexdigest()


def _new_recovery_codes(session: Session, user_id: int) -> list[str]:
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = secrets.token_hex(5)
        code = f"{raw[:5]}-{raw[5:]}"
        codes.append(code)
        session.add(RecoveryCode(code_hash=_hash_code(code), user_id=user_id))
    return codes


def enable_totp(session: Session, user_id: int, secret: str, code: str, box: SecretBox,
                now: datetime) -> list[str]:
    """Confirm enrolment with a first code; returns the new recovery codes (shown once)."""
    begin_write(session)
    step = _matching_step(secret, code, now, None)
    if step is None:
        session.rollback()
        raise InvalidInput("That code did not match.",
                           {"code": "enter the 6-digit code your app shows now"})
    user = session.get(User, user_id)
    user.totp_cipher, user.totp_last_step = box.seal(secret), step
    codes = _new_recovery_codes(session, user.id)
    session.commit()
    return codes


def disable_totp(session: Session, user_id: int) -> None:
    """Managers may turn two-factor off; HR and admin accounts may not."""
    begin_write(session)
    user = session.get(User, user_id)
    if totp_required(user):
        session.rollback()
        raise InvalidInput("Two-factor sign-in is required for this role.",
                           {"totp": "required for HR and admin accounts"})
    user.totp_cipher, user.totp_last_step = None, None
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    user.session_version = (user.session_version or 0) + 1
    session.commit()


def clear_totp(session: Session, user_id: int) -> None:
    """An admin's way out for someone who lost both phone and recovery codes: two-factor is
    removed and every session ends; an HR or admin account must set it up again at its next
    sign-in."""
    begin_write(session)
    user = session.get(User, user_id)
    if user is None:
        session.rollback()
        raise InvalidInput("No such account.", {"user": "not found"})
    user.totp_cipher, user.totp_last_step = None, None
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    user.session_version = (user.session_version or 0) + 1
    session.commit()


def set_totp_secret(session: Session, user_id: int, secret: str, box: SecretBox) -> list[str]:
    """Turn two-factor on with a known secret, without a first code (the demo organisation
    and scripted set-ups); returns new recovery codes."""
    begin_write(session)
    try:
        pyotp.TOTP(secret).now()
    except Exception as exc:  # binascii.Error and friends for a malformed base32 secret
        session.rollback()
        raise InvalidInput("Not a TOTP secret.", {"secret": "use base32 (A-Z, 2-7)"}) from exc
    user = session.get(User, user_id)
    user.totp_cipher, user.totp_last_step = box.seal(secret), None
    codes = _new_recovery_codes(session, user.id)
    session.commit()
    return codes


def regenerate_recovery_codes(session: Session, user_id: int) -> list[str]:
    begin_write(session)
    codes = _new_recovery_codes(session, user_id)
    session.commit()
    return codes


def recovery_codes_left(session: Session, user_id: int) -> int:
    return len(list(session.scalars(
        select(RecoveryCode.code_hash).where(RecoveryCode.user_id == user_id))))


def verify_second_factor(session: Session, user_id: int, code: str, box: SecretBox,
                         now: datetime) -> bool:
    """Accept a fresh TOTP code (never the same time step twice) or a recovery code, which
    is spent by a conditional DELETE. A wrong code counts on the same counter as a wrong
    password; the right one completes the sign-in and clears it."""
    begin_write(session)
    user = _account_for_update(session, User.id == user_id)
    if user is None or user.totp_cipher is None or locked(user, now):
        session.rollback()
        return False
    code = code.strip()[:64]
    step = _matching_step(box.open(user.totp_cipher), code, now, user.totp_last_step)
    ok = False
    if step is not None:
        user.totp_last_step, ok = step, True
    elif "-" in code or len(code) == 10:
        spent = session.execute(delete(RecoveryCode).where(
            RecoveryCode.user_id == user.id, RecoveryCode.code_hash == _hash_code(code)))
        ok = spent.rowcount == 1
    if ok:
        _signed_in(user)
    else:
        _failed(user, now)
    session.commit()
    return ok


# --- password reset -----------------------------------------------------------------------


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def request_password_reset(session: Session, email: str,
                           now: datetime) -> tuple[User, str] | None:
    """A new reset token for the active account with this email (earlier ones are
    dropped), or None. The caller sends the link and says the same thing either way."""
    begin_write(session)
    user = session.scalar(select(User).where(User.email == normalise_email(email[:254])))
    if user is None or not user.active:
        session.rollback()
        return None
    session.execute(delete(PasswordReset).where(PasswordReset.user_id == user.id))
    token = secrets.token_urlsafe(32)
    session.add(PasswordReset(token_hash=_hash_token(token), user_id=user.id,
                              expires_at=now + RESET_TTL))
    session.commit()
    return user, token


def reset_token_valid(session: Session, token: str, now: datetime) -> bool:
    row = session.get(PasswordReset, _hash_token(token))
    return row is not None and row.expires_at > now


def reset_password(session: Session, token: str, password: str, now: datetime) -> User:
    """Spend the token (once) and set the new password; every session of the account ends."""
    begin_write(session)
    check_new_password(password)
    row = session.get(PasswordReset, _hash_token(token))
    if row is None or row.expires_at <= now:
        session.rollback()
        raise InvalidInput("This reset link is not valid any more.",
                           {"token": "ask for a new link"})
    spent = session.execute(delete(PasswordReset).where(
        PasswordReset.token_hash == row.token_hash))
    if spent.rowcount != 1:
        session.rollback()
        raise InvalidInput("This reset link is not valid any more.",
                           {"token": "ask for a new link"})
    user = session.get(User, row.user_id)
    user.password_hash = hash_password(password)
    user.session_version = (user.session_version or 0) + 1
    user.failed_logins, user.locked_until = 0, None
    session.commit()
    return user
