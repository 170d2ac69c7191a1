"""The bulletin seam (plain dataclasses, no database, no web) and the request bodies of the bulletin routes.

`ReceivedBulletin` is what a commune receives, from the same database (`service.send`) or from an upper station
through the interchange (`broadcaster/interchange/`, issue 16 point 4): both call `service.receive`.
`StatusUpdate` is what a commune says back about it; the sender stores it with `service.record_status`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from pydantic import BaseModel, Field

LEVELS = ("normal", "priority", "emergency")
STATES = ("sent", "received", "scheduled", "aired", "refused", "expired", "superseded")


@dataclass(frozen=True)
class AudioPart:
    """One audio file of a bulletin, already in the receiving station's content store under its sha256."""
    sha256: str
    size: int
    duration_s: float
    language: str = "vi"
    format: str = "ogg-opus"


@dataclass(frozen=True)
class ReceivedBulletin:
    """A bulletin as it travels down. (sender_station, bulletin_id, version) identifies it: receiving the same
    triple twice changes nothing; a higher version is a new inbox item."""
    sender_station: str          # the sending station's id (its key fingerprint for the interchange)
    sender_org: str              # "Tỉnh Lào Cai", "Huyện Bát Xát"
    sender_level: str            # province | district
    bulletin_id: str
    version: int
    level: str                   # normal | priority | emergency
    issued_at: datetime
    expires_at: datetime
    title: str
    texts: dict[str, str]        # language → the words (what the audio says; empty for a wordless recording)
    audio: tuple[AudioPart, ...]
    target_communes: tuple[str, ...]  # commune codes (communes.code)


@dataclass(frozen=True)
class DeviceAir:
    """One loudspeaker's part: received → scheduled → aired, with the seconds its own proof of play reports."""
    device_id: int
    name: str
    state: str
    seconds_aired: float = 0.0


@dataclass(frozen=True)
class StatusUpdate:
    """What one commune says about one bulletin, going up."""
    sender_station: str
    bulletin_id: str
    version: int
    commune_code: str
    state: str                   # received | scheduled | aired | refused | expired | superseded
    at: datetime
    detail: str | None = None    # the refusal's reason, or what the commune waits for
    devices: tuple[DeviceAir, ...] = field(default_factory=tuple)

    @property
    def seconds_aired(self) -> float:
        return sum(d.seconds_aired for d in self.devices)


# ---------------------------------------------------------------- request bodies


class BulletinTextIn(BaseModel):
    title: str = Field(min_length=1, max_length=300)
    text: str = Field(min_length=1, max_length=20000)
    language: str = Field(default="vi", max_length=35)


class BulletinEdit(BaseModel):
    title: str | None = Field(default=None, min_length=1, max_length=300)
    text: str | None = Field(default=None, min_length=1, max_length=20000)


class ApproveIn(BaseModel):
    audio_sha256: str = Field(min_length=64, max_length=64, description="the audio the approver listened to")


class RejectIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


class SendIn(BaseModel):
    level: str = Field(pattern="^(normal|priority|emergency)$")
    expires_at: datetime
    districts: list[int] = Field(default_factory=list, max_length=500)
    communes: list[int] = Field(default_factory=list, max_length=5000)


class AcceptIn(BaseModel):
    """A normal bulletin into the commune's own schedule: once at `at`, where the cadre chooses."""
    at: datetime
    villages: list[int] = Field(default_factory=list, max_length=500, description="none: the whole commune")


class OrderIn(BaseModel):
    """A priority bulletin that clashes with the commune's own priority item: air it before or after that."""
    order: str = Field(pattern="^(before|after)$")


class RefuseIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)
