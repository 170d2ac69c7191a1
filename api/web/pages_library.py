"""The library (search, filter, play), one item (its words, audio, state and the actions the user may take)
and the cadre's approval queue. Every read and every action goes through content.library.service with the
logged-in Principal, so the rules are the API's own."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from pydantic import ValidationError
from sqlmodel import select

from api.deps import Id
from api.schedules.setup import content_changed
from api.web.choices import ENGINE_LABELS, KIND_LABELS, STATUS_LABELS, languages, voices
from api.web.pages_compose import spoken_sentences
from api.content.text_limit import check_text_airtime
from api.web.flash import flash_redirect
from api.web.render import PageRoute, gettext_for, render
from api.web.session import check_csrf, now_of, require_principal, safe_next
from content.library import service as library
from content.library.models import ContentItem, RenderState, Source, Status
from content.library.packs import import_pack
from content.library.render_errors import fixes_for
from content.library.schemas import ItemFilter, ItemUpdate
from content.packs import builtin_packs
from loa.accounts.models import User
from loa.db import session_scope
from loa.org import service as org

router = APIRouter(route_class=PageRoute, include_in_schema=False)
PAGE = 30


def _names(session, user_ids) -> dict[int, str]:
    ids = {i for i in user_ids if i is not None}
    if not ids:
        return {}
    return {u.id: (u.display_name or u.username) for u in session.exec(select(User).where(User.id.in_(ids)))}


@router.get("/app/c/{commune_id}/library")
def library_page(request: Request, commune_id: Id, q: str = "", status: str = "", kind: str = "",
                 language: str = "", village: str = "", page: int = 0):
    user = require_principal(request)
    try:
        f = ItemFilter(q=q.strip() or None, status=status or None, kind=kind or None,
                       language=language or None, village_id=int(village) if village.isdigit() else None,
                       limit=PAGE, offset=max(page, 0) * PAGE)
    except ValidationError:
        f = ItemFilter(limit=PAGE)
    with session_scope(request.app.state.engine) as s:
        commune = org.get_commune(s, user, commune_id)
        items, total = library.list_items(s, user, commune_id, f)
        villages = {v.id: v.name for v in org.list_villages(s, user, commune_id)}
    return render(request, "library.html", commune=commune, user=user, items=items, total=total,
                  packs=builtin_packs(), can_import=user.role_in(commune_id) in ("cadre", "secretary"),
                  villages=villages, kinds=KIND_LABELS, statuses=STATUS_LABELS, languages=languages(),
                  filters=dict(q=q, status=status, kind=kind, language=language, village=village),
                  page=max(page, 0), pages=(total + PAGE - 1) // PAGE, now=now_of(request),
                  title=gettext_for(request)("Library"))


def _actions(session, user, item: ContentItem, now) -> dict[str, bool]:
    role = user.role_in(item.commune_id)
    editor = role in library.EDITORS and (role != "village_head" or item.author_id == user.user_id)
    reviewer = library.may_review(session, user, item)  # the two-person rule, as the service applies it
    ready = item.render_state == RenderState.ready.value and item.audio_sha256 is not None
    live = item.status != Status.archived.value
    return dict(
        submit=editor and item.status in (Status.draft.value, Status.rejected.value) and ready,
        approve=reviewer and item.status == Status.submitted.value and ready,
        reject=reviewer and item.status == Status.submitted.value,
        barred=role == "cadre" and not reviewer and item.status == Status.submitted.value,
        archive=role in ("cadre", "secretary") and live,
        pair=editor and item.language == "vi" and live,
        edit=editor and live,
        retry=editor and live and item.source == Source.text.value and item.render_state == RenderState.failed.value,
    )


def _contributors(session, item: ContentItem) -> list[dict]:
    """Who wrote or changed the words, voice or audio, newest first, with their names."""
    rows = library.contributions_out(session, item)
    names = _names(session, [c.user_id for c in rows])
    return [dict(name=names.get(c.user_id, f"#{c.user_id}"), **c.model_dump()) for c in reversed(rows)]




@router.get("/app/items/{item_id}")
def item_page(request: Request, item_id: Id):
    user = require_principal(request)
    now = now_of(request)
    with session_scope(request.app.state.engine) as s:
        item = library.get_item(s, user, item_id)
        commune = org.get_commune(s, user, item.commune_id)
        pair = None
        if item.pair_item_id:
            try:
                pair = library.get_item(s, user, item.pair_item_id)
            except Exception:  # not visible to this user: show nothing rather than leak it
                pair = None
        partners = [i for i in s.exec(select(ContentItem).where(ContentItem.pair_item_id == item.id))
                    if library._visible(user, i)]
        names = _names(s, [item.author_id, item.reviewed_by])
        village = org.village_in_commune(s, item.commune_id, item.village_id)
        actions = _actions(s, user, item, now)
        contributors = _contributors(s, item)
    sentences = spoken_sentences(item.text, item.voice) if item.source == Source.text.value and item.text else []
    cache = request.app.state.settings.tts_cache_dir
    return render(request, "item.html", item=item, commune=commune, user=user, pair=pair, partners=partners,
                  names=names, village=village, sentences=sentences, actions=actions, contributors=contributors,
                  kinds=KIND_LABELS, statuses=STATUS_LABELS, engines=ENGINE_LABELS,
                  voices=voices(str(cache) if cache else None) if actions["edit"] else [],
                  fixes=fixes_for(item.render_error_code),
                  airable=library.is_airable(item, now), now=now, title=item.title)


@router.post("/app/c/{commune_id}/packs/{pack_id}/import")
def pack_import(request: Request, commune_id: Id, pack_id: str, csrf: Annotated[str, Form(max_length=200)]):
    """Import a ready-made pack: its announcements arrive as drafts, rendered in the background, to approve."""
    user = require_principal(request)
    check_csrf(request, csrf)
    pack = {p.id: p for p in builtin_packs()}.get(pack_id)
    with session_scope(request.app.state.engine) as s:
        org.get_commune(s, user, commune_id)  # 404 outside the user's communes, before anything else
        if pack is None:
            from loa.errors import NotFound

            raise NotFound("pack_not_found", "Không có gói bản tin này", "No such announcement pack")
        import_pack(s, user, commune_id, pack, now_of(request))
    return flash_redirect(f"/app/c/{commune_id}/library?status=draft", "imported",
                          request.app.state.settings.cookie_secure)


@router.post("/app/items/{item_id}/edit")
def item_edit(request: Request, item_id: Id, csrf: Annotated[str, Form(max_length=200)],
              text: Annotated[str | None, Form(max_length=20000)] = None,
              transcript: Annotated[str | None, Form(max_length=20000)] = None,
              engine: Annotated[str | None, Form(max_length=16)] = None,
              voice: Annotated[str | None, Form(max_length=100)] = None):
    """Change the words (text or transcript) or the voice: the same service as PATCH /content/{id}, so the
    editor becomes a contributor of the new version and another cadre reviews it."""
    user = require_principal(request)
    check_csrf(request, csrf)
    fields: dict = {}
    if text is not None:
        fields["text"] = text.strip()
    if transcript is not None:
        fields["transcript"] = transcript.strip()
    if engine is not None:
        fields["engine"] = engine
    if voice is not None:
        fields["voice"] = voice or None
    try:
        patch = ItemUpdate(**fields)
    except ValidationError:
        from loa.errors import Invalid

        raise Invalid("field_invalid", "Văn bản trống, quá dài hoặc giọng đọc không hợp lệ",
                      "The text is empty or too long, or the voice is not valid") from None
    now = now_of(request)
    with session_scope(request.app.state.engine) as s:
        if patch.text is not None:
            current = library.get_item(s, user, item_id)
            check_text_airtime(s, current.commune_id, patch.text, patch.voice or current.voice, current.speed)
        item, _job = library.update_item(s, user, item_id, patch, now)
        commune_id = item.commune_id
    content_changed(request.app, commune_id, now)  # an approved item back to draft: off air at once
    return flash_redirect(f"/app/items/{item_id}", "edited", request.app.state.settings.cookie_secure)


ACTION_DONE = {"submit": "submitted", "approve": "approved", "reject": "rejected", "archive": "archived",
               "retry": "retried"}
ASK_FIRST = ("reject", "archive")  # cannot be undone from the page: the server asks before doing it


def _ask_first(request: Request, item_id: int, action: str, reason: str, next_url: str):
    """The confirmation page of a reject or archive: the same form again, with `confirmed=1`."""
    from api.web.flash import confirm_context

    user = require_principal(request)
    _ = gettext_for(request)
    from sqlmodel import Session

    # A dry run of the action itself, rolled back: whatever it would refuse (a role, a state, no reason) is
    # refused now, with the service's own error, before anyone is asked to confirm.
    with Session(request.app.state.engine, expire_on_commit=False) as s:
        try:
            if action == "reject":
                library.reject(s, user, item_id, reason, now_of(request))
            else:
                library.archive(s, user, item_id, now_of(request))
        finally:
            s.rollback()
    with session_scope(request.app.state.engine) as s:
        item = library.get_item(s, user, item_id)
        commune = org.get_commune(s, user, item.commune_id)
    if action == "reject":
        context = confirm_context(f"/app/items/{item_id}/reject", _("Reject this announcement?"), item.title,
                                  _("The author gets it back with your reason") + f": «{reason.strip()}»",
                                  "✖ " + _("Yes, reject it"), f"/app/items/{item_id}",
                                  {"reason": reason, "next": next_url})
    else:
        context = confirm_context(f"/app/items/{item_id}/archive", _("Archive this announcement?"), item.title,
                                  _("It will not air any more, and schedules that play it lose it."),
                                  _("Yes, archive it"), f"/app/items/{item_id}", {"next": next_url})
    return render(request, "confirm.html", commune=commune, user=user, **context)


@router.post("/app/items/{item_id}/{action}")
def item_action(request: Request, item_id: Id, action: str, csrf: Annotated[str, Form(max_length=200)],
                reason: Annotated[str, Form(max_length=2000)] = "",
                reviewed_sha256: Annotated[str, Form(max_length=64)] = "",
                next: Annotated[str, Form(max_length=500)] = "",
                confirmed: Annotated[str, Form(max_length=4)] = ""):
    user = require_principal(request)
    check_csrf(request, csrf)
    now = now_of(request)
    if action in ASK_FIRST and confirmed != "1":
        return _ask_first(request, item_id, action, reason, next)
    steps = {"submit": library.submit, "archive": library.archive}
    changed: int | None = None  # the commune whose timetable the action changes (approved, archived)
    with session_scope(request.app.state.engine) as s:
        if action == "reject":
            library.reject(s, user, item_id, reason, now)
        elif action == "approve":  # the hash of the audio the page played (the form carries it)
            changed = library.approve(s, user, item_id, now, reviewed_sha256).commune_id
        elif action == "retry":
            library.retry_render(s, user, item_id, now)
        elif action in steps:
            item = steps[action](s, user, item_id, now)
            changed = item.commune_id if action == "archive" else None
        else:
            library.get_item(s, user, item_id)  # 404 for an item of another commune before anything else
            from loa.errors import NotFound

            raise NotFound("not_found", "Không có thao tác này", "No such action")
    if changed is not None:
        content_changed(request.app, changed, now)
    return flash_redirect(safe_next(next, f"/app/items/{item_id}"), ACTION_DONE[action],
                          request.app.state.settings.cookie_secure)


@router.get("/app/c/{commune_id}/review")
def review_page(request: Request, commune_id: Id):
    user = require_principal(request)
    with session_scope(request.app.state.engine) as s:
        commune = org.get_commune(s, user, commune_id)
        user.require_role(commune_id, "cadre")
        items, total = library.list_items(s, user, commune_id,
                                          ItemFilter(status=Status.submitted, limit=100))
        names = _names(s, [i.author_id for i in items])
        villages = {v.id: v.name for v in org.list_villages(s, user, commune_id)}
        may = {i.id: library.may_review(s, user, i) for i in items}
        contributors = {i.id: _contributors(s, i) for i in items}
    rows = [(i, spoken_sentences(i.text, i.voice) if i.source == Source.text.value and i.text else []) for i in items]
    return render(request, "review.html", commune=commune, user=user, rows=rows, total=total, names=names,
                  may_review=may, contributors=contributors,
                  villages=villages, kinds=KIND_LABELS, title=gettext_for(request)("Approve"))
