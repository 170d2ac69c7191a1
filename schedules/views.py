"""What a device or a village will play on a day or a week, and the village's iCalendar export.

Computed with the pure `materialize` for the asked window "as known at now" (the same function the
scheduler stores for the next 72 hours), so a week ahead shows exactly what the rules will give; each
device also shows its stored timetable `version`. Windows are local days of the commune's zone.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from sqlmodel import Session

from loa.accounts.principal import Principal
from loa.org.models import Device
from loa.org.service import get_device, get_village
from schedules import mapping
from schedules.ics import village_calendar
from schedules.model import Play
from schedules.schemas import DeviceDayOut, DroppedOut, PlayOut, SegmentOut, TimetableOut
from schedules.store import device_version
from schedules.tables import saved_id
from schedules.timetable import Timetable, materialize

Span = Literal["day", "week"]
ICS_DAYS = 14  # the calendar export covers today and the next 13 days


def window(day: date, span: Span, tz: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), tz)
    end = datetime.combine(day + timedelta(days=7 if span == "week" else 1), time(0), tz)
    return start, end


def _compute(session: Session, commune_id: int, day: date | None, span: Span, now: datetime,
             days: int | None = None) -> tuple[Timetable, mapping.CommuneWorld, ZoneInfo]:
    world = mapping.load_commune_world(session, commune_id, now)
    tz = ZoneInfo(world.commune.timezone)
    first = day or now.astimezone(tz).date()
    start, end = window(first, span, tz)
    if days is not None:
        end = datetime.combine(first + timedelta(days=days), time(0), tz)
    tt = materialize(world.rules, world.topology, start, end, now, world.settings, world.airable)
    return tt, world, tz


def _ids(rule_key: str) -> tuple[int | None, int | None]:
    """(schedule id, emergency id) of a play's rule key: one of them is None."""
    kind, ident = mapping.parse_key(rule_key)
    return (ident if kind == "schedule" else None), (ident if kind == "emergency" else None)


def play_out(p: Play, tz: ZoneInfo) -> PlayOut:
    segs = [SegmentOut(offset_s=s.offset_s, duration_s=s.duration_s, kind=s.kind.value,
                       content_id=int(s.content_id) if s.content_id else None, sha256=s.sha256, title=s.title,
                       language=s.language, url=s.url) for s in p.segments]
    schedule_id, emergency_id = _ids(p.rule_id)
    return PlayOut(device_id=int(p.device_id), rule_key=p.rule_id, schedule_id=schedule_id,
                   emergency_id=emergency_id, title=p.title,
                   priority=mapping.PRIORITY_NAMES[p.priority], start=p.start.astimezone(tz),
                   end=p.end.astimezone(tz), planned_start=p.planned_start.astimezone(tz), shifted=p.shifted,
                   interrupted=p.interrupted, segments=segs)


def _device_out(session: Session, device: Device, tt: Timetable, tz: ZoneInfo) -> DeviceDayOut:
    device_id = saved_id(device)
    key = str(device_id)
    dropped = [DroppedOut(device_id=device_id, rule_key=d.rule_id, planned_start=d.planned_start.astimezone(tz),
                          priority=mapping.PRIORITY_NAMES[d.priority], reason=d.reason.value, detail=d.detail,
                          content_ids=[int(c) for c in d.content_ids])
               for d in tt.dropped.get(key, ())]
    return DeviceDayOut(device_id=device_id, name=device.name, version=device_version(session, device_id),
                        plays=[play_out(p, tz) for p in tt.plays.get(key, ())], dropped=dropped)


def device_timetable(session: Session, actor: Principal, device_id: int, day: date | None, span: Span,
                     now: datetime) -> TimetableOut:
    device = get_device(session, actor, device_id)
    tt, _, tz = _compute(session, device.commune_id, day, span, now)
    return TimetableOut(scope="device", id=saved_id(device), timezone=str(tz), window_start=tt.window_start,
                        window_end=tt.window_end, computed_at=now, devices=[_device_out(session, device, tt, tz)])


def village_timetable(session: Session, actor: Principal, village_id: int, day: date | None, span: Span,
                      now: datetime) -> TimetableOut:
    village = get_village(session, actor, village_id)
    tt, world, tz = _compute(session, village.commune_id, day, span, now)
    devices = [d for _, d in sorted(world.devices.items()) if d.village_id == village.id]
    return TimetableOut(scope="village", id=saved_id(village), timezone=str(tz), window_start=tt.window_start,
                        window_end=tt.window_end, computed_at=now,
                        devices=[_device_out(session, d, tt, tz) for d in devices])


def village_ics(session: Session, actor: Principal, village_id: int, day: date | None, days: int,
                now: datetime) -> str:
    """RFC 5545 calendar of what the village's loudspeakers will play from `day` (default today)."""
    village = get_village(session, actor, village_id)
    tt, world, tz = _compute(session, village.commune_id, day, "day", now, days=days)
    plays = [p for d in world.devices.values() if d.village_id == village.id for p in tt.plays.get(str(d.id), ())]
    return village_calendar(str(village.id), village.name, plays, now, str(tz))
