"""Monthly figures for one village: minutes aired by kind and language, plays completed against planned, and
each loudspeaker's uptime. Built from what the station records:

- aired: the devices' proof-of-play log (device_plays), one row per item played; a play heard by several
  loudspeakers of the village counts once for minutes (same item, same planned start), with the seconds that
  really aired (actual_end - actual_start, so a cut play counts what was heard). An emergency play counts as
  `emergency` whatever the kind of the item it aired; a play of an emergency the cadre stopped is never
  `completed` (interrupted when the loudspeaker cut it, `played_after_stop` when it played on past the stop);
- planned: the timetable the rules give for the month up to now (the same pure `materialize` the scheduler
  stores), one entry per item segment per device, to match the log's one row per item per device;
- uptime: the time since the device was set up, minus its `offline` alerts (raised → resolved).
"""
from __future__ import annotations

import io
from collections.abc import Callable
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from api.web.choices import KIND_LABELS, N_
from broadcaster.protocol.wire import RELAY_FAILURES
from loa.languages import display_name
from content.library.models import ContentItem
from loa import csv_safe
from loa.org.models import Device, Village


@dataclass
class DeviceUptime:
    device_id: int
    name: str
    percent: float | None  # None: not set up during the month
    offline_minutes: float


@dataclass
class VillageMonth:
    village_id: int
    village: str
    month: str  # YYYY-MM
    minutes_by_kind: dict[str, float] = field(default_factory=dict)
    minutes_by_language: dict[str, float] = field(default_factory=dict)
    planned: int = 0
    completed: int = 0
    interrupted: int = 0
    skipped: int = 0
    failed: int = 0
    played_after_stop: int = 0  # an emergency the cadre stopped that a loudspeaker still played past the stop
    # of the failed: relays a loudspeaker gave up on after its retries (radio unreachable or lost; it played
    # its fallback music instead), from the play records' reason codes
    relay_failed: int = 0
    uptime: list[DeviceUptime] = field(default_factory=list)

    @property
    def minutes_total(self) -> float:
        return sum(self.minutes_by_kind.values())

    @property
    def completion(self) -> float | None:
        return self.completed / self.planned if self.planned else None


def month_window(month: str, tz: ZoneInfo) -> tuple[datetime, datetime]:
    year, mon = (int(x) for x in month.split("-"))
    start = datetime.combine(date(year, mon, 1), time(0), tz)
    end = datetime.combine(date(year + (mon == 12), mon % 12 + 1, 1), time(0), tz)
    return start, end


def _overlap(a0: datetime, a1: datetime, b0: datetime, b1: datetime) -> float:
    return max(0.0, (min(a1, b1) - max(a0, b0)).total_seconds())


def village_month(session: Session, village: Village, month: str, tz: ZoneInfo, now: datetime) -> VillageMonth:
    from broadcaster.station.airtruth import counted_as
    from broadcaster.station.airviews import stops_of_records
    from broadcaster.station.models import DeviceAlert, PlayRecordRow
    from schedules import mapping
    from schedules.timetable import materialize

    start, end = month_window(month, tz)
    upto = min(end, max(start, now))
    out = VillageMonth(village.id, village.name, month)
    devices = list(session.exec(select(Device).where(Device.village_id == village.id).order_by(Device.id)))
    ids = [d.id for d in devices]
    records = list(session.exec(select(PlayRecordRow).where(
        PlayRecordRow.village_id == village.id, PlayRecordRow.planned_start >= start,
        PlayRecordRow.planned_start < end))) if ids else []
    items = {i.audio_sha256: i for i in session.exec(select(ContentItem).where(
        ContentItem.commune_id == village.commune_id,
        ContentItem.audio_sha256.in_({r.sha256 for r in records if r.sha256})))}
    stops = stops_of_records(session, village.commune_id, records)
    heard: dict[tuple, float] = {}
    for r in records:
        counted = counted_as(r.result, r.actual_end, stops.get(r.id))
        if counted in ("completed", "interrupted", "skipped", "failed", "played_after_stop"):
            setattr(out, counted, getattr(out, counted) + 1)
        if r.result == "failed" and (r.reason or "").split(":", 1)[0] in RELAY_FAILURES:
            out.relay_failed += 1
        if r.result in ("played", "interrupted") and r.actual_start and r.actual_end:
            key = (r.sha256, r.planned_start, r.priority == "emergency")
            heard[key] = max(heard.get(key, 0.0), (r.actual_end - r.actual_start).total_seconds())
    by_kind: dict[str, float] = defaultdict(float)
    by_lang: dict[str, float] = defaultdict(float)
    for (sha, _, emergency), seconds in heard.items():
        item = items.get(sha)
        by_kind["emergency" if emergency else item.kind if item else "relay" if not sha else "other"] += seconds / 60
        by_lang[item.language if item else "?"] += seconds / 60
    out.minutes_by_kind = dict(sorted(by_kind.items(), key=lambda kv: -kv[1]))
    out.minutes_by_language = dict(sorted(by_lang.items(), key=lambda kv: -kv[1]))
    if ids and upto > start:
        world = mapping.load_commune_world(session, village.commune_id, now)
        tt = materialize(world.rules, world.topology, start, upto, now, world.settings, world.airable)
        for d in ids:
            for play in tt.plays.get(str(d), ()):
                if play.start < upto:
                    out.planned += sum(1 for s in play.segments if s.kind.value == "item")
    alerts = list(session.exec(select(DeviceAlert).where(DeviceAlert.device_id.in_(ids), DeviceAlert.kind == "offline",
                                                         DeviceAlert.raised_at < upto))) if ids else []
    for d in devices:
        since = max(start, d.enrolled_at or d.created_at)
        period = (upto - since).total_seconds()
        if d.enrolled_at is None or period <= 0:
            out.uptime.append(DeviceUptime(d.id, d.name, None, 0.0))
            continue
        down = sum(_overlap(a.raised_at, a.resolved_at or now, since, upto) for a in alerts if a.device_id == d.id)
        out.uptime.append(DeviceUptime(d.id, d.name, round(100 * (1 - down / period), 1), round(down / 60, 1)))
    return out


CSV_HEADERS = (N_("Village"), N_("Month"), N_("Figure"), N_("Item"), N_("Value"))
CSV_METRICS = {"by_kind": N_("Minutes aired by kind"), "by_language": N_("Minutes aired by language"),
               "plays": N_("Plays"), "uptime": N_("Uptime (%)")}
CSV_PLAYS = {"planned": N_("Planned"), "completed": N_("Completed"), "interrupted": N_("Cut short"),
             "skipped": N_("Skipped"), "failed": N_("Failed"), "played_after_stop": N_("Emergency plays after the stop")}


def to_csv(report: VillageMonth, _: Callable[[str], str], lang: str) -> str:
    """The village's month as a table a cadre opens in a spreadsheet: headers, figures and items in the page's
    language (kinds, languages and outcomes in words); numbers with a decimal point, as spreadsheets read them."""
    kinds = {**KIND_LABELS, "relay": N_("Relay"), "other": N_("Other")}
    buf = io.StringIO()
    w = csv_safe.writer(buf, lineterminator="\r\n")  # no cell a spreadsheet would run as a formula
    w.writerow([_(h) for h in CSV_HEADERS])
    base = [report.village, report.month]
    for kind, minutes in report.minutes_by_kind.items():
        w.writerow(base + [_(CSV_METRICS["by_kind"]), _(kinds.get(kind, kind)), f"{minutes:.1f}"])
    for language, minutes in report.minutes_by_language.items():
        w.writerow(base + [_(CSV_METRICS["by_language"]), display_name(language, lang), f"{minutes:.1f}"])
    for name, label in CSV_PLAYS.items():
        w.writerow(base + [_(CSV_METRICS["plays"]), _(label), getattr(report, name)])
    for u in report.uptime:
        w.writerow(base + [_(CSV_METRICS["uptime"]), u.name, "" if u.percent is None else f"{u.percent:.1f}"])
    return buf.getvalue()


def current_month(now: datetime, tz: ZoneInfo) -> str:
    return now.astimezone(tz).strftime("%Y-%m")
