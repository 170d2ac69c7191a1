"""The interchange messages, version 1: what each field means is in docs/interchange.md.

Every message body has `schema` ("loa.interchange.<kind>/<major>"), `sender` and `recipient` (station ids) and
`sent_at`; the sender signs the body's canonical JSON at each attempt (so `sent_at` is fresh and a receiver can
refuse an old capture). Parsing is strict: a missing or mistyped field refuses the whole message, nothing half
applied. A new optional field keeps the major number; anything a version-1 receiver would misread gets /2.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Mapping, TypeAlias

from broadcaster.interchange.errors import Refused, malformed
from broadcaster.protocol.wire import format_time, is_sha256, parse_time

PREFIX = "loa.interchange."
BULLETIN = "loa.interchange.bulletin/1"
STATUS = "loa.interchange.status/1"
REPORT = "loa.interchange.report/1"
RECEIPT = "loa.interchange.receipt/1"
# What this station accepts per kind. A peer on a newer major gets `interchange_schema_unknown` and keeps the
# message in its outbox marked refused, so an operator sees it instead of it vanishing.
ACCEPTED = {"bulletin": BULLETIN, "status": STATUS, "report": REPORT, "receipt": RECEIPT}
LEVELS = ("normal", "priority", "emergency")
AUDIO_FORMATS = {"ogg-opus": "ogg", "mp3": "mp3"}  # AudioFacts.format → the store's file extension
MAX_AUDIO_BYTES = 200 * 1024 * 1024  # an hour of speech at 64 kb/s is ~30 MB


def kind_of(schema: object) -> str:
    """'loa.interchange.bulletin/1' → 'bulletin'; refuse anything else (and majors this station cannot read)."""
    if not isinstance(schema, str) or not schema.startswith(PREFIX) or "/" not in schema:
        raise malformed(f"schema {schema!r}")
    kind = schema[len(PREFIX):].split("/", 1)[0]
    if ACCEPTED.get(kind) != schema:
        raise Refused("interchange_schema_unknown", 422,
                      f"Phiên bản thông điệp chưa hỗ trợ: {schema}", f"Unsupported message schema: {schema}",
                      supported=sorted(ACCEPTED.values()))
    return kind


def _text(data: Mapping[str, Any], key: str, limit: int = 500, *, empty: bool = False) -> str:
    value = data.get(key)
    if not isinstance(value, str) or (not value and not empty) or len(value) > limit:
        raise malformed(f"{key} must be text of 1–{limit} characters")
    return value


def _time(data: Mapping[str, Any], key: str) -> datetime:
    try:
        return parse_time(str(data[key]))
    except (KeyError, ValueError) as exc:
        raise malformed(f"{key} must be an ISO time with offset") from exc


def _int(data: Mapping[str, Any], key: str, low: int = 0, high: int = 2**53) -> int:
    value = data.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise malformed(f"{key} must be a whole number {low}–{high}")
    return value


def _number(value: float) -> float | int:
    """Whole numbers serialize as integers so 30 and 30.0 sign the same bytes."""
    return int(value) if float(value).is_integer() else round(float(value), 3)


@dataclass(frozen=True)
class Header:
    schema: str
    sender: str
    recipient: str
    sent_at: datetime

    @property
    def kind(self) -> str:
        return kind_of(self.schema)

    def to_dict(self) -> dict[str, Any]:
        return {"schema": self.schema, "sender": self.sender, "recipient": self.recipient,
                "sent_at": format_time(self.sent_at)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Header":
        if not isinstance(data, Mapping):
            raise malformed("the message is not a JSON object")
        kind_of(data.get("schema"))
        return cls(schema=data["schema"], sender=_text(data, "sender", 64), recipient=_text(data, "recipient", 64),
                   sent_at=_time(data, "sent_at"))


@dataclass(frozen=True)
class AudioRef:
    sha256: str
    size: int
    duration: float
    language: str = "vi"
    format: str = "ogg-opus"

    @property
    def extension(self) -> str:
        return AUDIO_FORMATS[self.format]

    def to_dict(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "size": self.size, "duration": _number(self.duration),
                "language": self.language, "format": self.format}

    @classmethod
    def from_dict(cls, data: Any) -> "AudioRef":
        if not isinstance(data, Mapping) or not is_sha256(data.get("sha256")):
            raise malformed("audio.sha256 must be 64 lowercase hex characters")
        duration = data.get("duration")
        if not isinstance(duration, (int, float)) or isinstance(duration, bool) or not 0 < duration <= 6 * 3600:
            raise malformed("audio.duration must be seconds > 0")
        fmt = data.get("format", "ogg-opus")
        if fmt not in AUDIO_FORMATS:
            raise malformed(f"audio.format must be one of {sorted(AUDIO_FORMATS)}")
        return cls(sha256=data["sha256"], size=_int(data, "size", 1, MAX_AUDIO_BYTES), duration=float(duration),
                   language=_text(data, "language", 35), format=fmt)


@dataclass(frozen=True)
class Origin:
    """Who composed the bulletin: the sending station's organisation (a province or a district)."""
    station: str
    org_name: str
    org_level: str  # province | district

    def to_dict(self) -> dict[str, Any]:
        return {"station": self.station, "org_name": self.org_name, "org_level": self.org_level}

    @classmethod
    def from_dict(cls, data: Any) -> "Origin":
        if not isinstance(data, Mapping):
            raise malformed("origin must be an object")
        level = data.get("org_level")
        if level not in ("province", "district"):
            raise malformed("origin.org_level must be province or district")
        return cls(station=_text(data, "station", 64), org_name=_text(data, "org_name", 200), org_level=level)


@dataclass(frozen=True)
class BulletinMessage:
    """A bulletin going down, with its audio by content hash and the communes it is for."""
    bulletin_id: str
    version: int
    level: str
    issued_at: datetime
    expires_at: datetime
    title: str
    origin: Origin
    communes: tuple[str, ...]
    audio: tuple[AudioRef, ...]
    texts: tuple[tuple[str, str], ...] = ()  # (language, text): the transcript(s)

    @property
    def object_id(self) -> str:
        return self.bulletin_id

    def to_dict(self) -> dict[str, Any]:
        return {"bulletin_id": self.bulletin_id, "version": self.version, "level": self.level,
                "issued_at": format_time(self.issued_at), "expires_at": format_time(self.expires_at),
                "title": self.title, "origin": self.origin.to_dict(), "communes": list(self.communes),
                "audio": [a.to_dict() for a in self.audio],
                "texts": [{"language": lang, "text": text} for lang, text in self.texts]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "BulletinMessage":
        level = data.get("level")
        if level not in LEVELS:
            raise malformed(f"level must be one of {LEVELS}")
        communes, audio, texts = data.get("communes"), data.get("audio"), data.get("texts", [])
        if not isinstance(communes, list) or not communes or not all(isinstance(c, str) and c for c in communes):
            raise malformed("communes must be a non-empty list of commune codes")
        if not isinstance(audio, list) or not audio or len(audio) > 20:
            raise malformed("audio must list 1–20 files")
        if not isinstance(texts, list) or not all(isinstance(t, Mapping) for t in texts):
            raise malformed("texts must be a list of {language, text}")
        msg = cls(bulletin_id=_text(data, "bulletin_id", 64), version=_int(data, "version", 1),
                  level=level, issued_at=_time(data, "issued_at"), expires_at=_time(data, "expires_at"),
                  title=_text(data, "title", 200), origin=Origin.from_dict(data.get("origin")),
                  communes=tuple(communes), audio=tuple(AudioRef.from_dict(a) for a in audio),
                  texts=tuple((_text(t, "language", 35), _text(t, "text", 20000, empty=True)) for t in texts))
        if msg.expires_at <= msg.issued_at:
            raise malformed("expires_at must be after issued_at")
        return msg


@dataclass(frozen=True)
class DeviceAired:
    """One loudspeaker of the commune: its id on the commune's station, name, state and seconds aired."""
    device_id: int
    name: str
    state: str
    seconds_aired: float

    def to_dict(self) -> dict[str, Any]:
        return {"device_id": self.device_id, "name": self.name, "state": self.state,
                "seconds_aired": _number(self.seconds_aired)}


@dataclass(frozen=True)
class StatusMessage:
    """A commune's progress with a bulletin going up: received → scheduled → aired, or refused with a reason."""
    bulletin_id: str
    version: int
    commune: str
    state: str
    at: datetime
    detail: str = ""
    devices: tuple[DeviceAired, ...] = ()

    @property
    def object_id(self) -> str:
        # each change is its own event: a new state, or more seconds aired as more loudspeakers report their
        # plays (same state, same `at`); the same news again is a duplicate
        aired = round(sum(d.seconds_aired for d in self.devices))
        return f"{self.bulletin_id}/{self.version}/{self.commune}/{self.state}/{format_time(self.at)}/{aired}"

    def to_dict(self) -> dict[str, Any]:
        return {"bulletin_id": self.bulletin_id, "version": self.version, "commune": self.commune,
                "state": self.state, "at": format_time(self.at), "detail": self.detail,
                "devices": [d.to_dict() for d in self.devices]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "StatusMessage":
        devices = data.get("devices", [])
        if not isinstance(devices, list) or not all(isinstance(d, Mapping) for d in devices):
            raise malformed("devices must be a list of {device_id, name, state, seconds_aired}")
        out = []
        for d in devices:
            seconds = d.get("seconds_aired")
            if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or seconds < 0:
                raise malformed("devices[].seconds_aired must be seconds ≥ 0")
            out.append(DeviceAired(_int(d, "device_id", 0), _text(d, "name", 200), _text(d, "state", 32),
                                   float(seconds)))
        return cls(bulletin_id=_text(data, "bulletin_id", 64), version=_int(data, "version", 1),
                   commune=_text(data, "commune", 32), state=_text(data, "state", 32), at=_time(data, "at"),
                   detail=_text(data, "detail", 2000, empty=True) if "detail" in data else "",
                   devices=tuple(out))


@dataclass(frozen=True)
class ReportMessage:
    """One commune's figures for one local day going up; a later `version` (re-run report) replaces it."""
    commune: str
    day: date
    version: int
    figures: dict[str, float] = field(default_factory=dict)

    @property
    def object_id(self) -> str:
        return f"{self.commune}/{self.day.isoformat()}"

    def to_dict(self) -> dict[str, Any]:
        return {"commune": self.commune, "day": self.day.isoformat(), "version": self.version,
                "figures": {k: _number(v) for k, v in sorted(self.figures.items())}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ReportMessage":
        figures = data.get("figures")
        if not isinstance(figures, Mapping) or len(figures) > 200 or not all(
                isinstance(k, str) and isinstance(v, (int, float)) and not isinstance(v, bool)
                for k, v in figures.items()):
            raise malformed("figures must be an object of numbers")
        try:
            day = date.fromisoformat(str(data.get("day")))
        except ValueError as exc:
            raise malformed("day must be YYYY-MM-DD") from exc
        return cls(commune=_text(data, "commune", 32), day=day, version=_int(data, "version", 1),
                   figures={k: float(v) for k, v in figures.items()})


Payload: TypeAlias = BulletinMessage | StatusMessage | ReportMessage  # a message's body, by its kind
PAYLOADS: dict[str, type[BulletinMessage] | type[StatusMessage] | type[ReportMessage]] = {
    "bulletin": BulletinMessage, "status": StatusMessage, "report": ReportMessage}


def version_of(payload: Payload) -> int:
    return payload.version


def build(header: Header, payload: Payload) -> dict[str, Any]:
    """The body to sign: the header's fields and the payload's, side by side."""
    return {**payload.to_dict(), **header.to_dict()}


def parse(body: Mapping[str, Any]) -> tuple[Header, Payload]:
    header = Header.from_dict(body)
    cls = PAYLOADS.get(header.kind)
    if cls is None:
        raise malformed(f"a {header.kind} is not sent to this address")
    try:
        return header, cls.from_dict(body)
    except Refused:
        raise
    except (TypeError, ValueError, AttributeError) as exc:
        raise malformed(repr(exc)) from exc
