"""Occurrences of a rule's recurrence in a window.

RRULEs are expanded by python-dateutil in *local wall-clock time* of the rule's zone
(the zone of `dtstart`, normally Asia/Ho_Chi_Minh), then given that zone. So "06:00 daily"
stays 06:00 local even in a zone with daylight saving, and a device whose clock runs in UTC
still gets the same instants.

Defined behaviour (RFC 5545, as dateutil implements it):
- MONTHLY with BYMONTHDAY=29/30/31 skips months that lack that day (February, April…);
  use BYMONTHDAY=-1 for "the last day of every month".
- UNTIL is inclusive. A local date-time UNTIL is read in the rule's zone; an UTC ("…Z")
  UNTIL is converted to the rule's zone first; a date-only UNTIL (20261130) includes that
  whole local day.
- COUNT counts occurrences, also when `times` gives several start times per day.
- An occurrence before dtstart never exists.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo

import dateutil.rrule as _dateutil_rrule
from dateutil.rrule import DAILY, HOURLY, MINUTELY, MONTHLY, SECONDLY, WEEKLY, YEARLY, rrule, rrulestr

from schedules.model import Every, OneOff, Recurrence, Recurring, require_aware

_UNTIL_Z = re.compile(r"UNTIL=(\d{8}T\d{6})Z", re.IGNORECASE)
_UNTIL_DATE = re.compile(r"UNTIL=(\d{8})(?![\dT])", re.IGNORECASE)
_FORBIDDEN = re.compile(r"(DTSTART|RDATE|EXDATE|EXRULE)", re.IGNORECASE)
_BY_TIME = re.compile(r"BY(HOUR|MINUTE|SECOND)=", re.IGNORECASE)


class RecurrenceError(ValueError):
    """A rule string dateutil cannot expand, with a bilingual message."""


class ExpansionBudgetExceeded(RecurrenceError):
    """dateutil walked more months than allowed without finishing (a rule that (almost) never occurs)."""


# ---------------------------------------------------------------- a work bound inside dateutil
#
# dateutil yields only when it finds an occurrence. Between two occurrences it walks every period (day, hour…)
# and never looks at UNTIL, so a rule whose filters never match ("FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30") walks to
# the year 9999: 14 s of CPU measured for one expansion, and `islice` cannot stop it. Its walk rebuilds its
# per-month tables once per month it enters (`_iterinfo.rebuild`), so counting those calls bounds the walk.
# The counter lives on one rrule instance (`budgeted`), so every other expansion behaves exactly as before.


_IterInfo = _dateutil_rrule._iterinfo


class _BudgetedIterInfo(_IterInfo):
    __slots__ = ()

    def __init__(self, rrule: rrule) -> None:
        # the parent walks `self.__slots__`, which is empty here: give it the parent's
        for attr in _IterInfo.__slots__:
            setattr(self, attr, None)
        self.rrule = rrule

    def rebuild(self, year: int, month: int) -> None:
        left = vars(self.rrule).get("_loa_months_left")  # set by budgeted() on its own copy only
        if left is not None:
            if left <= 0:
                raise ExpansionBudgetExceeded(
                    "Quy tắc lặp hầu như không bao giờ xảy ra hoặc quá phức tạp để kiểm tra"
                    " / the RRULE (almost) never occurs or is too complex to check")
            vars(self.rrule)["_loa_months_left"] = left - 1
        super().rebuild(year, month)


_dateutil_rrule._iterinfo = _BudgetedIterInfo  # type: ignore[misc]  # replacing dateutil's class is the point


def budgeted(r: rrule, months: int) -> rrule:
    """A copy of `r` whose expansion raises ExpansionBudgetExceeded after walking `months` months."""
    copy = r.replace()
    vars(copy)["_loa_months_left"] = months
    return copy


def occurrences(rec: Recurrence, start: datetime, end: datetime) -> list[datetime]:
    """Start instants s of `rec` with start <= s < end, sorted, tz-aware.

    Naive `start`/`end` raise ValueError: a window must say which zone it is in.
    """
    require_aware(start, "window start")
    require_aware(end, "window end")
    if end <= start:
        return []
    if isinstance(rec, OneOff):
        return [rec.at] if start <= rec.at < end else []
    if isinstance(rec, Every):
        return _every(rec, start, end)
    if isinstance(rec, Recurring):
        return _recurring(rec, start, end)
    raise TypeError(f"unknown recurrence {type(rec).__name__}")


def _every(rec: Every, start: datetime, end: datetime) -> list[datetime]:
    step = timedelta(seconds=rec.interval_s)
    k = max(0, math.ceil((start - rec.start) / step))
    out: list[datetime] = []
    while True:
        if rec.count is not None and k >= rec.count:
            break
        s = rec.start + k * step
        if s >= end or (rec.until is not None and s >= rec.until):
            break
        out.append(s)
        k += 1
    return out


def _local_naive(dt: datetime, tz: tzinfo | None) -> datetime:
    return dt.astimezone(tz).replace(tzinfo=None)


@lru_cache(maxsize=65536)
def _parse(text: str, dtstart_naive: datetime, tzkey: str) -> rrule:
    """Parse an RRULE string against a naive local dtstart (cached: rules repeat across devices)."""
    body = text.strip()
    if body.upper().startswith("RRULE:"):
        body = body[6:]
    if _FORBIDDEN.search(body) or "\n" in body:
        raise RecurrenceError(
            "Chỉ một dòng RRULE, ngày bắt đầu nhập riêng / only a single RRULE line; dtstart is separate"
        )
    tz = ZoneInfo(tzkey)

    def to_local(m: re.Match[str]) -> str:
        utc = datetime.strptime(m.group(1), "%Y%m%dT%H%M%S").replace(tzinfo=timezone.utc)
        return "UNTIL=" + utc.astimezone(tz).strftime("%Y%m%dT%H%M%S")

    body = _UNTIL_Z.sub(to_local, body)
    # "until a date" means through the end of that local day
    body = _UNTIL_DATE.sub(lambda m: f"UNTIL={m.group(1)}T235959", body)
    try:
        parsed = rrulestr(body, dtstart=dtstart_naive)
    except (ValueError, TypeError, KeyError) as exc:
        raise RecurrenceError(f"Quy tắc lặp không hợp lệ / invalid RRULE {text!r}: {exc}") from exc
    if not isinstance(parsed, rrule):
        raise RecurrenceError(f"Quy tắc lặp không hợp lệ / invalid RRULE {text!r}")
    return parsed


def _tzkey(dt: datetime) -> str:
    key = getattr(dt.tzinfo, "key", None)
    if not isinstance(key, str):
        raise ValueError("dtstart must use a zoneinfo.ZoneInfo zone (e.g. Asia/Ho_Chi_Minh)")
    return key


@dataclass(frozen=True)
class RuleParts:
    """What dateutil keeps of a parsed rule only in private attributes (python-dateutil is held to 2.9.x in
    pyproject.toml; every expansion reads them, so a renamed one fails the recurrence tests at once)."""
    freq: int
    interval: int
    count: int | None
    until: datetime | None
    dtstart: datetime


def parts(r: rrule) -> RuleParts:
    a = vars(r)
    return RuleParts(a["_freq"], a["_interval"], a["_count"], a["_until"], a["_dtstart"])


_PERIOD = {WEEKLY: timedelta(days=7), DAILY: timedelta(days=1), HOURLY: timedelta(hours=1),
           MINUTELY: timedelta(minutes=1), SECONDLY: timedelta(seconds=1)}


def _fast_forward(r: rrule, window_start: datetime) -> rrule:
    """Move dtstart of an uncounted WEEKLY/DAILY/sub-daily rule close to the window.

    dateutil walks every period from dtstart; for a rule started a year ago that is hundreds of
    steps per expansion (hundreds of thousands for an hourly one). Jumping by whole multiples of the
    period keeps the phase (weekday, INTERVAL parity, minute of the hour), so the occurrences are unchanged.
    """
    p = parts(r)
    if p.count is not None or p.freq not in _PERIOD:
        return r
    period = _PERIOD[p.freq] * p.interval
    lag = window_start - p.dtstart - period
    if lag <= timedelta(0):
        return r
    return r.replace(dtstart=p.dtstart + (lag // period) * period)


def _recurring(rec: Recurring, start: datetime, end: datetime) -> list[datetime]:
    tzkey = _tzkey(rec.dtstart)
    tz = rec.dtstart.tzinfo
    lo, hi = _local_naive(start, tz), _local_naive(end, tz)
    dt0 = rec.dtstart.replace(tzinfo=None)
    if not rec.times:
        r = _parse(rec.rrule, dt0, tzkey)
        if parts(r).count is None:
            r = _fast_forward(r, lo)
        found = r.between(lo, hi, inc=True)
        return [d.replace(tzinfo=tz) for d in found if d < hi]
    return [d.replace(tzinfo=tz) for d in _with_times(rec, dt0, lo, hi, tzkey)]


def _with_times(rec: Recurring, dt0: datetime, lo: datetime, hi: datetime, tzkey: str) -> list[datetime]:
    if _BY_TIME.search(rec.rrule):
        raise RecurrenceError(
            "Dùng giờ phát hoặc BYHOUR/BYMINUTE, không dùng cả hai / give times or BYHOUR, not both"
        )
    days = _parse(rec.rrule, datetime.combine(dt0.date(), time(0)), tzkey)
    day_parts = parts(days)
    if day_parts.freq not in (DAILY, WEEKLY, MONTHLY, YEARLY):
        raise RecurrenceError("Giờ phát chỉ dùng với lặp theo ngày/tuần/tháng/năm / times need FREQ≥DAILY")
    times = sorted(set(rec.times))
    until = day_parts.until
    count = day_parts.count
    out: list[datetime] = []
    if count is None:
        days = _fast_forward(days, lo - timedelta(days=1))
        day_iter = days.between(datetime.combine(lo.date(), time(0)) - timedelta(days=1), hi, inc=True)
        for d in day_iter:
            for t in times:
                inst = datetime.combine(d.date(), t)
                if inst < dt0 or (until is not None and inst > until):
                    continue
                if lo <= inst < hi:
                    out.append(inst)
        return out
    # COUNT counts occurrences from the very first one, so walk from dtstart (bounded by COUNT).
    seen = 0
    for d in days.replace(count=None):
        for t in times:
            inst = datetime.combine(d.date(), t)
            if inst < dt0:
                continue
            if seen >= count or inst >= hi:
                return out
            seen += 1
            if inst >= lo:
                out.append(inst)
    return out


# ---------------------------------------------------------------- lazy, bounded expansion


def iter_occurrences(rec: Recurrence, start: datetime, months: int) -> Iterator[datetime]:
    """Start instants s >= start of `rec`, in order, one at a time (the caller decides when to stop).

    dateutil may walk at most `months` months (counted from dtstart for a COUNT rule, from near `start`
    otherwise) to find them: beyond that ExpansionBudgetExceeded is raised, so a rule that almost never occurs
    cannot keep a request busy.
    """
    require_aware(start, "start")
    if isinstance(rec, OneOff):
        if rec.at >= start:
            yield rec.at
        return
    if isinstance(rec, Every):
        step = timedelta(seconds=rec.interval_s)
        k = max(0, math.ceil((start - rec.start) / step))
        while rec.count is None or k < rec.count:
            s = rec.start + k * step
            if rec.until is not None and s >= rec.until:
                return
            yield s
            k += 1
        return
    if not isinstance(rec, Recurring):
        raise TypeError(f"unknown recurrence {type(rec).__name__}")
    tzkey = _tzkey(rec.dtstart)
    tz = rec.dtstart.tzinfo
    lo = _local_naive(start, tz)
    dt0 = rec.dtstart.replace(tzinfo=None)
    if not rec.times:
        r = _parse(rec.rrule, dt0, tzkey)
        r = budgeted(_fast_forward(r, lo) if parts(r).count is None else r, months)
        for d in r:
            if d >= lo:
                yield d.replace(tzinfo=tz)
        return
    if _BY_TIME.search(rec.rrule):
        raise RecurrenceError(
            "Dùng giờ phát hoặc BYHOUR/BYMINUTE, không dùng cả hai / give times or BYHOUR, not both")
    days = _parse(rec.rrule, datetime.combine(dt0.date(), time(0)), tzkey)
    day_parts = parts(days)
    if day_parts.freq not in (DAILY, WEEKLY, MONTHLY, YEARLY):
        raise RecurrenceError("Giờ phát chỉ dùng với lặp theo ngày/tuần/tháng/năm / times need FREQ≥DAILY")
    times = sorted(set(rec.times))
    until, count = day_parts.until, day_parts.count
    if count is None:
        days = _fast_forward(days, lo - timedelta(days=1))
    seen = 0
    for d in budgeted(days.replace(count=None) if count is not None else days, months):
        for t in times:
            inst = datetime.combine(d.date(), t)
            if inst < dt0 or (until is not None and inst > until):
                continue
            if count is not None:
                if seen >= count:
                    return
                seen += 1
            if inst >= lo:
                yield inst.replace(tzinfo=tz)
        if until is not None and d > until:
            return
