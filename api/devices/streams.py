"""GET /api/device/v1/streams/{name}: a mount of the station's stream hub as MP3, for enrolled devices (the
embedded default; at scale agents listen on Icecast instead). The device token is the only credential."""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from api.devices.deps import DeviceAuth
from api.errors import responses
from broadcaster.protocol.wire import API_PREFIX
from loa.errors import NotFound

router = APIRouter(prefix=API_PREFIX, tags=["device protocol"])


@router.get("/streams/{name}", responses={200: {"description": "audio/mpeg, endless until the mount ends"},
                                         **responses(401, 404)},
            summary="Listen to a live or relayed mount from now on (MP3)")
async def listen(name: str, request: Request, ident: DeviceAuth) -> StreamingResponse:
    hub = request.app.state.streams
    mount = hub.get(name)
    if mount is None or (mount.commune_id is not None and mount.commune_id != ident.commune_id):
        raise NotFound("stream_not_found", "Không có luồng phát này", "No such stream")
    return StreamingResponse(mount.listen(), media_type="audio/mpeg",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
