"""The content library API: create from text (background render), upload recordings, list/search, review."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from api.content.audio import cache_policy, serve_audio
from api.content.recording_upload import receive_recording
from api.content.text_limit import check_text_airtime
from api.deps import Auth, Context
from api.deps import Id
from api.errors import responses
from api.schedules.setup import content_changed
from content.library import service as library
from loa.languages import KNOWN
from content.library.models import Kind, Status
from content.library.schemas import (
    ApproveBody, ContentItemOut, ContentPage, ContributionOut, ItemFilter, ItemMeta, ItemUpdate, RejectBody,
    TextItemCreate,
)
from content.library.upload import check_declared_type
from loa.db import session_scope
from loa.errors import NotFound
from loa.jobs import service as jobs
from loa.org.schemas import JobOut

router = APIRouter(prefix="/api/v1", tags=["content"])
R = responses


class Accepted(BaseModel):
    item: ContentItemOut
    job: JobOut


class LanguageOut(BaseModel):
    tag: str
    name_vi: str
    name_en: str


def _job(job) -> JobOut:
    return JobOut(**job.model_dump(include=set(JobOut.model_fields)))


@router.get("/languages", response_model=list[LanguageOut], summary="Languages with a display name")
def languages() -> list[LanguageOut]:
    return [LanguageOut(tag=t, name_vi=vi, name_en=en) for t, (vi, en) in KNOWN.items()]


@router.post("/communes/{commune_id}/content", response_model=Accepted, status_code=202,
             responses=R(401, 403, 404, 422),
             summary="New item from a text; rendering runs in the background — poll the job")
def create_text(commune_id: Id, body: TextItemCreate, principal: Auth, ctx: Context) -> Accepted:
    with session_scope(ctx.engine) as s:
        check_text_airtime(s, commune_id, body.text, body.voice, body.speed)
        item, job = library.create_text_item(s, principal, commune_id, body, ctx.now)
        return Accepted(item=ContentItemOut.of(item, ctx.lang), job=_job(job))


@router.post("/communes/{commune_id}/recordings", response_model=ContentItemOut, status_code=201,
             responses={**R(401, 403, 404, 413, 415, 422),
                        202: {"model": Accepted, "description": "Checked, waiting for a mastering slot: poll the job"}},
             summary="Upload a recording (multipart); it is checked and mastered before the item exists, or, "
                     "when every mastering slot is busy, checked and queued (202 with the job)")
def upload_recording(
    commune_id: Id,
    principal: Auth,
    ctx: Context,
    file: Annotated[UploadFile, File(description="m4a, mp3, ogg/opus, webm, amr, 3gp, wav, flac")],
    title: Annotated[str, Form(min_length=1, max_length=300)],
    kind: Annotated[Kind, Form()] = Kind.guidance,
    language: Annotated[str, Form(max_length=35)] = "vi",
    transcript: Annotated[str | None, Form(max_length=20000)] = None,
    expires_at: Annotated[datetime | None, Form()] = None,
    village_id: Annotated[int | None, Form()] = None,
    pair_item_id: Annotated[int | None, Form()] = None,
) -> ContentItemOut:
    try:
        meta = ItemMeta(title=title, kind=kind, language=language, expires_at=expires_at, village_id=village_id,
                        pair_item_id=pair_item_id)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from None
    with session_scope(ctx.engine) as s:
        library.check_can_create(s, principal, commune_id, meta)
    check_declared_type(file.content_type)

    def build(s, item, job):
        out = ContentItemOut.of(item, ctx.lang)
        if job is None:
            return out
        # Every mastering slot was busy: the item waits ("đang chờ") and a job masters it shortly.
        return JSONResponse(jsonable_encoder(Accepted(item=out, job=_job(job))), status_code=202)

    return receive_recording(ctx.engine, ctx.settings, principal, commune_id, meta, file.file, file.filename,
                             transcript, ctx.now, build)


@router.get("/communes/{commune_id}/content", response_model=ContentPage, responses=R(401, 404, 422),
            summary="List, filter and search the library")
def list_content(commune_id: Id, principal: Auth, ctx: Context, status: Status | None = None,
                 kind: Kind | None = None, language: str | None = Query(None, max_length=35),
                 village_id: int | None = None, q: str | None = Query(None, max_length=200),
                 limit: int = Query(50, ge=1, le=200), offset: int = Query(0, ge=0)) -> ContentPage:
    f = ItemFilter(status=status, kind=kind, language=language, village_id=village_id, q=q, limit=limit,
                   offset=offset)
    with session_scope(ctx.engine) as s:
        items, total = library.list_items(s, principal, commune_id, f)
        return ContentPage(items=[ContentItemOut.of(i, ctx.lang) for i in items], total=total, limit=limit,
                           offset=offset)


@router.get("/content/{item_id}", response_model=ContentItemOut, responses=R(401, 404))
def get_content(item_id: Id, principal: Auth, ctx: Context) -> ContentItemOut:
    with session_scope(ctx.engine) as s:
        return ContentItemOut.of(library.get_item(s, principal, item_id), ctx.lang)


class Updated(BaseModel):
    item: ContentItemOut
    job: JobOut | None = None


@router.patch("/content/{item_id}", response_model=Updated, responses=R(401, 403, 404, 409, 422),
              summary="Change metadata or text; an approved item goes back to draft; new text re-renders")
def update_content(item_id: Id, body: ItemUpdate, principal: Auth, ctx: Context, request: Request) -> Updated:
    with session_scope(ctx.engine) as s:
        if body.text is not None:
            current = library.get_item(s, principal, item_id)
            check_text_airtime(s, current.commune_id, body.text, body.voice or current.voice,
                               body.speed or current.speed)
        item, job = library.update_item(s, principal, item_id, body, ctx.now)
        out = Updated(item=ContentItemOut.of(item, ctx.lang), job=_job(job) if job else None)
    content_changed(request.app, out.item.commune_id, ctx.now)
    return out


@router.post("/content/{item_id}/submit", response_model=ContentItemOut, responses=R(401, 403, 404, 409))
def submit(item_id: Id, principal: Auth, ctx: Context) -> ContentItemOut:
    with session_scope(ctx.engine) as s:
        return ContentItemOut.of(library.submit(s, principal, item_id, ctx.now), ctx.lang)


@router.post("/content/{item_id}/approve", response_model=ContentItemOut, responses=R(401, 403, 404, 409, 422),
             summary="Approve the audio you heard (a cadre who did not change the words or audio since the last "
                     "approval); 409 changed_since_review if it changed since")
def approve(item_id: Id, body: ApproveBody, principal: Auth, ctx: Context, request: Request) -> ContentItemOut:
    with session_scope(ctx.engine) as s:
        out = ContentItemOut.of(library.approve(s, principal, item_id, ctx.now, body.reviewed_sha256), ctx.lang)
    content_changed(request.app, out.commune_id, ctx.now)
    return out


@router.post("/content/{item_id}/render", response_model=Updated, status_code=202,
             responses=R(401, 403, 404, 409, 422), summary="Render again after a failed render (same text and voice)")
def retry_render(item_id: Id, principal: Auth, ctx: Context) -> Updated:
    with session_scope(ctx.engine) as s:
        item, job = library.retry_render(s, principal, item_id, ctx.now)
        return Updated(item=ContentItemOut.of(item, ctx.lang), job=_job(job))


@router.get("/content/{item_id}/contributions", response_model=list[ContributionOut], responses=R(401, 404),
            summary="Who wrote or changed the words, voice or audio, per version")
def contributions(item_id: Id, principal: Auth, ctx: Context) -> list[ContributionOut]:
    with session_scope(ctx.engine) as s:
        return library.contributions_out(s, library.get_item(s, principal, item_id))


@router.post("/content/{item_id}/reject", response_model=ContentItemOut, responses=R(401, 403, 404, 409, 422),
             summary="Reject with a reason (a cadre who is not the author)")
def reject(item_id: Id, body: RejectBody, principal: Auth, ctx: Context) -> ContentItemOut:
    with session_scope(ctx.engine) as s:
        return ContentItemOut.of(library.reject(s, principal, item_id, body.reason, ctx.now), ctx.lang)


@router.post("/content/{item_id}/archive", response_model=ContentItemOut, responses=R(401, 403, 404, 409))
def archive(item_id: Id, principal: Auth, ctx: Context, request: Request) -> ContentItemOut:
    with session_scope(ctx.engine) as s:
        out = ContentItemOut.of(library.archive(s, principal, item_id, ctx.now), ctx.lang)
    content_changed(request.app, out.commune_id, ctx.now)
    return out


@router.get("/content/{item_id}/audio", responses={
    200: {"content": {"audio/ogg": {}, "audio/mpeg": {}}, "description": "The whole file"},
    206: {"content": {"audio/ogg": {}, "audio/mpeg": {}}, "description": "A byte range"},
    304: {"description": "Not modified (If-None-Match)"},
    **R(401, 404, 409, 416)},
    summary="The item's audio: Range, strong ETag (sha256); with ?v=<sha256> cacheable for good, else no-cache")
def audio(item_id: Id, request: Request, principal: Auth, ctx: Context,
          v: str | None = Query(None, max_length=64, description="The audio's sha256, as in audio.url")):
    from content.store import AudioStore, StoreError

    with session_scope(ctx.engine) as s:
        item = library.get_item(s, principal, item_id)
        sha = item.audio_sha256
    if v is not None and sha and v.lower() != sha:
        # An old link: its bytes are not what this item sounds like now. Never serve other bytes under it.
        from loa.errors import Conflict

        raise Conflict("audio_changed", "Âm thanh đã thay đổi: hãy tải lại trang",
                       "The audio has changed: reload the page", current_sha256=sha)
    try:
        path = AudioStore(ctx.settings.audio_dir).path_for(sha) if sha else None
    except StoreError:
        path = None
    if path is None:
        raise NotFound("audio_not_found", "Nội dung chưa có âm thanh", "The item has no audio yet")
    # Behind a login: always private. Immutable only when the URL names the hash.
    return serve_audio(request, path, sha, cache_policy(hash_in_url=v is not None, public=False))


@router.get("/jobs/{job_id}", response_model=JobOut, responses=R(401, 404), tags=["jobs"],
            summary="A background job: status, attempts, last error, result")
def get_job(job_id: Id, principal: Auth, ctx: Context) -> JobOut:
    with session_scope(ctx.engine) as s:
        return _job(jobs.get_job(s, principal, job_id, library.job_visible))


@router.get("/communes/{commune_id}/jobs", response_model=list[JobOut], responses=R(401, 404, 422), tags=["jobs"])
def list_jobs(commune_id: Id, principal: Auth, ctx: Context, status: str | None = Query(None, max_length=16),
              limit: int = Query(100, ge=1, le=500)) -> list[JobOut]:
    with session_scope(ctx.engine) as s:
        return [_job(j) for j in jobs.list_jobs(s, principal, commune_id, status, limit, library.job_visible)]
