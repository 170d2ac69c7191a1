"""Device status from heartbeats (docs/device-protocol.md §6), offline detection and alerts.

Statuses: unenrolled, online, playing, error (the last heartbeat reported a problem), offline (no heartbeat
for `offline_after_s`: three missed beats), revoked. Marking offline is "make it so": running it twice changes
nothing, and an alert is open at most once per (device, kind) thanks to its unique `open_key`.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from broadcaster.protocol.wire import parse_time
from broadcaster.station.deviceauth import DeviceIdentity, revoked
from broadcaster.station.live.late import remember_aired
from broadcaster.station.models import DeviceAlert, DeviceCredential, DeviceReport
from broadcaster.station.stored import stored_id
from loa.db import table_of
from loa.org.models import Device

if TYPE_CHECKING:
    from sqlalchemy.dialects import postgresql, sqlite

# Event codes that are a problem for the cadre (clock_corrected is information only).
PROBLEM_EVENTS = {"manifest_signature_invalid", "manifest_wrong_device", "manifest_expired", "audio_hash_mismatch",
                  "audio_size_mismatch", "disk_full", "download_failed", "sink_failed", "hook_failed",
                  "manifest_replayed", "command_signature_invalid",
                  # a relayed radio given up after the agent's retries (broadcaster/agent/relay.py)
                  "relay_unreachable", "relay_lost"}
LIVE = ("online", "playing", "error")


def raise_alert(session: Session, device: Device, kind: str, detail: str, now: datetime, once: bool = True) -> bool:
    """Open an alert; with `once`, a second one of the same kind for the device is a no-op while it is open
    (its detail is refreshed). Two requests raising the same alert at once (heartbeats racing) must not both
    insert: with `once` this is one INSERT … ON CONFLICT on the unique `open_key`, which the database settles."""
    device_id = stored_id(device)
    key = f"{kind}:{device_id}" if once else None
    dialect = session.get_bind().dialect.name
    if key is not None and dialect in ("sqlite", "postgresql"):
        t = table_of(DeviceAlert)
        values = {"commune_id": device.commune_id, "device_id": device_id, "kind": kind, "detail": detail[:1000],
                  "open_key": key, "raised_at": now}
        stmt = insert_for(dialect)(t).values(**values)
        # Ask first (for the return value); the conflict clause covers a race between the question and the insert.
        existed = session.execute(sa.select(t.c.id).where(t.c.open_key == key)).first() is not None
        session.execute(stmt.on_conflict_do_update(index_elements=[t.c.open_key],
                                                   set_={"detail": stmt.excluded.detail}))
        return not existed
    if key is not None:
        existing = session.exec(select(DeviceAlert).where(DeviceAlert.open_key == key)).first()
        if existing is not None:
            existing.detail = detail[:1000]
            session.add(existing)
            return False
    session.add(DeviceAlert(commune_id=device.commune_id, device_id=device_id, kind=kind, detail=detail[:1000],
                            open_key=key, raised_at=now))
    return True


def insert_for(dialect: str) -> Callable[[sa.Table], postgresql.Insert | sqlite.Insert]:
    """The dialect's INSERT, which has ON CONFLICT (PostgreSQL's for "postgresql", else SQLite's)."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return postgresql_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert


def resolve_alert(session: Session, device_id: int, kind: str, now: datetime) -> None:
    row = session.exec(select(DeviceAlert).where(DeviceAlert.open_key == f"{kind}:{device_id}")).first()
    if row is not None:
        row.open_key, row.resolved_at = None, now
        session.add(row)


def _time(text: Any) -> datetime | None:
    try:
        return parse_time(str(text)) if text else None
    except ValueError:
        return None


# What a new identity's report starts from (§6: "a new device identity starts from an empty report").
_EMPTY_REPORT: dict[str, Any] = {
    "clock_offset_s": 0.0, "manifest_version": None, "playing": None, "cache": {}, "disk_free_bytes": None,
    "temperature_c": None, "uptime_s": None, "hardware": None, "local_volume": None, "playlog": {},
    "applied_seq": None}


def _report_values(body: dict[str, Any]) -> dict[str, Any]:
    """The report columns this heartbeat sets: only the fields it carries (a lean beat leaves the rest)."""
    values: dict[str, Any] = {}
    if "clock_offset_s" in body:
        values["clock_offset_s"] = float(body.get("clock_offset_s") or 0.0)
    if "manifest_version" in body:
        values["manifest_version"] = body.get("manifest_version")
    for key in ("playing", "disk_free_bytes", "temperature_c", "uptime_s", "local_volume"):
        if key in body:
            values[key] = body.get(key)
    for key in ("cache", "playlog"):
        if key in body:
            values[key] = body.get(key) or {}
    if "hardware" in body:
        values["hardware"] = (body.get("hardware") or None) and str(body["hardware"])[:200]
    if body.get("applied_seq") is not None:  # §4a: a command is confirmed once this reaches its seq
        values["applied_seq"] = int(body["applied_seq"])
    return values


def heartbeat(session: Session, ident: DeviceIdentity, body: dict[str, Any], now: datetime) -> None:
    """Store a heartbeat. Only the fields present change (§6: a device leaves out what did not change since its
    previous heartbeat), so `body` is the request as sent, not filled with defaults.

    Heartbeats of one device may arrive at once (a retry racing the original, ten at once from a tester): the
    report is written with statements the database serialises on the row, never read-modify-write in Python.
    1. the row exists (INSERT … ON CONFLICT DO NOTHING): concurrent first beats do not collide;
    2. a new identity resets it (UPDATE … WHERE uid <> this identity): only the first beat of the identity
       matches, a later one finds the uid already switched and resets nothing another beat wrote;
    3. this beat's own fields (UPDATE … SET only those columns): two lean beats carrying different fields
       both land; two carrying the same field: the later write wins, as it would one after the other."""
    device = session.get(Device, ident.device_id)
    if device is None:  # deleted since the identity was read: as good as revoked
        raise revoked()
    device_id = ident.device_id
    events = [e for e in body.get("events") or [] if isinstance(e, dict)]
    problems = [e for e in events if e.get("code") in PROBLEM_EVENTS]
    t = table_of(DeviceReport)
    report = _report_values(body)
    # Nearly every beat finds the row there and this identity's: step 3 alone, one statement. Only when it
    # matches nothing (a first beat, a new identity, or another identity's beat committed meanwhile: the
    # database re-checks `uid` on the locked row) do steps 1–3 run, exactly as for any beat.
    mine = session.execute(sa.update(t).where(t.c.device_id == device_id, t.c.uid == ident.uid)
                           .values(received_at=now, **report).returning(t.c.playing)).first()
    if mine is not None:
        playing = mine[0]
    else:
        dialect = session.get_bind().dialect.name
        if dialect in ("sqlite", "postgresql"):
            session.execute(insert_for(dialect)(t).values(device_id=device_id, uid=ident.uid, received_at=now,
                                                       **_EMPTY_REPORT).on_conflict_do_nothing(
                index_elements=[t.c.device_id]))
        elif session.get(DeviceReport, device_id) is None:  # another database: no race-free insert spelled here
            session.add(DeviceReport(device_id=device_id, uid=ident.uid, received_at=now, **_EMPTY_REPORT))
            session.flush()
        session.execute(sa.update(t).where(t.c.device_id == device_id, t.c.uid != ident.uid)
                        .values(uid=ident.uid, **_EMPTY_REPORT))
        playing = session.execute(sa.update(t).where(t.c.device_id == device_id)
                                  .values(received_at=now, **report).returning(t.c.playing)).scalar_one()
    if "playing" in report:  # what it plays changed: a live session it airs is kept as joined, for good
        remember_aired(session, device.commune_id, device_id, playing, now)
    was_offline = device.status == "offline"
    # The device row, only while this identity is live: a beat that authenticated from a cache a moment before
    # a revocation (this process, or another replica within its re-check interval) must not mark a revoked
    # device online again, nor an old identity of a re-enrolled box overwrite the new one's report.
    d, c = table_of(Device), table_of(DeviceCredential)
    values: dict[str, Any] = {"last_seen": now, "status": "error" if problems else ("playing" if playing else "online")}
    if body.get("agent_version"):
        values["agent_version"] = str(body["agent_version"])[:64]
    replaced = sa.exists().where(c.c.uid == ident.uid, c.c.revoked_at.is_not(None))
    # On the session's connection, as session.execute would run a Core statement: its result has the row count
    updated = session.connection().execute(sa.update(d).where(d.c.id == device_id, d.c.revoked_at.is_(None),
                                                              ~replaced).values(**values)).rowcount
    if updated != 1:
        raise revoked()  # the whole beat rolls back with the error reply
    if body.get("applied_seq") is not None:
        from broadcaster.station.seq import at_least

        at_least(session, int(body["applied_seq"]))  # a restored database never signs below a device's floor
    if was_offline:
        resolve_alert(session, device_id, "offline", now)
    for event in problems:
        raise_alert(session, device, str(event["code"]), f"{event.get('at', '')} {event.get('detail', '')}".strip(), now)


def mark_offline(session: Session, now: datetime, offline_after_s: int, commune_id: int | None = None) -> list[int]:
    """Devices not heard from for `offline_after_s` become offline, with an alert. Returns their ids."""
    cutoff = now - timedelta(seconds=offline_after_s)
    query = select(Device).where(col(Device.status).in_(LIVE), col(Device.last_seen) < cutoff)
    if commune_id is not None:
        query = query.where(Device.commune_id == commune_id)
    gone: list[int] = []
    for device in session.exec(query):
        if device.last_seen is None:  # never: NULL is not before the cutoff
            continue
        device.status = "offline"
        session.add(device)
        raise_alert(session, device, "offline",
                    f"Không nhận được tín hiệu từ {device.last_seen.isoformat()} / no heartbeat since then", now)
        gone.append(stored_id(device))
    return gone
