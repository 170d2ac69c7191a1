"""Request and response shapes of the schedules API (and its OpenAPI document).

Every instant must carry its offset (`AwareDatetime`): "08:00" without a zone is refused with 422.
Ids are bounded to the database's integer range so a huge number is a clean 422, never a 500.
"""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, Union
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

RowId = Annotated[int, Field(ge=1, le=2_147_483_647)]
HHMM = Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="wall-clock time HH:MM")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ItemEntry(_Strict):
    type: Literal["item"]
    content_id: RowId


class PairEntry(_Strict):
    """The same message in two languages, back to back (e.g. Vietnamese, then Giáy)."""

    type: Literal["pair"]
    first: RowId
    second: RowId


class SilenceEntry(_Strict):
    type: Literal["silence"]
    seconds: float = Field(gt=0, le=3600)


class RelayEntry(_Strict):
    """An external stream (national or provincial radio) for a fixed duration."""

    type: Literal["relay"]
    url: str = Field(max_length=2000, pattern=r"^https?://[^\s]+$")
    duration_s: float = Field(gt=0, le=4 * 3600)
    title: str = Field(default="", max_length=300)


Entry = Annotated[Union[ItemEntry, PairEntry, SilenceEntry, RelayEntry], Field(discriminator="type")]


class TargetsIn(_Strict):
    commune: bool = Field(default=False, description="every loudspeaker of the commune")
    villages: list[RowId] = Field(default_factory=list, max_length=500)
    devices: list[RowId] = Field(default_factory=list, max_length=2000)


class ScheduleIn(_Strict):
    """One-off (`at`) or recurring (`rrule` from `starts_at`, optionally at `times` each selected day)."""

    title: str = Field(min_length=1, max_length=300)
    priority: Literal["fallback", "normal", "priority"] = "normal"
    at: AwareDatetime | None = Field(default=None, description="a one-off broadcast")
    rrule: str | None = Field(default=None, max_length=500,
                              description="RFC 5545 RRULE, e.g. FREQ=DAILY;UNTIL=20261130 or "
                                          "FREQ=WEEKLY;BYDAY=MO,WE,FR;COUNT=10")
    starts_at: AwareDatetime | None = Field(default=None, description="first day (DTSTART) of a recurring rule")
    times: list[HHMM] = Field(default_factory=list, max_length=24,
                              description="start times each selected day, e.g. [\"06:00\", \"17:00\"]")
    targets: TargetsIn
    programme: list[Entry] = Field(min_length=1, max_length=100)
    repeat: int = Field(default=1, ge=1, le=20)
    valid_from: AwareDatetime | None = None
    valid_until: AwareDatetime | None = None
    max_delay_s: float | None = Field(default=None, ge=0, le=86400,
                                      description="how late a collision may push a play (default: station's)")

    @model_validator(mode="after")
    def _one_kind(self) -> "ScheduleIn":
        if (self.at is None) == (self.rrule is None):
            raise ValueError("give either `at` (one-off) or `rrule` (recurring), not both / neither")
        if self.rrule is not None and self.starts_at is None:
            raise ValueError("a recurring schedule needs `starts_at`")
        if self.at is not None and (self.times or self.starts_at is not None):
            raise ValueError("`times` and `starts_at` belong to a recurring schedule")
        return self


class NoticeOut(BaseModel):
    id: int
    kind: str
    schedule_id: int | None
    emergency_id: int | None
    content_item_id: int | None
    message_vi: str
    message_en: str
    created_at: datetime


class TargetsOut(BaseModel):
    commune: bool
    villages: list[int]
    devices: list[int]


class ScheduleOut(BaseModel):
    id: int
    commune_id: int
    title: str
    priority: str
    at: datetime | None
    rrule: str | None
    starts_at: datetime | None
    times: list[str]
    timezone: str
    targets: TargetsOut
    programme: list[Entry]
    repeat: int
    valid_from: datetime | None
    valid_until: datetime | None
    max_delay_s: float | None
    author_id: int | None
    version: int
    created_at: datetime
    updated_at: datetime
    cancelled_at: datetime | None
    duration_s: float = Field(description="the programme's length (all repeats)")
    warnings: list[NoticeOut] = Field(default_factory=list,
                                      description="what the cadre must know: items expired/archived, …")


class ConflictOut(BaseModel):
    rule_key: str
    schedule_id: int | None
    emergency_id: int | None
    title: str
    resolution: Literal["new_outranks", "new_outranked", "queued", "refused"]
    first_overlap: datetime
    overlaps: int
    devices: list[int]


class CheckOut(BaseModel):
    """A conflict check (the preview endpoint, and the details of a save)."""

    refused: bool
    problems: list[str]
    warnings: list[str] = []  # saved anyway: e.g. plays the quiet hours will silence
    conflicts: list[ConflictOut]
    resolved_by_priority: list[ConflictOut]
    message: str


class SaveOut(BaseModel):
    schedule: ScheduleOut
    resolved_by_priority: list[ConflictOut] = Field(
        default_factory=list, description="overlaps the timetable settles by priority (nothing refused)")
    warnings: list[str] = Field(default_factory=list, description="saved, but e.g. quiet hours will silence plays")


class SegmentOut(BaseModel):
    offset_s: float
    duration_s: float
    kind: str
    content_id: int | None
    sha256: str | None
    title: str
    language: str | None
    url: str | None


class PlayOut(BaseModel):
    device_id: int
    rule_key: str
    schedule_id: int | None
    emergency_id: int | None
    title: str
    priority: str
    start: datetime
    end: datetime
    planned_start: datetime
    shifted: bool
    interrupted: bool
    segments: list[SegmentOut]


class DroppedOut(BaseModel):
    device_id: int
    rule_key: str
    planned_start: datetime
    priority: str
    reason: str
    detail: str
    content_ids: list[int]


class DeviceDayOut(BaseModel):
    device_id: int
    name: str
    version: str | None = Field(description="stored timetable version (changes iff its plays change)")
    plays: list[PlayOut]
    dropped: list[DroppedOut]


class TimetableOut(BaseModel):
    scope: Literal["device", "village"]
    id: int
    timezone: str
    window_start: datetime
    window_end: datetime
    computed_at: datetime
    devices: list[DeviceDayOut]


class EmergencyIn(_Strict):
    title: str = Field(min_length=1, max_length=300)
    programme: list[Entry] = Field(min_length=1, max_length=20)
    villages: list[RowId] = Field(default_factory=list, max_length=500)
    devices: list[RowId] = Field(default_factory=list, max_length=2000)
    repeat: int | None = Field(default=1, ge=1, le=100,
                               description="how many times; null = until cancelled (bounded by the station)")
    gap_s: float = Field(default=0, ge=0, le=600, description="silence between repetitions")

    @model_validator(mode="after")
    def _somewhere(self) -> "EmergencyIn":
        if not self.villages and not self.devices:
            raise ValueError("choose at least one village or device")
        return self


class EmergencyOut(BaseModel):
    id: int
    commune_id: int
    title: str
    programme: list[Entry]
    villages: list[int]
    devices: list[int]
    repeat: int | None
    gap_s: float
    status: str
    source: str
    cap_alert_id: int | None
    created_at: datetime
    started_at: datetime | None
    cancelled_at: datetime | None
    active: bool
    ends_at: datetime | None = Field(description="when the last repetition ends (bounded by the station maximum)")


class StationSettingsIn(_Strict):
    quiet_start: HHMM = "22:00"
    quiet_end: HHMM = "05:00"
    max_programme_s: float = Field(default=7200, ge=60, le=86400)
    default_max_delay_s: float = Field(default=1800, ge=0, le=86400)
    emergency_max_s: float = Field(default=21600, ge=60, le=86400)
    auto_air_extreme_immediate: bool = False
    timezone: str = Field(default="Asia/Ho_Chi_Minh", max_length=64)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise ValueError("unknown IANA time zone") from None
        return value


class StationSettingsOut(StationSettingsIn):
    model_config = ConfigDict(extra="ignore")

    commune_id: int
    updated_at: datetime | None


class CapAlertOut(BaseModel):
    id: int
    commune_id: int
    identifier: str
    sender: str
    sent: datetime
    msg_type: str
    status: str
    decision: dict[str, Any]
    content_item_id: int | None
    emergency_id: int | None
    received_at: datetime


class CapIngestOut(BaseModel):
    alert: CapAlertOut
    emergency: EmergencyOut | None
    render_job_id: int | None
    cancelled_emergencies: list[int] = Field(default_factory=list)


class ReportOut(BaseModel):
    commune_id: int
    day: str
    data: dict[str, Any]
    created_at: datetime
