"""Argon2id password hashing (argon2-cffi defaults) and the password policy.

The policy refuses what an attacker tries first: short passwords, one character (or a short group) repeated,
and the passwords of public breach lists, also with digits or signs added around them ("iloveyou2024!").
The list ships in the package (common_passwords.txt, about 6,000; how it is built: build_common_passwords.py).
"""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from loa.errors import Invalid

_hasher = PasswordHasher()
MIN_LENGTH = 10

# What an unknown user's login is verified against, so that it is as slow as a known user's: one per hasher (its
# cost is in the hash). Made when the API starts serving (warm_up, from the app's lifespan), not at import:
# hashing at import cost every process that loads the station ~0.2 CPU-s, also every `loa` command, scheduler
# and worker that never checks a password. Made before the first login, so that login is not the slow one.
_dummy_hashes: dict[tuple[object, ...], str] = {}


def warm_up() -> None:
    _dummy_hash()


def _dummy_hash() -> str:
    h = _hasher
    key = (h.type, h.time_cost, h.memory_cost, h.parallelism, h.hash_len, h.salt_len)
    if key not in _dummy_hashes:
        _dummy_hashes[key] = h.hash("loa-timing-equaliser")
    return _dummy_hashes[key]


COMMON_FILE = Path(__file__).with_name("common_passwords.txt")
_DECORATION = re.compile(r"^[\W\d_]+|[\W\d_]+$")  # digits and signs people add before or after a word
_SHORT_REPEAT = re.compile(r"^(.{1,3})\1+$", re.DOTALL)  # "aaaaaaaaaa", "abababababab", "123123123123"


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    lines = COMMON_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line for line in lines if line and not line.startswith("#"))


def _is_common(password: str) -> bool:
    lowered = password.strip().lower()
    common = common_passwords()
    if lowered in common:
        return True
    core = _DECORATION.sub("", lowered)
    return len(core) >= 4 and core in common


def check_policy(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise Invalid(
            "password_too_short",
            f"Mật khẩu phải có ít nhất {MIN_LENGTH} ký tự",
            f"The password must have at least {MIN_LENGTH} characters",
        )
    if _SHORT_REPEAT.match(password):
        raise Invalid(
            "password_repeated",
            "Mật khẩu không được chỉ lặp lại một ký tự hay một nhóm ký tự (như aaaaaaaaaa, 1212121212). "
            "Hãy dùng một câu dễ nhớ, ví dụ: ga-gay-o-bo-suoi",
            "The password must not repeat one character or a short group (like aaaaaaaaaa, 1212121212). "
            "Use a phrase you remember",
        )
    if _is_common(password):
        raise Invalid(
            "password_common",
            "Mật khẩu này quá phổ biến, kẻ gian đoán được ngay. Hãy dùng một câu dễ nhớ, ví dụ: ga-gay-o-bo-suoi",
            "This password is too common: attackers try it first. Use a phrase you remember",
        )


def hash_password(password: str) -> str:
    check_policy(password)
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _dummy_hash(), password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
