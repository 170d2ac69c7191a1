"""Bulletins down and reports up (issue 16): thin routes over `schedules.bulletins` and `loa.org.areas`.

Province and district staff: their areas, compose (text, rendered by the station's TTS pipeline), edit, submit,
approve (naming the audio heard), reject, send, track, roll-up (JSON and CSV). Commune cadres: the inbox —
accept, order, refuse. Every area route answers 404 to anyone outside the area (another province's staff
included); the services enforce it."""
from __future__ import annotations

from datetime import date

from typing import Annotated

from fastapi import APIRouter, File, Form, Request, Response, UploadFile
from pydantic import BaseModel

from api.bulletins import views
from api.bulletins.recording import receive_bulletin_recording
from api.content.audio import cache_policy, serve_audio
from api.deps import Auth, Context, Id
from api.errors import responses
from broadcaster.station.bulletin_air import aired_by_device
from content.library.upload import check_declared_type
from loa.db import session_scope
from loa.errors import NotFound
from loa.org import areas
from schedules.bulletins import compose, inbox, rollup, service, tracking
from schedules.bulletins.schemas import (AcceptIn, ApproveIn, BulletinEdit, BulletinTextIn, OrderIn, RefuseIn,
                                         RejectIn, SendIn)

router = APIRouter(prefix="/api/v1", tags=["bulletins"])
R = responses
Level = views.LevelPath


class AreaOut(BaseModel):
    level: str
    id: int
    name: str
    province_id: int


@router.get("/areas", response_model=list[AreaOut], responses=R(401),
            summary="The provinces and districts the caller works at")
def my_areas(principal: Auth, ctx: Context):
    with session_scope(ctx.engine) as s:
        return [AreaOut(level=a.level, id=a.id, name=a.name, province_id=a.province_id)
                for a in areas.my_areas(s, principal)]


@router.get("/areas/{level}/{area_id}/bulletins", response_model=list[views.BulletinOut], responses=R(401, 404, 422))
def list_bulletins(level: Level, area_id: Id, principal: Auth, ctx: Context):
    with session_scope(ctx.engine) as s:
        area = areas.visible_area(s, principal, level, area_id)
        return [views.bulletin_out(b) for b in compose.list_bulletins(s, principal, area)]


@router.post("/areas/{level}/{area_id}/bulletins", response_model=views.BulletinOut, status_code=201,
             responses=R(401, 403, 404, 422), summary="Compose a bulletin as text (editor): read aloud at once")
def create_bulletin(level: Level, area_id: Id, body: BulletinTextIn, principal: Auth, ctx: Context):
    render = views.renderer(ctx.settings)
    with session_scope(ctx.engine) as s:
        area = areas.visible_area(s, principal, level, area_id)
        return views.bulletin_out(compose.create_text(s, principal, area, body, render, ctx.now))


@router.post("/areas/{level}/{area_id}/bulletins/recording", response_model=views.BulletinOut, status_code=201,
             responses=R(401, 403, 404, 413, 415, 422),
             summary="Compose a bulletin as a recording (editor, multipart), in any language; mastered before it exists")
def upload_bulletin_recording(
    level: Level, area_id: Id, principal: Auth, ctx: Context,
    file: Annotated[UploadFile, File(description="m4a, mp3, ogg/opus, webm, amr, 3gp, wav, flac")],
    title: Annotated[str, Form(min_length=1, max_length=300)],
    language: Annotated[str, Form(max_length=35)] = "vi",
    transcript: Annotated[str | None, Form(max_length=20000)] = None,
):
    check_declared_type(file.content_type)
    row = receive_bulletin_recording(ctx.engine, ctx.settings, principal, level, area_id, title, language,
                                     transcript, file.file, ctx.now)
    return views.bulletin_out(row)


@router.get("/bulletins/{bulletin_id}", response_model=views.BulletinOut, responses=R(401, 404))
def get_bulletin(bulletin_id: Id, principal: Auth, ctx: Context):
    with session_scope(ctx.engine) as s:
        return views.bulletin_out(compose.get_bulletin(s, principal, bulletin_id))


@router.patch("/bulletins/{bulletin_id}", response_model=views.BulletinOut, responses=R(401, 403, 404, 409, 422))
def edit_bulletin(bulletin_id: Id, body: BulletinEdit, principal: Auth, ctx: Context):
    render = views.renderer(ctx.settings)
    with session_scope(ctx.engine) as s:
        return views.bulletin_out(compose.edit(s, principal, bulletin_id, body, render, ctx.now))


@router.get("/bulletins/{bulletin_id}/audio", responses=R(401, 404), summary="The bulletin's audio (to listen)")
def bulletin_audio(bulletin_id: Id, request: Request, principal: Auth, ctx: Context):
    from content.store import AudioStore, StoreError

    with session_scope(ctx.engine) as s:
        sha = compose.get_bulletin(s, principal, bulletin_id).audio_sha256
    try:
        path = AudioStore(ctx.settings.audio_dir).path_for(sha) if sha else None
    except StoreError:
        path = None
    if path is None:
        raise NotFound("audio_not_found", "Bản tin chưa có âm thanh", "The bulletin has no audio yet")
    return serve_audio(request, path, sha, cache_policy(hash_in_url=False, public=False))


@router.post("/bulletins/{bulletin_id}/submit", response_model=views.BulletinOut, responses=R(401, 403, 404, 409))
def submit_bulletin(bulletin_id: Id, principal: Auth, ctx: Context):
    with session_scope(ctx.engine) as s:
        return views.bulletin_out(compose.submit(s, principal, bulletin_id, ctx.now))


@router.post("/bulletins/{bulletin_id}/approve", response_model=views.BulletinOut, responses=R(401, 403, 404, 409),
             summary="Approve (approver, not the author): name the sha256 of the audio you listened to")
def approve_bulletin(bulletin_id: Id, body: ApproveIn, principal: Auth, ctx: Context):
    with session_scope(ctx.engine) as s:
        return views.bulletin_out(compose.approve(s, principal, bulletin_id, body.audio_sha256, ctx.now))


@router.post("/bulletins/{bulletin_id}/reject", response_model=views.BulletinOut, responses=R(401, 403, 404, 409))
def reject_bulletin(bulletin_id: Id, body: RejectIn, principal: Auth, ctx: Context):
    with session_scope(ctx.engine) as s:
        return views.bulletin_out(compose.reject(s, principal, bulletin_id, body.reason, ctx.now))


@router.post("/bulletins/{bulletin_id}/send", response_model=views.TrackingOut, responses=R(401, 403, 404, 409, 422),
             summary="Send an approved bulletin (approver) to districts and communes with a level and an expiry")
def send_bulletin(bulletin_id: Id, body: SendIn, request: Request, principal: Auth, ctx: Context):
    with session_scope(ctx.engine) as s:
        sent = service.send(s, principal, bulletin_id, body, ctx.now, views.remote_route())
    service.after_commit(request.app.state.schedules, sent.local, ctx.now)
    return tracking_of(bulletin_id, principal, ctx)


@router.get("/bulletins/{bulletin_id}/tracking", response_model=views.TrackingOut, responses=R(401, 404),
            summary="Per commune and loudspeaker: received → scheduled → aired (seconds), or refused (reason)")
def tracking_of(bulletin_id: Id, principal: Auth, ctx: Context):
    with session_scope(ctx.engine) as s:
        row, deliveries = tracking.tracking(s, principal, bulletin_id, aired_by_device)
        return views.tracking_out(row, deliveries)


@router.get("/areas/{level}/{area_id}/rollup", response_model=views.RollUpOut, responses=R(401, 404, 422),
            summary="Daily or monthly figures of the area's communes, per district and commune")
def area_rollup(level: Level, area_id: Id, principal: Auth, ctx: Context, first: date | None = None,
                last: date | None = None, by: views.ByQ = "day"):
    first, last = views.default_range(first, last, ctx.now)
    with session_scope(ctx.engine) as s:
        area = areas.visible_area(s, principal, level, area_id)
        views.refresh_local_reports(s, area, first, last, ctx.now)
    with session_scope(ctx.engine) as s:
        return views.rollup_out(rollup.area_rollup(s, principal, level, area_id, first.isoformat(),
                                                   last.isoformat(), by))


@router.get("/areas/{level}/{area_id}/rollup.csv", responses=R(401, 404, 422),
            summary="The roll-up as CSV (one row per commune and period; spreadsheet-safe)")
def area_rollup_csv(level: Level, area_id: Id, principal: Auth, ctx: Context, first: date | None = None,
                    last: date | None = None, by: views.ByQ = "day"):
    first, last = views.default_range(first, last, ctx.now)
    with session_scope(ctx.engine) as s:
        area = areas.visible_area(s, principal, level, area_id)
        views.refresh_local_reports(s, area, first, last, ctx.now)
    with session_scope(ctx.engine) as s:
        data = rollup.area_rollup(s, principal, level, area_id, first.isoformat(), last.isoformat(), by)
        body = views.rollup_csv(data, ctx.lang)
    name = f"bao-cao-{level}-{area_id}-{first.isoformat()}-{last.isoformat()}.csv"
    return Response(body, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


# ---------------------------------------------------------------- the commune's inbox


@router.get("/communes/{commune_id}/bulletin-inbox", response_model=list[views.InboxOut], responses=R(401, 404))
def list_inbox(commune_id: Id, principal: Auth, ctx: Context):
    with session_scope(ctx.engine) as s:
        return [views.inbox_out(r) for r in inbox.list_inbox(s, principal, commune_id, ctx.now)]


@router.post("/bulletin-inbox/{item_id}/accept", response_model=views.InboxOut, responses=R(401, 403, 404, 409, 422),
             summary="Accept a normal bulletin into the commune's own schedule, at a chosen time (cadre)")
def accept(item_id: Id, body: AcceptIn, request: Request, principal: Auth, ctx: Context):
    with session_scope(ctx.engine) as s:
        row = inbox.accept(s, principal, item_id, body, ctx.now)
    service.after_commit(request.app.state.schedules, [row], ctx.now)
    return views.inbox_out(row)


@router.post("/bulletin-inbox/{item_id}/order", response_model=views.InboxOut, responses=R(401, 403, 404, 409, 422),
             summary="Air a priority bulletin before or after the commune's own priority item (cadre)")
def order(item_id: Id, body: OrderIn, request: Request, principal: Auth, ctx: Context):
    with session_scope(ctx.engine) as s:
        row = inbox.order(s, principal, item_id, body, ctx.now)
    service.after_commit(request.app.state.schedules, [row], ctx.now)
    return views.inbox_out(row)


@router.post("/bulletin-inbox/{item_id}/refuse", response_model=views.InboxOut, responses=R(401, 403, 404, 409, 422))
def refuse(item_id: Id, body: RefuseIn, principal: Auth, ctx: Context):
    with session_scope(ctx.engine) as s:
        return views.inbox_out(inbox.refuse(s, principal, item_id, body.reason, ctx.now))


