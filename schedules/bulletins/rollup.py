"""Reports up (issue 16 point 3): each commune's daily figures, rolled up to its district and province.

`CommuneDay` is the seam: a plain dataclass of one commune's local day, made from its loudspeakers' own proof of
play (`broadcaster.station.bulletin_air.commune_days`) on the station that holds the commune, and shipped up by
the interchange to the upper station, which stores it with `record_commune_report`. The roll-up reads only the
stored reports (`commune_day_reports`): one indexed scan of the area's rows, summed in Python — 1,000 communes ×
30 days is 30,000 rows (bench/province_bulletin.py).

Figures: aired seconds by kind (news, directive, emergency, …) and by level (normal, priority, emergency, …),
plays (every proof-of-play record: completed + interrupted + failed + skipped), interrupted and failed plays,
loudspeaker uptime (online loudspeaker-seconds over loudspeaker-seconds, so it sums across communes).
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Session, select

from loa.accounts.principal import Principal
from loa.db import table_of
from loa.errors import Invalid, NotFound
from loa.org import areas
from loa.org.models import Commune, District
from schedules.bulletins.models import CommuneDayReport
from schedules.tables import saved_id

MAX_DAYS = 400


@dataclass
class CommuneDay:
    """One commune's figures of one local day (the seam shipped up by the interchange)."""
    commune_code: str
    day: str                                     # YYYY-MM-DD, the commune's local day
    seconds_by_kind: dict[str, float] = field(default_factory=dict)
    seconds_by_level: dict[str, float] = field(default_factory=dict)
    plays: int = 0
    completed: int = 0
    interrupted: int = 0
    failed: int = 0
    device_seconds: float = 0.0
    up_seconds: float = 0.0


@dataclass(slots=True)
class Figures:
    """Summable figures of any group (a commune's month, a district's day, a province's month…)."""
    seconds_by_kind: dict[str, float] = field(default_factory=dict)
    seconds_by_level: dict[str, float] = field(default_factory=dict)
    plays: int = 0
    completed: int = 0
    interrupted: int = 0
    failed: int = 0
    device_seconds: float = 0.0
    up_seconds: float = 0.0
    reports: int = 0  # how many commune-days went into it

    def add_row(self, r: CommuneDayReport) -> None:
        self.add_values(r.seconds_by_kind, r.seconds_by_level, r.plays, r.completed, r.interrupted, r.failed,
                        r.device_seconds, r.up_seconds)

    def add_values(self, by_kind: dict[str, float] | None, by_level: dict[str, float] | None, plays: int, completed: int, interrupted: int,
                   failed: int, device_seconds: float, up_seconds: float, reports: int = 1) -> None:
        if by_kind:
            mine = self.seconds_by_kind
            for k, v in by_kind.items():
                mine[k] = mine.get(k, 0.0) + v
        if by_level:
            mine = self.seconds_by_level
            for k, v in by_level.items():
                mine[k] = mine.get(k, 0.0) + v
        self.plays += plays
        self.completed += completed
        self.interrupted += interrupted
        self.failed += failed
        self.device_seconds += device_seconds
        self.up_seconds += up_seconds
        self.reports += reports

    def add(self, other: "Figures") -> None:
        self.add_values(other.seconds_by_kind, other.seconds_by_level, other.plays, other.completed,
                        other.interrupted, other.failed, other.device_seconds, other.up_seconds, other.reports)

    @property
    def minutes(self) -> float:
        return sum(self.seconds_by_kind.values()) / 60

    def minutes_by_kind(self) -> dict[str, float]:
        return {k: v / 60 for k, v in sorted(self.seconds_by_kind.items(), key=lambda kv: -kv[1])}

    def minutes_by_level(self) -> dict[str, float]:
        return {k: v / 60 for k, v in sorted(self.seconds_by_level.items(), key=lambda kv: -kv[1])}

    @property
    def uptime_percent(self) -> float | None:
        return round(100 * self.up_seconds / self.device_seconds, 1) if self.device_seconds else None


@dataclass
class RollUp:
    """An area's figures over [first, last]: per period (day or month), per district, per commune, and total."""
    area: areas.Area
    first: str
    last: str
    by: str                                                   # day | month
    periods: list[str]
    total: Figures = field(default_factory=Figures)
    by_period: dict[str, Figures] = field(default_factory=lambda: defaultdict(Figures))
    by_district: dict[int | None, Figures] = field(default_factory=lambda: defaultdict(Figures))
    by_commune: dict[int, Figures] = field(default_factory=lambda: defaultdict(Figures))
    by_commune_period: dict[tuple[int, str], Figures] = field(default_factory=lambda: defaultdict(Figures))
    communes: dict[int, Commune] = field(default_factory=dict)
    districts: dict[int, District] = field(default_factory=dict)

    @property
    def kinds(self) -> list[str]:
        return list(self.total.minutes_by_kind())


def _day(value: str, what: str) -> date:
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise Invalid("date_invalid", f"Ngày {what} không hợp lệ (YYYY-MM-DD)",
                      f"Invalid {what} date (YYYY-MM-DD)") from None


def periods_of(first: date, last: date, by: str) -> list[str]:
    if by == "month":
        out, y, m = [], first.year, first.month
        while (y, m) <= (last.year, last.month):
            out.append(f"{y:04d}-{m:02d}")
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)
        return out
    return [date.fromordinal(o).isoformat() for o in range(first.toordinal(), last.toordinal() + 1)]


def rollup(session: Session, area: areas.Area, first: str, last: str, by: str = "day") -> RollUp:
    """The roll-up of every stored commune-day report of `area` in [first, last] (no scoping: see `area_rollup`)."""
    d0, d1 = _day(first, "đầu/first"), _day(last, "cuối/last")
    if d1 < d0 or (d1 - d0).days > MAX_DAYS or by not in ("day", "month"):
        raise Invalid("range_invalid", f"Khoảng ngày không hợp lệ (tối đa {MAX_DAYS} ngày)",
                      f"Invalid date range (at most {MAX_DAYS} days)")
    out = RollUp(area, d0.isoformat(), d1.isoformat(), by, periods_of(d0, d1, by))
    out.communes = {saved_id(c): c for c in areas.communes_of(session, area)}
    out.districts = {saved_id(d): d for d in areas.districts_of(session, area)}
    if not out.communes:
        return out
    district_of = {c.id: c.district_id for c in out.communes.values()}
    communes = table_of(Commune)
    column = communes.c.province_id if area.level == "province" else communes.c.district_id
    t = table_of(CommuneDayReport).c
    # Plain tuples, not ORM objects: building 30,000 model instances costs more than the sums.
    rows = session.connection().execute(sa.select(t.commune_id, t.day, t.seconds_by_kind, t.seconds_by_level, t.plays,
                                     t.completed, t.interrupted, t.failed, t.device_seconds, t.up_seconds)
                           .join(communes, communes.c.id == t.commune_id)
                           .where(column == area.id, t.day >= out.first, t.day <= out.last))
    cut = 7 if by == "month" else 10
    cells = out.by_commune_period
    for commune_id, day, *values in rows:
        cells[(commune_id, day[:cut])].add_values(*values)
    # Every other grouping is a sum of smaller ones: periods and communes of the cells, districts of the
    # communes, the total of the districts (each cell is added twice, not four times).
    for (commune_id, period), cell in cells.items():
        out.by_period[period].add(cell)
        out.by_commune[commune_id].add(cell)
    for commune_id, figures in out.by_commune.items():
        out.by_district[district_of.get(commune_id)].add(figures)
    for figures in out.by_district.values():
        out.total.add(figures)
    return out


def area_rollup(session: Session, actor: Principal, level: str, area_id: int, first: str, last: str,
                by: str = "day") -> RollUp:
    """The roll-up for staff of the area (or of the province above a district); anyone else gets 404."""
    return rollup(session, areas.visible_area(session, actor, level, area_id), first, last, by)


def record_commune_report(session: Session, report: CommuneDay, now: datetime, source: str = "remote") -> CommuneDayReport:
    """Store (or replace) one commune's day, received from its station or computed here."""
    _day(report.day, "báo cáo/report")
    commune = session.exec(select(Commune).where(Commune.code == report.commune_code)).first()
    if commune is None:
        raise NotFound("commune_not_found", "Không tìm thấy xã của báo cáo", "The report's commune is not known here")
    return store_day(session, saved_id(commune), report, now, source)


def store_day(session: Session, commune_id: int, report: CommuneDay, now: datetime,
              source: str = "local") -> CommuneDayReport:
    row = session.exec(select(CommuneDayReport).where(CommuneDayReport.commune_id == commune_id,
                                                      CommuneDayReport.day == report.day)).first()
    if row is None:
        row = CommuneDayReport(commune_id=commune_id, day=report.day, computed_at=now)
    row.seconds_by_kind = {k: round(float(v), 1) for k, v in report.seconds_by_kind.items()}
    row.seconds_by_level = {k: round(float(v), 1) for k, v in report.seconds_by_level.items()}
    row.plays, row.completed = int(report.plays), int(report.completed)
    row.interrupted, row.failed = int(report.interrupted), int(report.failed)
    row.device_seconds, row.up_seconds = float(report.device_seconds), float(report.up_seconds)
    row.source, row.computed_at = source, now
    session.add(row)
    return row


def store_days(session: Session, commune_id: int, days: Iterable[CommuneDay], now: datetime) -> int:
    n = 0
    for day in days:
        store_day(session, commune_id, day, now)
        n += 1
    return n
