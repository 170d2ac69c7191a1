"""token hash → device identity, in this process, so the common request (a `304` for the manifest) needs no
database query at all.

Correctness rules (docs/device-protocol.md, "Station internals: the fast path"):
- In this process a change is seen at once: revocation (`manifests.forget`), a new timetable (the nudger's
  `timetable_changed`) and a sound change (the nudge that follows it) drop the device's entries.
- Another API replica's changes are seen within `recheck_s` (default 0.5 s): at most once per interval one
  request runs `changes()`, four small queries for rows changed since the newest change this process has seen
  (a timetable's `updated_at`, a credential's or a device's `revoked_at`, a manifest's `built_at`, which every
  nudge for a volume/mute/village change rewrites), and drops those devices' entries.
- Change stamps are written before their transaction commits (and a scheduler run stamps every commune it
  materializes with the run's own `now`), so a row can become visible with a stamp *older* than the newest one
  this process has already seen. Every `late_check_s` (default 5 s) the check therefore also looks back
  `late_slack` (default 15 minutes) behind that mark, and drops a device for every (device, stamp) pair it has
  not seen before: a late commit is seen within seconds, not after the TTL.
- Every entry is re-read from the database after `ttl_s` (default 1 hour) whatever happens: a change that left
  no newer timestamp (a station clock set back) cannot stay unseen for longer than that. It must be well above
  the devices' polling interval, or most requests would miss.
The database stays the truth: a miss or an expired entry is the one indexed lookup of `deviceauth.resolve`.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from broadcaster.station.deviceauth import DeviceIdentity
from broadcaster.station.models import DeviceCredential, DeviceManifestRow
from loa.db import table_of
from loa.org.models import Device
from schedules.tables import DeviceTimetable

# (table, device id column, change timestamp column): a row whose stamp is newer than the newest one seen
# means "this device's identity, placement, sound or timetable may have changed".
_WATCHED = (
    (table_of(DeviceTimetable), "device_id", "updated_at"),
    (table_of(DeviceCredential), "device_id", "revoked_at"),
    (table_of(Device), "id", "revoked_at"),
    (table_of(DeviceManifestRow), "device_id", "built_at"),
)


class IdentityCache:
    def __init__(self, ttl_s: float = 3600.0, recheck_s: float = 0.5, limit: int = 100_000,
                 monotonic: Callable[[], float] = time.monotonic, late_check_s: float = 5.0,
                 late_slack: timedelta = timedelta(minutes=15)) -> None:
        self.ttl_s, self.recheck_s, self.limit, self.monotonic = ttl_s, recheck_s, limit, monotonic
        self.late_check_s, self.late_slack = late_check_s, late_slack
        self._late_checked = float("-inf")
        # Per watched table, the (device id, stamp) pairs already acted on within the look-back window.
        self._seen: list[set[tuple[int, datetime]]] = [set() for _ in _WATCHED]
        self._by_hash: dict[str, tuple[DeviceIdentity, float]] = {}
        self._hashes: dict[int, set[str]] = {}  # device id → token hashes seen (kept after a drop: `refresh`)
        self._uid_of: dict[str, str] = {}       # token hash → the identity (credential) it belongs to
        self._lock = threading.Lock()
        self._marks: list[datetime | None] | None = None  # newest stamp seen per watched table
        self._checked = float("-inf")
        self._checking = threading.Lock()
        self._dropped: dict[int, float] = {}  # device id → when its entries were last dropped
        self.hits = self.misses = 0

    # -- the cache -------------------------------------------------------------------------------------------
    def get(self, token_hash: str) -> DeviceIdentity | None:
        hit = self._by_hash.get(token_hash)
        if hit is None or self.monotonic() - hit[1] > self.ttl_s:
            self.misses += 1
            return None
        self.hits += 1
        return hit[0]

    def put(self, token_hash: str, ident: DeviceIdentity, loaded_at: float | None = None) -> None:
        """Store what `deviceauth.resolve` found; `loaded_at` = when the lookup *started* (a change committed
        while it ran is then caught by the next `changes()`)."""
        loaded_at = self.monotonic() if loaded_at is None else loaded_at
        with self._lock:
            if self._dropped.get(ident.device_id, float("-inf")) >= loaded_at:
                return  # dropped while this lookup ran: what it read may be the old state
            if len(self._by_hash) >= self.limit and token_hash not in self._by_hash:
                old_hash = next(iter(self._by_hash))
                old, _ = self._by_hash.pop(old_hash)
                self._hashes.get(old.device_id, set()).discard(old_hash)
                self._uid_of.pop(old_hash, None)
            self._by_hash[token_hash] = (ident, loaded_at)
            self._hashes.setdefault(ident.device_id, set()).add(token_hash)
            self._uid_of[token_hash] = ident.uid

    def refresh(self, ident: DeviceIdentity, loaded_at: float, timetable_stamp: datetime | None = None,
                manifest_stamp: datetime | None = None) -> None:
        """Put back the fresh identity (read at `loaded_at`, after the change) for the tokens of *that same
        credential* seen before: the nudger does this after rebuilding a manifest, so the devices it nudges
        find their identity cached. A token of another credential (re-enrolled device) is never touched.
        `timetable_stamp` (the `updated_at` of the timetable row read with the identity) and `manifest_stamp`
        (the `built_at` the caller just wrote) are changes this identity already reflects: `changes()` counts
        them as seen, or every nudged device would be dropped again right after its nudge and miss once more.
        Revocations never are."""
        for index, stamp in ((0, timetable_stamp), (3, manifest_stamp)):
            if stamp is not None:
                self._seen[index].add((ident.device_id, stamp))
        with self._lock:
            hashes = [h for h in self._hashes.get(ident.device_id, ()) if self._uid_of.get(h) == ident.uid]
        for h in hashes:
            self.put(h, ident, loaded_at)

    def drop_devices(self, device_ids: Iterable[int]) -> None:
        now = self.monotonic()
        with self._lock:
            for device_id in device_ids:
                self._dropped[device_id] = now
                for h in self._hashes.get(device_id, ()):
                    self._by_hash.pop(h, None)

    def clear(self) -> None:
        with self._lock:
            self._by_hash.clear()
            self._hashes.clear()
            self._uid_of.clear()

    def __len__(self) -> int:
        return len(self._by_hash)

    # -- other processes' changes --------------------------------------------------------------------------
    def due(self) -> bool:
        return self.monotonic() - self._checked >= self.recheck_s

    def changes(self, engine: Engine) -> int:
        """Drop the entries of devices changed (by anyone) since the last call. Returns how many devices."""
        if not self._checking.acquire(blocking=False):
            return 0  # another request is checking right now
        try:
            return self._changes(engine)
        finally:
            self._checking.release()

    def _changes(self, engine: Engine) -> int:
        self._checked = self.monotonic()
        look_back = self._checked - self._late_checked >= self.late_check_s
        if look_back:
            self._late_checked = self._checked
        changed: set[int] = set()
        with engine.connect() as conn:
            if self._marks is None:  # first call: remember where the tables are; trust nothing cached before
                self._marks = [conn.execute(sa.select(sa.func.max(t.c[col]))).scalar() for t, _, col in _WATCHED]
                for i, (table, id_col, col) in enumerate(_WATCHED):
                    mark = self._marks[i]
                    if mark is not None:
                        rows = conn.execute(sa.select(table.c[id_col], table.c[col])
                                            .where(table.c[col] > mark - self.late_slack))
                        self._seen[i] = {(device_id, stamp) for device_id, stamp in rows}
                self.clear()
                return 0
            for i, (table, id_col, col) in enumerate(_WATCHED):
                mark, seen = self._marks[i], self._seen[i]
                query = sa.select(table.c[id_col], table.c[col]).where(table.c[col].is_not(None))
                if mark is not None:
                    # Newer than anything seen; and, now and then, late commits behind the mark as well.
                    query = query.where(table.c[col] > (mark - self.late_slack if look_back else mark))
                for device_id, stamp in conn.execute(query):
                    if (device_id, stamp) not in seen:
                        seen.add((device_id, stamp))
                        changed.add(device_id)
                    if mark is None or stamp > mark:
                        mark = stamp
                self._marks[i] = mark
                if mark is not None and look_back:
                    floor = mark - self.late_slack
                    self._seen[i] = {pair for pair in seen if pair[1] > floor}
        if changed:
            self.drop_devices(changed)
        return len(changed)
