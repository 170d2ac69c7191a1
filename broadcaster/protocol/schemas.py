"""JSON Schemas (draft 2020-12) of every device-protocol message: the normative form of
docs/device-protocol.md's examples (its appendix is this module's output, checked by a test). Pure data."""
from __future__ import annotations

import json
from typing import Any

PRIMITIVES: dict[str, dict[str, Any]] = {
    "Time": {"type": "string", "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z$"},
    "Sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
    "DeviceId": {"type": "string", "pattern": "^dev_[0-9a-f]{16}$"},
    "KeyId": {"type": "string", "pattern": "^[0-9a-f]{16}$"},
    "Priority": {"enum": ["fallback", "normal", "priority", "live", "emergency"]},
    "StationKey": {"type": "object", "required": ["key_id", "public_key"], "additionalProperties": False,
                   "properties": {"key_id": {"$ref": "#/$defs/KeyId"}, "public_key": {"type": "string"}}},
}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/$defs/{name}"}


TIME, SHA, DEVICE_ID, KEY, PRIORITY = ref("Time"), ref("Sha256"), ref("DeviceId"), ref("StationKey"), ref("Priority")


def _obj(required: list[str], props: dict[str, Any], extra: bool = False) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": props, "additionalProperties": extra}


ENTRY = _obj(
    ["play_id", "kind", "priority", "start", "end", "sha256", "size", "duration", "url", "title", "language"],
    {"play_id": {"type": "string", "minLength": 1}, "kind": {"enum": ["audio", "relay", "silence", "live"]},
     "priority": PRIORITY, "start": TIME, "end": TIME,
     "sha256": {"anyOf": [SHA, {"type": "null"}]}, "size": {"type": "integer", "minimum": 0},
     "duration": {"type": "number", "exclusiveMinimum": 0}, "url": {"type": "string"},
     "title": {"type": "string"}, "language": {"type": "string"}, "source": {"type": "string"}})

MANIFEST = _obj(
    ["schema", "device_id", "version", "generated_at", "valid_until", "timezone", "volume", "muted", "emergency",
     "fallback", "entries"],
    {"schema": {"const": "loa.manifest/1"}, "device_id": DEVICE_ID, "version": {"type": "string"},
     "generated_at": TIME, "valid_until": TIME, "timezone": {"type": "string"},
     "volume": {"type": "integer", "minimum": 0, "maximum": 100}, "muted": {"type": "boolean"},
     "emergency": {"type": "boolean"}, "fallback": {"anyOf": [ref("Entry"), {"type": "null"}]},
     "entries": {"type": "array", "items": ref("Entry")}, "seq": {"type": "integer", "minimum": 1},
     "standby": {"type": "array", "minItems": 1, "items": ref("Standby")}})

# A file to hold ahead of need (§4b): never played by itself.
STANDBY = _obj(["sha256", "size", "url"], {"sha256": SHA, "size": {"type": "integer", "minimum": 1},
                                           "url": {"type": "string", "minLength": 1}})

SIGNED_MANIFEST = _obj(["manifest", "signature", "key_id"],
                       {"manifest": ref("Manifest"), "signature": {"type": "string"}, "key_id": ref("KeyId")})

KEYSET = _obj(["keyset", "signatures"], {
    "keyset": _obj(["keys", "issued_at"], {"keys": {"type": "array", "items": KEY, "minItems": 1}, "issued_at": TIME}),
    "signatures": {"type": "array", "minItems": 1, "items": _obj(["key_id", "signature"], {
        "key_id": ref("KeyId"), "signature": {"type": "string"}})}})

PLAY_RECORD = _obj(
    ["seq", "play_id", "sha256", "title", "priority", "planned_start", "actual_start", "actual_end", "result", "reason"],
    {"seq": {"type": "integer", "minimum": 1}, "play_id": {"type": "string"},
     "sha256": {"anyOf": [SHA, {"type": "null"}]}, "title": {"type": "string"},
     "priority": PRIORITY, "planned_start": TIME,
     "actual_start": {"anyOf": [TIME, {"type": "null"}]}, "actual_end": {"anyOf": [TIME, {"type": "null"}]},
     "result": {"enum": ["played", "skipped", "interrupted", "failed"]},
     "reason": {"type": ["string", "null"]}})

PLAYS_REQUEST = _obj(["records"], {"records": {"type": "array", "maxItems": 500, "items": ref("PlayRecord")}})
PLAYS_REPLY = _obj(["acked_through"], {"acked_through": {"type": "integer", "minimum": 0}})

EVENT = _obj(["at", "code", "detail"], {"at": TIME, "code": {"type": "string"}, "detail": {"type": "string"}})
# Only sent_at and manifest_version are required: an omitted field is unchanged since the previous heartbeat.
HEARTBEAT = _obj(
    ["sent_at", "manifest_version"],
    {"sent_at": TIME, "local_time": TIME, "clock_offset_s": {"type": "number"}, "agent_version": {"type": "string"},
     "manifest_version": {"type": ["string", "null"]},
     "playing": {"anyOf": [{"type": "null"}, _obj(["play_id", "sha256", "title", "priority", "started_at"], {
         "play_id": {"type": "string"}, "sha256": {"anyOf": [SHA, {"type": "null"}]}, "title": {"type": "string"},
         "priority": PRIORITY, "started_at": TIME})]},
     "volume": {"type": ["integer", "null"]}, "muted": {"type": ["boolean", "null"]},
     "local_volume": {"type": "integer", "minimum": 0, "maximum": 100},
     "cache": _obj(["used_bytes", "limit_bytes", "files", "missing"], {
         "used_bytes": {"type": "integer"}, "limit_bytes": {"type": "integer"}, "files": {"type": "integer"},
         "missing": {"type": "array", "items": SHA}}),
     "disk_free_bytes": {"type": "integer"}, "temperature_c": {"type": ["number", "null"]},
     "uptime_s": {"type": "integer"}, "hardware": {"type": "string"},
     "playlog": _obj(["last_seq", "acked_seq"], {"last_seq": {"type": "integer"}, "acked_seq": {"type": "integer"}}),
     "applied_seq": {"type": "integer", "minimum": 0},
     "events": {"type": "array", "items": ref("Event")}})

DEVICE_INFO = {"agent_version": {"type": "string"}, "hardware": {"type": "string"}, "hostname": {"type": "string"}}
ENROLL_START = _obj(["agent_version"], DEVICE_INFO)
ENROLL_STARTED = _obj(["enrollment_id", "poll_secret", "code", "expires_at", "poll_interval_s"], {
    "enrollment_id": {"type": "string"}, "poll_secret": {"type": "string"},
    "code": {"type": "string", "pattern": "^[0-9]{6}$"}, "expires_at": TIME,
    "poll_interval_s": {"type": "number", "minimum": 1}})
ENROLL_POLL = _obj(["enrollment_id", "poll_secret"], {"enrollment_id": {"type": "string"},
                                                     "poll_secret": {"type": "string"}})
ENROLL_CLAIM = _obj(["code", "agent_version"], {"code": {"type": "string", "pattern": "^[0-9]{6}$"}, **DEVICE_INFO})
CREDENTIALS = _obj(["device_id", "token", "commune_id", "village_id", "station_keys", "mqtt"], {
    "device_id": DEVICE_ID, "token": {"type": "string", "pattern": "^loa_dev_[A-Za-z0-9_-]{43}$"},
    "commune_id": {"type": "string"}, "village_id": {"type": "string"},
    "station_keys": {"type": "array", "items": KEY, "minItems": 1},
    "mqtt": {"anyOf": [{"type": "null"}, _obj(["url", "username", "topics"], {
        "url": {"type": "string"}, "username": {"type": "string"},
        "topics": {"type": "array", "items": {"type": "string"}}})]}})

COMMAND = _obj(
    ["schema", "seq", "issued_at", "expires_at", "targets", "action"],
    {"schema": {"const": "loa.command/1"}, "seq": {"type": "integer", "minimum": 1}, "issued_at": TIME,
     "expires_at": TIME,
     "targets": _obj(["devices", "villages"], {"devices": {"type": "array", "items": DEVICE_ID},
                                               "villages": {"type": "array", "items": {"type": "string"}}}),
     "action": {"enum": ["start", "stop", "sound", "live"]}, "source": {"type": "string", "minLength": 1}, "cut_at": TIME,
     "entries": {"type": "array", "minItems": 1, "items": ref("Entry")},
     "volume": {"type": "integer", "minimum": 0, "maximum": 100}, "muted": {"type": "boolean"}})
SIGNED_COMMAND = _obj(["command", "signature", "key_id"],
                      {"command": ref("Command"), "signature": {"type": "string"}, "key_id": ref("KeyId")})

NUDGE = _obj(["version", "emergency"], {"version": {"type": "string"}, "emergency": {"type": "boolean"}, "at": TIME})
ERROR = _obj(["type", "title", "status", "detail", "code", "message_vi", "message_en"], {
    "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
    "detail": {"type": "string"}, "code": {"type": "string"}, "message_vi": {"type": "string"},
    "message_en": {"type": "string"}}, extra=True)

SCHEMAS: dict[str, dict[str, Any]] = {
    "SignedManifest": SIGNED_MANIFEST, "Manifest": MANIFEST, "Entry": ENTRY, "Standby": STANDBY, "KeySet": KEYSET,
    "EnrollStart": ENROLL_START, "EnrollStarted": ENROLL_STARTED, "EnrollPoll": ENROLL_POLL,
    "EnrollClaim": ENROLL_CLAIM, "Credentials": CREDENTIALS, "Heartbeat": HEARTBEAT,
"PlayRecord": PLAY_RECORD, "PlaysRequest": PLAYS_REQUEST,
    "PlaysReply": PLAYS_REPLY, "Event": EVENT, "Nudge": NUDGE, "SignedCommand": SIGNED_COMMAND,
    "Command": COMMAND, "Error": ERROR,
}


def bundle() -> dict[str, Any]:
    """One document holding every schema under $defs (refs resolve inside it)."""
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$defs": {**PRIMITIVES, **SCHEMAS}}


def schema_for(name: str) -> dict[str, Any]:
    """A standalone schema for one message, e.g. to validate with the `jsonschema` package."""
    return {**bundle(), "$ref": f"#/$defs/{name}"}


def appendix() -> str:
    """The Markdown appendix of docs/device-protocol.md."""
    parts = ["## Appendix: JSON Schemas\n",
             "Generated from `broadcaster/protocol/schemas.py` (draft 2020-12); a test keeps the two identical.\n"
             "Every name below lives under `$defs` of one document; `{\"$ref\": \"#/$defs/Entry\"}` points to it.\n"]
    for name, schema in {**PRIMITIVES, **SCHEMAS}.items():
        parts.append(f"### {name}\n\n```json\n{json.dumps(schema, ensure_ascii=False)}\n```\n")
    return "\n".join(parts)
