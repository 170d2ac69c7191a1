"""Domain errors with a stable code and a message in Vietnamese first, English second.

Domain packages raise these; the API layer (api/errors.py) turns them into application/problem+json with the
HTTP status given by the class. Keeping the status here as a hint (not an HTTP object) lets the CLI reuse them.
"""
from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status = 400

    def __init__(self, code: str, message_vi: str, message_en: str, **extra: Any) -> None:
        super().__init__(f"{message_vi} / {message_en}")
        self.code = code
        self.message_vi = message_vi
        self.message_en = message_en
        self.extra = extra


class Unauthenticated(DomainError):
    status = 401


class PermissionDenied(DomainError):
    status = 403


class NotFound(DomainError):
    """Also used for objects that exist in another commune: no leak of their existence."""

    status = 404


class Conflict(DomainError):
    status = 409


class TooLarge(DomainError):
    status = 413


class UnsupportedMediaType(DomainError):
    status = 415


class Invalid(DomainError):
    status = 422


class RateLimited(DomainError):
    status = 429

    def __init__(self, code: str, message_vi: str, message_en: str, retry_after: int, **extra: Any) -> None:
        super().__init__(code, message_vi, message_en, **extra)
        self.retry_after = retry_after
