"""What the bulletin routes and pages send back, and the station's wiring of the domain's injected parts:
the TTS renderer, the remote route (the interchange, when it is installed), and refreshing this station's own
communes' daily reports before a roll-up."""
from __future__ import annotations

import io
import logging
from datetime import date, datetime, time, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import Path, Query
from pydantic import BaseModel
from sqlmodel import Session, select

from api.web.bulletin_words import CSV_HEADERS, LEVEL_LABELS, NO_DISTRICT
from api.web.choices import KIND_LABELS
from loa import csv_safe
from loa.org import areas
from loa.org.models import Device
from schedules.bulletins import rollup as rollups
from schedules.bulletins.models import Bulletin, CommuneDayReport, InboxItem
from schedules.bulletins.tracking import DeliveryView

log = logging.getLogger("loa.bulletins")
LevelPath = Annotated[Literal["province", "district"], Path(description="province or district")]
ByQ = Annotated[Literal["day", "month"], Query(description="one row per day or per month")]
DEFAULT_DAYS = 30
RECHECK = timedelta(days=2)  # a day's figures are recomputed until two days after it (late proof of play)
FRESH = timedelta(minutes=5)  # …at most every five minutes: a page read again and again costs one query


class BulletinOut(BaseModel):
    id: int
    org_level: str
    org_id: int
    title: str
    language: str
    source: str
    text: str | None
    audio_sha256: str | None
    duration_s: float | None
    version: int
    status: str
    reject_reason: str | None
    author_id: int
    approved_by: int | None
    level: str | None
    expires_at: datetime | None
    sent_at: datetime | None
    created_at: datetime


class DeviceAirOut(BaseModel):
    device_id: int
    name: str
    state: str
    seconds_aired: float


class DeliveryOut(BaseModel):
    commune_id: int
    commune: str
    district: str | None
    route: str
    state: str
    at: datetime | None
    detail: str | None
    seconds_aired: float
    devices: list[DeviceAirOut]
    version: int = 1
    superseded_version: int | None = None
    superseded_at: datetime | None = None


class TrackingOut(BaseModel):
    bulletin: BulletinOut
    deliveries: list[DeliveryOut]


class InboxOut(BaseModel):
    id: int
    commune_id: int
    sender_org: str
    sender_level: str
    bulletin_id: str
    version: int
    level: str
    title: str
    texts: dict
    issued_at: datetime
    expires_at: datetime
    received_at: datetime
    state: str
    note: str | None
    refuse_reason: str | None
    schedule_id: int | None
    emergency_id: int | None
    superseded_by: int | None = None


class FiguresOut(BaseModel):
    minutes: float
    minutes_by_kind: dict[str, float]
    minutes_by_level: dict[str, float]
    plays: int
    completed: int
    interrupted: int
    failed: int
    uptime_percent: float | None
    reports: int


class RollUpOut(BaseModel):
    level: str
    area_id: int
    name: str
    first: str
    last: str
    by: str
    total: FiguresOut
    by_period: dict[str, FiguresOut]
    by_district: dict[str, FiguresOut]
    by_commune: dict[str, FiguresOut]


def bulletin_out(b: Bulletin) -> BulletinOut:
    return BulletinOut(**b.model_dump(include=set(BulletinOut.model_fields)))


def inbox_out(r: InboxItem) -> InboxOut:
    return InboxOut(**r.model_dump(include=set(InboxOut.model_fields)))


def tracking_out(b: Bulletin, deliveries: list[DeliveryView]) -> TrackingOut:
    return TrackingOut(bulletin=bulletin_out(b), deliveries=[DeliveryOut(
        commune_id=d.commune_id, commune=d.commune, district=d.district, route=d.route, state=d.state, at=d.at,
        detail=d.detail, seconds_aired=round(d.seconds_aired, 1), version=d.version,
        superseded_version=d.superseded_version, superseded_at=d.superseded_at,
        devices=[DeviceAirOut(device_id=x.device_id, name=x.name, state=x.state, seconds_aired=x.seconds_aired)
                 for x in d.devices]) for d in deliveries])


def figures_out(f: rollups.Figures) -> FiguresOut:
    return FiguresOut(minutes=round(f.minutes, 1),
                      minutes_by_kind={k: round(v, 1) for k, v in f.minutes_by_kind().items()},
                      minutes_by_level={k: round(v, 1) for k, v in f.minutes_by_level().items()},
                      plays=f.plays, completed=f.completed, interrupted=f.interrupted, failed=f.failed,
                      uptime_percent=f.uptime_percent, reports=f.reports)


def rollup_out(r: rollups.RollUp) -> RollUpOut:
    return RollUpOut(level=r.area.level, area_id=r.area.id, name=r.area.name, first=r.first, last=r.last, by=r.by,
                     total=figures_out(r.total), by_period={p: figures_out(f) for p, f in r.by_period.items()},
                     by_district={str(k or ""): figures_out(f) for k, f in r.by_district.items()},
                     by_commune={str(k): figures_out(f) for k, f in r.by_commune.items()})


def rollup_csv(r: rollups.RollUp, lang: str) -> str:
    """One row per commune and period (then minutes per kind and per level as extra columns)."""
    from api.i18n import translations

    _ = translations(lang).gettext
    kinds = r.kinds
    levels = list(r.total.minutes_by_level())
    buf = io.StringIO()
    w = csv_safe.writer(buf)
    w.writerow([_(h) for h in CSV_HEADERS] + [_(KIND_LABELS.get(k, k)) for k in kinds]
               + [_(LEVEL_LABELS.get(v, v)) for v in levels])
    for (commune_id, period), f in sorted(r.by_commune_period.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        c = r.communes[commune_id]
        district = r.districts.get(c.district_id)
        by_kind, by_level = f.minutes_by_kind(), f.minutes_by_level()
        w.writerow([district.name if district else "", c.name, period, f"{f.minutes:.1f}", f.plays, f.interrupted,
                    f.failed, "" if f.uptime_percent is None else f"{f.uptime_percent:.1f}"]
                   + [f"{by_kind.get(k, 0.0):.1f}" for k in kinds] + [f"{by_level.get(v, 0.0):.1f}" for v in levels])
    return buf.getvalue()


def default_range(first: date | None, last: date | None, now: datetime) -> tuple[date, date]:
    last = last or now.date()
    return first or (last - timedelta(days=DEFAULT_DAYS - 1)), last


def renderer(settings):
    """The station's TTS pipeline, as compose.Render: the same engines and mastering as a commune's text item."""
    def render(text: str, language: str):
        from content.pipeline import render_text
        from content.store import AudioStore

        return render_text(text, AudioStore(settings.audio_dir), engine="auto", cache_dir=settings.tts_cache_dir)
    return render


def remote_route():
    """The interchange's outbox for communes of another station, once `broadcaster.interchange` is installed
    (interchange16); until then every commune is reached in this database."""
    try:
        from broadcaster.interchange import outbox  # noqa: PLC0415 — optional until interchange16 merges
    except ImportError:
        return None
    route = getattr(outbox, "bulletin_route", None)
    return route() if callable(route) else None


def refresh_local_reports(session: Session, area: areas.Area, first: date, last: date, now: datetime) -> int:
    """Recompute this station's own communes' days in range that are missing or still young (late proof of play
    can still change them); communes without loudspeakers here are another station's: their reports come up."""
    from broadcaster.station.bulletin_air import commune_days

    communes = areas.communes_of(session, area)
    with_devices = set(session.exec(select(Device.commune_id).where(
        Device.commune_id.in_([c.id for c in communes])).distinct())) if communes else set()
    stored = {(r.commune_id, r.day): r.computed_at for r in session.exec(select(CommuneDayReport).where(
        CommuneDayReport.commune_id.in_(with_devices), CommuneDayReport.day >= first.isoformat(),
        CommuneDayReport.day <= last.isoformat()))} if with_devices else {}
    n = 0
    for c in communes:
        if c.id not in with_devices:
            continue
        tz = ZoneInfo(c.timezone)
        due = [d for d in _days(first, min(last, now.astimezone(tz).date()))
               if (c.id, d.isoformat()) not in stored
               or (stored[(c.id, d.isoformat())] < datetime.combine(d, time(0), tz) + RECHECK
                   and stored[(c.id, d.isoformat())] < now - FRESH)]
        if due:
            n += rollups.store_days(session, c.id, commune_days(session, c, due[0], due[-1], now), now)
    return n


def _days(first: date, last: date) -> list[date]:
    return [date.fromordinal(o) for o in range(first.toordinal(), last.toordinal() + 1)]



def rollup_charts(r: rollups.RollUp, gettext) -> dict:
    """The roll-up's server-drawn SVG charts (the commune overview's, api/web/report_overview.py): minutes aired
    per period and per district (a province) or commune (a district), stacked by kind, with their legend."""
    from api.web.report_overview import OVERVIEW_KIND_LABELS, legend, stacked_bars

    def label(kind: str) -> str:
        return gettext(OVERVIEW_KIND_LABELS.get(kind, kind))

    def parts(f: rollups.Figures) -> list[tuple[str, float]]:
        return list(f.minutes_by_kind().items())

    unit = gettext("min")
    periods = [(p, parts(r.by_period[p])) for p in r.periods if p in r.by_period]
    if r.area.level == "province":
        groups = [(d.name, parts(r.by_district[d.id])) for d in r.districts.values() if d.id in r.by_district]
        if None in r.by_district:
            groups.append((gettext(NO_DISTRICT), parts(r.by_district[None])))
    else:
        groups = [(r.communes[c].name, parts(f)) for c, f in r.by_commune.items()]
    return {"by_period": stacked_bars("rollup-chart", gettext("Minutes aired"), periods, label, unit),
            "by_group": stacked_bars("rollup-groups", gettext("Minutes aired"), groups, label, unit),
            "legend": legend(r.kinds, label), "empty": not periods}
