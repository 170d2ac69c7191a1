"""Device tokens, identities, one-time codes and their stored forms.

A device token has 256 random bits, so a plain SHA-256 is a safe stored form (no password stretching needed)
and lets the station find the device with one indexed lookup per request. The Mosquitto form of the same token
(PBKDF2-SHA512, `$7$`) is made once, at enrollment, while the token is known."""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

TOKEN_PREFIX = "loa_dev_"


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)  # 32 bytes → 43 base64url characters


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_uid() -> str:
    return "dev_" + secrets.token_hex(8)


def new_code() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"


def code_hash(code: str) -> str:
    return hashlib.sha256(("loa-enroll:" + code).encode()).hexdigest()


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def secret_hash(secret: str) -> str:
    return hashlib.sha256(("loa-poll:" + secret).encode()).hexdigest()


def same(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and hmac.compare_digest(a, b)


def mosquitto_hash(password: str, iterations: int = 101, salt: bytes | None = None) -> str:
    """The password-file form Mosquitto 2 reads: $7$<iterations>$<salt b64>$<PBKDF2-SHA512 b64>."""
    salt = salt or secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, iterations, dklen=64)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"
