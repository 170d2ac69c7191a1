"""Loudspeakers: each cluster's status (online / offline / playing / error, last seen, now playing, cache,
clock), open alerts, volume and mute, and enrollment (a one-time code for a box, or confirming the code a box
shows). Same services and role checks as /api/v1 (api/devices/manage.py): cadres change things, others read."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request

from api.deps import Id
from api.web.choices import int_or_none
from api.web.flash import flash_redirect
from api.web.render import PageRoute, gettext_for, page_lang, render
from api.devices.manage import sound_changed
from api.devices.station import station_of
from api.web.session import check_csrf, now_of, require_principal
from broadcaster.station import enrollment, status, views
from loa.audit import service as audit
from loa.db import session_scope
from loa.errors import DomainError
from loa.org import service as org

router = APIRouter(route_class=PageRoute, include_in_schema=False)
CADRE = ("cadre",)


def _page(request: Request, commune_id: int, **extra):
    user = require_principal(request)
    now = now_of(request)
    with session_scope(request.app.state.engine) as s:
        commune = org.get_commune(s, user, commune_id)
        status.mark_offline(s, now, request.app.state.settings.device_offline_after_s, commune_id)
        devices = views.commune_devices(s, user, commune_id)
        rows = views.status_rows(s, devices, now, request.app.state.settings.device_offline_after_s)
        alerts = views.alerts(s, user, commune_id, True, None, limit=50)
        villages = {v.id: v.name for v in org.list_villages(s, user, commune_id)}
    names = {r["id"]: r["name"] for r in rows}
    return render(request, "devices.html", commune=commune, user=user, devices=rows, alerts=alerts,
                  villages=villages, names=names, can_edit=user.role_in(commune_id) == "cadre", now=now,
                  title=gettext_for(request)("Loudspeakers"), **extra)


@router.get("/app/c/{commune_id}/devices")
def devices_page(request: Request, commune_id: Id):
    return _page(request, commune_id)


@router.post("/app/devices/{device_id}/sound")
def set_sound(request: Request, device_id: Id, csrf: Annotated[str, Form(max_length=200)],
              volume: Annotated[int, Form(ge=0, le=100)] = 80, muted: Annotated[str, Form(max_length=4)] = ""):
    user = require_principal(request)
    check_csrf(request, csrf)
    now = now_of(request)
    with session_scope(request.app.state.engine) as s:
        device = org.get_device(s, user, device_id)
        user.require_role(device.commune_id, *CADRE, admin=True)
        device.volume, device.muted = volume, bool(muted)
        s.add(device)
        audit.record(s, user, "device.sound", "device", device.id, now, commune_id=device.commune_id,
                     volume=device.volume, muted=device.muted)
        commune_id = device.commune_id
    sound_changed(station_of(request.app), device_id)  # a signed command for what is on air, then the new manifest
    return flash_redirect(f"/app/c/{commune_id}/devices#device-{device_id}", "sound_saved",
                          request.app.state.settings.cookie_secure)


@router.post("/app/devices/{device_id}/code")
def make_code(request: Request, device_id: Id, csrf: Annotated[str, Form(max_length=200)]):
    """A one-time code (24 h) to type into the box; shown once, only its hash is kept."""
    user = require_principal(request)
    check_csrf(request, csrf)
    with session_scope(request.app.state.engine) as s:
        device = org.get_device(s, user, device_id)
        code, expires = enrollment.create_code(s, user, device_id, now_of(request))
        commune_id = device.commune_id
    return _page(request, commune_id, new_code={"device_id": device_id, "code": code, "expires_at": expires})


@router.post("/app/c/{commune_id}/devices")
def add_or_enroll(request: Request, commune_id: Id, csrf: Annotated[str, Form(max_length=200)],
                  name: Annotated[str, Form(max_length=200)] = "", village_id: Annotated[str, Form(max_length=12)] = "",
                  code: Annotated[str, Form(max_length=12)] = "", action: Annotated[str, Form(max_length=8)] = "add"):
    """`add`: a new loudspeaker cluster row; `enroll`: confirm the 6-digit code a new box shows."""
    user = require_principal(request)
    check_csrf(request, csrf)
    now = now_of(request)
    try:
        with session_scope(request.app.state.engine) as s:
            village = int_or_none(village_id)
            if action == "enroll":
                if not code.strip().isdigit() or len(code.strip()) != 6 or village is None:
                    raise DomainError("code_format", "Mã gồm 6 chữ số, và phải chọn thôn",
                                      "The code has 6 digits, and a village must be chosen")
                enrollment.confirm(s, user, commune_id, code.strip(), village, now, name.strip() or None, None)
            else:
                if not name.strip():
                    raise DomainError("name_required", "Hãy đặt tên cụm loa", "Give the loudspeaker a name")
                org.create_device(s, user, commune_id, name.strip(), now, village)
    except DomainError as exc:
        if exc.code in ("commune_not_found",):
            raise
        return _page(request, commune_id, error=exc.message_en if page_lang(request) == "en" else exc.message_vi)
    if action == "enroll":
        station_of(request.app).device_enrolled()  # the broker learns the new device's credentials
    return flash_redirect(f"/app/c/{commune_id}/devices", "device_enrolled" if action == "enroll" else "device_added",
                          request.app.state.settings.cookie_secure)
