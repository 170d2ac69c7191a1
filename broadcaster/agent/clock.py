"""Clocks: the real one corrected by the station's time, and a virtual one for tests and simulations.

Village boxes often have no RTC and no NTP. Each station reply bounds the offset (server − local) to an
interval; intersecting recent intervals narrows it. See docs/device-protocol.md §9.
"""
from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Protocol

from broadcaster.protocol.wire import parse_time


class Clock(Protocol):
    def now(self) -> datetime: ...

    def raw_now(self) -> datetime: ...  # the machine's own clock, before the station's offset

    def sleep_until(self, when: datetime, wake: threading.Event | None = None) -> None: ...


class ClockEstimator:
    """Offset of the station's clock from ours, in seconds, from (t0, t1, server time) samples."""

    def __init__(self, history: int = 8) -> None:
        self.history = history
        self._intervals: list[tuple[float, float]] = []
        self.low = float("-inf")
        self.high = float("inf")
        self.offset = 0.0
        self.samples = 0

    def add_interval(self, low: float, high: float) -> float:
        self._intervals = (self._intervals + [(low, high)])[-self.history:]
        new_low = max(i[0] for i in self._intervals)
        new_high = min(i[1] for i in self._intervals)
        if new_low > new_high:  # no overlap: the local clock jumped; trust only the newest sample
            self._intervals = [(low, high)]
            new_low, new_high = low, high
        self.low, self.high = new_low, new_high
        self.offset = 0.0 if new_low <= 0.0 <= new_high else (new_low + new_high) / 2
        self.samples += 1
        return self.offset

    def add_reply(self, t0: datetime, t1: datetime, date_header: str | None,
                  server_time_header: str | None = None) -> float | None:
        """Feed one HTTP reply; t0/t1 are the raw local send/receive times. Returns the new offset."""
        if server_time_header:
            try:
                s = parse_time(server_time_header)
                return self.add_interval((s - t1).total_seconds(), (s - t0).total_seconds())
            except ValueError:
                pass
        if date_header:
            try:
                d = parsedate_to_datetime(date_header)
            except (TypeError, ValueError):
                return None
            # Date is truncated to the second: the server's instant lies in [D, D + 1 s).
            return self.add_interval((d - t1).total_seconds(), (d - t0).total_seconds() + 1.0)
        return None


class SystemClock:
    """Wall clock plus the estimated offset; sleeps wake early on `wake`."""

    def __init__(self, estimator: ClockEstimator | None = None) -> None:
        self.estimator = estimator or ClockEstimator()

    def raw_now(self) -> datetime:
        return datetime.now(timezone.utc)

    def now(self) -> datetime:
        return self.raw_now() + timedelta(seconds=self.estimator.offset)

    def sleep_until(self, when: datetime, wake: threading.Event | None = None) -> None:
        seconds = max(0.0, (when - self.now()).total_seconds())
        if wake is not None:
            wake.wait(min(seconds, 3600.0))
        else:
            time.sleep(min(seconds, 3600.0))


class VirtualClock:
    """Time that moves only when someone sleeps: 72 hours run in a fraction of a second."""

    def __init__(self, start: datetime, offset_s: float = 0.0) -> None:
        self._now = start
        self.estimator = ClockEstimator()
        self.raw_offset_s = offset_s  # how wrong the device's own clock is (for clock tests)

    def raw_now(self) -> datetime:
        return self._now + timedelta(seconds=self.raw_offset_s)

    def now(self) -> datetime:
        return self.raw_now() + timedelta(seconds=self.estimator.offset)

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)

    def sleep_until(self, when: datetime, wake: threading.Event | None = None) -> None:
        if wake is not None and wake.is_set():
            return
        target = when - timedelta(seconds=self.raw_offset_s + self.estimator.offset)
        if target > self._now:
            self._now = target
