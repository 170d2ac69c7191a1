"""Request and reply bodies of the device endpoints and the cadre's device pages. The device-facing ones
mirror broadcaster/protocol/schemas.py (the normative JSON Schemas); unknown fields are ignored so newer
firmware keeps working with an older station."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class EnrollStartIn(_Lenient):
    agent_version: str = Field(max_length=64)
    hardware: str | None = Field(default=None, max_length=200)
    hostname: str | None = Field(default=None, max_length=200)


class EnrollPollIn(_Lenient):
    enrollment_id: str = Field(max_length=40)
    poll_secret: str = Field(max_length=100)


class EnrollClaimIn(EnrollStartIn):
    code: str = Field(pattern=r"^[0-9]{6}$")


class PlayRecordIn(_Lenient):
    seq: int = Field(ge=1)
    play_id: str = Field(max_length=200)
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    title: str = Field(default="", max_length=1000)
    priority: str = Field(pattern=r"^(fallback|normal|priority|live|emergency)$")  # live: issue 15
    planned_start: datetime
    actual_start: datetime | None = None
    actual_end: datetime | None = None
    result: str = Field(pattern=r"^(played|skipped|interrupted|failed)$")
    reason: str | None = Field(default=None, max_length=1000)


class PlaysIn(_Lenient):
    records: list[PlayRecordIn] = Field(max_length=500)


class PlaysOut(BaseModel):
    acked_through: int


class HeartbeatIn(_Lenient):
    """§6: only `sent_at` and `manifest_version` are required; an omitted field is unchanged since the
    previous heartbeat (the route reads `model_dump(exclude_unset=True)`)."""
    sent_at: str
    local_time: str | None = None
    clock_offset_s: float = 0.0
    agent_version: str | None = Field(default=None, max_length=64)
    manifest_version: str | None = Field(default=None, max_length=64)
    playing: dict[str, Any] | None = None
    volume: int | None = None
    muted: bool | None = None
    local_volume: int | None = Field(default=None, ge=0, le=100)
    cache: dict[str, Any] = Field(default_factory=dict)
    disk_free_bytes: int | None = None
    temperature_c: float | None = None
    uptime_s: int | None = None
    hardware: str | None = Field(default=None, max_length=200)
    playlog: dict[str, Any] = Field(default_factory=dict)
    applied_seq: int | None = Field(default=None, ge=0, le=2**53)  # §4a: the newest control seq it applied
    events: list[dict[str, Any]] = Field(default_factory=list, max_length=500)


# -- cadre side ----------------------------------------------------------------------------------------------
class ConfirmIn(BaseModel):
    code: str = Field(pattern=r"^[0-9]{6}$")
    village_id: int = Field(ge=1, le=2_147_483_647)
    name: str | None = Field(default=None, min_length=1, max_length=200)
    device_id: int | None = Field(default=None, ge=1, le=2_147_483_647)


class RejectIn(BaseModel):
    code: str = Field(pattern=r"^[0-9]{6}$")


class CodeOut(BaseModel):
    device_id: int
    code: str
    expires_at: datetime


class SoundIn(BaseModel):
    volume: int | None = Field(default=None, ge=0, le=100)
    muted: bool | None = None


class DeviceStatusOut(BaseModel):
    id: int
    commune_id: int
    village_id: int | None
    name: str
    identity: str | None
    status: str
    last_seen: datetime | None
    enrolled_at: datetime | None
    agent_version: str | None
    volume: int
    muted: bool
    now_playing: dict[str, Any] | None = None
    cache: dict[str, Any] | None = None
    disk_free_bytes: int | None = None
    clock_offset_s: float | None = None
    temperature_c: float | None = None
    manifest_version: str | None = None
    reported_manifest_version: str | None = None
    open_alerts: int = 0
    reported_at: datetime | None = Field(default=None, description="when its last heartbeat arrived")
    last_reported_playing: dict[str, Any] | None = Field(
        default=None, description="`playing` of its last heartbeat, even when it is offline now (then: the past)")
    report_age_s: float | None = Field(default=None, description="seconds since its last heartbeat")
    report_old: bool = Field(default=False, description="a heartbeat should have come since: may be out of date")
    out_of_contact: bool = Field(default=False, description="no heartbeat for the offline limit")


class AlertOut(BaseModel):
    id: int
    device_id: int
    kind: str
    detail: str
    raised_at: datetime
    resolved_at: datetime | None
    open: bool


class PlayOut(BaseModel):
    device_id: int
    village_id: int | None
    identity: str
    seq: int
    play_id: str
    sha256: str | None
    title: str
    priority: str
    planned_start: datetime
    actual_start: datetime | None
    actual_end: datetime | None
    result: str
    reason: str | None
