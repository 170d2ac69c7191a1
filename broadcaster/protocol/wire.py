"""Canonical JSON, time stamps and key ids: the byte-exact rules both ends must agree on."""
from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime, timezone
from typing import Any

API_PREFIX = "/api/device/v1"
MANIFEST_SCHEMA = "loa.manifest/1"
COMMAND_SCHEMA = "loa.command/1"
SERVER_TIME_HEADER = "X-Loa-Server-Time"
MANIFEST_VERSION_HEADER = "X-Loa-Manifest-Version"  # the heartbeat reply (§6)

# The priority ladder. "silence" is the idle state; a higher number pre-empts a lower one.
# "live" (a cadre speaking from a phone, §4a) sits between priority and emergency: it cuts normal and priority
# plays, never an emergency. A fraction, so the station's stored Priority integers (0–4) keep their meaning.
LEVELS: dict[str, float] = {"silence": 0, "fallback": 1, "normal": 2, "priority": 3, "live": 3.5, "emergency": 4}
KINDS = ("audio", "relay", "silence", "live")
RESULTS = ("played", "skipped", "interrupted", "failed")
# Why a relay failed (a `failed` play's reason starts with one, then ":"; also heartbeat event codes): the stream
# never played, or it played and died; either way not back within the agent's retry budget (§4 "Relays").
RELAY_FAILURES = ("relay_unreachable", "relay_lost")


def canonical_json(obj: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8 (no \\u escapes), no NaN: the bytes a signature covers."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


def format_time(value: datetime) -> str:
    """UTC with a Z suffix; milliseconds only when non-zero, so the text is stable for a given instant."""
    if value.tzinfo is None:
        raise ValueError("Thời gian thiếu múi giờ / naive datetime: " + value.isoformat())
    utc = value.astimezone(timezone.utc)
    # isoformat is C and several times faster than strftime (a manifest formats two instants per entry, tens
    # of thousands for an emergency "until cancelled"); the same text for years ≥ 1000, strftime's below.
    text = utc.replace(tzinfo=None, microsecond=0).isoformat() if utc.year >= 1000 else \
        utc.strftime("%Y-%m-%dT%H:%M:%S")
    millis = utc.microsecond // 1000
    if millis:
        text += f".{millis:03d}"
    return text + "Z"


def parse_time(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError("Thời gian thiếu múi giờ / time without offset: " + text)
    return value.astimezone(timezone.utc)


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64decode(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def key_id_for(public_raw: bytes) -> str:
    """First 16 hex characters of SHA-256 over the 32 raw Ed25519 public-key bytes."""
    if len(public_raw) != 32:
        raise ValueError("Khóa công khai phải dài 32 byte / an Ed25519 public key is 32 bytes")
    return hashlib.sha256(public_raw).hexdigest()[:16]


def is_sha256(text: object) -> bool:
    return isinstance(text, str) and len(text) == 64 and all(c in "0123456789abcdef" for c in text)
