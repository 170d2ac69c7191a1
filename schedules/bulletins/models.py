"""The bulletin tables (issue 16).

Sender side (a province or a district): `bulletins` (composed, approved, sent) and `bulletin_deliveries` (one
row per target commune: what the commune last said about it). Receiver side (a commune): `bulletin_inbox` (one
row per bulletin version received by a commune). Reports up: `commune_day_reports` (a commune's figures of one
day, from its loudspeakers' own proof of play, computed here or received from the commune's station).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from loa.db import UtcDateTime


class Bulletin(SQLModel, table=True):
    """A bulletin composed at a province or a district. draft → submitted → approved → sent; rejected (with a
    reason) goes back to draft when edited. `changed_by`: who changed the words or the audio since the last
    approval — none of them may approve it (the two-person rule)."""

    __tablename__ = "bulletins"

    id: int | None = Field(default=None, primary_key=True)
    org_level: str = Field(max_length=10)  # province | district
    org_id: int = Field(index=True)
    title: str = Field(max_length=300)
    language: str = Field(default="vi", max_length=35)
    source: str = Field(max_length=16)  # text | recording
    text: str | None = Field(default=None, max_length=20000)
    audio_sha256: str | None = Field(default=None, max_length=64)
    audio_format: str | None = Field(default=None, max_length=16)
    duration_s: float | None = None
    size_bytes: int | None = None
    version: int = 1
    status: str = Field(default="draft", max_length=16, index=True)
    reject_reason: str | None = Field(default=None, max_length=2000)
    changed_by: list[int] = Field(default_factory=list, sa_type=sa.JSON)
    author_id: int = Field(foreign_key="users.id")
    approved_by: int | None = Field(default=None, foreign_key="users.id")
    approved_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    # Set when sent: the level, the expiry and the chosen targets (district ids, commune ids) as sent.
    level: str | None = Field(default=None, max_length=10)  # normal | priority | emergency
    expires_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    target_districts: list[int] = Field(default_factory=list, sa_type=sa.JSON)
    target_communes: list[int] = Field(default_factory=list, sa_type=sa.JSON)
    sent_by: int | None = Field(default=None, foreign_key="users.id")
    sent_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    created_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    updated_at: datetime = Field(sa_type=UtcDateTime, nullable=False)


class BulletinDelivery(SQLModel, table=True):
    """What one target commune last said about a bulletin: sent → received → scheduled → aired, or refused.
    `devices`: per loudspeaker {"name", "state", "seconds_aired"}, from its own proof of play."""

    __tablename__ = "bulletin_deliveries"
    __table_args__ = (sa.UniqueConstraint("bulletin_id", "commune_id", name="uq_bulletin_deliveries_commune"),)

    id: int | None = Field(default=None, primary_key=True)
    bulletin_id: int = Field(foreign_key="bulletins.id", index=True)
    commune_id: int = Field(foreign_key="communes.id", index=True)
    route: str = Field(default="local", max_length=10)  # local (same database) | remote (interchange)
    version: int = Field(default=1, sa_column_kwargs={"server_default": "1"})  # the version `state` is about
    # The newest older version the commune confirmed withdrawn (superseded): it can no longer air there.
    superseded_version: int | None = None
    superseded_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    state: str = Field(default="sent", max_length=12)
    detail: str | None = Field(default=None, max_length=2000)
    devices: dict[str, dict[str, Any]] = Field(default_factory=dict, sa_type=sa.JSON)
    seconds_aired: float = 0.0
    state_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    updated_at: datetime = Field(sa_type=UtcDateTime, nullable=False)


class InboxItem(SQLModel, table=True):
    """A bulletin as a commune received it. Keyed by (commune, sender station, bulletin id, version): receiving
    the same bulletin twice changes nothing.

    state: received (a normal or priority one waits for the cadre) → scheduled (a schedule or an emergency airs
    it) ; refused (the cadre said why) ; expired (its expiry passed before it was scheduled) ; superseded (a newer
    version arrived: `superseded_by` is its item, and whatever schedule or emergency aired this one is withdrawn)."""

    __tablename__ = "bulletin_inbox"
    __table_args__ = (sa.UniqueConstraint("commune_id", "sender_station", "bulletin_id", "version",
                                          name="uq_bulletin_inbox_identity"),)

    id: int | None = Field(default=None, primary_key=True)
    commune_id: int = Field(foreign_key="communes.id", index=True)
    sender_station: str = Field(max_length=100)
    sender_org: str = Field(max_length=200)
    sender_level: str = Field(max_length=10)
    bulletin_id: str = Field(max_length=64)
    version: int = 1
    level: str = Field(max_length=10)
    title: str = Field(max_length=300)
    texts: dict[str, str] = Field(default_factory=dict, sa_type=sa.JSON)  # language → text (what the audio says)
    audio: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)  # [{"sha256", "size", "duration_s", "language"}]
    issued_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    expires_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    received_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    state: str = Field(default="received", max_length=12, index=True)
    note: str | None = Field(default=None, max_length=1000)  # why a priority one waits for the cadre's order
    refuse_reason: str | None = Field(default=None, max_length=2000)
    content_item_ids: list[int] = Field(default_factory=list, sa_type=sa.JSON)
    schedule_id: int | None = Field(default=None, foreign_key="schedule_rules.id")
    emergency_id: int | None = Field(default=None, foreign_key="emergencies.id")
    superseded_by: int | None = None  # the newer version's inbox item (no foreign key: same table, kept simple)
    decided_by: int | None = Field(default=None, foreign_key="users.id")
    decided_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    updated_at: datetime = Field(sa_type=UtcDateTime, nullable=False, index=True)


class CommuneDayReport(SQLModel, table=True):
    """One commune's figures of one local day (schedules.bulletins.rollup.CommuneDay as columns), computed from
    this station's play records or received from the commune's own station. A newer report replaces it."""

    __tablename__ = "commune_day_reports"
    __table_args__ = (sa.UniqueConstraint("commune_id", "day", name="uq_commune_day_reports_day"),
                      sa.Index("ix_commune_day_reports_day", "day"))

    id: int | None = Field(default=None, primary_key=True)
    commune_id: int = Field(foreign_key="communes.id", index=True)
    day: str = Field(max_length=10)  # YYYY-MM-DD, the commune's local day
    seconds_by_kind: dict[str, float] = Field(default_factory=dict, sa_type=sa.JSON)
    seconds_by_level: dict[str, float] = Field(default_factory=dict, sa_type=sa.JSON)
    plays: int = 0
    completed: int = 0
    interrupted: int = 0
    failed: int = 0
    device_seconds: float = 0.0  # loudspeaker-seconds in the day (devices set up × their time that day)
    up_seconds: float = 0.0      # of which, online
    source: str = Field(default="local", max_length=10)  # local | remote
    computed_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
