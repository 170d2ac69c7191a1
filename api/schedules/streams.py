"""Relay streams (issue 14): the system admin keeps the list; a commune's members list the streams they may
relay and listen to a few seconds of one through the station (browsers may play audio from the station only)."""
from __future__ import annotations

import threading

from fastapi import APIRouter
from fastapi.responses import Response

from api.deps import Auth, Context, Id
from api.errors import responses
from loa.db import session_scope
from loa.errors import RateLimited
from schedules.streams import service as streams
from schedules.streams.sample import fetch_sample
from schedules.streams.schemas import StreamIn, StreamOut, StreamPatch

router = APIRouter(prefix="/api/v1", tags=["relay streams"])
R = responses


def allowed_hosts(settings) -> list[str]:
    return [h for h in settings.relay_allowed_hosts.split(",") if h.strip()]


def _out(row) -> StreamOut:
    return StreamOut(**row.model_dump(include=set(StreamOut.model_fields)))


@router.get("/streams", response_model=list[StreamOut], responses=R(401, 403), summary="All relay streams (admin)")
def list_streams(principal: Auth, ctx: Context) -> list[StreamOut]:
    with session_scope(ctx.engine) as s:
        return [_out(r) for r in streams.list_all(s, principal)]


@router.post("/streams", response_model=StreamOut, status_code=201, responses=R(401, 403, 404, 409, 422, 502),
             summary="Add a relay stream (admin); check_now: 502 if it does not answer with audio")
def create_stream(body: StreamIn, principal: Auth, ctx: Context) -> StreamOut:
    with session_scope(ctx.engine) as s:
        return _out(streams.create(s, principal, name=body.name, url=body.url, kind=body.kind,
                                   commune_id=body.commune_id, enabled=body.enabled, now=ctx.now,
                                   allowed_hosts=allowed_hosts(ctx.settings), check_now=body.check_now))


@router.get("/streams/{stream_id}", response_model=StreamOut, responses=R(401, 403, 404))
def get_stream(stream_id: Id, principal: Auth, ctx: Context) -> StreamOut:
    with session_scope(ctx.engine) as s:
        return _out(streams.get_for_admin(s, principal, stream_id))


@router.patch("/streams/{stream_id}", response_model=StreamOut, responses=R(401, 403, 404, 409, 422, 502),
              summary="Change or disable a relay stream (admin)")
def patch_stream(stream_id: Id, body: StreamPatch, principal: Auth, ctx: Context) -> StreamOut:
    changes = body.model_dump(exclude_unset=True, exclude={"check_now", "all_communes"})
    with session_scope(ctx.engine) as s:
        return _out(streams.update(s, principal, stream_id, ctx.now, allowed_hosts(ctx.settings),
                                   check_now=body.check_now, all_communes=body.all_communes, **changes))


@router.get("/communes/{commune_id}/streams", response_model=list[StreamOut], responses=R(401, 404),
            summary="The enabled relay streams this commune may relay (members)")
def commune_streams(commune_id: Id, principal: Auth, ctx: Context) -> list[StreamOut]:
    with session_scope(ctx.engine) as s:
        return [_out(r) for r in streams.for_commune(s, principal, commune_id)]


# A listen holds a server thread for up to ~11 s (connect, then 6 s of audio): a few at once per process,
# so that listening (or a member pressing the button in a loop) never takes the threads the pages need.
LISTENS_AT_ONCE = 4
_listens = threading.BoundedSemaphore(LISTENS_AT_ONCE)


def listen_response(url: str, settings) -> Response:
    if not _listens.acquire(blocking=False):
        raise RateLimited("listen_busy", "Đang có nhiều người nghe thử cùng lúc; hãy thử lại sau ít giây",
                          "Several people are listening right now; try again in a few seconds", retry_after=5)
    try:
        sample = fetch_sample(url, allowed_hosts(settings))
    finally:
        _listens.release()
    return Response(sample.data, media_type=sample.content_type, headers={"Cache-Control": "no-store"})


@router.get("/communes/{commune_id}/streams/{stream_id}/listen", responses={
    **R(401, 404, 422, 429, 502), 200: {"content": {"audio/mpeg": {}, "audio/ogg": {}}, "description": "a few seconds"}},
    response_class=Response, summary="A few seconds of the stream, through the station (members)")
def listen(commune_id: Id, stream_id: Id, principal: Auth, ctx: Context) -> Response:
    with session_scope(ctx.engine) as s:
        url = streams.get_for_commune(s, principal, commune_id, stream_id).url
    return listen_response(url, ctx.settings)
