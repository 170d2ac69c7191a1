"""Tables of the organisation. Devices carry the fields the broadcaster fills (enrollment, credential, status)."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from loa.db import UtcDateTime


class Province(SQLModel, table=True):
    __tablename__ = "provinces"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    code: str | None = Field(default=None, max_length=32, unique=True)
    created_at: datetime = Field(sa_type=UtcDateTime, nullable=False)


class District(SQLModel, table=True):
    """A district (huyện) of a province: its staff send bulletins to its communes and read their reports."""

    __tablename__ = "districts"

    id: int | None = Field(default=None, primary_key=True)
    province_id: int = Field(foreign_key="provinces.id", index=True)
    name: str = Field(max_length=200)
    code: str | None = Field(default=None, max_length=32, unique=True)
    created_at: datetime = Field(sa_type=UtcDateTime, nullable=False)


class Commune(SQLModel, table=True):
    """A commune runs one station; every piece of data hangs off a commune."""

    __tablename__ = "communes"

    id: int | None = Field(default=None, primary_key=True)
    province_id: int = Field(foreign_key="provinces.id", index=True)
    # The district (huyện) above it (issue 16); None on a station that holds no district level.
    district_id: int | None = Field(default=None, foreign_key="districts.id", index=True)
    name: str = Field(max_length=200)
    code: str | None = Field(default=None, max_length=32, unique=True)
    timezone: str = Field(default="Asia/Ho_Chi_Minh", max_length=64)
    created_at: datetime = Field(sa_type=UtcDateTime, nullable=False)


class Village(SQLModel, table=True):
    """A zone of loudspeakers. Coordinates and CAP geocodes let alerts map their area to villages."""

    __tablename__ = "villages"
    __table_args__ = (sa.UniqueConstraint("commune_id", "name", name="uq_villages_commune_name"),)

    id: int | None = Field(default=None, primary_key=True)
    commune_id: int = Field(foreign_key="communes.id", index=True)
    name: str = Field(max_length=200)
    default_language: str = Field(default="vi", max_length=35)
    latitude: float | None = None
    longitude: float | None = None
    geocodes: str | None = Field(default=None, max_length=500, description="CAP geocodes, comma separated")
    created_at: datetime = Field(sa_type=UtcDateTime, nullable=False)


class Device(SQLModel, table=True):
    """A loudspeaker cluster. `status`, `last_seen`, enrollment and credential columns belong to the broadcaster."""

    __tablename__ = "devices"

    id: int | None = Field(default=None, primary_key=True)
    commune_id: int = Field(foreign_key="communes.id", index=True)
    village_id: int | None = Field(default=None, foreign_key="villages.id", index=True)
    name: str = Field(max_length=200)
    status: str = Field(default="unenrolled", max_length=16)  # unenrolled|online|offline|playing|error|revoked
    last_seen: datetime | None = Field(default=None, sa_type=UtcDateTime)
    enrolled_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    credential_hash: str | None = Field(default=None, max_length=128)
    public_key: str | None = Field(default=None, max_length=200)
    agent_version: str | None = Field(default=None, max_length=64)
    volume: int = Field(default=80)
    muted: bool = Field(default=False)
    # Where the cluster hangs (for the commune map); the village's point is used when unset.
    latitude: float | None = None
    longitude: float | None = None
    created_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
