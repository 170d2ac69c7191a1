"""Emergencies, CAP alerts, station settings and nightly reports.

An emergency airs at once in the chosen villages and pre-empts whatever plays; its commune is re-materialized
in the same request. CAP documents are POSTed raw (application/xml, text/xml or application/cap+xml): 415 for
another content type, 413 over 512 kB, 422 with the CapError code for hostile, malformed or expired alerts."""
from __future__ import annotations

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from api.deps import Auth, Context, Id
from api.errors import responses
from api.schedules.air import EmergencyStatusOut, status_out
from api.schedules.router import Service
from loa.db import session_scope
from loa.errors import UnsupportedMediaType
from loa.jobs.models import Job
from schedules import cap_service, station
from schedules import emergency_service as emergencies
from schedules.limits import RecurrenceLimits
from schedules.cap import MAX_BYTES
from schedules.schemas import (
    CapAlertOut,
    CapIngestOut,
    EmergencyIn,
    EmergencyOut,
    ReportOut,
    StationSettingsIn,
    StationSettingsOut,
)
from schedules.tables import NightlyReport

router = APIRouter(prefix="/api/v1", tags=["emergencies"])
R = responses
XML_TYPES = ("application/xml", "text/xml", "application/cap+xml")


@router.post("/communes/{commune_id}/emergencies", response_model=EmergencyOut, status_code=201,
             responses=R(401, 403, 404, 422),
             summary="Air an emergency now in chosen villages (cadre): repeat N times, or null = until cancelled")
def start_emergency(commune_id: Id, body: EmergencyIn, principal: Auth, ctx: Context, svc: Service) -> EmergencyOut:
    with session_scope(ctx.engine) as s:
        row = emergencies.start(s, principal, commune_id, body, ctx.now, RecurrenceLimits.from_settings(ctx.settings))
    svc.materialize_commune(commune_id, ctx.now, started=[f"e{row.id}"])
    with session_scope(ctx.engine) as s:
        return emergencies.emergency_out(s, row, ctx.now)


@router.get("/communes/{commune_id}/emergencies", response_model=list[EmergencyOut], responses=R(401, 404, 422),
            summary="Emergencies of a commune (active=true: airing now, or waiting to air)")
def list_emergencies(commune_id: Id, principal: Auth, ctx: Context, active: bool = False) -> list[EmergencyOut]:
    with session_scope(ctx.engine) as s:
        return [emergencies.emergency_out(s, r, ctx.now)
                for r in emergencies.list_emergencies(s, principal, commune_id, ctx.now, active)]


@router.get("/emergencies/{emergency_id}", response_model=EmergencyStatusOut, responses=R(401, 404),
            summary="An emergency and what each of its loudspeakers reports: playing it, and after a cancel, "
                    "whether it confirmed the stop (đang dừng… until every one did)")
def get_emergency(emergency_id: Id, principal: Auth, ctx: Context) -> EmergencyStatusOut:
    with session_scope(ctx.engine) as s:
        row = emergencies.get_emergency(s, principal, emergency_id)
        return status_out(s, row, ctx.now, ctx.settings.device_offline_after_s)


@router.post("/emergencies/{emergency_id}/cancel", response_model=EmergencyStatusOut, responses=R(401, 403, 404),
             summary="Cancel now (cadre): the repetition on air is cut, the rest removed; a pending one is rejected. "
                     "The reply says đang dừng… until the loudspeakers confirm (GET the emergency to follow it)")
def cancel_emergency(emergency_id: Id, principal: Auth, ctx: Context, svc: Service) -> EmergencyStatusOut:
    with session_scope(ctx.engine) as s:
        row = emergencies.cancel(s, principal, emergency_id, ctx.now)
    svc.materialize_commune(row.commune_id, ctx.now, stopped=[f"e{row.id}"])
    with session_scope(ctx.engine) as s:
        row = s.get(type(row), row.id)
        return status_out(s, row, ctx.now, ctx.settings.device_offline_after_s)


@router.post("/emergencies/{emergency_id}/confirm", response_model=EmergencyOut, responses=R(401, 403, 404, 409),
             summary="Confirm a pending (CAP) emergency (cadre): it airs now, or once its audio is rendered")
def confirm_emergency(emergency_id: Id, principal: Auth, ctx: Context, svc: Service) -> EmergencyOut:
    with session_scope(ctx.engine) as s:
        row = emergencies.confirm(s, principal, emergency_id, ctx.now)
    svc.materialize_commune(row.commune_id, ctx.now, started=[f"e{row.id}"] if row.status == "airing" else [])
    with session_scope(ctx.engine) as s:
        return emergencies.emergency_out(s, row, ctx.now)


def _job_id(job: Job | None) -> int | None:
    return job.id if job is not None else None


@router.post("/communes/{commune_id}/cap", response_model=CapIngestOut, status_code=201,
             responses=R(401, 403, 404, 409, 413, 415, 422),
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/xml": {"schema": {"type": "string", "maxLength": MAX_BYTES}},
                 "application/cap+xml": {"schema": {"type": "string"}}}}},
             summary="Receive a CAP 1.2 alert (cadre or a feed's token): render, then confirm or auto-air")
async def receive_cap(commune_id: Id, request: Request, principal: Auth, ctx: Context, svc: Service) -> CapIngestOut:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in XML_TYPES:
        raise UnsupportedMediaType("unsupported_type", "Cảnh báo CAP phải gửi dạng XML (application/xml)",
                                   "A CAP alert must be sent as XML (application/xml)", received=kind)
    data = await request.body()

    def work() -> CapIngestOut:
        with session_scope(ctx.engine) as s:
            alert, emergency, job, cancelled = cap_service.ingest(s, principal, commune_id, data, ctx.now)
        if cancelled or (emergency is not None and emergency.status != "pending"):
            svc.materialize_commune(commune_id, ctx.now, stopped=[f"e{i}" for i in cancelled or []])
        with session_scope(ctx.engine) as s:
            return CapIngestOut(alert=cap_service.alert_out(s, alert),
                                emergency=emergencies.emergency_out(s, emergency, ctx.now) if emergency else None,
                                render_job_id=_job_id(job), cancelled_emergencies=cancelled)

    return await run_in_threadpool(work)


@router.get("/communes/{commune_id}/cap", response_model=list[CapAlertOut], responses=R(401, 403, 404, 422),
            summary="CAP alerts received (cadre, secretary)")
def list_cap(commune_id: Id, principal: Auth, ctx: Context,
             limit: int = Query(100, ge=1, le=500)) -> list[CapAlertOut]:
    with session_scope(ctx.engine) as s:
        return [cap_service.alert_out(s, a) for a in cap_service.list_alerts(s, principal, commune_id, limit)]


@router.get("/cap-alerts/{alert_id}", response_model=CapAlertOut, responses=R(401, 403, 404))
def get_cap(alert_id: Id, principal: Auth, ctx: Context) -> CapAlertOut:
    with session_scope(ctx.engine) as s:
        return cap_service.alert_out(s, cap_service.get_alert(s, principal, alert_id))


@router.get("/communes/{commune_id}/station-settings", response_model=StationSettingsOut, responses=R(401, 404),
            tags=["station"], summary="Quiet hours, maximum programme length, CAP auto-air, timezone")
def get_station_settings(commune_id: Id, principal: Auth, ctx: Context) -> StationSettingsOut:
    with session_scope(ctx.engine) as s:
        return station.get_settings(s, principal, commune_id)


@router.put("/communes/{commune_id}/station-settings", response_model=StationSettingsOut,
            responses=R(401, 403, 404, 422), tags=["station"], summary="Change the station settings (cadre)")
def put_station_settings(commune_id: Id, body: StationSettingsIn, principal: Auth, ctx: Context,
                         svc: Service) -> StationSettingsOut:
    with session_scope(ctx.engine) as s:
        out = station.put_settings(s, principal, commune_id, body, ctx.now)
    svc.materialize_commune(commune_id, ctx.now)
    return out


@router.get("/communes/{commune_id}/reports", response_model=list[ReportOut], responses=R(401, 403, 404, 422),
            tags=["station"], summary="Nightly reports (cadre, secretary)")
def list_reports(commune_id: Id, principal: Auth, ctx: Context,
                 limit: int = Query(31, ge=1, le=366)) -> list[ReportOut]:
    from sqlmodel import select

    from loa.org.service import get_commune

    with session_scope(ctx.engine) as s:
        get_commune(s, principal, commune_id)
        principal.require_role(commune_id, "cadre", "secretary", admin=True)
        rows = s.exec(select(NightlyReport).where(NightlyReport.commune_id == commune_id)
                      .order_by(NightlyReport.day.desc()).limit(limit))
        return [ReportOut(**r.model_dump(include=set(ReportOut.model_fields))) for r in rows]
