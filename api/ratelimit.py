"""Per-client-address request limits for anonymous endpoints (device enrollment), kept in this process.

A sliding window: at most `limit` calls per `window` per address; the call over it gets `429 rate_limited`
with `Retry-After` = seconds until the oldest counted call leaves the window. Refused calls are not counted,
so a client that waits as told gets through.

Why in memory and not in the database: the point is to turn a flood away before it costs anything (a query, a
row). The price: with several API replicas behind a balancer an address gets up to `limit` per replica; the
limits that guard a secret (wrong enrollment codes, logins) are counted in the database for that reason.

The address is the caller's (`api.deps.client_ip`: the socket peer, or X-Forwarded-For from a trusted proxy).
An IPv6 address is counted by its /64, the block one subscriber usually gets: otherwise one home could
rotate through 2^64 addresses."""
from __future__ import annotations

import ipaddress
import math
import threading
from collections import OrderedDict, deque
from dataclasses import dataclass
from datetime import datetime, timedelta


def address_key(ip: str) -> str:
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return ip[:64]
    if addr.version == 6:
        if addr.ipv4_mapped is not None:  # ::ffff:a.b.c.d is the IPv4 client a.b.c.d
            return str(addr.ipv4_mapped)
        return str(ipaddress.ip_network(f"{addr}/64", strict=False))
    return str(addr)


@dataclass(frozen=True)
class Refusal:
    retry_after: int  # whole seconds, at least 1
    first: bool  # the first refusal of this address in this window: the one worth an audit entry


class SlidingWindowLimit:
    def __init__(self, limit: int, window: timedelta, max_keys: int = 100_000) -> None:
        self.limit, self.window, self.max_keys = limit, window, max_keys
        self._calls: OrderedDict[str, deque[datetime]] = OrderedDict()
        self._reported: dict[str, datetime] = {}  # key → end of the window whose first refusal was reported
        self._lock = threading.Lock()

    def hit(self, ip: str, now: datetime) -> Refusal | None:
        """Count a call from `ip` at `now`; None if allowed, else how long to wait."""
        key = address_key(ip)
        with self._lock:
            calls = self._calls.get(key)
            if calls is None:
                self._trim(now)
                calls = self._calls[key] = deque()
            self._calls.move_to_end(key)
            while calls and calls[0] <= now - self.window:
                calls.popleft()
            if len(calls) < self.limit:
                calls.append(now)
                return None
            wait = (calls[0] + self.window - now).total_seconds() if calls else self.window.total_seconds()
            until = self._reported.get(key)
            first = until is None or now >= until
            if first:
                self._reported[key] = now + self.window
            return Refusal(max(1, math.ceil(wait)), first)

    def _trim(self, now: datetime) -> None:
        """Bounded memory: forget idle addresses first, then the least recently seen."""
        if len(self._calls) < self.max_keys:
            return
        for key in [k for k, c in self._calls.items() if not c or c[-1] <= now - self.window]:
            del self._calls[key]
            self._reported.pop(key, None)
        while len(self._calls) >= self.max_keys:
            key, _ = self._calls.popitem(last=False)
            self._reported.pop(key, None)
