"""The schedules tables: rules, emergencies, station settings, CAP alerts, the materialized timetable,
notices to the cadre and nightly reports.

The pure core (`schedules/model.py`) never sees these rows: `schedules/mapping.py` turns them into
`Rule`, `Topology` and `StationSettings`. Targets and programmes are JSON columns: they are always read
whole, with the rule, and a commune has tens of rules, not millions.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Protocol

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from loa.db import UtcDateTime


class _Stored(Protocol):
    @property
    def id(self) -> int | None: ...


def saved_id(row: _Stored) -> int:
    """The id of a row read from the database or flushed to it. Table models declare `id: int | None` because a
    new row has none until the flush; using an unsaved row as a key or a reference is a bug, said here plainly
    rather than as a `None` stored somewhere."""
    if row.id is None:
        raise ValueError(f"{type(row).__name__} has no id: it was never saved (flush it first)")
    return row.id


def saved_ids(values: Iterable[int | None]) -> list[int]:
    """Primary keys selected from the database (`select(Device.id)`): typed `int | None` like the column, never
    None for a stored row."""
    out: list[int] = []
    for value in values:
        if value is None:
            raise ValueError("a primary key read from the database is None")
        out.append(value)
    return out


class ScheduleRule(SQLModel, table=True):
    """A schedule: what (programme), where (targets), when (one-off or RRULE + times), how urgent."""

    __tablename__ = "schedule_rules"

    id: int | None = Field(default=None, primary_key=True)
    commune_id: int = Field(foreign_key="communes.id", index=True)
    title: str = Field(max_length=300)
    priority: str = Field(default="normal", max_length=16)  # fallback | normal | priority
    # when: a one-off `at`, or an RRULE anchored at `dtstart` with optional wall-clock `times` ("06:00")
    at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    rrule: str | None = Field(default=None, max_length=500)
    dtstart: datetime | None = Field(default=None, sa_type=UtcDateTime)
    times: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    timezone: str = Field(default="Asia/Ho_Chi_Minh", max_length=64)
    # where: the union of the whole commune, villages and devices
    target_commune: bool = False
    target_villages: list[int] = Field(default_factory=list, sa_type=sa.JSON)
    target_devices: list[int] = Field(default_factory=list, sa_type=sa.JSON)
    # what: ordered entries {"type": "item"|"pair"|"silence"|"relay", …}, played `repeat` times
    programme: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)
    repeat: int = 1
    valid_from: datetime | None = Field(default=None, sa_type=UtcDateTime)
    valid_until: datetime | None = Field(default=None, sa_type=UtcDateTime)
    max_delay_s: float | None = None
    author_id: int | None = Field(default=None, foreign_key="users.id")
    version: int = 1
    created_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    updated_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    cancelled_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class EmergencyRow(SQLModel, table=True):
    """An emergency broadcast: airs from `started_at` in the chosen villages, N times or until cancelled.

    status: pending (a CAP alert waiting for a cadre), airing (started), cancelled, rejected."""

    __tablename__ = "emergencies"

    id: int | None = Field(default=None, primary_key=True)
    commune_id: int = Field(foreign_key="communes.id", index=True)
    title: str = Field(max_length=300)
    programme: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)
    villages: list[int] = Field(default_factory=list, sa_type=sa.JSON)
    devices: list[int] = Field(default_factory=list, sa_type=sa.JSON)
    repeat: int | None = None  # always given; None: until cancelled (bounded by the station's emergency maximum)
    gap_s: float = 0.0
    status: str = Field(default="airing", max_length=16, index=True)
    source: str = Field(default="cadre", max_length=16)  # cadre | cap
    cap_alert_id: int | None = Field(default=None, foreign_key="cap_alerts.id")
    created_by: int | None = Field(default=None, foreign_key="users.id")
    confirmed_by: int | None = Field(default=None, foreign_key="users.id")
    created_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    started_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    cancelled_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    cancelled_by: int | None = Field(default=None, foreign_key="users.id")


class StationSettingsRow(SQLModel, table=True):
    """Per-commune station rules. The timezone lives on the commune itself (one source of truth)."""

    __tablename__ = "station_settings"

    commune_id: int = Field(foreign_key="communes.id", primary_key=True)
    quiet_start: str = Field(default="22:00", max_length=5)
    quiet_end: str = Field(default="05:00", max_length=5)
    max_programme_s: float = 2 * 3600.0
    default_max_delay_s: float = 1800.0
    emergency_max_s: float = 6 * 3600.0
    auto_air_extreme_immediate: bool = False
    updated_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    updated_by: int | None = Field(default=None, foreign_key="users.id")


class CapAlertRow(SQLModel, table=True):
    """A CAP document as received (raw XML kept) and what the station decided.

    status: pending (waits for a cadre), confirmed (a cadre said air it), aired (auto-air), rejected,
    cancelled (a later CAP Cancel withdrew it)."""

    __tablename__ = "cap_alerts"
    __table_args__ = (sa.UniqueConstraint("commune_id", "sender", "identifier", name="uq_cap_alerts_identity"),)

    id: int | None = Field(default=None, primary_key=True)
    commune_id: int = Field(foreign_key="communes.id", index=True)
    identifier: str = Field(max_length=300)
    sender: str = Field(max_length=300)
    sent: datetime = Field(sa_type=UtcDateTime, nullable=False)
    msg_type: str = Field(max_length=16)
    raw_xml: str = Field(sa_type=sa.Text)
    decision: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    status: str = Field(default="pending", max_length=16, index=True)
    content_item_id: int | None = Field(default=None, foreign_key="content_items.id")
    received_by: int | None = Field(default=None, foreign_key="users.id")
    received_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    decided_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class TimetablePlay(SQLModel, table=True):
    """One materialized play on one device. Keyed by (device, rule, planned start): writing the same
    timetable twice changes nothing. `rule_key` is "s<id>" for a schedule, "e<id>" for an emergency."""

    __tablename__ = "timetable_plays"
    __table_args__ = (
        sa.UniqueConstraint("device_id", "rule_key", "planned_start", name="uq_timetable_plays_key"),
        sa.Index("ix_timetable_plays_device_start", "device_id", "start"),
    )

    id: int | None = Field(default=None, primary_key=True)
    commune_id: int = Field(foreign_key="communes.id", index=True)
    device_id: int = Field(foreign_key="devices.id")
    rule_key: str = Field(max_length=16)
    planned_start: datetime = Field(sa_type=UtcDateTime, nullable=False)
    start: datetime = Field(sa_type=UtcDateTime, nullable=False)
    end: datetime = Field(sa_type=UtcDateTime, nullable=False)
    priority: int
    title: str = Field(default="", max_length=300)
    rule_version: int = 1
    interrupted: bool = False
    segments: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)
    updated_at: datetime = Field(sa_type=UtcDateTime, nullable=False)


class DeviceTimetable(SQLModel, table=True):
    """A device's timetable version: a hash that changes iff the device's plays change."""

    __tablename__ = "device_timetables"

    device_id: int = Field(foreign_key="devices.id", primary_key=True)
    commune_id: int = Field(foreign_key="communes.id", index=True)
    version: str = Field(max_length=64)
    updated_at: datetime = Field(sa_type=UtcDateTime, nullable=False, index=True)
    computed_at: datetime = Field(sa_type=UtcDateTime, nullable=False)


class ScheduleNotice(SQLModel, table=True):
    """Something the cadre must know about a schedule (an item expired or was archived and no longer
    airs, a play dropped). `dedupe_key` makes every job that writes notices idempotent."""

    __tablename__ = "schedule_notices"

    id: int | None = Field(default=None, primary_key=True)
    commune_id: int = Field(foreign_key="communes.id", index=True)
    dedupe_key: str = Field(max_length=200, unique=True)
    kind: str = Field(max_length=32)  # content_expired | content_archived | content_unavailable | dropped
    schedule_id: int | None = Field(default=None, foreign_key="schedule_rules.id", index=True)
    emergency_id: int | None = Field(default=None, foreign_key="emergencies.id")
    content_item_id: int | None = Field(default=None, foreign_key="content_items.id")
    message_vi: str = Field(max_length=1000)
    message_en: str = Field(max_length=1000)
    created_at: datetime = Field(sa_type=UtcDateTime, nullable=False)


class NightlyReport(SQLModel, table=True):
    """Per commune and local date: counts of the day. Keyed by its date, so a rerun overwrites."""

    __tablename__ = "nightly_reports"
    __table_args__ = (sa.UniqueConstraint("commune_id", "day", name="uq_nightly_reports_day"),)

    id: int | None = Field(default=None, primary_key=True)
    commune_id: int = Field(foreign_key="communes.id", index=True)
    day: str = Field(max_length=10)  # YYYY-MM-DD, local
    data: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    created_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
