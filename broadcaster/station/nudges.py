"""Turning "these devices' timetables changed" into "sync now" nudges (docs/device-protocol.md §8).

For each device: bring its manifest up to date (so the nudge carries the version the device will fetch, and
the fetch is a cache hit), then publish `{version, emergency, at}` to its SSE connections and its retained MQTT
topic. When a manifest holds an emergency, the village topic is bumped first: one message wakes the village.
Work runs on one background thread (a cadre's request does not wait for a thousand signatures), coalescing
bursts; `flush()` waits for it (tests, benchmarks).
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import select

from broadcaster.protocol.wire import format_time
from broadcaster.station import manifests
from broadcaster.station.context import StationContext, device_topic, village_topic
from broadcaster.station.models import DeviceCredential, VillageNudge
from broadcaster.station.push.sse import SseHub
from loa.db import session_scope
from loa.org.models import Device

log = logging.getLogger("loa.broadcaster.nudges")


class Nudger:
    def __init__(self, engine: Engine, ctx: StationContext, clock: Callable[[], datetime], hub: SseHub,
                 mqtt: Any | None = None, background: bool = True) -> None:
        self.engine, self.ctx, self.clock, self.hub, self.mqtt = engine, ctx, clock, hub, mqtt
        self.background = background
        self._pending: set[int] = set()
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
            return self._cond.wait_for(lambda: not self._pending and not self._busy, timeout)

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()

    # -- the work ---------------------------------------------------------------------------------------------
    def run_now(self, device_ids: set[int], attempts: int = 4, chunk: int = 50) -> int:
        """Build and publish in chunks, each committed then published: with a thousand devices the first ones
        hear of an emergency after one chunk's work, not after everyone's manifest is signed."""
        from sqlalchemy.exc import OperationalError

        ids = sorted(device_ids)
        woken: set[tuple[int, int]] = set()  # villages already nudged in this run
        sent = 0
        for i in range(0, len(ids), chunk):
            for attempt in range(attempts):
                try:
                    sent += self._run(set(ids[i:i + chunk]), woken)
                    break
                except OperationalError as exc:  # SQLite: a request stored a manifest between our read and write
                    if attempt == attempts - 1 or "locked" not in str(exc).lower():
                        raise
                    threading.Event().wait(0.02 * (attempt + 1))
        return sent

    def _run(self, device_ids: set[int], woken: set[tuple[int, int]]) -> int:
        now = self.clock()
        at = format_time(now)
        messages: list[tuple[Device, str, dict[str, Any]]] = []
        emergency_villages: set[tuple[int, int]] = set()
        with session_scope(self.engine) as session:
            rows = session.exec(select(Device, DeviceCredential.uid)
                                .join(DeviceCredential, DeviceCredential.device_id == Device.id)
                                .where(Device.id.in_(sorted(device_ids)), DeviceCredential.revoked_at.is_(None),
                                       Device.revoked_at.is_(None), Device.village_id.is_not(None))).all()
            for device, uid in rows:
                entry = manifests.current(session, self.ctx, device, uid,
                                          manifests.timetable_version(session, device.id), now)
                messages.append((device, uid, {"version": entry.version, "emergency": entry.emergency, "at": at}))
                if entry.emergency and (device.commune_id, device.village_id) not in woken:
                    emergency_villages.add((device.commune_id, device.village_id))
            serials = {}
            for commune_id, village_id in emergency_villages:
                row = session.get(VillageNudge, village_id) or VillageNudge(village_id=village_id, serial=0)
                row.serial += 1
                session.add(row)
                serials[(commune_id, village_id)] = row.serial
        # Published after the commit: a device that syncs on the nudge finds the new manifest stored.
        woken |= emergency_villages
        for (commune_id, village_id), serial in serials.items():
            self._mqtt(village_topic(commune_id, village_id), {"version": str(serial), "emergency": True, "at": at})
        for device, uid, message in messages:
            self.hub.publish(device.id, message)
            self._mqtt(device_topic(device.commune_id, uid), message)
        self.sent += len(messages)
        return len(messages)

    def _mqtt(self, topic: str, message: dict[str, Any]) -> None:
        if self.mqtt is not None:
            try:
                self.mqtt.publish(topic, message)
            except Exception:  # noqa: BLE001
                log.exception("MQTT publish to %s failed", topic)
