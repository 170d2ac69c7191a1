"""Signed commands (docs/device-protocol.md §4a): "stop what this rule plays", "this is your sound now",
"play this live session's stream now" (`live`, issue 15).

A command is pushed (SSE `event: command`, MQTT `…/command` topics) so a device acts without waiting for its
manifest round trip; the manifest stays the source of truth and follows. It is signed like a manifest (Ed25519
over the canonical JSON of `command`, same pinned keys) and carries the station's monotonic `seq` (shared with
manifests), its targets (device ids and/or village ids: one body serves a whole village) and an expiry.
Both ends import this module; it imports nothing from the station.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from broadcaster.protocol.manifest import Entry, ManifestRejected, verify_signed
from broadcaster.protocol.wire import COMMAND_SCHEMA, b64encode, canonical_json, format_time, parse_time

ACTIONS = ("start", "stop", "sound", "live")


class CommandRejected(ManifestRejected):
    """A command the device must not act on; `code` is the heartbeat event code."""


@dataclass(frozen=True)
class Command:
    seq: int
    issued_at: datetime
    expires_at: datetime
    devices: tuple[str, ...]
    villages: tuple[str, ...]
    action: str                      # start | stop | sound | live
    source: str | None = None        # start, stop: the rule ("e12", "s7"); live, stop: the session ("l3")
    cut_at: datetime | None = None   # stop: the instant they end (the cadre's tap)
    volume: int | None = None        # sound: the station volume 0–100 (None: unchanged)
    muted: bool | None = None        # sound: mute (None: unchanged)
    entries: tuple[Entry, ...] = ()  # start: the emergency's first repetition, as its manifest will list it;
                                     # live: one entry of kind and priority "live" whose url is the stream

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "schema": COMMAND_SCHEMA, "seq": int(self.seq), "issued_at": format_time(self.issued_at),
            "expires_at": format_time(self.expires_at),
            "targets": {"devices": list(self.devices), "villages": list(self.villages)}, "action": self.action}
        if self.action == "stop":
            out.update(source=self.source, cut_at=format_time(self.cut_at))  # type: ignore[arg-type]
        elif self.action in ("start", "live"):
            out.update(source=self.source, entries=[e.to_dict() for e in self.entries])
        else:
            if self.volume is not None:
                out["volume"] = int(self.volume)
            if self.muted is not None:
                out["muted"] = bool(self.muted)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Command":
        if not isinstance(data, Mapping) or data.get("schema") != COMMAND_SCHEMA:
            raise CommandRejected("command_invalid", "Lệnh không rõ dạng / unknown command schema")
        try:
            targets = data["targets"]
            cmd = cls(seq=int(data["seq"]), issued_at=parse_time(data["issued_at"]),
                      expires_at=parse_time(data["expires_at"]),
                      devices=tuple(str(d) for d in targets.get("devices", [])),
                      villages=tuple(str(v) for v in targets.get("villages", [])), action=str(data["action"]),
                      source=str(data["source"]) if data.get("source") is not None else None,
                      cut_at=parse_time(data["cut_at"]) if data.get("cut_at") else None,
                      volume=int(data["volume"]) if data.get("volume") is not None else None,
                      muted=bool(data["muted"]) if data.get("muted") is not None else None,
                      entries=tuple(Entry.from_dict(e) for e in data.get("entries") or []))
        except (KeyError, TypeError, ValueError, AttributeError, ManifestRejected) as exc:
            raise CommandRejected("command_invalid", f"Lệnh không hợp lệ / bad command: {exc!r}") from exc
        if cmd.action not in ACTIONS or cmd.seq < 1 or (cmd.action == "stop" and (not cmd.source or not cmd.cut_at)) \
                or (cmd.action == "start" and (not cmd.entries or any(e.priority != "emergency" for e in cmd.entries))) \
                or (cmd.action == "live" and (not cmd.source or len(cmd.entries) != 1
                                              or any(e.priority != "live" or e.kind != "live" or not e.url
                                                     or e.source != cmd.source for e in cmd.entries))) \
                or (cmd.volume is not None and not 0 <= cmd.volume <= 100):
            raise CommandRejected("command_invalid", f"Lệnh không hợp lệ / bad command {cmd.action!r}")
        return cmd

    def targets(self, device_id: str, village_id: str | None) -> bool:
        return device_id in self.devices or (village_id is not None and village_id in self.villages)


def sign_command(command: Command, private_key: Ed25519PrivateKey, key_id: str) -> dict[str, Any]:
    body = command.to_dict()
    return {"command": body, "signature": b64encode(private_key.sign(canonical_json(body))), "key_id": key_id}


def verify_command(envelope: Any, pinned: Mapping[str, bytes], *, device_id: str, village_id: str | None,
                   now: datetime | None) -> Command:
    """Signature by a pinned key, then targets, then expiry (`now` None: skip, for a command re-read from disk)."""
    try:
        body = verify_signed(envelope, "command", pinned)
    except ManifestRejected as exc:
        code = "command_signature_invalid" if exc.code == "manifest_signature_invalid" else "command_invalid"
        raise CommandRejected(code, exc.message) from exc
    cmd = Command.from_dict(body)
    if not cmd.targets(device_id, village_id):
        raise CommandRejected("command_wrong_device", f"Lệnh không dành cho thiết bị này / not for {device_id}")
    if now is not None and cmd.expires_at <= now:
        raise CommandRejected("command_expired", "Lệnh đã hết hạn / command expired " + format_time(cmd.expires_at))
    return cmd
