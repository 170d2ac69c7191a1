"""Tables of the broadcaster. The `devices` row itself (loa/org/models.py) keeps name, village, status,
last_seen, volume and mute; these tables hold what the device protocol adds around it."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from loa.db import UtcDateTime


class DeviceCredential(SQLModel, table=True):
    """One enrolled identity of a device (`dev_…`). Enrolling the box again makes a new identity (and a new play
    log from seq 1); the old one is revoked. Only a hash of the token is kept; `mqtt_hash` is the same token in
    Mosquitto's password-file form, so the ACL generator can write the broker's files without the token."""

    __tablename__ = "device_credentials"

    id: int | None = Field(default=None, primary_key=True)
    uid: str = Field(max_length=20, unique=True)
    device_id: int = Field(foreign_key="devices.id", index=True)
    token_hash: str = Field(max_length=64, unique=True)
    mqtt_hash: str | None = Field(default=None, max_length=200)
    hardware: str | None = Field(default=None, max_length=200)
    hostname: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    revoked_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class Enrollment(SQLModel, table=True):
    """A pending pairing. kind `device` (2a: the box shows the code, a cadre confirms it) or `cadre` (2b: the
    cadre made the code for an existing device). status: pending → confirmed (2a only) → consumed; or rejected."""

    __tablename__ = "device_enrollments"

    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(max_length=40, unique=True)
    kind: str = Field(max_length=8)
    code_hash: str = Field(max_length=64, index=True)
    poll_secret_hash: str | None = Field(default=None, max_length=64)
    status: str = Field(default="pending", max_length=12)
    commune_id: int | None = Field(default=None, foreign_key="communes.id")
    device_id: int | None = Field(default=None, foreign_key="devices.id")
    agent_version: str | None = Field(default=None, max_length=64)
    hardware: str | None = Field(default=None, max_length=200)
    hostname: str | None = Field(default=None, max_length=200)
    created_by: int | None = Field(default=None, foreign_key="users.id")
    created_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    expires_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    consumed_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class EnrollAttempt(SQLModel, table=True):
    """A wrong code from an address (rate limit: 5 in 10 minutes)."""

    __tablename__ = "device_enroll_attempts"
    __table_args__ = (sa.Index("ix_device_enroll_attempts_ip_at", "ip", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    ip: str = Field(max_length=64)
    at: datetime = Field(sa_type=UtcDateTime, nullable=False)


class DeviceReport(SQLModel, table=True):
    """The last heartbeat of a device, as reported (one row per device, overwritten)."""

    __tablename__ = "device_reports"

    device_id: int = Field(foreign_key="devices.id", primary_key=True)
    uid: str = Field(max_length=20)
    received_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    clock_offset_s: float = 0.0
    manifest_version: str | None = Field(default=None, max_length=64)
    playing: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    cache: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    disk_free_bytes: int | None = Field(default=None, sa_type=sa.BigInteger)
    temperature_c: float | None = None
    uptime_s: int | None = None
    hardware: str | None = Field(default=None, max_length=200)
    local_volume: int | None = None
    playlog: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    applied_seq: int | None = Field(default=None, sa_type=sa.BigInteger)  # §4a: what the device confirmed


class DeviceAlert(SQLModel, table=True):
    """Something a cadre should look at: a device offline, a play failed, a refused manifest or file.
    `open_key` is set while the alert is open (unique), so raising it again is a no-op."""

    __tablename__ = "device_alerts"

    id: int | None = Field(default=None, primary_key=True)
    commune_id: int = Field(foreign_key="communes.id", index=True)
    device_id: int = Field(foreign_key="devices.id", index=True)
    kind: str = Field(max_length=40)
    detail: str = Field(default="", max_length=1000)
    open_key: str | None = Field(default=None, max_length=80, unique=True)
    raised_at: datetime = Field(sa_type=UtcDateTime, nullable=False, index=True)
    resolved_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class PlayRecordRow(SQLModel, table=True):
    """One proof-of-play record, keyed by (identity, seq). Title and hash are copied in, so history survives
    the deletion of the content."""

    __tablename__ = "device_plays"
    __table_args__ = (sa.UniqueConstraint("uid", "seq", name="uq_device_plays_uid_seq"),
                      sa.Index("ix_device_plays_device_planned", "device_id", "planned_start"),
                      sa.Index("ix_device_plays_village_planned", "village_id", "planned_start"))

    id: int | None = Field(default=None, primary_key=True)
    uid: str = Field(max_length=20)
    seq: int
    device_id: int = Field(foreign_key="devices.id")
    commune_id: int = Field(foreign_key="communes.id", index=True)
    village_id: int | None = Field(default=None, foreign_key="villages.id")
    play_id: str = Field(max_length=120)
    sha256: str | None = Field(default=None, max_length=64)
    title: str = Field(default="", max_length=300)
    priority: str = Field(max_length=12)
    planned_start: datetime = Field(sa_type=UtcDateTime, nullable=False)
    actual_start: datetime | None = Field(default=None, sa_type=UtcDateTime)
    actual_end: datetime | None = Field(default=None, sa_type=UtcDateTime)
    result: str = Field(max_length=12)
    reason: str | None = Field(default=None, max_length=300)
    received_at: datetime = Field(sa_type=UtcDateTime, nullable=False)


class PlayAck(SQLModel, table=True):
    """Per identity: the highest seq such that every seq up to it is stored (the `acked_through` reply)."""

    __tablename__ = "device_play_acks"

    uid: str = Field(max_length=20, primary_key=True)
    acked_through: int = 0


class DeviceManifestRow(SQLModel, table=True):
    """The last signed manifest of a device and what it was built from (`source_key`): while the source is
    unchanged, requests are answered from this row (or the process cache) without rebuilding or re-signing."""

    __tablename__ = "device_manifests"

    device_id: int = Field(foreign_key="devices.id", primary_key=True)
    source_key: str = Field(max_length=200)
    version: str = Field(max_length=64)
    emergency: bool = False
    envelope: str = Field(sa_type=sa.Text)
    # the envelope's control seq: an upsert never replaces a row with one signed earlier (manifests.newer_than)
    seq: int = Field(default=0, sa_type=sa.BigInteger, sa_column_kwargs={"server_default": "0"})
    built_at: datetime = Field(sa_type=UtcDateTime, nullable=False)


class DeviceAudioGrant(SQLModel, table=True):
    """A file a device may download: listed by one of its manifests, last at `listed_at` (recent = 7 days)."""

    __tablename__ = "device_audio_grants"

    device_id: int = Field(foreign_key="devices.id", primary_key=True)
    sha256: str = Field(max_length=64, primary_key=True)
    listed_at: datetime = Field(sa_type=UtcDateTime, nullable=False)


class VillageNudge(SQLModel, table=True):
    """The serial of the village topic's retained nudge."""

    __tablename__ = "village_nudges"

    village_id: int = Field(foreign_key="villages.id", primary_key=True)
    serial: int = 0


class ControlSeq(SQLModel, table=True):
    """The station's one control sequence (docs/device-protocol.md §4a): every signed manifest and command takes
    the next number, so a device can refuse anything older than what it applied. A database row, not a process
    counter or the clock: it survives restarts and is shared by every API replica and the scheduler."""

    __tablename__ = "control_seq"

    id: int = Field(default=1, primary_key=True)
    value: int = Field(default=0, sa_type=sa.BigInteger)


class ControlCommandRow(SQLModel, table=True):
    """Every signed command, kept for its two-minute lifetime: an SSE push reaches only the streams of the process
    that made the change, so each API process relays the commands other processes (another replica, the
    scheduler, a worker starting a CAP emergency) stored here to the streams it holds
    (broadcaster/station/push/command_relay.py)."""

    __tablename__ = "control_commands"

    seq: int = Field(sa_type=sa.BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False})
    issued_at: datetime = Field(sa_type=UtcDateTime, nullable=False, index=True)
    origin: str = Field(max_length=40)  # the process that pushed it already to its own streams
    device_ids: list[int] = Field(default_factory=list, sa_type=sa.JSON)
    envelope: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
