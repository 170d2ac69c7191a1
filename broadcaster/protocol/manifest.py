"""The device manifest: dataclasses, canonical form, Ed25519 signature and verification.

A manifest is what one device should play for the next 72 hours. The station signs its canonical JSON;
the agent re-serializes the parsed object the same way and verifies against the keys it pinned at enrollment.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from broadcaster.protocol.wire import (
    KINDS, LEVELS, MANIFEST_SCHEMA, b64decode, b64encode, canonical_json, format_time, is_sha256, parse_time,
)


class ManifestRejected(Exception):
    """A manifest (or key set) the device must not use. `code` is the protocol's event code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Entry:
    play_id: str
    kind: str              # audio | relay | silence
    priority: str          # fallback | normal | priority | emergency
    start: datetime
    end: datetime
    sha256: str | None
    size: int
    duration: float
    url: str
    title: str
    language: str = "vi"
    # What scheduled it ("e12" an emergency, "s7" a schedule): a signed command names it to stop all its plays
    # on every device of a village with one body (play ids differ per device). Absent in older manifests.
    source: str | None = None

    @property
    def level(self) -> float:  # "live" sits between priority and emergency: 3.5
        return LEVELS[self.priority]

    def to_dict(self) -> dict[str, Any]:
        out = {
            "play_id": self.play_id, "kind": self.kind, "priority": self.priority,
            "start": format_time(self.start), "end": format_time(self.end),
            "sha256": self.sha256, "size": self.size, "duration": _number(self.duration),
            "url": self.url, "title": self.title, "language": self.language,
        }
        if self.source is not None:
            out["source"] = self.source
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Entry":
        try:
            entry = cls(
                play_id=str(data["play_id"]), kind=data["kind"], priority=data["priority"],
                start=parse_time(data["start"]), end=parse_time(data["end"]),
                sha256=data.get("sha256"), size=int(data.get("size") or 0), duration=float(data["duration"]),
                url=str(data.get("url") or ""), title=str(data.get("title") or ""),
                language=str(data.get("language") or "vi"),
                source=str(data["source"]) if data.get("source") is not None else None,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ManifestRejected("manifest_invalid", f"Mục lịch không hợp lệ / bad entry: {exc!r}") from exc
        entry.check()
        return entry

    def check(self) -> None:
        if self.kind not in KINDS:
            raise ManifestRejected("manifest_invalid", f"Loại không rõ / unknown kind {self.kind!r}")
        if self.priority not in LEVELS or self.priority == "silence":
            raise ManifestRejected("manifest_invalid", f"Mức ưu tiên không rõ / unknown priority {self.priority!r}")
        if self.end <= self.start:
            raise ManifestRejected("manifest_invalid", f"Kết thúc trước bắt đầu / end before start in {self.play_id}")
        if self.kind == "audio" and (not is_sha256(self.sha256) or self.size <= 0):
            raise ManifestRejected("manifest_invalid", f"Thiếu sha256/kích thước / audio without hash or size: {self.play_id}")


@dataclass(frozen=True)
class Standby:
    """A file to hold ahead of need (docs/device-protocol.md §4b): an approved emergency message of the
    device's commune. An emergency that airs it is then only a signed command: nothing to download."""
    sha256: str
    size: int
    url: str

    def to_dict(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "size": int(self.size), "url": self.url}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Standby":
        try:
            item = cls(sha256=str(data["sha256"]), size=int(data["size"]), url=str(data["url"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ManifestRejected("manifest_invalid", f"Tệp dự phòng không hợp lệ / bad standby file: {exc!r}") from exc
        if not is_sha256(item.sha256) or item.size <= 0 or not item.url:
            raise ManifestRejected("manifest_invalid", f"Tệp dự phòng thiếu hash/kích thước / bad standby {item.sha256!r}")
        return item


def _number(value: float) -> float | int:
    """Whole seconds serialize as integers so 270 and 270.0 give the same canonical bytes."""
    return int(value) if float(value).is_integer() else round(float(value), 3)


@dataclass(frozen=True)
class Manifest:
    device_id: str
    version: str
    generated_at: datetime
    valid_until: datetime
    volume: int = 100
    muted: bool = False
    emergency: bool = False
    timezone: str = "Asia/Ho_Chi_Minh"
    fallback: Entry | None = None
    entries: tuple[Entry, ...] = field(default_factory=tuple)
    schema: str = MANIFEST_SCHEMA
    # The station's monotonic control sequence number at signing (docs/device-protocol.md §4a): a device refuses
    # a manifest older than the newest manifest or command it applied. 0 = a station older than §4a.
    seq: int = 0
    # Files to download in the background and keep (§4b), never played by themselves. Absent (not an empty
    # list) when there are none, so manifests without standby files keep their canonical bytes and version.
    standby: tuple[Standby, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out = {
            "schema": self.schema, "device_id": self.device_id, "version": self.version,
            "generated_at": format_time(self.generated_at), "valid_until": format_time(self.valid_until),
            "timezone": self.timezone, "volume": int(self.volume), "muted": bool(self.muted),
            "emergency": bool(self.emergency),
            "fallback": self.fallback.to_dict() if self.fallback else None,
            "entries": [e.to_dict() for e in self.entries],
        }
        if self.seq:
            out["seq"] = int(self.seq)
        if self.standby:
            out["standby"] = [s.to_dict() for s in self.standby]
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Manifest":
        if not isinstance(data, Mapping):
            raise ManifestRejected("manifest_invalid", "Lịch không phải đối tượng JSON / manifest is not an object")
        if data.get("schema") != MANIFEST_SCHEMA:
            raise ManifestRejected("manifest_invalid", f"Phiên bản lịch không rõ / unknown schema {data.get('schema')!r}")
        try:
            volume = int(data["volume"])
            manifest = cls(
                device_id=str(data["device_id"]), version=str(data["version"]),
                generated_at=parse_time(data["generated_at"]), valid_until=parse_time(data["valid_until"]),
                volume=volume, muted=bool(data["muted"]), emergency=bool(data.get("emergency", False)),
                timezone=str(data.get("timezone") or "Asia/Ho_Chi_Minh"),
                fallback=Entry.from_dict(data["fallback"]) if data.get("fallback") else None,
                entries=tuple(Entry.from_dict(e) for e in data["entries"]),
                seq=int(data.get("seq") or 0),
                standby=tuple(Standby.from_dict(x) for x in data.get("standby") or []),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ManifestRejected("manifest_invalid", f"Lịch không hợp lệ / bad manifest: {exc!r}") from exc
        if not 0 <= volume <= 100:
            raise ManifestRejected("manifest_invalid", "Âm lượng ngoài 0–100 / volume outside 0–100")
        return manifest

    def needed_hashes(self) -> set[str]:
        """Every file this manifest can play (what the cache must never evict)."""
        items = list(self.entries) + ([self.fallback] if self.fallback else [])
        return {e.sha256 for e in items if e.kind == "audio" and e.sha256} | {s.sha256 for s in self.standby}

    def sizes(self) -> dict[str, int]:
        """Every file to hold, with its byte count: the entries' (and fallback's) and the standby files."""
        items = list(self.entries) + ([self.fallback] if self.fallback else [])
        out = {s.sha256: s.size for s in self.standby}
        out.update({e.sha256: e.size for e in items if e.kind == "audio" and e.sha256})
        return out

    def urls(self) -> dict[str, str]:
        items = list(self.entries) + ([self.fallback] if self.fallback else [])
        out = {s.sha256: s.url for s in self.standby}
        out.update({e.sha256: e.url for e in items if e.sha256})
        return out


def content_version(manifest_dict: Mapping[str, Any]) -> str:
    """A version that changes iff what the device would do changes: hash of the canonical manifest
    without generated_at, valid_until, version and seq (a rebuild of the same content gets a new seq, not a
    new version: the device's `304` stays a `304`)."""
    core = {k: v for k, v in manifest_dict.items() if k not in ("generated_at", "valid_until", "version", "seq")}
    return "m-" + hashlib.sha256(canonical_json(core)).hexdigest()[:20]


def sign_manifest(manifest: Manifest, private_key: Ed25519PrivateKey, key_id: str) -> dict[str, Any]:
    body = manifest.to_dict()
    signature = private_key.sign(canonical_json(body))
    return {"manifest": body, "signature": b64encode(signature), "key_id": key_id}


def verify_signed(envelope: Mapping[str, Any], body_field: str, pinned: Mapping[str, bytes]) -> Mapping[str, Any]:
    """Check an envelope {<body_field>, signature, key_id} against pinned raw public keys; return the body."""
    if not isinstance(envelope, Mapping) or body_field not in envelope:
        raise ManifestRejected("manifest_invalid", "Phong bì không hợp lệ / malformed envelope")
    key_id = envelope.get("key_id")
    if not isinstance(key_id, str) or key_id not in pinned:
        raise ManifestRejected("manifest_signature_invalid", f"Khóa không được tin cậy / unknown key id {key_id!r}")
    try:
        signature = b64decode(str(envelope.get("signature", "")))
        Ed25519PublicKey.from_public_bytes(pinned[key_id]).verify(signature, canonical_json(envelope[body_field]))
    except (InvalidSignature, ValueError, TypeError) as exc:
        raise ManifestRejected("manifest_signature_invalid", "Chữ ký sai / signature does not verify") from exc
    body = envelope[body_field]
    if not isinstance(body, Mapping):  # signed, but not the object every caller reads
        raise ManifestRejected("manifest_invalid", "Phong bì không hợp lệ / malformed envelope")
    return body


def verify_manifest(envelope: Mapping[str, Any], pinned: Mapping[str, bytes], *, device_id: str | None = None,
                    now: datetime | None = None) -> Manifest:
    """Verify signature, then parse; refuse another device's manifest and an expired one."""
    manifest = Manifest.from_dict(verify_signed(envelope, "manifest", pinned))
    if device_id is not None and manifest.device_id != device_id:
        raise ManifestRejected("manifest_wrong_device", f"Lịch của thiết bị khác / manifest is for {manifest.device_id}")
    if now is not None and manifest.valid_until <= now:
        raise ManifestRejected("manifest_expired", "Lịch đã hết hạn / manifest expired " + format_time(manifest.valid_until))
    return manifest


def with_version(manifest: Manifest) -> Manifest:
    """Return the manifest with its content version filled in."""
    return replace(manifest, version=content_version(manifest.to_dict()))


_UNVERSIONED = ("generated_at", "valid_until", "version", "seq")
HOLE = "\x00entries\x00"  # a placeholder for the entries no text of ours holds (JSON escapes it as \u0000)
HOLE_JSON = canonical_json(HOLE)  # how it encodes, canonical or not


def _canonical_with(obj: Mapping[str, Any], entries: bytes) -> bytes | None:
    """canonical_json(obj) whose "entries" are already encoded (`entries`): the same bytes. None when the
    placeholder would be ambiguous (a string of the manifest holds it too)."""
    text = canonical_json({**obj, "entries": HOLE})
    return text.replace(HOLE_JSON, entries) if text.count(HOLE_JSON) == 1 else None


def versioned(manifest: Manifest, entries: bytes | None = None) -> tuple[Manifest, dict[str, Any], bytes]:
    """`with_version`, its `to_dict()` and the canonical bytes a signature covers, at once: the entries are
    converted once and encoded once for both the version and the signature (an emergency "until cancelled" of a
    short clip lists tens of thousands). The same version, body and bytes as with_version + sign_manifest.

    `entries`: the canonical encoding of the manifest's entries when the caller has it (the station keeps each
    entry's); the body's "entries" is then the placeholder HOLE, for the caller to fill in as it encodes it."""
    body = replace(manifest, entries=()).to_dict()
    listed = None if entries is not None else [e.to_dict() for e in manifest.entries]
    encoded = entries if entries is not None else canonical_json(listed)
    core = {k: v for k, v in body.items() if k not in _UNVERSIONED}
    core_bytes = _canonical_with(core, encoded)
    if core_bytes is None:  # a string of the manifest holds the placeholder: no shortcut
        full = with_version(manifest)
        whole = full.to_dict()
        return full, whole, canonical_json(whole)
    version = "m-" + hashlib.sha256(core_bytes).hexdigest()[:20]
    body["version"] = version  # the key is there already: its place in the body's order is kept
    signed = _canonical_with(body, encoded)
    assert signed is not None  # the keys `core` lacks hold no placeholder (times, the version, a number)
    body["entries"] = HOLE if listed is None else listed
    return replace(manifest, version=version), body, signed


def sign_canonical(body: dict[str, Any], canonical: bytes, private_key: Ed25519PrivateKey,
                   key_id: str) -> dict[str, Any]:
    """`sign_manifest` for a body whose canonical bytes are known (`versioned`)."""
    return {"manifest": body, "signature": b64encode(private_key.sign(canonical)), "key_id": key_id}


def sign_keyset(keys: list[dict[str, str]], issued_at: datetime,
                signers: list[tuple[str, Ed25519PrivateKey]]) -> dict[str, Any]:
    """A key set signed by every listed key, so a device pinned to any one of them can accept it."""
    keyset = {"keys": keys, "issued_at": format_time(issued_at)}
    body = canonical_json(keyset)
    return {"keyset": keyset,
            "signatures": [{"key_id": kid, "signature": b64encode(k.sign(body))} for kid, k in signers]}


def verify_keyset(envelope: Mapping[str, Any], pinned: Mapping[str, bytes]) -> dict[str, bytes]:
    """A new pinned set, accepted only when one signature verifies with a key already pinned."""
    from broadcaster.protocol.wire import key_id_for

    keyset = None
    for sig in envelope.get("signatures", []) if isinstance(envelope, Mapping) else []:
        try:
            keyset = verify_signed({"keyset": envelope.get("keyset"), **sig}, "keyset", pinned)
            break
        except ManifestRejected:
            continue
    if keyset is None:
        raise ManifestRejected("manifest_signature_invalid", "Bộ khóa không có chữ ký tin cậy / no trusted signature")
    result: dict[str, bytes] = {}
    for key in keyset.get("keys", []):
        raw = b64decode(key["public_key"])
        if key_id_for(raw) != key["key_id"]:
            raise ManifestRejected("manifest_signature_invalid", "Mã khóa không khớp / key id does not match key")
        result[key["key_id"]] = raw
    if not result:
        raise ManifestRejected("manifest_invalid", "Bộ khóa rỗng / empty key set")
    return result
