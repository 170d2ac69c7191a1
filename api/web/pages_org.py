"""Organisation pages (issue 14): communes, villages (coordinates, CAP geocodes, default language) and
loudspeaker clusters (position, village), a map of the commune drawn from the coordinates, and the station
settings (quiet hours, longest programme, CAP auto-air).

Who: the system admin edits everything. A cadre of the commune reads the commune, its villages, clusters and
map, and changes the station settings (as `PUT /api/v1/communes/{id}/station-settings` lets them). Other roles
get 403, non-members 404 (the same checks as the JSON API, in the same services).

Every change is audited by its service. A bad value re-shows the form with what was typed and a plain message
(status 422/409); nothing is saved. Deleting a village goes through a confirmation page."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse
from sqlmodel import select

from api.deps import Id
from api.web.choices import int_or_none, languages
from api.web.commune_map import draw, km_label
from api.web.form_errors import error_message
from api.web.render import PageRoute, gettext_for, render
from api.web.session import check_csrf, now_of, require_principal
from loa.accounts.principal import Principal
from loa.db import session_scope
from loa.errors import DomainError, Invalid
from loa.org import areas, checks
from loa.org import service as org
from loa.org.models import Province
from schedules import station
from schedules.schemas import StationSettingsIn
from schedules.village_uses import village_uses

router = APIRouter(route_class=PageRoute, include_in_schema=False)
Text = Annotated[str, Form(max_length=600)]
Csrf = Annotated[str, Form(max_length=200)]
TIMEZONES = ("Asia/Ho_Chi_Minh", "Asia/Bangkok", "Asia/Vientiane", "Asia/Phnom_Penh", "UTC")


def _reader(user: Principal, commune_id: int) -> None:
    """Admin, or a cadre of this commune: 404 for a non-member, 403 for another role."""
    user.require_role(commune_id, "cadre", admin=True)


def _form_user(request: Request, csrf: str) -> Principal:
    """Who sends a form of these pages, once its CSRF token is checked (their rights are the service's to check)."""
    user = require_principal(request)
    check_csrf(request, csrf)
    return user


def _page(request: Request, template: str, user: Principal, status: int, extra: dict, **context):
    """A page of this module: `done` names what was just saved, `form` holds what was typed into a form that
    failed, `can_edit` shows the admin's forms."""
    return render(request, template, status=status, user=user, can_edit=user.is_admin,
                  done=request.query_params.get("done"), form=extra.pop("form", {}), **context, **extra)


def _reshow(request: Request, exc: DomainError, page, *args, field_not_found: str | None = None, **extra):
    """The form's page again, with the error next to what was typed. Not logged in, forbidden and not found are
    pages of their own (raised on), except a choice of the form itself that is no longer there
    (`field_not_found`, e.g. a village deleted meanwhile): that is a bad value, 422."""
    if exc.status in (401, 403, 404) and exc.code != field_not_found:
        raise exc
    return page(request, *args, status=422 if exc.status == 404 else exc.status, error=error_message(request, exc),
                **extra)


def _coords(lat: str, lon: str) -> tuple[float | None, float | None]:
    return (checks.parse_number(lat, "Vĩ độ", "Latitude"), checks.parse_number(lon, "Kinh độ", "Longitude"))


# ---------------------------------------------------------------- communes


def _communes_page(request: Request, user: Principal, status: int = 200, **extra):
    with session_scope(request.app.state.engine) as s:
        communes = [c for c in org.list_communes(s, user) if user.is_admin or user.role_in(c.id) == "cadre"]
        if not communes and not user.is_admin:
            user.require_admin()  # a member without a cadre role anywhere: 403
        provinces = {p.id: p.name for p in s.exec(select(Province).order_by(Province.name))}
    return _page(request, "org_communes.html", user, status, extra, communes=communes, provinces=provinces,
                 timezones=TIMEZONES, title=gettext_for(request)("Communes"))


@router.get("/app/admin/communes")
def communes_page(request: Request):
    return _communes_page(request, require_principal(request))


@router.post("/app/admin/communes")
def commune_create(request: Request, csrf: Csrf, name: Text = "", code: Text = "", timezone: Text = "Asia/Ho_Chi_Minh",
                   province_id: Text = "", new_province: Text = ""):
    user = _form_user(request, csrf)
    user.require_admin()
    now = now_of(request)
    try:
        with session_scope(request.app.state.engine) as s:
            province = int_or_none(province_id)
            if new_province.strip():
                province = org.create_province(s, user, checks.name(new_province, "tên tỉnh", "province name"),
                                               now).id
            if province is None:
                raise Invalid("province_required", "Hãy chọn tỉnh, hoặc nhập tên tỉnh mới",
                              "Choose a province, or type a new province's name")
            commune = org.create_commune(s, user, province, checks.name(name, "tên xã", "commune name"), now,
                                         code.strip() or None, timezone.strip())
            commune_id = commune.id
    except DomainError as exc:
        form = {"name": name, "code": code, "timezone": timezone, "province_id": province_id,
                "new_province": new_province}
        return _reshow(request, exc, _communes_page, user, field_not_found="province_not_found", form=form)
    return RedirectResponse(f"/app/admin/communes/{commune_id}?done=created", status_code=303)


def _commune_page(request: Request, commune_id: int, status: int = 200, **extra):
    user = require_principal(request)
    with session_scope(request.app.state.engine) as s:
        commune = org.get_commune(s, user, commune_id)
        _reader(user, commune_id)
        villages = org.list_villages(s, user, commune_id)
        devices = org.list_devices(s, user, commune_id)
        province = s.get(Province, commune.province_id)
        provinces = {p.id: p.name for p in s.exec(select(Province).order_by(Province.name))}
        settings = station.get_settings(s, user, commune_id)
        # The districts it may be placed in (issue 16; the form posts to api/web/pages_areas.py).
        districts = areas.districts_of(s, areas.get_area(s, "province", commune.province_id))
        s.expunge_all()
    village_names = {v.id: v.name for v in villages}
    return _page(request, "org_commune.html", user, status, extra, commune=commune, villages=villages,
                 districts=districts,
                 devices=devices, village_names=village_names, province=province, provinces=provinces,
                 timezones=TIMEZONES, station_settings=settings, map=draw(villages, devices), km_label=km_label,
                 languages=languages(), title=commune.name)


@router.get("/app/admin/communes/{commune_id}")
def commune_page(request: Request, commune_id: Id):
    return _commune_page(request, commune_id)


@router.post("/app/admin/communes/{commune_id}")
def commune_update(request: Request, commune_id: Id, csrf: Csrf, name: Text = "", code: Text = "",
                   timezone: Text = "Asia/Ho_Chi_Minh", province_id: Text = ""):
    user = _form_user(request, csrf)
    try:
        with session_scope(request.app.state.engine) as s:
            org.update_commune(s, user, commune_id, now_of(request), name=name, code=code, timezone=timezone.strip(),
                               province_id=int_or_none(province_id))
    except DomainError as exc:
        return _reshow(request, exc, _commune_page, commune_id,
                       form={"commune": {"name": name, "code": code, "timezone": timezone}})
    return RedirectResponse(f"/app/admin/communes/{commune_id}?done=saved", status_code=303)


@router.post("/app/admin/communes/{commune_id}/villages")
def village_create(request: Request, commune_id: Id, csrf: Csrf, name: Text = "", latitude: Text = "",
                   longitude: Text = "", geocodes: Text = "", default_language: Text = "vi"):
    user = _form_user(request, csrf)
    try:
        with session_scope(request.app.state.engine) as s:
            org.get_commune(s, user, commune_id)
            user.require_admin()
            lat, lon = _coords(latitude, longitude)
            village = org.create_village(s, user, commune_id, name, now_of(request), default_language, lat, lon,
                                         geocodes)
            village_id = village.id
    except DomainError as exc:
        return _reshow(request, exc, _commune_page, commune_id,
                       form={"village": {"name": name, "latitude": latitude, "longitude": longitude,
                                         "geocodes": geocodes, "default_language": default_language}})
    return RedirectResponse(f"/app/admin/communes/{commune_id}?done=village_added#village-{village_id}",
                            status_code=303)


@router.post("/app/admin/communes/{commune_id}/devices")
def device_create(request: Request, commune_id: Id, csrf: Csrf, name: Text = "", village_id: Text = "",
                  latitude: Text = "", longitude: Text = ""):
    user = _form_user(request, csrf)
    try:
        with session_scope(request.app.state.engine) as s:
            org.get_commune(s, user, commune_id)
            user.require_admin()
            lat, lon = _coords(latitude, longitude)
            device = org.create_device(s, user, commune_id, name, now_of(request), int_or_none(village_id), lat, lon)
            device_id = device.id
    except DomainError as exc:
        return _reshow(request, exc, _commune_page, commune_id, field_not_found="village_not_found",
                       form={"device": {"name": name, "village_id": village_id, "latitude": latitude,
                                        "longitude": longitude}})
    return RedirectResponse(f"/app/admin/communes/{commune_id}?done=device_added#device-{device_id}",
                            status_code=303)


# ---------------------------------------------------------------- villages


def _village_page(request: Request, village_id: int, status: int = 200, template: str = "org_village.html",
                  **extra):
    user = require_principal(request)
    with session_scope(request.app.state.engine) as s:
        village = org.get_village(s, user, village_id)
        _reader(user, village.commune_id)
        commune = org.get_commune(s, user, village.commune_id)
        villages = org.list_villages(s, user, commune.id)
        devices = org.list_devices(s, user, commune.id)
        s.expunge_all()
    here = [d for d in devices if d.village_id == village_id]
    return _page(request, template, user, status, extra, commune=commune, village=village, devices=here,
                 map=draw(villages, devices), km_label=km_label, highlight=village_id, languages=languages(),
                 title=village.name)


@router.get("/app/admin/villages/{village_id}")
def village_page(request: Request, village_id: Id):
    return _village_page(request, village_id)


@router.post("/app/admin/villages/{village_id}")
def village_update(request: Request, village_id: Id, csrf: Csrf, name: Text = "", latitude: Text = "",
                   longitude: Text = "", geocodes: Text = "", default_language: Text = "vi"):
    user = _form_user(request, csrf)
    try:
        with session_scope(request.app.state.engine) as s:
            org.get_village(s, user, village_id)
            user.require_admin()
            lat, lon = _coords(latitude, longitude)
            org.update_village(s, user, village_id, now_of(request), name=name, latitude=lat, longitude=lon,
                               geocodes=geocodes, default_language=default_language)
    except DomainError as exc:
        return _reshow(request, exc, _village_page, village_id,
                       form={"name": name, "latitude": latitude, "longitude": longitude, "geocodes": geocodes,
                             "default_language": default_language})
    return RedirectResponse(f"/app/admin/villages/{village_id}?done=saved", status_code=303)


@router.get("/app/admin/villages/{village_id}/delete")
def village_delete_confirm(request: Request, village_id: Id):
    """The confirmation step: what will be deleted, and whether anything still uses the village."""
    user = require_principal(request)
    with session_scope(request.app.state.engine) as s:
        village = org.get_village(s, user, village_id)
        user.require_admin()
        uses = org.village_references(s, village_id) + village_uses(s, village.commune_id, village_id)
    return _village_page(request, village_id, template="org_village_delete.html", uses=uses)


@router.post("/app/admin/villages/{village_id}/delete")
def village_delete(request: Request, village_id: Id, csrf: Csrf, confirm: Annotated[str, Form(max_length=8)] = ""):
    user = _form_user(request, csrf)
    if confirm != "yes":  # only the confirmation page's button sends it
        return RedirectResponse(f"/app/admin/villages/{village_id}/delete", status_code=303)
    try:
        with session_scope(request.app.state.engine) as s:
            village = org.get_village(s, user, village_id)
            commune_id = village.commune_id
            org.delete_village(s, user, village_id, now_of(request), village_uses(s, commune_id, village_id))
    except DomainError as exc:
        return _reshow(request, exc, _village_page, village_id, template="org_village_delete.html",
                       uses=exc.extra.get("uses", []))
    return RedirectResponse(f"/app/admin/communes/{commune_id}?done=village_deleted", status_code=303)


# ---------------------------------------------------------------- loudspeaker clusters


def _device_page(request: Request, device_id: int, status: int = 200, **extra):
    user = require_principal(request)
    with session_scope(request.app.state.engine) as s:
        device = org.get_device(s, user, device_id)
        _reader(user, device.commune_id)
        commune = org.get_commune(s, user, device.commune_id)
        villages = org.list_villages(s, user, commune.id)
        devices = org.list_devices(s, user, commune.id)
        s.expunge_all()
    return _page(request, "org_device.html", user, status, extra, commune=commune, device=device,
                 villages=villages, village_names={v.id: v.name for v in villages}, map=draw(villages, devices),
                 km_label=km_label, highlight_device=device_id, title=device.name)


@router.get("/app/admin/devices/{device_id}")
def device_page(request: Request, device_id: Id):
    return _device_page(request, device_id)


@router.post("/app/admin/devices/{device_id}")
def device_update(request: Request, device_id: Id, csrf: Csrf, name: Text = "", village_id: Text = "",
                  latitude: Text = "", longitude: Text = ""):
    user = _form_user(request, csrf)
    try:
        with session_scope(request.app.state.engine) as s:
            org.get_device(s, user, device_id)
            user.require_admin()
            lat, lon = _coords(latitude, longitude)
            org.update_device(s, user, device_id, now_of(request), name=name, village_id=int_or_none(village_id),
                              latitude=lat, longitude=lon)
    except DomainError as exc:
        return _reshow(request, exc, _device_page, device_id, field_not_found="village_not_found",
                       form={"name": name, "village_id": village_id, "latitude": latitude, "longitude": longitude})
    return RedirectResponse(f"/app/admin/devices/{device_id}?done=saved", status_code=303)


# ---------------------------------------------------------------- station settings


def _settings_page(request: Request, commune_id: int, status: int = 200, **extra):
    user = require_principal(request)
    with session_scope(request.app.state.engine) as s:
        commune = org.get_commune(s, user, commune_id)
        _reader(user, commune_id)
        current = station.get_settings(s, user, commune_id)
        s.expunge_all()
    return _page(request, "org_settings.html", user, status, extra, commune=commune, current=current,
                 title=gettext_for(request)("Station settings"))


@router.get("/app/admin/communes/{commune_id}/settings")
def settings_page(request: Request, commune_id: Id):
    return _settings_page(request, commune_id)


def _minutes(text: str, field_vi: str, field_en: str) -> float:
    value = checks.parse_number(text, field_vi, field_en)
    if value is None:
        raise Invalid("number_required", f"Hãy nhập {field_vi.lower()}", f"Enter the {field_en.lower()}")
    return value * 60


@router.post("/app/admin/communes/{commune_id}/settings")
def settings_save(request: Request, commune_id: Id, csrf: Csrf, quiet_start: Text = "", quiet_end: Text = "",
                  quiet_off: Annotated[str, Form(max_length=4)] = "",
                  max_programme_min: Text = "", auto_air: Annotated[str, Form(max_length=4)] = "",
                  confirm: Annotated[str, Form(max_length=8)] = ""):
    user = _form_user(request, csrf)
    now = now_of(request)
    form = {"quiet_start": quiet_start, "quiet_end": quiet_end, "quiet_off": quiet_off,
            "max_programme_min": max_programme_min, "auto_air": auto_air}
    try:
        with session_scope(request.app.state.engine) as s:
            current = station.get_settings(s, user, commune_id)
            user.require_role(commune_id, *station.EDITORS, admin=True)
            longest = _minutes(max_programme_min, "Độ dài tối đa (phút)", "Longest programme (minutes)")
            if not 1 <= longest / 60 <= 1440:
                raise Invalid("max_programme_invalid", "Độ dài tối đa của một chương trình phải từ 1 đến 1440 phút",
                              "The longest programme must be from 1 to 1440 minutes")
            if quiet_off:
                quiet_start = quiet_end = "00:00"  # equal start and end: no quiet hours (schedules/model.py)
            try:
                values = StationSettingsIn(**{**current.model_dump(include=set(StationSettingsIn.model_fields)),
                                              "quiet_start": quiet_start.strip(), "quiet_end": quiet_end.strip(),
                                              "max_programme_s": longest, "auto_air_extreme_immediate": bool(auto_air)})
            except ValueError:
                raise Invalid("quiet_hours_invalid", "Giờ yên tĩnh phải có dạng giờ:phút, ví dụ 22:00 và 05:00",
                              "Quiet hours must look like hours:minutes, e.g. 22:00 and 05:00") from None
            if values.auto_air_extreme_immediate and not current.auto_air_extreme_immediate and confirm != "yes":
                # Turning auto-air on lets an alert reach every loudspeaker with nobody checking it: ask first.
                return _settings_page(request, commune_id, status=200, confirm_auto_air=True, form=form)
            station.put_settings(s, user, commune_id, values, now)
    except DomainError as exc:
        return _reshow(request, exc, _settings_page, commune_id, form=form)
    # What the loudspeakers hold follows the new rules at once (as PUT /station-settings does).
    request.app.state.schedules.materialize_commune(commune_id, now)
    return RedirectResponse(f"/app/admin/communes/{commune_id}/settings?done=saved", status_code=303)

