"""Argon2id password hashing (argon2-cffi defaults) and the password policy."""
from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from loa.errors import Invalid

_hasher = PasswordHasher()
MIN_LENGTH = 10

# Verifying against this keeps a login for an unknown user as slow as one for a known user.
_DUMMY_HASH = _hasher.hash("loa-timing-equaliser")


def check_policy(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise Invalid(
            "password_too_short",
            f"Mật khẩu phải có ít nhất {MIN_LENGTH} ký tự",
            f"The password must have at least {MIN_LENGTH} characters",
        )


def hash_password(password: str) -> str:
    check_policy(password)
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
