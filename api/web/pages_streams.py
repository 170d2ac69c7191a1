"""Relay streams in the web app (issue 14): the admin's list at /app/admin/streams (add, change, disable),
and "listen before saving" for the schedule form: a few seconds of a stream, fetched by the station and sent
from its own origin (the pages' CSP lets audio come from the station only)."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response

from api.deps import Id
from api.schedules.streams import allowed_hosts, listen_response
from api.web.choices import N_
from api.web.form_errors import error_message
from api.web.render import PageRoute, gettext_for, render
from api.web.session import check_csrf, now_of, require_principal
from loa.accounts.principal import Principal
from loa.db import session_scope
from loa.errors import DomainError
from loa.org import service as org
from schedules.streams import service as streams
from schedules.streams.models import KINDS

router = APIRouter(route_class=PageRoute, include_in_schema=False)
Csrf = Annotated[str, Form(max_length=200)]
Name = Annotated[str, Form(max_length=300)]
Url = Annotated[str, Form(max_length=2100)]
Kind = Annotated[str, Form(max_length=16)]
CommuneField = Annotated[str, Form(max_length=12)]
Flag = Annotated[str, Form(max_length=4)]
KIND_LABELS = {"national": N_("National station (e.g. VOV1)"), "provincial": N_("Provincial station"),
               "district": N_("District station"), "other": N_("Other")}


def _page(request: Request, status: int = 200, error: str | None = None, form: dict | None = None,
          editing=None):
    user = require_principal(request)
    with session_scope(request.app.state.engine) as s:
        rows = streams.list_all(s, user)
        communes = org.list_communes(s, user)
    _ = gettext_for(request)
    return render(request, "admin_streams.html", status=status, user=user, streams=rows, communes=communes,
                  kinds=KINDS, kind_labels={k: _(v) for k, v in KIND_LABELS.items()}, error=error,
                  form=form or {"kind": "national", "enabled": True}, editing=editing,
                  done=request.query_params.get("done"), title=_("Relay streams"))


@router.get("/app/admin/streams")
def streams_page(request: Request):
    return _page(request)


def _commune(value: str) -> int | None:
    return int(value) if value.isdigit() else None


def _admin(request: Request, csrf: str) -> Principal:
    user = require_principal(request)
    user.require_admin()
    check_csrf(request, csrf)
    return user


def _typed(name: str, url: str, kind: str, commune_id: str, enabled: str, check_now: str) -> dict:
    """What was typed, to fill the form again if it is refused."""
    return {"name": name, "url": url, "kind": kind, "commune_id": commune_id, "enabled": bool(enabled),
            "check_now": bool(check_now)}


def _reshow(request: Request, exc: DomainError, form: dict, editing: int | None = None):
    """The list again with the error above the form. Not logged in, forbidden and a stream that is not there are
    pages of their own."""
    if exc.status in (401, 403) or exc.code == "stream_not_found":
        raise exc
    return _page(request, status=exc.status, error=error_message(request, exc), form=form, editing=editing)


@router.post("/app/admin/streams")
def streams_create(request: Request, csrf: Csrf, name: Name = "", url: Url = "", kind: Kind = "national",
                   commune_id: CommuneField = "", enabled: Flag = "", check_now: Flag = ""):
    user = _admin(request, csrf)
    try:
        with session_scope(request.app.state.engine) as s:
            row = streams.create(s, user, name=name, url=url, kind=kind, commune_id=_commune(commune_id),
                                 enabled=bool(enabled), now=now_of(request),
                                 allowed_hosts=allowed_hosts(request.app.state.settings), check_now=bool(check_now))
            new_id = row.id
    except DomainError as exc:
        return _reshow(request, exc, _typed(name, url, kind, commune_id, enabled, check_now))
    return RedirectResponse(f"/app/admin/streams?done=added#stream-{new_id}", status_code=303)


@router.get("/app/admin/streams/{stream_id}")
def stream_edit_page(request: Request, stream_id: Id):
    user = require_principal(request)
    with session_scope(request.app.state.engine) as s:
        row = streams.get_for_admin(s, user, stream_id)
        form = {"name": row.name, "url": row.url, "kind": row.kind, "commune_id": str(row.commune_id or ""),
                "enabled": row.enabled}
    return _page(request, form=form, editing=stream_id)


@router.post("/app/admin/streams/{stream_id}")
def stream_update(request: Request, stream_id: Id, csrf: Csrf, name: Name = "", url: Url = "",
                  kind: Kind = "national", commune_id: CommuneField = "", enabled: Flag = "", check_now: Flag = ""):
    user = _admin(request, csrf)
    try:
        with session_scope(request.app.state.engine) as s:
            streams.update(s, user, stream_id, now_of(request), allowed_hosts(request.app.state.settings),
                           check_now=bool(check_now), all_communes=_commune(commune_id) is None, name=name, url=url,
                           kind=kind, commune_id=_commune(commune_id), enabled=bool(enabled))
    except DomainError as exc:
        return _reshow(request, exc, _typed(name, url, kind, commune_id, enabled, check_now), editing=stream_id)
    return RedirectResponse(f"/app/admin/streams?done=saved#stream-{stream_id}", status_code=303)


@router.post("/app/admin/streams/{stream_id}/enabled")
def stream_enable(request: Request, stream_id: Id, csrf: Csrf, enabled: Flag = ""):
    """The one-tap disable (and enable again): a disabled stream is no longer offered in the schedule form."""
    user = _admin(request, csrf)
    with session_scope(request.app.state.engine) as s:
        streams.update(s, user, stream_id, now_of(request), allowed_hosts(request.app.state.settings),
                       enabled=enabled == "1")
    done = "enabled" if enabled == "1" else "disabled"
    return RedirectResponse(f"/app/admin/streams?done={done}#stream-{stream_id}", status_code=303)


@router.get("/app/c/{commune_id}/streams/{stream_id}/listen")
def stream_listen(request: Request, commune_id: Id, stream_id: Id) -> Response:
    """A few seconds of the stream; a stream that cannot be heard gets its reason as plain words (the page's
    script shows them next to the button)."""
    user = require_principal(request)
    try:
        with session_scope(request.app.state.engine) as s:
            url = streams.get_for_commune(s, user, commune_id, stream_id).url
        return listen_response(url, request.app.state.settings)
    except DomainError as exc:
        return PlainTextResponse(error_message(request, exc), status_code=exc.status,
                                 headers={"Cache-Control": "no-store"})
