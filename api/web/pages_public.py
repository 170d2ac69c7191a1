"""Residents' pages (no login): communes, a commune's or village's recent announcements with audio and
transcripts, a language filter, the public audio files and an RSS feed per village."""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlmodel import select

from api.content.audio import cache_policy, serve_audio
from api.deps import Id
from api.web.feed import build_feed, public_base_url
from api.web.public import (
    audio_ext, commune_and_village, languages_of, public_item, public_item_by_sha, public_items,
)
from api.web.render import PageRoute, gettext_for, render
from api.web.session import now_of
from loa.db import session_scope
from loa.errors import NotFound
from loa.org.models import Commune, Village

router = APIRouter(route_class=PageRoute, include_in_schema=False)


def _missing() -> NotFound:
    return NotFound("not_found", "Không tìm thấy", "Not found")


@router.get("/")
@router.get("/r")
def residents_home(request: Request):
    with session_scope(request.app.state.engine) as s:
        communes = list(s.exec(select(Commune).order_by(Commune.name)))
    return render(request, "public/index.html", communes=communes, title=gettext_for(request)("Announcements"))


def _page(request: Request, commune_id: int, village_id: int | None, language: str):
    now = now_of(request)
    with session_scope(request.app.state.engine) as s:
        commune, village = commune_and_village(s, commune_id, village_id)
        if commune is None or (village_id is not None and village is None):
            raise _missing()
        items = public_items(s, commune_id, now, village_id, language or None)
        villages = list(s.exec(select(Village).where(Village.commune_id == commune_id).order_by(Village.name)))
        langs = languages_of(s, commune_id, now, village_id)
    by_id = {i.id: i for i in items}
    return render(request, "public/announcements.html", commune=None, audio_ext=audio_ext, public_commune=commune,
                  village=village,
                  items=items, by_id=by_id, villages=villages, langs=langs, language=language, now=now,
                  title=village.name if village else commune.name)


@router.get("/r/{commune_id}")
def commune_page(request: Request, commune_id: Id, language: str = ""):
    return _page(request, commune_id, None, language)


@router.get("/r/{commune_id}/v/{village_id}")
def village_page(request: Request, commune_id: Id, village_id: Id, language: str = ""):
    return _page(request, commune_id, village_id, language)


@router.get("/r/{commune_id}/v/{village_id}/feed.xml")
def village_feed(request: Request, commune_id: Id, village_id: Id) -> Response:
    now = now_of(request)
    base = public_base_url(request.scope, request.app.state.settings.public_url)
    with session_scope(request.app.state.engine) as s:
        commune, village = commune_and_village(s, commune_id, village_id)
        if commune is None or village is None:
            raise _missing()
        items = public_items(s, commune_id, now, village_id)
        body = build_feed(f"Loa {village.name} – {commune.name}",
                          f"Thông báo của đài truyền thanh xã {commune.name} cho thôn {village.name}",
                          f"{base}/r/{commune_id}/v/{village_id}", f"{base}/r/{commune_id}/v/{village_id}/feed.xml",
                          base, items, now, "vi")
    return Response(body, media_type="application/rss+xml; charset=utf-8",
                    headers={"Cache-Control": "public, max-age=300"})


@router.api_route("/r/audio/{name}", methods=["GET", "HEAD"])
def public_audio(request: Request, name: str) -> Response:
    """`/r/audio/<sha256>.ogg` names the bytes: cached for good. `/r/audio/<item id>.ogg` (older links) serves
    whatever the item sounds like now: revalidated every time (ETag = hash, so a 304 costs nothing)."""
    from content.store import AudioStore, StoreError

    stem, _, ext = name.partition(".")
    by_hash = len(stem) == 64 and all(c in "0123456789abcdef" for c in stem)
    if not by_hash and (not stem.isdigit() or int(stem) > 2_147_483_647):
        raise _missing()
    with session_scope(request.app.state.engine) as s:
        now = now_of(request)
        item = public_item_by_sha(s, stem, now) if by_hash else public_item(s, int(stem), now)
        if item is None or (ext and ext != audio_ext(item)):
            raise _missing()
        sha = item.audio_sha256
    try:
        path = AudioStore(request.app.state.settings.audio_dir).path_for(sha)
    except StoreError:
        raise _missing() from None
    return serve_audio(request, path, sha, cache_policy(hash_in_url=by_hash, public=True))
