"""Loads the rows for the commune overview (`airtotals.overview`): the play records of the chosen villages
and months, the kinds of the items they played, and which emergency plays were stopped by a cadre."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from broadcaster.station.airtotals import AiredRecord, Overview, months_between, overview
from broadcaster.station.airviews import stops_of_records
from broadcaster.station.models import PlayRecordRow
from broadcaster.station.stored import stored_id
from content.library.models import ContentItem


def month_start(month: str, tz: ZoneInfo) -> datetime:
    year, mon = (int(x) for x in month.split("-"))
    return datetime.combine(date(year, mon, 1), time(0), tz)


def next_month(month: str) -> str:
    year, mon = (int(x) for x in month.split("-"))
    return f"{year + (mon == 12):04d}-{mon % 12 + 1:02d}"


def commune_overview(session: Session, commune_id: int, village_ids: Iterable[int], first: str, last: str,
                     tz: ZoneInfo, kinds: Iterable[str] | None = None) -> Overview:
    months = months_between(first, last)
    villages = sorted(set(village_ids))
    if not months or not villages:
        return Overview(months)
    start, end = month_start(months[0], tz), month_start(next_month(months[-1]), tz)
    rows = list(session.exec(select(PlayRecordRow).where(
        PlayRecordRow.commune_id == commune_id, col(PlayRecordRow.village_id).in_(villages),
        PlayRecordRow.planned_start >= start, PlayRecordRow.planned_start < end)))
    shas = {r.sha256 for r in rows if r.sha256}
    item_kinds = {i.audio_sha256: i.kind for i in session.exec(select(ContentItem).where(
        ContentItem.commune_id == commune_id, col(ContentItem.audio_sha256).in_(shas)))
        if i.audio_sha256 is not None} if shas else {}
    stops = stops_of_records(session, commune_id, rows)
    records = [AiredRecord(stored_id(r), r.device_id, r.village_id, r.sha256, r.priority, r.planned_start,
                           r.actual_start, r.actual_end, r.result) for r in rows]
    return overview(records, item_kinds, stops, tz, months, kinds)
