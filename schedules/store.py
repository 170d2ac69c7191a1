"""The materialized timetable in the database: plays for the next 72 hours per device, and versions.

`materialize_commune` writes the pure `materialize(...)` result for one commune:
- rows are keyed by (device, rule, planned start) with a unique constraint: a run twice, or after a
  restart, finds every row equal and writes nothing;
- only rows that are not over yet (end > now) are compared; finished plays are history and left alone;
- a play that started and is no longer planned (its rule was cancelled, an emergency pre-empted it) is
  cut at `now` and marked interrupted, never deleted: it did air;
- a device's `version` changes iff one of its rows was inserted, changed, cut or deleted. The new version
  hashes the previous one with the new plays, so returning to an earlier timetable is still a change.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

import sqlalchemy as sa
from sqlmodel import Session, col, select

from content.library.models import ContentItem
from loa.db import is_postgres, table_of
from schedules.mapping import load_commune_world, parse_key
from schedules.model import DropReason, Play, Segment
from schedules.tables import DeviceTimetable, EmergencyRow, ScheduleNotice, ScheduleRule, TimetablePlay
from schedules.timetable import Timetable, materialize

HORIZON = timedelta(hours=72)
_LOCK_BASE = 7_400_000  # PostgreSQL advisory lock namespace: one materialization per commune at a time


@dataclass
class MaterializeResult:
    commune_id: int
    changed: set[int] = field(default_factory=set)
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    cut: int = 0
    notices: int = 0
    # rule key → devices whose play of it was ON AIR and is now gone or plays other audio (a schedule edited,
    # an item archived or replaced mid-play): the broadcaster cuts them with a signed command at once
    # (docs/device-protocol.md §4a) rather than at the device's next manifest.
    withdrawn: dict[str, set[int]] = field(default_factory=dict)


class HasSegments(Protocol):
    """A materialized play, or anything else that has its segments (broadcaster.station.commands)."""

    @property
    def segments(self) -> Sequence[Segment]: ...


def segments_json(play: HasSegments) -> list[dict[str, Any]]:
    """The stored form of a play's segments (migration `segsizes` added `size_bytes` to rows stored before)."""
    return [{"offset_s": s.offset_s, "duration_s": s.duration_s, "kind": s.kind.value, "content_id": s.content_id,
             "sha256": s.sha256, "title": s.title, "language": s.language, "url": s.url,
             "size_bytes": s.size_bytes} for s in play.segments]


def _values(play: Play, segments: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"start": play.start, "end": play.end, "priority": int(play.priority), "title": play.title[:300],
            "rule_version": play.rule_version, "interrupted": play.interrupted,
            "segments": segments_json(play) if segments is None else segments}


class _Stored:
    """One materialization's stored values of its plays, and each play's part of the devices' version text,
    computed once: the devices of a village share their plays' segments (one tuple), and an emergency "until
    cancelled" of a short clip is ~13,500 plays on each of them. Keyed by object: the plays live as long."""

    def __init__(self) -> None:
        self._segments: dict[int, tuple[object, list[dict[str, Any]]]] = {}
        self._values: dict[int, tuple[Play, dict[str, Any]]] = {}
        self._texts: dict[tuple[Any, ...], str] = {}

    def values(self, play: Play) -> dict[str, Any]:
        hit = self._values.get(id(play))
        if hit is None:
            seg = self._segments.get(id(play.segments))
            if seg is None:
                seg = self._segments[id(play.segments)] = (play.segments, segments_json(play))
            hit = self._values[id(play)] = (play, _values(play, seg[1]))
        return hit[1]

    def version_text(self, play: Play) -> str:
        """json.dumps of the play's part of `_version`'s list, as that list encodes it."""
        key = (play.rule_id, play.planned_start, play.planned_start.tzinfo, play.start, play.start.tzinfo,
               play.end, play.end.tzinfo, int(play.priority), play.title, play.rule_version, play.interrupted,
               id(play.segments))
        text = self._texts.get(key)
        if text is None:
            text = self._texts[key] = json.dumps(
                {"rule": play.rule_id, "planned": play.planned_start.isoformat(), **self.values(play)},
                sort_keys=True, default=str)
        return text


_COMPARED = ("start", "end", "priority", "title", "rule_version", "interrupted", "segments")


def _same(row: sa.Row[Any], values: dict[str, Any]) -> bool:
    """A stored play (a row of the Core select in materialize_commune) equals the wanted values."""
    return all(getattr(row, k) == v for k, v in values.items())


def _on_air(row: sa.Row[Any], now: datetime) -> bool:
    start: datetime = row.start
    end: datetime = row.end
    return start <= now < end


def _utc(dt: datetime) -> datetime:
    return dt.astimezone(timezone.utc)


def _version(previous: str | None, plays: list[str]) -> str:
    """`plays`: each play's json.dumps (`_Stored.version_text`): joined as json.dumps encodes their list."""
    h = hashlib.sha256((previous or "").encode())
    h.update(("[" + ", ".join(plays) + "]").encode())
    return h.hexdigest()


def materialize_commune(session: Session, commune_id: int, now: datetime,
                        horizon: timedelta = HORIZON) -> tuple[MaterializeResult, Timetable]:
    """Bring the stored timetable of one commune to `materialize(rules, now .. now + horizon)`."""
    if is_postgres(session.get_bind().engine):
        session.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_BASE + commune_id})
    world = load_commune_world(session, commune_id, now)
    tt = materialize(world.rules, world.topology, now, now + horizon, now, world.settings, world.airable)
    result = MaterializeResult(commune_id)
    # Core statements, not ORM objects: an emergency for a whole commune inserts a row per device, and building
    # a thousand ORM instances (and flushing them one by one) was most of the cadre's wait.
    t = table_of(TimetablePlay)
    existing = session.execute(sa.select(t.c.id, t.c.device_id, t.c.rule_key, t.c.planned_start,
                                         *(t.c[k] for k in _COMPARED)).where(
        t.c.commune_id == commune_id, t.c.end > now)).all()
    stored = {(r.device_id, r.rule_key, _utc(r.planned_start)): r for r in existing}
    wanted: dict[tuple[int, str, datetime], Play] = {}
    for device_key, plays in tt.plays.items():
        for p in plays:
            wanted[(int(device_key), p.rule_id, _utc(p.planned_start))] = p

    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    stored_values = _Stored()
    for key, play in wanted.items():
        values = stored_values.values(play)
        row = stored.get(key)
        if row is None:
            inserts.append({"commune_id": commune_id, "device_id": key[0], "rule_key": key[1],
                            "planned_start": play.planned_start, "updated_at": now, **values})
            result.inserted += 1
        elif not _same(row, values):
            updates.append({"_id": row.id, **values, "updated_at": now})
            result.updated += 1
            if _on_air(row, now) and (row.start != values["start"] or row.segments != values["segments"]):
                result.withdrawn.setdefault(key[1], set()).add(key[0])
        else:
            continue
        result.changed.add(key[0])
    cuts: list[dict[str, Any]] = []
    deletes: list[int] = []
    for key, row in stored.items():
        if key in wanted:
            continue
        if row.start < now:  # it is on air: it aired until now
            cuts.append({"_id": row.id, "end": now, "interrupted": True, "updated_at": now})
            result.cut += 1
            result.withdrawn.setdefault(key[1], set()).add(key[0])
        else:
            deletes.append(row.id)
            result.deleted += 1
        result.changed.add(key[0])
    if inserts:
        session.execute(sa.insert(t), inserts)
    if updates:
        session.execute(sa.update(t).where(t.c.id == sa.bindparam("_id")), updates)
    if cuts:
        session.execute(sa.update(t).where(t.c.id == sa.bindparam("_id")), cuts)
    for i in range(0, len(deletes), 500):
        session.execute(sa.delete(t).where(t.c.id.in_(deletes[i:i + 500])))
    _store_versions(session, commune_id, world.devices, tt, result, now, stored_values)
    result.notices = _dropped_notices(session, commune_id, tt, world.library.items, now)
    return result, tt


def _store_versions(session: Session, commune_id: int, devices: Iterable[int], tt: Timetable,
                    result: MaterializeResult, now: datetime, stored_values: _Stored) -> None:
    t = table_of(DeviceTimetable)
    versions: dict[int, str] = {device_id: version for device_id, version in session.execute(
        sa.select(t.c.device_id, t.c.version).where(t.c.commune_id == commune_id)).all()}
    unchanged: list[int] = []
    changed: list[dict[str, Any]] = []
    new: list[dict[str, Any]] = []
    for device_id in devices:
        if device_id in versions and device_id not in result.changed:
            unchanged.append(device_id)
            continue
        plays = [stored_values.version_text(p) for p in tt.plays.get(str(device_id), ())]
        version = _version(versions.get(device_id) or "", plays)
        row = {"device_id": device_id, "commune_id": commune_id, "version": version, "updated_at": now,
               "computed_at": now}
        (changed if device_id in versions else new).append(row)
        result.changed.add(device_id)
    if unchanged:
        for i in range(0, len(unchanged), 500):
            session.execute(sa.update(t).where(t.c.device_id.in_(unchanged[i:i + 500])).values(computed_at=now))
    if changed:
        session.execute(sa.update(t).where(t.c.device_id == sa.bindparam("_device")).values(
            version=sa.bindparam("version"), updated_at=sa.bindparam("updated_at"),
            computed_at=sa.bindparam("computed_at")),
            [{"_device": r["device_id"], "version": r["version"], "updated_at": now, "computed_at": now}
             for r in changed])
    if new:
        session.execute(sa.insert(t), new)


_REASON_VI = {"expired": "đã hết hạn", "archived": "đã lưu trữ", "unapproved": "chưa được duyệt",
              "no_audio": "chưa có âm thanh", "missing": "không còn",
              "cap_unreviewed": "lấy từ cảnh báo CAP, chưa được duyệt"}
_REASON_EN = {"expired": "has expired", "archived": "was archived", "unapproved": "is not approved",
              "no_audio": "has no audio yet", "missing": "no longer exists",
              "cap_unreviewed": "comes from a CAP alert and was not reviewed"}


def unavailable_reason(item: ContentItem | None, at: datetime) -> str:
    if item is None:
        return "missing"
    if item.status == "archived":
        return "archived"
    if item.expires_at is not None and item.expires_at <= at:
        return "expired"
    if item.cap_alert_id is not None and item.status != "approved":
        return "cap_unreviewed"
    if item.status != "approved" or item.approved_version != item.version:
        return "unapproved"
    return "no_audio"


def add_notice(session: Session, commune_id: int, dedupe_key: str, kind: str, vi: str, en: str, now: datetime,
               schedule_id: int | None = None, emergency_id: int | None = None,
               content_item_id: int | None = None) -> bool:
    """Insert a notice once (by `dedupe_key`); True if it is new."""
    if session.exec(select(ScheduleNotice.id).where(ScheduleNotice.dedupe_key == dedupe_key)).first():
        return False
    session.add(ScheduleNotice(commune_id=commune_id, dedupe_key=dedupe_key[:200], kind=kind, message_vi=vi[:1000],
                               message_en=en[:1000], schedule_id=schedule_id, emergency_id=emergency_id,
                               content_item_id=content_item_id, created_at=now))
    session.flush()
    return True


def content_notice(session: Session, commune_id: int, rule_key: str, rule_title: str, item: ContentItem | None,
                   content_id: int, at: datetime, now: datetime) -> bool:
    """Tell the cadre that a schedule's item will not air (expired, archived, …) and why."""
    reason = unavailable_reason(item, at)
    kind_of, ident = parse_key(rule_key)
    title = item.title if item is not None else f"#{content_id}"
    vi = (f"Nội dung «{title}» {_REASON_VI[reason]}: lịch «{rule_title}» không phát nội dung này nữa "
          f"(từ {at.strftime('%d/%m/%Y %H:%M')})")
    en = (f"Item «{title}» {_REASON_EN[reason]}: schedule «{rule_title}» no longer airs it "
          f"(from {at.isoformat()})")
    kind = {"expired": "content_expired", "archived": "content_archived"}.get(reason, "content_unavailable")
    return add_notice(session, commune_id, f"{kind}:{rule_key}:{content_id}", kind, vi, en, now,
                      schedule_id=ident if kind_of == "schedule" else None,
                      emergency_id=ident if kind_of == "emergency" else None, content_item_id=content_id)


def _dropped_notices(session: Session, commune_id: int, tt: Timetable, items: dict[int, ContentItem],
                     now: datetime) -> int:
    seen: set[tuple[str, str]] = set()
    titles: dict[str, str] = {}
    count = 0
    for drops in tt.dropped.values():
        for d in drops:
            if d.reason not in (DropReason.NOT_AIRABLE, DropReason.ITEM_REMOVED):
                continue
            for cid in d.content_ids:
                if (d.rule_id, cid) in seen:
                    continue
                seen.add((d.rule_id, cid))
                if d.rule_id not in titles:
                    titles[d.rule_id] = _rule_title(session, d.rule_id)
                count += content_notice(session, commune_id, d.rule_id, titles[d.rule_id], items.get(int(cid)),
                                        int(cid), d.planned_start, now)
    return count


def _rule_title(session: Session, rule_key: str) -> str:
    kind, ident = parse_key(rule_key)
    row = session.get(ScheduleRule, ident) if kind == "schedule" else session.get(EmergencyRow, ident)
    return row.title if row is not None else rule_key


# ---------------------------------------------------------------- reading, for the broadcaster


def changed_devices_since(session: Session, since: datetime, commune_id: int | None = None) -> dict[int, str]:
    """device id → version, for devices whose timetable changed after `since`."""
    query = select(DeviceTimetable).where(DeviceTimetable.updated_at > since)
    if commune_id is not None:
        query = query.where(DeviceTimetable.commune_id == commune_id)
    return {r.device_id: r.version for r in session.exec(query)}


def device_version(session: Session, device_id: int) -> str | None:
    row = session.get(DeviceTimetable, device_id)
    return row.version if row else None


def device_plays(session: Session, device_id: int, start: datetime, end: datetime) -> list[TimetablePlay]:
    """Stored plays of a device overlapping [start, end), by start time (what the manifest is built from)."""
    return list(session.exec(select(TimetablePlay).where(
        TimetablePlay.device_id == device_id, TimetablePlay.start < end, TimetablePlay.end > start,
    ).order_by(col(TimetablePlay.start), col(TimetablePlay.id))))
