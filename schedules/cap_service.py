"""CAP 1.2 alerts received by a commune: store the raw XML, decide, render, create the emergency.

A POSTed alert is parsed by the pure `schedules.cap` (defusedxml, size limit, validation). Then:
- its Vietnamese text becomes a content item (kind emergency) marked as coming from the alert
  (`cap_alert_id`), rendered by the OFFLINE engine (espeak) through the job queue (job kind
  `schedules.cap_render`). Nobody reviewed its words, so it is NOT approved: it waits in the review queue,
  may air only in this alert's emergency once a cadre confirmed it (or the station auto-airs Extreme +
  Immediate alerts), and needs a normal two-person review (the cadre who posted the alert is its
  contributor) to be used anywhere else — schedules, other emergencies, the public page;
- an emergency broadcast (3 repetitions, 10 s apart) is created for the villages the alert's area covers:
  pending until a cadre confirms, or queued to air at once when the station allows auto-air and the alert
  is Extreme + Immediate. It starts when its audio is ready;
- a CAP Cancel withdraws the emergencies of the alerts it references.
The alert row keeps the XML and the decision; status pending → confirmed / aired / rejected / cancelled.
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from content.library import contributions
from loa.languages import normalize_tag
from content.library.models import ContentItem, Kind, RenderState, Source, Status
from loa.accounts.principal import Principal
from loa.audit import service as audit
from loa.errors import Conflict, Invalid, PermissionDenied, TooLarge
from loa.jobs import service as jobs
from loa.jobs.models import Job
from loa.org.models import Village
from loa.org.service import get_commune
from loa.settings import Settings
from schedules import mapping
from schedules.cap import CapDecision, CapError, VillagePlace, ingest_cap
from schedules.emergency_service import PENDING, QUEUED, begin_if_ready, cancel_row
from schedules.schemas import CapAlertOut
from schedules.tables import CapAlertRow, EmergencyRow, StationSettingsRow, saved_id

RENDER_JOB = "schedules.cap_render"
CAP_REPEAT = 3
CAP_GAP_S = 10.0
OPERATORS = ("cadre",)
READERS = ("cadre", "secretary")


def village_places(session: Session, commune_id: int) -> list[VillagePlace]:
    """Villages with their coordinates and geocodes ("valueName=value, …" on the village)."""
    out: list[VillagePlace] = []
    for v in session.exec(select(Village).where(Village.commune_id == commune_id).order_by(col(Village.id))):
        codes: set[tuple[str, str]] = set()
        for part in (v.geocodes or "").split(","):
            name, sep, value = part.strip().partition("=")
            if sep and name.strip() and value.strip():
                codes.add((name.strip(), value.strip()))
        lat = v.latitude if v.latitude is not None else math.nan
        lon = v.longitude if v.longitude is not None else math.nan
        out.append(VillagePlace(str(v.id), lat, lon, frozenset(codes)))
    return out


def _cap_error(exc: CapError) -> Exception:
    vi, _, en = exc.message.partition(" / ")
    if exc.code == "too_large":
        return TooLarge("too_large", vi, en or vi)
    return Invalid(exc.code, f"Cảnh báo CAP bị từ chối: {vi}", f"CAP alert refused: {en or vi}")


def ingest(session: Session, actor: Principal, commune_id: int, data: bytes,
           now: datetime) -> tuple[CapAlertRow, EmergencyRow | None, Job | None, list[int]]:
    commune = get_commune(session, actor, commune_id)
    actor.require_role(commune_id, *OPERATORS)
    settings = mapping.station_settings(session.get(StationSettingsRow, commune_id), commune)
    try:
        decision = ingest_cap(data, village_places(session, commune_id), now, settings)
    except CapError as exc:
        raise _cap_error(exc) from None
    alert = decision.alert
    if session.exec(select(CapAlertRow.id).where(CapAlertRow.commune_id == commune_id,
                                                 CapAlertRow.sender == alert.sender[:300],
                                                 CapAlertRow.identifier == alert.identifier[:300])).first():
        raise Conflict("cap_duplicate", "Cảnh báo này đã được nhận", "This alert was already received",
                       identifier=alert.identifier)
    info = decision.info
    row = CapAlertRow(commune_id=commune_id, identifier=alert.identifier[:300], sender=alert.sender[:300],
                      sent=alert.sent, msg_type=alert.msg_type, raw_xml=data.decode("utf-8", "replace"),
                      received_by=actor.user_id, received_at=now, status=PENDING,
                      decision={"priority": mapping.PRIORITY_NAMES[decision.priority],
                                "villages": [int(v) for v in decision.village_ids], "text": decision.text,
                                "language": decision.language, "auto_air": decision.auto_air,
                                "cancels": list(decision.cancels),
                                "event": info.event if info else None,
                                "severity": info.severity if info else None,
                                "urgency": info.urgency if info else None,
                                "headline": info.headline if info else None,
                                "expires": info.expires.isoformat() if info and info.expires else None})
    session.add(row)
    session.flush()
    if decision.cancels:
        cancelled = _apply_cancel(session, commune_id, decision.cancels, now)
        row.status, row.decided_at = "applied", now
        session.add(row)
        audit.record(session, actor, "cap.cancel", "cap_alert", row.id, now, commune_id=commune_id,
                     cancelled=cancelled)
        return row, None, None, cancelled
    item, job = _render_item(session, actor, commune_id, row, decision, now)
    emergency = EmergencyRow(commune_id=commune_id, title=item.title, villages=row.decision["villages"],
                             programme=[{"type": "item", "content_id": item.id}], repeat=CAP_REPEAT,
                             gap_s=CAP_GAP_S, status=QUEUED if decision.auto_air else PENDING, source="cap",
                             cap_alert_id=row.id, created_by=actor.user_id, created_at=now)
    session.add(emergency)
    if decision.auto_air:
        row.status, row.decided_at = "aired", now
        session.add(row)
    session.flush()
    audit.record(session, actor, "cap.ingest", "cap_alert", row.id, now, commune_id=commune_id,
                 identifier=alert.identifier, auto_air=decision.auto_air, emergency_id=emergency.id,
                 content_item_id=item.id, content_reviewed=False)
    return row, emergency, job, []


def _render_item(session: Session, actor: Principal, commune_id: int, row: CapAlertRow, decision: CapDecision,
                 now: datetime) -> tuple[ContentItem, Job]:
    info = decision.info
    if info is None:  # decide() leaves it out only for a Cancel, which ingest handled before
        raise ValueError("CAP decision without an info block: nothing to render")
    if actor.user_id is None:  # the contributor of the item's words must be a person (content.library)
        raise PermissionDenied("person_required", "Chỉ một người dùng mới gửi được cảnh báo CAP",
                               "Only a person can post a CAP alert")
    title = (info.headline or info.event or "Cảnh báo")[:300]
    try:
        language = normalize_tag(decision.language or "vi")
    except Exception:  # noqa: BLE001 (an odd tag in an alert must not refuse a warning)
        language = "vi"
    item = ContentItem(commune_id=commune_id, title=title, kind=Kind.emergency.value, language=language,
                       source=Source.text.value, text=decision.text[:20000], engine="espeak", voice="vi",
                       speed=1.0, status=Status.submitted.value, submitted_at=now, author_id=actor.user_id,
                       render_state=RenderState.pending.value, render_generation=1, cap_alert_id=row.id,
                       search_text=f"{title} {decision.text}".casefold()[:41000], created_at=now, updated_at=now)
    session.add(item)
    session.flush()
    # Whoever posted the alert chose these words for the station: they may not be the one who reviews them.
    contributions.record(session, item, actor.user_id, "cap_alert", now, new_version=False)
    row.content_item_id = item.id
    session.add(row)
    job = jobs.enqueue(session, RENDER_JOB, {"item_id": item.id, "generation": 1, "alert_id": row.id}, now,
                       commune_id=commune_id, created_by=actor.user_id, object_type="cap_alert", object_id=row.id)
    return item, job


def _apply_cancel(session: Session, commune_id: int, identifiers: Iterable[str], now: datetime) -> list[int]:
    cancelled: list[int] = []
    alerts = session.exec(select(CapAlertRow).where(CapAlertRow.commune_id == commune_id,
                                                    col(CapAlertRow.identifier).in_(list(identifiers)))).all()
    for a in alerts:
        a.status, a.decided_at = "cancelled", now
        session.add(a)
        for e in session.exec(select(EmergencyRow).where(EmergencyRow.cap_alert_id == a.id)):
            if cancel_row(session, e, now):
                cancelled.append(saved_id(e))
    return cancelled


def render_job(engine: Engine, settings: Settings, payload: dict[str, Any], now: datetime, attempt: int = 1,
               max_attempts: int = 1) -> dict[str, Any]:
    """The job: render with espeak (the content render job), then start queued emergencies of the alert."""
    from content.library.render import render_item_job

    result = render_item_job(engine, settings, payload, now, attempt, max_attempts)
    started = start_ready(engine, now, payload.get("alert_id"))
    return {**result, "started_emergencies": started}


def start_ready(engine: Engine, now: datetime, alert_id: int | None = None) -> list[int]:
    """Queued emergencies whose audio is ready start now; their communes are re-materialized at once."""
    from loa.db import session_scope
    from schedules.service import service_for

    started: list[int] = []
    communes: dict[int, list[str]] = {}
    with session_scope(engine) as s:
        query = select(EmergencyRow).where(EmergencyRow.status == QUEUED)
        if alert_id is not None:
            query = query.where(EmergencyRow.cap_alert_id == alert_id)
        for e in s.exec(query):
            if begin_if_ready(s, e, now):
                started.append(saved_id(e))
                communes.setdefault(e.commune_id, []).append(mapping.emergency_key(saved_id(e)))
    svc = service_for(engine)
    for c in sorted(communes):
        svc.materialize_commune(c, now, started=communes[c])  # a signed start command first (§4a)
    return started


def get_alert(session: Session, actor: Principal, alert_id: int) -> CapAlertRow:
    from loa.errors import NotFound

    row = session.get(CapAlertRow, alert_id)
    if row is None or not actor.sees_commune(row.commune_id):
        raise NotFound("cap_alert_not_found", "Không tìm thấy cảnh báo", "Alert not found")
    actor.require_role(row.commune_id, *READERS, admin=True)
    return row


def list_alerts(session: Session, actor: Principal, commune_id: int, limit: int = 100) -> list[CapAlertRow]:
    get_commune(session, actor, commune_id)
    actor.require_role(commune_id, *READERS, admin=True)
    return list(session.exec(select(CapAlertRow).where(CapAlertRow.commune_id == commune_id)
                             .order_by(col(CapAlertRow.id).desc()).limit(limit)))


def alert_out(session: Session, row: CapAlertRow) -> CapAlertOut:
    emergency = session.exec(select(EmergencyRow.id).where(EmergencyRow.cap_alert_id == row.id)).first()
    data = row.model_dump(exclude={"raw_xml"})
    data["emergency_id"] = emergency
    return CapAlertOut(**{k: v for k, v in data.items() if k in CapAlertOut.model_fields})
