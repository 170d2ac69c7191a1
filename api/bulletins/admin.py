"""The system admin sets up the levels above communes (issue 16): districts, which district a commune is in,
and who works at a province or a district (editor or approver). Province staff read their districts."""
from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from api.deps import Auth, Context, Id
from api.errors import responses
from loa.db import session_scope
from loa.org import areas
from loa.org.models import District

router = APIRouter(prefix="/api/v1", tags=["organisation"])
R = responses


class DistrictCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    code: str | None = Field(default=None, max_length=32)


class DistrictOut(BaseModel):
    id: int
    province_id: int
    name: str
    code: str | None
    created_at: datetime


class CommuneDistrict(BaseModel):
    district_id: int | None = Field(description="null: under no district")


class AreaRoleIn(BaseModel):
    level: str = Field(pattern="^(province|district)$")
    area_id: int = Field(ge=1)
    role: str = Field(pattern="^(editor|approver)$")


class AreaRoleOut(BaseModel):
    level: str
    area_id: int
    role: str


def _district_out(d: District) -> DistrictOut:
    return DistrictOut(**d.model_dump(include=set(DistrictOut.model_fields)))


@router.post("/provinces/{province_id}/districts", response_model=DistrictOut, status_code=201,
             responses=R(401, 403, 404, 409, 422), summary="Add a district to a province (system admin)")
def create_district(province_id: Id, body: DistrictCreate, principal: Auth, ctx: Context):
    with session_scope(ctx.engine) as s:
        return _district_out(areas.create_district(s, principal, province_id, body.name, ctx.now, body.code))


@router.get("/provinces/{province_id}/districts", response_model=list[DistrictOut], responses=R(401, 404),
            summary="The districts of a province (its staff and the system admin)")
def list_districts(province_id: Id, principal: Auth, ctx: Context):
    with session_scope(ctx.engine) as s:
        area = areas.visible_area(s, principal, "province", province_id)
        return [_district_out(d) for d in areas.districts_of(s, area)]


@router.put("/communes/{commune_id}/district", status_code=204, responses=R(401, 403, 404, 422),
            summary="Put a commune under a district of its province (system admin)")
def place_commune(commune_id: Id, body: CommuneDistrict, principal: Auth, ctx: Context):
    with session_scope(ctx.engine) as s:
        areas.place_commune(s, principal, commune_id, body.district_id, ctx.now)
    return Response(status_code=204)


@router.get("/users/{user_id}/areas", response_model=list[AreaRoleOut], responses=R(401, 403))
def list_area_roles(user_id: Id, principal: Auth, ctx: Context):
    principal.require_admin()
    with session_scope(ctx.engine) as s:
        return [AreaRoleOut(level=r.level, area_id=r.area_id, role=r.role) for r in areas.roles_of(s, user_id)]


@router.put("/users/{user_id}/areas", response_model=AreaRoleOut, responses=R(401, 403, 404, 422),
            summary="Give a user a role at a province or a district (system admin)")
def set_area_role(user_id: Id, body: AreaRoleIn, principal: Auth, ctx: Context):
    with session_scope(ctx.engine) as s:
        row = areas.add_area_role(s, principal, user_id, body.level, body.area_id, body.role, ctx.now)
        return AreaRoleOut(level=row.level, area_id=row.area_id, role=row.role)


@router.delete("/users/{user_id}/areas/{level}/{area_id}", status_code=204, responses=R(401, 403))
def remove_area_role(user_id: Id, level: str, area_id: Id, principal: Auth, ctx: Context):
    with session_scope(ctx.engine) as s:
        areas.remove_area_role(s, principal, user_id, level, area_id, ctx.now)
    return Response(status_code=204)
