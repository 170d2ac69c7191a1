"""Each device's signed manifest, built from the stored timetable (schedules.store) and cached.

A manifest is rebuilt and re-signed only when its *source* changes: the device's timetable version, its
volume and mute, its identity, the covered day, or the signing key. Requests in between are answered from a
process cache (or the `device_manifests` row after a restart): most are a `304` from one indexed lookup.
Building also grants the device the files it lists (`device_audio_grants`), which is what the audio endpoint
checks: a device can fetch only the hashes of its own current or recent manifests.
"""
from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from broadcaster.manifest_builder import assemble_manifest, coverage
from broadcaster.protocol.manifest import HOLE, Entry, versioned
from broadcaster.station.context import StationContext
from broadcaster.station.deviceauth import DeviceIdentity, revoked
from broadcaster.station.entries import Encoded
from broadcaster.station.manifest_cache import RECENT_GRANT, CachedManifest
from broadcaster.station.models import DeviceAudioGrant, DeviceManifestRow
from broadcaster.station.standby import StandbySet, standby_for
from broadcaster.station.status import insert_for
from broadcaster.station.stored import stored_id
from loa.db import table_of
from loa.errors import NotFound
from loa.org.models import Device

if TYPE_CHECKING:
    from sqlalchemy.dialects import postgresql, sqlite

HOLE_PLAIN = json.dumps(HOLE, ensure_ascii=False)  # the entries' placeholder as the envelope encodes it


def no_manifest() -> NotFound:
    return NotFound("no_manifest", "Thiết bị chưa được gán thôn nên chưa có lịch",
                    "The device has no village yet, so no manifest")


def source_key(ctx: StationContext, uid: str, village_id: int | None, volume: int, muted: bool,
               timetable_version: str | None, now: datetime, standby: str = "-") -> str:
    day = now.astimezone(ZoneInfo(ctx.timezone)).date().isoformat()  # coverage()'s first day, per request
    # "q1": manifests carry a control seq and entry sources (§4a); rows stored before that are rebuilt once.
    # `standby`: the fingerprint of the village's standby files (§4b): an approval changes the manifests.
    return "|".join([uid, str(village_id), str(volume), "1" if muted else "0", timetable_version or "-", day,
                     ctx.active_key().key_id, "q1", standby])


def _standby(session: Session, ctx: StationContext, commune_id: int, village_id: int | None,
             now: datetime) -> StandbySet:
    return standby_for(session.connection(), ctx.standby, commune_id, village_id, now)


def _sizes(ctx: StationContext, hashes: set[str]) -> dict[str, int]:
    """Byte counts of files whose segments carry none, from the store files. Segments carry the size the content
    table records (`segsizes` gave it to rows stored before), so only a file no item lists any more (its item's
    audio was replaced after the play was stored) gets here."""
    from content.store import AudioStore, StoreError

    sizes: dict[str, int] = {}
    store = AudioStore(ctx.audio_dir)
    for sha in hashes:
        try:
            sizes[sha] = store.path_for(sha).stat().st_size
        except (StoreError, OSError):
            pass  # not in the store: the segment cannot air, it is left out
    return sizes


def sizes_of(ctx: StationContext, hashes: set[str]) -> dict[str, int]:
    return _sizes(ctx, hashes)


def grant(engine: Engine, device_ids: list[int], hashes: set[str], now: datetime,
          ctx: StationContext | None = None) -> None:
    """Let these devices fetch these files now (a signed start command names them before any manifest does)."""
    from loa.db import session_scope

    _, grant_stmt = _upserts(engine.dialect.name) if engine.dialect.name in ("sqlite", "postgresql") else (None, None)
    pairs = [(d, sha) for d in sorted(device_ids) for sha in sorted(hashes)]
    with write_lock(engine), session_scope(engine) as s:
        if grant_stmt is not None:
            s.execute(grant_stmt, [{"device_id": d, "sha256": sha, "listed_at": now} for d, sha in pairs])
        else:
            for d, sha in pairs:
                s.merge(DeviceAudioGrant(device_id=d, sha256=sha, listed_at=now))
    if ctx is not None and ctx.grants is not None:  # after the commit: the fast path serves only what is stored
        ctx.grants.add(device_ids, hashes, now)


def play_rows(session: Session, device_ids: list[int], start: datetime, end: datetime) -> dict[int, list[Any]]:
    """The stored plays overlapping [start, end) of many devices in ONE query (the nudger builds
    a whole batch of manifests at once), by device, each by start time (as schedules.store.device_plays orders them).
    Segments come as their stored text (`segments_text`): the entry cache keys on it, and decodes only a miss."""
    from schedules.tables import TimetablePlay

    t = table_of(TimetablePlay)
    query = sa.select(t.c.device_id, t.c.start, t.c.end, t.c.priority,
                      sa.cast(t.c.segments, sa.Text).label("segments_text"), t.c.rule_key,
                      t.c.planned_start).where(t.c.device_id.in_(sorted(device_ids)), t.c.start < end,
                                               t.c.end > start).order_by(t.c.device_id, t.c.start, t.c.id)
    out: dict[int, list[Any]] = {d: [] for d in device_ids}
    for row in session.execute(query):
        out[row.device_id].append(row)
    return out


@dataclass(frozen=True)
class Built:
    """A manifest built and signed but not stored yet (see `store`)."""
    device_id: int
    entry: CachedManifest
    hashes: frozenset[str]


def prepare(session: Session, ctx: StationContext, device: Device, uid: str, key: str, now: datetime,
            rows: list[Any] | None = None, seq: int | None = None) -> Built:
    """Read the device's plays (or take `rows` from `play_rows`), build and sign its manifest. Reads only: the
    write is `store`'s, short. `seq`: a control seq the caller allocated (a batch takes a block at once);
    else one is allocated here, after the plays were read (§4a: a command issued before this read has a
    lower seq, so the device takes this manifest after it)."""
    device_id = stored_id(device)
    window_start, window_end = coverage(now, ctx.timezone)
    if rows is None:
        rows = play_rows(session, [device_id], window_start, window_end)[device_id]
    # Each play's entries, expanded and encoded once per process for every manifest listing it (entries.py):
    # plays a file is nowhere for are left out (an item whose size is known nowhere cannot be fetched).
    plays = ctx.entries.entries(rows, uid, ctx.relays, lambda hashes: _sizes(ctx, hashes))
    standby = _standby(session, ctx, device.commune_id, device.village_id, now)
    if seq is None:
        from broadcaster.station.seq import allocate, allocate_in

        bind = session.get_bind()
        # SQLite: a short transaction of its own behind this process's write lock (a write on the session would
        # hold the database until the request ends, and a thousand requests building at once then sleep in
        # SQLite's busy handler). PostgreSQL: on the session's own connection (no second pooled connection).
        seq = allocate(bind) if isinstance(bind, Engine) and bind.dialect.name == "sqlite" else allocate_in(session)
    encoded: dict[int, Encoded] = {}

    def listed(play: tuple[Encoded, ...]) -> list[Entry]:
        for e in play:
            encoded[id(e.entry)] = e  # alive for this build: ids are stable
        return [e.entry for e in play]

    manifest = assemble_manifest(uid, plays, now, volume=int(device.volume), muted=bool(device.muted),
                                 tz=ctx.timezone, standby=standby.files, seq=seq, expand=listed)
    pieces = [encoded[id(e)] for e in manifest.entries]
    # The version, the signature and the envelope are encoded around the entries' pieces (same bytes as
    # encoding the whole: broadcaster.protocol.manifest.versioned).
    manifest, signed, canonical = versioned(manifest, b"[" + b",".join(p.canonical for p in pieces) + b"]")
    envelope = ctx.active_key().sign_canonical(signed, canonical)
    text = json.dumps(envelope, ensure_ascii=False, separators=(",", ":"))
    if signed["entries"] is HOLE:
        text = text.replace(HOLE_PLAIN, "[" + ",".join(p.plain for p in pieces) + "]", 1)
    body = text.encode("utf-8")
    hashes = frozenset(manifest.needed_hashes())
    return Built(device_id, CachedManifest(key, manifest.version, manifest.emergency, body, hashes, seq), hashes)


def build(session: Session, ctx: StationContext, device: Device, uid: str, key: str,
          now: datetime) -> CachedManifest:
    """Build, sign and store in the caller's transaction."""
    built = prepare(session, ctx, device, uid, key, now)
    _write(session, built, now)
    if ctx.cache is not None and _kept(session, [built]):
        ctx.cache.put(built.device_id, built.entry)
    # (no GrantCache entry: the caller's transaction has not committed yet; the route serves until a store)
    return built.entry


# SQLite has one writer at a time and its busy handler *sleeps* (1, 2, 5 … 100 ms) while it waits: with the
# nudger and a storm of requests storing manifests at once, threads slept far longer than they worked. In this
# process they queue on a lock instead (woken the moment it is free) and each write transaction is short.
_SQLITE_WRITES = threading.Lock()


def write_lock(engine: Engine) -> AbstractContextManager[object]:
    return _SQLITE_WRITES if engine.dialect.name == "sqlite" else contextlib.nullcontext()


def store(engine: Engine, ctx: StationContext, built: list[Built], now: datetime,
          also: Callable[[Session], None] | None = None, attempts: int = 4) -> list[Built]:
    """Store built manifests (and `also`'s writes) in one short write transaction, then cache the ones stored.
    Returns those: a manifest signed earlier than the device's stored one is neither stored nor cached."""
    from sqlalchemy.exc import OperationalError

    from loa.db import session_scope

    kept: list[Built] = []
    for attempt in range(attempts):
        try:
            with write_lock(engine), session_scope(engine) as s:
                if engine.dialect.name in ("sqlite", "postgresql"):
                    _upsert_many(s, engine.dialect.name, built, now)
                else:
                    for b in built:
                        _write(s, b, now)
                kept = _kept(s, built)
                if also is not None:
                    also(s)
            break
        except OperationalError as exc:  # another process held the database longer than the busy timeout
            if attempt == attempts - 1 or "locked" not in str(exc).lower():
                raise
            time.sleep(0.01 * (attempt + 1))
    if ctx.cache is not None:
        # Only what the database kept. The cache's own guard (the newest seq it has seen) knows nothing of a
        # manifest that another replica stored, nor of one cached before a drop: caching the one that lost the
        # race would serve a device a manifest signed before the one it may hold already (manifest_replayed).
        for b in kept:
            ctx.cache.put(b.device_id, b.entry)
    if ctx.grants is not None:  # the grants were written for every manifest, kept or not
        for b in built:
            ctx.grants.add((b.device_id,), b.hashes, now)
    return kept


def _kept(session: Session, built: list[Built]) -> list[Built]:
    """The manifests of `built` that are the stored ones now, in the writer's transaction (the upsert leaves a
    row signed later in place)."""
    if not built:
        return []
    t = table_of(DeviceManifestRow)
    seqs = dict(session.execute(sa.select(t.c.device_id, t.c.seq).where(
        t.c.device_id.in_(sorted({b.device_id for b in built})))).all())
    return [b for b in built if seqs.get(b.device_id) == b.entry.seq]


def stored_entry(session: Session, device_id: int) -> CachedManifest | None:
    """The device's stored manifest, whatever its source key."""
    row = session.get(DeviceManifestRow, device_id)
    if row is None:
        return None
    return CachedManifest(row.source_key, row.version, row.emergency, row.envelope.encode("utf-8"), seq=int(row.seq))


def _write(session: Session, built: Built, now: datetime) -> None:
    # Another thread or process may store the same device at once: an upsert, and the manifest signed later
    # (the higher seq) is the one kept, whichever writer commits last (CachedManifest.newer_than).
    dialect = session.get_bind().dialect.name
    if dialect in ("sqlite", "postgresql"):
        _upsert(session, dialect, built.device_id, built.entry, set(built.hashes), now)
        return
    for attempt in range(3):
        try:
            with session.begin_nested():
                _store(session, built.device_id, built.entry, set(built.hashes), now)
            return
        except IntegrityError:
            if attempt == 2:
                raise


def _upsert(session: Session, dialect: str, device_id: int, entry: CachedManifest, hashes: set[str],
            now: datetime) -> None:
    """Two prepared upserts instead of an ORM load-and-flush per row (a third of the build time)."""
    row_stmt, grant_stmt = _upserts(dialect)
    session.execute(row_stmt, {"device_id": device_id, "source_key": entry.source_key, "version": entry.version,
                               "emergency": entry.emergency, "envelope": entry.body.decode("utf-8"),
                               "seq": entry.seq, "built_at": now})
    if hashes:
        session.execute(grant_stmt, [{"device_id": device_id, "sha256": sha, "listed_at": now}
                                     for sha in sorted(hashes)])


def _upsert_many(session: Session, dialect: str, built: list[Built], now: datetime) -> None:
    """`_upsert` for many manifests: one executemany per statement (the nudger stores a whole batch)."""
    if not built:
        return
    row_stmt, grant_stmt = _upserts(dialect)
    session.execute(row_stmt, [{"device_id": b.device_id, "source_key": b.entry.source_key,
                                "version": b.entry.version, "emergency": b.entry.emergency,
                                "envelope": b.entry.body.decode("utf-8"), "seq": b.entry.seq, "built_at": now}
                               for b in built])
    grants = [{"device_id": b.device_id, "sha256": sha, "listed_at": now} for b in built for sha in sorted(b.hashes)]
    if grants:
        session.execute(grant_stmt, grants)


_UPSERTS: dict[str, tuple[postgresql.Insert | sqlite.Insert, postgresql.Insert | sqlite.Insert]] = {}


def _upserts(dialect: str) -> tuple[postgresql.Insert | sqlite.Insert, postgresql.Insert | sqlite.Insert]:
    """(manifest row, grant) upserts, built once per dialect, so SQLAlchemy's compiled cache serves every later
    call."""
    if dialect not in _UPSERTS:
        insert = insert_for(dialect)
        rows, grants = table_of(DeviceManifestRow), table_of(DeviceAudioGrant)
        stmt = insert(rows)
        row_stmt = stmt.on_conflict_do_update(index_elements=[rows.c.device_id], set_={
            c: stmt.excluded[c] for c in ("source_key", "version", "emergency", "envelope", "seq", "built_at")},
            where=rows.c.seq <= stmt.excluded.seq)  # never replaced by one signed earlier (newer_than)
        stmt = insert(grants)
        grant_stmt = stmt.on_conflict_do_update(index_elements=[grants.c.device_id, grants.c.sha256],
                                                set_={"listed_at": stmt.excluded.listed_at})
        _UPSERTS[dialect] = (row_stmt, grant_stmt)
    return _UPSERTS[dialect]


def _store(session: Session, device_id: int, entry: CachedManifest, hashes: set[str], now: datetime) -> None:
    row = session.get(DeviceManifestRow, device_id) or DeviceManifestRow(device_id=device_id, source_key="",
                                                                          version="", envelope="", built_at=now)
    if row.seq > entry.seq:
        return  # a manifest signed later is stored already (CachedManifest.newer_than)
    row.seq = entry.seq
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


_UNKNOWN = object()


def stored_keys(session: Session, device_ids: list[int]) -> dict[int, str]:
    """device id → the source key of its stored manifest, for many devices in one query (no envelopes)."""
    t = table_of(DeviceManifestRow)
    return dict(session.execute(sa.select(t.c.device_id, t.c.source_key).where(
        t.c.device_id.in_(sorted(device_ids)))).all())


def lookup(session: Session, ctx: StationContext, device: Device, uid: str, timetable_version: str | None,
           now: datetime, stored_key: object = _UNKNOWN) -> tuple[CachedManifest | None, str]:
    """(the stored manifest for the device's current source or None, that source key): cache, then row.
    `stored_key` (from `stored_keys`) spares loading a row that cannot match."""
    if device.village_id is None:
        raise no_manifest()
    standby = _standby(session, ctx, device.commune_id, device.village_id, now).fingerprint
    key = source_key(ctx, uid, device.village_id, int(device.volume), bool(device.muted), timetable_version, now,
                     standby)
    device_id = stored_id(device)
    if ctx.cache is not None:
        hit = ctx.cache.get(device_id, key)
        if hit is not None:
            return hit, key
    if stored_key is not _UNKNOWN and stored_key != key:
        return None, key
    entry = stored_entry(session, device_id)
    if entry is not None and entry.source_key == key:
        if ctx.cache is not None:
            ctx.cache.put(device_id, entry)
        return entry, key
    return None, key


def current(session: Session, ctx: StationContext, device: Device, uid: str, timetable_version: str | None,
            now: datetime) -> CachedManifest:
    """The device's manifest for `now`: from the process cache, the stored row, or freshly built (and stored
    in the caller's transaction)."""
    hit, key = lookup(session, ctx, device, uid, timetable_version, now)
    return hit if hit is not None else build(session, ctx, device, uid, key, now)


def current_retrying(engine: Engine, ctx: StationContext, ident: DeviceIdentity, now: datetime) -> CachedManifest:
    """`current()` for a request: lookup and build in a read transaction, the write in `store`'s short one."""
    from loa.db import session_scope

    with session_scope(engine) as s:
        device = s.get(Device, ident.device_id)
        if device is None:  # deleted since the identity was read: as good as revoked
            raise revoked()
        hit, key = lookup(s, ctx, device, ident.uid, ident.timetable_version, now)
        if hit is not None:
            return hit
        built = prepare(s, ctx, device, ident.uid, key, now)
    if not store(engine, ctx, [built], now):
        # Another writer (the nudger, another request, another replica) stored one signed later meanwhile:
        # serve that one, the device may have it already.
        with session_scope(engine) as s:
            newest = stored_entry(s, built.device_id)
        if newest is not None and newest.seq > built.entry.seq:
            if ctx.cache is not None:
                ctx.cache.put(built.device_id, newest)
            return newest
    if ctx.cache is not None:  # one signed later may have been stored and cached since our commit
        newest = ctx.cache.get(built.device_id, key)
        if newest is not None and newest.seq > built.entry.seq:
            return newest
    return built.entry


def timetable_stamps(session: Session, device_ids: list[int]) -> dict[int, tuple[str, datetime]]:
    """device id → (timetable version, the row's `updated_at`), for many devices in one query."""
    from schedules.tables import DeviceTimetable

    t = table_of(DeviceTimetable)
    return {d: (v, u) for d, v, u in session.execute(sa.select(t.c.device_id, t.c.version, t.c.updated_at).where(
        t.c.device_id.in_(sorted(device_ids))))}


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
    if ctx.grants is not None:
        ctx.grants.drop(device_id)
    ctx.identity_changed([device_id])  # revocation takes effect at once in this process
    t = table_of(DeviceManifestRow)
    session.execute(sa.delete(t).where(t.c.device_id == device_id))


def cached_for(ctx: StationContext, ident: DeviceIdentity, now: datetime) -> CachedManifest | None:
    """The fast path: a process-cache hit from the identity lookup alone (no further query)."""
    if ctx.cache is None or ident.village_id is None or ctx.standby is None:
        return None
    standby = ctx.standby.peek(ident.commune_id, ident.village_id)
    if standby is None:  # not read for a while: the route reads it (never the database on the event loop)
        return None
    key = source_key(ctx, ident.uid, ident.village_id, ident.volume, ident.muted, ident.timetable_version, now,
                     standby.fingerprint)
    return ctx.cache.get(ident.device_id, key)
