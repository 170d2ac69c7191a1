"""Phát trực tiếp (issue 15): a cadre speaks to chosen villages (or the whole commune) from the phone.

The page is for a cadre only (the service refuses anyone else too). Going on air, the phone's audio, the stop
and the on-air state use the JSON API (/api/v1/…/live, api/live/router.py) from /static/live.js with the
session cookie and the CSRF header; the list of past sessions and "put the recording in the library" are plain
HTML forms that work without script."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from api.deps import Id
from api.web.render import PageRoute, gettext_for, page_lang, render
from api.web.session import check_csrf, now_of, require_principal
from broadcaster.station.live.service import SPEAKERS, publish
from content.library.models import Kind
from loa.db import session_scope
from loa.errors import DomainError
from loa.org import service as org

router = APIRouter(route_class=PageRoute, include_in_schema=False)


def _context(request: Request, commune_id: int, user) -> dict:
    with session_scope(request.app.state.engine) as s:
        commune = org.get_commune(s, user, commune_id)
        user.require_role(commune_id, *SPEAKERS)
        villages = org.list_villages(s, user, commune_id)
    sessions = request.app.state.live.list(user, commune_id, limit=20)
    names = {v.id: v.name for v in villages}
    # joined: from the loudspeakers' own reports (a heartbeat saying it plays it, a play record), never the plan
    joined = {x.id: request.app.state.live.joined(x) for x in sessions}
    return dict(commune=commune, user=user, villages=villages, sessions=sessions, names=names, joined=joined,
                on_air=next((x for x in sessions if x.ended_at is None), None), now=now_of(request),
                title=gettext_for(request)("Live broadcast"))


@router.get("/app/c/{commune_id}/live")
def live_page(request: Request, commune_id: Id):
    user = require_principal(request)
    return render(request, "live.html", **_context(request, commune_id, user))


@router.post("/app/c/{commune_id}/live/{session_id}/publish")
def live_publish(request: Request, commune_id: Id, session_id: Id, csrf: Annotated[str, Form(max_length=200)],
                 title: Annotated[str, Form(max_length=300)] = ""):
    user = require_principal(request)
    check_csrf(request, csrf)
    state = request.app.state
    try:
        if not title.strip():
            raise DomainError("title_required", "Hãy đặt tên cho bản ghi", "Give the recording a title")
        item_id = publish(state.engine, state.live, user, session_id, title.strip(), Kind.news.value,
                          now_of(request), state.settings.max_upload_bytes)
    except DomainError as exc:
        message = exc.message_en if page_lang(request) == "en" else exc.message_vi
        return render(request, "live.html", status=422 if exc.status == 400 else exc.status, error=message,
                      **_context(request, commune_id, user))
    return RedirectResponse(f"/app/items/{item_id}", status_code=303)
