"""Standby files (docs/device-protocol.md §4b): the approved emergency messages a device holds before any
emergency needs them, so that starting one is a signed command and nothing else.

Which files: the commune's content items of kind `emergency` that are approved in their current version
(`approved_version == version`), rendered and not expired (what `content.library.service.is_airable` says), and meant for the whole
commune or for the device's own village; the most recently reviewed first, at most `MAX_FILES` and
`MAX_BYTES` in all (a village box's SD card and a 3G link pay for every one).

They are listed in each device's manifest (so the manifest stays the one source of truth, signed, and the
listing grants the download like any entry), and the set is part of the manifest's source key: approving or
withdrawing an emergency message changes the manifests of that commune. The set is read from the database at
most once per `ttl_s` per commune and process (another replica's or the worker's approval is seen within
that, and at the device's next heartbeat, which names the current manifest version).
"""
from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from loa.db import table_of

MAX_FILES = 12
MAX_BYTES = 24 * 1024 * 1024


class StandbySet:
    """What one village of a commune holds in standby: sha256 → size, and a short fingerprint of it."""

    __slots__ = ("files", "fingerprint")

    def __init__(self, files: dict[str, int]) -> None:
        self.files = files
        self.fingerprint = "-" if not files else hashlib.sha256(
            ",".join(f"{sha}:{size}" for sha, size in sorted(files.items())).encode()).hexdigest()[:12]


EMPTY = StandbySet({})


def select_files(rows: list[tuple[str, int, int | None]], village_id: int | None) -> dict[str, int]:
    """Pure: rows (sha256, size, village id or None) in preference order → the capped standby set."""
    out: dict[str, int] = {}
    total = 0
    for sha, size, village in rows:
        if village is not None and village != village_id:
            continue
        if sha in out or not size or size <= 0:
            continue
        if len(out) >= MAX_FILES or total + size > MAX_BYTES:
            break
        out[sha] = int(size)
        total += int(size)
    return out


class StandbyCache:
    """commune id → its standby rows, re-read at most every `ttl_s` (per process)."""

    def __init__(self, ttl_s: float = 30.0, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s, self.monotonic = ttl_s, monotonic
        self._rows: dict[int, tuple[list[tuple[str, int, int | None]], float]] = {}
        self._sets: dict[tuple[int, int | None], StandbySet] = {}
        self._lock = threading.Lock()

    def fresh(self, commune_id: int) -> bool:
        hit = self._rows.get(commune_id)
        return hit is not None and self.monotonic() - hit[1] <= self.ttl_s

    def peek(self, commune_id: int, village_id: int | None) -> StandbySet | None:
        """The set if it is fresh, else None (no database: for the event loop's fast path)."""
        if not self.fresh(commune_id):
            return None
        return self._sets.get((commune_id, village_id)) or self._make(commune_id, village_id)

    def get(self, conn: Connection, commune_id: int, village_id: int | None, now: datetime) -> StandbySet:
        hit = self.peek(commune_id, village_id)
        if hit is not None:
            return hit
        started = self.monotonic()
        rows = load_rows(conn, commune_id, now)
        with self._lock:
            self._rows[commune_id] = (rows, started)
            for key in [k for k in self._sets if k[0] == commune_id]:
                del self._sets[key]
        return self._make(commune_id, village_id)

    def _make(self, commune_id: int, village_id: int | None) -> StandbySet:
        rows = self._rows.get(commune_id, ([], 0.0))[0]
        made = StandbySet(select_files(rows, village_id)) if rows else EMPTY
        with self._lock:
            self._sets[(commune_id, village_id)] = made
        return made

    def forget(self, commune_id: int | None = None) -> None:
        """Re-read at the next use (this process approved or withdrew an emergency message)."""
        with self._lock:
            if commune_id is None:
                self._rows.clear()
                self._sets.clear()
            else:
                self._rows.pop(commune_id, None)
                for key in [k for k in self._sets if k[0] == commune_id]:
                    del self._sets[key]


def standby_for(conn: Connection, cache: "StandbyCache | None", commune_id: int, village_id: int | None,
                now: datetime) -> StandbySet:
    """The set, from `cache` if there is one (a tool's StationContext has none: one query each time)."""
    if cache is not None:
        return cache.get(conn, commune_id, village_id, now)
    return StandbySet(select_files(load_rows(conn, commune_id, now), village_id))


def load_rows(conn: Connection, commune_id: int, now: datetime) -> list[tuple[str, int, int | None]]:
    """One indexed query: the commune's approved, rendered emergency messages, newest review first."""
    from content.library.models import ContentItem

    t = table_of(ContentItem)
    query = sa.select(t.c.audio_sha256, t.c.size_bytes, t.c.village_id).where(
        t.c.commune_id == commune_id, t.c.kind == "emergency", t.c.status == "approved",
        t.c.approved_version == t.c.version, t.c.render_state == "ready", t.c.audio_sha256.is_not(None),
        sa.or_(t.c.expires_at.is_(None), t.c.expires_at > now),
    ).order_by(t.c.reviewed_at.desc().nulls_last(), t.c.id.desc()).limit(MAX_FILES * 4)
    return [(sha, int(size or 0), village) for sha, size, village in conn.execute(query)]
