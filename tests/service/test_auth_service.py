"""Authentication use cases on a real database: lock-out arithmetic, two-factor codes,
recovery codes and reset tokens."""

from __future__ import annotations

import threading
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select

from support import NOW, PASSWORD, SECRET, TOTP_SECRET, build_org, totp_code
from support.app import make_app
from surveys import db as dbmod
from surveys.errors import InvalidInput
from surveys.models import RecoveryCode, User
from surveys.services import auth

pytestmark = pytest.mark.usefixtures("org")
BOX = auth.SecretBox(SECRET)


def account(db, email: str) -> User:
    db.rollback()
    return db.scalar(select(User).where(User.email == email))


def test_authenticate_counts_failures_and_clears_them(db):
    for _ in range(3):
        assert auth.authenticate(db, "manager@example.org", "nope nope nope", NOW) is None
    assert account(db, "manager@example.org").failed_logins == 3
    assert auth.authenticate(db, "MANAGER@example.org", PASSWORD, NOW) is not None
    assert account(db, "manager@example.org").failed_logins == 0


def test_with_a_second_factor_only_the_code_clears_the_count(db):
    uid = account(db, "hr@example.org").id
    assert not auth.verify_second_factor(db, uid, "000000", BOX, NOW)
    assert auth.authenticate(db, "hr@example.org", "nope nope nope", NOW) is None
    assert auth.authenticate(db, "hr@example.org", PASSWORD, NOW) is not None
    assert account(db, "hr@example.org").failed_logins == 2  # the password is half a sign-in
    assert auth.verify_second_factor(db, uid, totp_code(NOW), BOX, NOW)
    assert account(db, "hr@example.org").failed_logins == 0


def test_inactive_accounts_never_sign_in(db):
    user = account(db, "manager@example.org")
    user.active = False
    db.commit()
    assert auth.authenticate(db, "manager@example.org", PASSWORD, NOW) is None


def test_codes_either_side_of_now_and_never_twice(db):
    uid = account(db, "hr@example.org").id
    assert not auth.verify_second_factor(db, uid, totp_code(NOW - timedelta(seconds=60)), BOX,
                                         NOW)  # enrolment spent that step
    assert auth.verify_second_factor(db, uid, totp_code(NOW + timedelta(seconds=30)), BOX, NOW)
    assert not auth.verify_second_factor(db, uid, totp_code(NOW), BOX, NOW)  # older than used
    assert not auth.verify_second_factor(db, uid, "12345", BOX, NOW)
    assert not auth.verify_second_factor(db, uid, "abcdef", BOX, NOW)


def test_clear_and_set_totp(db):
    uid = account(db, "admin@example.org").id
    auth.clear_totp(db, uid)
    user = account(db, "admin@example.org")
    assert user.totp_cipher is None and user.session_version == 1
    assert not list(db.scalars(select(RecoveryCode).where(RecoveryCode.user_id == uid)))
    codes = auth.set_totp_secret(db, uid, TOTP_SECRET, BOX)
    assert len(codes) == auth.RECOVERY_CODES
    assert auth.verify_second_factor(db, uid, pyotp.TOTP(TOTP_SECRET).at(NOW), BOX, NOW)
    with pytest.raises(InvalidInput):
        auth.set_totp_secret(db, uid, "not base32!", BOX)


def test_secret_box_needs_the_same_application_secret(db):
    cipher = account(db, "hr@example.org").totp_cipher
    assert BOX.open(cipher) == TOTP_SECRET
    with pytest.raises(ValueError):
        auth.SecretBox("another secret " * 4).open(cipher)


def test_reset_token_is_spent_once(db):
    _, token = auth.request_password_reset(db, "hr@example.org", NOW)
    auth.reset_password(db, token, "a brand new passphrase", NOW)
    with pytest.raises(InvalidInput):
        auth.reset_password(db, token, "another new passphrase", NOW)
    assert auth.request_password_reset(db, "nobody@example.org", NOW) is None


def test_a_second_request_drops_the_first_link(db):
    _, first = auth.request_password_reset(db, "hr@example.org", NOW)
    _, second = auth.request_password_reset(db, "hr@example.org", NOW)
    assert not auth.reset_token_valid(db, first, NOW)
    assert auth.reset_token_valid(db, second, NOW)
    assert not auth.reset_token_valid(db, second, NOW + auth.RESET_TTL)


def _parallel_wrong_codes(url: str, attempts: int = 8) -> User:
    """``attempts`` wrong codes for one account at the same moment; the account afterwards.
    Each is counted until the account locks; once locked, attempts are refused uncounted."""
    app = make_app(url)
    with dbmod.session_scope(app) as session:
        build_org(session, size=1)
        uid = account(session, "hr@example.org").id
    start = threading.Barrier(attempts)

    def attempt():
        with dbmod.session_scope(app) as session:
            start.wait()
            auth.verify_second_factor(session, uid, "000000", BOX, NOW)

    threads = [threading.Thread(target=attempt) for _ in range(attempts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    with dbmod.session_scope(app) as session:
        user = account(session, "hr@example.org")
        session.expunge(user)
    dbmod.get_engine(app).dispose()
    return user


def test_parallel_failures_are_all_counted_on_sqlite(tmp_path):
    user = _parallel_wrong_codes(f"sqlite:///{tmp_path / 'race.db'}")
    assert user.failed_logins == auth.LOCK_AFTER and user.locked_until is not None


@pytest.mark.postgres
def test_parallel_failures_are_all_counted_on_postgres(postgres_url):
    user = _parallel_wrong_codes(postgres_url)
    assert user.failed_logins == auth.LOCK_AFTER and user.locked_until is not None
