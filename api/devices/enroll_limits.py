"""The per-address limits of the anonymous enrollment endpoints (docs/device-protocol.md §2) and how their
refusals reach the audit log.

- `enroll/start`: `LOA_ENROLL_START_LIMIT` calls per address per 10 minutes. A real box calls it once per
  10-minute code; an office enrolling a dozen boxes behind one address stays under the default.
- `enroll/poll`: `LOA_ENROLL_POLL_LIMIT` calls per address per minute (a box polls every 5 s: 12 a minute).
- `enroll/claim`: wrong codes are limited in the database by the domain (5 per 10 minutes per address).

A refused call writes nothing, except the first refusal of an address in a window: one
`device.enroll_rate_limited` audit entry, so an attacker cannot flood the log, and a cadre still sees that
someone hammered the station, from where, and on which endpoint."""
from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import Request

from api.devices.station import station_of
from api.ratelimit import Refusal, SlidingWindowLimit
from broadcaster.station.enrollment import device_actor
from loa.audit import service as audit
from loa.db import session_scope
from loa.errors import RateLimited

WINDOWS = {"start": timedelta(minutes=10), "poll": timedelta(minutes=1)}
CLAIM_WINDOW = timedelta(minutes=10)


def _limits(request: Request) -> dict[str, SlidingWindowLimit]:
    station = station_of(request.app)
    limits = station.enroll_limits
    if not limits:
        settings = station.settings
        limits.update({"start": SlidingWindowLimit(settings.enroll_start_limit, WINDOWS["start"]),
                       "poll": SlidingWindowLimit(settings.enroll_poll_limit, WINDOWS["poll"]),
                       # limit 0: every call is a refusal; only its `first` flag is used (one audit entry a window)
                       "claim": SlidingWindowLimit(0, CLAIM_WINDOW)})
    return limits


def check(request: Request, name: str, ip: str, now: datetime) -> None:
    """Count the call; raise `429 rate_limited` (with Retry-After) when the address is over its limit."""
    limit = _limits(request)[name]
    refusal = limit.hit(ip, now)
    if refusal is None:
        return
    if refusal.first:
        _audit(request, name, ip, now, limit, refusal)
    raise RateLimited(
        "rate_limited",
        f"Thiết bị ở địa chỉ này gọi đăng ký quá nhiều lần; hãy đợi {refusal.retry_after} giây rồi thử lại",
        f"Too many enrollment calls from this address; wait {refusal.retry_after} seconds and try again",
        refusal.retry_after)


def refused(request: Request, name: str, ip: str, now: datetime, exc: RateLimited) -> None:
    """A refusal decided elsewhere (the claim's wrong-code limit): audited once per address and window."""
    limit = _limits(request)[name]
    refusal = limit.hit(ip, now)
    if refusal is not None and refusal.first:
        _audit(request, name, ip, now, None, Refusal(exc.retry_after, True))


def _audit(request: Request, name: str, ip: str, now: datetime, limit: SlidingWindowLimit | None,
           refusal: Refusal) -> None:
    window = limit.window if limit is not None else CLAIM_WINDOW
    with session_scope(station_of(request.app).engine) as s:
        audit.record(s, device_actor(ip), "device.enroll_rate_limited", "enrollment", None, now,
                     endpoint=f"enroll/{name}", limit=limit.limit if limit is not None else None,
                     window_s=int(window.total_seconds()), retry_after=refusal.retry_after,
                     note="later refusals from this address in this window are not logged")
