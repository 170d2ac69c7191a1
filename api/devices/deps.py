"""The device auth dependency ("one dependency for auth, one for device auth"): a device token reaches only
/api/device/v1, and a cadre's token never resolves here."""
from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.devices.station import StationDep
from broadcaster.station import deviceauth
from broadcaster.station.deviceauth import DeviceIdentity
from broadcaster.station.secrets import token_hash


def device_authenticated(request: Request, station: StationDep) -> DeviceIdentity:
    """From the process's identity cache when fresh (see broadcaster/station/identities.py), else the database,
    whose answer is cached. Revoked and unknown tokens are never cached: they raise here every time."""
    st = station
    header = request.headers.get("authorization")
    cache = st.identities
    token = deviceauth.token_from_header(header)
    if token is None:
        with st.engine.connect() as conn:
            return deviceauth.resolve(conn, header)
    if cache.due():
        cache.changes(st.engine)
    h = token_hash(token)
    ident = cache.get(h)
    if ident is None:
        started = cache.monotonic()
        with st.engine.connect() as conn:
            ident = deviceauth.resolve(conn, header)
        cache.put(h, ident, loaded_at=started)
    return ident


DeviceAuth = Annotated[DeviceIdentity, Depends(device_authenticated)]
