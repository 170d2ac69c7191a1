"""/api/device/v1: the endpoints a loudspeaker box talks to (docs/device-protocol.md). Device auth only."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from api.content.audio import serve_audio
from api.deps import client_ip
from api.devices import beats, enroll_limits
from api.devices.deps import DeviceAuth
from api.devices.fastpath import etag_matches
from api.devices.station import Station, StationDep
from api.devices.schemas import EnrollClaimIn, EnrollPollIn, EnrollStartIn, HeartbeatIn, PlaysIn, PlaysOut
from api.errors import responses as R
from broadcaster.protocol.wire import API_PREFIX, format_time, is_sha256
from broadcaster.station import enrollment, manifests
from loa.db import session_scope
from loa.errors import NotFound, RateLimited
from loa.org.models import Device

router = APIRouter(prefix=API_PREFIX, tags=["device protocol"])


def _audio_missing() -> NotFound:
    return NotFound("not_found", "Không có tệp âm thanh này cho thiết bị", "No such audio for this device")


# -- enrollment (no auth) ---------------------------------------------------------------------------------
@router.post("/enroll/start", status_code=201, responses=R(422, 429))
def enroll_start(body: EnrollStartIn, request: Request, station: StationDep) -> dict[str, Any]:
    """Rate-limited per client address (`LOA_ENROLL_START_LIMIT` per 10 minutes): each call makes a pending
    code a cadre might type, and an audit entry."""
    ip, now = client_ip(request), station.clock()
    enroll_limits.check(request, "start", ip, now)
    with session_scope(station.engine) as s:
        return enrollment.start(s, body.model_dump(), now, ip)


@router.post("/enroll/poll", responses={202: {"description": "pending"}, **R(404, 410, 422, 429)})
def enroll_poll(body: EnrollPollIn, request: Request, station: StationDep) -> Response:
    ip, now = client_ip(request), station.clock()
    enroll_limits.check(request, "poll", ip, now)
    with session_scope(station.engine) as s:
        creds = enrollment.poll(s, station.context, body.enrollment_id, body.poll_secret, now, ip)
    if creds is None:
        return JSONResponse({"status": "pending"}, status_code=202)
    _after_enrollment(station)
    return JSONResponse(creds)


@router.post("/enroll/claim", responses=R(404, 422, 429))
def enroll_claim(body: EnrollClaimIn, request: Request, station: StationDep) -> dict[str, Any]:
    """Wrong codes are limited per address in the database (5 per 10 minutes, every replica counts);
    the refusals after that are summarised in the audit log, one entry per address and window."""
    ip = client_ip(request)
    with session_scope(station.engine) as s:
        try:
            creds = enrollment.claim(s, station.context, body.code, body.model_dump(exclude={"code"}), ip, station.clock())
        except RateLimited as exc:
            enroll_limits.refused(request, "claim", ip, station.clock(), exc)
            raise
    _after_enrollment(station)
    return creds


def _after_enrollment(station: Station) -> None:
    # A re-enrolled box's old identity is revoked: its open streams close now (the database says which).
    station.sse_guard.check_now()
    station.device_enrolled()


# -- manifest, audio, keys ---------------------------------------------------------------------------------
_etag_matches = etag_matches  # one rule for the route and the fast path (api/devices/fastpath.py)


@router.get("/manifest", responses={200: {"description": "signed manifest envelope"}, 304: {"description": "unchanged"},
                                    **R(401, 404)})
def get_manifest(ident: DeviceAuth, request: Request, station: StationDep) -> Response:
    now = station.clock()
    entry = manifests.cached_for(station.context, ident, now)
    if entry is None:
        entry = manifests.current_retrying(station.engine, station.context, ident, now)
    headers = {"ETag": entry.etag, "Cache-Control": "no-cache"}
    if _etag_matches(request.headers.get("if-none-match"), entry.etag):
        return Response(status_code=304, headers=headers)
    return Response(entry.body, media_type="application/json", headers=headers)


@router.get("/audio/{sha256}", responses={200: {"description": "audio bytes"}, 206: {"description": "a range"},
                                          **R(401, 404, 416)})
def get_audio(sha256: str, ident: DeviceAuth, request: Request, station: StationDep) -> Response:
    from content.store import AudioStore, StoreError

    if not is_sha256(sha256):
        raise _audio_missing()
    with session_scope(station.engine) as s:
        allowed = manifests.may_fetch(s, ident.device_id, sha256, station.clock())
    if not allowed:
        raise _audio_missing()
    try:
        path = AudioStore(station.context.audio_dir).path_for(sha256)
    except StoreError:
        raise _audio_missing() from None
    response = serve_audio(request, path, sha256)
    # Private: the file is this device's business; immutable: its name is its hash.
    response.headers["Cache-Control"] = "private, max-age=31536000, immutable"
    return response


@router.get("/keys", responses=R(401))
def get_keys(ident: DeviceAuth, station: StationDep) -> dict[str, Any]:
    return station.context.keyring.signed_keyset(station.clock())


# -- status and proof of play ------------------------------------------------------------------------------
@router.post("/heartbeat", status_code=204, response_class=Response,
             responses={204: {"description": "received; `X-Loa-Manifest-Version` names the current manifest"},
                        200: {"description": "received, and live sessions concern this device: `manifest_version`, "
                                             "`live` (signed live commands on air), `live_ended` (their stops)"},
                        **R(401, 422)})
def heartbeat(body: HeartbeatIn, ident: DeviceAuth, station: StationDep) -> Response:
    """§6: no body in the reply, 5 minutes apart from every device: the version rides in a header and the
    time in `X-Loa-Server-Time`. Fields the device left out are unchanged since its previous heartbeat.
    (Most heartbeats are answered by the fast path, api/devices/fastpath.py, with the same function.)"""
    return beats.heartbeat(station, ident, body)


@router.post("/plays", response_model=PlaysOut, responses=R(401, 413, 422))
def upload_plays(body: PlaysIn, ident: DeviceAuth, station: StationDep) -> PlaysOut:
    return beats.upload_plays(station, ident, body)


# -- nudges ------------------------------------------------------------------------------------------------
@router.get("/events", responses={200: {"description": "text/event-stream of `sync` events"}, **R(401)})
async def events(ident: DeviceAuth, request: Request, station: StationDep) -> StreamingResponse:

    def current() -> dict[str, Any]:
        now = station.clock()
        if ident.village_id is None:
            return {"version": "", "emergency": False, "at": format_time(now)}
        with session_scope(station.engine) as s:
            device = s.get(Device, ident.device_id)
            entry = manifests.current(s, station.context, device, ident.uid,
                                      manifests.timetable_version(s, ident.device_id), now)
        return {"version": entry.version, "emergency": entry.emergency, "at": format_time(now)}

    async def first() -> dict[str, Any]:
        return await run_in_threadpool(current)

    return StreamingResponse(station.sse_hub.stream(ident.device_id, first, station.sse_ping_s, uid=ident.uid),
                             media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

