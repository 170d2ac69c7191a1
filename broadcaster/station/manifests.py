"""Each device's signed manifest, built from the stored timetable (schedules.store) and cached.

A manifest is rebuilt and re-signed only when its *source* changes: the device's timetable version, its
volume and mute, its identity, the covered day, or the signing key. Requests in between are answered from a
process cache (or the `device_manifests` row after a restart): most are a `304` from one indexed lookup.
Building also grants the device the files it lists (`device_audio_grants`), which is what the audio endpoint
checks: a device can fetch only the hashes of its own current or recent manifests.
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from broadcaster.manifest_builder import build_manifest, coverage
from broadcaster.station.context import StationContext
from broadcaster.station.models import DeviceAudioGrant, DeviceManifestRow
from content.library.models import ContentItem
from loa.errors import NotFound
from loa.org.models import Device

RECENT_GRANT = timedelta(days=7)


@dataclass(frozen=True)
class CachedManifest:
    source_key: str
    version: str
    emergency: bool
    body: bytes  # the signed envelope as sent

    @property
    def etag(self) -> str:
        return f'"{self.version}"'


class ManifestCache:
    """device id → last built manifest, in this process. Bounded: a station has thousands of devices, not
    millions, and each entry is a few kilobytes."""

    def __init__(self, limit: int = 50_000) -> None:
        self.limit = limit
        self._data: dict[int, CachedManifest] = {}
        self._lock = threading.Lock()

    def get(self, device_id: int, source_key: str) -> CachedManifest | None:
        hit = self._data.get(device_id)
        return hit if hit is not None and hit.source_key == source_key else None

    def put(self, device_id: int, entry: CachedManifest) -> None:
        with self._lock:
            if len(self._data) >= self.limit and device_id not in self._data:
                self._data.pop(next(iter(self._data)))
            self._data[device_id] = entry

    def drop(self, device_id: int) -> None:
        self._data.pop(device_id, None)


def no_manifest() -> NotFound:
    return NotFound("no_manifest", "Thiết bị chưa được gán thôn nên chưa có lịch",
                    "The device has no village yet, so no manifest")


def source_key(ctx: StationContext, uid: str, village_id: int | None, volume: int, muted: bool,
               timetable_version: str | None, now: datetime) -> str:
    day = coverage(now, ctx.timezone)[0].date().isoformat()
    return "|".join([uid, str(village_id), str(volume), "1" if muted else "0", timetable_version or "-", day,
                     ctx.active_key().key_id])


def _sizes(session: Session, ctx: StationContext, hashes: set[str]) -> dict[str, int]:
    """Byte counts of the files (the content table knows them; the store file is the fallback). A file's size
    is a fact of its hash, so known sizes are remembered for the process (bounded)."""
    sizes: dict[str, int] = {sha: _KNOWN_SIZES[sha] for sha in hashes if sha in _KNOWN_SIZES}
    unknown = hashes - set(sizes)
    if unknown:
        for sha, size in session.exec(select(ContentItem.audio_sha256, ContentItem.size_bytes).where(
                ContentItem.audio_sha256.in_(sorted(unknown)))):
            if size:
                sizes[sha] = int(size)
    missing = hashes - set(sizes)
    if missing:
        from content.store import AudioStore, StoreError

        store = AudioStore(ctx.audio_dir)
        for sha in missing:
            try:
                sizes[sha] = store.path_for(sha).stat().st_size
            except (StoreError, OSError):
                pass  # not in the store: the segment cannot air, it is left out
    if len(_KNOWN_SIZES) > 100_000:
        _KNOWN_SIZES.clear()
    _KNOWN_SIZES.update(sizes)
    return sizes


_KNOWN_SIZES: dict[str, int] = {}


def _plays(session: Session, ctx: StationContext, device_id: int, start: datetime,
           end: datetime) -> tuple[list[dict[str, Any]], dict[str, int]]:
    from schedules import store

    rows = store.device_plays(session, device_id, start, end)
    hashes = {s["sha256"] for r in rows for s in r.segments if s.get("kind") == "item" and s.get("sha256")}
    sizes = _sizes(session, ctx, hashes)
    plays = []
    for r in rows:
        segments = [s for s in r.segments if s.get("kind") != "item" or s.get("sha256") in sizes]
        if not segments:
            continue
        plays.append({"start": r.start, "end": r.end, "priority": int(r.priority), "segments": segments,
                      "key": (r.device_id, r.rule_key, r.planned_start)})
    return plays, sizes


def build(session: Session, ctx: StationContext, device: Device, uid: str, key: str,
          now: datetime) -> CachedManifest:
    window_start, window_end = coverage(now, ctx.timezone)
    plays, sizes = _plays(session, ctx, device.id, window_start, window_end)
    manifest = build_manifest(uid, plays, now, volume=int(device.volume), muted=bool(device.muted), tz=ctx.timezone,
                              sizes=sizes)
    envelope = ctx.active_key().sign(manifest)
    body = json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    entry = CachedManifest(key, manifest.version, manifest.emergency, body)
    # Another thread (the nudger, a parallel request) may store the same device at once: an upsert, so the
    # second writer simply overwrites. Both wrote the same content: the manifest is a function of its source.
    dialect = session.get_bind().dialect.name
    if dialect in ("sqlite", "postgresql"):
        _upsert(session, dialect, device.id, entry, manifest.needed_hashes(), now)
    else:
        for attempt in range(3):
            try:
                with session.begin_nested():
                    _store(session, device.id, entry, manifest.needed_hashes(), now)
                break
            except IntegrityError:
                if attempt == 2:
                    raise
    if ctx.cache is not None:
        ctx.cache.put(device.id, entry)
    return entry


def _upsert(session: Session, dialect: str, device_id: int, entry: CachedManifest, hashes: set[str],
            now: datetime) -> None:
    """Two prepared upserts instead of an ORM load-and-flush per row (a third of the build time)."""
    row_stmt, grant_stmt = _upserts(dialect)
    session.execute(row_stmt, {"device_id": device_id, "source_key": entry.source_key, "version": entry.version,
                               "emergency": entry.emergency, "envelope": entry.body.decode("utf-8"),
                               "built_at": now})
    if hashes:
        session.execute(grant_stmt, [{"device_id": device_id, "sha256": sha, "listed_at": now}
                                     for sha in sorted(hashes)])


_UPSERTS: dict[str, tuple[Any, Any]] = {}


def _upserts(dialect: str) -> tuple[Any, Any]:
    """Built once per dialect, so SQLAlchemy's compiled cache serves every later call."""
    if dialect not in _UPSERTS:
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        rows, grants = DeviceManifestRow.__table__, DeviceAudioGrant.__table__
        stmt = insert(rows)
        row_stmt = stmt.on_conflict_do_update(index_elements=[rows.c.device_id], set_={
            c: stmt.excluded[c] for c in ("source_key", "version", "emergency", "envelope", "built_at")})
        stmt = insert(grants)
        grant_stmt = stmt.on_conflict_do_update(index_elements=[grants.c.device_id, grants.c.sha256],
                                                set_={"listed_at": stmt.excluded.listed_at})
        _UPSERTS[dialect] = (row_stmt, grant_stmt)
    return _UPSERTS[dialect]


def _store(session: Session, device_id: int, entry: CachedManifest, hashes: set[str], now: datetime) -> None:
    row = session.get(DeviceManifestRow, device_id) or DeviceManifestRow(device_id=device_id, source_key="",
                                                                          version="", envelope="", built_at=now)
    row.source_key, row.version, row.emergency = entry.source_key, entry.version, entry.emergency
    row.envelope, row.built_at = entry.body.decode("utf-8"), now
    session.add(row)
    for sha in hashes:
        grant = session.get(DeviceAudioGrant, (device_id, sha))
        if grant is None:
            session.add(DeviceAudioGrant(device_id=device_id, sha256=sha, listed_at=now))
        else:
            grant.listed_at = now
            session.add(grant)
    session.flush()


def current(session: Session, ctx: StationContext, device: Device, uid: str, timetable_version: str | None,
            now: datetime) -> CachedManifest:
    """The device's manifest for `now`: from the process cache, the stored row, or freshly built."""
    if device.village_id is None:
        raise no_manifest()
    key = source_key(ctx, uid, device.village_id, int(device.volume), bool(device.muted), timetable_version, now)
    if ctx.cache is not None:
        hit = ctx.cache.get(device.id, key)
        if hit is not None:
            return hit
    row = session.get(DeviceManifestRow, device.id)
    if row is not None and row.source_key == key:
        entry = CachedManifest(key, row.version, row.emergency, row.envelope.encode("utf-8"))
        if ctx.cache is not None:
            ctx.cache.put(device.id, entry)
        return entry
    return build(session, ctx, device, uid, key, now)


def current_retrying(engine, ctx: StationContext, ident: Any, now: datetime, attempts: int = 4) -> CachedManifest:  # noqa: ANN001
    """`current()` in its own transaction, retried when SQLite refuses the write: a transaction that read
    first and writes second fails at once ("database is locked", no busy wait) if another writer, such as the
    nudger storing the same manifest, committed in between; a fresh transaction then usually finds the row."""
    from sqlalchemy.exc import OperationalError

    from loa.db import session_scope

    for attempt in range(attempts):
        try:
            with session_scope(engine) as s:
                device = s.get(Device, ident.device_id)
                return current(s, ctx, device, ident.uid, ident.timetable_version, now)
        except OperationalError as exc:
            if attempt == attempts - 1 or "locked" not in str(exc).lower():
                raise
            import time

            time.sleep(0.01 * (attempt + 1))
    raise AssertionError("unreachable")


def timetable_version(session: Session, device_id: int) -> str | None:
    from schedules import store

    return store.device_version(session, device_id)


def may_fetch(session: Session, device_id: int, sha256: str, now: datetime) -> bool:
    listed = session.exec(select(DeviceAudioGrant.listed_at).where(
        DeviceAudioGrant.device_id == device_id, DeviceAudioGrant.sha256 == sha256)).first()
    return listed is not None and listed > now - RECENT_GRANT


def forget(session: Session, ctx: StationContext, device_id: int) -> None:
    """Drop the cached manifest (after revocation): the next build starts from scratch."""
    if ctx.cache is not None:
        ctx.cache.drop(device_id)
    ctx.identity_changed([device_id])  # revocation takes effect at once in this process
    session.execute(sa.delete(DeviceManifestRow.__table__).where(DeviceManifestRow.__table__.c.device_id == device_id))


def cached_for(ctx: StationContext, ident: Any, now: datetime) -> CachedManifest | None:
    """The fast path: a process-cache hit from the identity lookup alone (no further query)."""
    if ctx.cache is None or ident.village_id is None:
        return None
    key = source_key(ctx, ident.uid, ident.village_id, ident.volume, ident.muted, ident.timetable_version, now)
    return ctx.cache.get(ident.device_id, key)
