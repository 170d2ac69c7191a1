"""Emergency broadcasts: "storm warning now in villages 3 and 4", repeated or until cancelled.

An emergency is a rule with an explicit start (= now when the cadre presses the button) and an
`Every` recurrence: each repetition is its own play (so the agent logs each one), back to back
with an optional gap. "Until cancelled" is bounded by the station's `emergency_max_s` so a
forgotten alarm cannot sound forever. Cancelling at t cuts the repetition on air at t and
removes the later ones (see `resolve._cancel`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from schedules.model import Every, Priority, Programme, Rule, StationSettings, Targets, require_aware


@dataclass(frozen=True, slots=True)
class EmergencyBroadcast:
    id: str
    programme: Programme
    targets: Targets
    start: datetime
    created_at: datetime
    repeat: int | None = 1          # None: until cancelled (bounded by emergency_max_s)
    gap_s: float = 0.0              # silence between repetitions
    cancelled_at: datetime | None = None
    title: str = ""
    source: str = "cadre"           # "cadre" or "cap:<identifier>"

    def __post_init__(self) -> None:
        require_aware(self.start, "start")
        require_aware(self.created_at, "created_at")
        if self.repeat is not None and self.repeat < 1:
            raise ValueError("Số lần phát phải ≥ 1 / repeat must be at least 1")
        if self.gap_s < 0:
            raise ValueError("gap_s must not be negative")
        if self.targets.is_empty():
            raise ValueError("Chưa chọn thôn / no village chosen")

    def to_rule(self, settings: StationSettings = StationSettings()) -> Rule:
        """The rule the timetable materializes (priority EMERGENCY, starting exactly at `start`)."""
        interval = self.programme.duration_s + self.gap_s
        if self.repeat is None:
            rec = Every(self.start, interval, until=self.start + timedelta(seconds=settings.emergency_max_s))
        else:
            rec = Every(self.start, interval, count=self.repeat)
        return Rule(id=self.id, recurrence=rec, targets=self.targets, programme=self.programme,
                    priority=Priority.EMERGENCY, created_at=self.created_at,
                    cancelled_at=self.cancelled_at, title=self.title, max_delay_s=0)

    @property
    def active_until(self) -> datetime | None:
        """When the last repetition ends, if bounded by a count."""
        if self.repeat is None:
            return None
        end = self.start + timedelta(seconds=(self.programme.duration_s + self.gap_s) * self.repeat - self.gap_s)
        return min(end, self.cancelled_at) if self.cancelled_at else end


def start_emergency(
    id: str,
    programme: Programme,
    villages: frozenset[str] | set[str] | tuple[str, ...],
    now: datetime,
    repeat: int | None = 1,
    gap_s: float = 0.0,
    title: str = "",
    devices: frozenset[str] = frozenset(),
    source: str = "cadre",
) -> EmergencyBroadcast:
    """An emergency airing at once (start = now) in the chosen villages (and/or devices)."""
    require_aware(now, "now")
    return EmergencyBroadcast(id, programme, Targets(frozenset(), frozenset(villages), frozenset(devices)),
                              start=now, created_at=now, repeat=repeat, gap_s=gap_s, title=title,
                              source=source)


def cancel(eb: EmergencyBroadcast, at: datetime) -> EmergencyBroadcast:
    """Cancel at `at` (idempotent: a second cancel keeps the first, earlier instant)."""
    require_aware(at, "at")
    if eb.cancelled_at is not None and eb.cancelled_at <= at:
        return eb
    return replace(eb, cancelled_at=max(at, eb.start))
