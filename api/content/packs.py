"""Announcement packs over the API: list the packs Loa ships, import one into a commune as drafts."""
from __future__ import annotations

from datetime import date

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.content.router import Accepted, _job
from api.deps import Auth, Context, Id
from api.errors import responses
from content.library.packs import import_pack
from content.library.schemas import ContentItemOut, Engine
from content.packs import builtin_packs
from loa.db import session_scope
from loa.errors import NotFound

router = APIRouter(prefix="/api/v1", tags=["content"])


class PackItemOut(BaseModel):
    slug: str
    topic: str
    title: str
    title_en: str
    audience: str
    kind: str
    language: str
    review_date: date
    text: str


class PackOut(BaseModel):
    id: str
    title: str
    title_en: str
    language: str
    review_date: date
    items: list[PackItemOut]


class PackImportIn(BaseModel):
    engine: Engine = "auto"  # the same four names as a text item's (content.library.schemas)
    voice: str | None = Field(default=None, max_length=100)


class PackImportOut(BaseModel):
    created: list[Accepted]
    already_there: list[ContentItemOut]


def _packs() -> dict:
    return {p.id: p for p in builtin_packs()}


@router.get("/packs", response_model=list[PackOut], responses=responses(401),
            summary="Announcement packs shipped with Loa (guidance on VNeID, VSSID, scams, disasters…)")
def list_packs(principal: Auth) -> list[PackOut]:
    return [PackOut(id=p.id, title=p.title, title_en=p.title_en, language=p.language, review_date=p.review_date,
                    items=[PackItemOut(**vars(i)) for i in p.items]) for p in _packs().values()]


@router.post("/communes/{commune_id}/packs/{pack_id}/import", response_model=PackImportOut, status_code=201,
             responses=responses(401, 403, 404, 422),
             summary="Import a pack: its announcements arrive as drafts (rendering in the background) to approve")
def import_into_commune(commune_id: Id, pack_id: str, body: PackImportIn, principal: Auth,
                        ctx: Context) -> PackImportOut:
    pack = _packs().get(pack_id)
    with session_scope(ctx.engine) as s:
        if pack is None:
            principal.require_commune(commune_id)
            raise NotFound("pack_not_found", "Không có gói bản tin này", "No such announcement pack")
        result = import_pack(s, principal, commune_id, pack, ctx.now, engine=body.engine, voice=body.voice)
        return PackImportOut(
            created=[Accepted(item=ContentItemOut.of(item, ctx.lang), job=_job(job)) for item, job in result.created],
            already_there=[ContentItemOut.of(item, ctx.lang) for item in result.already_there],
        )
