"""The station's in-process manifest caches (broadcaster/station/manifests.py builds and stores what they hold):
each device's last signed manifest, and the audio grants this process wrote, so the device fast path
(api/devices/fastpath.py) answers most requests from memory. Both are bounded; a miss always means "ask the
route", which reads the database."""
from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

RECENT_GRANT = timedelta(days=7)  # a device may fetch the files its manifests listed this recently


@dataclass(frozen=True)
class CachedManifest:
    source_key: str
    version: str
    emergency: bool
    body: bytes  # the signed envelope as sent
    hashes: frozenset[str] = frozenset()  # the files it lists (known when built in this process)
    seq: int = 0  # its control seq (§4a): what is stored or cached for a device only ever moves forward

    def newer_than(self, other: CachedManifest | None) -> bool:
        """May this replace `other`? Not when `other` was signed later: two writers (the nudger's batch and a
        request) may finish in either order, and the one that allocated the lower seq must not win, or a
        device that already took the higher one refuses what it is served (`manifest_replayed`)."""
        return other is None or self.seq >= other.seq

    @property
    def etag(self) -> str:
        return f'"{self.version}"'


class ManifestCache:
    """device id → last built manifest, in this process. Bounded by count and by bytes: a manifest is a few
    kilobytes, but one that lists an emergency repeated until cancelled of a short clip is megabytes (13,500
    entries, 5.4 MB), and a thousand of those would exhaust the station's memory in the very hour it is needed.
    Past the bounds the oldest entries go (the stored row answers for them). The newest seq cached for each
    device is remembered after eviction, so an entry signed earlier never comes back in its place."""

    def __init__(self, limit: int = 50_000, max_bytes: int = 512 * 1024 * 1024) -> None:
        self.limit, self.max_bytes = limit, max_bytes
        self._data: dict[int, CachedManifest] = {}
        self._seqs: dict[int, int] = {}  # device id → newest seq ever cached here (a few bytes per device)
        self._bytes = 0
        self._lock = threading.Lock()

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def get(self, device_id: int, source_key: str) -> CachedManifest | None:
        hit = self._data.get(device_id)
        return hit if hit is not None and hit.source_key == source_key else None

    def put(self, device_id: int, entry: CachedManifest) -> None:
        with self._lock:
            if entry.seq < self._seqs.get(device_id, 0):
                return  # a later-signed manifest was cached already (see CachedManifest.newer_than)
            self._seqs[device_id] = entry.seq
            old = self._data.pop(device_id, None)
            if old is not None:
                self._bytes -= len(old.body)
            while self._data and (len(self._data) >= self.limit or self._bytes + len(entry.body) > self.max_bytes):
                evicted = self._data.pop(next(iter(self._data)))
                self._bytes -= len(evicted.body)
            if len(entry.body) <= self.max_bytes:
                self._data[device_id] = entry
                self._bytes += len(entry.body)

    def drop(self, device_id: int) -> None:
        with self._lock:
            old = self._data.pop(device_id, None)
            if old is not None:
                self._bytes -= len(old.body)
            self._seqs.pop(device_id, None)  # revoked or re-enrolled: the next manifest starts afresh


class GrantCache:
    """device id → {sha256: listed_at} of the grants THIS process wrote (a manifest stored, a start command's
    files), so the audio fast path answers without a query. A subset of `device_audio_grants` (grants are only
    ever added, and age out after RECENT_GRANT in both): a miss means "ask the route", never "refused".
    Bounded: when full it is emptied, and the route (the database) answers until it fills again."""

    def __init__(self, limit: int = 400_000) -> None:
        self.limit = limit
        self._data: dict[int, dict[str, datetime]] = {}
        self._n = 0
        self._lock = threading.Lock()

    def add(self, device_ids: Iterable[int], hashes: Iterable[str], now: datetime) -> None:
        with self._lock:
            for d in device_ids:
                have = self._data.setdefault(d, {})
                for sha in hashes:
                    if sha not in have:
                        self._n += 1
                    have[sha] = now
            if self._n > self.limit:
                self._data.clear()
                self._n = 0

    def allows(self, device_id: int, sha256: str, now: datetime) -> bool:
        listed = self._data.get(device_id, {}).get(sha256)
        return listed is not None and listed > now - RECENT_GRANT

    def drop(self, device_id: int) -> None:
        with self._lock:
            self._n -= len(self._data.pop(device_id, {}))
