"""Scheduled relays through the station (issue 15): which URL the loudspeakers get, and who pulls the radio.

Three ways, chosen by settings (docs/operations.md "Relays"):
- embedded default (`LOA_RELAY_VIA_STATION=true`, no Icecast): the manifest's relay URL is the station's own
  device route `/api/device/v1/streams/relay-<hash>`; the station's stream hub pulls the radio ONCE per
  stream, however many loudspeakers relay it, levels it and fans it out. The agent fetches that path with its
  device token (broadcaster/agent/player.py, `open_stream`).
- at scale (`LOA_STREAM_ICECAST_SOURCE_URL` and `LOA_STREAM_ICECAST_LISTEN_URL` set): the hub also pushes each
  relay mount to Icecast, and the manifest names the Icecast mount; Icecast carries the fan-out.
- direct (`LOA_RELAY_VIA_STATION=false`): the manifest names the radio's own URL and each agent pulls it
  (the behaviour before issue 15; for villages whose own Internet is better than the station's uplink).

`RelayRouting` is pure (settings only), so every process that builds manifests gives the same URL and the
manifest's version is stable. `RelayRunner` opens the hub's relay mounts shortly before a scheduled relay
starts and closes them after it ends; the station's own HTTP client reads the radio and feeds the mount
(relay_pull.py: every address checked, ffmpeg opens none). A mount whose radio died is opened again on the
next tick, while the agents retry on their side (broadcaster/agent/relay.py).
"""
from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable

import sqlalchemy as sa

from broadcaster.station.relay_pull import RadioPull
from broadcaster.station.streams import DEVICE_ROUTE, IcecastTarget, MountExists, StreamHub
from loa.db import table_of

log = logging.getLogger("loa.broadcaster.relays")

PREFIX = "relay-"
LEAD = timedelta(seconds=20)   # open the mount this long before the relay: agents find audio flowing at once
TAIL = timedelta(seconds=5)    # and keep it a little after its end (clocks differ by a second or two)


def mount_name(upstream: str) -> str:
    """One mount per radio stream: every loudspeaker relaying VOV1 at that hour shares one pull."""
    return PREFIX + hashlib.sha256(upstream.strip().encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class RelayRouting:
    via_station: bool = True
    icecast_listen_url: str | None = None   # set: the mounts are on Icecast (the hub pushes there)

    @classmethod
    def from_settings(cls, settings: Any) -> "RelayRouting":
        at_scale = bool(getattr(settings, "stream_icecast_source_url", None))
        listen = getattr(settings, "stream_icecast_listen_url", None) if at_scale else None
        return cls(via_station=bool(getattr(settings, "relay_via_station", True)), icecast_listen_url=listen or None)

    def device_url(self, upstream: str) -> str:
        """The URL a loudspeaker is told to play for a relay of `upstream`."""
        if not self.via_station:
            return upstream
        name = mount_name(upstream)
        if self.icecast_listen_url:
            return IcecastTarget("", self.icecast_listen_url).listen_url(name)
        return DEVICE_ROUTE.format(name=name)

    def segments(self, segments: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """A play's segments with each relay's URL replaced by the one the loudspeakers get."""
        if not self.via_station:
            return segments
        return [{**s, "url": self.device_url(s["url"])} if s.get("kind") == "relay" and s.get("url") else s
                for s in segments]


def due_relays(session: Any, now: datetime, lead: timedelta = LEAD, tail: timedelta = TAIL) -> dict[str, str]:
    """Mount name → upstream URL of every relay some loudspeaker plays within [now − tail, now + lead]."""
    from schedules.tables import TimetablePlay

    t = table_of(TimetablePlay)
    rows = session.execute(sa.select(t.c.start, t.c.end, t.c.segments).where(
        t.c.start <= now + lead, t.c.end >= now - tail)).all()
    due: dict[str, str] = {}
    for start, end, segments in rows:
        for seg in segments or []:
            if seg.get("kind") != "relay" or not seg.get("url"):
                continue
            seg_start = start + timedelta(seconds=float(seg.get("offset_s") or 0))
            seg_end = min(end, seg_start + timedelta(seconds=float(seg.get("duration_s") or 0)))
            if seg_start - lead <= now < seg_end + tail:
                due[mount_name(seg["url"])] = seg["url"]
    return due


class RelayRunner:
    """Keeps the hub's relay mounts in step with the timetable: `tick(now)` every few seconds on a thread."""

    def __init__(self, engine: Any, hub: StreamHub, clock: Callable[[], datetime], *, interval_s: float = 5.0,
                 level: bool = True, allowed_hosts: Iterable[str] = ()) -> None:
        self.engine, self.hub, self.clock, self.interval_s, self.level = engine, hub, clock, interval_s, level
        # the station opens these URLs itself now: the same rule as a "listen" (schedules/streams/urls.py)
        self.allowed_hosts = [h for h in allowed_hosts if h.strip()]
        self.refused: dict[str, str] = {}  # mount name → why its URL was not opened (logged once)
        self._pulls: dict[str, RadioPull] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.reopened = 0  # mounts opened again after their radio died (for tests and logs)
        self._seen: set[str] = set()

    def tick(self, now: datetime) -> tuple[list[str], list[str]]:
        """Open what is due and not running, close relay mounts no longer due. Returns (opened, closed)."""
        from loa.db import session_scope

        with session_scope(self.engine) as s:
            due = due_relays(s, now)
        opened, closed = [], []
        for name, url in sorted(due.items()):
            if self.hub.get(name) is not None or name in self.refused:
                continue
            why = self._refusal(url)
            if why:
                self.refused[name] = why
                log.warning("relay %s not opened: %s (%s)", name, why, url)
                continue
            try:
                # source=None: the station's own client reads the radio, checking every hop (relay_pull.py);
                # the hub's ffmpeg only reads the bytes from its pipe and opens no address itself
                mount = self.hub.open(name, source=None, level=self.level)
            except MountExists:  # opened by another tick in the meantime
                continue
            self._pulls[name] = RadioPull(mount, url, self.allowed_hosts).start()
            if name in self._seen:
                self.reopened += 1
                log.warning("relay %s (%s) ended early: opened again", name, url)
            self._seen.add(name)
            opened.append(name)
        self.refused = {n: why for n, why in self.refused.items() if n in due}  # asked again at its next hour
        self._seen &= set(due)  # tomorrow's opening of the same radio is not a "reopen"
        self._pulls = {n: p for n, p in self._pulls.items() if p.thread.is_alive()}
        for name in self.hub.names():
            if name.startswith(PREFIX) and name not in due:
                pull = self._pulls.pop(name, None)
                if pull is not None:
                    pull.stop()
                self.hub.close(name)
                self._seen.discard(name)
                closed.append(name)
        return opened, closed

    def _refusal(self, url: str) -> str:
        """Why the station must not open `url` (a machine of its own network, by name or by DNS), or ""."""
        from loa.errors import Invalid
        from schedules.streams.urls import check_resolved, check_url

        try:
            check_url(url, self.allowed_hosts)
            check_resolved(url, self.allowed_hosts)
        except Invalid as exc:
            return str(exc)
        return ""

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="loa-relays", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick(self.clock())
            except Exception:  # noqa: BLE001 — a database hiccup must not end the relays for good
                log.exception("relay tick failed")
            self._stop.wait(self.interval_s)

    def stop(self) -> None:
        self._stop.set()
        for pull in self._pulls.values():
            pull.stop()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
