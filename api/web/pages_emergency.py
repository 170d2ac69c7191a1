"""Emergency broadcast: one clearly separated red button, a confirmation step, villages and repeats; then a
status page that shows what each loudspeaker reports (playing it or not, how old its report is), with a cancel
button; after the cancel it says "đang dừng…" until every loudspeaker confirms (api/schedules/air.py).

Everything goes through schedules.emergency_service with the logged-in Principal (cadres only), and the
commune's timetable is re-materialized at once, as the JSON API does."""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse
from pydantic import ValidationError
from api.deps import Id
from api.schedules.air import status_out
from api.web.pages_schedule import airable_items, partner_of
from api.web.render import PageRoute, gettext_for, page_lang, render
from api.web.schedule_form import programme_for
from api.web.session import check_csrf, now_of, require_principal
from content.library import service as library
from loa.db import session_scope
from loa.errors import DomainError
from loa.org import service as org
from schedules import emergency_service as emergencies
from schedules.limits import RecurrenceLimits
from schedules.schemas import EmergencyIn

router = APIRouter(route_class=PageRoute, include_in_schema=False)
REPEATS = ("1", "2", "3", "5", "10", "until")


def _form_context(request: Request, commune_id: int, user) -> dict:
    now = now_of(request)
    with session_scope(request.app.state.engine) as s:
        commune = org.get_commune(s, user, commune_id)
        user.require_role(commune_id, *emergencies.OPERATORS)
        villages = org.list_villages(s, user, commune_id)
        items = airable_items(s, user, commune_id, now)
        items.sort(key=lambda i: i.kind != "emergency")  # emergency messages first
        # what the loudspeakers report of each, not just that the station meant to air it
        offline_after = request.app.state.settings.device_offline_after_s
        active = [status_out(s, r, now, offline_after)
                  for r in emergencies.list_emergencies(s, user, commune_id, now, True)]
    return dict(commune=commune, user=user, villages=villages, items=items, active=active, repeats=REPEATS,
                title=gettext_for(request)("Emergency"))


@router.get("/app/c/{commune_id}/emergency")
def emergency_page(request: Request, commune_id: Id):
    user = require_principal(request)
    return render(request, "emergency.html", form={"repeat": "3", "villages": []},
                  **_form_context(request, commune_id, user))


def _body(s, user, commune_id: int, item_id: str, villages: list[str], repeat: str, now) -> tuple[EmergencyIn, Any]:
    item = library.get_item(s, user, int(item_id)) if item_id.isdigit() else None
    if item is None or item.commune_id != commune_id:
        raise DomainError("choose_item", "Hãy chọn thông báo khẩn cấp", "Choose the emergency message")
    programme = programme_for(item, partner_of(s, item, now), True)
    try:
        body = EmergencyIn(title=item.title, programme=programme, villages=[int(v) for v in villages if v.isdigit()],
                           repeat=None if repeat == "until" else int(repeat) if repeat.isdigit() else 1)
    except ValidationError:
        raise DomainError("choose_villages", "Hãy chọn ít nhất một thôn", "Choose at least one village") from None
    return body, item


@router.post("/app/c/{commune_id}/emergency")
def emergency_start(request: Request, commune_id: Id, csrf: Annotated[str, Form(max_length=200)],
                    item_id: Annotated[str, Form(max_length=12)] = "",
                    villages: Annotated[list[str], Form()] = [],  # noqa: B006 (read only)
                    repeat: Annotated[str, Form(max_length=6)] = "3",
                    step: Annotated[str, Form(max_length=8)] = "confirm"):
    """Two steps: `confirm` shows what will happen and asks again; `air` starts it."""
    user = require_principal(request)
    check_csrf(request, csrf)
    now = now_of(request)
    context = _form_context(request, commune_id, user)
    form = {"item_id": item_id, "villages": villages[:500], "repeat": repeat}
    try:
        with session_scope(request.app.state.engine) as s:
            body, item = _body(s, user, commune_id, item_id, villages, repeat, now)
            if step == "air":
                row = emergencies.start(s, user, commune_id, body, now,
                                        RecurrenceLimits.from_settings(request.app.state.settings))
                emergency_id = row.id
    except DomainError as exc:
        message = exc.message_en if page_lang(request) == "en" else exc.message_vi
        return render(request, "emergency.html", status=422 if exc.status == 400 else exc.status, form=form,
                      error=message, **context)
    if step != "air":
        chosen = [v for v in context["villages"] if str(v.id) in form["villages"]]
        return render(request, "emergency_confirm.html", form=form, item=item, chosen=chosen, **context)
    request.app.state.schedules.materialize_commune(commune_id, now, started=[f"e{emergency_id}"])
    return RedirectResponse(f"/app/emergencies/{emergency_id}", status_code=303)


@router.get("/app/emergencies/{emergency_id}")
def emergency_status(request: Request, emergency_id: Id):
    user = require_principal(request)
    now = now_of(request)
    with session_scope(request.app.state.engine) as s:
        row = emergencies.get_emergency(s, user, emergency_id)
        commune = org.get_commune(s, user, row.commune_id)
        out = status_out(s, row, now, request.app.state.settings.device_offline_after_s)
        villages = {v.id: v.name for v in org.list_villages(s, user, row.commune_id)}
    return render(request, "emergency_status.html", commune=commune, user=user, e=out, villages=villages,
                  can_cancel=out.active and user.role_in(row.commune_id) == "cadre",
                  title=gettext_for(request)("Emergency"))


@router.post("/app/emergencies/{emergency_id}/cancel")
def emergency_cancel(request: Request, emergency_id: Id, csrf: Annotated[str, Form(max_length=200)]):
    user = require_principal(request)
    check_csrf(request, csrf)
    now = now_of(request)
    with session_scope(request.app.state.engine) as s:
        row = emergencies.cancel(s, user, emergency_id, now)
        commune_id = row.commune_id
    request.app.state.schedules.materialize_commune(commune_id, now, stopped=[f"e{emergency_id}"])
    return RedirectResponse(f"/app/emergencies/{emergency_id}", status_code=303)
