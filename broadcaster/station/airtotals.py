"""Minutes aired across a commune's villages and months, from the loudspeakers' own play records (issue 14).

Pure functions of their arguments (the loader is `airreport.py`); the same rules as the village report
(`api/web/reports.py`) and `airtruth.counted_as`:

- minutes are what really aired, `actual_end − actual_start`: a play cut short counts the seconds heard,
  a failed or skipped play none; a play heard by several loudspeakers of one village counts once for that
  village (the longest any of them played it), once per village for the commune;
- the kind of a play is `emergency` for every emergency play, whatever its item; otherwise its item's kind,
  `relay` for a relayed stream (a play with no audio file), `other` for an item no longer in the library;
- plays are counted per loudspeaker: completed, interrupted, failed, skipped, and `played_after_stop` (an
  emergency the cadre stopped that a loudspeaker still played past the stop: never completed);
- the month of a play is its planned start's month in the commune's time zone.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar
from zoneinfo import ZoneInfo

from broadcaster.station.airtruth import counted_as

K = TypeVar("K")  # what Overview._sum groups by

OUTCOMES = ("completed", "interrupted", "failed", "skipped", "played_after_stop")


@dataclass(frozen=True, slots=True)
class AiredRecord:
    """One proof-of-play record as the station stored it, with what the report needs."""
    record_id: int
    device_id: int
    village_id: int | None
    sha256: str | None
    priority: str
    planned_start: datetime
    actual_start: datetime | None
    actual_end: datetime | None
    result: str


@dataclass
class Cell:
    """One village, one month, one kind."""
    seconds: float = 0.0             # aired, counted once per village
    seconds_interrupted: float = 0.0  # of which: plays that were cut short
    completed: int = 0
    interrupted: int = 0
    failed: int = 0
    skipped: int = 0
    played_after_stop: int = 0

    @property
    def minutes(self) -> float:
        return self.seconds / 60

    @property
    def minutes_interrupted(self) -> float:
        return self.seconds_interrupted / 60

    def add(self, other: "Cell") -> None:
        self.seconds += other.seconds
        self.seconds_interrupted += other.seconds_interrupted
        for name in OUTCOMES:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class Overview:
    months: list[str]
    cells: dict[tuple[int, str, str], Cell] = field(default_factory=dict)  # (village id, YYYY-MM, kind)

    def _sum(self, pick: Callable[[tuple[int, str, str]], K]) -> dict[K, Cell]:
        out: defaultdict[K, Cell] = defaultdict(Cell)
        for key, cell in self.cells.items():
            out[pick(key)].add(cell)
        return dict(out)

    def by_village(self) -> dict[int, Cell]:
        return self._sum(lambda k: k[0])

    def by_month(self) -> dict[str, Cell]:
        return self._sum(lambda k: k[1])

    def by_kind(self) -> dict[str, Cell]:
        return self._sum(lambda k: k[2])

    def by_month_kind(self) -> dict[tuple[str, str], Cell]:
        return self._sum(lambda k: (k[1], k[2]))

    def by_village_kind(self) -> dict[tuple[int, str], Cell]:
        return self._sum(lambda k: (k[0], k[2]))

    def total(self) -> Cell:
        out = Cell()
        for cell in self.cells.values():
            out.add(cell)
        return out

    @property
    def kinds(self) -> list[str]:
        """Kinds present, most minutes first."""
        return [k for k, _ in sorted(self.by_kind().items(), key=lambda kv: (-kv[1].seconds, kv[0]))]


def month_of(at: datetime, tz: ZoneInfo) -> str:
    return at.astimezone(tz).strftime("%Y-%m")


def months_between(first: str, last: str) -> list[str]:
    """["2026-11", "2026-12", "2027-01"] for ("2026-11", "2027-01")."""
    y, m = (int(x) for x in first.split("-"))
    ly, lm = (int(x) for x in last.split("-"))
    out = []
    while (y, m) <= (ly, lm):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def kind_of(rec: AiredRecord, item_kinds: Mapping[str, str]) -> str:
    if rec.priority == "emergency":
        return "emergency"
    if not rec.sha256:
        return "relay"
    return item_kinds.get(rec.sha256, "other")


def overview(records: Iterable[AiredRecord], item_kinds: Mapping[str, str], stops: Mapping[int, datetime],
             tz: ZoneInfo, months: list[str], kinds: Iterable[str] | None = None) -> Overview:
    """The commune overview of `months` (records planned in other months are left out), of `kinds` only if
    given. `stops`: for an emergency play record (by id) of an emergency the cadre stopped, the stop time."""
    wanted = set(kinds) if kinds else None
    out = Overview(list(months))
    keep = set(months)
    heard: dict[tuple[int, str, str, str | None, datetime], tuple[float, bool]] = {}
    for rec in records:
        month = month_of(rec.planned_start, tz)
        kind = kind_of(rec, item_kinds)
        if month not in keep or (wanted is not None and kind not in wanted) or rec.village_id is None:
            continue
        cell = out.cells.setdefault((rec.village_id, month, kind), Cell())
        counted = counted_as(rec.result, rec.actual_end, stops.get(rec.record_id))
        if counted in OUTCOMES:
            setattr(cell, counted, getattr(cell, counted) + 1)
        if rec.result in ("played", "interrupted") and rec.actual_start and rec.actual_end:
            seconds = max(0.0, (rec.actual_end - rec.actual_start).total_seconds())
            # the same play on several loudspeakers of the village: heard once there, for as long as it lasted
            key = (rec.village_id, month, kind, rec.sha256, rec.planned_start)
            if key not in heard or seconds > heard[key][0]:
                heard[key] = (seconds, rec.result == "interrupted")
    for (village_id, month, kind, _, _), (seconds, cut) in heard.items():
        cell = out.cells[(village_id, month, kind)]
        cell.seconds += seconds
        if cut:
            cell.seconds_interrupted += seconds
    return out
