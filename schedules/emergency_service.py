"""Emergency broadcasts in the database: air now, confirm (CAP), cancel, list.

Status: pending (a CAP alert waiting for a cadre) → queued (confirmed or auto-air, its audio is still being
rendered) → airing (started_at set: repetitions play from then) → cancelled; a pending one can be rejected
(cancel before confirming). Only a cadre starts, confirms or cancels; every member of the commune reads.
Saving or cancelling re-materializes the commune at once (the caller does it after the commit), so an
emergency never waits for the scheduler's next tick.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from loa.accounts.principal import Principal
from loa.audit import service as audit
from loa.errors import Conflict, Invalid, NotFound
from loa.org.models import Commune, Device
from loa.org.service import get_commune, village_in_commune
from schedules import mapping
from schedules.limits import RecurrenceLimitError, RecurrenceLimits, check_emergency_plays
from schedules.rules_service import check_schedulable
from schedules.schemas import EmergencyIn, EmergencyOut
from schedules.tables import CapAlertRow, EmergencyRow, StationSettingsRow

OPERATORS = ("cadre",)
PENDING, QUEUED, AIRING, CANCELLED, REJECTED = "pending", "queued", "airing", "cancelled", "rejected"


def _missing() -> NotFound:
    return NotFound("emergency_not_found", "Không tìm thấy phát khẩn cấp", "Emergency broadcast not found")


def get_emergency(session: Session, actor: Principal, emergency_id: int) -> EmergencyRow:
    row = session.get(EmergencyRow, emergency_id)
    if row is None or not actor.sees_commune(row.commune_id):
        raise _missing()
    return row


def _check_places(session: Session, commune_id: int, villages: list[int], devices: list[int]) -> None:
    for v in villages:
        village_in_commune(session, commune_id, v)
    for d in devices:
        device = session.get(Device, d)
        if device is None or device.commune_id != commune_id:
            raise NotFound("device_not_found", "Không tìm thấy cụm loa", "Device not found")


def _check_plays(session: Session, commune: Commune, entries: list[dict[str, Any]], repeat: int | None, gap_s: float,
                 limits: RecurrenceLimits) -> None:
    """A programme of a few seconds repeated until cancelled would make thousands of plays (schedules/limits.py)."""
    once = mapping.programme(entries, 1, mapping.Library.load(session, mapping.content_ids(entries))).duration_s
    settings = mapping.station_settings(session.get(StationSettingsRow, commune.id), commune)
    try:
        check_emergency_plays(once, repeat, gap_s, settings.emergency_max_s, limits)
    except RecurrenceLimitError as exc:
        raise Invalid(exc.code, exc.message_vi, exc.message_en, **exc.extra) from None


def start(session: Session, actor: Principal, commune_id: int, body: EmergencyIn, now: datetime,
          limits: RecurrenceLimits | None = None) -> EmergencyRow:
    """Air now in the chosen villages, `repeat` times or until cancelled."""
    commune = get_commune(session, actor, commune_id)
    actor.require_role(commune_id, *OPERATORS)
    _check_places(session, commune_id, body.villages, body.devices)
    entries = [e.model_dump() for e in body.programme]
    check_schedulable(session, commune_id, entries, now)
    _check_plays(session, commune, entries, body.repeat, body.gap_s, limits or RecurrenceLimits())
    row = EmergencyRow(commune_id=commune_id, title=body.title.strip(), programme=entries,
                       villages=sorted(set(body.villages)), devices=sorted(set(body.devices)), repeat=body.repeat,
                       gap_s=body.gap_s, status=AIRING, source="cadre", created_by=actor.user_id, created_at=now,
                       started_at=now)
    session.add(row)
    session.flush()
    audit.record(session, actor, "emergency.start", "emergency", row.id, now, commune_id=commune_id,
                 villages=row.villages, repeat=row.repeat)
    return row


def airable_now(session: Session, row: EmergencyRow, now: datetime) -> bool:
    library = mapping.Library.load(session, mapping.content_ids(row.programme))
    return all(library.airable(str(c), now) for c in mapping.content_ids(row.programme))


def begin_if_ready(session: Session, row: EmergencyRow, now: datetime) -> bool:
    """A queued emergency starts as soon as its audio can air. True if it started now."""
    if row.status != QUEUED or not airable_now(session, row, now):
        return False
    row.status, row.started_at = AIRING, now
    session.add(row)
    if row.cap_alert_id:
        alert = session.get(CapAlertRow, row.cap_alert_id)
        if alert is not None and alert.status == PENDING:
            alert.status = "aired"
            session.add(alert)
    return True


def confirm(session: Session, actor: Principal, emergency_id: int, now: datetime) -> EmergencyRow:
    """A cadre confirms a pending (CAP) emergency: it airs now, or as soon as its audio is rendered."""
    row = get_emergency(session, actor, emergency_id)
    actor.require_role(row.commune_id, *OPERATORS)
    if row.status != PENDING:
        raise Conflict("invalid_transition", f"Không thể xác nhận phát khẩn cấp ở trạng thái {row.status}",
                       f"Cannot confirm an emergency in status {row.status}", current_status=row.status)
    row.status, row.confirmed_by = QUEUED, actor.user_id
    session.add(row)
    if row.cap_alert_id:
        alert = session.get(CapAlertRow, row.cap_alert_id)
        if alert is not None:
            alert.status, alert.decided_at = "confirmed", now
            session.add(alert)
    begin_if_ready(session, row, now)
    # The log names the CAP items this confirmation lets air without a content review.
    audit.record(session, actor, "emergency.confirm", "emergency", row.id, now, commune_id=row.commune_id,
                 started=row.status == AIRING, cap_alert_id=row.cap_alert_id,
                 unreviewed_cap_items=mapping.content_ids(row.programme) if row.cap_alert_id else None)
    return row


def cancel_row(session: Session, row: EmergencyRow, now: datetime) -> bool:
    """Cancel (or reject, if never confirmed). Idempotent: False if there was nothing to do."""
    if row.status in (CANCELLED, REJECTED):
        return False
    row.status = REJECTED if row.status == PENDING else CANCELLED
    row.cancelled_at = now
    session.add(row)
    if row.cap_alert_id and row.status == REJECTED:
        alert = session.get(CapAlertRow, row.cap_alert_id)
        if alert is not None:
            alert.status, alert.decided_at = "rejected", now
            session.add(alert)
    return True


def cancel(session: Session, actor: Principal, emergency_id: int, now: datetime) -> EmergencyRow:
    row = get_emergency(session, actor, emergency_id)
    actor.require_role(row.commune_id, *OPERATORS)
    if cancel_row(session, row, now):
        row.cancelled_by = actor.user_id
        audit.record(session, actor, "emergency.cancel", "emergency", row.id, now, commune_id=row.commune_id,
                     status=row.status)
    return row


def ends_at(session: Session, row: EmergencyRow, as_planned: bool = False) -> datetime | None:
    """When its last repetition ends; `as_planned`: as if it had not been cancelled (a loudspeaker that missed
    the cancel goes on until then)."""
    if row.started_at is None:
        return None
    library = mapping.Library.load(session, mapping.content_ids(row.programme))
    try:
        once = mapping.programme(row.programme, 1, library).duration_s
    except ValueError:
        once = 0.0
    settings = session.get(StationSettingsRow, row.commune_id)
    cap = row.started_at + timedelta(seconds=settings.emergency_max_s if settings else 6 * 3600.0)
    end = cap if row.repeat is None else min(
        cap, row.started_at + timedelta(seconds=(once + row.gap_s) * row.repeat - row.gap_s))
    return min(end, row.cancelled_at) if row.cancelled_at and not as_planned else end


def list_emergencies(session: Session, actor: Principal, commune_id: int, now: datetime,
                     active_only: bool = False) -> list[EmergencyRow]:
    get_commune(session, actor, commune_id)
    rows = session.exec(select(EmergencyRow).where(EmergencyRow.commune_id == commune_id)
                        .order_by(col(EmergencyRow.id).desc()).limit(500)).all()
    if active_only:
        rows = [r for r in rows if is_active(session, r, now) or r.status in (PENDING, QUEUED)]
    return list(rows)


def is_active(session: Session, row: EmergencyRow, now: datetime) -> bool:
    end = ends_at(session, row)  # None when it has not started
    return row.status == AIRING and end is not None and row.started_at is not None and row.started_at <= now < end


def emergency_out(session: Session, row: EmergencyRow, now: datetime) -> EmergencyOut:
    data = row.model_dump()
    data.update(active=is_active(session, row, now), ends_at=ends_at(session, row))
    return EmergencyOut(**{k: v for k, v in data.items() if k in EmergencyOut.model_fields})
