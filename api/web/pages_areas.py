"""The admin's pages for the levels above communes (issue 16): provinces and their districts (create, rename),
which district a commune is in, and the staff of a province or a district (editor or approver of bulletins).

Only the system admin: anyone else gets 403 (as the JSON API under /api/v1 answers), a missing province,
district, commune or user 404. The rules are the domain's (loa/org/areas.py): these pages only read forms and
call it. A bad value re-shows the page with what was typed and a plain message (422/409), nothing saved;
removing a role asks first, on a page of its own. What was done is said once after the redirect (api/web/flash.py)."""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import select

from api.deps import Id
from api.web.choices import int_or_none
from api.web.form_errors import error_message
from api.web.pages_org import _commune_page
from api.web.render import PageRoute, gettext_for, render
from api.web.session import admin_form, now_of, require_admin
from loa.accounts import service as accounts
from loa.accounts.principal import Principal
from loa.db import session_scope
from loa.errors import DomainError, Invalid, NotFound
from loa.org import areas
from loa.org import service as org
from loa.org.models import Commune, District, Province

router = APIRouter(route_class=PageRoute, include_in_schema=False)
Text = Annotated[str, Form(max_length=600)]
Csrf = Annotated[str, Form(max_length=200)]
Small = Annotated[str, Form(max_length=20)]
PATHS = {"province": "provinces", "district": "districts"}


def area_url(level: str, area_id: int) -> str:
    return f"/app/admin/{PATHS[level]}/{area_id}"


def _reshow(request: Request, exc: DomainError, page: Any, *args: Any, fields: tuple[str, ...] = (),
            **extra: Any) -> Response:
    """The page again with the message next to the form. Forbidden and not found are pages of their own, except
    a choice of the form itself that is not there (`fields`: a user or commune deleted meanwhile, a forged id):
    that is a bad value, 422."""
    if exc.status in (401, 403) or (exc.status == 404 and exc.code not in fields):
        raise exc
    return page(request, *args, status=422 if exc.status == 404 else exc.status,
                error=error_message(request, exc), **extra)


def _staff(s: Any, user: Principal, level: str, area_id: int) -> tuple[list[dict[str, Any]], list[Any]]:
    """Who holds which role here, and the active accounts the admin may pick from to grant one."""
    staff = [{"user": u, "role": m.role} for m, u in areas.staff_at(s, user, level, area_id)]
    people = [u for u in accounts.list_users(s, user) if u.is_active]
    return staff, people


# ---------------------------------------------------------------- provinces


@router.get("/app/admin/provinces")
def provinces_page(request: Request) -> Response:
    user = require_admin(request)
    with session_scope(request.app.state.engine) as s:
        rows = []
        for p in s.exec(select(Province).order_by(Province.name)):
            area = areas.get_area(s, "province", p.id)  # type: ignore[arg-type]
            rows.append({"province": p, "districts": areas.districts_of(s, area),
                         "communes": len(areas.communes_of(s, area)),
                         "staff": len(areas.staff_at(s, user, "province", area.id))})
        s.expunge_all()
    return render(request, "admin_provinces.html", user=user, rows=rows,
                  title=gettext_for(request)("Provinces, districts and staff"))


def _province_page(request: Request, province_id: int, status: int = 200, **extra: Any) -> Response:
    user = require_admin(request)
    with session_scope(request.app.state.engine) as s:
        area = areas.get_area(s, "province", province_id)
        districts = areas.districts_of(s, area)
        communes = areas.communes_of(s, area)
        staff, people = _staff(s, user, "province", province_id)
        s.expunge_all()
    counts = {d.id: sum(1 for c in communes if c.district_id == d.id) for d in districts}
    return render(request, "admin_province.html", status=status, user=user, area=area, districts=districts,
                  counts=counts, loose=[c for c in communes if c.district_id is None], staff=staff, people=people,
                  roles=areas.ROLES, form=extra.pop("form", {}), title=area.name, **extra)


@router.get("/app/admin/provinces/{province_id}")
def province_page(request: Request, province_id: Id) -> Response:
    return _province_page(request, province_id)


@router.post("/app/admin/provinces/{province_id}/districts")
def district_create(request: Request, province_id: Id, csrf: Csrf, name: Text = "", code: Text = "") -> Response:
    user = admin_form(request, csrf)
    try:
        with session_scope(request.app.state.engine) as s:
            district = areas.create_district(s, user, province_id, name, now_of(request), code.strip() or None)
            district_id = district.id
    except DomainError as exc:
        return _reshow(request, exc, _province_page, province_id, form={"district": {"name": name, "code": code}})
    return RedirectResponse(f"/app/admin/districts/{district_id}?done=district_created", status_code=303)


# ---------------------------------------------------------------- districts


def _district_page(request: Request, district_id: int, status: int = 200, **extra: Any) -> Response:
    user = require_admin(request)
    with session_scope(request.app.state.engine) as s:
        district = s.get(District, district_id)
        if district is None:
            raise NotFound("district_not_found", "Không tìm thấy huyện", "District not found")
        province = areas.get_area(s, "province", district.province_id)
        in_province = areas.communes_of(s, province)
        staff, people = _staff(s, user, "district", district_id)
        others = {d.id: d.name for d in areas.districts_of(s, province)}
        s.expunge_all()
    return render(request, "admin_district.html", status=status, user=user, district=district, province=province,
                  communes=[c for c in in_province if c.district_id == district_id],
                  elsewhere=[c for c in in_province if c.district_id != district_id], district_names=others,
                  area=areas.Area("district", district_id, district.name, district.province_id), staff=staff,
                  people=people, roles=areas.ROLES, form=extra.pop("form", {}), title=district.name, **extra)


@router.get("/app/admin/districts/{district_id}")
def district_page(request: Request, district_id: Id) -> Response:
    return _district_page(request, district_id)


@router.post("/app/admin/districts/{district_id}")
def district_rename(request: Request, district_id: Id, csrf: Csrf, name: Text = "", code: Text = "") -> Response:
    user = admin_form(request, csrf)
    try:
        with session_scope(request.app.state.engine) as s:
            areas.rename_district(s, user, district_id, name, now_of(request), code)
    except DomainError as exc:
        return _reshow(request, exc, _district_page, district_id, form={"rename": {"name": name, "code": code}})
    return RedirectResponse(f"/app/admin/districts/{district_id}?done=district_saved", status_code=303)


def _commune_choice(value: str) -> int:
    commune_id = int_or_none(value)
    if commune_id is None:
        raise Invalid("commune_required", "Hãy chọn xã", "Choose the commune")
    return commune_id


@router.post("/app/admin/districts/{district_id}/communes")
def district_add_commune(request: Request, district_id: Id, csrf: Csrf, commune_id: Small = "") -> Response:
    """Put a commune of the province under this district (from wherever it was)."""
    user = admin_form(request, csrf)
    try:
        with session_scope(request.app.state.engine) as s:
            if s.get(District, district_id) is None:
                raise NotFound("district_page_not_found", "Không tìm thấy huyện", "District not found")
            areas.place_commune(s, user, _commune_choice(commune_id), district_id, now_of(request))
    except DomainError as exc:
        return _reshow(request, exc, _district_page, district_id, fields=("commune_not_found", "district_not_found"),
                       form={"place": {"commune_id": commune_id}})
    return RedirectResponse(f"/app/admin/districts/{district_id}?done=commune_placed", status_code=303)


@router.post("/app/admin/districts/{district_id}/communes/{commune_id}/remove")
def district_remove_commune(request: Request, district_id: Id, commune_id: Id, csrf: Csrf) -> Response:
    """Take a commune out of this district (under no district; easily put back, so no confirmation)."""
    user = admin_form(request, csrf)
    with session_scope(request.app.state.engine) as s:
        commune = s.get(Commune, commune_id)
        if s.get(District, district_id) is None or commune is None or commune.district_id != district_id:
            raise NotFound("commune_not_found", "Không tìm thấy xã trong huyện này", "Commune not found in this district")
        areas.place_commune(s, user, commune_id, None, now_of(request))
    return RedirectResponse(f"/app/admin/districts/{district_id}?done=commune_unplaced", status_code=303)


@router.post("/app/admin/communes/{commune_id}/district")
def commune_set_district(request: Request, commune_id: Id, csrf: Csrf, district_id: Small = "") -> Response:
    """From the commune's page: its district, or none."""
    user = admin_form(request, csrf)
    try:
        with session_scope(request.app.state.engine) as s:
            org.get_commune(s, user, commune_id)
            if district_id.strip() and int_or_none(district_id) is None:
                raise Invalid("district_required", "Hãy chọn huyện trong danh sách", "Choose a district from the list")
            areas.place_commune(s, user, commune_id, int_or_none(district_id), now_of(request))
    except DomainError as exc:
        if exc.status in (401, 403) or (exc.status == 404 and exc.code != "district_not_found"):
            raise
        return _commune_page(request, commune_id, status=422 if exc.status == 404 else exc.status,
                             error=error_message(request, exc), form={"district": {"district_id": district_id}})
    return RedirectResponse(f"/app/admin/communes/{commune_id}?done=commune_placed", status_code=303)


# ---------------------------------------------------------------- staff of a province or a district


def _area_page(request: Request, level: str, area_id: int, status: int = 200, **extra: Any) -> Response:
    if level == "province":
        return _province_page(request, area_id, status, **extra)
    return _district_page(request, area_id, status, **extra)


def _grant(request: Request, level: str, area_id: int, csrf: str, user_id: str, role: str) -> Response:
    user = admin_form(request, csrf)
    try:
        with session_scope(request.app.state.engine) as s:
            areas.get_area(s, level, area_id)  # a missing area is 404 before anything about the form
            target = int_or_none(user_id)
            if target is None:
                raise Invalid("user_required", "Hãy chọn người", "Choose the person")
            areas.add_area_role(s, user, target, level, area_id, role, now_of(request))
    except DomainError as exc:
        return _reshow(request, exc, _area_page, level, area_id, fields=("user_not_found",),
                       form={"grant": {"user_id": user_id, "role": role}})
    return RedirectResponse(f"{area_url(level, area_id)}?done=staff_granted#staff", status_code=303)


@router.post("/app/admin/provinces/{area_id}/staff")
def province_grant(request: Request, area_id: Id, csrf: Csrf, user_id: Small = "", role: Small = "") -> Response:
    return _grant(request, "province", area_id, csrf, user_id, role)


@router.post("/app/admin/districts/{area_id}/staff")
def district_grant(request: Request, area_id: Id, csrf: Csrf, user_id: Small = "", role: Small = "") -> Response:
    return _grant(request, "district", area_id, csrf, user_id, role)


def _remove_confirm(request: Request, level: str, area_id: int, user_id: int) -> Response:
    """Ask first: whose role ends where, with one button to go on and one to go back."""
    user = require_admin(request)
    with session_scope(request.app.state.engine) as s:
        area = areas.get_area(s, level, area_id)
        held = next(((m, u) for m, u in areas.staff_at(s, user, level, area_id) if u.id == user_id), None)
        if held is None:
            raise NotFound("area_role_not_found", "Người này không có vai trò ở đây",
                           "This person holds no role here")
        role, target = held[0].role, held[1]
        s.expunge_all()
    return render(request, "admin_area_confirm.html", user=user, area=area, target=target, role=role,
                  back=area_url(level, area_id), title=gettext_for(request)("Are you sure?"))


def _remove(request: Request, level: str, area_id: int, user_id: int, csrf: str) -> Response:
    user = admin_form(request, csrf)
    with session_scope(request.app.state.engine) as s:
        areas.get_area(s, level, area_id)
        areas.remove_area_role(s, user, user_id, level, area_id, now_of(request))
    return RedirectResponse(f"{area_url(level, area_id)}?done=staff_removed#staff", status_code=303)


@router.get("/app/admin/provinces/{area_id}/staff/{user_id}/remove")
def province_remove_confirm(request: Request, area_id: Id, user_id: Id) -> Response:
    return _remove_confirm(request, "province", area_id, user_id)


@router.post("/app/admin/provinces/{area_id}/staff/{user_id}/remove")
def province_remove(request: Request, area_id: Id, user_id: Id, csrf: Csrf) -> Response:
    return _remove(request, "province", area_id, user_id, csrf)


@router.get("/app/admin/districts/{area_id}/staff/{user_id}/remove")
def district_remove_confirm(request: Request, area_id: Id, user_id: Id) -> Response:
    return _remove_confirm(request, "district", area_id, user_id)


@router.post("/app/admin/districts/{area_id}/staff/{user_id}/remove")
def district_remove(request: Request, area_id: Id, user_id: Id, csrf: Csrf) -> Response:
    return _remove(request, "district", area_id, user_id, csrf)
