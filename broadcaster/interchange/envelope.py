"""Signing and checking: the message envelope, and the signed headers of an audio request.

The envelope is `{"message": <body>, "key_id": …, "signature": base64(Ed25519(canonical_json(body)))}` — the
same canonical JSON and key ids as device manifests (broadcaster/protocol/wire.py), signed with the station's
active key (broadcaster/signing.py). The signature is the peer's authentication: no passwords or tokens are
shared between stations, only public keys an admin pinned on each side.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from broadcaster.interchange import errors
from broadcaster.interchange.errors import Refused
from broadcaster.protocol.wire import b64decode, b64encode, canonical_json, format_time, parse_time
from broadcaster.signing import StationKey

STATION_HEADER = "X-Loa-Station"
TIME_HEADER = "X-Loa-Time"
KEY_HEADER = "X-Loa-Key-Id"
SIGNATURE_HEADER = "X-Loa-Signature"


def sign(body: Mapping[str, Any], key: StationKey) -> dict[str, Any]:
    return {"message": dict(body), "key_id": key.key_id,
            "signature": b64encode(key.private_key.sign(canonical_json(body)))}


def signed_part(envelope: Any) -> tuple[Mapping[str, Any], str, str]:
    """(body, key_id, signature) of an envelope, or `interchange_unsigned` / `interchange_invalid`."""
    if not isinstance(envelope, Mapping) or not isinstance(envelope.get("message"), Mapping):
        raise errors.malformed("expected {message, key_id, signature}")
    signature, key_id = envelope.get("signature"), envelope.get("key_id")
    if not signature or not key_id:
        raise errors.unsigned()
    if not isinstance(signature, str) or not isinstance(key_id, str):
        raise errors.malformed("key_id and signature must be text")
    return envelope["message"], key_id, signature


def verify(body: Mapping[str, Any], key_id: str, signature: str, pinned: Mapping[str, str]) -> None:
    """`pinned` maps key ids to base64 raw public keys (the peer row's keys)."""
    if key_id not in pinned:
        raise errors.unknown_key(key_id)
    try:
        Ed25519PublicKey.from_public_bytes(b64decode(pinned[key_id])).verify(
            b64decode(signature), canonical_json(body))
    except (InvalidSignature, ValueError, TypeError) as exc:
        raise errors.bad_signature() from exc


def check_fresh(sent_at: datetime, now: datetime, skew_s: float) -> None:
    """A signed time more than `skew_s` away from ours: a replayed capture, or a clock to fix."""
    if abs((sent_at - now).total_seconds()) > skew_s:
        raise Refused("interchange_clock_skew", 401,
                      f"Giờ gửi {format_time(sent_at)} lệch quá {int(skew_s)} giây so với đài nhận "
                      f"({format_time(now)}); kiểm tra đồng hồ",
                      f"Sent at {format_time(sent_at)}, more than {int(skew_s)} s from this station's clock "
                      f"({format_time(now)}); check the clocks", retryable=True)


def _request_bytes(method: str, path: str, station: str, at: str) -> bytes:
    return canonical_json({"method": method.upper(), "path": path, "station": station, "time": at})


def request_headers(method: str, path: str, station: str, key: StationKey, now: datetime) -> dict[str, str]:
    """Headers that authenticate one request (e.g. an audio download) as `station`."""
    at = format_time(now)
    return {STATION_HEADER: station, TIME_HEADER: at, KEY_HEADER: key.key_id,
            SIGNATURE_HEADER: b64encode(key.private_key.sign(_request_bytes(method, path, station, at)))}


def request_station(headers: Mapping[str, str]) -> str:
    station = headers.get(STATION_HEADER)
    if not station or not headers.get(SIGNATURE_HEADER):
        raise errors.unsigned()
    return station


def verify_request(method: str, path: str, headers: Mapping[str, str], pinned: Mapping[str, str], now: datetime,
                   skew_s: float) -> None:
    station = request_station(headers)
    try:
        at = parse_time(headers.get(TIME_HEADER) or "")
    except ValueError as exc:
        raise errors.malformed(f"{TIME_HEADER} must be an ISO time") from exc
    verify_bytes = _request_bytes(method, path, station, headers.get(TIME_HEADER) or "")
    key_id = headers.get(KEY_HEADER) or ""
    if key_id not in pinned:
        raise errors.unknown_key(key_id)
    try:
        Ed25519PublicKey.from_public_bytes(b64decode(pinned[key_id])).verify(
            b64decode(headers.get(SIGNATURE_HEADER) or ""), verify_bytes)
    except (InvalidSignature, ValueError, TypeError) as exc:
        raise errors.bad_signature() from exc
    check_fresh(at, now, skew_s)

