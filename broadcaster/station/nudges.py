"""Turning "these devices' timetables changed" into "sync now" nudges (docs/device-protocol.md §8).

For each device: bring its manifest up to date (so the nudge carries the version the device will fetch, and
the fetch is a cache hit), then publish `{version, emergency, at}` to its SSE connections and its retained MQTT
topic. A batch is built whole (reads only; up to 2,000 devices a chunk), stored in one short write and only then
published. Publishing small chunks early was measured to be slower for the last device (bench/fanout.py, 1,000
agents: nudges out at p99 1.4 s with chunks of 50, 0.75 s with 500, 0.36 s all at once): the first devices'
syncs then compete with the remaining builds for this process's one interpreter lock, and both wait on each
other. When manifests hold an emergency, each such village's topic is bumped once the whole batch is stored:
one retained message that wakes any device that missed its own.
Work runs on one background thread (a cadre's request does not wait for a thousand signatures), coalescing
bursts; `flush()` waits for it (tests, benchmarks).

Pacing: the nudges of devices that a signed start command already put on air (`StationContext.commanded`: the
emergency's first repetition, §4a) are spread over `PACE_S` (at most half of what remains of that repetition),
the others go out at once. Their manifests only confirm what the command said and bring the later repetitions,
so nothing airs later; what is gained is that a thousand devices do not fetch, verify and store a manifest in
the same second, the very second in which the cadre may tap "stop" (bench/fanout.py measured the stop command
waiting behind that storm, in the station and in the devices). The manifests are stored before the first
nudge goes out, so a device that syncs earlier on its own gets the new one; a device nudged again meanwhile
(a newer change pending) is skipped here and nudged by that newer batch. The slices are published by a thread of their own: the nudger goes on building the next batch meanwhile.
"""
from __future__ import annotations

import heapq
import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any, NamedTuple

from sqlalchemy.engine import Engine
from sqlmodel import col, select

from broadcaster.manifest_builder import coverage
from broadcaster.protocol.wire import format_time
from broadcaster.station import manifests
from broadcaster.station.context import StationContext, device_topic, village_topic
from broadcaster.station.deviceauth import DeviceIdentity
from broadcaster.station.manifest_cache import CachedManifest
from broadcaster.station.models import DeviceCredential, VillageNudge
from broadcaster.station.push.sse import SseHub
from broadcaster.station.seq import allocate as allocate_seq
from broadcaster.station.stored import stored_id
from loa.db import session_scope
from loa.org.models import Device

log = logging.getLogger("loa.broadcaster.nudges")

PACE_S = 3.0     # at most this long to spread the nudges of devices on air by command
PACE_SLICES = 10


class _Nudge(NamedTuple):
    """One device's nudge: `message` goes to its SSE connections and its MQTT topic."""
    device_id: int
    commune_id: int
    uid: str
    message: dict[str, Any]


class Nudger:
    def __init__(self, engine: Engine, ctx: StationContext, clock: Callable[[], datetime], hub: SseHub,
                 mqtt: Any | None = None, background: bool = True) -> None:
        self.engine, self.ctx, self.clock, self.hub, self.mqtt = engine, ctx, clock, hub, mqtt
        self.background = background
        self._pending: set[int] = set()
        self._generation: dict[int, int] = {}  # device id → how many nudges were asked for it (stale slices)
        self._paced: list[tuple[float, int, Callable[[], None]]] = []  # a heap of (due, n, what to publish)
        self._pacer: threading.Thread | None = None
        self._paced_n = 0
        self._paced_until = 0.0  # monotonic end of the latest pacing
        self._inflight = 0
        self._cond = threading.Condition()
        self._busy = False
        self._thread: threading.Thread | None = None
        self._stop = False
        self.sent = 0

    # -- the ScheduleService listener ----------------------------------------------------------------------
    def timetable_changed(self, device_ids: set[int]) -> None:
        self.nudge(device_ids)

    def nudge(self, device_ids: set[int] | list[int]) -> None:
        if not device_ids:
            return
        # The cached identities carry the timetable version and sound: the next request reads them afresh.
        self.ctx.identity_changed(device_ids)
        if not self.background:
            self.run_now(set(device_ids))
            return
        with self._cond:
            self._pending |= set(device_ids)
            for d in device_ids:
                self._generation[d] = self._generation.get(d, 0) + 1
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="loa-nudger", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._stop:
                    self._cond.wait()
                if self._stop:
                    return
                batch, self._pending = self._pending, set()
                self._busy = True
            try:
                self.run_now(batch)
            except Exception:  # noqa: BLE001 — the devices also poll; log and go on
                log.exception("nudging %d devices failed", len(batch))
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def flush(self, timeout: float = 30.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: not self._pending and not self._busy and not self._paced
                                       and not self._inflight, timeout)

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()

    # -- the work ---------------------------------------------------------------------------------------------
    def run_now(self, device_ids: set[int], attempts: int = 4, chunk: int = 2000) -> int:
        """Build, commit, then publish, `chunk` devices at a time (a whole commune is one chunk: see the module
        docstring for why not smaller)."""
        from sqlalchemy.exc import OperationalError

        ids = sorted(device_ids)
        villages: set[tuple[int, int]] = set()  # villages with an emergency in this batch
        sent = 0
        for i in range(0, len(ids), chunk):
            for attempt in range(attempts):
                try:
                    sent += self._run(set(ids[i:i + chunk]), villages)
                    break
                except OperationalError as exc:  # SQLite: a request stored a manifest between our read and write
                    if attempt == attempts - 1 or "locked" not in str(exc).lower():
                        raise
                    threading.Event().wait(0.02 * (attempt + 1))
        if villages:  # after the paced nudges, or it would wake every device of those villages at once
            if self._paced_until > time.monotonic():
                self._later(self._paced_until, partial(self._wake_villages, set(villages)))
            else:
                self._wake_villages(villages)
        return sent

    def _wake_villages(self, villages: set[tuple[int, int]]) -> None:
        at = format_time(self.clock())
        serials: dict[tuple[int, int], int] = {}
        with manifests.write_lock(self.engine), session_scope(self.engine) as session:
            for commune_id, village_id in sorted(villages):
                row = session.get(VillageNudge, village_id) or VillageNudge(village_id=village_id, serial=0)
                row.serial += 1
                session.add(row)
                serials[(commune_id, village_id)] = row.serial
        for (commune_id, village_id), serial in serials.items():
            self._mqtt(village_topic(commune_id, village_id), {"version": str(serial), "emergency": True, "at": at})

    def _run(self, device_ids: set[int], villages: set[tuple[int, int]]) -> int:
        now = self.clock()
        messages: list[_Nudge] = []
        emergency_villages: set[tuple[int, int]] = set()
        built: list[manifests.Built] = []
        identities = self.ctx.identities
        read_at = identities.monotonic() if identities is not None else 0.0
        fresh: list[DeviceIdentity] = []
        with session_scope(self.engine) as session:  # reads, builds and signs: no write lock held meanwhile
            rows = session.exec(select(Device, DeviceCredential.uid)
                                .join(DeviceCredential, col(DeviceCredential.device_id) == col(Device.id))
                                .where(col(Device.id).in_(sorted(device_ids)),
                                       col(DeviceCredential.revoked_at).is_(None), col(Device.revoked_at).is_(None),
                                       col(Device.village_id).is_not(None))).all()
            ids = [stored_id(d) for d, _ in rows]
            stamps = manifests.timetable_stamps(session, ids)
            versions = {d: v for d, (v, _) in stamps.items()}
            stored = manifests.stored_keys(session, ids)
            todo: list[tuple[Device, int, str, CachedManifest | None, str]] = []
            for (device, uid), device_id in zip(rows, ids):
                session.expunge(device)
                entry, key = manifests.lookup(session, self.ctx, device, uid, versions.get(device_id), now,
                                              stored_key=stored.get(device_id))
                todo.append((device, device_id, uid, entry, key))
                fresh.append(DeviceIdentity(uid, device_id, device.commune_id, device.village_id,
                                            int(device.volume), bool(device.muted), versions.get(device_id)))
            window = coverage(now, self.ctx.timezone)
            plays = manifests.play_rows(session, [i for _, i, _, e, _ in todo if e is None], *window)
            to_build = sum(1 for *_, e, _ in todo if e is None)
            # One block of control seqs for the batch, taken after its plays were read (§4a).
            next_seq = allocate_seq(self.engine, to_build) if to_build else 0
            for device, device_id, uid, entry, key in todo:
                if entry is None:
                    b = manifests.prepare(session, self.ctx, device, uid, key, now, plays[device_id], seq=next_seq)
                    next_seq += 1
                    built.append(b)
                    entry = b.entry
                messages.append(_Nudge(device_id, device.commune_id, uid,
                                       {"version": entry.version, "emergency": entry.emergency}))
                if entry.emergency and device.village_id is not None:  # (the query took devices in a village)
                    emergency_villages.add((device.commune_id, device.village_id))
        manifests.store(self.engine, self.ctx, built, now)
        if identities is not None:  # what nudge() dropped, read afresh here: the nudged devices' fetches hit
            rebuilt = {b.device_id for b in built}
            for ident in fresh:
                identities.refresh(ident, read_at, timetable_stamp=stamps.get(ident.device_id, (None, None))[1],
                                   manifest_stamp=now if ident.device_id in rebuilt else None)
        # Published after the commit: a device that syncs on the nudge finds the new manifest stored.
        villages |= emergency_villages
        paced, pace_s = self._covered(messages)
        self._publish([m for m in messages if m.device_id not in paced])
        if paced:
            later = [m for m in messages if m.device_id in paced]
            slices = min(PACE_SLICES, len(later))
            started = time.monotonic()
            with self._cond:
                gens = [(m, self._generation.get(m.device_id, 0)) for m in later]
            for j in range(slices):  # slice j is due at pace_s * j / slices: the first at once
                self._later(started + pace_s * j / slices, partial(self._publish_fresh, gens[j::slices]))
            self._paced_until = max(self._paced_until, started + pace_s)
        self.sent += len(messages)
        return len(messages)

    def _later(self, due: float, fn: Callable[[], None]) -> None:
        with self._cond:
            self._paced_n += 1
            heapq.heappush(self._paced, (due, self._paced_n, fn))
            if self._pacer is None or not self._pacer.is_alive():
                self._pacer = threading.Thread(target=self._pace_loop, name="loa-nudge-pacer", daemon=True)
                self._pacer.start()
            self._cond.notify_all()

    def _publish_fresh(self, part: list[tuple[_Nudge, int]]) -> None:
        with self._cond:  # a device nudged again since (a newer change): its newer batch nudges it
            fresh = [m for m, gen in part if self._generation.get(m.device_id, 0) == gen]
        self._publish(fresh)

    def _pace_loop(self) -> None:
        """Runs the paced publications when due, on its own thread: the nudger goes on building the next batch
        meanwhile (the manifests are built and stored at once; only their nudges wait)."""
        while True:
            with self._cond:
                while not self._stop and (not self._paced or self._paced[0][0] > time.monotonic()):
                    self._cond.wait(None if not self._paced else max(0.0, self._paced[0][0] - time.monotonic()))
                if self._stop:
                    return
                _, _, fn = heapq.heappop(self._paced)
                self._inflight += 1
            try:
                fn()
            except Exception:  # noqa: BLE001 — the devices also poll; log and go on
                log.exception("a paced nudge failed")
            finally:
                with self._cond:
                    self._inflight -= 1
                    self._cond.notify_all()  # flush() waits for the last one

    def _covered(self, messages: list[_Nudge]) -> tuple[set[int], float]:
        """The devices whose nudges may be spread (on air by command), and over how long."""
        if not self.background or not self.ctx.commanded:
            return set(), 0.0
        now = time.monotonic()
        covered = {m.device_id: self.ctx.commanded.get(m.device_id, 0.0) - now for m in messages}
        paced = {d for d, left in covered.items() if left > 1.0}
        if not paced:
            return set(), 0.0
        return paced, min(PACE_S, min(covered[d] for d in paced) / 2)

    def _publish(self, messages: list[_Nudge]) -> None:
        at = format_time(self.clock())  # when it goes out (after this chunk's build), not when the chunk began
        for m in messages:
            m.message["at"] = at
            self.hub.publish(m.device_id, m.message)
            self._mqtt(device_topic(m.commune_id, m.uid), m.message)

    def _mqtt(self, topic: str, message: dict[str, Any]) -> None:
        if self.mqtt is not None:
            try:
                self.mqtt.publish(topic, message)
            except Exception:  # noqa: BLE001
                log.exception("MQTT publish to %s failed", topic)
