"""What `POST /api/device/v1/heartbeat` and `POST /api/device/v1/plays` do once the device is authenticated and
the body validated: one function each, called by the routes (api/devices/protocol.py) and by the device fast path
(api/devices/fastpath.py), so the two cannot answer differently. Sync: run on a worker thread."""
from __future__ import annotations

from fastapi import Response
from fastapi.responses import JSONResponse

from api.devices.schemas import HeartbeatIn, PlaysIn, PlaysOut
from api.devices.station import Station
from broadcaster.protocol.wire import MANIFEST_VERSION_HEADER
from broadcaster.station import manifests, plays, status
from broadcaster.station.deviceauth import DeviceIdentity
from broadcaster.station.live import late as live_late
from loa.db import session_scope


def heartbeat(station: Station, ident: DeviceIdentity, body: HeartbeatIn) -> Response:
    """§6: no body in the reply, 5 minutes apart from every device: the version rides in a header and the
    time in `X-Loa-Server-Time`. Fields the device left out are unchanged since its previous heartbeat."""
    now = station.clock()
    with session_scope(station.engine) as s:
        status.heartbeat(s, ident, body.model_dump(exclude_unset=True), now)
        # a live session on air that this box is not in yet (offline at the start, restarted, its link back):
        # the original signed commands, for the rare beat that has any (§4a "Live sessions", late joiners)
        late = live_late.for_device(s, ident.commune_id, ident.uid, ident.village_id, now)
    headers = {}
    version: str | None = None
    if ident.village_id is not None:
        entry = manifests.cached_for(station.context, ident, now)
        version = (entry or manifests.current_retrying(station.engine, station.context, ident, now)).version
        headers[MANIFEST_VERSION_HEADER] = version
    if late:
        return JSONResponse({"manifest_version": version, "live": late.live, "live_ended": late.ended},
                            headers=headers)
    return Response(status_code=204, headers=headers)


def upload_plays(station: Station, ident: DeviceIdentity, body: PlaysIn) -> PlaysOut:
    records = [r.model_dump(mode="json") for r in body.records]
    with session_scope(station.engine) as s:
        acked = plays.ingest(s, ident, records, station.clock())
    return PlaysOut(acked_through=acked)
