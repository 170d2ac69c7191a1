"""Request and response shapes for the organisation."""
from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class ProvinceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    code: str | None = Field(default=None, max_length=32)


class ProvinceOut(BaseModel):
    id: int
    name: str
    code: str | None


class CommuneCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    province_id: int
    name: str = Field(min_length=1, max_length=200)
    code: str | None = Field(default=None, max_length=32)
    timezone: str = Field(default="Asia/Ho_Chi_Minh", max_length=64)


class CommuneOut(BaseModel):
    id: int
    province_id: int
    name: str
    code: str | None
    timezone: str


class VillageCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    default_language: str = Field(default="vi", max_length=35)
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    geocodes: str | None = Field(default=None, max_length=500)


class VillageOut(BaseModel):
    id: int
    commune_id: int
    name: str
    default_language: str
    latitude: float | None
    longitude: float | None
    geocodes: str | None


class CommuneUpdate(BaseModel):
    """PATCH: only the fields sent change."""
    model_config = ConfigDict(extra="forbid")

    province_id: int | None = None
    name: str | None = Field(default=None, min_length=1, max_length=200)
    code: str | None = Field(default=None, max_length=32)
    timezone: str | None = Field(default=None, max_length=64)


class VillageUpdate(BaseModel):
    """PATCH: only the fields sent change; `null` clears coordinates or geocodes."""
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    default_language: str | None = Field(default=None, max_length=35)
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    geocodes: str | None = Field(default=None, max_length=500)


class DeviceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    village_id: int | None = None
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)


class DeviceUpdate(BaseModel):
    """PATCH: only the fields sent change; `null` clears the village or the position."""
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    village_id: int | None = None
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)


class DeviceOut(BaseModel):
    id: int
    commune_id: int
    village_id: int | None
    name: str
    status: str
    last_seen: datetime | None
    enrolled_at: datetime | None
    volume: int
    muted: bool
    latitude: float | None = None
    longitude: float | None = None


class AuditOut(BaseModel):
    id: int
    at: datetime
    actor_user_id: int | None
    actor_username: str | None
    ip: str | None
    action: str
    object_type: str
    object_id: str | None
    commune_id: int | None
    detail: dict



class AuditPage(BaseModel):
    total: int = Field(description="entries matching the filters in all")
    offset: int
    entries: list[AuditOut]


class JobOut(BaseModel):
    id: int
    kind: str
    status: str
    attempts: int
    max_attempts: int
    run_after: datetime
    locked_until: datetime | None
    last_error: str | None
    result: dict | None
    object_type: str | None
    object_id: str | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None
