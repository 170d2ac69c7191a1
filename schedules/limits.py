"""How often a schedule may play: the recurrence limits checked before any rule is saved or previewed.

A rule is refused (422) when
- two of its plays start less than `min_interval_s` apart (5 minutes by default), or
- one loudspeaker would get more than `max_plays_per_72h` of its plays in any 72 hours (every loudspeaker a rule
  targets gets each of its plays, so this is also the per-device count),
- or its expansion needs more work than `scan_months` months of dateutil's walk (a rule that almost never
  occurs, e.g. "30 February").

The check walks the rule lazily from its first play at or after `now` over `check_days` days and stops at the
first violation: at most (check_days / 3 + 1) * max_plays_per_72h occurrences are ever produced, and the
obvious cases (FREQ=SECONDLY, MINUTELY with a small INTERVAL) are refused from the rule's text before any
expansion. Emergencies are repeated back to back on purpose ("until cancelled", gap 0, is legitimate and
stays so); only their total number of plays per loudspeaker is bounded (`emergency_max_plays`, 21,600 = one
a second for the default 6 h): that refuses only a programme of under a second repeated for hours, or a
station maximum raised to 24 h with a programme of a few seconds, and says which gap would be accepted.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from dateutil.rrule import HOURLY, MINUTELY, SECONDLY

from loa.errors import LoaError
from schedules.model import Priority, Recurrence, Recurring, Rule, Topology
from schedules.recurrence import _parse, _tzkey, iter_occurrences, parts

WINDOW = timedelta(hours=72)
_UNIT_S = {HOURLY: 3600, MINUTELY: 60, SECONDLY: 1}


class RecurrenceLimitError(LoaError, ValueError):
    """A rule over the limits (permanent): a stable `code`, Vietnamese and English messages, and the figures."""

    status = 422

    def __init__(self, code: str, message_vi: str, message_en: str, **extra: Any) -> None:
        super().__init__(f"{message_vi} / {message_en}")
        self._describe(code, message_vi, message_en)
        self.extra = extra


@dataclass(frozen=True, slots=True)
class RecurrenceLimits:
    min_interval_s: int = 300
    max_plays_per_72h: int = 288
    emergency_max_plays: int = 21600  # one a second for the default 6 h: any real programme repeats freely
    check_days: int = 366      # how far ahead the pattern is checked (a year: seasonal BYMONTH rules too)
    scan_months: int = 240     # dateutil's walk to the next play, at most (a leap day needs 48)

    @classmethod
    def from_settings(cls, settings: Any) -> "RecurrenceLimits":
        """From loa.settings.Settings (LOA_SCHEDULE_MIN_INTERVAL_S, …); defaults when `settings` is None."""
        if settings is None:
            return cls()
        return cls(min_interval_s=settings.schedule_min_interval_s,
                   max_plays_per_72h=settings.schedule_max_plays_per_72h,
                   emergency_max_plays=settings.emergency_max_plays)


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:g}"


def _too_frequent(limits: RecurrenceLimits, gap_s: float | None, at: datetime | None) -> RecurrenceLimitError:
    when = f" (lúc {at:%d/%m/%Y %H:%M:%S})" if at else ""
    when_en = f" (at {at:%Y-%m-%d %H:%M:%S})" if at else ""
    return RecurrenceLimitError(
        "schedule_too_frequent",
        f"Lịch lặp quá dày: hai lần phát phải cách nhau ít nhất {_minutes(limits.min_interval_s)} phút{when}",
        f"The schedule repeats too often: plays must be at least {_minutes(limits.min_interval_s)} minutes "
        f"apart{when_en}",
        min_interval_s=limits.min_interval_s, gap_s=gap_s)


def _static_gap_s(rec: Recurring) -> float | None:
    """The spacing a sub-daily FREQ promises before any expansion (FREQ=SECONDLY → 1 s), else None."""
    if rec.times:
        return None
    r = _parse(rec.rrule, rec.dtstart.replace(tzinfo=None), _tzkey(rec.dtstart))
    p = parts(r)
    unit = _UNIT_S.get(p.freq)
    return None if unit is None else float(unit * p.interval)


def check_recurrence(rec: Recurrence, now: datetime, limits: RecurrenceLimits = RecurrenceLimits(),
                     valid_from: datetime | None = None, valid_until: datetime | None = None) -> None:
    """Raise RecurrenceLimitError if `rec` plays too often; RecurrenceError (ValueError) if it is invalid.

    Only plays inside the rule's validity count (every 5 minutes for the two hours of a market day is 24
    plays, not 864), but a sub-daily FREQ that is too dense is refused whatever its validity."""
    if isinstance(rec, Recurring):
        gap = _static_gap_s(rec)
        if gap is not None and gap < limits.min_interval_s:
            raise _too_frequent(limits, gap, None)
    start = now
    for first in (getattr(rec, "dtstart", None) or getattr(rec, "start", None), valid_from):
        if first is not None and first > start:
            start = first
    end = start + timedelta(days=limits.check_days)
    if valid_until is not None and valid_until < end:
        end = valid_until
    window: deque[datetime] = deque()
    previous: datetime | None = None
    for at in iter_occurrences(rec, start, limits.scan_months):
        if at >= end:
            break
        if previous is not None and (at - previous).total_seconds() < limits.min_interval_s:
            raise _too_frequent(limits, (at - previous).total_seconds(), at)
        window.append(at)
        while window[0] <= at - WINDOW:
            window.popleft()
        if len(window) > limits.max_plays_per_72h:
            raise RecurrenceLimitError(
                "schedule_too_many_plays",
                f"Lịch có quá nhiều lần phát: tối đa {limits.max_plays_per_72h} lần trong 72 giờ cho mỗi cụm loa"
                f" (vượt từ {at:%d/%m/%Y %H:%M})",
                f"Too many plays: at most {limits.max_plays_per_72h} per loudspeaker in any 72 hours"
                f" (exceeded at {at:%Y-%m-%d %H:%M})",
                max_plays_per_72h=limits.max_plays_per_72h)
        previous = at


def check_emergency_plays(once_s: float, repeat: int | None, gap_s: float, emergency_max_s: float,
                          limits: RecurrenceLimits = RecurrenceLimits()) -> None:
    """Refuse an emergency that would make more than `emergency_max_plays` plays per loudspeaker.

    "Until cancelled" lasts at most the station's emergency maximum (6 h by default, 24 h at most), so it makes
    emergency_max_s / (programme + gap) plays: with the defaults only a programme + gap shorter than 1 s is
    refused, and the message says which gap makes it acceptable."""
    interval = once_s + gap_s
    plays = repeat if repeat is not None else math.ceil(emergency_max_s / interval) if interval > 0 else math.inf
    if plays <= limits.emergency_max_plays:
        return
    need_gap = max(0, math.ceil(emergency_max_s / limits.emergency_max_plays - once_s))
    raise RecurrenceLimitError(
        "emergency_too_many_plays",
        f"Tin khẩn cấp quá ngắn để lặp liên tục: sẽ phát {plays} lần (tối đa {limits.emergency_max_plays}). "
        f"Hãy đặt khoảng nghỉ ít nhất {need_gap} giây giữa các lần, hoặc chọn số lần phát",
        f"The emergency programme is too short to repeat until cancelled: {plays} plays (at most "
        f"{limits.emergency_max_plays}). Set a gap of at least {need_gap} s, or a number of repetitions",
        plays=plays, emergency_max_plays=limits.emergency_max_plays, min_gap_s=need_gap)


def _plays_in(rule: Rule, lo: datetime, hi: datetime, months: int, stop_after: int) -> int:
    """How many plays of `rule` start in [lo, hi), counting at most `stop_after`."""
    for bound in (rule.valid_from, rule.created_at):
        if bound is not None and bound > lo:
            lo = bound
    for bound in (rule.valid_until, rule.cancelled_at):
        if bound is not None and bound < hi:
            hi = bound
    n = 0
    if hi <= lo:
        return 0
    for at in iter_occurrences(rule.recurrence, lo, months):
        if at >= hi or n >= stop_after:
            break
        n += 1
    return n


def check_device_load(rule: Rule, others: list[Rule], topology: Topology, now: datetime,
                      limits: RecurrenceLimits = RecurrenceLimits()) -> None:
    """Refuse `rule` if, with the other schedules, one loudspeaker gets more than `max_plays_per_72h` plays in the
    next 72 hours. Emergencies do not count (they are bounded on their own, and must never block a schedule)."""
    devices = topology.devices_of(rule.targets)
    if not devices:
        return
    hi = now + WINDOW
    cap = limits.max_plays_per_72h
    load = dict.fromkeys(devices, _plays_in(rule, now, hi, limits.scan_months, cap + 1))
    for other in others:
        if other.priority == Priority.EMERGENCY or other.id == rule.id:
            continue
        shared = devices & topology.devices_of(other.targets)
        if not shared:
            continue
        try:
            n = _plays_in(other, now, hi, limits.scan_months, cap + 1)
        except ValueError:  # a rule saved before these limits that cannot be walked: it cannot air much either
            continue
        for d in shared:
            load[d] += n
    worst = max(load, key=load.__getitem__)
    if load[worst] > cap:
        raise RecurrenceLimitError(
            "device_too_many_plays",
            f"Cụm loa {worst} sẽ có {load[worst]} lần phát trong 72 giờ tới cùng các lịch khác"
            f" (tối đa {cap}). Hãy giảm số lần phát hoặc huỷ bớt lịch",
            f"Loudspeaker {worst} would get {load[worst]} plays in the next 72 hours with the other schedules"
            f" (at most {cap}). Play less often or cancel a schedule",
            device_id=worst, plays=load[worst], max_plays_per_72h=cap)
