"""Closing the SSE streams of identities revoked anywhere (docs/device-protocol.md §8, §12).

A revocation made in this process closes the device's streams at once (`SseHub.close_device`, called by the
revoke route). One made by another API replica, or the old identity of a box that was enrolled again, is
found here: every `interval_s` (the identity re-check interval, 0.5 s) one indexed query asks which of the
identities with an open stream in this process are revoked (or gone), and those streams are closed. Nothing
runs while no stream is open; `check_now()` runs a check at once (after an enrollment in this process)."""
from __future__ import annotations

import logging
import threading

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from broadcaster.station.models import DeviceCredential
from broadcaster.station.push.sse import SseHub
from loa.db import table_of
from loa.org.models import Device

log = logging.getLogger("loa.broadcaster.sse")
CHUNK = 500
_C, _D = table_of(DeviceCredential), table_of(Device)


def still_valid(engine: Engine, uids: set[str]) -> set[str]:
    """Those of `uids` whose credential and device are both unrevoked."""
    valid: set[str] = set()
    ordered = sorted(uids)
    with engine.connect() as conn:
        for i in range(0, len(ordered), CHUNK):
            query = (sa.select(_C.c.uid).select_from(_C.join(_D, _C.c.device_id == _D.c.id))
                     .where(_C.c.uid.in_(ordered[i:i + CHUNK]), _C.c.revoked_at.is_(None), _D.c.revoked_at.is_(None)))
            valid.update(uid for (uid,) in conn.execute(query))
    return valid


class StreamGuard:
    def __init__(self, engine: Engine, hub: SseHub, interval_s: float = 0.5) -> None:
        self.engine, self.hub, self.interval_s = engine, hub, interval_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.checks = 0

    def start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="loa-sse-guard", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def check_now(self) -> None:
        self._wake.set()

    def check(self) -> int:
        """Close the streams of revoked identities; returns how many streams."""
        uids = self.hub.open_identities()
        if not uids:
            return 0
        self.checks += 1
        revoked = uids - still_valid(self.engine, uids)
        return self.hub.close_identities(revoked) if revoked else 0

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval_s)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.check()
            except Exception:  # noqa: BLE001 — the database may be briefly away; try again next interval
                log.exception("checking open SSE streams for revoked devices failed")
