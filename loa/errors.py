"""The error family: every error Loa raises on purpose has a stable code, a Vietnamese and an English message,
and says whether trying again later can help (retryable) or not (permanent).

`LoaError` is the one base. Domain packages raise its members; the API layer (api/errors.py) renders every
member as application/problem+json with the HTTP status given by the class, and the job worker
(loa/jobs/worker.py) retries a retryable member and fails a permanent one at once. Keeping the status here as a
hint (not an HTTP object) lets the CLI reuse them. The village agent cannot import this module (it installs
alone): its errors (broadcaster/agent/errors.py) carry the same four attributes, which `ErrorFamily` names.
"""
from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class ErrorFamily(Protocol):
    """What every member of the family carries, on the station and on the village agent alike."""

    code: str
    message_vi: str
    message_en: str
    retryable: bool


def split_bilingual(message: str) -> tuple[str, str]:
    """A "Tiếng Việt / English" message as its two halves (the whole text twice when there is no " / ")."""
    vi, sep, en = message.partition(" / ")
    return (vi, en) if sep else (message, message)


class LoaError(Exception):
    """The base of the family. `status` is the HTTP status the API answers with when the error reaches it."""

    status = 500
    retryable = False
    code = "error"
    message_vi = "Lỗi"
    message_en = "Error"
    extra: Mapping[str, Any] = MappingProxyType({})  # further members of the problem+json body (plain values)

    def _describe(self, code: str, message_vi: str, message_en: str, retryable: bool | None = None) -> None:
        self.code, self.message_vi, self.message_en = code, message_vi, message_en
        if retryable is not None:
            self.retryable = retryable


class DomainError(LoaError):
    """A request the station refuses (bad input, missing object, no permission): permanent, 4xx."""

    status = 400

    def __init__(self, code: str, message_vi: str, message_en: str, **extra: Any) -> None:
        super().__init__(f"{message_vi} / {message_en}")
        self._describe(code, message_vi, message_en)
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
    retryable = True

    def __init__(self, code: str, message_vi: str, message_en: str, retry_after: int, **extra: Any) -> None:
        super().__init__(code, message_vi, message_en, **extra)
        self.retry_after = retry_after
