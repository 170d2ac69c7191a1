"""What the loudspeakers themselves reported, for the bulletins of issue 16 — never what the timetable intended:

- `aired_by_device`: the seconds each loudspeaker of a commune played a bulletin's audio since it arrived
  (the `AiredLookup` of `schedules.bulletins.service`);
- `commune_days`: a commune's daily figures (`schedules.bulletins.rollup.CommuneDay`) from its proof-of-play
  records and its loudspeakers' offline alerts, the same rules as the village and commune reports
  (`api/web/reports.py`, `airtotals.py`): seconds are `actual_end − actual_start` of played and interrupted
  plays, one play heard by several loudspeakers of a village counts once there (the longest), an emergency play
  counts as kind `emergency`, a stopped emergency's play is never completed; uptime is each loudspeaker's time
  set up in the day minus its offline alerts;
- `status_updates`: the seam's status going up, with this station's lookup.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from broadcaster.station.airtruth import counted_as
from broadcaster.station.airviews import stops_of_records
from broadcaster.station.models import DeviceAlert, PlayRecordRow
from broadcaster.station.stored import stored_id
from content.library.models import ContentItem
from loa.org.models import Commune, Device
from schedules.bulletins import service
from schedules.bulletins.rollup import CommuneDay
from schedules.bulletins.schemas import StatusUpdate


def aired_by_device(session: Session, commune_id: int, sha256s: list[str], since: datetime) -> dict[int, float]:
    rows = session.exec(select(PlayRecordRow).where(
        PlayRecordRow.commune_id == commune_id, col(PlayRecordRow.sha256).in_(sha256s),
        PlayRecordRow.planned_start >= since, col(PlayRecordRow.result).in_(("played", "interrupted"))))
    out: dict[int, float] = defaultdict(float)
    for r in rows:
        if r.actual_start and r.actual_end:
            out[r.device_id] += max(0.0, (r.actual_end - r.actual_start).total_seconds())
    return dict(out)


def status_updates(session: Session, since: datetime, now: datetime) -> list[StatusUpdate]:
    return service.status_updates(session, since, aired_by_device, now)


def _overlap(a0: datetime, a1: datetime, b0: datetime, b1: datetime) -> float:
    return max(0.0, (min(a1, b1) - max(a0, b0)).total_seconds())


def commune_days(session: Session, commune: Commune, first: date, last: date, now: datetime) -> list[CommuneDay]:
    """Every local day of [first, last] up to `now` (a day not begun yet is left out; today counts so far)."""
    tz = ZoneInfo(commune.timezone)
    commune_id = stored_id(commune)
    start = datetime.combine(first, time(0), tz)
    end = min(datetime.combine(last + timedelta(days=1), time(0), tz), now)
    if end <= start:
        return []
    records = list(session.exec(select(PlayRecordRow).where(
        PlayRecordRow.commune_id == commune_id, PlayRecordRow.planned_start >= start,
        PlayRecordRow.planned_start < end)))
    shas = {r.sha256 for r in records if r.sha256}
    kinds = {i.audio_sha256: i.kind for i in session.exec(select(ContentItem).where(
        ContentItem.commune_id == commune_id, col(ContentItem.audio_sha256).in_(shas)))} if shas else {}
    stops = stops_of_records(session, commune_id, records)
    code = commune.code or str(commune_id)
    days: dict[str, CommuneDay] = {}
    d = first
    while datetime.combine(d, time(0), tz) < end:
        days[d.isoformat()] = CommuneDay(code, d.isoformat())
        d += timedelta(days=1)
    # (day, village, file, planned start, priority) → (seconds, kind, priority): one play heard in a village
    heard: dict[tuple[str, int | None, str | None, datetime, str], tuple[float, str, str]] = {}
    for r in records:
        day = days.get(r.planned_start.astimezone(tz).date().isoformat())
        if day is None:
            continue
        counted = counted_as(r.result, r.actual_end, stops.get(stored_id(r)))
        day.plays += 1
        if counted == "completed":
            day.completed += 1
        elif counted in ("interrupted", "played_after_stop"):
            day.interrupted += 1
        elif counted == "failed":
            day.failed += 1
        if r.result in ("played", "interrupted") and r.actual_start and r.actual_end:
            kind = "emergency" if r.priority == "emergency" else kinds.get(r.sha256, "other") if r.sha256 else "relay"
            key = (day.day, r.village_id, r.sha256, r.planned_start, r.priority)
            seconds = max(0.0, (r.actual_end - r.actual_start).total_seconds())
            if key not in heard or seconds > heard[key][0]:
                heard[key] = (seconds, kind, r.priority)
    for (day_key, *_), (seconds, kind, level) in heard.items():
        day = days[day_key]
        day.seconds_by_kind[kind] = day.seconds_by_kind.get(kind, 0.0) + seconds
        day.seconds_by_level[level] = day.seconds_by_level.get(level, 0.0) + seconds
    _uptime(session, commune, days, tz, now)
    return list(days.values())


def _uptime(session: Session, commune: Commune, days: dict[str, CommuneDay], tz: ZoneInfo, now: datetime) -> None:
    # (id, enrolled at, revoked at) of each device of the commune ever set up
    devices = [(stored_id(d), d.enrolled_at, d.revoked_at)
               for d in session.exec(select(Device).where(Device.commune_id == commune.id))
               if d.enrolled_at is not None]
    if not devices or not days:
        return
    alerts = list(session.exec(select(DeviceAlert).where(col(DeviceAlert.device_id).in_([i for i, _, _ in devices]),
                                                         DeviceAlert.kind == "offline")))
    for day in days.values():
        d0 = datetime.combine(date.fromisoformat(day.day), time(0), tz)
        d1 = min(d0 + timedelta(days=1), now)
        for device_id, enrolled_at, revoked_at in devices:
            since = max(d0, enrolled_at)
            until = min(d1, revoked_at) if revoked_at else d1
            if until <= since:
                continue
            period = (until - since).total_seconds()
            down = sum(_overlap(a.raised_at, a.resolved_at or now, since, until)
                       for a in alerts if a.device_id == device_id)
            day.device_seconds += period
            day.up_seconds += max(0.0, period - down)
