"""Rows → the pure core's values: `Rule`, `Programme`, `Topology`, `StationSettings`, `airable`.

Ids cross into the pure core as strings: a village "12", a device "12" and a commune "12" live in
separate sets of `Targets`, so they cannot be confused. Rule ids are "s<id>" for a schedule and
"e<id>" for an emergency, the `rule_key` of a materialized play.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from content.library.models import ContentItem
from content.library.service import is_airable, is_airable_in_alert
from loa.org.models import Commune, Device, Village
from schedules.emergency import EmergencyBroadcast
from schedules.model import (
    BilingualPair,
    Item,
    OneOff,
    Priority,
    Programme,
    ProgrammeEntry,
    Recurring,
    Relay,
    Rule,
    Silence,
    StationSettings,
    Targets,
    Topology,
)
from schedules.tables import EmergencyRow, ScheduleRule, StationSettingsRow, saved_id

PRIORITIES = {"fallback": Priority.FALLBACK, "normal": Priority.NORMAL, "priority": Priority.PRIORITY,
              "emergency": Priority.EMERGENCY}
# by int: stored plays keep the priority as an int column, and a Priority is an int
PRIORITY_NAMES: dict[int, str] = {v: k for k, v in PRIORITIES.items()}
NO_VILLAGE = "none-"  # + commune id: the pseudo-village of devices not yet placed in a village


def schedule_key(schedule_id: int) -> str:
    return f"s{schedule_id}"


def emergency_key(emergency_id: int) -> str:
    return f"e{emergency_id}"


def parse_key(key: str) -> tuple[str, int]:
    """("schedule" | "emergency", id) from a rule key."""
    return ("schedule" if key[0] == "s" else "emergency"), int(key[1:])


def parse_hhmm(value: str) -> time:
    hh, mm = value.split(":")
    return time(int(hh), int(mm))


def content_ids(entries: Iterable[dict[str, Any]]) -> list[int]:
    """Every content item a stored programme refers to, in order."""
    out: list[int] = []
    for e in entries:
        if e.get("type") == "item":
            out.append(int(e["content_id"]))
        elif e.get("type") == "pair":
            out.extend((int(e["first"]), int(e["second"])))
    return out


@dataclass
class Library:
    """The content items the rules of a commune refer to, and the one airability rule."""

    items: dict[int, ContentItem]
    # CAP alerts whose emergency a cadre confirmed (or the station auto-aired): their unreviewed items may air.
    confirmed_alerts: frozenset[int] = frozenset()

    @classmethod
    def load(cls, session: Session, ids: Iterable[int]) -> "Library":
        wanted = sorted(set(ids))
        if not wanted:
            return cls({})
        rows = session.exec(select(ContentItem).where(col(ContentItem.id).in_(wanted))).all()
        alerts = {r.cap_alert_id for r in rows if r.cap_alert_id is not None}
        confirmed: frozenset[int] = frozenset()
        if alerts:
            # the query asks for rows whose alert is one of `alerts`: never None
            confirmed = frozenset(a for a in session.exec(select(EmergencyRow.cap_alert_id).where(
                col(EmergencyRow.cap_alert_id).in_(sorted(alerts)),
                col(EmergencyRow.status).in_(("queued", "airing", "cancelled")))).all() if a is not None)
        return cls({saved_id(r): r for r in rows}, confirmed)

    def item(self, content_id: int) -> Item:
        row = self.items.get(content_id)
        if row is None or not row.duration_s or row.duration_s <= 0 or not row.audio_sha256:
            # no audio (yet): a placeholder the airable check always refuses, so the play is dropped
            return Item(str(content_id), "", 1.0, row.title if row else "", row.language if row else "vi")
        return Item(str(row.id), row.audio_sha256, float(row.duration_s), row.title, row.language,
                    int(row.size_bytes or 0))

    def airable(self, content_id: str, at: datetime) -> bool:
        row = self.items.get(int(content_id))
        if row is None:
            return False
        if is_airable(row, at):
            return True
        # An unreviewed CAP item: only its own alert's confirmed emergency can hold it, because every other
        # way in (schedules, emergencies started by hand) refuses it in rules_service.check_schedulable.
        return row.cap_alert_id in self.confirmed_alerts and is_airable_in_alert(row, at)


def programme(entries: list[dict[str, Any]], repeat: int, library: Library) -> Programme:
    out: list[ProgrammeEntry] = []
    for e in entries:
        kind = e.get("type")
        if kind == "item":
            out.append(library.item(int(e["content_id"])))
        elif kind == "pair":
            out.append(BilingualPair(library.item(int(e["first"])), library.item(int(e["second"]))))
        elif kind == "silence":
            out.append(Silence(float(e["seconds"])))
        elif kind == "relay":
            out.append(Relay(str(e["url"]), float(e["duration_s"]), str(e.get("title") or "")))
        else:
            raise ValueError(f"Mục chương trình không rõ / unknown programme entry {kind!r}")
    return Programme(tuple(out), repeat)


def schedule_rule(row: ScheduleRule, library: Library) -> Rule:
    tz = ZoneInfo(row.timezone)
    rec: Recurring | OneOff
    if row.rrule:
        if row.dtstart is None:  # ScheduleIn refuses this; a row written some other way is a bad rule
            raise ValueError(f"Lịch lặp lại không có ngày bắt đầu / recurring schedule {row.id} has no dtstart")
        rec = Recurring(row.rrule, row.dtstart.astimezone(tz), tuple(parse_hhmm(t) for t in row.times))
    else:
        if row.at is None:
            raise ValueError(f"Lịch một lần không có thời điểm / one-off schedule {row.id} has no time")
        rec = OneOff(row.at.astimezone(tz))
    targets = Targets.of(communes=[str(row.commune_id)] if row.target_commune else [],
                         villages=[str(v) for v in row.target_villages],
                         devices=[str(d) for d in row.target_devices])
    return Rule(id=schedule_key(saved_id(row)), recurrence=rec, targets=targets,
                programme=programme(row.programme, row.repeat, library), priority=PRIORITIES[row.priority],
                created_at=row.created_at, version=row.version, valid_from=row.valid_from,
                valid_until=row.valid_until, cancelled_at=row.cancelled_at, max_delay_s=row.max_delay_s,
                title=row.title)


def emergency_broadcast(row: EmergencyRow, library: Library) -> EmergencyBroadcast:
    if row.started_at is None:  # only started emergencies become rules (load_commune_world asks for them)
        raise ValueError(f"Phát khẩn cấp chưa bắt đầu / emergency {row.id} has not started")
    targets = Targets.of(villages=[str(v) for v in row.villages], devices=[str(d) for d in row.devices])
    return EmergencyBroadcast(emergency_key(saved_id(row)), programme(row.programme, 1, library), targets,
                              start=row.started_at, created_at=row.started_at, repeat=row.repeat,
                              gap_s=row.gap_s, cancelled_at=row.cancelled_at, title=row.title, source=row.source)


def station_settings(row: StationSettingsRow | None, commune: Commune) -> StationSettings:
    if row is None:
        return StationSettings(timezone=commune.timezone)
    return StationSettings(timezone=commune.timezone, quiet_start=parse_hhmm(row.quiet_start),
                           quiet_end=parse_hhmm(row.quiet_end), max_programme_s=row.max_programme_s,
                           default_max_delay_s=row.default_max_delay_s, emergency_max_s=row.emergency_max_s,
                           auto_air_extreme_immediate=row.auto_air_extreme_immediate)


@dataclass
class CommuneWorld:
    """Everything the timetable of one commune depends on, loaded in one go."""

    commune: Commune
    settings: StationSettings
    topology: Topology
    devices: dict[int, Device]
    rules: list[Rule]
    library: Library

    @property
    def airable(self) -> Callable[[str, datetime], bool]:
        return self.library.airable


def load_topology(session: Session, commune_id: int) -> tuple[Topology, dict[int, Device]]:
    villages = session.exec(select(Village.id).where(Village.commune_id == commune_id)).all()
    devices = {saved_id(d): d for d in session.exec(select(Device).where(Device.commune_id == commune_id,
                                                                       Device.status != "revoked"))}
    by_village: dict[str, list[str]] = {str(v): [] for v in villages}
    none_key = f"{NO_VILLAGE}{commune_id}"
    by_village[none_key] = []
    for device_id, d in sorted(devices.items()):
        by_village[str(d.village_id) if d.village_id is not None else none_key].append(str(device_id))
    topo = Topology({str(commune_id): tuple(by_village)}, {v: tuple(ds) for v, ds in by_village.items()})
    return topo, devices


def load_commune_world(session: Session, commune_id: int, now: datetime,
                       settings_row: StationSettingsRow | None = None) -> CommuneWorld:
    """Rules (schedules and started emergencies) of a commune that can still matter at `now`."""
    commune = session.get(Commune, commune_id)
    if commune is None:
        raise ValueError(f"Không có xã {commune_id} / no commune {commune_id}")
    row = settings_row or session.get(StationSettingsRow, commune_id)
    settings = station_settings(row, commune)
    topology, devices = load_topology(session, commune_id)
    schedules = session.exec(select(ScheduleRule).where(ScheduleRule.commune_id == commune_id)).all()
    emergencies = session.exec(select(EmergencyRow).where(EmergencyRow.commune_id == commune_id,
                                                          col(EmergencyRow.started_at).is_not(None))).all()
    library = Library.load(session, [*(c for r in schedules for c in content_ids(r.programme)),
                                     *(c for e in emergencies for c in content_ids(e.programme))])
    rules = [schedule_rule(r, library) for r in schedules]
    rules += [emergency_broadcast(e, library).to_rule(settings) for e in emergencies]
    return CommuneWorld(commune, settings, topology, devices, rules, library)
