"""Priority resolution on one device: candidates in, non-overlapping plays out.

Policy (see docs/schedules.md):
1. Emergencies keep their planned start; a later emergency that overlaps an earlier one queues
   right after it (same level never pre-empts). They are never dropped for lack of room.
2. Other plays are placed greedily by rank: first plays that were already on air when the
   outranking rule was created ("anchored": a priority rule saved at 06:05 does not move the
   normal play running since 06:00), then higher priority, earlier planned start, rule id.
3. A play whose slot is taken is shifted to the first gap that holds it whole, but no later
   than planned start + max delay (the rule's, or the station default) and never into quiet
   hours; otherwise it is dropped as OUTRANKED (or PREEMPTED when an emergency took the slot).
4. An emergency that starts while a play runs cuts it (end = emergency start, interrupted).
   Only a play at its planned start is cut this way; a shifted play looks for a whole gap.
5. A cancellation cuts the rule's play running at `cancelled_at` and removes the later ones.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from schedules.model import Dropped, DropReason, Priority, Rule, Segment, StationSettings


@dataclass(slots=True)
class Candidate:
    """One occurrence of one rule, device-agnostic, before resolution."""

    rule: Rule
    planned: datetime
    duration: timedelta
    segments: tuple[Segment, ...]
    interrupted: bool = False


@dataclass(slots=True)
class Placed:
    rule: Rule
    planned: datetime
    start: datetime
    end: datetime
    segments: tuple[Segment, ...]
    interrupted: bool


def _drop(c: Candidate, reason: DropReason, detail: str) -> Dropped:
    return Dropped("", c.rule.id, c.planned, c.rule.priority, reason, detail)


def resolve(cands: list[Candidate], settings: StationSettings) -> tuple[list[Placed], list[Dropped]]:
    """Resolve collisions among one device's candidates. Deterministic, order-independent."""
    placed: list[Placed] = []
    drops: list[Dropped] = []
    emerg = sorted((c for c in cands if c.rule.priority == Priority.EMERGENCY),
                   key=lambda c: (c.planned, c.rule.id))
    others = [c for c in cands if c.rule.priority != Priority.EMERGENCY]

    e_placed: list[Placed] = []
    prev_end: datetime | None = None
    for c in emerg:
        start = c.planned if prev_end is None or prev_end <= c.planned else prev_end
        p = Placed(c.rule, c.planned, start, start + c.duration, c.segments, c.interrupted)
        e_placed.append(p)
        prev_end = p.end
    e_iv = _Intervals([p.start for p in e_placed], [p.end for p in e_placed])

    busy: list[tuple[datetime, datetime]] = []
    anchored = _anchored(others) if others else set()
    others.sort(key=lambda c: (0 if id(c) in anchored else 1, -c.rule.priority, c.planned, c.rule.id))
    default_delay = timedelta(seconds=settings.default_max_delay_s)
    for c in others:
        delay = default_delay if c.rule.max_delay_s is None else timedelta(seconds=c.rule.max_delay_s)
        got = _fit(c, c.planned + delay, busy, e_iv)
        if isinstance(got, DropReason):
            why = "khung giờ đã kín / no room before its limit"
            if got is DropReason.PREEMPTED:
                why = "phát khẩn cấp chiếm khung giờ / an emergency holds the slot"
            drops.append(_drop(c, got, why))
            continue
        start, end, cut = got
        if start != c.planned and settings.in_quiet_hours(start, end):
            drops.append(_drop(c, DropReason.QUIET_HOURS, "dời vào giờ yên tĩnh / pushed into quiet hours"))
            continue
        busy.append((start, end))
        busy.sort()
        segs = trim_segments(c.segments, end - start) if cut else c.segments
        placed.append(Placed(c.rule, c.planned, start, end, segs, cut or c.interrupted))

    placed.extend(e_placed)
    out = [p for p in (_cancel(p) for p in placed) if p is not None]
    out.sort(key=lambda p: (p.start, -p.rule.priority))
    return out, drops


def _anchored(others: list[Candidate]) -> set[int]:
    """Candidates already on air when an overlapping, higher-ranked rule was created."""
    latest_created = max(c.rule.created_at for c in others)
    earliest = min(c.planned for c in others)
    if latest_created <= earliest:  # the common case: every rule predates every play
        return set()
    out: set[int] = set()
    for c in others:
        end = c.planned + c.duration
        for h in others:
            if (h.rule.priority > c.rule.priority and h.rule.created_at > c.planned
                    and h.planned < end and c.planned < h.planned + h.duration):
                out.add(id(c))
                break
    return out


class _Intervals:
    """The emergencies' intervals, by start, not overlapping (each starts at or after the previous one's end):
    looked up by bisection, not scanned. An emergency "until cancelled" of a short clip is ~13,500 of them, and a
    play it blocks steps past them one by one: scanning them all at each step was quadratic."""

    __slots__ = ("starts", "ends")

    def __init__(self, starts: list[datetime], ends: list[datetime]) -> None:
        self.starts, self.ends = starts, ends

    def containing(self, t: datetime) -> datetime | None:
        """The end of the interval holding `t` (at most one: they do not overlap)."""
        i = bisect_right(self.starts, t) - 1
        return self.ends[i] if i >= 0 and t < self.ends[i] else None

    def next_start(self, t: datetime) -> datetime | None:
        """The first start after `t`."""
        i = bisect_right(self.starts, t)
        return self.starts[i] if i < len(self.starts) else None

    def end_of_first_at(self, start: datetime) -> datetime:
        """The end of the first interval starting at `start` (one of the starts)."""
        return self.ends[bisect_left(self.starts, start)]


def _fit(c: Candidate, limit: datetime, busy: list[tuple[datetime, datetime]],
         e_iv: _Intervals) -> tuple[datetime, datetime, bool] | DropReason:
    """First start >= planned where `c` fits, as (start, end, cut) — or a DropReason."""
    t = c.planned
    d = c.duration
    last_blocker_emergency = False
    while True:
        if t > limit:
            return DropReason.PREEMPTED if last_blocker_emergency else DropReason.OUTRANKED
        blocked = False
        for s, e in busy:
            if s <= t < e:
                t, blocked, last_blocker_emergency = e, True, False
                break
        if not blocked:
            em_end = e_iv.containing(t)
            if em_end is not None:
                t, blocked, last_blocker_emergency = em_end, True, True
        if blocked:
            continue
        next_busy = min((s for s, _ in busy if s > t), default=None)
        next_em = e_iv.next_start(t)
        end = t + d
        if (next_busy is None or end <= next_busy) and (next_em is None or end <= next_em):
            return t, end, False
        if next_em is not None and (next_busy is None or next_em <= next_busy) and t == c.planned:
            return t, next_em, True  # on air when the emergency starts: cut, marked interrupted
        # does not fit whole here: jump past the blocker that closes the gap
        if next_em is not None and (next_busy is None or next_em <= next_busy):
            t = e_iv.end_of_first_at(next_em)
            last_blocker_emergency = True
        else:
            t = next((e for s, e in busy if s == next_busy))
            last_blocker_emergency = False


def trim_segments(segments: tuple[Segment, ...], length: timedelta) -> tuple[Segment, ...]:
    total = length.total_seconds()
    out = []
    for s in segments:
        if s.offset_s >= total:
            break
        if s.offset_s + s.duration_s > total:
            s = replace(s, duration_s=total - s.offset_s)
        out.append(s)
    return tuple(out)


def _cancel(p: Placed) -> Placed | None:
    at = p.rule.cancelled_at
    if at is None or p.end <= at:
        return p
    if p.start >= at:
        return None
    return Placed(p.rule, p.planned, p.start, at, trim_segments(p.segments, at - p.start), True)
