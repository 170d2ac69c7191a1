"""Ways past a refused overlap, as times to try: the same times moved later or earlier, or each clashing time
moved to just after the play it clashes with. Pure: the caller checks each candidate with the real conflict
check (rules_service.preview) and offers only those that pass."""
from __future__ import annotations

import math

SHIFTS_MIN = (15, -15, 30, -30, 60, -60, 90, -90, 120, -120, 180, -180)  # the nearest free time first
GAP_S = 60  # a minute of quiet after the other play, so the two are heard as two


def _minutes(hhmm: str) -> int:
    return _seconds(hhmm) // 60


def _seconds(clock: str) -> int:
    """Seconds into the day of "HH:MM" or "HH:MM:SS" (a one-off play starts where the cadre's click put it,
    seconds and all)."""
    parts = [int(p) for p in clock.split(":")]
    return parts[0] * 3600 + parts[1] * 60 + (parts[2] if len(parts) > 2 else 0)


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def shifted(times: list[str], minutes: int) -> list[str] | None:
    """Every time moved by `minutes`; None when one would leave the day (the schedule's days would change)."""
    out = [_minutes(t) + minutes for t in times]
    if any(m < 0 or m >= 24 * 60 for m in out):
        return None
    return sorted({_hhmm(m) for m in out})


def after_clash(times: list[str], own_s: float, clash_times: list[str], clash_s: float) -> list[str] | None:
    """Each of `times` whose play (`own_s` long) overlaps a play of the other schedule (at `clash_times`,
    "HH:MM" or "HH:MM:SS", `clash_s` long, the same days) moved to the first whole minute at least a minute
    after that play ends; the others kept. None when nothing overlaps on the clock or a moved time would leave
    the day. Worked in seconds: a one-off at 06:09:20 that lasts 100 s ends at 06:11:00.2, so 06:11 still meets
    it (reading it as 06:09 would say 06:11 is free, and the real conflict check would refuse that way)."""
    out, moved = [], False
    for t in times:
        start = _seconds(t)
        for c in sorted(clash_times, key=_seconds):
            c_start = _seconds(c)
            if start < c_start + clash_s and c_start < start + own_s:
                start = math.ceil((c_start + clash_s + GAP_S) / 60) * 60
                moved = True
        if start >= 24 * 3600:
            return None
        out.append(_hhmm(start // 60))
    return sorted(set(out)) if moved else None


def time_candidates(times: list[str]) -> list[list[str]]:
    """The same times moved by each of SHIFTS_MIN, nearest first, those that stay within the day."""
    return [c for m in SHIFTS_MIN if (c := shifted(times, m)) is not None]
