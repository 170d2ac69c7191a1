"""The admin's pages for the interchange between stations (issue 16, docs/interchange.md): this station's
identity to read out to the other side, the peers pinned here (add one with its key, pin a new key when it
rotates, disable one after a confirmation page) and the outbox, read-only.

Only the system admin (403 for anyone else), a missing peer 404. The rules are broadcaster/interchange/peers.py's
(the same calls as `loa interchange …` and /api/v1/interchange): a bad station id, address or key re-shows the
form with what was typed and a plain message (422/409), nothing saved."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session

from api.web.form_errors import error_message
from api.web.render import PageRoute, gettext_for, render
from api.web.session import admin_form, now_of, require_admin
from broadcaster.interchange import outbox, peers
from loa.accounts.principal import Principal
from loa.db import session_scope
from loa.errors import DomainError

router = APIRouter(route_class=PageRoute, include_in_schema=False)
Text = Annotated[str, Form(max_length=600)]
Key = Annotated[str, Form(max_length=200)]
Codes = Annotated[str, Form(max_length=20000)]
Csrf = Annotated[str, Form(max_length=200)]
StationId = Annotated[str, Path(max_length=64)]
HOME = "/app/admin/interchange"


def _peer_url(station_id: str) -> str:
    return f"{HOME}/peers/{station_id}"


def _home_page(request: Request, status: int = 200, **extra: Any) -> Response:
    user = require_admin(request)
    me = request.app.state.interchange.me.public_info()
    with session_scope(request.app.state.engine) as s:
        rows = [peers.describe(p) for p in peers.list_all(s, user)]
        waiting = {r["station_id"]: r["messages"] for r in outbox.summary(s)}
    return render(request, "admin_interchange.html", status=status, user=user, me=me, peers=rows, waiting=waiting,
                  form=extra.pop("form", {}), title=gettext_for(request)("Links with other stations"), **extra)


@router.get(HOME)
def interchange_page(request: Request) -> Response:
    return _home_page(request)


@router.post(f"{HOME}/peers")
def peer_add(request: Request, csrf: Csrf, station_id: Text = "", name: Text = "", role: Text = "",
             base_url: Text = "", public_key: Key = "", communes: Codes = "") -> Response:
    user = admin_form(request, csrf)
    now = now_of(request)
    try:
        with session_scope(request.app.state.engine) as s:
            peer = peers.register(s, user, station_id=station_id.strip(), name=name, role=role, base_url=base_url,
                                  public_key=public_key, now=now, communes=communes.replace("\n", ",").split(","))
            outbox.ensure_pump(s, now)  # as the CLI and the API do: anything queued for it goes out
            added = peer.station_id
    except DomainError as exc:
        if exc.status in (401, 403, 404):
            raise
        form = {"station_id": station_id, "name": name, "role": role, "base_url": base_url,
                "public_key": public_key, "communes": communes}
        return _home_page(request, status=exc.status, error=error_message(request, exc), form=form)
    return RedirectResponse(f"{_peer_url(added)}?done=peer_added", status_code=303)


def _peer_page(request: Request, station_id: str, status: int = 200, template: str = "admin_peer.html",
               **extra: Any) -> Response:
    user = require_admin(request)
    with session_scope(request.app.state.engine) as s:
        peers.list_all(s, user)  # the admin's check, as listing them
        peer = peers.get(s, station_id)
        info = peers.describe(peer)
        keys = sorted(peer.keys.items())
        waiting = outbox.undelivered(s, station_id=station_id)
    return render(request, template, status=status, user=user, peer=info, keys=keys, waiting=waiting,
                  form=extra.pop("form", {}), title=info["name"], **extra)


def _peer_form(request: Request, station_id: str, csrf: str, form: dict[str, str], done: str,
               change: Callable[[Session, Principal, datetime], object]) -> Response:
    """One of the peer page's forms: the change, then back to the page saying it was done; a refused change shows
    the page again with the reason and what was typed (who may not, or a peer that is not there, stay errors)."""
    user = admin_form(request, csrf)
    try:
        with session_scope(request.app.state.engine) as s:
            change(s, user, now_of(request))
    except DomainError as exc:
        if exc.status in (401, 403, 404):
            raise
        return _peer_page(request, station_id, status=exc.status, error=error_message(request, exc), form=form)
    return RedirectResponse(f"{_peer_url(station_id)}?done={done}", status_code=303)


@router.get(f"{HOME}/peers/{{station_id}}")
def peer_page(request: Request, station_id: StationId) -> Response:
    return _peer_page(request, station_id)


@router.post(f"{HOME}/peers/{{station_id}}/keys")
def peer_key_add(request: Request, station_id: StationId, csrf: Csrf, public_key: Key = "") -> Response:
    return _peer_form(request, station_id, csrf, {"public_key": public_key}, "peer_key_added",
                      lambda s, user, now: peers.add_key(s, user, station_id, public_key, now))


@router.post(f"{HOME}/peers/{{station_id}}/address")
def peer_move(request: Request, station_id: StationId, csrf: Csrf, base_url: Text = "") -> Response:
    """The station moved (a new address, a proxy in front): its keys stay pinned."""
    return _peer_form(request, station_id, csrf, {"base_url": base_url}, "peer_saved",
                      lambda s, user, now: peers.set_base_url(s, user, station_id, base_url, now))


@router.post(f"{HOME}/peers/{{station_id}}/communes")
def peer_communes(request: Request, station_id: StationId, csrf: Csrf, communes: Codes = "") -> Response:
    """A lower station now runs these communes (one joined it, one left)."""
    codes = communes.replace("\n", ",").split(",")
    return _peer_form(request, station_id, csrf, {"communes": communes}, "peer_saved",
                      lambda s, user, now: peers.set_communes(s, user, station_id, codes, now))


@router.get(f"{HOME}/peers/{{station_id}}/disable")
def peer_disable_confirm(request: Request, station_id: StationId) -> Response:
    """Ask first: what disabling does, with one button to go on and one to go back."""
    return _peer_page(request, station_id, template="admin_peer_disable.html")


@router.post(f"{HOME}/peers/{{station_id}}/disable")
def peer_disable(request: Request, station_id: StationId, csrf: Csrf,
                 confirm: Annotated[str, Form(max_length=8)] = "") -> Response:
    user = admin_form(request, csrf)
    if confirm != "yes":  # only the confirmation page's button sends it
        return RedirectResponse(f"{_peer_url(station_id)}/disable", status_code=303)
    with session_scope(request.app.state.engine) as s:
        peers.disable(s, user, station_id, now_of(request))
    return RedirectResponse(f"{_peer_url(station_id)}?done=peer_disabled", status_code=303)


@router.get(f"{HOME}/outbox")
def outbox_page(request: Request) -> Response:
    """What waits to go out, per peer and message: read-only (the pump retries by itself)."""
    user = require_admin(request)
    with session_scope(request.app.state.engine) as s:
        peers.list_all(s, user)  # the admin's check
        summary = outbox.summary(s)
        messages = outbox.undelivered(s)
    return render(request, "admin_outbox.html", user=user, summary=summary, messages=messages,
                  title=gettext_for(request)("Outbox"))
