"""Signed commands to the SSE streams of every API process (docs/device-protocol.md §4a, §8).

A command is pushed at once to the streams of the process that issued it (and to MQTT, which reaches every
device whatever replica it talks to). Without a broker, a device whose SSE stream is held by ANOTHER replica, or
any device when the change was made by `loa scheduler` / `loa worker` (no streams at all), would act only at its
next manifest. So the issuer also stores the command (`control_commands`, kept for its two-minute lifetime) and
each API process polls that table every `interval_s` (0.5 s, one indexed query on the primary key) and pushes
the commands other processes stored to the targeted devices it holds streams for. A device that gets a command
twice (its own replica pushed it, MQTT too) ignores the duplicate by its seq."""
from __future__ import annotations

import logging
import threading
import uuid
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from broadcaster.station.models import ControlCommandRow
from broadcaster.station.push.sse import COMMAND, SseHub
from loa.db import table_of

log = logging.getLogger("loa.broadcaster.commands")
_T = table_of(ControlCommandRow)
KEEP = timedelta(minutes=2)  # a command's lifetime (broadcaster/station/commands.py COMMAND_TTL)

ORIGIN = uuid.uuid4().hex  # this process


def store(engine: Engine, seq: int, issued_at: datetime, device_ids: list[int], envelope: dict[str, Any],
          origin: str = ORIGIN) -> None:
    """Keep the command for the other processes; drop those past their lifetime on the way. On SQLite behind
    this process's write lock, like every short write of the broadcaster (seq.allocate, manifests.store)."""
    from broadcaster.station.manifests import write_lock

    with write_lock(engine), engine.begin() as conn:
        conn.execute(sa.delete(_T).where(_T.c.issued_at < issued_at - KEEP))
        conn.execute(sa.insert(_T).values(seq=seq, issued_at=issued_at, origin=origin,
                                          device_ids=sorted(device_ids), envelope=envelope))


class CommandRelay:
    """Polls `control_commands` and pushes what other processes issued to this process's SSE streams."""

    def __init__(self, engine: Engine, hub: SseHub, interval_s: float = 0.5, origin: str = ORIGIN) -> None:
        self.engine, self.hub, self.interval_s, self.origin = engine, hub, interval_s, origin
        self.last_seq: int | None = None
        self.relayed = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        try:
            self.poll()  # bearings now: a command issued elsewhere right after start is relayed, not skipped
        except Exception:  # noqa: BLE001
            log.exception("reading the newest stored command failed; the loop tries again")
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="loa-command-relay", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def poll(self) -> int:
        """Push the commands stored since the last poll; returns how many device pushes were made. The first
        poll only takes its bearings (what was issued before this process started is not replayed)."""
        with self.engine.connect() as conn:
            if self.last_seq is None:
                self.last_seq = int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(_T.c.seq), 0))).scalar_one())
                return 0
            rows = conn.execute(sa.select(_T.c.seq, _T.c.origin, _T.c.device_ids, _T.c.envelope)
                                .where(_T.c.seq > self.last_seq).order_by(_T.c.seq)).all()
        pushed = 0
        for seq, origin, device_ids, envelope in rows:
            self.last_seq = max(self.last_seq, int(seq))
            if origin == self.origin:
                continue
            for device_id in device_ids or []:
                if self.hub.connected(int(device_id)):
                    self.hub.publish(int(device_id), {COMMAND: envelope})
                    pushed += 1
        self.relayed += pushed
        return pushed

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.poll()
            except Exception:  # noqa: BLE001 — the database may be briefly away; try again next interval
                log.exception("relaying commands to SSE streams failed")
