"""/api/v1: the cadre's side of devices: confirm an enrollment code, create a code, revoke, status, sound,
alerts, proof-of-play history. User auth (`Auth`); a device token gets 401 here."""
from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Query, Response

from api.deps import Auth, Context, DbSession, Id
from api.devices.station import Station, StationDep
from api.devices.schemas import AlertOut, CodeOut, ConfirmIn, DeviceStatusOut, PlayOut, RejectIn, SoundIn
from api.errors import responses as R
from broadcaster.station import enrollment, manifests, plays, views
from loa.audit import service as audit
from loa.db import session_scope
from loa.org import service as org

router = APIRouter(prefix="/api/v1", tags=["devices"])
CADRE = ("cadre",)


def sound_changed(station: Station, device_id: int) -> None:
    """Volume or mute committed: a signed command applies it to what is on air now (§4a), then the device's
    manifest is rebuilt (a higher seq) and it is nudged."""
    station.commander.sound_changed(device_id)
    station.nudger.nudge({device_id})


def _status(s, device, ctx) -> DeviceStatusOut:
    return DeviceStatusOut(**views.status_rows(s, [device], ctx.now, ctx.settings.device_offline_after_s)[0])


@router.post("/communes/{commune_id}/enrollments/confirm", response_model=DeviceStatusOut, status_code=201,
             responses=R(401, 403, 404, 422))
def confirm_enrollment(commune_id: Id, body: ConfirmIn, principal: Auth, ctx: Context,
                       s: DbSession) -> DeviceStatusOut:
    """Xác nhận mã thiết bị hiển thị và chọn thôn / confirm the code a device shows and pick its village."""
    device = enrollment.confirm(s, principal, commune_id, body.code, body.village_id, ctx.now, body.name,
                                body.device_id)
    return _status(s, device, ctx)


@router.post("/communes/{commune_id}/enrollments/reject", status_code=204, responses=R(401, 403, 404, 422))
def reject_enrollment(commune_id: Id, body: RejectIn, principal: Auth, ctx: Context, s: DbSession) -> Response:
    enrollment.reject(s, principal, commune_id, body.code, ctx.now)
    return Response(status_code=204)


@router.post("/devices/{device_id}/enrollment-code", response_model=CodeOut, status_code=201,
             responses=R(401, 403, 404, 422))
def create_enrollment_code(device_id: Id, principal: Auth, ctx: Context, s: DbSession) -> CodeOut:
    """Mã một lần (24 giờ) để nhập vào thiết bị / a one-time code (24 h) to type into the device."""
    code, expires = enrollment.create_code(s, principal, device_id, ctx.now)
    return CodeOut(device_id=device_id, code=code, expires_at=expires)


@router.post("/devices/{device_id}/revoke", response_model=DeviceStatusOut, responses=R(401, 403, 404))
def revoke_device(device_id: Id, principal: Auth, ctx: Context, station: StationDep) -> DeviceStatusOut:
    with session_scope(ctx.engine) as s:
        device = enrollment.revoke(s, principal, device_id, ctx.now)
        manifests.forget(s, station.context, device.id)
        out = _status(s, device, ctx)
    # again after the commit: a request that read the device between forget() and the commit cached it unrevoked
    station.context.identity_changed([device_id])
    station.sse_hub.close_device(device_id)  # its open streams end now: no further ping
    station.device_enrolled()  # the broker's files drop the device
    return out


@router.get("/communes/{commune_id}/device-status", response_model=list[DeviceStatusOut], responses=R(401, 404))
def list_device_status(commune_id: Id, principal: Auth, ctx: Context) -> list[DeviceStatusOut]:
    """Trạng thái các cụm loa / every device with status, last seen, now playing, cache, clock offset."""
    from broadcaster.station import status

    with session_scope(ctx.engine) as s:
        org.get_commune(s, principal, commune_id)
        status.mark_offline(s, ctx.now, ctx.settings.device_offline_after_s, commune_id)
        devices = views.commune_devices(s, principal, commune_id)
        return [DeviceStatusOut(**row) for row in views.status_rows(s, devices, ctx.now,
                                                                    ctx.settings.device_offline_after_s)]


@router.get("/devices/{device_id}/status", response_model=DeviceStatusOut, responses=R(401, 404))
def device_status(device_id: Id, principal: Auth, ctx: Context, s: DbSession) -> DeviceStatusOut:
    from broadcaster.station import status

    device = org.get_device(s, principal, device_id)
    status.mark_offline(s, ctx.now, ctx.settings.device_offline_after_s, device.commune_id)
    s.refresh(device)
    return _status(s, device, ctx)


@router.put("/devices/{device_id}/sound", response_model=DeviceStatusOut, responses=R(401, 403, 404, 422))
def set_sound(device_id: Id, body: SoundIn, principal: Auth, ctx: Context, station: StationDep) -> DeviceStatusOut:
    """Âm lượng và tắt tiếng từ xa / remote volume and mute: a new manifest version and a nudge."""
    with session_scope(ctx.engine) as s:
        device = org.get_device(s, principal, device_id)
        principal.require_role(device.commune_id, *CADRE, admin=True)
        if body.volume is not None:
            device.volume = body.volume
        if body.muted is not None:
            device.muted = body.muted
        s.add(device)
        audit.record(s, principal, "device.sound", "device", device.id, ctx.now, commune_id=device.commune_id,
                     volume=device.volume, muted=device.muted)
        out = _status(s, device, ctx)
    sound_changed(station, device_id)
    return out


@router.get("/communes/{commune_id}/device-alerts", response_model=list[AlertOut], responses=R(401, 404, 422))
def list_alerts(commune_id: Id, principal: Auth, ctx: Context, open: bool = True,
                since: datetime | None = None) -> list[AlertOut]:
    from broadcaster.station import status

    with session_scope(ctx.engine) as s:
        org.get_commune(s, principal, commune_id)
        status.mark_offline(s, ctx.now, ctx.settings.device_offline_after_s, commune_id)
        rows = views.alerts(s, principal, commune_id, open, since)
        return [AlertOut(id=a.id, device_id=a.device_id, kind=a.kind, detail=a.detail, raised_at=a.raised_at,
                         resolved_at=a.resolved_at, open=a.open_key is not None) for a in rows]


def _plays_out(rows) -> list[PlayOut]:
    return [PlayOut(device_id=r.device_id, village_id=r.village_id, identity=r.uid, seq=r.seq, play_id=r.play_id,
                    sha256=r.sha256, title=r.title, priority=r.priority, planned_start=r.planned_start,
                    actual_start=r.actual_start, actual_end=r.actual_end, result=r.result, reason=r.reason)
            for r in rows]


@router.get("/devices/{device_id}/plays", response_model=list[PlayOut], responses=R(401, 404, 422))
def device_plays(device_id: Id, principal: Auth, ctx: Context, since: datetime | None = None,
                 until: datetime | None = None, limit: int = Query(500, ge=1, le=5000)) -> list[PlayOut]:
    """Lịch sử phát (bằng chứng phát) / proof-of-play history of one device, newest first."""
    with session_scope(ctx.engine) as s:
        org.get_device(s, principal, device_id)
        return _plays_out(plays.history(s, device_id=device_id, since=since, until=until, limit=limit))


@router.get("/villages/{village_id}/plays", response_model=list[PlayOut], responses=R(401, 404, 422))
def village_plays(village_id: Id, principal: Auth, ctx: Context, since: datetime | None = None,
                  until: datetime | None = None, limit: int = Query(500, ge=1, le=5000)) -> list[PlayOut]:
    with session_scope(ctx.engine) as s:
        village = org.get_village(s, principal, village_id)
        if (not principal.is_admin and principal.role_in(village.commune_id) == "village_head"
                and principal.village_in(village.commune_id) != village.id):
            from loa.errors import NotFound

            raise NotFound("not_found", "Không tìm thấy thôn", "Village not found")
        return _plays_out(plays.history(s, village_id=village_id, since=since, until=until, limit=limit))
