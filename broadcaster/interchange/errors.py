"""Why a message is refused: a stable code, an HTTP status, Vietnamese first, and whether a retry can help."""
from __future__ import annotations

from typing import Any

from loa.errors import DomainError


class Refused(DomainError):
    """A message (or audio request) this station will not take. `status` is per instance (the code decides it);
    `retryable` tells the sender's outbox whether to try again later (the peer may register us, a clock may be
    fixed, audio may come back) or give up on this message (it can never be accepted)."""

    def __init__(self, code: str, status: int, vi: str, en: str, *, retryable: bool = False, **extra: Any) -> None:
        super().__init__(code, vi, en, retryable=retryable, **extra)
        self.status = status
        self.retryable = retryable


def unsigned() -> Refused:
    return Refused("interchange_unsigned", 401, "Thông điệp không có chữ ký", "The message is not signed")


def malformed(detail: str) -> Refused:
    return Refused("interchange_invalid", 422, f"Thông điệp không hợp lệ: {detail}", f"Invalid message: {detail}")


def unknown_peer(station: object) -> Refused:
    return Refused("interchange_unknown_peer", 403,
                   f"Đài {station!r} chưa được quản trị viên đăng ký", f"Station {station!r} is not a registered peer",
                   retryable=True)


def unknown_key(key_id: object) -> Refused:
    return Refused("interchange_unknown_key", 403, f"Khóa {key_id!r} chưa được ghim cho đài này",
                   f"Key {key_id!r} is not pinned for this station", retryable=True)


def bad_signature() -> Refused:
    return Refused("interchange_signature_invalid", 401, "Chữ ký sai: thông điệp đã bị sửa hoặc giả mạo",
                   "The signature does not verify: the message was altered or forged", retryable=True)
