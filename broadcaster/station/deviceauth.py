"""Who is this device: one indexed lookup from the bearer token to the device's identity and placement.

A missing or unknown token is `401 unauthorized` (the device keeps playing and retries); a revoked identity is
`401 device_revoked` (final: the device forgets its token and manifest)."""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from broadcaster.station.models import DeviceCredential
from broadcaster.station.secrets import TOKEN_PREFIX, token_hash
from loa.db import table_of
from loa.errors import Unauthenticated
from loa.org.models import Device
from schedules.tables import DeviceTimetable


@dataclass(frozen=True)
class DeviceIdentity:
    uid: str
    device_id: int
    commune_id: int
    village_id: int | None
    volume: int
    muted: bool
    timetable_version: str | None = None


_C, _D, _T = table_of(DeviceCredential), table_of(Device), table_of(DeviceTimetable)
# One query per request: identity, placement, sound settings and the timetable version (the manifest's source).
_LOOKUP = sa.select(_C.c.uid, _C.c.revoked_at, _D.c.id, _D.c.commune_id, _D.c.village_id, _D.c.volume,
                    _D.c.muted, _D.c.revoked_at, _T.c.version) \
    .select_from(_C.join(_D, _C.c.device_id == _D.c.id).outerjoin(_T, _T.c.device_id == _D.c.id)) \
    .where(_C.c.token_hash == sa.bindparam("h"))


def unauthorized() -> Unauthenticated:
    return Unauthenticated("unauthorized", "Thiết bị chưa được xác thực", "The device is not authenticated")


def revoked() -> Unauthenticated:
    return Unauthenticated("device_revoked", "Thiết bị đã bị thu hồi", "The device has been revoked")


def token_from_header(header: str | None) -> str | None:
    scheme, _, secret = (header or "").partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not secret.startswith(TOKEN_PREFIX):
        return None  # a cadre's token is never a device token
    return secret


def resolve(conn: Connection, header: str | None) -> DeviceIdentity:
    token = token_from_header(header)
    if token is None:
        raise unauthorized()
    row = conn.execute(_LOOKUP, {"h": token_hash(token)}).first()
    if row is None:
        raise unauthorized()
    uid, cred_revoked, device_id, commune_id, village_id, volume, muted, device_revoked, version = row
    if cred_revoked is not None or device_revoked is not None:
        raise revoked()
    return DeviceIdentity(uid, device_id, commune_id, village_id, int(volume), bool(muted), version)
