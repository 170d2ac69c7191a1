"""Proof of play (docs/device-protocol.md §7): store each record once per (identity, seq), answer the highest
seq up to which every record is held, and raise an alert for failed plays. Titles and hashes are copied into
the record, so history stays readable after the content is deleted."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from broadcaster.protocol.wire import parse_time
from broadcaster.station.deviceauth import DeviceIdentity
from broadcaster.station.models import PlayAck, PlayRecordRow
from broadcaster.station.status import raise_alert
from loa.errors import Invalid, TooLarge
from loa.org.models import Device

MAX_BATCH = 500


def _t(text: Any) -> datetime | None:
    return parse_time(text) if text else None


def ingest(session: Session, ident: DeviceIdentity, records: list[dict[str, Any]], now: datetime) -> int:
    """Store new records (a resend is harmless); return acked_through."""
    if len(records) > MAX_BATCH:
        raise TooLarge("payload_too_large", f"Tối đa {MAX_BATCH} bản ghi một lần",
                       f"At most {MAX_BATCH} records per batch")
    ack = session.get(PlayAck, ident.uid) or PlayAck(uid=ident.uid, acked_through=0)
    seqs = [int(r["seq"]) for r in records]
    have: set[int] = set()
    if seqs:
        have = set(session.exec(select(PlayRecordRow.seq).where(PlayRecordRow.uid == ident.uid,
                                                                 PlayRecordRow.seq.in_(seqs))))
    failed = []
    for r in records:
        seq = int(r["seq"])
        if seq in have or seq <= ack.acked_through:
            continue
        have.add(seq)
        try:
            row = PlayRecordRow(uid=ident.uid, seq=seq, device_id=ident.device_id, commune_id=ident.commune_id,
                                village_id=ident.village_id, play_id=str(r["play_id"])[:120],
                                sha256=r.get("sha256"), title=str(r.get("title") or "")[:300],
                                priority=str(r["priority"]), planned_start=_t(r["planned_start"]),
                                actual_start=_t(r.get("actual_start")), actual_end=_t(r.get("actual_end")),
                                result=str(r["result"]), reason=(str(r["reason"])[:300] if r.get("reason") else None),
                                received_at=now)
        except (KeyError, ValueError) as exc:
            raise Invalid("invalid_request", f"Bản ghi {seq} không hợp lệ", f"Record {seq} is invalid: {exc}") from exc
        session.add(row)
        if row.result == "failed":
            failed.append(row)
    session.flush()
    # Advance over the contiguous run of stored seqs above the last acknowledgement.
    following = session.exec(select(PlayRecordRow.seq).where(PlayRecordRow.uid == ident.uid,
                                                             PlayRecordRow.seq > ack.acked_through)
                             .order_by(PlayRecordRow.seq)).all()
    for seq in following:
        if seq != ack.acked_through + 1:
            break
        ack.acked_through = seq
    session.merge(ack)
    if failed:
        device = session.get(Device, ident.device_id)
        last = failed[-1]
        raise_alert(session, device, "play_failed", f"{last.title} ({last.play_id}): {last.reason}", now)
    return ack.acked_through


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
    return list(session.exec(query.order_by(PlayRecordRow.planned_start.desc(), PlayRecordRow.seq.desc())
                             .limit(limit)))


def count(session: Session, uid: str) -> int:
    return session.exec(select(sa.func.count()).select_from(PlayRecordRow).where(PlayRecordRow.uid == uid)).one()
