"""The timetable: a pure function of (rules, topology, window, now, settings, airable).

`materialize` returns, for every device, its concrete non-overlapping plays. It is
Anthias-style: no state, no clock of its own, so running it twice, or after a restart in the
middle of a slot, gives the same plays with the same keys (device, rule, planned start).

Work is shared: each rule is expanded once (not once per device), and devices that the same
set of rules addresses (normally every device of a village) are resolved once and stamped.
`rematerialize` recomputes only the devices a changed rule touches (old ∪ new targets).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from schedules.model import (
    BilingualPair,
    Dropped,
    DropReason,
    Item,
    Play,
    Priority,
    Programme,
    ProgrammeEntry,
    Rule,
    Silence,
    StationSettings,
    Topology,
    require_aware,
)
from schedules.recurrence import occurrences
from schedules.resolve import Candidate, resolve, trim_segments

Airable = Callable[[str, datetime], bool]


def _always(_content_id: str, _at: datetime) -> bool:
    return True


@dataclass(frozen=True, eq=False)
class Timetable(Mapping[str, tuple[Play, ...]]):
    """device_id → sorted plays; also what was dropped (to tell the cadre) and the window."""

    plays: dict[str, tuple[Play, ...]]
    dropped: dict[str, tuple[Dropped, ...]]
    window_start: datetime
    window_end: datetime
    computed_at: datetime
    rule_versions: Mapping[str, int] = field(default_factory=dict)

    def __getitem__(self, device_id: str) -> tuple[Play, ...]:
        return self.plays[device_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self.plays)

    def __len__(self) -> int:
        return len(self.plays)


def materialize(
    rules: Sequence[Rule],
    topology: Topology,
    window_start: datetime,
    window_end: datetime,
    now: datetime,
    settings: StationSettings = StationSettings(),
    airable: Airable | None = None,
) -> Timetable:
    """Plays per device with start < window_end and end > window_start, as known at `now`.

    Rules created after `now` are ignored, so materialize(now=t) is also the audit answer
    "what was planned at t".
    """
    _check_window(window_start, window_end, now)
    devices = topology.all_devices()
    plays, dropped = _materialize_devices(rules, topology, devices, window_start, window_end,
                                          now, settings, airable or _always)
    versions = {r.id: r.version for r in rules if r.created_at <= now}
    return Timetable(plays, dropped, window_start, window_end, now, versions)


def rematerialize(
    previous: Timetable,
    old_rule: Rule | None,
    new_rule: Rule | None,
    rules: Sequence[Rule],
    topology: Topology,
    now: datetime,
    settings: StationSettings = StationSettings(),
    airable: Airable | None = None,
) -> Timetable:
    """`previous` with only the devices the changed rule targets (before or after) recomputed.

    `rules` is the full current rule set (with `new_rule`, without a deleted one). A delete is
    (old_rule, None); a creation (None, new_rule). Same window as `previous`.
    """
    require_aware(now, "now")
    affected: set[str] = set()
    for r in (old_rule, new_rule):
        if r is not None:
            affected |= topology.devices_of(r.targets)
    relevant = _rules_touching(rules, topology, affected)
    plays, dropped = _materialize_devices(relevant, topology, sorted(affected), previous.window_start,
                                          previous.window_end, now, settings, airable or _always)
    new_plays = dict(previous.plays)
    new_plays.update(plays)
    new_dropped = {d: v for d, v in previous.dropped.items() if d not in affected}
    new_dropped.update({d: v for d, v in dropped.items() if v})
    versions = dict(previous.rule_versions)
    if old_rule is not None:
        versions.pop(old_rule.id, None)
    if new_rule is not None and new_rule.created_at <= now:
        versions[new_rule.id] = new_rule.version
    return Timetable(new_plays, new_dropped, previous.window_start, previous.window_end, now, versions)


def what_plays(plays: Sequence[Play], now: datetime) -> tuple[Play | None, datetime | None]:
    """(the play on air at `now` or None, the next instant the answer changes or None)."""
    require_aware(now, "now")
    starts = [p.start for p in plays]
    i = bisect.bisect_right(starts, now) - 1
    if i >= 0 and plays[i].start <= now < plays[i].end:
        return plays[i], plays[i].end
    nxt = i + 1
    return None, (plays[nxt].start if nxt < len(plays) else None)


# ---------------------------------------------------------------- internals


def _check_window(start: datetime, end: datetime, now: datetime) -> None:
    require_aware(start, "window_start")
    require_aware(end, "window_end")
    require_aware(now, "now")
    if end <= start:
        raise ValueError("Khoảng thời gian rỗng / the window is empty (end <= start)")


def _rules_touching(rules: Iterable[Rule], topology: Topology, devices: set[str]) -> list[Rule]:
    villages = {topology.village_of[d] for d in devices if d in topology.village_of}
    communes = {topology.commune_of[v] for v in villages if v in topology.commune_of}
    return [r for r in rules
            if not (r.targets.devices.isdisjoint(devices) and r.targets.villages.isdisjoint(villages)
                    and r.targets.communes.isdisjoint(communes))]


def _materialize_devices(rules: Iterable[Rule], topology: Topology, devices: Sequence[str], window_start: datetime,
                         window_end: datetime, now: datetime, settings: StationSettings, airable: Airable,
                         ) -> tuple[dict[str, tuple[Play, ...]], dict[str, tuple[Dropped, ...]]]:
    known = [r for r in rules if r.created_at <= now]
    air_cache: dict[tuple[str, datetime], bool] = {}

    def can_air(cid: str, at: datetime) -> bool:
        k = (cid, at)
        v = air_cache.get(k)
        if v is None:
            v = air_cache[k] = bool(airable(cid, at))
        return v

    wanted = set(devices)
    per_rule: list[tuple[list[Candidate], list[Dropped]]] = []
    rules_of_device: dict[str, list[int]] = {d: [] for d in devices}
    for idx, rule in enumerate(known):
        cands, drops = rule_candidates(rule, window_start, window_end, settings, can_air)
        per_rule.append((cands, drops))
        if not cands and not drops:
            continue
        for d in topology.devices_of(rule.targets):
            if d in wanted:
                rules_of_device[d].append(idx)

    # Devices addressed by the same rules share one resolution (normally a whole village).
    groups: dict[tuple[int, ...], list[str]] = {}
    for d, rule_idxs in rules_of_device.items():
        groups.setdefault(tuple(rule_idxs), []).append(d)

    plays: dict[str, tuple[Play, ...]] = {}
    dropped: dict[str, tuple[Dropped, ...]] = {}
    for idxs, devs in groups.items():
        cands = [c for i in idxs for c in per_rule[i][0]]
        base_drops = [x for i in idxs for x in per_rule[i][1]]
        placed, drops = resolve(cands, settings) if cands else ([], [])
        placed = [p for p in placed if p.end > window_start and p.start < window_end]
        all_drops = base_drops + drops
        for d in devs:
            plays[d] = tuple(Play(d, p.rule.id, p.start, p.end, p.rule.priority, p.segments, p.planned,
                                  p.rule.version, p.interrupted, p.rule.title) for p in placed)
            if all_drops:
                dropped[d] = tuple(Dropped(d, x.rule_id, x.planned_start, x.priority, x.reason,
                                           x.detail, x.content_ids) for x in all_drops)
    return plays, dropped


def rule_candidates(rule: Rule, window_start: datetime, window_end: datetime,
                    settings: StationSettings, can_air: Airable) -> tuple[list[Candidate], list[Dropped]]:
    """Occurrences of one rule that may touch the window, filtered by validity, length, quiet
    hours and airability; device-agnostic (computed once per rule)."""
    prog = rule.programme
    full = timedelta(seconds=prog.duration_s)
    emergency = rule.priority == Priority.EMERGENCY
    # a play shifted by up to max delay, or started before the window, can still overlap it
    delay = settings.default_max_delay_s if rule.max_delay_s is None else rule.max_delay_s
    lookback = full + timedelta(seconds=delay)
    lo = window_start - lookback
    if rule.valid_from is not None and rule.valid_from > lo:
        lo = rule.valid_from
    if rule.created_at > lo:
        lo = rule.created_at  # occurrences before the rule existed never aired
    hi = window_end
    if rule.valid_until is not None and rule.valid_until < hi:
        hi = rule.valid_until
    if rule.cancelled_at is not None and rule.cancelled_at < hi:
        hi = rule.cancelled_at
    if hi <= lo:
        return [], []

    cands: list[Candidate] = []
    drops: list[Dropped] = []
    too_long = prog.duration_s > settings.max_programme_s and not emergency
    for at in occurrences(rule.recurrence, lo, hi):
        if too_long:
            drops.append(Dropped("", rule.id, at, rule.priority, DropReason.TOO_LONG,
                                 f"chương trình dài {prog.duration_s:.0f}s > {settings.max_programme_s:.0f}s"
                                 f" / programme longer than the station maximum"))
            continue
        if not emergency and settings.in_quiet_hours(at, at + full):
            drops.append(Dropped("", rule.id, at, rule.priority, DropReason.QUIET_HOURS,
                                 "giờ yên tĩnh / quiet hours"))
            continue
        kept, removed = _airable_programme(prog, at, can_air)
        if removed:
            reason = DropReason.NOT_AIRABLE if kept is None else DropReason.ITEM_REMOVED
            drops.append(Dropped("", rule.id, at, rule.priority, reason,
                                 "nội dung hết hạn, lưu trữ hoặc chưa duyệt / content expired, archived"
                                 " or not approved", tuple(removed)))
        if kept is None:
            continue
        dur = full if kept is prog else timedelta(seconds=kept.duration_s)
        interrupted = False
        if rule.cancelled_at is not None and at + dur > rule.cancelled_at:
            dur, interrupted = rule.cancelled_at - at, True
        segs = kept.segments()
        if interrupted:
            segs = trim_segments(segs, dur)
        cands.append(Candidate(rule, at, dur, segs, interrupted))
    return cands, drops


def _airable_programme(prog: Programme, at: datetime, can_air: Airable) -> tuple[Programme | None, list[str]]:
    """The programme without items that may not air at `at` (None if nothing audible is left)."""
    removed = [i.content_id for i in prog.items() if not can_air(i.content_id, at)]
    if not removed:
        return prog, []
    gone = set(removed)
    entries: list[ProgrammeEntry] = []
    for e in prog.entries:
        if isinstance(e, Item):
            if e.content_id not in gone:
                entries.append(e)
        elif isinstance(e, BilingualPair):
            # keep the language that may still air
            entries.extend(x for x in (e.first, e.second) if x.content_id not in gone)
        else:
            entries.append(e)
    audible = [e for e in entries if not isinstance(e, Silence)]
    if not audible:
        return None, removed
    return Programme(tuple(entries), prog.repeat), removed
