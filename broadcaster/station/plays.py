"""Proof of play (docs/device-protocol.md §7): store each record once per (identity, seq), answer the highest
seq up to which every record is held, and raise an alert for failed plays. Titles and hashes are copied into
the record, so history stays readable after the content is deleted."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from broadcaster.protocol.wire import RELAY_FAILURES, parse_time
from broadcaster.station.deviceauth import DeviceIdentity
from broadcaster.station.models import PlayAck, PlayRecordRow
from broadcaster.station.status import insert_for, raise_alert
from loa.db import table_of
from loa.errors import Invalid, TooLarge
from loa.org.models import Device

MAX_BATCH = 500


def _t(text: Any) -> datetime | None:
    return parse_time(text) if text else None


def _row(ident: DeviceIdentity, r: dict[str, Any], now: datetime) -> dict[str, Any]:
    seq = int(r["seq"])
    try:
        return {"uid": ident.uid, "seq": seq, "device_id": ident.device_id, "commune_id": ident.commune_id,
                "village_id": ident.village_id, "play_id": str(r["play_id"])[:120], "sha256": r.get("sha256"),
                "title": str(r.get("title") or "")[:300], "priority": str(r["priority"]),
                "planned_start": _t(r["planned_start"]), "actual_start": _t(r.get("actual_start")),
                "actual_end": _t(r.get("actual_end")), "result": str(r["result"]),
                "reason": str(r["reason"])[:300] if r.get("reason") else None, "received_at": now}
    except (KeyError, ValueError) as exc:
        raise Invalid("invalid_request", f"Bản ghi {seq} không hợp lệ", f"Record {seq} is invalid: {exc}") from exc


def ingest(session: Session, ident: DeviceIdentity, records: list[dict[str, Any]], now: datetime) -> int:
    """Store new records (a resend is harmless); return acked_through.

    The same batch may arrive twice at once (a retry after a timeout racing the original): each record is an
    INSERT … ON CONFLICT (uid, seq) DO NOTHING, so the database keeps exactly one and neither request fails;
    the acknowledgement only ever moves forward (an upsert keeping the greater value)."""
    if len(records) > MAX_BATCH:
        raise TooLarge("payload_too_large", f"Tối đa {MAX_BATCH} bản ghi một lần",
                       f"At most {MAX_BATCH} records per batch")
    dialect = session.get_bind().dialect.name
    acks = table_of(PlayAck)
    stored = session.execute(sa.select(acks.c.acked_through).where(acks.c.uid == ident.uid)).scalar() or 0
    rows, seen = [], set()
    for r in records:
        row = _row(ident, r, now)  # every record is checked, even one already stored
        if row["seq"] > stored and row["seq"] not in seen:
            seen.add(row["seq"])
            rows.append(row)
    rows.sort(key=lambda row: row["seq"])  # racing batches then take the unique index's locks in one order
    t = table_of(PlayRecordRow)
    inserted: set[int] = set()
    if rows:
        stmt = insert_for(dialect)(t).on_conflict_do_nothing(index_elements=[t.c.uid, t.c.seq]).returning(t.c.seq)
        inserted = {seq for (seq,) in session.execute(stmt, rows)}
    # Advance over the contiguous run of stored seqs above the last acknowledgement.
    acked = stored
    following = session.execute(sa.select(t.c.seq).where(t.c.uid == ident.uid, t.c.seq > stored)
                                .order_by(t.c.seq)).scalars()
    for seq in following:
        if seq != acked + 1:
            break
        acked = seq
    ack = insert_for(dialect)(acks).values(uid=ident.uid, acked_through=acked)
    session.execute(ack.on_conflict_do_update(index_elements=[acks.c.uid], set_={
        "acked_through": sa.func.max(acks.c.acked_through, ack.excluded.acked_through) if dialect == "sqlite"
        else sa.func.greatest(acks.c.acked_through, ack.excluded.acked_through)}))
    failed = [row for row in rows if row["seq"] in inserted and row["result"] == "failed"]
    if failed:
        device = session.get(Device, ident.device_id)
        last = failed[-1]
        # A relay the agent gave up on is its own alert (the radio, not the loudspeaker, is at fault): the same
        # kind as the heartbeat's event, so the two reports of one failure make one alert.
        kind = next((code for code in RELAY_FAILURES if str(last.get("reason") or "").startswith(code + ":")),
                    "play_failed")
        if device is not None:  # (deleted meanwhile: no device left to alert about)
            raise_alert(session, device, kind, f"{last['title']} ({last['play_id']}): {last['reason']}", now)
    return acked


def history(session: Session, *, device_id: int | None = None, village_id: int | None = None,
            since: datetime | None = None, until: datetime | None = None, limit: int = 500) -> list[PlayRecordRow]:
    query = select(PlayRecordRow)
    if device_id is not None:
        query = query.where(PlayRecordRow.device_id == device_id)
    if village_id is not None:
        query = query.where(PlayRecordRow.village_id == village_id)
    if since is not None:
        query = query.where(PlayRecordRow.planned_start >= since)
    if until is not None:
        query = query.where(PlayRecordRow.planned_start < until)
    return list(session.exec(query.order_by(col(PlayRecordRow.planned_start).desc(), col(PlayRecordRow.seq).desc())
                             .limit(limit)))


def count(session: Session, uid: str) -> int:
    return session.exec(select(sa.func.count()).select_from(PlayRecordRow).where(PlayRecordRow.uid == uid)).one()
