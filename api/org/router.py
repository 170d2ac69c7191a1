"""Provinces, communes, villages, devices, users and memberships, the audit log."""
from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Query, Response

from api.auth.router import user_out
from api.deps import Auth, Context
from api.deps import Id
from api.errors import responses
from loa.accounts import service as accounts
from loa.accounts.schemas import MemberOut, MembershipSet, UserCreate, UserOut
from loa.audit import service as audit
from loa.db import session_scope
from loa.org import service as org
from loa.org.schemas import (AuditOut, CommuneCreate, CommuneOut, CommuneUpdate, DeviceCreate, DeviceOut,
                             DeviceUpdate, ProvinceCreate, ProvinceOut, VillageCreate, VillageOut, VillageUpdate)
from schedules.village_uses import village_uses

router = APIRouter(prefix="/api/v1", tags=["organisation"])
R = responses


def _out(model, row):
    return model(**row.model_dump(include=set(model.model_fields)))


@router.get("/provinces", response_model=list[ProvinceOut], responses=R(401))
def list_provinces(principal: Auth, ctx: Context):
    with session_scope(ctx.engine) as s:
        return [_out(ProvinceOut, p) for p in org.list_provinces(s, principal)]


@router.post("/provinces", response_model=ProvinceOut, status_code=201, responses=R(401, 403, 409, 422))
def create_province(body: ProvinceCreate, principal: Auth, ctx: Context):
    with session_scope(ctx.engine) as s:
        return _out(ProvinceOut, org.create_province(s, principal, body.name, ctx.now, body.code))


@router.get("/communes", response_model=list[CommuneOut], responses=R(401),
            summary="The communes the caller belongs to (all of them for a system admin)")
def list_communes(principal: Auth, ctx: Context):
    with session_scope(ctx.engine) as s:
        return [_out(CommuneOut, c) for c in org.list_communes(s, principal)]


@router.post("/communes", response_model=CommuneOut, status_code=201, responses=R(401, 403, 404, 409, 422))
def create_commune(body: CommuneCreate, principal: Auth, ctx: Context):
    with session_scope(ctx.engine) as s:
        return _out(CommuneOut, org.create_commune(s, principal, body.province_id, body.name, ctx.now, body.code,
                                                   body.timezone))


@router.get("/communes/{commune_id}", response_model=CommuneOut, responses=R(401, 404))
def get_commune(commune_id: Id, principal: Auth, ctx: Context):
    with session_scope(ctx.engine) as s:
        return _out(CommuneOut, org.get_commune(s, principal, commune_id))


@router.get("/communes/{commune_id}/villages", response_model=list[VillageOut], responses=R(401, 404))
def list_villages(commune_id: Id, principal: Auth, ctx: Context):
    with session_scope(ctx.engine) as s:
        return [_out(VillageOut, v) for v in org.list_villages(s, principal, commune_id)]


@router.post("/communes/{commune_id}/villages", response_model=VillageOut, status_code=201,
             responses=R(401, 403, 404, 409, 422))
def create_village(commune_id: Id, body: VillageCreate, principal: Auth, ctx: Context):
    with session_scope(ctx.engine) as s:
        return _out(VillageOut, org.create_village(s, principal, commune_id, body.name, ctx.now,
                                                   body.default_language, body.latitude, body.longitude,
                                                   body.geocodes))


@router.get("/villages/{village_id}", response_model=VillageOut, responses=R(401, 404))
def get_village(village_id: Id, principal: Auth, ctx: Context):
    with session_scope(ctx.engine) as s:
        return _out(VillageOut, org.get_village(s, principal, village_id))


@router.get("/communes/{commune_id}/devices", response_model=list[DeviceOut], responses=R(401, 404))
def list_devices(commune_id: Id, principal: Auth, ctx: Context):
    with session_scope(ctx.engine) as s:
        return [_out(DeviceOut, d) for d in org.list_devices(s, principal, commune_id)]


@router.post("/communes/{commune_id}/devices", response_model=DeviceOut, status_code=201,
             responses=R(401, 403, 404, 422))
def create_device(commune_id: Id, body: DeviceCreate, principal: Auth, ctx: Context):
    with session_scope(ctx.engine) as s:
        return _out(DeviceOut, org.create_device(s, principal, commune_id, body.name, ctx.now, body.village_id,
                                                 body.latitude, body.longitude))


@router.get("/devices/{device_id}", response_model=DeviceOut, responses=R(401, 404))
def get_device(device_id: Id, principal: Auth, ctx: Context):
    with session_scope(ctx.engine) as s:
        return _out(DeviceOut, org.get_device(s, principal, device_id))


@router.get("/communes/{commune_id}/members", response_model=list[MemberOut], responses=R(401, 403, 404))
def list_members(commune_id: Id, principal: Auth, ctx: Context):
    with session_scope(ctx.engine) as s:
        org.get_commune(s, principal, commune_id)
        return [MemberOut(user_id=u.id, username=u.username, display_name=u.display_name, role=m.role,
                          village_id=m.village_id) for u, m in accounts.list_members(s, principal, commune_id)]


@router.get("/communes/{commune_id}/audit", response_model=list[AuditOut], responses=R(401, 403, 404, 422))
def commune_audit(commune_id: Id, principal: Auth, ctx: Context, object_type: str | None = Query(None, max_length=32),
                  object_id: str | None = Query(None, max_length=64), limit: int = Query(100, ge=1, le=500),
                  before_id: int | None = None, actor: str | None = Query(None, max_length=64),
                  action: str | None = Query(None, max_length=64), since: datetime | None = None,
                  until: datetime | None = None):
    with session_scope(ctx.engine) as s:
        org.get_commune(s, principal, commune_id)
        return [_out(AuditOut, e) for e in audit.list_entries(s, principal, commune_id, object_type, object_id,
                                                               limit, before_id, actor, action,
                                                               _aware(since), _aware(until))]


@router.get("/audit", response_model=list[AuditOut], responses=R(401, 403, 422),
            summary="The whole audit log (system admin)")
def all_audit(principal: Auth, ctx: Context, object_type: str | None = Query(None, max_length=32),
              object_id: str | None = Query(None, max_length=64), limit: int = Query(100, ge=1, le=500),
              before_id: int | None = None, actor: str | None = Query(None, max_length=64),
              action: str | None = Query(None, max_length=64, description='"village.update", or a prefix "village."'),
              since: datetime | None = Query(None, description="from this instant (ISO 8601 with offset)"),
              until: datetime | None = Query(None, description="before this instant")):
    with session_scope(ctx.engine) as s:
        return [_out(AuditOut, e) for e in audit.list_entries(s, principal, None, object_type, object_id, limit,
                                                               before_id, actor, action, _aware(since),
                                                               _aware(until))]


def _aware(value: datetime | None) -> datetime | None:
    """An instant without an offset is read as UTC (the log stores UTC)."""
    from datetime import timezone

    return value.replace(tzinfo=timezone.utc) if value is not None and value.tzinfo is None else value


@router.get("/users", response_model=list[UserOut], responses=R(401, 403))
def list_users(principal: Auth, ctx: Context):
    with session_scope(ctx.engine) as s:
        return [user_out(s, u) for u in accounts.list_users(s, principal)]


@router.post("/users", response_model=UserOut, status_code=201, responses=R(401, 403, 409, 422))
def create_user(body: UserCreate, principal: Auth, ctx: Context):
    with session_scope(ctx.engine) as s:
        user = accounts.create_user(s, principal, body.username, body.password, ctx.now, body.display_name,
                                    body.is_admin)
        return user_out(s, user)


@router.get("/users/{user_id}", response_model=UserOut, responses=R(401, 404))
def get_user(user_id: Id, principal: Auth, ctx: Context):
    with session_scope(ctx.engine) as s:
        return user_out(s, accounts.get_user(s, principal, user_id))


@router.put("/users/{user_id}/memberships", response_model=UserOut, responses=R(401, 403, 404, 422),
            summary="Give the user a role in a commune (replaces their role there)")
def set_membership(user_id: Id, body: MembershipSet, principal: Auth, ctx: Context):
    with session_scope(ctx.engine) as s:
        accounts.add_membership(s, principal, user_id, body.commune_id, body.role.value, ctx.now, body.village_id)
        return user_out(s, accounts.get_user(s, principal, user_id))


@router.delete("/users/{user_id}/memberships/{commune_id}", response_model=UserOut, responses=R(401, 403, 404))
def remove_membership(user_id: Id, commune_id: Id, principal: Auth, ctx: Context):
    with session_scope(ctx.engine) as s:
        accounts.remove_membership(s, principal, user_id, commune_id, ctx.now)
        return user_out(s, accounts.get_user(s, principal, user_id))


# Editing the organisation (issue 14): system admin only; the services audit every change.

@router.patch("/communes/{commune_id}", response_model=CommuneOut, responses=R(401, 403, 404, 409, 422),
              summary="Change a commune's name, code, province or timezone (system admin)")
def update_commune(commune_id: Id, body: CommuneUpdate, principal: Auth, ctx: Context):
    with session_scope(ctx.engine) as s:
        c = org.get_commune(s, principal, commune_id)
        sent = body.model_dump(exclude_unset=True)
        return _out(CommuneOut, org.update_commune(
            s, principal, commune_id, ctx.now, name=sent.get("name") or c.name,
            code=sent["code"] if "code" in sent else c.code, timezone=sent.get("timezone") or c.timezone,
            province_id=sent.get("province_id")))


@router.patch("/villages/{village_id}", response_model=VillageOut, responses=R(401, 403, 404, 409, 422),
              summary="Change a village's name, coordinates, CAP geocodes or default language (system admin)")
def update_village(village_id: Id, body: VillageUpdate, principal: Auth, ctx: Context):
    with session_scope(ctx.engine) as s:
        v = org.get_village(s, principal, village_id)
        now = {k: getattr(v, k) for k in ("name", "latitude", "longitude", "geocodes", "default_language")}
        values = {**now, **body.model_dump(exclude_unset=True)}
        values["name"] = values["name"] or v.name
        values["default_language"] = values["default_language"] or v.default_language
        return _out(VillageOut, org.update_village(s, principal, village_id, ctx.now, **values))


@router.delete("/villages/{village_id}", status_code=204, response_class=Response,
               responses=R(401, 403, 404, 409),
               summary="Delete a village nothing uses any more (system admin); 409 while anything belongs to it")
def delete_village(village_id: Id, principal: Auth, ctx: Context):
    with session_scope(ctx.engine) as s:
        v = org.get_village(s, principal, village_id)
        principal.require_admin()
        org.delete_village(s, principal, village_id, ctx.now, village_uses(s, v.commune_id, village_id))
    return Response(status_code=204)


@router.patch("/devices/{device_id}", response_model=DeviceOut, responses=R(401, 403, 404, 422),
              summary="Change a loudspeaker cluster's name, village or position (system admin)")
def update_device(device_id: Id, body: DeviceUpdate, principal: Auth, ctx: Context):
    with session_scope(ctx.engine) as s:
        d = org.get_device(s, principal, device_id)
        values = {**{k: getattr(d, k) for k in ("name", "village_id", "latitude", "longitude")},
                  **body.model_dump(exclude_unset=True)}
        values["name"] = values["name"] or d.name
        return _out(DeviceOut, org.update_device(s, principal, device_id, ctx.now, **values))
