"""Overlap check when a schedule is saved.

For every existing rule that shares at least one device with the new one, the occurrences in
the horizon are compared. An overlap with a different priority is resolvable (the timetable
shifts or cuts the lower one, see `resolve`); with the same priority it is refused and the
conflicting rules are named. Emergencies are never refused: two emergencies queue back to
back, and an emergency pre-empts anything lower.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from schedules.model import Dropped, DropReason, Priority, Rule, StationSettings, Topology, require_aware
from schedules.resolve import Candidate
from schedules.timetable import Airable, rule_candidates


class Resolution(str, Enum):
    NEW_OUTRANKS = "new_outranks"      # the new rule wins; the other is shifted/cut/dropped
    NEW_OUTRANKED = "new_outranked"    # the other wins; the new one is shifted/cut/dropped
    QUEUED = "queued"                  # two emergencies: the later waits for the earlier
    REFUSED = "refused"                # same priority: the cadre must move one of them


@dataclass(frozen=True, slots=True)
class Conflict:
    rule_id: str
    title: str
    resolution: Resolution
    first_overlap: datetime      # planned start of the new rule's first overlapping play
    overlaps: int                # how many occurrence pairs overlap in the horizon
    devices: tuple[str, ...]     # devices both rules address


@dataclass(frozen=True, slots=True)
class ConflictReport:
    rule_id: str
    conflicts: tuple[Conflict, ...]
    problems: tuple[str, ...] = ()  # validation failures (e.g. programme too long)
    warnings: tuple[str, ...] = ()  # saved anyway, but the cadre should know (plays silenced by quiet hours)

    @property
    def refused(self) -> bool:
        return bool(self.problems) or any(c.resolution is Resolution.REFUSED for c in self.conflicts)

    def message(self) -> str:
        """Bilingual summary naming the conflicting schedules."""
        lines = list(self.problems) + list(self.warnings)
        for c in self.conflicts:
            name = f"«{c.title}» ({c.rule_id})" if c.title else c.rule_id
            when = c.first_overlap.strftime("%d/%m/%Y %H:%M")
            if c.resolution is Resolution.REFUSED:
                lines.append(f"Trùng giờ với lịch {name} cùng mức ưu tiên, lúc {when} trên {len(c.devices)} loa"
                             f" / Overlaps schedule {name} of the same priority at {when} on"
                             f" {len(c.devices)} device(s)")
            elif c.resolution is Resolution.NEW_OUTRANKS:
                lines.append(f"Lịch {name} sẽ bị dời hoặc cắt từ {when} / schedule {name} will be shifted or cut"
                             f" from {when}")
            else:
                lines.append(f"Lịch này sẽ nhường lịch {name} từ {when} / this schedule yields to {name}"
                             f" from {when}")
        return "\n".join(lines)


def validate_rule(rule: Rule, settings: StationSettings) -> tuple[str, ...]:
    problems = []
    if rule.priority != Priority.EMERGENCY and rule.programme.duration_s > settings.max_programme_s:
        problems.append(
            f"Chương trình dài {rule.programme.duration_s / 60:.0f} phút, tối đa {settings.max_programme_s / 60:.0f}"
            f" phút / the programme is longer than the station maximum")
    if rule.valid_from and rule.valid_until and rule.valid_until <= rule.valid_from:
        problems.append("Ngày kết thúc trước ngày bắt đầu / valid_until is before valid_from")
    return tuple(problems)


def check_conflicts(
    new_rule: Rule,
    existing: Sequence[Rule],
    topology: Topology,
    horizon_start: datetime,
    horizon_end: datetime,
    settings: StationSettings = StationSettings(),
) -> ConflictReport:
    """Overlaps of `new_rule` with `existing` rules on shared devices within the horizon.

    An existing rule with the same id (the previous version of an edited rule) is ignored.
    """
    require_aware(horizon_start, "horizon_start")
    require_aware(horizon_end, "horizon_end")
    problems = validate_rule(new_rule, settings)
    mine = topology.devices_of(new_rule.targets)
    if not mine:
        return ConflictReport(new_rule.id, (), problems + (
            "Lịch không tới loa nào / the schedule reaches no device",))
    ok = lambda _cid, _at: True  # noqa: E731 — airability is judged at air time, not at save
    cands, drops = rule_candidates(new_rule, horizon_start, horizon_end, settings, ok)
    warnings = _quiet_hours_warning(cands, drops, settings)
    new_iv = _spans(cands)
    conflicts: list[Conflict] = []
    for other in existing:
        if other.id == new_rule.id or other.cancelled_at is not None and other.cancelled_at <= horizon_start:
            continue
        shared = mine & topology.devices_of(other.targets)
        if not shared:
            continue
        hits = _overlaps(new_iv, _intervals(other, horizon_start, horizon_end, settings, ok))
        if not hits:
            continue
        conflicts.append(Conflict(other.id, other.title, _resolution(new_rule.priority, other.priority),
                                  hits[0], len(hits), tuple(sorted(shared))))
    conflicts.sort(key=lambda c: (c.resolution is not Resolution.REFUSED, c.first_overlap, c.rule_id))
    return ConflictReport(new_rule.id, tuple(conflicts), problems, warnings)


def _quiet_hours_warning(cands: list[Candidate], drops: list[Dropped], settings: StationSettings) -> tuple[str, ...]:
    """Plays the station's quiet hours will silence. Not a refusal: a cadre may save a night schedule and then
    move the quiet hours (station settings); but nobody should find out only when the loudspeaker stays mute."""
    silenced = sum(1 for d in drops if d.reason == DropReason.QUIET_HOURS)
    if not silenced:
        return ()
    q = f"{settings.quiet_start:%H:%M}–{settings.quiet_end:%H:%M}"
    if not cands:
        return (f"Mọi lần phát của lịch này rơi vào giờ yên tĩnh ({q}): loa sẽ không phát, trừ khi đài đổi giờ "
                f"yên tĩnh / every play of this schedule falls in the quiet hours ({q}): the loudspeakers stay "
                f"silent unless the station changes them",)
    return (f"{silenced} lần phát rơi vào giờ yên tĩnh ({q}) và sẽ bị bỏ qua / {silenced} play(s) fall in the "
            f"quiet hours ({q}) and will be skipped",)


def _resolution(new: Priority, other: Priority) -> Resolution:
    if new == other == Priority.EMERGENCY:
        return Resolution.QUEUED
    if new == other:
        return Resolution.REFUSED
    return Resolution.NEW_OUTRANKS if new > other else Resolution.NEW_OUTRANKED


def _intervals(rule: Rule, start: datetime, end: datetime, settings: StationSettings,
               ok: Airable) -> list[tuple[datetime, datetime]]:
    return _spans(rule_candidates(rule, start, end, settings, ok)[0])


def _spans(cands: list[Candidate]) -> list[tuple[datetime, datetime]]:
    return sorted((c.planned, c.planned + c.duration) for c in cands)


def _overlaps(a: list[tuple[datetime, datetime]], b: list[tuple[datetime, datetime]]) -> list[datetime]:
    """Planned starts in `a` that overlap any interval of `b` (both sorted): a linear merge."""
    out: list[datetime] = []
    j = 0
    for s, e in a:
        while j < len(b) and b[j][1] <= s:
            j += 1
        k = j
        while k < len(b) and b[k][0] < e:
            if b[k][1] > s:
                out.append(s)
                break
            k += 1
    return out
