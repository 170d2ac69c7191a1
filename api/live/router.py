"""Live sessions over HTTP. The phone's MediaRecorder slices arrive as numbered POSTs of raw bytes
(`/live/{id}/audio?seq=N`, the body is the WebM/Opus slice): the session's own cookie and CSRF header
authenticate them like every other request, and a lost or repeated slice is detected by its number."""
from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.deps import Auth, Context, Id
from api.errors import responses
from broadcaster.station.live.models import LiveSession
from broadcaster.station.live.service import MAX_CHUNK_BYTES, publish
from content.library.models import Kind
from loa.errors import Invalid

router = APIRouter(prefix="/api/v1", tags=["live"])
R = responses


class LiveIn(BaseModel):
    villages: list[int] | None = Field(default=None, max_length=500,
                                       description="Village ids; null or empty = the whole commune")


class LiveOut(BaseModel):
    id: int
    commune_id: int
    started_by: str
    villages: list[int]
    device_count: int
    joined: int = Field(description="Loudspeakers that reported airing it (their own heartbeat or play record)")
    started_at: datetime
    ended_at: datetime | None
    end_reason: str | None
    ended_by: str | None
    on_air: bool
    elapsed_s: float
    recording: bool
    recording_s: float | None
    content_item_id: int | None


class PublishIn(BaseModel):
    title: str = Field(min_length=1, max_length=300)
    kind: Kind = Kind.news


class PublishOut(BaseModel):
    content_item_id: int


def live_out(row: LiveSession, now: datetime, joined: int = 0) -> LiveOut:
    if row.id is None:  # only stored sessions are shown; LiveOut would refuse it as well
        raise ValueError("live session without an id")
    end = row.ended_at or now
    return LiveOut(id=row.id, commune_id=row.commune_id, started_by=row.started_by, villages=list(row.villages),
                   device_count=row.device_count, joined=joined, started_at=row.started_at, ended_at=row.ended_at,
                   end_reason=row.end_reason, ended_by=row.ended_by, on_air=row.ended_at is None,
                   elapsed_s=round(max(0.0, (end - row.started_at).total_seconds()), 1),
                   recording=bool(row.recording_sha256), recording_s=row.recording_s,
                   content_item_id=row.content_item_id)


@router.post("/communes/{commune_id}/live", response_model=LiveOut, status_code=201,
             responses=R(401, 403, 404, 409, 422), summary="Go on air live (a cadre only) in villages or the commune")
def start_live(commune_id: Id, body: LiveIn, principal: Auth, ctx: Context, request: Request) -> LiveOut:
    row = request.app.state.live.start(principal, commune_id, body.villages, ctx.now)
    return live_out(row, ctx.now, request.app.state.live.joined(row))


@router.get("/communes/{commune_id}/live", response_model=list[LiveOut], responses=R(401, 404),
            summary="Live sessions of a commune, newest first (who, where, when, how long)")
def list_live(commune_id: Id, principal: Auth, ctx: Context, request: Request) -> list[LiveOut]:
    live = request.app.state.live
    return [live_out(r, ctx.now, live.joined(r)) for r in live.list(principal, commune_id)]


@router.get("/live/{session_id}", response_model=LiveOut, responses=R(401, 404), summary="One live session")
def get_live(session_id: Id, principal: Auth, ctx: Context, request: Request) -> LiveOut:
    row = request.app.state.live.get(principal, session_id)
    return live_out(row, ctx.now, request.app.state.live.joined(row))


@router.post("/live/{session_id}/audio", status_code=204, response_class=Response,
             responses=R(401, 403, 404, 409, 413, 422),
             summary="The next slice of the phone's recording (raw WebM/Opus bytes), numbered from 0")
async def feed_live(session_id: Id, principal: Auth, request: Request,
                    seq: int = Query(ge=0, le=10_000_000)) -> Response:
    data = await request.body()
    if not data:
        raise Invalid("empty_chunk", "Đoạn âm thanh rỗng", "Empty audio chunk")
    if len(data) > MAX_CHUNK_BYTES:
        raise Invalid("chunk_too_large", "Đoạn âm thanh quá lớn", "Audio chunk too large")
    await run_in_threadpool(request.app.state.live.feed, principal, session_id, seq, data)
    return Response(status_code=204)


@router.post("/live/{session_id}/stop", response_model=LiveOut, responses=R(401, 403, 404),
             summary="End the live session: the loudspeakers go quiet and return to their timetable")
def stop_live(session_id: Id, principal: Auth, ctx: Context, request: Request) -> LiveOut:
    row = request.app.state.live.stop(principal, session_id, ctx.now)
    return live_out(row, ctx.now, request.app.state.live.joined(row))


@router.get("/live/{session_id}/recording", responses={200: {"content": {"audio/mpeg": {}}}, **R(401, 404)},
            summary="The session's recording (MP3, as the loudspeakers got it)")
def live_recording(session_id: Id, principal: Auth, request: Request) -> FileResponse:
    path = request.app.state.live.recording_path(principal, session_id)
    return FileResponse(path, media_type="audio/mpeg", filename=f"live-{session_id}.mp3")


@router.post("/live/{session_id}/publish", response_model=PublishOut, status_code=201,
             responses=R(401, 403, 404, 409, 413, 415, 422),
             summary="Put the recording in the library as a draft (then the library's approval flow)")
def publish_live(session_id: Id, body: PublishIn, principal: Auth, ctx: Context, request: Request) -> PublishOut:
    item_id = publish(ctx.engine, request.app.state.live, principal, session_id, body.title, body.kind.value,
                      ctx.now, ctx.settings.max_upload_bytes)
    return PublishOut(content_item_id=item_id)
