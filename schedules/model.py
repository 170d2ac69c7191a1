"""Plain frozen value types for schedules.

Nothing here touches a database or the network: the DB layer maps its rows onto these
dataclasses and hands them to the pure functions in `recurrence`, `timetable`, `conflicts`.
Every datetime is tz-aware; constructors refuse naive ones so a wrong clock or a forgotten
timezone fails loudly instead of moving a broadcast by seven hours.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from enum import Enum, IntEnum
from typing import Union
from zoneinfo import ZoneInfo

DEFAULT_TZ = "Asia/Ho_Chi_Minh"


def require_aware(value: datetime, name: str) -> datetime:
    """Refuse naive datetimes: every instant in Loa carries its zone."""
    if not isinstance(value, datetime):
        raise TypeError(f"{name} phải là datetime / {name} must be a datetime")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(
            f"{name} thiếu múi giờ / {name} is naive (no timezone): {value.isoformat()}"
        )
    return value


class Priority(IntEnum):
    """Thông tư 39 levels, plus the station's own floor (silence, then the fallback item)."""

    SILENCE = 0
    FALLBACK = 1
    NORMAL = 2
    PRIORITY = 3
    EMERGENCY = 4


# ---------------------------------------------------------------- programme entries


@dataclass(frozen=True, slots=True)
class Item:
    """An approved audio item from the content store."""

    content_id: str
    sha256: str
    duration_s: float
    title: str
    language: str = "vi"
    size_bytes: int = 0  # the audio file's size (0: not known), carried so a manifest needs no look-up

    def __post_init__(self) -> None:
        if self.duration_s <= 0:
            raise ValueError(f"Thời lượng phải dương / duration must be positive: {self.content_id}")

    @property
    def total_s(self) -> float:
        return self.duration_s


@dataclass(frozen=True, slots=True)
class BilingualPair:
    """The same message in two languages, back to back (e.g. Vietnamese then Giáy)."""

    first: Item
    second: Item

    @property
    def total_s(self) -> float:
        return self.first.duration_s + self.second.duration_s


@dataclass(frozen=True, slots=True)
class Silence:
    seconds: float

    def __post_init__(self) -> None:
        if self.seconds <= 0:
            raise ValueError("Khoảng lặng phải dương / a silence gap must be positive")

    @property
    def total_s(self) -> float:
        return self.seconds


@dataclass(frozen=True, slots=True)
class Relay:
    """Relay of an external stream (national or provincial radio) for a fixed duration."""

    url: str
    duration_s: float
    title: str = ""

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://", "rtsp://", "rtmp://", "icecast://")):
            raise ValueError(f"Địa chỉ luồng không hợp lệ / invalid stream URL: {self.url}")
        if self.duration_s <= 0:
            raise ValueError("Thời lượng tiếp sóng phải dương / relay duration must be positive")

    @property
    def total_s(self) -> float:
        return self.duration_s


ProgrammeEntry = Union[Item, BilingualPair, Silence, Relay]


class SegmentKind(str, Enum):
    ITEM = "item"
    SILENCE = "silence"
    RELAY = "relay"


@dataclass(frozen=True, slots=True)
class Segment:
    """One concrete piece of a play, at an offset (seconds) from the play's start. An item carries its file's
    size and duration, so the broadcaster builds a manifest from the stored plays alone."""

    offset_s: float
    duration_s: float
    kind: SegmentKind
    content_id: str | None = None
    sha256: str | None = None
    title: str = ""
    language: str | None = None
    url: str | None = None
    size_bytes: int = 0


@dataclass(frozen=True, slots=True)
class Programme:
    """An ordered list of entries, played `repeat` times back to back."""

    entries: tuple[ProgrammeEntry, ...]
    repeat: int = 1

    def __post_init__(self) -> None:
        if not self.entries:
            raise ValueError("Chương trình rỗng / the programme is empty")
        if self.repeat < 1:
            raise ValueError("Số lần lặp phải ≥ 1 / repeat must be at least 1")

    @property
    def once_s(self) -> float:
        return sum(e.total_s for e in self.entries)

    @property
    def duration_s(self) -> float:
        return self.once_s * self.repeat

    def items(self) -> list[Item]:
        out: list[Item] = []
        for e in self.entries:
            if isinstance(e, Item):
                out.append(e)
            elif isinstance(e, BilingualPair):
                out.extend((e.first, e.second))
        return out

    def segments(self) -> tuple[Segment, ...]:
        """Flatten to concrete segments with offsets (repeats unrolled)."""
        out: list[Segment] = []
        offset = 0.0
        for _ in range(self.repeat):
            for e in self.entries:
                parts = (e.first, e.second) if isinstance(e, BilingualPair) else (e,)
                for p in parts:
                    out.append(_segment(p, offset))
                    offset += p.total_s
        return tuple(out)


def _segment(p: Item | Silence | Relay, offset: float) -> Segment:
    if isinstance(p, Item):
        return Segment(offset, p.duration_s, SegmentKind.ITEM, p.content_id, p.sha256, p.title, p.language,
                       size_bytes=p.size_bytes)
    if isinstance(p, Silence):
        return Segment(offset, p.seconds, SegmentKind.SILENCE)
    return Segment(offset, p.duration_s, SegmentKind.RELAY, title=p.title, url=p.url)


# ---------------------------------------------------------------- recurrence


@dataclass(frozen=True, slots=True)
class OneOff:
    at: datetime

    def __post_init__(self) -> None:
        require_aware(self.at, "at")


@dataclass(frozen=True, slots=True)
class Recurring:
    """An RFC 5545 RRULE (e.g. "FREQ=DAILY;UNTIL=20261231") anchored at `dtstart`.

    `times` are wall-clock start times in dtstart's zone (e.g. 06:00 and 17:00); each day the
    rule selects gets one occurrence per time. COUNT counts occurrences, as in RFC 5545.
    Without `times` the rule is expanded exactly as RFC 5545 says (time from dtstart, or BYHOUR…).
    """

    rrule: str
    dtstart: datetime
    times: tuple[time, ...] = ()

    def __post_init__(self) -> None:
        require_aware(self.dtstart, "dtstart")
        if any(t.tzinfo is not None for t in self.times):
            raise ValueError("Giờ phát là giờ địa phương, không kèm múi giờ / times are local wall-clock times")


@dataclass(frozen=True, slots=True)
class Every:
    """Back-to-back repetition from an explicit start (emergencies "until cancelled")."""

    start: datetime
    interval_s: float
    count: int | None = None
    until: datetime | None = None

    def __post_init__(self) -> None:
        require_aware(self.start, "start")
        if self.until is not None:
            require_aware(self.until, "until")
        if self.interval_s <= 0:
            raise ValueError("interval_s must be positive")
        if self.count is None and self.until is None:
            raise ValueError("Every needs count or until (an unbounded repetition never ends)")


Recurrence = Union[OneOff, Recurring, Every]


# ---------------------------------------------------------------- rules


@dataclass(frozen=True, slots=True)
class Targets:
    """Whom a rule addresses: whole communes, villages, single devices (a union)."""

    communes: frozenset[str] = frozenset()
    villages: frozenset[str] = frozenset()
    devices: frozenset[str] = frozenset()

    @staticmethod
    def of(communes: Iterable[str] = (), villages: Iterable[str] = (), devices: Iterable[str] = ()) -> "Targets":
        return Targets(frozenset(communes), frozenset(villages), frozenset(devices))

    def is_empty(self) -> bool:
        return not (self.communes or self.villages or self.devices)


@dataclass(frozen=True, slots=True)
class Rule:
    """A schedule: what (programme), where (targets), when (recurrence), how urgent.

    `created_at` is when the rule was first saved (kept across edits; `version` counts edits).
    Occurrences before `created_at` never aired and are not materialized. `cancelled_at`
    truncates: the play running then is cut, later ones vanish.
    """

    id: str
    recurrence: Recurrence
    targets: Targets
    programme: Programme
    priority: Priority
    created_at: datetime
    version: int = 1
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    cancelled_at: datetime | None = None
    max_delay_s: float | None = None  # how late a collision may push it; None → station default
    title: str = ""

    def __post_init__(self) -> None:
        require_aware(self.created_at, "created_at")
        for name in ("valid_from", "valid_until", "cancelled_at"):
            v = getattr(self, name)
            if v is not None:
                require_aware(v, name)
        if self.targets.is_empty():
            raise ValueError("Lịch chưa chọn nơi phát / the rule targets nothing")
        if self.priority < Priority.FALLBACK:
            raise ValueError("Lịch phải có mức ưu tiên ≥ dự phòng / a rule cannot be silence")


# ---------------------------------------------------------------- station and topology


@dataclass(frozen=True, slots=True)
class StationSettings:
    timezone: str = DEFAULT_TZ
    quiet_start: time = time(22, 0)
    quiet_end: time = time(5, 0)
    max_programme_s: float = 2 * 3600.0
    default_max_delay_s: float = 1800.0  # a collision may push a play at most this late
    emergency_max_s: float = 6 * 3600.0  # "until cancelled" still stops after this
    auto_air_extreme_immediate: bool = False  # CAP: air Extreme+Immediate alerts without a cadre

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def in_quiet_hours(self, start: datetime, end: datetime) -> bool:
        """True if [start, end) touches the nightly quiet period (which may span midnight).

        quiet_start == quiet_end means the station has no quiet hours.
        """
        if self.quiet_start == self.quiet_end:
            return False
        tz = self.tz
        s, e = start.astimezone(tz), end.astimezone(tz)
        day = s.date() - timedelta(days=1)
        while day <= e.date():
            q_start = datetime.combine(day, self.quiet_start, tz)
            q_end_day = day + timedelta(days=1) if self.quiet_end < self.quiet_start else day
            q_end = datetime.combine(q_end_day, self.quiet_end, tz)
            if s < q_end and q_start < e:
                return True
            day += timedelta(days=1)
        return False


@dataclass(frozen=True)
class Topology:
    """communes → villages → devices, as plain mappings."""

    villages_by_commune: Mapping[str, tuple[str, ...]]
    devices_by_village: Mapping[str, tuple[str, ...]]
    village_of: Mapping[str, str] = field(init=False)
    commune_of: Mapping[str, str] = field(init=False)

    def __post_init__(self) -> None:
        village_of = {d: v for v, ds in self.devices_by_village.items() for d in ds}
        commune_of = {v: c for c, vs in self.villages_by_commune.items() for v in vs}
        object.__setattr__(self, "village_of", village_of)
        object.__setattr__(self, "commune_of", commune_of)

    def all_devices(self) -> list[str]:
        return list(self.village_of)

    def devices_of(self, targets: Targets) -> set[str]:
        out: set[str] = set()
        for c in targets.communes:
            for v in self.villages_by_commune.get(c, ()):
                out.update(self.devices_by_village.get(v, ()))
        for v in targets.villages:
            out.update(self.devices_by_village.get(v, ()))
        out.update(d for d in targets.devices if d in self.village_of)
        return out

    def targets_device(self, targets: Targets, device_id: str) -> bool:
        if device_id in targets.devices:
            return True
        v = self.village_of.get(device_id)
        return v is not None and (v in targets.villages or self.commune_of.get(v) in targets.communes)


# ---------------------------------------------------------------- results


class DropReason(str, Enum):
    QUIET_HOURS = "quiet_hours"
    NOT_AIRABLE = "not_airable"          # every item expired/archived/unapproved at air time
    ITEM_REMOVED = "item_removed"        # some items removed, the rest still airs
    OUTRANKED = "outranked"              # no room before its limit after higher-ranked plays
    PREEMPTED = "preempted"              # an emergency covers its slot and no room after
    TOO_LONG = "too_long"                # programme longer than the station's maximum


@dataclass(frozen=True, slots=True)
class Play:
    """One concrete broadcast on one device. Key: (device_id, rule_id, planned_start)."""

    device_id: str
    rule_id: str
    start: datetime
    end: datetime
    priority: Priority
    segments: tuple[Segment, ...]
    planned_start: datetime  # the occurrence; differs from start when shifted
    rule_version: int = 1
    interrupted: bool = False  # cut short by an emergency or a cancellation
    title: str = ""

    @property
    def key(self) -> tuple[str, str, datetime]:
        return (self.device_id, self.rule_id, self.planned_start)

    @property
    def content_hashes(self) -> tuple[str, ...]:
        return tuple(s.sha256 for s in self.segments if s.sha256)

    @property
    def shifted(self) -> bool:
        return self.start != self.planned_start


@dataclass(frozen=True, slots=True)
class Dropped:
    """A play that will not air (or airs without some items) and why; the cadre is told."""

    device_id: str
    rule_id: str
    planned_start: datetime
    priority: Priority
    reason: DropReason
    detail: str = ""
    content_ids: tuple[str, ...] = ()
